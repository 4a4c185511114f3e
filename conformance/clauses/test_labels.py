"""Label and loss clauses (spec/labels.yaml): every convention of every head's loss, on drawn labels.

Test ids are ``<clause id>-<Head>``, one per head the clause lists (the report names both). Each
loss is checked twice: against the oracle, and against the spec's formula computed in numpy from the port's
own logits (``bert_conformance.losses.numpy_loss``), so a wrong convention (a shifted masked-LM loss, a token loss
that skips padded positions, swapped next-sentence labels) fails even when the logits are right. Losses
compare at ``tolerances.<dtype>.loss``, in float64 when the port claims it; the causal LM loss is computed
in float32 by the spec (labels.lm.shift, ``upcast``), so its clauses run the model in float32.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bert_conformance.case import tiny_config
from bert_conformance.clauses.dtype_helpers import cast_floats, check_dtype
from bert_conformance.clauses.hypothesis_helpers import (
    class_ids,
    configs,
    head_labels,
    inputs,
    load_drawn,
    seeds,
    sequence_labels,
)
from bert_conformance.clauses.model_helpers import label_args
from bert_conformance.clauses.pytest_helpers import by_id, forward_raises, head_params, output, spec_clauses
from bert_conformance.losses import (
    IGNORE_INDEX,
    LM,
    LM_SHIFT,
    MC,
    PROBLEM_TYPES,
    PT,
    QA,
    SEQCLS,
    classes,
    inferred_problem_type,
    label_arguments,
    loss_dtype,
    numpy_loss,
)
from bert_conformance.tolerance import assert_close, tolerance_for

CLAUSES = by_id(c for section in ("conventions", "losses", "data") for c in spec_clauses("labels", section))


def _params(clause_id: str, *features: str) -> list[Any]:
    """One param per head of the clause; every loss clause needs the `loss` feature (and LM the decoder). The
    data clauses (labels.data.*) prepare data, not a model: test_data.py checks them."""
    return head_params(
        [CLAUSES[clause_id]], features=lambda head: ("loss", *features, *(("decoder",) if head == LM else ()))
    )


# --- shared steps ---------------------------------------------------------------------------------------------


def _case(data: Any, bert_impl: Any, oracle: Any, capabilities: Any, head: str, **fixed: Any) -> Any:
    """Draw a config (LM heads are decoders) and weights; load them in the dtype the head's loss is checked in."""
    dtype = loss_dtype(head, check_dtype(capabilities))
    config = data.draw(configs(head, decoder=head == LM, surface=capabilities.surface, **fixed), label="config")
    seed = data.draw(seeds(), label="weights seed")
    return load_drawn(bert_impl, oracle, head, config, dtype=dtype, seed=seed)


def _inputs(data: Any, case: Any, **options: Any) -> dict[str, np.ndarray]:
    """Drawn inputs; a causal LM needs two positions for one target to remain after the shift."""
    batch = data.draw(inputs(case.config, case.head, **options), label="inputs")
    assume(case.head != LM or batch["input_ids"].shape[-1] > LM_SHIFT)
    return batch


def _check_loss(case: Any, batch: dict, labels: dict, *, nan: bool = False) -> dict[str, Any]:
    """The port's loss is a 0-d array equal to the spec's formula on its own logits and to the oracle's loss."""
    __tracebackhide__ = True
    labels = cast_floats(labels, case.dtype)
    outputs = case.run({**batch, **labels})
    loss = output(outputs, "loss", f"{case.head} with {sorted(labels)}")
    assert np.shape(loss) == (), f"loss must be a 0-d array, got shape {list(np.shape(loss))}"
    tol = tolerance_for(case.dtype, "loss")
    formula = np.asarray(numpy_loss(case.head, outputs, labels, case.config))
    assert_close(loss, formula, tol, what="loss vs the spec's formula on the port's own logits", dtype=case.dtype,
                 nan_ok=nan)
    config = case.config
    if case.head == SEQCLS:  # the oracle gets the inferred problem_type explicitly: inference is sticky
        config = {**config, "problem_type": inferred_problem_type(config, labels["labels"])}
    expected = case.oracle.forward(case.head, config, case.state_dict, {**batch, **labels})
    assert_close(loss, expected["loss"], tol, what="loss vs the oracle", dtype=case.dtype, nan_ok=nan)
    return outputs


def _no_loss(case: Any, batch: dict, labels: dict) -> None:
    __tracebackhide__ = True
    outputs = case.run({**batch, **labels})
    assert outputs.get("loss") is None, f"{case.head} with only {sorted(labels)} must return no loss"


