"""Known-bad ports for conformance/clauses/test_gradients.py: the reference with ONE realistic bug each.

The forward is right; only ``gradients()`` is wrong.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bert_conformance.known_bad._base import KnownBadPort, Model, entries, register, resolver

TIED_HEADS = ("BertForPreTraining", "BertLMHeadModel", "BertForMaskedLM")
LOSS_HEADS = (*TIED_HEADS, "BertForNextSentencePrediction", "BertForSequenceClassification",
              "BertForMultipleChoice", "BertForTokenClassification", "BertForQuestionAnswering")
WORD_EMBEDDINGS = "bert.embeddings.word_embeddings.weight"
DECODER_WEIGHT = "cls.predictions.decoder.weight"


class TiedCopyGradient(KnownBadPort):
    description = "the decoder holds a copy of the word embeddings: each name gets only its own use's gradient"
    kills = tuple(f"gradients.{head}-{head}" for head in TIED_HEADS)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        model = super().load(head, config, state_dict, **kwargs)
        if head in TIED_HEADS:
            untied = {
                **state_dict,
                DECODER_WEIGHT: state_dict[WORD_EMBEDDINGS].copy(),
                "cls.predictions.decoder.bias": state_dict["cls.predictions.bias"].copy(),
            }
            model.untied = super().load(head, {**config, "tie_word_embeddings": False}, untied, **kwargs)
        return model

    def gradients(self, model: Model, inputs: dict) -> dict[str, np.ndarray]:
        if model.head not in TIED_HEADS:
            return model.inner.gradients(inputs)
        return model.inner.untied.gradients(inputs)


class SumInsteadOfMean(KnownBadPort):
    description = "the backward pass differentiates the summed loss, not the mean (gradients scaled by the count)"
    kills = tuple(f"gradients.{head}-{head}" for head in LOSS_HEADS)

    def gradients(self, model: Model, inputs: dict) -> dict[str, np.ndarray]:
        labels = np.asarray(inputs.get("labels", inputs.get("start_positions")))
        count = int((labels != -100).sum())  # the number of items the mean divides by
        return {name: grad * count for name, grad in model.inner.gradients(inputs).items()}


class TiedTargetsMissing(KnownBadPort):
    description = "gradients() lists each tensor once: the tied decoder names are missing"
    kills = tuple(f"gradients.{head}-{head}" for head in TIED_HEADS)

    def gradients(self, model: Model, inputs: dict) -> dict[str, np.ndarray]:
        grads = model.inner.gradients(inputs)
        return {k: v for k, v in grads.items() if not k.startswith("cls.predictions.decoder.")}


class PositionEmbeddingsFrozen(KnownBadPort):
    description = "position embeddings are a buffer, not a parameter: their gradient is zero"
    kills = tuple(f"gradients.{head}-{head}" for head in LOSS_HEADS)

    def gradients(self, model: Model, inputs: dict) -> dict[str, np.ndarray]:
        grads = model.inner.gradients(inputs)
        return {k: np.zeros_like(v) if "position_embeddings" in k else v for k, v in grads.items()}


MUTANTS = register("gradients", TiedCopyGradient, SumInsteadOfMean, TiedTargetsMissing, PositionEmbeddingsFrozen)
PORTS = entries("gradients", *MUTANTS)
__getattr__ = resolver(MUTANTS)
