"""Known-bad ports for conformance/clauses/test_heads.py: the reference with ONE realistic bug each, at the
boundary (arguments, outputs)."""

from __future__ import annotations

from typing import Any

import numpy as np

from bert_conformance.known_bad._base import KnownBadPort, Model, entries, register, resolver


class AlphabeticalOutputs(KnownBadPort):
    description = "the output dict is built in sorted key order instead of the HF dataclass field order"
    kills = ("heads.BertModel.outputs.order", "heads.BertModel.outputs.tuple", "heads.BertForMaskedLM.outputs.order",
             "heads.BertForMaskedLM.outputs.tuple")

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        return dict(sorted(model.inner.forward(inputs, **options).items()))


class HiddenStatesWithoutEmbeddings(KnownBadPort):
    description = "hidden_states holds only the layer outputs: the embedding output (entry 0) is missing"
    kills = ("heads.BertModel.outputs.hidden_states", "heads.common.hidden_states", "heads.common.embeddings",
             "heads.kwargs.output_hidden_states")

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        if outputs.get("hidden_states") is not None:
            outputs["hidden_states"] = outputs["hidden_states"][1:]
        return outputs


class PoolerLastToken(KnownBadPort):
    description = "the pooler reads the last position (as in causal-LM poolers), not the first"
    kills = ("heads.common.pooler_first_token", "heads.BertModel.outputs.pooler_output")

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        if model.head == "BertModel" and outputs.get("pooler_output") is not None:
            weight, bias = model.state_dict["pooler.dense.weight"], model.state_dict["pooler.dense.bias"]
            last = outputs["last_hidden_state"][:, -1].astype(np.float64)
            pooled = np.tanh(last @ np.asarray(weight, np.float64).T + bias)
            outputs["pooler_output"] = pooled.astype(outputs["pooler_output"].dtype)
        return outputs


class IdsWinOverEmbeds(KnownBadPort):
    description = "input_ids and inputs_embeds together are accepted (the embeddings are silently ignored)"
    kills = ("heads.common.input_exclusive", "heads.omitted.exactly_one_of_ids_embeds")

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        if "input_ids" in inputs:
            inputs.pop("inputs_embeds", None)
        return model.inner.forward(inputs, **options)


class ScaledInputsEmbeds(KnownBadPort):
    description = "inputs_embeds are multiplied by sqrt(hidden_size), as some encoders scale their embeddings"
    kills = ("heads.common.inputs_embeds_equivalence", "heads.BertModel.signature")

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        if "inputs_embeds" in inputs:
            inputs["inputs_embeds"] = inputs["inputs_embeds"] * np.sqrt(inputs["inputs_embeds"].shape[-1])
        return model.inner.forward(inputs, **options)


class QALossFromOnePosition(KnownBadPort):
    description = "QA computes a loss from start_positions alone (using them as end positions too)"
    kills = ("heads.BertForQuestionAnswering.outputs.loss",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        if "start_positions" in inputs and "end_positions" not in inputs:
            inputs["end_positions"] = inputs["start_positions"]
        return model.inner.forward(inputs, **options)


class CacheNotReturned(KnownBadPort):
    description = "the key/value cache is used but never returned to the caller"
    kills = ("heads.BertModel.outputs.cache", "heads.BertLMHeadModel.outputs.cache", "heads.BertLMHeadModel.outputs.tuple",
             "heads.omitted.new_cache")

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        outputs.pop("cache", None)
        return outputs


class PositionsClipped(KnownBadPort):
    description = "sequences longer than max_position_embeddings reuse the last position instead of failing"
    kills = ("heads.common.max_positions",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        ids = inputs.get("input_ids")
        limit = model.config["max_position_embeddings"]
        if ids is not None and "position_ids" not in inputs and ids.shape[-1] > limit:
            inputs["position_ids"] = np.minimum(np.arange(ids.shape[-1]), limit - 1)[None].repeat(len(ids), 0)
        return model.inner.forward(inputs, **options)


class TokenTypesClipped(KnownBadPort):
    description = "token_type_ids outside [0, type_vocab_size) are clipped instead of rejected"
    kills = ("heads.common.token_type_out_of_range",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        if "token_type_ids" in inputs:
            inputs["token_type_ids"] = np.clip(inputs["token_type_ids"], 0, model.config["type_vocab_size"] - 1)
        return model.inner.forward(inputs, **options)


class NegativeIdsWrap(KnownBadPort):
    """ONNX ``Gather`` semantics: indices in [-n, n), so -1 is the last row (an exported graph does this)."""

    description = "negative input_ids and token_type_ids pick rows from the end of the table instead of failing"
    kills = ("heads.common.token_type_out_of_range", "heads.common.input_ids_out_of_range")

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        sizes = {"input_ids": model.config["vocab_size"], "token_type_ids": model.config["type_vocab_size"]}
        for name, size in sizes.items():
            if name in inputs:
                inputs[name] = np.where(inputs[name] < 0, inputs[name] + size, inputs[name])
        return model.inner.forward(inputs, **options)


class BoolMask4dInverted(KnownBadPort):
    description = "a boolean 4-D attention_mask is read as True = masked (the PyTorch key_padding_mask convention)"
    kills = ("heads.common.attention_mask_4d",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        mask = inputs.get("attention_mask")
        if mask is not None and mask.ndim == 4 and mask.dtype == bool:
            inputs["attention_mask"] = ~mask
            inputs["attention_mask"][..., 0] = True  # keep one key per row (avoids fully masked rows)
        return model.inner.forward(inputs, **options)


class AttentionsHeadsLast(KnownBadPort):
    description = "attention probabilities come back as [batch, query, heads, key] instead of [batch, heads, query, key]"
    kills = ("heads.common.attentions", "heads.BertModel.outputs.attentions", "heads.kwargs.output_attentions")

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        if outputs.get("attentions"):
            outputs["attentions"] = [np.ascontiguousarray(a.transpose(0, 2, 1, 3)) for a in outputs["attentions"]]
        return outputs


class CrossAttentionOnZeros(KnownBadPort):
    description = "without encoder_hidden_states a cross-attention decoder attends to a zero encoder state"
    kills = ("heads.omitted.no_cross_attention",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        ids = inputs.get("input_ids")
        if model.config.get("add_cross_attention") and "encoder_hidden_states" not in inputs and ids is not None:
            inputs["encoder_hidden_states"] = np.zeros((len(ids), 1, model.config["hidden_size"]))
        return model.inner.forward(inputs, **options)


MUTANTS = register(
    "heads", AlphabeticalOutputs, HiddenStatesWithoutEmbeddings, PoolerLastToken, IdsWinOverEmbeds,
    ScaledInputsEmbeds, QALossFromOnePosition, CacheNotReturned, PositionsClipped, TokenTypesClipped,
    NegativeIdsWrap, BoolMask4dInverted, AttentionsHeadsLast, CrossAttentionOnZeros,
)
PORTS = entries("heads", *MUTANTS)
__getattr__ = resolver(MUTANTS)
