"""The real-runtime matrix (docs/ports.md, tools/ports.py): the committed page is what the committed summaries
give, every runtime gave its recorded verdict (green, or red on the core alone) with only real deviations expected, the core-only port had its numbers
checked, and the adapters whose runtime is installed here declare a valid surface and pass what they claim."""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path

import pytest

import bert_conformance.adapters.reference  # noqa: F401 - keep it in pytester's module snapshot
import bert_conformance.spec  # noqa: F401
from bert_conformance.adapter import BUILTIN, Capabilities
from bert_conformance.expectations import parse_expectations
from bert_conformance.known_bad.selection import all_clause_paths

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("ports_tool", ROOT / "tools" / "ports.py")
TOOL = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(TOOL)
SUMMARIES = TOOL.load_summaries()
THIRD_PARTY = ("onnx-transformers", "ctranslate2", "keras-hub", "tensorflow", "flax")


def test_docs_ports_md_is_generated_from_the_summaries():
    assert TOOL.write_matrix(check=True) == 0, "run: python tools/ports.py matrix"
    assert {s["port"] for s in SUMMARIES} == set(TOOL.PORTS), "run: tox -e ports (and tox -e port-flax, ...)"


@pytest.mark.parametrize("summary", SUMMARIES, ids=lambda s: s["port"])
def test_every_gate_gave_its_recorded_verdict_with_real_deviations_only(summary):
    """Green, or (DOES_NOT_CONFORM) red on the core alone: the core is never in an expectations file."""
    assert TOOL.verdict_problem(summary) is None
    expected = {t for t, e in summary["clauses"].items() if e["status"] == "xfail"}
    path = ROOT / "tests" / "expectations" / f"{summary['port']}.txt"
    if not expected:
        assert not path.exists() or not parse_expectations(str(path))
        return
    for entry in parse_expectations(str(path)):  # every line says why; none says "unsupported"
        assert entry.reason and not any(w in entry.reason.lower() for w in ("unsupported", "not supported"))


def test_the_core_only_port_has_its_numbers_checked_and_no_failure():
    numpy_docs = next(s for s in SUMMARIES if s["port"] == "numpy-docs")
    assert numpy_docs["summary"]["fail"] == numpy_docs["summary"]["xfail"] == 0
    passed = [t for t, e in numpy_docs["clauses"].items() if e["status"] == "pass"]
    assert {"numerics.float64.BertModel", "numerics.float32.BertModel"} <= set(passed)  # not only core.*
    assert len([t for t in passed if t.startswith("golden.model.")]) >= 16
    assert len([t for t in passed if t.startswith("properties.")]) >= 5
    assert numpy_docs["capabilities"]["outputs"] == [] and numpy_docs["capabilities"]["inputs"] == [
        "input_ids", "attention_mask", "token_type_ids"]


def test_render_counts_statuses_per_family():
    summary = {"port": "numpy-docs", "version": "1", "capabilities": {"heads": ["BertModel"]}, "command": "c",
               "wall_s": 1.0, "exit_code": 0, "date": "d", "summary": {"pass": 2, "not-claimed": 1},
               "clauses": {"core.capabilities": {"status": "pass"}, "golden.model.tiny-float32": {"status": "pass"},
                           "numerics.float16.BertModel": {"status": "not-claimed", "message": "not claimed: dtype"}}}
    text = TOOL.render([summary])
    assert "| core | 1 / 0 / 0 |" in text and "| numerics | 0 / 0 / 1 |" in text
    assert "| golden + numerics + properties passed | 1 |" in text


@pytest.mark.parametrize("name", THIRD_PARTY)
def test_third_party_adapter_declares_a_valid_surface(name):
    module_name = BUILTIN[name].split(":")[0]
    runtime = {"onnx-transformers": "onnxruntime", "ctranslate2": "ctranslate2", "keras-hub": "keras_hub",
               "tensorflow": "tensorflow", "flax": "flax"}[name]
    if name in ("tensorflow", "flax"):
        pytest.importorskip("transformers.models.bert.modeling_tf_bert" if name == "tensorflow" else
                            "transformers.models.bert.modeling_flax_bert", reason="needs transformers 4.x")
    pytest.importorskip(runtime, reason=f"the {name} runtime is not installed (pip install '.[{name}]')")
    port = importlib.import_module(module_name).implementation
    caps = Capabilities.from_dict(port.capabilities(), source=name)
    assert caps.narrowed(), f"{name} narrows nothing: a runtime declares what it leaves out"
    assert not caps.missing_core()


def test_onnx_transformers_passes_its_core_and_golden_clauses(pytester):
    """The one third-party runtime the default environment has (onnxruntime + transformers): its core and golden
    clauses pass, those it cannot serve are not claimed (the whole suite runs in tox -e ports)."""
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    paths = [p for p in all_clause_paths() if p.stem in ("test_core", "test_golden")]
    report = pytester.path / "report.json"
    # a subprocess: the exporter imports torch modules that pytester's in-process cleanup would drop, and their
    # re-import in a later test of this worker registers torch operator libraries twice
    result = pytester.runpytest_subprocess(*map(str, paths), "--bert-impl", "onnx-transformers", "--bert-report",
                                           str(report), "-p", "no:cacheprovider", "-p", "no:xdist")
    clauses = json.loads(report.read_text())["clauses"]
    assert result.ret == 0, result.stdout.str()[-3000:]
    passed = {t for t, e in clauses.items() if e["status"] == "pass"}
    assert {"core.forward.last_hidden_state", "golden.model.minilm-float32", "golden.model.tiny-float32"} <= passed
    assert clauses["golden.model.position_ids-float32"]["status"] == "not-claimed"
