"""Core clauses: the minimal contract every port meets (BertModel, float32, cpu), end to end.

These clauses carry no ``bert_requires`` marker, so they cannot be declared away: a port that does not
claim the core still runs them, and fails ``core.capabilities``.
"""

from __future__ import annotations

import numpy as np
import pytest

from bert_conformance.case import tiny_config
from bert_conformance.errors import SpecError
from bert_conformance.plugin import clause_params
from bert_conformance.spec import load_spec
from bert_conformance.specified import specified
from bert_conformance.tolerance import assert_close, tolerance_for

CLAUSES = {c["id"]: c["text"] for c in load_spec().raw("core")["clauses"]}  # spec/core.yaml
_RUN: set[str] = set()  # the ids the tests below run: exactly those of spec/core.yaml (checked at the end)


def _params(*ids: str) -> list:
    _RUN.update(ids)
    _refuse(set(ids) - set(CLAUSES), "test_core runs it, but spec/core.yaml has no such clause")
    return clause_params({"id": cid, "text": CLAUSES[cid]} for cid in ids)


def _refuse(ids: set[str], why: str) -> None:
    if ids:
        raise SpecError(str(load_spec().files["core"]), "clauses", f"{', '.join(sorted(ids))}: {why}")


@pytest.mark.parametrize("clause", _params("core.capabilities"))
def test_capabilities(clause, bert_impl):
    assert bert_impl.capabilities_error is None, bert_impl.capabilities_error
    missing = bert_impl.capabilities.missing_core()
    assert not missing, f"{bert_impl.name} does not claim the minimal core: {', '.join(missing)}"


@pytest.mark.parametrize("clause", _params("core.load_model"))
def test_load_model(clause, load_case):
    case = load_case("BertModel", dtype="float32", device="cpu")
    assert callable(case.model.raw.forward)


@pytest.mark.parametrize("clause", _params("core.forward.last_hidden_state"))
def test_last_hidden_state(clause, load_case, make_inputs):
    case = load_case("BertModel", dtype="float32", device="cpu")  # the minimal core is on cpu, whatever --bert-device
    inputs = make_inputs(case.config, batch=2, seq=7)
    outputs = case.run(inputs)
    expected = case.expected(inputs)

    actual = outputs.get("last_hidden_state")
    assert actual is not None, f"forward returned no last_hidden_state (keys: {sorted(outputs)})"
    assert getattr(actual, "shape", None) == (2, 7, case.config["hidden_size"]), (
        "want [batch, seq, hidden_size]"
    )
    assert_close(
        actual,
        expected["last_hidden_state"],
        tolerance_for("float32", "outputs"),
        what="last_hidden_state[attended positions]",
        dtype="float32",
        specified=specified("BertModel", "last_hidden_state", actual.shape, inputs),
    )


@pytest.mark.parametrize("clause", _params("core.forward.pooler_output"))
def test_pooler_output(clause, load_case, make_inputs):
    case = load_case("BertModel", dtype="float32", device="cpu")  # the minimal core is on cpu, whatever --bert-device
    inputs = make_inputs(case.config, batch=2, seq=7)
    outputs = case.run(inputs)
    expected = case.expected(inputs)

    actual = outputs.get("pooler_output")
    assert actual is not None, f"forward returned no pooler_output (keys: {sorted(outputs)})"
    assert np.shape(actual) == (2, case.config["hidden_size"]), "want [batch, hidden_size]"
    assert_close(
        actual,
        expected["pooler_output"],
        tolerance_for("float32", "outputs"),
        what="pooler_output",
        dtype="float32",
    )


@pytest.mark.parametrize("clause", _params("core.inputs_unchanged"))
def test_inputs_unchanged(clause, bert_impl, oracle, make_inputs):
    """The raw port gets arrays the test keeps a copy of; after load_model and forward they are unchanged."""
    config = tiny_config()
    weights = oracle.random_state_dict("BertModel", config, seed=0)
    given = {name: value.copy() for name, value in weights.items()}
    model = bert_impl.impl.load_model("BertModel", dict(config), given, dtype="float32", device="cpu",
                                      attention=(bert_impl.capabilities.attention or ("eager",))[0])
    inputs = make_inputs(config, batch=2, seq=7)
    fed = {name: value.copy() for name, value in inputs.items()}
    model.forward(fed)
    changed = [name for name in weights if not np.array_equal(given[name], weights[name])]
    changed += [name for name in inputs if not np.array_equal(fed[name], inputs[name])]
    assert not changed, f"{bert_impl.name} wrote into the arrays it was given: {changed[:5]}"


_refuse(set(CLAUSES) - _RUN, "no test of test_core runs it")
