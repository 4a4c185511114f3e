"""Labels for the loss clauses: hypothesis draws per head, and each head's loss recomputed in numpy.

The numpy losses read their conventions from spec/labels.yaml (ignore index, label shift, QA clamp) and are
computed in float64 from the *port's own* logits. Comparing the port's loss with them, besides the oracle,
catches a wrong convention even where the logits are right: a shifted masked-LM loss, an attention-masked
token loss, swapped next-sentence labels.

    labels = data.draw(head_labels(head, config, batch), label="labels")
    expected = numpy_loss(head, outputs, labels, config)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from hypothesis import strategies as st

from bert_conformance.clauses._shape_helpers import dims, num_labels
from bert_conformance.spec import load_spec

SPEC = load_spec()
LABELS = SPEC.labels
IGNORE_INDEX: int = int(LABELS.clause("labels.ignore_index").ignore_index)
MLM_SHIFT: int = int(LABELS.clause("labels.mlm.loss").shift)
LM_SHIFT: int = int(LABELS.clause("labels.lm.shift").shift)
TOKEN_SHIFT: int = int(LABELS.clause("labels.token.loss").shift)
LM = "BertLMHeadModel"
MC = "BertForMultipleChoice"
PT = "BertForPreTraining"
QA = "BertForQuestionAnswering"
SEQCLS = "BertForSequenceClassification"
PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")


# --- which heads compute a loss, and from what -------------------------------------------------------------


def label_arguments(head: str) -> tuple[str, ...]:
    """The head's label arguments: those whose omission means no loss (heads.yaml, omitted: no_loss)."""
    return tuple(a.name for a in SPEC.heads.head(head).arguments if a.omitted == "no_loss")


LOSS_HEADS: tuple[str, ...] = tuple(h for h in SPEC.heads.heads if label_arguments(h))


def loss_dtype(head: str, model_dtype: str) -> str:
    """The dtype the head's loss is computed in: the model's, or float32 where labels.yaml says `upcast`."""
    for clause in LABELS.losses:
        if clause.upcast and head in (clause.heads or ()):
            return clause.upcast
    return model_dtype


def classes(head: str, argument: str, config: Mapping[str, Any], batch: Mapping[str, Any]) -> int:
    """Number of valid class ids of a label argument (QA: number of positions)."""
    if argument == "next_sentence_label" or head == "BertForNextSentencePrediction":
        return 2
    if head in (PT, LM, "BertForMaskedLM"):
        return int(config["vocab_size"])
    if head == MC:
        return dims(head, batch)["num_choices"]
    if head == QA:
        return dims(head, batch)["seq"]
    return num_labels(config)


# --- numpy losses -------------------------------------------------------------------------------------------


def cross_entropy(logits: Any, targets: Any, ignore_index: int = IGNORE_INDEX) -> float:
    """mean over non-ignored items of -log_softmax(logits)[target], in float64; NaN over zero items."""
    logits = np.asarray(logits, dtype=np.float64).reshape(-1, np.shape(logits)[-1])
    targets = np.asarray(targets).reshape(-1)
    kept = targets != ignore_index
    if not kept.any():
        return float("nan")
    rows = logits[kept]
    top = rows.max(axis=-1, keepdims=True)
    log_z = top[:, 0] + np.log(np.exp(rows - top).sum(axis=-1))
    return float(np.mean(log_z - rows[np.arange(len(rows)), targets[kept]]))


def shifted_cross_entropy(logits: Any, labels: Any, shift: int) -> float:
    """CE of logits at position i against labels at i + shift (labels.yaml `shift`)."""
    logits, labels = np.asarray(logits), np.asarray(labels)
    seq = labels.shape[1]
    return cross_entropy(logits[:, : seq - shift], labels[:, shift:])


def mse(predictions: Any, targets: Any) -> float:
    diff = np.asarray(predictions, dtype=np.float64) - np.asarray(targets, dtype=np.float64)
    return float(np.mean(diff**2))


def bce_with_logits(logits: Any, targets: Any) -> float:
    """mean of -(y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))), the stable form."""
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))


def qa_cross_entropy(logits: Any, positions: Any) -> float:
    """labels.qa.clamp: positions clamped to [0, seq], target seq ignored."""
    seq = np.shape(logits)[-1]
    low, high = (seq if bound == "seq" else int(bound) for bound in LABELS.clause("labels.qa.clamp").clamp)
    ignored = seq if LABELS.clause("labels.qa.clamp").ignore_index == "seq" else IGNORE_INDEX
    clamped = np.clip(np.asarray(positions).reshape(-1), low, high)
    return cross_entropy(logits, clamped, ignore_index=ignored)


def inferred_problem_type(config: Mapping[str, Any], labels: np.ndarray) -> str:
    """labels.seqcls.problem_type.inference: the config's problem_type, else the spec's rules."""
    if config.get("problem_type"):
        return str(config["problem_type"])
    if num_labels(config) == 1:
        return "regression"
    if np.issubdtype(np.asarray(labels).dtype, np.integer):
        return "single_label_classification"
    return "multi_label_classification"


