"""The onnx port (ONNX Runtime on an export of the reference) passes what it claims; the rest is not claimed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip(
    "onnxruntime", reason="the onnx extra is not installed (pip install 'bert-conformance[onnx]')"
)

import bert_conformance.adapters.onnx as onnx_port  # noqa: E402
import bert_conformance.clauses  # noqa: E402
from bert_conformance.adapter import load_implementation  # noqa: E402
from bert_conformance.case import make_inputs, tiny_config  # noqa: E402
from bert_conformance.oracle import get_oracle  # noqa: E402
from bert_conformance.specified import specified  # noqa: E402
from bert_conformance.tolerance import Tolerance, assert_close, tolerance_for  # noqa: E402

pytest_plugins = ["pytester"]

CORE = str(Path(bert_conformance.clauses.__file__).parent / "test_core.py")

DEMO = """
import pytest

from bert_conformance.plugin import clause_params

CLAUSES = [{"id": "demo.mc", "head": "BertForMultipleChoice"}, {"id": "demo.f64", "dtype": "float64"},
           {"id": "demo.loss", "feature": "loss"}, {"id": "demo.mlm", "head": "BertForMaskedLM"}]


@pytest.mark.parametrize("clause", clause_params(CLAUSES, requires=lambda c: {k: v for k, v in c.items() if k != "id"}))
def test_demo(clause, load_case, make_inputs):
    case = load_case(clause.get("head", "BertModel"), dtype=clause.get("dtype", "float32"))
    assert case.run(make_inputs(case.config))
"""


def test_onnx_port_passes_core_and_reports_the_rest_not_claimed(pytester):
    pytester.makeconftest('pytest_plugins = ["bert_conformance.fixtures"]')
    pytester.makepyfile(test_demo=DEMO)
    report = pytester.path / "onnx.json"
    # A subprocess: the export imports torch internals lazily, which an in-process pytester run would unload.
    result = pytester.runpytest_subprocess(
        CORE, "test_demo.py", "--bert-impl", "onnx", "--bert-report", str(report), "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=6, skipped=3)
    data = json.loads(report.read_text())
    assert data["implementation"]["name"] == "onnxruntime"
    assert data["summary"] == {
        "pass": 6,
        "fail": 0,
        "xfail": 0,
        "not-claimed": 3,
        "skipped-env": 0,
        "total": 9,
    }
    assert data["clauses"]["demo.loss"]["message"] == "not claimed: feature loss"


@pytest.fixture(scope="module")
def masked_lm():
    oracle, config = get_oracle(), tiny_config()
    state_dict = oracle.random_state_dict("BertForMaskedLM", config, seed=3)
    port = load_implementation("onnx")
    return (
        port,
        oracle,
        config,
        state_dict,
        port.load_model("BertForMaskedLM", config, state_dict, dtype="float32"),
    )


@pytest.mark.parametrize(("batch", "seq"), [(1, 1), (3, 11)])
def test_dynamic_shapes_and_all_outputs_match_the_oracle(masked_lm, batch, seq):
    _, oracle, config, state_dict, model = masked_lm
    inputs = make_inputs(config, batch=batch, seq=seq, seed=seq)
    options = {"output_hidden_states": True, "output_attentions": True}
    actual = model.forward(inputs, **options)
    expected = oracle.forward("BertForMaskedLM", config, state_dict, inputs, **options)
    assert sorted(actual) == ["attentions", "hidden_states", "logits"]
    tol = tolerance_for("float32", "outputs")
    assert_close(
        actual["logits"],
        expected["logits"],
        tol,
        what="logits",
        dtype="float32",
        specified=specified("BertForMaskedLM", "logits", expected["logits"].shape, inputs),
    )
    assert len(actual["hidden_states"]) == config["num_hidden_layers"] + 1
    assert len(actual["attentions"]) == config["num_hidden_layers"]


def test_new_weights_reuse_the_export(masked_lm):
    port, oracle, config, _, _ = masked_lm
    exports = len(onnx_port._EXPORTS)
    other = oracle.random_state_dict("BertForMaskedLM", config, seed=4)
    model = port.load_model("BertForMaskedLM", config, other, dtype="float32")
    assert len(onnx_port._EXPORTS) == exports
    inputs = make_inputs(config, pad=False)
    expected = oracle.forward("BertForMaskedLM", config, other, inputs)["logits"]
    assert_close(
        model.forward(inputs)["logits"],
        expected,
        tolerance_for("float32", "outputs"),
        what="logits",
        dtype="float32",
    )


def test_unsupported_inputs_and_weights_are_rejected(masked_lm):
    port, _, config, state_dict, model = masked_lm
    inputs = make_inputs(config)
    with pytest.raises(ValueError, match=r"onnx port: not supported: \['labels'\]"):
        model.forward({**inputs, "labels": inputs["input_ids"]})
    with pytest.raises(ValueError, match=r"not supported: \['use_cache'\]"):
        model.forward(inputs, use_cache=True)
    with pytest.raises(ValueError, match="only float32 / cpu / eager"):
        port.load_model("BertForMaskedLM", config, state_dict, dtype="float64")
    broken = {**state_dict, "extra.weight": np.zeros(1, np.float32)}
    broken.pop("cls.predictions.bias")
    with pytest.raises(ValueError, match=r"missing \['cls.predictions.bias'.*unexpected \['extra.weight'\]"):
        port.load_model("BertForMaskedLM", config, broken, dtype="float32")


def test_inputs_embeds_equals_input_ids_and_exactly_one_is_required(masked_lm):
    _, _, config, state_dict, model = masked_lm
    inputs = make_inputs(config)
    embeds = state_dict["bert.embeddings.word_embeddings.weight"][inputs["input_ids"]]
    by_ids = model.forward(inputs)["logits"]
    by_embeds = model.forward(
        {**{k: v for k, v in inputs.items() if k != "input_ids"}, "inputs_embeds": embeds}
    )
    assert_close(by_embeds["logits"], by_ids, Tolerance(atol=0.0, rtol=0.0), what="logits", dtype="float32")
    with pytest.raises(ValueError, match="exactly one of input_ids and inputs_embeds"):
        model.forward({**inputs, "inputs_embeds": embeds})


def test_hidden_states_by_index(masked_lm):
    *_, config, _, model = masked_lm
    inputs = make_inputs(config)
    selected = model.forward(inputs, output_hidden_states=[0, -1])["hidden_states"]
    every = model.forward(inputs, output_hidden_states=True)["hidden_states"]
    assert [s is None for s in selected] == [False, True, False]
    assert np.array_equal(selected[0], every[0]) and np.array_equal(selected[-1], every[-1])
    assert "hidden_states" not in model.forward(inputs)
