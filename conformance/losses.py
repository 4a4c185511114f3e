"""Labels and losses by spec/labels.yaml, in numpy: conventions, class counts, each head's loss formula.

The numpy losses are computed in float64 from a port's *own* logits. Comparing a port's loss with them, besides
the oracle, catches a wrong convention even where the logits are right (a shifted masked-LM loss, an
attention-masked token loss, swapped next-sentence labels); the known-bad corpus builds its loss bugs from them.

    expected = numpy_loss(head, outputs, labels, config)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bert_conformance.spec import load_spec

SPEC = load_spec()
LABELS = SPEC.labels
IGNORE_INDEX: int = int(LABELS.clause("labels.ignore_index").ignore_index)
MLM_SHIFT: int = int(LABELS.clause("labels.mlm.loss").shift)
LM_SHIFT: int = int(LABELS.clause("labels.lm.shift").shift)
TOKEN_SHIFT: int = int(LABELS.clause("labels.token.loss").shift)
# Heads whose labels or loss follow conventions of their own.
LM = "BertLMHeadModel"
MC = "BertForMultipleChoice"
MLM = "BertForMaskedLM"
PT = "BertForPreTraining"
QA = "BertForQuestionAnswering"
SEQCLS = "BertForSequenceClassification"
PROBLEM_TYPES = ("regression", "single_label_classification", "multi_label_classification")


# --- which heads compute a loss, from what, in which dtype ----------------------------------------------------


def label_arguments(head: str) -> tuple[str, ...]:
    """The head's label arguments: those whose omission means no loss (heads.yaml, omitted: no_loss)."""
    return tuple(a.name for a in SPEC.heads.head(head).arguments if a.omitted == "no_loss")


LOSS_HEADS: tuple[str, ...] = tuple(h for h in SPEC.heads.heads if label_arguments(h))


def loss_dtype(head: str, model_dtype: str) -> str:
    """The dtype the spec computes the head's loss in: the model's, or labels.yaml's ``upcast`` dtype (HF computes
    the causal-LM loss from float32 logits whatever the model dtype)."""
    for clause in LABELS.losses:
        if clause.upcast and head in (clause.heads or ()):
            return clause.upcast
    return model_dtype


def loss_dtypes(head: str, model_dtype: str) -> set[str]:
    """The dtypes a port may return the head's loss in: the model's, the spec's (:func:`loss_dtype`), and float32
    for a float16 / bfloat16 model (HF computes half-precision losses in float32)."""
    return {model_dtype, loss_dtype(head, model_dtype), *(("float32",) if model_dtype in ("float16", "bfloat16") else ())}


def num_labels(config: Mapping[str, Any]) -> int:
    """num_labels as the config defines it: the key, else len(id2label), else the spec's default."""
    if config.get("num_labels") is not None:
        return int(config["num_labels"])
    if config.get("id2label"):
        return len(config["id2label"])
    return int(SPEC.config.field("num_labels").default)


def dims(head: str, inputs: Mapping[str, Any]) -> dict[str, int]:
    """batch, seq, num_choices of an input dict (ids or embeddings)."""
    ids = inputs.get("input_ids")
    shape = ids.shape if ids is not None else inputs["inputs_embeds"].shape[:-1]
    if head == MC:
        return {"batch": shape[0], "num_choices": shape[1], "seq": shape[2]}
    return {"batch": shape[0], "num_choices": 1, "seq": shape[1]}


def classes(head: str, argument: str, config: Mapping[str, Any], batch: Mapping[str, Any]) -> int:
    """Number of valid class ids of a label argument (QA: number of positions)."""
    if argument == "next_sentence_label" or head == "BertForNextSentencePrediction":
        return 2
    if head in (PT, LM, MLM):
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
    if head == MLM:
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