def sequence_classification_loss(logits: Any, labels: Any, problem_type: str) -> float:
    logits, labels = np.asarray(logits), np.asarray(labels)
    if problem_type == "regression":
        if logits.shape[-1] == 1:  # labels.seqcls.regression: both squeezed
            return mse(logits.reshape(-1), labels.reshape(-1))
        return mse(logits, labels)
    if problem_type == "single_label_classification":
        return cross_entropy(logits, labels.reshape(-1))
    return bce_with_logits(logits, labels)


def numpy_loss(head: str, outputs: Mapping[str, Any], labels: Mapping[str, Any], config: Mapping[str, Any]) -> float:
    """The head's loss by the spec's formula, from the port's outputs (float64)."""
    if head == PT:
        return shifted_cross_entropy(outputs["prediction_logits"], labels["labels"], MLM_SHIFT) + cross_entropy(
            outputs["seq_relationship_logits"], labels["next_sentence_label"]
        )
    if head == LM:
        return shifted_cross_entropy(outputs["logits"], labels["labels"], LM_SHIFT)
    if head == "BertForMaskedLM":
        return shifted_cross_entropy(outputs["logits"], labels["labels"], MLM_SHIFT)
    if head == "BertForTokenClassification":
        return shifted_cross_entropy(outputs["logits"], labels["labels"], TOKEN_SHIFT)
    if head == QA:
        start = qa_cross_entropy(outputs["start_logits"], labels["start_positions"])
        end = qa_cross_entropy(outputs["end_logits"], labels["end_positions"])
        return (start + end) / 2
    if head == SEQCLS:
        problem_type = inferred_problem_type(config, labels["labels"])
        return sequence_classification_loss(outputs["logits"], labels["labels"], problem_type)
    return cross_entropy(outputs["logits"], labels["labels"])  # NSP, multiple choice


# --- hypothesis draws -----------------------------------------------------------------------------------------


def _seeded(build: Any) -> st.SearchStrategy[Any]:
    """Arrays built from one drawn seed: cheap to draw, cheap to shrink."""
    return st.integers(0, 2**32 - 1).map(lambda seed: build(np.random.default_rng(seed)))


def class_ids(
    shape: tuple[int, ...], count: int, *, ignore: float = 0.0, keep_one: bool = True
) -> st.SearchStrategy[np.ndarray]:
    """int64 ids in [0, count), each replaced by the ignore index with probability ``ignore``.

    ``keep_one`` keeps the first entry a real id, so the mean is never over zero items.
    """

    def build(rng: np.random.Generator) -> np.ndarray:
        ids = rng.integers(0, count, size=shape, dtype=np.int64)
        ids[rng.random(shape) < ignore] = IGNORE_INDEX
        if keep_one and ids.size:
            ids.reshape(-1)[0] = rng.integers(0, count)
        return ids

    return _seeded(build)


def ignore_fractions() -> st.SearchStrategy[float]:
    return st.sampled_from((0.0, 0.3, 0.7))


@st.composite
def head_labels(
    draw: st.DrawFn,
    head: str,
    config: Mapping[str, Any],
    batch: Mapping[str, Any],
    *,
    ignore: float | None = None,
    problem_type: str | None = None,
) -> dict[str, np.ndarray]:
    """Valid label arguments of ``head`` for ``batch`` (some -100 where the head ignores them)."""
    d = dims(head, batch)
    rows, seq = d["batch"], d["seq"]
    if ignore is None:
        ignore = draw(ignore_fractions(), label="ignored fraction")
    if head in (PT, LM, "BertForMaskedLM", "BertForTokenClassification"):
        count = classes(head, "labels", config, batch)
        labels = draw(class_ids((rows, seq), count, ignore=ignore, keep_one=False), label="labels")
        shift = LM_SHIFT if head == LM else 0
        if seq > shift:  # one real target inside the loss, so the mean is not over zero items
            labels[0, shift] = draw(st.integers(0, count - 1), label="one kept label")
        out = {"labels": labels}
        if head == PT:
            out["next_sentence_label"] = draw(class_ids((rows,), 2, ignore=ignore), label="next_sentence_label")
        return out
    if head == QA:
        return {
            name: draw(class_ids((rows,), seq), label=name) for name in ("start_positions", "end_positions")
        }
    if head == SEQCLS:
        return {"labels": draw(sequence_labels(config, rows, problem_type, ignore=ignore), label="labels")}
    count = classes(head, "labels", config, batch)
    return {"labels": draw(class_ids((rows,), count, ignore=ignore), label="labels")}


def cast_floats(values: Mapping[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    """Floating label arrays in the model's dtype (integer ones unchanged)."""
    return {k: v.astype(dtype) if np.issubdtype(v.dtype, np.floating) else v for k, v in values.items()}


def sequence_labels(
    config: Mapping[str, Any], rows: int, problem_type: str | None, *, ignore: float = 0.0
) -> st.SearchStrategy[np.ndarray]:
    """Labels of BertForSequenceClassification for a problem type (default: the config's, else inferred)."""
    n = num_labels(config)
    problem_type = problem_type or config.get("problem_type") or (
        "regression" if n == 1 else "single_label_classification"
    )
    if problem_type == "single_label_classification":
        return class_ids((rows,), n, ignore=ignore)
    if problem_type == "multi_label_classification":
        return _seeded(lambda rng: rng.random((rows, n)).round(1).astype(np.float32))
    shape = (rows,) if n == 1 else (rows, n)
    return _seeded(lambda rng: rng.standard_normal(shape).astype(np.float32))
