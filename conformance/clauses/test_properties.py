"""Property clauses (spec/properties.yaml): what a port's forward must satisfy when compared with itself.

Invariances (right padding, batch composition, masked keys), attention-mask semantics (bool, float, any
non-zero, omitted), omitted-argument defaults, eager vs sdpa, evaluation mode, and the masked-LM weight tie.
Each clause runs on hypothesis-drawn configs and inputs, in float64 when the port claims it (a property
broken by 1e-7 shows there) else float32, and compares at the clause's tolerance kind (tolerances.yaml).
Test ids are ``<clause id>-<Head>``; only attended query positions, and pooled rows whose first position is
attended, are compared (heads.unspecified.padded_query_positions, pooler_padded_first_token).

Clause ids run here that this module does not write out, by test function (tools/clause_hops.py):
    properties.attention_mask.*  test_attention_mask_forms
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bert_conformance.clauses.dtype_helpers import check_dtype, port_tolerance
from bert_conformance.clauses.hypothesis_helpers import (
    any_masks,
    changed_ids,
    configs,
    inputs,
    load_drawn,
    seeds,
)
from bert_conformance.clauses.pytest_helpers import (
    assert_bitwise,
    assert_same,
    by_id,
    clause_outputs,
    head_params,
    output,
    spec_clauses,
)
from bert_conformance.specified import attended, per_position
from bert_conformance.tolerance import assert_close, tolerance_for

CLAUSES = by_id(spec_clauses("properties", "properties"))
# LayerNorm over fewer features erases most of a token's identity (hidden_size 1: outputs do not depend on
# the input at all), so a broken mask or default could pass unseen.
MIN_HIDDEN = 4


# --- shared steps ---------------------------------------------------------------------------------------------


def _case(data: Any, clause: dict, head: str, bert_impl: Any, oracle: Any, dtype: str, **load: Any) -> Any:
    """A drawn config (the clause's overrides win) and weights, loaded into the port."""
    config = data.draw(configs(head, surface=bert_impl.capabilities.surface, **clause.get("config", {})),
                       label="config")
    assume(config["hidden_size"] >= MIN_HIDDEN)
    seed = data.draw(seeds(), label="weights seed")
    return load_drawn(bert_impl, oracle, head, config, dtype=dtype, seed=seed, **load)


def _compare(clause: dict, head: str, actual: dict, expected: dict, inputs: dict, dtype: str, what: str) -> None:
    """The clause's outputs equal where the spec specifies them for a call with ``inputs`` (their mask)."""
    __tracebackhide__ = True
    tol = port_tolerance(clause, dtype)
    for name in clause_outputs(clause, head):
        assert_same(head, name, actual, expected, inputs=inputs, tol=tol, dtype=dtype, what=what)


def _masked_batch(data: Any, case: Any, *, need_zero: bool = True) -> dict[str, np.ndarray]:
    """Inputs whose attention_mask has zeros anywhere."""
    batch = data.draw(inputs(case.config, case.head, pad=False), label="inputs")
    padding = case.model.capabilities.surface.get("padding") if case.model.capabilities else None
    batch["attention_mask"] = data.draw(any_masks(*batch["input_ids"].shape, padding), label="attention_mask")
    assume(not need_zero or (batch["attention_mask"] == 0).any())
    return batch


def _random_ids(data: Any, shape: tuple[int, ...], high: int, label: str) -> np.ndarray:
    seed = data.draw(st.integers(0, 2**32 - 1), label=label)
    return np.random.default_rng(seed).integers(0, high, size=shape, dtype=np.int64)


# --- invariances --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("clause", "head"), head_params([CLAUSES["properties.padding_invariance"]]))
@given(data=st.data())
def test_padding_invariance(clause, head, data, bert_impl, oracle, capabilities):
    """Real positions of a right-padded row equal the row cut to its length and run unpadded."""
    dtype = check_dtype(capabilities)
    case = _case(data, clause, head, bert_impl, oracle, dtype)
    batch = data.draw(inputs(case.config, head, max_seq=6), label="inputs")
    padded = case.run(_padded(data, case, batch))
    tol = port_tolerance(clause, dtype)
    for row, length in enumerate(batch["attention_mask"].sum(axis=1)):
        alone = case.run({k: v[row : row + 1, :length] for k, v in batch.items()})
        for name in clause_outputs(clause, head):
            got, want = output(padded, name), output(alone, name)
            got = got[row : row + 1, :length] if per_position(head, name) else got[row : row + 1]
            assert_close(got, want, tol, what=f"row {row} (padded) vs alone: {name}", dtype=dtype)


@pytest.mark.parametrize(("clause", "head"), head_params([CLAUSES["properties.batch_invariance"]]))
@given(data=st.data())
def test_batch_invariance(clause, head, data, bert_impl, oracle, capabilities):
    """Each row of a batch mixing padded and unpadded rows gives the outputs of that row run alone.

    The batch also runs in reverse row order, so a shortcut keyed on the first (or last) row shows.
    """
    dtype = check_dtype(capabilities)
    case = _case(data, clause, head, bert_impl, oracle, dtype)
    batch = _padded(data, case, data.draw(inputs(case.config, head, max_seq=6), label="inputs"))
    rows = len(batch["input_ids"])
    assume(rows > 1)
    full = data.draw(st.integers(0, rows - 1), label="unpadded row")
    batch["attention_mask"][full] = 1
    alone = [case.run({k: v[row : row + 1] for k, v in batch.items()}) for row in range(rows)]
    for order in (np.arange(rows), np.arange(rows)[::-1]):
        together = case.run({k: v[order].copy() for k, v in batch.items()})
        for place, row in enumerate(order):
            picked = {name: output(together, name)[place : place + 1] for name in clause_outputs(clause, head)}
            row_mask = {"attention_mask": batch["attention_mask"][row : row + 1]}
            _compare(clause, head, picked, alone[row], row_mask, dtype, f"row {row} at place {place} of the batch vs alone")


def _padded(data: Any, case: Any, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``batch`` with 1-3 more positions, masked in every row (random token ids under them)."""
    rows, seq = batch["input_ids"].shape
    extra = data.draw(st.integers(1, min(3, case.config["max_position_embeddings"] - seq)), label="extra padding")
    pad = {
        "input_ids": _random_ids(data, (rows, extra), case.config["vocab_size"], "ids under the padding"),
        "token_type_ids": np.zeros((rows, extra), np.int64),
        "attention_mask": np.zeros((rows, extra), np.int64),
    }
    return {k: np.concatenate([v, pad[k]], axis=1) for k, v in batch.items()}


@pytest.mark.parametrize(("clause", "head"), head_params([CLAUSES["properties.masked_keys"]]))
@given(data=st.data())
def test_masked_keys(clause, head, data, bert_impl, oracle, capabilities):
    """Changing tokens at masked positions changes nothing at attended positions."""
    dtype = check_dtype(capabilities)
    case = _case(data, clause, head, bert_impl, oracle, dtype)
    batch = _masked_batch(data, case)
    masked = batch["attention_mask"] == 0
    changed = {k: v.copy() for k, v in batch.items()}
    for name, high in (("input_ids", case.config["vocab_size"]), ("token_type_ids", case.config["type_vocab_size"])):
        changed[name][masked] = changed_ids(data.draw, batch[name], high, f"new {name} at masked positions")[masked]
    _compare(clause, head, case.run(changed), case.run(batch), batch, dtype, "masked tokens changed vs not")


# --- attention mask semantics ---------------------------------------------------------------------------------


def _mask_variant(clause_id: str, mask: np.ndarray, data: Any, dtype: str, values: list[float]) -> np.ndarray | None:
    """The clause's equivalent of an int64 0/1 mask (None: omitted)."""
    if clause_id.endswith(".bool"):
        return mask.astype(bool)
    if clause_id.endswith(".float"):
        return mask.astype(dtype)
    if clause_id.endswith(".omitted"):
        return None
    integers = [int(v) for v in values if float(v).is_integer()]
    as_float = data.draw(st.booleans(), label="floating-point mask")
    choices = values if as_float else integers
    picked = np.asarray(choices)[_random_ids(data, mask.shape, len(choices), "non-zero values")]
    return np.where(mask != 0, picked, 0).astype(dtype if as_float else np.int64)


@pytest.mark.parametrize(
    ("clause", "head"),
    head_params([clause for cid, clause in CLAUSES.items() if cid.startswith("properties.attention_mask.")]),
)
@given(data=st.data())
def test_attention_mask_forms(clause, head, data, bert_impl, oracle, capabilities):
    """bool, float and any-non-zero masks attend exactly like the int64 0/1 mask; omitted = all ones."""
    dtype = check_dtype(capabilities)
    case = _case(data, clause, head, bert_impl, oracle, dtype)
    omitted = clause["id"].endswith(".omitted")
    batch = _masked_batch(data, case, need_zero=not omitted)
    if omitted:
        batch["attention_mask"] = np.ones_like(batch["attention_mask"])
    variant = _mask_variant(clause["id"], batch["attention_mask"], data, dtype, clause.get("values", []))
    changed = {k: v for k, v in batch.items() if k != "attention_mask"}
    if variant is not None:
        changed["attention_mask"] = variant
    what = f"attention_mask {'omitted' if variant is None else variant.dtype} vs int64 0/1"
    _compare(clause, head, case.run(changed), case.run(batch), batch, dtype, what)


# --- omitted-argument defaults --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clause", "head"),
    head_params([CLAUSES["properties.position_ids.omitted"], CLAUSES["properties.token_type_ids.omitted"]]),
)
@given(data=st.data())
def test_omitted_defaults(clause, head, data, bert_impl, oracle, capabilities):
    """Omitted token_type_ids = zeros; omitted position_ids = arange(seq) in every row (no cache)."""
    dtype = check_dtype(capabilities)
    case = _case(data, clause, head, bert_impl, oracle, dtype)
    batch = data.draw(inputs(case.config, head), label="inputs")
    name = clause["id"].split(".")[1]
    rows, seq = batch["input_ids"].shape
    default = np.zeros((rows, seq), np.int64) if name == "token_type_ids" else np.tile(np.arange(seq), (rows, 1))
    explicit = {**batch, name: default}
    omitted = {k: v for k, v in batch.items() if k != name}
    _compare(clause, head, case.run(omitted), case.run(explicit), batch, dtype, f"{name} omitted vs the default")


# --- attention implementations and evaluation mode ---------------------------------------------------------------


@pytest.mark.parametrize(("clause", "head"), head_params([CLAUSES["properties.eager_vs_sdpa"]]))
@given(data=st.data())
def test_eager_vs_sdpa(clause, head, data, bert_impl, oracle, capabilities):
    """The same weights with eager and sdpa attention agree at attended positions of padded inputs."""
    dtype = check_dtype(capabilities)
    eager = _case(data, clause, head, bert_impl, oracle, dtype, attention="eager")
    sdpa = bert_impl.load_model(head, eager.config, eager.state_dict, dtype=dtype, attention="sdpa")
    batch = _padded(data, eager, data.draw(inputs(eager.config, head, max_seq=6), label="inputs"))
    _compare(clause, head, sdpa.forward(batch), eager.run(batch), batch, dtype, "sdpa vs eager")


@pytest.mark.parametrize(("clause", "head"), head_params([CLAUSES["properties.eval.deterministic"]]))
@given(data=st.data())
def test_eval_deterministic(clause, head, data, bert_impl, oracle, capabilities):
    """Two identical calls return bit-for-bit identical outputs (dropout probabilities 0.5 in the config)."""
    case = _case(data, clause, head, bert_impl, oracle, check_dtype(capabilities))
    batch = data.draw(inputs(case.config, head), label="inputs")
    first, second = case.run(batch), case.run(batch)
    assert sorted(first) == sorted(second), "two identical calls returned different output names"
    for name in first:
        assert_bitwise(second[name], first[name], f"second call vs first: {name}")


@pytest.mark.parametrize(("clause", "head"), head_params([CLAUSES["properties.eval.no_dropout"]]))
@given(data=st.data())
def test_eval_no_dropout(clause, head, data, bert_impl, oracle, capabilities):
    """Dropout probabilities 0.5 change nothing: same outputs as probabilities 0.0, and as the oracle."""
    dtype = check_dtype(capabilities)
    case = _case(data, clause, head, bert_impl, oracle, dtype)
    undropped = {**case.config, **{key: 0.0 for key in clause["config"]}}
    plain = bert_impl.load_model(head, undropped, case.state_dict, dtype=dtype)
    batch = data.draw(inputs(case.config, head), label="inputs")
    actual = case.run(batch)
    _compare(clause, head, actual, plain.forward(batch), batch, dtype, "dropout 0.5 vs 0.0")
    outputs_tol = tolerance_for(dtype, "outputs")
    for name in clause_outputs(clause, head):
        assert_same(head, name, actual, case.expected(batch), inputs=batch, tol=outputs_tol, dtype=dtype,
                    what="dropout 0.5 vs the oracle")


# --- weight tying -------------------------------------------------------------------------------------------------


WORD_EMBEDDINGS = "bert.embeddings.word_embeddings.weight"
PREDICTION_BIAS = "cls.predictions.bias"


@pytest.mark.parametrize(("clause", "head"), head_params([CLAUSES["properties.weight_tying"]]))
@given(data=st.data())
def test_weight_tying(clause, head, data, bert_impl, oracle, capabilities):
    """logits = transform(h) @ E^T + b: set row u of E to a*E[w] and b[u] to c (u absent from the input);
    then logits[u] = a * (logits[w] - b[w]) + c and every other logit is unchanged."""
    dtype = check_dtype(capabilities)
    case = _case(data, clause, head, bert_impl, oracle, dtype)
    batch = data.draw(inputs(case.config, head), label="inputs")
    vocab = case.config["vocab_size"]
    unused = sorted(set(range(vocab)) - set(batch["input_ids"].ravel().tolist()))
    assume(unused)
    u = data.draw(st.sampled_from(unused), label="changed token u (absent from the input)")
    w = data.draw(st.integers(0, vocab - 1).filter(lambda t: t != u), label="source token w")
    a = data.draw(st.sampled_from((-2.0, -0.5, 0.5, 1.0, 2.0)), label="a (a power of two: exact)")
    c = data.draw(st.sampled_from((-1.25, 0.0, 0.5, 3.0)), label="c, the new bias of u")
    embeddings, bias = case.state_dict[WORD_EMBEDDINGS].copy(), case.state_dict[PREDICTION_BIAS].copy()
    b_w = float(bias[w])
    embeddings[u], bias[u] = a * embeddings[w], c
    changed_weights = {**case.state_dict, WORD_EMBEDDINGS: embeddings, PREDICTION_BIAS: bias}
    changed = bert_impl.load_model(head, case.config, changed_weights, dtype=dtype)
    (name,) = clause_outputs(clause, head)
    before, after = output(case.run(batch), name), output(changed.forward(batch), name)
    rows = attended(batch["attention_mask"], batch["input_ids"].shape)
    tol = port_tolerance(clause, dtype)
    others = np.arange(vocab) != u
    assert_close(after[rows][:, others], before[rows][:, others], tol, dtype=dtype,
                 what=f"{name}[attended, v != u] after changing row u={u} of E and b[u]")
    predicted = a * (before[rows][:, w].astype(np.float64) - b_w) + c
    assert_close(after[rows][:, u], predicted, tol, dtype=dtype,
                 what=f"{name}[attended, u={u}] vs a * (logits[w={w}] - b[w]) + c (tied decoder weight and bias)")
    expected = oracle.forward(head, case.config, changed_weights, batch)
    assert_same(head, name, {name: after}, expected, inputs=batch, tol=tol, dtype=dtype, what="changed weights vs oracle")