# --- conventions ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("clause", "head"), _params("labels.ignore_index"))
@given(data=st.data())
def test_ignore_index(clause, head, data, bert_impl, oracle, capabilities):
    """Targets equal to ignore_index add nothing and are not counted in the mean."""
    fixed = {"num_labels": 3, "problem_type": "single_label_classification"} if head == SEQCLS else {}
    case = _case(data, bert_impl, oracle, capabilities, head, **fixed)
    batch = _inputs(data, case)
    labels = data.draw(head_labels(head, case.config, batch, ignore=0.5), label="labels")
    assume(any((v == IGNORE_INDEX).any() for v in labels.values()))
    _check_loss(case, batch, labels)


@pytest.mark.parametrize(("clause", "head"), _params("labels.target_dtype"))
@given(data=st.data())
def test_target_out_of_range(clause, head, data, bert_impl, oracle, capabilities):
    """A class id outside [0, classes) other than ignore_index raises; QA positions (clamped) are accepted."""
    case = _case(data, bert_impl, oracle, capabilities, head, **({"num_labels": 3} if head == SEQCLS else {}))
    batch = _inputs(data, case)
    labels = data.draw(head_labels(head, case.config, batch, ignore=0.0), label="labels")
    if any(head in (c.get("heads") or ()) for c in CLAUSES.values() if c.get("clamp")):
        outputs = case.run({**batch, **labels})  # clamped positions: never out of range, int64 accepted
        assert np.isfinite(output(outputs, "loss")), "int64 in-range positions must give a finite loss"
        return
    name = data.draw(st.sampled_from(label_arguments(head)), label="argument")
    count = classes(head, name, case.config, batch)
    bad = data.draw(st.sampled_from([count, count + 3, -1, -2]), label="bad value")
    values = labels[name].copy()
    flat = values.reshape(values.shape[0], -1)
    shift = LM_SHIFT if head == LM else 0  # a shifted-out label never reaches the loss
    assume(flat.shape[1] > shift)
    row = data.draw(st.integers(0, flat.shape[0] - 1), label="row")
    column = data.draw(st.integers(shift, flat.shape[1] - 1), label="column")
    flat[row, column] = bad
    forward_raises(case, {**batch, **labels, name: values}, why=f"{name} = {bad} (valid: 0..{count - 1} or -100)")


@pytest.mark.parametrize(("clause", "head"), _params("labels.loss_scalar"))
def test_loss_scalar(clause, head, load_case, make_inputs):
    """The loss is a 0-d float32 array for a float32 model."""
    config = _tiny(head)
    case = load_case(head, config, dtype="float32")
    batch = make_inputs(config, batch=2, seq=6)
    if head == MC:
        batch = {k: np.stack([v, v[::-1]], axis=1) for k, v in batch.items()}
    outputs = case.run({**batch, **label_args(head, config, batch, seed=1)})
    loss = output(outputs, "loss")
    assert loss.shape == () and loss.dtype == np.float32, f"loss: shape {list(loss.shape)} {loss.dtype}, want [] float32"


def _tiny(head: str) -> dict[str, Any]:
    return tiny_config(is_decoder=head == LM)


@pytest.mark.parametrize(("clause", "head"), _params("labels.nsp.meaning"))
@given(data=st.data())
def test_nsp_meaning(clause, head, data, bert_impl, oracle, capabilities):
    """Next-sentence label v is the index of the logit it scores: 0 = continuation, 1 = random."""
    values = {int(k): v for k, v in clause["values"].items()}
    assert sorted(values) == [0, 1], "labels.nsp.meaning must map the two labels"
    case = _case(data, bert_impl, oracle, capabilities, head)
    batch = _inputs(data, case)
    labels = data.draw(head_labels(head, case.config, batch, ignore=0.0), label="labels")
    name = "next_sentence_label" if head == PT else "labels"
    labels[name] = data.draw(class_ids((len(labels[name]),), 2), label=f"{name} (0 = continuation)")
    _check_loss(case, batch, labels)


@pytest.mark.parametrize(("clause", "head"), _params("labels.mc.labels"))
@given(data=st.data())
def test_mc_labels(clause, head, data, bert_impl, oracle, capabilities):
    """Labels [batch] hold the index of the correct choice; [batch, 1] is an error."""
    case = _case(data, bert_impl, oracle, capabilities, head)
    batch = _inputs(data, case)
    labels = data.draw(head_labels(head, case.config, batch, ignore=0.0), label="labels")
    _check_loss(case, batch, labels)
    forward_raises(case, {**batch, "labels": labels["labels"][:, None]}, why="labels of shape [batch, 1]")


