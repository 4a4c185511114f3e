"""Decoder clauses (spec/decoder.yaml): causality, the key/value cache, cross-attention, logits_to_keep.

The cache is the port's own object (heads.unspecified.cache_container): the suite only passes back what
``forward`` returned under ``cache`` and checks what the model computes with it. Pieces of a sequence run
with the cache are compared with one full forward of the same port (``tolerance`` of the clause, e.g.
cache_vs_full) and with the oracle's full forward (``outputs``), at attended query positions, in float64
when the port claims it, else in float32 on the same range of configs (below float32, in the regime the
tolerances were measured in: ``hypothesis_helpers.MEASURED_REGIME``). Test ids are ``<clause id>-<Head>``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bert_conformance.case import run_in_pieces, tiny_config
from bert_conformance.clauses.dtype_helpers import check_dtype, port_tolerance
from bert_conformance.clauses.hypothesis_helpers import (
    any_masks,
    changed_ids,
    configs_for,
    inputs,
    load_drawn,
    seeds,
)
from bert_conformance.clauses.pytest_helpers import (
    Variant,
    assert_same,
    by_id,
    clause_outputs,
    head_params,
    output,
    params,
    spec_clauses,
)
from bert_conformance.specified import attended
from bert_conformance.tolerance import DTYPES, assert_close, tolerance_for

CLAUSES = by_id(spec_clauses("decoder", "decoder"))
FINAL = "final hidden state"  # last_hidden_state, or hidden_states[-1] for heads without it
# LayerNorm over fewer features erases most of a token's identity (hidden_size 1: outputs do not depend on
# the input at all), so a wrong cache or mask could pass unseen.
MIN_HIDDEN = 4


# --- shared steps ---------------------------------------------------------------------------------------------


def _case(data: Any, clause: dict, head: str, bert_impl: Any, oracle: Any, capabilities: Any) -> Any:
    """A drawn config (the clause's overrides win) and weights, in the port's checking dtype."""
    dtype = check_dtype(capabilities)
    config = data.draw(configs_for(head, dtype, full_range=("float64", "float32"), surface=capabilities.surface,
                                   **clause.get("config", {})), label="config")
    assume(config["hidden_size"] >= MIN_HIDDEN)
    seed = data.draw(seeds(), label="weights seed")
    return load_drawn(bert_impl, oracle, head, config, dtype=dtype, seed=seed)


def _inputs(data: Any, case: Any, *, pad: bool = False, min_seq: int = 2) -> dict[str, np.ndarray]:
    batch = data.draw(inputs(case.config, case.head, pad=pad), label="inputs")
    assume(batch["input_ids"].shape[1] >= min_seq)
    return batch


def _cut(data: Any, seq: int) -> int:
    return data.draw(st.integers(1, seq - 1), label="cached positions")


def _outputs(case: Any, clause: dict, outputs: dict[str, Any]) -> dict[str, np.ndarray]:
    """The clause's per-position outputs, the final hidden state under FINAL."""
    picked = {name: output(outputs, name) for name in clause_outputs(clause, case.head) if name != "last_hidden_state"}
    if "last_hidden_state" in clause.get("outputs", ()):
        if "last_hidden_state" in outputs:
            picked[FINAL] = output(outputs, "last_hidden_state")
        else:
            picked[FINAL] = output(outputs, "hidden_states")[-1]
    return picked


def _close(case: Any, actual: dict, expected: dict, rows: np.ndarray, tol: Any, what: str) -> None:
    """Every picked output (per position: [batch, seq, ...]) equal at attended query positions."""
    __tracebackhide__ = True
    for name, want in expected.items():
        got = actual[name]
        if np.shape(got) != np.shape(want):
            raise AssertionError(f"{what}: {name} has shape {list(np.shape(got))}, expected {list(np.shape(want))}")
        assert_close(got[rows], np.asarray(want)[rows], tol, what=f"{what}: {name}[attended positions]", dtype=case.dtype)


def _slice(picked: dict[str, np.ndarray], columns: Any) -> dict[str, np.ndarray]:
    return {name: np.asarray(value)[:, columns] for name, value in picked.items()}


def _concat(case: Any, clause: dict, steps: list[dict]) -> dict[str, np.ndarray]:
    pieces = [_outputs(case, clause, step) for step in steps]
    return {name: np.concatenate([p[name] for p in pieces], axis=1) for name in pieces[0]}


def _encoder(data: Any, case: Any, rows: int, label: str, length: int | None = None) -> np.ndarray:
    """Random encoder_hidden_states [rows, enc_seq, hidden_size] in the model's dtype."""
    length = length or data.draw(st.integers(1, 6), label="enc_seq")
    seed = data.draw(st.integers(0, 2**32 - 1), label=label)
    shape = (rows, length, case.config["hidden_size"])
    return np.random.default_rng(seed).standard_normal(shape).astype(case.dtype)


# --- causality ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("clause", "head"), head_params([CLAUSES["decoder.causal"]]))
@given(data=st.data())
def test_causal(clause, head, data, bert_impl, oracle, capabilities):
    """Changing tokens after position i leaves every output at positions <= i unchanged."""
    case = _case(data, clause, head, bert_impl, oracle, capabilities)
    batch = _inputs(data, case, pad=True)
    seq = batch["input_ids"].shape[1]
    last = data.draw(st.integers(0, seq - 2), label="last unchanged position")
    changed = {k: v.copy() for k, v in batch.items()}
    future = batch["input_ids"][:, last + 1 :]
    changed["input_ids"][:, last + 1 :] = changed_ids(data.draw, future, case.config["vocab_size"], "future tokens")
    before, after = case.run(batch, output_hidden_states=True), case.run(changed, output_hidden_states=True)
    rows = attended(batch["attention_mask"], batch["input_ids"].shape)
    kept = slice(0, last + 1)
    _close(case, _slice(_outputs(case, clause, after), kept), _slice(_outputs(case, clause, before), kept),
           rows[:, kept], port_tolerance(clause, case.dtype), f"future tokens after {last} changed vs not")
    expected = _outputs(case, clause, case.expected(batch, output_hidden_states=True))
    _close(case, _outputs(case, clause, before), expected, rows, tolerance_for(case.dtype, "outputs"), "vs the oracle")


@pytest.mark.parametrize(("clause", "head"), head_params([CLAUSES["decoder.not_decoder_is_bidirectional"]]))
@given(data=st.data())
def test_not_decoder_is_bidirectional(clause, head, data, bert_impl, oracle, capabilities):
    """is_decoder false: the last token changes earlier logits, as in the oracle, and there is no cache."""
    case = _case(data, clause, head, bert_impl, oracle, capabilities)
    batch = _inputs(data, case)
    changed = {k: v.copy() for k, v in batch.items()}
    step = data.draw(st.integers(1, case.config["vocab_size"] - 1), label="token change")
    changed["input_ids"][:, -1] = (changed["input_ids"][:, -1] + step) % case.config["vocab_size"]
    tol = tolerance_for(case.dtype, "outputs")
    for inputs_ in (batch, changed):
        outputs = case.run(inputs_, use_cache=True)
        assert outputs.get("cache") is None, "with is_decoder false no cache may be returned"
        assert_same(head, "logits", outputs, case.expected(inputs_), inputs=inputs_, tol=tol, dtype=case.dtype,
                    what="is_decoder false vs the oracle")
    before, after = output(case.run(batch), "logits")[:, :-1], output(case.run(changed), "logits")[:, :-1]
    moved = np.abs(after.astype(np.float64) - before) > tol.atol + tol.rtol * np.abs(before)
    assert moved.any(), "changing the last token left every earlier logit unchanged: the model is causal"


# --- the cache ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("clause", "head"), head_params([CLAUSES["decoder.cache.equivalence"]]))
@given(data=st.data())
def test_cache_equivalence(clause, head, data, bert_impl, oracle, capabilities):
    """Pieces with the cache give the final hidden states and logits of one full forward."""
    case = _case(data, clause, head, bert_impl, oracle, capabilities)
    batch = _inputs(data, case)
    seq = batch["input_ids"].shape[1]
    cuts = sorted(data.draw(st.sets(st.integers(1, seq - 1), min_size=1, max_size=3), label="cuts"))
    mask = batch["attention_mask"] if data.draw(st.booleans(), label="pass attention_mask") else None
    pieces = _concat(case, clause, run_in_pieces(case.run, batch, cuts, mask=mask, output_hidden_states=True))
    full = _outputs(case, clause, case.run(batch, use_cache=False, output_hidden_states=True))
    rows = attended(None, batch["input_ids"].shape)
    _close(case, pieces, full, rows, port_tolerance(clause, case.dtype), f"pieces cut at {cuts} vs full forward")
    expected = _outputs(case, clause, case.expected(batch, use_cache=False, output_hidden_states=True))
    _close(case, pieces, expected, rows, tolerance_for(case.dtype, "outputs"), f"pieces cut at {cuts} vs the oracle")


@pytest.mark.parametrize(("clause", "head"), head_params([CLAUSES["decoder.cache.position_offset"]]))
@given(data=st.data())
def test_cache_position_offset(clause, head, data, bert_impl, oracle, capabilities):
    """With past_seq cached positions, omitted position_ids are past_seq .. past_seq + seq - 1."""
    case = _case(data, clause, head, bert_impl, oracle, capabilities)
    batch = _inputs(data, case)
    rows_n, seq = batch["input_ids"].shape
    past = _cut(data, seq)
    implicit = run_in_pieces(case.run, batch, [past], output_hidden_states=True)[1]
    positions = np.tile(np.arange(seq, dtype=np.int64), (rows_n, 1))  # sliced per piece: past.. in the second
    explicit = run_in_pieces(case.run, {**batch, "position_ids": positions}, [past], output_hidden_states=True)[1]
    rows = attended(None, (rows_n, seq - past))
    _close(case, _outputs(case, clause, implicit), _outputs(case, clause, explicit), rows,
           port_tolerance(clause, case.dtype), f"position_ids omitted vs arange({past}, {seq}) after {past} cached")
    expected = _slice(_outputs(case, clause, case.expected(batch, use_cache=False)), slice(past, None))
    _close(case, _outputs(case, clause, implicit), expected, rows, tolerance_for(case.dtype, "outputs"),
           "second piece vs the oracle's full forward")


@pytest.mark.parametrize(("clause", "head"), head_params([CLAUSES["decoder.cache.attention_mask"]]))
@given(data=st.data())
def test_cache_attention_mask(clause, head, data, bert_impl, oracle, capabilities):
    """Masked past positions stay masked: pieces with [batch, past + seq] masks equal the masked full forward."""
    case = _case(data, clause, head, bert_impl, oracle, capabilities)
    batch = _inputs(data, case)
    rows_n, seq = batch["input_ids"].shape
    past = _cut(data, seq)
    mask = data.draw(any_masks(rows_n, seq, capabilities.surface.get("padding")), label="attention_mask (zeros anywhere)")
    assume((mask[:, :past] == 0).any())
    batch = {**batch, "attention_mask": mask}
    pieces = _concat(case, clause, run_in_pieces(case.run, batch, [past], mask=mask, output_hidden_states=True))
    rows = attended(mask, (rows_n, seq))
    full = _outputs(case, clause, case.run(batch, use_cache=False))
    _close(case, pieces, full, rows, port_tolerance(clause, case.dtype), f"pieces cut at {past} vs full forward")
    expected = _outputs(case, clause, case.expected(batch, use_cache=False))
    _close(case, pieces, expected, rows, tolerance_for(case.dtype, "outputs"), "pieces vs the oracle")


def _per_head_and_dtype(clause: dict[str, Any]) -> list[Variant]:
    """``(head, dtype)`` per head and dtype, id ``<clause id>-<head>-<dtype>``: checked in every dtype."""
    needs = {"feature": sorted(clause.get("features", ()))}
    return [Variant(f"{head}-{dtype}", (head, dtype), {"head": head, "dtype": dtype, **needs})
            for head in sorted(clause["heads"]) for dtype in DTYPES]


@pytest.mark.parametrize(("clause", "head", "dtype"), params([CLAUSES["decoder.left_padding"]], variants=_per_head_and_dtype))
@given(data=st.data())
def test_left_padding(clause, head, dtype, data, bert_impl, oracle):
    """A decoder on a left-padded batch equals the oracle at real positions, in this dtype."""
    config = data.draw(configs_for(head, dtype, full_range=("float64", "float32"),
                                   surface=bert_impl.capabilities.surface, **clause.get("config", {})), label="config")
    assume(config["hidden_size"] >= MIN_HIDDEN)
    case = load_drawn(bert_impl, oracle, head, config, dtype=dtype, seed=data.draw(seeds(), label="weights seed"))
    batch = _inputs(data, case)
    rows_n, seq = batch["input_ids"].shape
    lengths = data.draw(st.lists(st.integers(1, seq), min_size=rows_n, max_size=rows_n), label="real tokens per row")
    assume(min(lengths) < seq)  # at least one row starts with padding
    mask = np.zeros((rows_n, seq), dtype=np.int64)
    for row, length in enumerate(lengths):
        mask[row, seq - length:] = 1
    batch = {**batch, "attention_mask": mask}
    actual = _outputs(case, clause, case.run(batch, output_hidden_states=True))
    expected = _outputs(case, clause, case.expected(batch, output_hidden_states=True))
    _close(case, actual, expected, attended(mask, (rows_n, seq)), tolerance_for(dtype, "outputs"),
           f"left-padded batch (real tokens per row {lengths}) vs the oracle")


@pytest.mark.parametrize(("clause", "head"), head_params([CLAUSES["decoder.cache.encoder_no_cache"]]))
def test_encoder_no_cache(clause, head, load_case, make_inputs, capabilities):
    """An encoder (is_decoder false) returns no cache, even when use_cache=True is passed."""
    config = _tiny(clause)
    case = load_case(head, config, dtype=check_dtype(capabilities))
    outputs = case.run(make_inputs(config, batch=2, seq=5), use_cache=True)
    output(outputs, "last_hidden_state")
    assert outputs.get("cache") is None, "with is_decoder false no cache may be returned"


def _tiny(clause: dict) -> dict[str, Any]:
    return tiny_config(**clause.get("config", {}))


# --- cross-attention ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("clause", "head"),
    head_params([CLAUSES["decoder.cross_attention.mask"], CLAUSES["decoder.cross_attention.mask_omitted"]]),
)
@given(data=st.data())
def test_cross_attention_mask(clause, head, data, bert_impl, oracle, capabilities):
    """Masked encoder positions have no influence; an omitted encoder mask means all ones."""
    case = _case(data, clause, head, bert_impl, oracle, capabilities)
    batch = _inputs(data, case, pad=True, min_seq=1)
    rows_n = batch["input_ids"].shape[0]
    encoder = _encoder(data, case, rows_n, "encoder_hidden_states")
    rows = attended(batch["attention_mask"], batch["input_ids"].shape)
    tol = port_tolerance(clause, case.dtype)
    if clause["id"].endswith("mask_omitted"):
        ones = np.ones(encoder.shape[:2], np.int64)
        given_ = case.run({**batch, "encoder_hidden_states": encoder, "encoder_attention_mask": ones}, use_cache=False)
        omitted = case.run({**batch, "encoder_hidden_states": encoder}, use_cache=False)
        _close(case, _outputs(case, clause, omitted), _outputs(case, clause, given_), rows, tol,
               "encoder_attention_mask omitted vs all ones")
        return
    mask = data.draw(any_masks(*encoder.shape[:2]), label="encoder_attention_mask")
    assume((mask == 0).any())
    other = _encoder(data, case, rows_n, "changes at masked encoder positions", length=encoder.shape[1])
    changed = np.where(mask[..., None] == 0, encoder + 1 + np.abs(other), encoder)  # differs wherever masked
    call = {**batch, "encoder_attention_mask": mask}
    before = case.run({**call, "encoder_hidden_states": encoder}, use_cache=False)
    after = case.run({**call, "encoder_hidden_states": changed}, use_cache=False)
    _close(case, _outputs(case, clause, after), _outputs(case, clause, before), rows, tol,
           "masked encoder positions changed vs not")
    expected = case.expected({**call, "encoder_hidden_states": encoder}, use_cache=False)
    _close(case, _outputs(case, clause, before), _outputs(case, clause, expected), rows,
           tolerance_for(case.dtype, "outputs"), "vs the oracle")


