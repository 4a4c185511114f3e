"""``--bert-device`` / ``$BERT_DEVICE``: clauses load models on the run's device, core clauses stay on the CPU,
and a device the port does not claim is a usage error (never a run where everything is skipped)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import bert_conformance.adapters.reference  # noqa: F401 - kept in pytester's module snapshot
import bert_conformance.clauses
import bert_conformance.known_bad  # noqa: F401
import bert_conformance.spec  # noqa: F401

pytest_plugins = ["pytester"]

CLAUSES = Path(bert_conformance.clauses.__file__).parent
DEVICE_PORT = "bert_conformance.known_bad:device.fused_kernel_drops_padding"
KILLS = ("numerics.float64.BertModel", "properties.padding_invariance-BertModel")


def _run(pytester, *args: str):
    report = pytester.path / "report.json"
    paths = [str(CLAUSES / name) for name in ("test_core.py", "test_numerics.py", "test_properties.py")]
    result = pytester.runpytest(*paths, "--bert-report", str(report), "--bert-profile", "ci",
                                "-p", "no:cacheprovider", "-p", "no:xdist", *args)
    assert report.is_file(), result.stdout.str()[-3000:]
    return result, json.loads(report.read_text())


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA device: the reference claims it")
def test_an_unclaimed_device_is_a_usage_error(pytester):
    result = pytester.runpytest(str(CLAUSES / "test_core.py"), "--bert-device", "cuda", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--bert-device cuda: implementation 'reference' does not claim device 'cuda'"
                                 " (its capabilities() claim: cpu)*"])


def test_a_bad_device_in_the_environment_is_a_usage_error(pytester, monkeypatch):
    monkeypatch.setenv("BERT_DEVICE", "tpu")
    result = pytester.runpytest(str(CLAUSES / "test_core.py"), "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*$BERT_DEVICE must be one of cpu, cuda, got 'tpu'*"])


def test_clauses_run_on_the_selected_device_and_core_on_the_cpu(pytester, monkeypatch):
    """The device port is right on the CPU and wrong on its (emulated) CUDA path: only a cuda run sees it."""
    on_cpu, data = _run(pytester, "--bert-impl", DEVICE_PORT, "-k", " or ".join(("core.forward", *KILLS)))
    assert data["device"] == "cpu"
    assert {data["clauses"][k]["status"] for k in KILLS} == {"pass"}, on_cpu.stdout.str()[-3000:]

    monkeypatch.setenv("BERT_DEVICE", "cuda")
    on_cuda, data = _run(pytester, "--bert-impl", DEVICE_PORT, "-k", " or ".join(("core.forward", *KILLS)))
    assert data["device"] == "cuda"
    on_cuda.stdout.fnmatch_lines(["*oracle reference, device cuda, hypothesis profile ci*",
                                  "*repro: pytest * --bert-device cuda*"])
    assert {data["clauses"][k]["status"] for k in KILLS} == {"fail"}
    assert data["clauses"]["core.forward.last_hidden_state"]["status"] == "pass"  # the CPU minimal core
