"""Known-bad ports for conformance/clauses/test_properties.py: the reference with ONE realistic bug each."""

from __future__ import annotations

from typing import Any

import numpy as np

from bert_conformance.known_bad._base import KnownBadPort, Model, entries, positions_from, register, resolver

MLM_HEADS = ("BertForPreTraining", "BertLMHeadModel", "BertForMaskedLM")


class IgnoresAttentionMask(KnownBadPort):
    description = "attention_mask is accepted but never applied (padding attends)"
    kills = ("properties.padding_invariance-BertModel", "properties.masked_keys-BertModel")

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        inputs.pop("attention_mask", None)
        return model.inner.forward(inputs, **options)


class MaskSkippedWhenFirstRowFull(KnownBadPort):
    description = "the padding mask is skipped when the first row has no padding (a fast path checking row 0)"
    kills = ("properties.batch_invariance-BertModel",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        mask = inputs.get("attention_mask")
        if mask is not None and np.all(np.asarray(mask)[0] != 0):
            inputs.pop("attention_mask")
        return model.inner.forward(inputs, **options)


class MaskEqualsOne(KnownBadPort):
    description = "the mask is read as `mask == 1`, so values like 2 or 0.5 mean padding"
    kills = ("properties.attention_mask.nonzero-BertModel",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        if "attention_mask" in inputs:
            inputs["attention_mask"] = (np.asarray(inputs["attention_mask"]) == 1).astype(np.int64)
        return model.inner.forward(inputs, **options)


class FloatMaskAdditive(KnownBadPort):
    description = "a floating-point 2-D mask is added to the attention scores instead of read as boolean"
    kills = ("properties.attention_mask.float-BertModel",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        mask = inputs.get("attention_mask")
        if mask is not None and np.issubdtype(np.asarray(mask).dtype, np.floating) and np.ndim(mask) == 2:
            inputs["attention_mask"] = np.asarray(mask)[:, None, None, :]  # 4-D float: additive
        return model.inner.forward(inputs, **options)


class OmittedTokenTypesAddNothing(KnownBadPort):
    description = "omitted token_type_ids add no token-type embedding (instead of type 0's)"
    kills = ("properties.token_type_ids.omitted-BertModel",)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        name = "embeddings.token_type_embeddings.weight"
        no_type = {k: (np.zeros_like(v) if k.endswith(name) else v) for k, v in state_dict.items()}
        model = super().load(head, config, state_dict, **kwargs)
        model.without_types = super().load(head, config, no_type, **kwargs)
        return model

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        inner = model.inner if "token_type_ids" in inputs else model.inner.without_types
        return inner.forward(inputs, **options)


class PositionsFromOne(KnownBadPort):
    description = "omitted position_ids start at 1 (a padding_idx + 1 offset, as in RoBERTa)"
    kills = ("properties.position_ids.omitted-BertModel",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        if "position_ids" not in inputs:
            inputs["position_ids"] = positions_from(1, inputs, options)
        return model.inner.forward(inputs, **options)


class SdpaIgnoresPadding(KnownBadPort):
    description = "the sdpa path drops the padding mask (eager applies it)"
    kills = ("properties.eager_vs_sdpa-BertModel",)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        model = super().load(head, config, state_dict, **kwargs)
        model.sdpa = kwargs.get("attention") == "sdpa"
        return model

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        if model.inner.sdpa:
            inputs.pop("attention_mask", None)
        return model.inner.forward(inputs, **options)


class DropoutInEval(KnownBadPort):
    description = "the model is left in training mode: dropout is active"
    kills = (
        "properties.eval.deterministic-BertModel",
        "properties.eval.deterministic-BertForSequenceClassification",
        "properties.eval.no_dropout-BertModel",
        "properties.eval.no_dropout-BertForSequenceClassification",
    )

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        model = super().load(head, config, state_dict, **kwargs)
        model.module.train()
        return model


class PredictionBiasAddedTwice(KnownBadPort):
    description = "cls.predictions.bias is added again on top of the (tied) decoder bias"
    kills = tuple(f"properties.weight_tying-{head}" for head in MLM_HEADS)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        bias = model.state_dict.get("cls.predictions.bias")
        for name in ("logits", "prediction_logits"):
            if model.head in MLM_HEADS and name in outputs and bias is not None:
                outputs[name] = outputs[name] + bias.astype(outputs[name].dtype)
        return outputs


class DecoderBiasNotTied(KnownBadPort):
    description = "the decoder uses its own zero-initialised bias, not cls.predictions.bias"
    kills = tuple(f"properties.weight_tying-{head}" for head in MLM_HEADS)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        if head in MLM_HEADS:
            embeddings = state_dict["bert.embeddings.word_embeddings.weight"]
            state_dict = {
                **state_dict,
                "cls.predictions.decoder.weight": embeddings.copy(),
                "cls.predictions.decoder.bias": np.zeros(embeddings.shape[0], embeddings.dtype),
            }
            config = {**config, "tie_word_embeddings": False}
        return super().load(head, config, state_dict, **kwargs)


MUTANTS = register(
    "properties",
    IgnoresAttentionMask,
    MaskSkippedWhenFirstRowFull,
    MaskEqualsOne,
    FloatMaskAdditive,
    OmittedTokenTypesAddNothing,
    PositionsFromOne,
    SdpaIgnoresPadding,
    DropoutInEval,
    PredictionBiasAddedTwice,
    DecoderBiasNotTied,
)
PORTS = entries("properties", *MUTANTS)
__getattr__ = resolver(MUTANTS)