@pytest.mark.parametrize(("clause", "head"), _params("labels.qa.positions"))
@given(data=st.data())
def test_qa_positions(clause, head, data, bert_impl, oracle, capabilities):
    """start/end positions [batch] are token indices: the loss is CE over the sequence at those indices."""
    case = _case(data, bert_impl, oracle, capabilities, head)
    batch = _inputs(data, case)
    _check_loss(case, batch, data.draw(head_labels(head, case.config, batch), label="positions"))


# --- losses -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("clause", "head"), _params("labels.mlm.loss") + _params("labels.token.loss"))
@given(data=st.data())
def test_token_level_loss(clause, head, data, bert_impl, oracle, capabilities):
    """No shift; mean over positions whose label is not -100, padded positions included (no attention mask)."""
    assert clause["shift"] == 0 and clause["ignore_index"] == IGNORE_INDEX
    case = _case(data, bert_impl, oracle, capabilities, head, **({"num_labels": 3} if head != "BertForMaskedLM" else {}))
    batch = _with_padded_column(_inputs(data, case, max_seq=7), case.config)
    labels = data.draw(head_labels(head, case.config, batch), label="labels")
    count = classes(head, "labels", case.config, batch)
    labels["labels"][:, -1] = data.draw(class_ids((len(labels["labels"]),), count), label="padded labels")
    _check_loss(case, batch, labels)


def _with_padded_column(batch: dict, config: dict) -> dict:
    """One more position, masked in every row, so a loss that wrongly uses the mask shows."""
    rows = len(batch["input_ids"])
    pad = np.full((rows, 1), config.get("pad_token_id") or 0, dtype=np.int64)
    extra = {"input_ids": pad, "attention_mask": np.zeros((rows, 1), np.int64), "token_type_ids": np.zeros((rows, 1), np.int64)}
    return {k: np.concatenate([v, extra[k]], axis=1) for k, v in batch.items()}


@pytest.mark.parametrize(("clause", "head"), _params("labels.mlm.all_ignored") + _params("labels.qa.all_ignored"))
@given(data=st.data())
def test_all_ignored_is_nan(clause, head, data, bert_impl, oracle, capabilities):
    """A mean over zero items: every token label -100 (or every QA position >= seq on one side) gives NaN."""
    assert clause["result"] == "nan"
    fixed = {"num_labels": 3} if head == "BertForTokenClassification" else {}
    case = _case(data, bert_impl, oracle, capabilities, head, **fixed)
    batch = _inputs(data, case)
    labels = data.draw(head_labels(head, case.config, batch, ignore=0.0), label="labels")
    if head == QA:
        seq = batch["input_ids"].shape[-1]
        side = data.draw(st.sampled_from(["start_positions", "end_positions"]), label="ignored side")
        labels[side] = seq + data.draw(class_ids(labels[side].shape, 4), label="positions >= seq")
    else:
        labels["labels"][...] = IGNORE_INDEX
    outputs = _check_loss(case, batch, labels, nan=True)
    assert np.isnan(outputs["loss"]), f"the loss must be NaN, got {float(outputs['loss'])!r}"


@pytest.mark.parametrize(("clause", "head"), _params("labels.pretraining.loss"))
@given(data=st.data())
def test_pretraining_loss(clause, head, data, bert_impl, oracle, capabilities):
    """loss = masked-LM CE + next-sentence CE, only when both labels are given."""
    assert clause["requires"] == ["labels", "next_sentence_label"]
    case = _case(data, bert_impl, oracle, capabilities, head)
    batch = _inputs(data, case)
    labels = data.draw(head_labels(head, case.config, batch), label="labels")
    _check_loss(case, batch, labels)
    for name in clause["requires"]:
        _no_loss(case, batch, {name: labels[name]})


@pytest.mark.parametrize(("clause", "head"), _params("labels.nsp.loss"))
@given(data=st.data())
def test_nsp_loss(clause, head, data, bert_impl, oracle, capabilities):
    """Mean CE over the two classes; labels [batch, 1] give the loss of the flattened [batch] labels."""
    case = _case(data, bert_impl, oracle, capabilities, head)
    batch = _inputs(data, case)
    labels = data.draw(head_labels(head, case.config, batch), label="labels")
    flat = _check_loss(case, batch, labels)["loss"]
    column = case.run({**batch, "labels": labels["labels"][:, None]})
    assert_close(output(column, "loss"), flat, tolerance_for(case.dtype, "loss"),
                 what="loss with labels [batch, 1] vs [batch]", dtype=case.dtype)


