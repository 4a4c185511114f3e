"""`python -m benchmarks run --smoke` end to end: pytest-benchmark JSON, Markdown, verdicts, chart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytest.importorskip("pytest_benchmark", reason="pytest-benchmark not installed (the 'bench' extra)")
pytest.importorskip("transformers", reason="transformers not installed (the 'transformers' extra)")


def run(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [sys.executable, "-m", "benchmarks", "run", "--smoke", "--out", str(tmp_path), *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_smoke_run_writes_every_report(tmp_path: Path) -> None:
    done = run(tmp_path, "--", "-k", "cpu.inference and reference")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (results,) = [p for p in tmp_path.glob("cpu-smoke-*.json") if not p.name.endswith(".verdicts.json")]
    assert not list(tmp_path.glob("*.partial"))
    data = json.loads(results.read_text())
    assert [b["extra_info"]["measurement"]["suite"] for b in data["benchmarks"]] == ["bench.suite.cpu.inference"]
    md = results.with_suffix(".md").read_text()
    assert "|batch_size|seq_len|Per token latency eager (ms)|Per token latency SDPA (ms)|" in md
    verdicts = json.loads(results.with_suffix(".verdicts.json").read_text())
    assert {v["status"] for v in verdicts if v["id"].startswith("bench.threshold.cpu.inference")} <= {"pass", "fail"}
    assert "smoke run: thresholds reported, not enforced" in done.stdout
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "matplotlib is not installed" in done.stdout
    else:
        assert results.with_suffix(".png").stat().st_size > 0


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a CUDA device")
def test_cuda_suites_skip_with_a_reason_without_a_gpu(tmp_path: Path) -> None:
    done = run(tmp_path, "--device", "cuda", "--", "-k", "cuda.inference and reference")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "needs a CUDA device; torch.cuda.is_available() is False" in done.stdout
    assert "no benchmark ran: every selected benchmark was skipped" in done.stdout  # said, not silently passed
    assert not list(tmp_path.iterdir())  # no report of nothing, no partial file


def test_auto_device_runs_the_gpu_suites_whenever_torch_sees_a_gpu(monkeypatch):
    import torch

    monkeypatch.syspath_prepend(str(ROOT))  # benchmarks/ is not installed
    from benchmarks.__main__ import resolve_device

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == "all"
    assert resolve_device("cpu") == "cpu" and resolve_device("cuda") == "cuda"
