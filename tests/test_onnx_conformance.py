"""The onnx port (ONNX Runtime: a real, non-PyTorch runtime) through the clause modules, as any port would be.

Every clause it claims must pass, except those in tests/expectations/onnx.txt, each with its reason (strict:
a listed clause that passes fails the run). One test per clause module, so xdist spreads them; each runs in a
subprocess (the export imports torch internals lazily, which an in-process pytester run would unload).

numerics, properties and config export one model per drawn config (about 2 s each, 10+ minutes of CPU
together on 2 cores): they run with BERT_ONNX_FULL=1, and are skipped with that reason otherwise.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import pytest

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed (pip install 'bert-conformance[onnx]')")

from bert_conformance.expectations import parse_expectations  # noqa: E402
from bert_conformance.known_bad.selection import all_clause_paths, clause_id  # noqa: E402

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
EXPECTATIONS = ROOT / "tests" / "expectations" / "onnx.txt"
EXPORT_HEAVY = ("test_numerics", "test_properties", "test_config",
                "test_tiers")  # test_tiers: exports the real MiniLM checkpoint and runs 300 sentences (30 s idle)


@pytest.mark.parametrize("path", all_clause_paths(), ids=lambda path: path.stem)
def test_onnx_port_passes_what_it_claims(path, pytester):
    if path.stem in EXPORT_HEAVY and not os.environ.get("BERT_ONNX_FULL"):
        pytest.skip(f"{path.stem} exports heavy models (minutes of CPU with the rest): set BERT_ONNX_FULL=1")
    report = pytester.path / "onnx.json"
    result = pytester.runpytest_subprocess(
        str(path), "--bert-impl", "onnx", "--bert-expectations", str(EXPECTATIONS), "--bert-report", str(report),
        "-p", "no:cacheprovider", "-p", "no:xdist",
    )
    assert report.is_file(), result.stdout.str()[-3000:]
    data = json.loads(report.read_text())
    failed = {test_id: r["message"][:300] for test_id, r in data["clauses"].items() if r["status"] == "fail"}
    assert not failed, f"the onnx port fails {len(failed)} clause(s) not in {EXPECTATIONS.name}: {failed}"
    assert data["implementation"]["name"] == "onnxruntime" and result.ret == 0, result.stdout.str()[-3000:]


def test_every_expectation_names_a_clause_test():
    """The expectations file cannot rot: each entry matches a collected test id or its clause id."""
    spec = importlib.util.spec_from_file_location("traceability", ROOT / "tools" / "traceability.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    test_ids = tool.collect_test_ids()
    stale = [e.pattern for e in parse_expectations(EXPECTATIONS)
             if not any(e.matches(t) or e.matches(clause_id(t)) for t in test_ids)]
    assert not stale, f"{EXPECTATIONS}: entries matching no clause test: {stale}"
