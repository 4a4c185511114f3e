"""Shared fixtures of the project tests. Nothing here may download: the hub is off for every test."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# the automatic diagnosis after a failing run (docs/diagnosis.md) is off here: the known-bad corpus alone runs
# 140+ failing ports; tests/test_diagnosis.py and tests/test_findings.py switch it on where they test it
os.environ.setdefault("BERT_DIAGNOSE", "0")

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def hf_transformers():
    """transformers, quiet; the test is skipped with the reason when it is not installed."""
    module = pytest.importorskip("transformers", reason="transformers (the behaviour matched) is not installed")
    module.logging.set_verbosity_error()
    return module


@pytest.fixture(scope="session")
def tolerance():
    """tolerance(dtype, kind) -> (atol, rtol) from spec/tolerances.yaml, or HF's common-test defaults
    (float64 1e-10, float32 1e-5 / 1e-4) while the suite's spec loader is not available."""
    defaults = {"float64": (1e-10, 1e-10), "float32": (1e-5, 1e-4), "float16": (1e-2, 5e-3), "bfloat16": (1e-1, 2e-2)}

    def lookup(dtype: str, kind: str = "outputs") -> tuple[float, float]:
        try:
            from bert_conformance.spec import load_spec

            entry = load_spec().tolerances.get(dtype, kind)
            return entry.atol, entry.rtol
        except (ImportError, KeyError):
            return defaults[dtype]

    return lookup


CLAUSE_MODULES = "bert_conformance.clauses.test_"


@pytest.fixture(autouse=True)
def _clause_modules_imported_by_the_inner_run(request, monkeypatch):
    """An in-process (pytester) run must import the clause modules itself, after its plugin has loaded the
    hypothesis profile: ``@given`` captures the settings in force when it decorates. A clause module this
    process imported earlier (tests/test_clauses_*.py import them for their clause lists; xdist collects
    every test file in every worker) carries hypothesis' default settings, and the inner run would reuse it
    from sys.modules: random examples, a 200 ms deadline, shrinking. So such runs start without them
    (pytester drops what the inner run imported; monkeypatch puts ours back)."""
    if "pytester" in request.fixturenames:
        for name in [name for name in sys.modules if name.startswith(CLAUSE_MODULES)]:
            monkeypatch.delitem(sys.modules, name)
