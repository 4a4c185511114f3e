"""Known-bad ports for conformance/clauses/test_config.py: the reference with ONE realistic config bug each."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bert_conformance.known_bad._base import KnownBadPort, Model, entries, register, resolver
from bert_conformance.known_bad.numerics import AttentionScaleByHiddenSize


class EpsDefaultTorch(KnownBadPort):
    description = "a config without layer_norm_eps gets torch's LayerNorm default 1e-5 instead of BERT's 1e-12"
    kills = ("config.default.layer_norm_eps",)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        return super().load(head, {"layer_norm_eps": 1e-5, **config}, state_dict, **kwargs)


class GeluTanh(KnownBadPort):
    description = 'hidden_act "gelu" (and the omitted default) runs the tanh approximation, not the exact erf GELU'
    # not config.default.hidden_act: the omitted default behaves as "gelu" written out, as it must; the bug
    # is what "gelu" computes, and the clause about that kills it
    kills = ("config.hidden_act.gelu",)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        if config.get("hidden_act", "gelu") == "gelu":
            config = {**config, "hidden_act": "gelu_pytorch_tanh"}
        return super().load(head, config, state_dict, **kwargs)


class VocabDefault30000(KnownBadPort):
    description = "a config without vocab_size gets 30000 rows (a rounded default), not 30522"
    kills = ("config.default.vocab_size",)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        return super().load(head, {"vocab_size": 30000, **config}, state_dict, **kwargs)


class RequiresInitializerRange(KnownBadPort):
    description = "config['initializer_range'] is read unconditionally: a config without it fails to load"
    kills = ("config.default.initializer_range",)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        config["initializer_range"]  # noqa: B018 - the bug: a KeyError for a key with a default
        return super().load(head, config, state_dict, **kwargs)


class NoHeadDivisibilityCheck(KnownBadPort):
    description = "hidden_size not divisible by num_attention_heads is accepted (heads silently reduced)"
    kills = ("config.constraint.hidden_size_divisible_by_heads", "config.behaviour.hidden_size_check_at_model_init")

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        hidden, heads = config.get("hidden_size", 768), config.get("num_attention_heads", 12)
        if isinstance(hidden, int) and isinstance(heads, int) and hidden % heads:
            config = {**config, "num_attention_heads": math.gcd(hidden, heads)}
        return super().load(head, config, state_dict, **kwargs)


class CrossAttentionImpliesDecoder(KnownBadPort):
    description = "add_cross_attention without is_decoder is accepted (the port turns the decoder on itself)"
    kills = ("config.constraint.cross_attention_requires_decoder",)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        if config.get("add_cross_attention"):
            config = {**config, "is_decoder": True}
        return super().load(head, config, state_dict, **kwargs)


class PaddingIdxIgnored(KnownBadPort):
    description = "the word embedding has no padding_idx: the pad_token_id row receives gradients"
    kills = ("config.default.pad_token_id", "config.behaviour.pad_token_id.padding_idx")

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        return super().load(head, {**config, "pad_token_id": None}, state_dict, **kwargs)


class RejectsUnknownKeys(KnownBadPort):
    description = "unknown config keys are errors, so an old config with position_embedding_type fails to load"
    kills = ("config.behaviour.position_embedding_type.removed",)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        if "position_embedding_type" in config:
            raise ValueError("unknown config key 'position_embedding_type'")
        return super().load(head, config, state_dict, **kwargs)


class LenientTypes(KnownBadPort):
    description = 'config values are coerced: hidden_size "32" is read as 32 instead of rejected'
    kills = ("config.behaviour.strict_types",)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        config = {k: (int(v) if isinstance(v, str) and v.isdigit() else v) for k, v in config.items()}
        return super().load(head, config, state_dict, **kwargs)


class UntiedLogitsUsePredictionBias(KnownBadPort):
    description = "with tie_word_embeddings false the logits still add cls.predictions.bias, not decoder.bias"
    kills = ("config.behaviour.tie_word_embeddings.decoder_bias",)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        if config.get("tie_word_embeddings") is False and "cls.predictions.bias" in state_dict:
            state_dict = {**state_dict, "cls.predictions.decoder.bias": state_dict["cls.predictions.bias"]}
        return super().load(head, config, state_dict, **kwargs)


class HiddenStatesByDefault(KnownBadPort):
    description = "a config without output_hidden_states returns the hidden states anyway"
    kills = ("config.default.output_hidden_states",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        if "output_hidden_states" not in model.config:
            options.setdefault("output_hidden_states", True)
        return model.inner.forward(inputs, **options)


class NumLabelsIgnoresId2label(KnownBadPort):
    description = "num_labels comes only from the num_labels key: an id2label of 3 labels still gives 2"
    kills = ("config.behaviour.num_labels.id2label",)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        if "id2label" in config and "num_labels" not in config:
            config = {k: v for k, v in config.items() if k not in ("id2label", "label2id")}
            state_dict = {k: (np.asarray(v)[:2] if k.startswith("classifier.") else v) for k, v in state_dict.items()}
        return super().load(head, config, state_dict, **kwargs)


class HeadDimFromHiddenSize(AttentionScaleByHiddenSize):
    description = "the attention scale uses hidden_size instead of head_dim = hidden_size / num_attention_heads"
    kills = ("config.derived.head_dim",)


MUTANTS = register(
    "config", EpsDefaultTorch, GeluTanh, VocabDefault30000, RequiresInitializerRange, NoHeadDivisibilityCheck,
    CrossAttentionImpliesDecoder, PaddingIdxIgnored, RejectsUnknownKeys, LenientTypes,
    UntiedLogitsUsePredictionBias, HiddenStatesByDefault, NumLabelsIgnoresId2label, HeadDimFromHiddenSize,
)
PORTS = entries("config", *MUTANTS)
__getattr__ = resolver(MUTANTS)
