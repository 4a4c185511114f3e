"""Findings group failing clauses by cause: one numerical bug is one finding, not one line per clause."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bert_conformance.adapters.reference  # noqa: F401 - keep it in pytester's module snapshot
import bert_conformance.clauses
import bert_conformance.spec  # noqa: F401
from bert_conformance.findings import group, signature

pytest_plugins = ["pytester"]

CLAUSES = Path(bert_conformance.clauses.__file__).parent


def _numeric(what: str, max_abs: float, size: int, repro: str) -> dict:
    worst = max_abs / 1e-5
    return {"status": "fail", "message": f"{what} (float32): 3 of {size} elements (1%) differ beyond atol=1e-05, rtol=0.0001",
            "observed": {"what": what, "max_abs": max_abs, "max_rel": 0.1, "worst": worst},
            "tolerance": {"atol": 1e-5, "rtol": 1e-4}, "comparisons": [{"size": size}], "repro": repro}


def test_numeric_failures_are_one_finding_with_the_worst_error_and_the_smallest_repro():
    results = {
        "golden.model.small-float32": _numeric("model.small: last_hidden_state", 3e-4, 4096, "pytest small"),
        "golden.model.tiny-float32": _numeric("model.tiny: pooler_output", 5e-4, 64, "pytest tiny"),
        "labels.mlm.loss-BertForMaskedLM": _numeric("loss", 1e-4, 1, "pytest loss"),
        "core.capabilities": {"status": "pass", "message": ""},
    }
    (finding,) = group(results)
    assert finding.tests == ["golden.model.small-float32", "golden.model.tiny-float32", "labels.mlm.loss-BertForMaskedLM"]
    assert finding.cause == "numeric deviation from BERT beyond the spec's tolerance: loss, outputs"
    assert finding.worst["max_abs"] == 5e-4 and finding.worst["what"] == "model.tiny: pooler_output"
    assert finding.repro == "pytest loss"  # one compared element: the smallest reproduction


def test_messages_differing_only_in_numbers_or_quoted_values_are_one_finding():
    def raised(text: str) -> dict:
        return {"status": "fail", "message": text, "repro": ""}

    results = {
        "a": raised("Failed: DID NOT RAISE: input_ids 99 out of range [0, 98)"),
        "b": raised("Failed: DID NOT RAISE: input_ids 31 out of range [0, 30)"),
        "c": raised("ValueError: unknown head 'BertX'"),
        "d": raised("ValueError: unknown head 'BertY'"),
        "e": raised("TypeError: forward() got an unexpected keyword argument"),
    }
    found = group(results)
    assert [f.tests for f in found] == [["a", "b"], ["c", "d"], ["e"]]
    assert signature("x (float64): 1 of 2 elements differ beyond atol=1e-09")[0] == "numeric"


def test_a_port_with_one_numeric_bug_reads_as_one_finding(pytester):
    report = pytester.path / "report.json"
    result = pytester.runpytest(
        str(CLAUSES / "test_core.py"), str(CLAUSES / "test_golden.py"), "-k", "core.forward or golden.model.tiny or golden.model.small or golden.model.seq_len",
        "--bert-impl", "bert_conformance.known_bad:config.gelu_tanh", "--bert-report", str(report),
        "-p", "no:cacheprovider",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    data = json.loads(report.read_text())
    failed = sorted(t for t, r in data["clauses"].items() if r["status"] == "fail")
    assert len(failed) >= 5
    (finding,) = data["findings"]
    assert sorted(finding["tests"]) == failed and finding["cause"].startswith("numeric deviation")
    assert finding["repro"].startswith("pytest --pyargs 'bert_conformance.clauses.")
    result.stdout.fnmatch_lines(["findings: 1 (failing clauses grouped by cause*",
                                 f"  [[]1[]] numeric deviation from BERT*{len(failed)} clause(s); worst max abs*"])
    markdown = report.with_suffix(".md").read_text()
    assert markdown.index("## Findings (1)") < markdown.index("## Failing clauses") < markdown.index("## Every clause")


def test_a_failing_run_is_diagnosed_and_the_finding_names_the_cause(pytester, monkeypatch):
    monkeypatch.setenv("BERT_DIAGNOSE", "1")
    report = pytester.path / "report.json"
    result = pytester.runpytest(
        str(CLAUSES / "test_core.py"), "-k", "core.forward", "--bert-impl", "bert_conformance.known_bad:config.gelu_tanh",
        "--bert-report", str(report), "-p", "no:cacheprovider",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    data = json.loads(report.read_text())
    assert data["diagnosis"]["component"] == "ffn.activation"
    assert data["diagnosis"]["variant"]["name"] == "gelu_tanh"
    (finding,) = data["findings"]
    assert "; diagnosis: behaves like: gelu_tanh" in finding["cause"]
    assert {data["clauses"][t]["status"] for t in finding["tests"]} == {"fail"}  # evidence, not a verdict
