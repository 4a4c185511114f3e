"""Gradient clauses (spec/gradients.yaml): d loss / d parameter of every head, for every parameter.

A port claiming the ``gradients`` feature returns, from ``model.gradients(inputs)``, the gradient of the
head's loss (spec/labels.yaml) for every parameter under its HF state-dict name (parameters.yaml, tied
targets included: a tied pair is one tensor and both names carry its whole gradient). They are compared with
the oracle's float64 gradients at ``tolerances.<dtype>.gradients``, in float64 when the port claims it; the
causal LM loss is computed in float32 by the spec (labels.lm.shift ``upcast``), so BertLMHeadModel runs in
float32. Inputs, labels and configs are drawn by hypothesis; the model is in evaluation mode (no dropout).
Below float64, configs are drawn in the regime the gradient tolerances hold in (``hypothesis_helpers.MEASURED_REGIME``):
on a hidden-4 model a correct float32 port (the reference run in float32) exceeded them 1.8x on one element
of a weight gradient whose float64 value is a cancelling sum (docs/spec.md, "Measured regime").

Clause ids run here that this module does not write out, by test function (tools/clause_hops.py):
    gradients.*  test_gradients
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bert_conformance.clauses.dtype_helpers import cast_floats, check_dtype
from bert_conformance.clauses.hypothesis_helpers import configs_for, head_labels, inputs, load_drawn, seeds
from bert_conformance.clauses.model_helpers import spec_keys
from bert_conformance.clauses.pytest_helpers import by_id, head_params, spec_clauses
from bert_conformance.losses import LABELS, loss_dtype
from bert_conformance.tolerance import assert_close, tolerance_for

CLAUSES = by_id(spec_clauses("gradients", "gradients"))
# LayerNorm over fewer features is ill-conditioned (hidden_size 1: x - mean is rounding noise divided by
# sqrt(eps)), which no float32 tolerance for BERT covers; such configs say nothing about a port.
MIN_HIDDEN = 4


@pytest.mark.parametrize(
    ("clause", "head"),
    head_params(CLAUSES.values(), heads=lambda clause: [clause["head"]], features=lambda head: ("gradients", "loss")),
)
@given(data=st.data())
def test_gradients(clause, head, data, bert_impl, oracle, capabilities):
    """d loss / d parameter equals the oracle's for every parameter of the head."""
    assert head in (LABELS.clause(clause["loss"]).heads or ()), f"{clause['loss']} is not a loss of {head}"
    dtype = loss_dtype(head, check_dtype(capabilities))
    config = data.draw(configs_for(head, dtype, surface=capabilities.surface, **clause.get("config", {})),
                       label="config")
    assume(config["hidden_size"] >= MIN_HIDDEN)
    case = load_drawn(bert_impl, oracle, head, config, dtype=dtype, seed=data.draw(seeds(), label="weights seed"))
    batch = data.draw(inputs(config, head), label="inputs")
    assume(len(batch["input_ids"]) > 1)  # a mean over one item equals the sum: two or more show the reduction
    labels = cast_floats(data.draw(head_labels(head, config, batch), label="labels"), dtype)
    arguments = {**batch, **labels}

    grads = case.gradients(arguments)
    expected = case.expected_gradients(arguments)
    keys = spec_keys(head, config, saved=False)
    missing = sorted(set(keys) - set(grads))
    assert not missing, f"gradients() has no entry for {len(missing)} parameter(s): {missing[:5]}"
    tol = tolerance_for(dtype, clause["tolerance"])
    for name, shape in sorted(keys.items()):
        assert np.shape(grads[name]) == shape, f"d loss / d {name}: shape {list(np.shape(grads[name]))}, want {list(shape)}"
        assert_close(grads[name], expected[name], tol, what=f"d loss / d {name}", dtype=dtype)
