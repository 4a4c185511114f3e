"""Known-bad ports for conformance/clauses/test_labels.py: the reference with ONE realistic loss bug each.

The model itself stays right (the reference computes the outputs and validates the labels); only the loss
(or the label handling) is wrong, so these bugs show only in the label clauses.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bert_conformance import losses
from bert_conformance.known_bad._base import KnownBadPort, Model, entries, register, resolver, with_loss

TOKEN_HEADS = ("BertForMaskedLM", "BertForTokenClassification", "BertLMHeadModel", "BertForPreTraining")


def _sum_over_all(logits: np.ndarray, labels: np.ndarray, shift: int = 0) -> float:
    """Sum of CE over kept targets divided by every position (ignored ones included)."""
    seq = labels.shape[1]
    logits, labels = logits[:, : seq - shift], labels[:, shift:]
    kept = labels != losses.IGNORE_INDEX
    if not kept.any():
        return 0.0
    return losses.cross_entropy(logits, labels) * kept.sum() / labels.size


class MlmLossShifted(KnownBadPort):
    description = "masked-LM loss shifted like a causal LM loss (logits[i] scored against labels[i + 1])"
    kills = ("labels.mlm.loss-BertForMaskedLM", "labels.ignore_index-BertForMaskedLM")

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        if model.head != "BertForMaskedLM" or "labels" not in inputs:
            return outputs
        loss = losses.shifted_cross_entropy(outputs["logits"], inputs["labels"], 1)
        return with_loss(outputs, loss, outputs["logits"])


class LmLossUnshifted(KnownBadPort):
    description = "causal LM loss without the label shift (logits[i] scored against labels[i])"
    kills = ("labels.lm.shift-BertLMHeadModel", "labels.ignore_index-BertLMHeadModel")

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        if model.head != "BertLMHeadModel" or "labels" not in inputs:
            return outputs
        loss = losses.shifted_cross_entropy(outputs["logits"], inputs["labels"], 0)
        return with_loss(outputs, loss, outputs["logits"])


class TokenLossUsesMask(KnownBadPort):
    description = "token classification loss skips positions whose attention_mask is 0"
    kills = ("labels.token.loss-BertForTokenClassification",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        if model.head != "BertForTokenClassification" or "labels" not in inputs:
            return outputs
        labels = np.where(inputs.get("attention_mask", 1) != 0, inputs["labels"], losses.IGNORE_INDEX)
        return with_loss(outputs, losses.cross_entropy(outputs["logits"], labels), outputs["logits"])


class MeanOverAllPositions(KnownBadPort):
    description = "token-level losses divide by every position, ignored (-100) ones included"
    kills = (
        "labels.ignore_index-BertForMaskedLM",
        "labels.ignore_index-BertForTokenClassification",
        "labels.ignore_index-BertLMHeadModel",
        "labels.mlm.all_ignored-BertForMaskedLM",
    )

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        if model.head not in TOKEN_HEADS[:3] or "labels" not in inputs:
            return outputs
        shift = losses.LM_SHIFT if model.head == losses.LM else 0
        loss = _sum_over_all(np.asarray(outputs["logits"]), inputs["labels"], shift)
        return with_loss(outputs, loss, outputs["logits"])


class NspLabelsSwapped(KnownBadPort):
    description = "next-sentence labels read the other way round (1 = continuation)"
    kills = (
        "labels.nsp.meaning-BertForNextSentencePrediction",
        "labels.nsp.meaning-BertForPreTraining",
        "labels.nsp.loss-BertForNextSentencePrediction",
        "labels.pretraining.loss-BertForPreTraining",
    )

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        name = {"BertForNextSentencePrediction": "labels", "BertForPreTraining": "next_sentence_label"}.get(model.head)
        if name in inputs:
            labels = np.asarray(inputs[name])
            inputs[name] = np.where(labels == losses.IGNORE_INDEX, labels, 1 - labels)
        return model.inner.forward(inputs, **options)


class PretrainingLossWithOneLabel(KnownBadPort):
    description = "pre-training returns the masked-LM loss when next_sentence_label is missing"
    kills = ("labels.pretraining.loss-BertForPreTraining",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        if model.head == losses.PT and "labels" in inputs and "next_sentence_label" not in inputs:
            loss = losses.cross_entropy(outputs["prediction_logits"], inputs["labels"])
            return with_loss(outputs, loss, outputs["prediction_logits"])
        return outputs


class ProblemTypeFromNumLabelsOnly(KnownBadPort):
    description = "problem_type inferred from num_labels only: float multi-label targets get a (soft) cross-entropy"
    kills = ("labels.seqcls.problem_type.inference-BertForSequenceClassification",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        labels = inputs.get("labels")
        if model.head != losses.SEQCLS or labels is None or model.config.get("problem_type"):
            return outputs
        if model.inner.module.config.problem_type == "multi_label_classification":
            logits = np.asarray(outputs["logits"], dtype=np.float64)
            top = logits.max(-1, keepdims=True)
            log_softmax = logits - top - np.log(np.exp(logits - top).sum(-1, keepdims=True))
            return with_loss(outputs, float(-(labels * log_softmax).sum(-1).mean()), outputs["logits"])
        return outputs


class ProblemTypeNotSticky(KnownBadPort):
    description = "problem_type inferred again on every call instead of sticking after the first"
    kills = ("labels.seqcls.problem_type.sticky-BertForSequenceClassification",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        if model.head == losses.SEQCLS and not model.config.get("problem_type"):
            model.inner.module.config.problem_type = None
        return model.inner.forward(inputs, **options)


class RegressionNoSqueeze(KnownBadPort):
    description = "single-output regression compares logits [batch, 1] with labels [batch] by broadcasting"
    kills = ("labels.seqcls.regression-BertForSequenceClassification",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        labels = inputs.get("labels")
        if model.head != losses.SEQCLS or labels is None or outputs["logits"].shape[-1] != 1:
            return outputs
        return with_loss(outputs, losses.mse(outputs["logits"], labels), outputs["logits"])


class MultiLabelMeanOverBatch(KnownBadPort):
    description = "multi-label BCE summed over labels and averaged over the batch only"
    kills = ("labels.seqcls.multi_label-BertForSequenceClassification",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        if model.head != losses.SEQCLS or model.inner.module.config.problem_type != "multi_label_classification":
            return outputs
        logits = outputs["logits"]
        return with_loss(outputs, losses.bce_with_logits(logits, inputs["labels"]) * logits.shape[-1], logits)


class MultipleChoiceColumnMajor(KnownBadPort):
    description = "multiple-choice scores reshaped column-major ([choices, batch] then transposed)"
    # labels.mc.labels killed it too while the ci draws depended on the run's folder; with the location-free
    # seed its ci examples no longer do (a label-shape clause), so only the clause about the order is named
    kills = ("labels.mc.reshape-BertForMultipleChoice",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        if model.head != losses.MC:
            return model.inner.forward(inputs, **options)
        outputs = model.inner.forward({k: v for k, v in inputs.items() if k != "labels"}, **options)
        batch, choices = outputs["logits"].shape
        logits = np.ascontiguousarray(outputs["logits"].reshape(-1).reshape(choices, batch).T)
        outputs = {**outputs, "logits": logits}
        if "labels" in inputs:
            labels = np.asarray(inputs["labels"])
            if labels.shape != (batch,):
                raise ValueError("labels must have shape [batch]")
            outputs = with_loss(outputs, losses.cross_entropy(logits, labels), logits)
        return outputs


class QaNegativeIgnored(KnownBadPort):
    description = "negative QA positions are ignored instead of clamped to 0"
    kills = ("labels.qa.clamp-BertForQuestionAnswering",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        if model.head != losses.QA or outputs.get("loss") is None:
            return outputs
        seq = outputs["start_logits"].shape[1]
        parts = []
        for side in ("start", "end"):
            positions = np.asarray(inputs[f"{side}_positions"]).reshape(-1)
            positions = np.where(positions < 0, seq, np.minimum(positions, seq))
            parts.append(losses.cross_entropy(outputs[f"{side}_logits"], positions, ignore_index=seq))
        return with_loss(outputs, sum(parts) / 2, outputs["start_logits"])


class QaLossNotHalved(KnownBadPort):
    description = "QA loss = start CE + end CE, not their mean"
    kills = ("labels.qa.loss-BertForQuestionAnswering", "labels.qa.positions-BertForQuestionAnswering")

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        if model.head != losses.QA or outputs.get("loss") is None:
            return outputs
        return with_loss(outputs, 2 * float(outputs["loss"]), outputs["start_logits"])


class AllIgnoredGivesZero(KnownBadPort):
    description = "a loss over zero targets is 0 instead of NaN"
    kills = (
        "labels.mlm.all_ignored-BertForMaskedLM",
        "labels.mlm.all_ignored-BertForPreTraining",
        "labels.mlm.all_ignored-BertForTokenClassification",
        "labels.qa.all_ignored-BertForQuestionAnswering",
    )

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        loss = outputs.get("loss")
        if loss is None or not np.isnan(loss):
            return outputs
        return with_loss(outputs, np.nan_to_num(loss, nan=0.0), loss)


class LossNotScalar(KnownBadPort):
    description = "the loss comes back as a [1] array instead of a 0-d one"
    kills = tuple(f"labels.loss_scalar-{head}" for head in losses.LOSS_HEADS)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        if outputs.get("loss") is not None:
            outputs["loss"] = np.asarray(outputs["loss"]).reshape(1)
        return outputs


class LabelsOutOfRangeClipped(KnownBadPort):
    description = "class ids outside [0, classes) are clipped into range instead of raising"
    kills = tuple(f"labels.target_dtype-{head}" for head in losses.LOSS_HEADS if head != losses.QA)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        if model.head == losses.QA:
            return model.inner.forward(inputs, **options)
        for name in losses.label_arguments(model.head):
            if name in inputs and np.issubdtype(np.asarray(inputs[name]).dtype, np.integer):
                count = losses.classes(model.head, name, model.config, inputs)
                labels = np.asarray(inputs[name])
                inputs[name] = np.where(labels == losses.IGNORE_INDEX, labels, np.clip(labels, 0, count - 1))
        return model.inner.forward(inputs, **options)


class MultipleChoiceLabelsFlattened(KnownBadPort):
    description = "multiple-choice labels of shape [batch, 1] are flattened instead of rejected"
    kills = ("labels.mc.labels-BertForMultipleChoice",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        if model.head == losses.MC and "labels" in inputs:
            inputs["labels"] = np.asarray(inputs["labels"]).reshape(-1)
        return model.inner.forward(inputs, **options)


class CacheWithLabels(KnownBadPort):
    description = "the causal LM keeps returning a cache when labels are given"
    kills = ("labels.lm.labels_disable_cache-BertLMHeadModel",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        if model.head == losses.LM and "labels" in inputs and options.get("use_cache"):
            plain = {k: v for k, v in inputs.items() if k != "labels"}
            outputs["cache"] = model.inner.forward(plain, **options)["cache"]
        return outputs


MUTANTS = register(
    "labels",
    MlmLossShifted,
    LmLossUnshifted,
    TokenLossUsesMask,
    MeanOverAllPositions,
    NspLabelsSwapped,
    PretrainingLossWithOneLabel,
    ProblemTypeFromNumLabelsOnly,
    ProblemTypeNotSticky,
    RegressionNoSqueeze,
    MultiLabelMeanOverBatch,
    MultipleChoiceColumnMajor,
    QaNegativeIgnored,
    QaLossNotHalved,
    AllIgnoredGivesZero,
    LossNotScalar,
    LabelsOutOfRangeClipped,
    MultipleChoiceLabelsFlattened,
    CacheWithLabels,
)
PORTS = entries("labels", *MUTANTS)
__getattr__ = resolver(MUTANTS)
