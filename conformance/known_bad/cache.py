"""Key/value cache bugs: how a decoder appends this call's keys and values to the cached ones.

(Positions restarting at 0 after a cache, a dropped past mask and recomputed cross-attention keys are in
``decoder``.)
"""

from __future__ import annotations

from typing import Any

import torch

from bert_conformance.known_bad._base import (
    KnownBad,
    KnownBadError,
    anchor,
    instances,
    register,
    resolver,
    wrap_method,
)
from bert_conformance.known_bad.probe import Probe
from bert_reference import model as ref_model

DECODER = {"is_decoder": True}
SELF_ATTENTION_FORWARD = ("hidden_states", "mask", "cache", "need_weights")


class _Appending:
    """The model's cache, seen through an ``update`` that concatenates with ``concat(past, new)``."""

    def __init__(self, cache: Any, concat: Any) -> None:
        self.cache, self.concat = cache, concat

    def update(self, keys: torch.Tensor, values: torch.Tensor, layer_idx: int) -> tuple[torch.Tensor, torch.Tensor]:
        layers = anchor(self.cache, "layers")
        if layer_idx >= len(layers):
            return anchor(self.cache, "update", params=("keys", "values", "layer_idx"))(keys, values, layer_idx)
        layer = layers[layer_idx]
        layer.keys, layer.values = self.concat(layer.keys, keys), self.concat(layer.values, values)
        return layer.keys, layer.values

    def __getattr__(self, name: str) -> Any:
        return getattr(self.cache, name)


def patch_cache_append(module: Any, concat: Any) -> None:
    layers = instances(module, anchor(ref_model, "BertSelfAttention"), exact=True)
    if not layers:
        raise KnownBadError(f"no BertSelfAttention in {type(module).__name__}")
    for layer in layers:
        wrap_method(layer, "forward", lambda original: (
            lambda hidden_states, mask, cache=None, need_weights=False: original(
                hidden_states, mask, None if cache is None else _Appending(cache, concat), need_weights)),
            params=SELF_ATTENTION_FORWARD)


class ConcatWrongAxis(KnownBad):
    description = "cached keys/values concatenated on the heads axis (dim 1) instead of the sequence axis"
    kills = ("decoder.cache.equivalence-BertModel", "decoder.cache.equivalence-BertLMHeadModel",
             "golden.lm_head.cache_steps-float64")
    probe = Probe(config=DECODER, steps=2)
    probe_raises = True  # the shapes no longer line up: the attention kernel raises on the cached call

    def mutate(self, module: Any, config: dict) -> None:
        patch_cache_append(module, lambda past, new: torch.cat([past, new], dim=1))


class ConcatNewFirst(KnownBad):
    description = "cached keys/values concatenated new-before-past on the sequence axis"
    kills = ("decoder.cache.equivalence-BertModel", "decoder.cache.equivalence-BertLMHeadModel",
             "golden.lm_head.cache_steps-float64", "heads.omitted.new_cache")
    probe = Probe(config=DECODER, steps=2)

    def mutate(self, module: Any, config: dict) -> None:
        patch_cache_append(module, lambda past, new: torch.cat([new, past], dim=-2))


MUTANTS = register("cache", ConcatWrongAxis, ConcatNewFirst)
__getattr__ = resolver(MUTANTS)