@pytest.mark.parametrize(("clause", "head"), head_params([CLAUSES["decoder.cross_attention.cache_reuse"]]))
@given(data=st.data())
def test_cross_attention_cache_reuse(clause, head, data, bert_impl, oracle, capabilities):
    """Later cached calls reuse the first call's cross-attention keys/values, whatever encoder states they pass."""
    case = _case(data, clause, head, bert_impl, oracle, capabilities)
    batch = _inputs(data, case)
    rows_n, seq = batch["input_ids"].shape
    past = _cut(data, seq)
    first = _encoder(data, case, rows_n, "encoder_hidden_states")
    shift = _encoder(data, case, rows_n, "change of encoder_hidden_states later", length=first.shape[1])
    later = first + 1 + np.abs(shift)  # differs everywhere from the first call's
    extra = {}
    if data.draw(st.booleans(), label="pass encoder_attention_mask"):
        extra["encoder_attention_mask"] = data.draw(any_masks(*first.shape[:2]), label="encoder_attention_mask")
    tokens = {k: v for k, v in batch.items() if k != "attention_mask"}  # no padding: the mask is omitted
    step1 = case.run({**_slice(tokens, slice(0, past)), **extra, "encoder_hidden_states": first}, use_cache=True)
    cache = output(step1, "cache", "first cached call")
    step2 = case.run({**_slice(tokens, slice(past, None)), **extra, "encoder_hidden_states": later},
                     cache=cache, use_cache=True)
    rows = attended(None, (rows_n, seq - past))
    full_inputs = {**batch, **extra, "encoder_hidden_states": first}
    full = _slice(_outputs(case, clause, case.run(full_inputs, use_cache=False)), slice(past, None))
    _close(case, _outputs(case, clause, step2), full, rows, port_tolerance(clause, case.dtype),
           "second cached call vs full forward with the first call's encoder states")
    expected = _slice(_outputs(case, clause, case.expected(full_inputs, use_cache=False)), slice(past, None))
    _close(case, _outputs(case, clause, step2), expected, rows, tolerance_for(case.dtype, "outputs"), "vs the oracle")


