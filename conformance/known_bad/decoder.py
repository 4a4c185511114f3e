"""Known-bad ports for conformance/clauses/test_decoder.py: the reference with ONE realistic bug each."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bert_conformance.known_bad._base import KnownBadPort, Model, entries, register, resolver

LM = "BertLMHeadModel"


class NotCausal(KnownBadPort):
    description = "is_decoder is ignored: self-attention stays bidirectional"
    kills = ("decoder.causal-BertModel", "decoder.causal-BertLMHeadModel")

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        return super().load(head, {**config, "is_decoder": False}, state_dict, **kwargs)


class LmHeadAlwaysCausal(KnownBadPort):
    description = "BertLMHeadModel is built as a causal decoder even with is_decoder false"
    kills = ("decoder.not_decoder_is_bidirectional-BertLMHeadModel",)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        return super().load(head, {**config, "is_decoder": True} if head == LM else config, state_dict, **kwargs)


class CachePositionsFromZero(KnownBadPort):
    description = "with a cache, omitted position_ids restart at 0 instead of the cached length"
    kills = (
        "decoder.cache.equivalence-BertModel",
        "decoder.cache.equivalence-BertLMHeadModel",
        "decoder.cache.position_offset-BertLMHeadModel",
        "decoder.cache.attention_mask-BertLMHeadModel",
        "decoder.cross_attention.cache_reuse-BertLMHeadModel",
    )

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        if options.get("cache") is not None and "position_ids" not in inputs:
            rows, seq = np.shape(inputs["input_ids"])
            inputs["position_ids"] = np.tile(np.arange(seq, dtype=np.int64), (rows, 1))
        return model.inner.forward(inputs, **options)


class CacheIgnoresPastMask(KnownBadPort):
    description = "with a cache, attention_mask is dropped: masked past positions are attended again"
    kills = ("decoder.cache.attention_mask-BertLMHeadModel",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        if options.get("cache") is not None:
            inputs.pop("attention_mask", None)
        return model.inner.forward(inputs, **options)


class CrossMaskIgnored(KnownBadPort):
    description = "encoder_attention_mask is accepted but cross-attention attends every encoder position"
    kills = ("decoder.cross_attention.mask-BertLMHeadModel",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        inputs.pop("encoder_attention_mask", None)
        return model.inner.forward(inputs, **options)


class CrossMaskFromDecoderMask(KnownBadPort):
    description = "an omitted encoder_attention_mask is taken from the decoder's attention_mask"
    kills = ("decoder.cross_attention.mask_omitted-BertLMHeadModel",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        if "encoder_hidden_states" in inputs and "encoder_attention_mask" not in inputs and "attention_mask" in inputs:
            inputs["encoder_attention_mask"] = inputs["attention_mask"]
        return model.inner.forward(inputs, **options)


@dataclass
class RecomputingCache:
    """The port's cache: the reference's, plus every token seen (to recompute cross-attention)."""

    inner: Any
    seen: dict[str, np.ndarray] = field(default_factory=dict)


class CrossKeysRecomputed(KnownBadPort):
    description = "cached calls recompute cross-attention keys/values from the new encoder_hidden_states"
    kills = ("decoder.cross_attention.cache_reuse-BertLMHeadModel",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        cache = options.pop("cache", None)
        if cache is not None:
            options["cache"] = cache.inner
        outputs = model.inner.forward(inputs, **options)
        tokens = {k: v for k, v in inputs.items() if k in ("input_ids", "token_type_ids")}
        seen = {k: np.concatenate([cache.seen[k], v], axis=1) for k, v in tokens.items()} if cache else tokens
        if cache is not None and "encoder_hidden_states" in inputs:
            again = {**inputs, **seen}
            again.pop("attention_mask", None)
            full = model.inner.forward(again, use_cache=False)
            outputs["logits"] = full["logits"][:, -tokens["input_ids"].shape[1] :]
        if outputs.get("cache") is not None:
            outputs["cache"] = RecomputingCache(outputs["cache"], seen)
        return outputs


class LogitsToKeepFirst(KnownBadPort):
    description = "logits_to_keep n keeps the first n positions instead of the last n"
    kills = ("decoder.logits_to_keep-BertLMHeadModel",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        keep = options.get("logits_to_keep", 0)
        if isinstance(keep, int) and keep > 0:
            outputs = model.inner.forward(inputs, **{**options, "logits_to_keep": 0})
            outputs["logits"] = outputs["logits"][:, :keep]
            return outputs
        return model.inner.forward(inputs, **options)


class EncoderReturnsCache(KnownBadPort):
    description = "an encoder returns a (useless) cache whenever use_cache=True is passed"
    kills = ("decoder.cache.encoder_no_cache-BertModel",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        if options.get("use_cache") and outputs.get("cache") is None:
            outputs["cache"] = []
        return outputs


MUTANTS = register(
    "decoder",
    NotCausal,
    LmHeadAlwaysCausal,
    CachePositionsFromZero,
    CacheIgnoresPastMask,
    CrossMaskIgnored,
    CrossMaskFromDecoderMask,
    CrossKeysRecomputed,
    LogitsToKeepFirst,
    EncoderReturnsCache,
)
PORTS = entries("decoder", *MUTANTS)
__getattr__ = resolver(MUTANTS)