@pytest.mark.parametrize(("clause", "head"), _params("labels.lm.shift"))
@given(data=st.data())
def test_lm_shift(clause, head, data, bert_impl, oracle, capabilities):
    """The labels are shifted inside: logits at i predict labels[i + 1] (labels = input_ids)."""
    assert clause["shift"] == LM_SHIFT == 1
    case = _case(data, bert_impl, oracle, capabilities, head)
    batch = _inputs(data, case, pad=False)
    labels = batch["input_ids"].copy()
    ignored = data.draw(class_ids(labels.shape, 2, keep_one=False), label="ignore where 1") == 1
    ignored[:, clause["shift"]] = False  # one target inside the loss in every row
    labels[ignored] = IGNORE_INDEX
    _check_loss(case, batch, {"labels": labels})


@pytest.mark.parametrize(("clause", "head"), _params("labels.lm.labels_disable_cache", "cache"))
def test_labels_disable_cache(clause, head, load_case, make_inputs):
    """Giving labels sets use_cache to false: a loss and no cache, even with use_cache=True."""
    config = _tiny(head)
    case = load_case(head, config, dtype="float32")
    batch = make_inputs(config, batch=2, seq=5, pad=False)
    outputs = case.run({**batch, "labels": batch["input_ids"]}, use_cache=True)
    output(outputs, "loss")
    assert outputs.get("cache") is None, "with labels no cache may be returned"
    assert case.run(batch, use_cache=True).get("cache") is not None, "without labels the decoder returns a cache"


@pytest.mark.parametrize(("clause", "head"), _params("labels.seqcls.problem_type.inference"))
@given(data=st.data())
def test_problem_type_inference(clause, head, data, bert_impl, oracle, capabilities):
    """problem_type null: num_labels 1 -> regression, integer labels -> single-label, else multi-label."""
    rules = [r["problem_type"] for r in clause["rules"]]
    assert rules == list(PROBLEM_TYPES), "the spec's inference rules changed: update this clause"
    n = data.draw(st.integers(1, 4), label="num_labels")
    case = _case(data, bert_impl, oracle, capabilities, head, num_labels=n, problem_type=None)
    batch = _inputs(data, case)
    rows = len(batch["input_ids"])
    if data.draw(st.booleans(), label="integer labels"):
        labels = data.draw(class_ids((rows,), n), label="int64 labels")
    else:
        labels = data.draw(sequence_labels(case.config, rows, "multi_label_classification"), label="float labels")
    _check_loss(case, batch, {"labels": labels})


@pytest.mark.parametrize(("clause", "head"), _params("labels.seqcls.problem_type.sticky"))
@given(data=st.data())
def test_problem_type_sticky(clause, head, data, bert_impl, oracle, capabilities):
    """The first call's inferred problem_type stays: labels of the other type then fail."""
    n = data.draw(st.integers(2, 4), label="num_labels")
    case = _case(data, bert_impl, oracle, capabilities, head, num_labels=n, problem_type=None)
    batch = _inputs(data, case)
    rows = len(batch["input_ids"])
    single = data.draw(class_ids((rows,), n), label="int64 labels")
    multi = data.draw(sequence_labels(case.config, rows, "multi_label_classification"), label="float labels")
    first, second = (single, multi) if data.draw(st.booleans(), label="single-label first") else (multi, single)
    _check_loss(case, batch, {"labels": first})
    kind = inferred_problem_type(case.config, first)
    forward_raises(case, {**batch, **cast_floats({"labels": second}, case.dtype)},
                   why=f"after a {kind} call, labels {second.dtype} {list(second.shape)} (problem_type sticks)")


@pytest.mark.parametrize(("clause", "head"), _params("labels.seqcls.regression"))
@given(data=st.data())
def test_regression(clause, head, data, bert_impl, oracle, capabilities):
    """MSE; with num_labels 1 logits and labels [batch] or [batch, 1] are squeezed first (checked every time,
    with a batch of two or more, where a broadcast [batch, batch] difference would show)."""
    for n in (1, data.draw(st.integers(2, 3), label="num_labels > 1")):
        problem_type = "regression" if n > 1 or data.draw(st.booleans(), label="explicit") else None
        case = _case(data, bert_impl, oracle, capabilities, head, num_labels=n, problem_type=problem_type)
        batch = _inputs(data, case, max_batch=4)
        assume(len(batch["input_ids"]) > 1)
        labels = data.draw(sequence_labels(case.config, len(batch["input_ids"]), "regression"), label="labels")
        if n == 1 and data.draw(st.booleans(), label="labels [batch, 1]"):
            labels = labels[:, None]
        _check_loss(case, batch, {"labels": labels})


