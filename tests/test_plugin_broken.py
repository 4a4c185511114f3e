"""Deliberately broken ports fail the core clauses with readable messages, and the run goes on."""

from __future__ import annotations

import json
import re
from pathlib import Path
from xml.etree import ElementTree

import pytest

import bert_conformance.adapters.reference  # noqa: F401 - keep it in pytester's module snapshot
import bert_conformance.clauses
import bert_conformance.spec  # noqa: F401 - in the snapshot too: pytester drops modules an inner run imports

pytest_plugins = ["pytester"]

CORE = str(Path(bert_conformance.clauses.__file__).parent / "test_core.py")

# Each port wraps the reference and breaks one thing.
PORTS = """
import time

import numpy as np
import torch

from bert_conformance.adapters.reference import ReferenceImplementation


class Broken(ReferenceImplementation):
    def change(self, outputs):
        return outputs

    def load_model(self, *args, **kwargs):
        model, change = super().load_model(*args, **kwargs), self.change

        class Model:
            def forward(self, inputs, **options):
                return change(model.forward(inputs, **options))

        return Model()


class Scaled(Broken):
    def change(self, outputs):
        return {k: v * np.float32(1.01) for k, v in outputs.items()}


class TorchTensors(Broken):
    def change(self, outputs):
        return {k: torch.from_numpy(v) for k, v in outputs.items()}


class NaNs(Broken):
    def change(self, outputs):
        outputs["last_hidden_state"][0, 1, 2] = np.nan
        return outputs


class Raises(Broken):
    def change(self, outputs):
        raise RuntimeError("kernel exploded")


class Sleeps(Broken):
    def change(self, outputs):
        time.sleep(30)
        return outputs


class Float64(Broken):
    def change(self, outputs):
        return {k: v.astype(np.float64) for k, v in outputs.items()}


class Transposed(Broken):
    def change(self, outputs):
        outputs["last_hidden_state"] = np.ascontiguousarray(outputs["last_hidden_state"].transpose(1, 0, 2))
        return outputs


class NoBertModel(ReferenceImplementation):
    def capabilities(self):
        return {**super().capabilities(), "heads": ["BertForMaskedLM"]}


class BadCapabilities(ReferenceImplementation):
    def capabilities(self):
        return {**super().capabilities(), "dtypes": ["fp32"]}
"""


@pytest.fixture
def run_core(pytester):
    pytester.makepyfile(ports=PORTS)
    pytester.syspathinsert()

    def run(port: str, *args: str):
        report = pytester.path / "report.json"
        result = pytester.runpytest(
            CORE,
            "--bert-impl",
            f"ports:{port}",
            "--bert-report",
            str(report),
            "-p",
            "no:cacheprovider",
            *args,
        )
        return result, json.loads(report.read_text())

    return run


@pytest.mark.parametrize(
    ("port", "messages"),
    [
        (
            "Scaled",
            [
                "*last_hidden_state[[]attended positions[]] (float32): * differ beyond atol=1e-05, rtol=0.0001",
                "*max abs error * at (*), max rel error 0.01* at *",
                "*first mismatches (index: actual vs expected*",
            ],
        ),
        (
            "TorchTensors",
            ["*output 'last_hidden_state': expected a numpy.ndarray, got torch.Tensor*numpy only*"],
        ),
        ("NaNs", ["*1 NaN in the port's output where the expected value is not NaN*"]),
        ("Raises", ["*RuntimeError: kernel exploded*"]),
        ("Float64", ["*output 'last_hidden_state': dtype float64, expected float32*"]),
        ("Transposed", ["*want [[]batch, seq, hidden_size[]]*"]),
    ],
)
def test_broken_outputs_fail_forward_clauses(run_core, port, messages):
    result, data = run_core(port)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(messages)
    result.stdout.fnmatch_lines(
        [
            # portable: no path to site-packages or to a checkout
            "repro: pytest --pyargs 'bert_conformance.clauses.test_core::test_last_hidden_state?core.forward."
            f"last_hidden_state?' --bert-impl ports:{port} --bert-profile ci -p no:xdist"
        ]
    )
    statuses = {cid: c["status"] for cid, c in data["clauses"].items()}
    assert statuses["core.capabilities"] == statuses["core.load_model"] == "pass"  # the run went on
    assert statuses["core.forward.last_hidden_state"] == "fail"
    assert data["clauses"]["core.forward.last_hidden_state"]["message"]


def test_scaled_output_reports_observed_error(run_core):
    _, data = run_core("Scaled")
    clause = data["clauses"]["core.forward.pooler_output"]
    assert clause["status"] == "fail" and clause["tolerance"] == {"atol": 1e-5, "rtol": 1e-4}
    assert clause["observed"]["max_rel"] == pytest.approx(0.01, rel=1e-3)  # the 1 % scale, measured


def test_markdown_lists_failing_clauses_first_with_whole_messages(run_core, pytester):
    _, data = run_core("Scaled")
    markdown = (pytester.path / "report.md").read_text()
    assert markdown.index("## Failing clauses (") < markdown.index("## Every clause")
    whole = data["clauses"]["core.forward.last_hidden_state"]["message"]
    assert len(whole.splitlines()) > 3 and whole.rstrip() in markdown  # not cut at 120 characters
    # located in the output's own coordinates: (batch, position, feature), not an index into gathered rows
    assert re.search(r"max abs error \S+ at \(\d, \d, \d+\)", whole)


def test_hanging_port_times_out_and_the_run_goes_on(run_core):
    result, data = run_core("Sleeps", "--bert-timeout", "1")
    result.stdout.fnmatch_lines(["*Timeout (>1.0s) from pytest-timeout*"])
    result.assert_outcomes(passed=2, failed=3)
    assert data["clauses"]["core.forward.pooler_output"]["status"] == "fail"


def test_port_without_bertmodel_fails_core_capabilities(run_core):
    result, data = run_core("NoBertModel", "-k", "capabilities")
    result.stdout.fnmatch_lines(["*ports:NoBertModel does not claim the minimal core: head BertModel*"])
    assert data["clauses"]["core.capabilities"]["status"] == "fail"


def test_invalid_capabilities_fail_core_capabilities_not_the_run(run_core):
    result, data = run_core("BadCapabilities")
    result.stdout.fnmatch_lines(
        ["*capabilities() is invalid: CapabilitiesError: *unknown dtypes [[]'fp32'[]]*"]
    )
    assert data["clauses"]["core.capabilities"]["status"] == "fail"
    assert "unknown dtypes ['fp32']" in data["clauses"]["core.capabilities"]["message"]
    assert data["implementation"]["capabilities_error"].startswith("CapabilitiesError")


def test_junit_xml_carries_the_clause_ids(run_core, pytester):
    result, _ = run_core("Scaled", "--junitxml", str(pytester.path / "junit.xml"))
    root = ElementTree.parse(pytester.path / "junit.xml").getroot()
    case = next(c for c in root.iter("testcase") if "core.forward.pooler_output" in c.get("name", ""))
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties["bert_clause"] == properties["bert_test"] == "core.forward.pooler_output"
    assert "'max_abs'" in properties["bert_comparisons"] and case.find("failure") is not None
    suite = {p.get("name"): p.get("value") for p in root.iter("property") if p.get("name", "").startswith("bert_finding")}
    assert suite["bert_finding_1"].startswith("numeric deviation from BERT") and len(suite) == 1