# --- logits_to_keep -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("clause", "head"), head_params([CLAUSES["decoder.logits_to_keep"]]))
@given(data=st.data())
def test_logits_to_keep(clause, head, data, bert_impl, oracle, capabilities):
    """0 keeps every position, n > 0 the last n, a 1-D int64 array those positions in that order."""
    case = _case(data, clause, head, bert_impl, oracle, capabilities)
    batch = _inputs(data, case, pad=True, min_seq=1)
    seq = batch["input_ids"].shape[1]
    rows = attended(batch["attention_mask"], batch["input_ids"].shape)
    tol = port_tolerance(clause, case.dtype)
    full = output(case.run(batch, use_cache=False), "logits")
    n = data.draw(st.integers(1, seq), label="logits_to_keep n")
    picked = data.draw(st.permutations(range(seq)), label="position order")[: data.draw(st.integers(1, seq), label="k")]
    index = np.asarray(picked, dtype=np.int64)
    for keep, columns in ((0, np.arange(seq)), (n, np.arange(seq - n, seq)), (index, index)):
        kept = output(case.run(batch, use_cache=False, logits_to_keep=keep), "logits")
        label = f"logits_to_keep={keep.tolist() if isinstance(keep, np.ndarray) else keep}"
        assert kept.shape == (len(rows), len(columns), full.shape[-1]), f"{label}: logits shape {list(kept.shape)}"
        assert_close(kept[rows[:, columns]], full[:, columns][rows[:, columns]], tol, what=f"{label} vs full logits",
                     dtype=case.dtype)
