"""The minimal example port in docs/adapters.md is real: it passes the core clauses and the float64 tier."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

import bert_conformance.adapters.reference  # noqa: F401 - keep it in pytester's module snapshot
import bert_conformance.clauses
import bert_conformance.spec  # noqa: F401
from bert_conformance.adapter import load_implementation
from bert_conformance.clauses.helpers import make_inputs, real_positions, tiny_config
from bert_conformance.oracle import get_oracle
from bert_conformance.tolerance import assert_close, tolerance_for

pytest_plugins = ["pytester"]

DOC = Path(__file__).resolve().parents[1] / "docs" / "adapters.md"
CORE = str(Path(bert_conformance.clauses.__file__).parent / "test_core.py")


def _example() -> str:
    match = re.search(r"<!-- example: numpy_bert.py -->\n```python\n(.*?)\n```", DOC.read_text(), re.S)
    assert match, "docs/adapters.md lost its numpy_bert.py example block"
    return match.group(1)


def test_documented_port_passes_core(pytester):
    pytester.makepyfile(numpy_bert=_example())
    pytester.syspathinsert()
    result = pytester.runpytest(CORE, "--bert-impl", "numpy_bert:implementation", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(
        ["claims: heads BertModel; dtypes float64,float32; devices cpu; attention eager*"]
    )


def test_documented_port_matches_the_oracle_in_float64(tmp_path, monkeypatch):
    (tmp_path / "numpy_bert.py").write_text(_example())
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "numpy_bert", raising=False)
    port, oracle, config = load_implementation("numpy_bert:implementation"), get_oracle(), tiny_config()
    state_dict = oracle.random_state_dict("BertModel", config, seed=5)
    model = port.load_model("BertModel", config, state_dict, dtype="float64")
    inputs = make_inputs(config, batch=3, seq=9, seed=5)
    actual, expected = model.forward(inputs), oracle.forward("BertModel", config, state_dict, inputs)
    mask = inputs["attention_mask"]
    tol = tolerance_for("float64", "outputs")
    assert_close(
        real_positions(actual["last_hidden_state"], mask),
        real_positions(expected["last_hidden_state"], mask),
        tol,
        what="last_hidden_state",
    )
    assert_close(actual["pooler_output"], expected["pooler_output"], tol, what="pooler_output")


@pytest.mark.parametrize("document", ["adapters.md", "ci-gating.md"])
def test_docs_name_only_real_options(document):
    """Every --bert-* option the docs mention exists (and the plugin's options are all documented)."""
    text = (DOC.parent / document).read_text()
    options = set(re.findall(r"--bert-[a-z]+", text))
    known = {
        "--bert-impl",
        "--bert-report",
        "--bert-expectations",
        "--bert-strict",
        "--bert-profile",
        "--bert-timeout",
        "--bert-oracle",
        "--bert-device",
    }
    assert options <= known
    if document == "adapters.md":
        assert options == known