@pytest.mark.parametrize(
    ("clause", "head"), _params("labels.seqcls.single_label") + _params("labels.seqcls.multi_label")
)
@given(data=st.data())
def test_classification(clause, head, data, bert_impl, oracle, capabilities):
    """Single-label: CE over num_labels, int64 [batch]; multi-label: BCE with logits, float [batch, num_labels]."""
    problem_type = clause["id"].rsplit(".", 1)[1] + "_classification"
    assert problem_type in PROBLEM_TYPES
    n = data.draw(st.integers(2, 4), label="num_labels")
    explicit = data.draw(st.booleans(), label="explicit problem_type")
    case = _case(data, bert_impl, oracle, capabilities, head, num_labels=n, problem_type=problem_type if explicit else None)
    batch = _inputs(data, case)
    labels = data.draw(sequence_labels(case.config, len(batch["input_ids"]), problem_type), label="labels")
    _check_loss(case, batch, {"labels": labels})


@pytest.mark.parametrize(("clause", "head"), _params("labels.mc.reshape"))
@given(data=st.data())
def test_mc_reshape(clause, head, data, bert_impl, oracle, capabilities):
    """[batch, choices] scores, row-major: permuting an example's choices permutes its row of logits."""
    assert clause["reshape"]["to"] == ["batch", "num_choices"]
    case = _case(data, bert_impl, oracle, capabilities, head)
    batch = _inputs(data, case)
    assume(min(batch["input_ids"].shape[:2]) > 1)  # the order of [batch, choices] shows only when both are > 1
    labels = data.draw(head_labels(head, case.config, batch, ignore=0.0), label="labels")
    logits = output(_check_loss(case, batch, labels), "logits")
    choices = batch["input_ids"].shape[1]
    perm = np.asarray(data.draw(st.permutations(range(choices)), label="choice permutation"))
    permuted = case.run({k: v[:, perm].copy() for k, v in batch.items()})  # copy: canonical strides
    assert_close(output(permuted, "logits"), logits[:, perm], tolerance_for(case.dtype, "padding_invariance"),
                 what="logits of permuted choices vs permuted logits", dtype=case.dtype)


@pytest.mark.parametrize(("clause", "head"), _params("labels.qa.clamp"))
@given(data=st.data())
def test_qa_clamp(clause, head, data, bert_impl, oracle, capabilities):
    """Positions are clamped to [0, seq] and seq is ignored: negative -> 0 (a target), >= seq -> ignored."""
    assert list(clause["clamp"]) == [0, "seq"] and clause["ignore_index"] == "seq"
    case = _case(data, bert_impl, oracle, capabilities, head)
    batch = _inputs(data, case, max_batch=4)
    rows, seq = batch["input_ids"].shape
    assume(rows >= 2)
    labels = data.draw(head_labels(head, case.config, batch), label="positions")
    for name in labels:  # one negative (a real target after clamping) and one >= seq (ignored) per side
        labels[name][0] = -data.draw(st.integers(1, seq + 3), label=f"negative {name}")
        labels[name][1] = seq + data.draw(st.integers(0, 3), label=f"{name} >= seq")
    _check_loss(case, batch, labels)


@pytest.mark.parametrize(("clause", "head"), _params("labels.qa.loss"))
@given(data=st.data())
def test_qa_loss(clause, head, data, bert_impl, oracle, capabilities):
    """(start CE + end CE) / 2, only with both positions; [batch, 1] positions are squeezed."""
    assert clause["requires"] == ["start_positions", "end_positions"]
    case = _case(data, bert_impl, oracle, capabilities, head)
    batch = _inputs(data, case)
    labels = data.draw(head_labels(head, case.config, batch), label="positions")
    flat = _check_loss(case, batch, labels)["loss"]
    column = case.run({**batch, **{k: v[:, None] for k, v in labels.items()}})
    assert_close(output(column, "loss"), flat, tolerance_for(case.dtype, "loss"),
                 what="loss with positions [batch, 1] vs [batch]", dtype=case.dtype)
    for name in clause["requires"]:
        _no_loss(case, batch, {name: labels[name]})
