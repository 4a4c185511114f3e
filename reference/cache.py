"""The key/value cache of a decoder BERT.

Per layer, self-attention keys and values of shape [batch, heads, seen_tokens, head_dim] grow along dim -2 with
every call (decoder.cache.equivalence). With cross-attention, the encoder's keys and values
([batch, heads, encoder_len, head_dim]) are computed on the first call and reused afterwards: later
`encoder_hidden_states` values are ignored, as in transformers' EncoderDecoderCache
(decoder.cross_attention.cache_reuse, heads.common.cross_attention_cache_reuse). The container is the
reference's own; only the per-layer tensors are specified (heads.unspecified.cache_container).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class CacheLayer:
    keys: Tensor
    values: Tensor


class Cache:
    """Self-attention k/v per layer (`layers`), plus cross-attention k/v per layer (`cross_layers`)."""

    def __init__(self) -> None:
        self.layers: list[CacheLayer] = []
        self.cross_layers: list[CacheLayer] = []

    @classmethod
    def from_tensors(
        cls, self_attention: list[tuple[Tensor, Tensor]], cross_attention: list[tuple[Tensor, Tensor]] | None = None
    ) -> Cache:
        """Build a cache from per-layer (keys, values) pairs, e.g. ones converted from numpy by an adapter."""
        cache = cls()
        cache.layers = [CacheLayer(keys, values) for keys, values in self_attention]
        cache.cross_layers = [CacheLayer(keys, values) for keys, values in cross_attention or []]
        return cache

    def __len__(self) -> int:
        return len(self.layers)

    def __repr__(self) -> str:
        return f"Cache(layers={len(self.layers)}, seq_length={self.get_seq_length()}, cross_layers={len(self.cross_layers)})"

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """Number of tokens already seen (0 for an empty cache)."""
        return self.layers[layer_idx].keys.shape[-2] if layer_idx < len(self.layers) else 0

    def update(self, keys: Tensor, values: Tensor, layer_idx: int) -> tuple[Tensor, Tensor]:
        """Append this call's keys/values for one layer; return all keys/values seen so far
        (heads.common.cache_equivalence)."""
        if layer_idx == len(self.layers):
            self.layers.append(CacheLayer(keys, values))
        elif layer_idx < len(self.layers):
            layer = self.layers[layer_idx]
            layer.keys = torch.cat([layer.keys, keys], dim=-2)
            layer.values = torch.cat([layer.values, values], dim=-2)
        else:
            raise ValueError(f"cache: layer {layer_idx} updated before layer {len(self.layers)}")
        return self.layers[layer_idx].keys, self.layers[layer_idx].values

    def get_cross(self, layer_idx: int) -> CacheLayer | None:
        """The stored cross-attention keys/values of a layer, or None if not computed yet."""
        return self.cross_layers[layer_idx] if layer_idx < len(self.cross_layers) else None

    def set_cross(self, keys: Tensor, values: Tensor, layer_idx: int) -> None:
        """Store a layer's cross-attention keys/values, computed from the encoder states on the first call."""
        if layer_idx != len(self.cross_layers):
            raise ValueError(f"cache: cross-attention layer {layer_idx} set out of order")
        self.cross_layers.append(CacheLayer(keys, values))

    def batch_size(self) -> int | None:
        """Batch size of the stored tensors, or None for an empty cache."""
        stored = self.layers or self.cross_layers
        return stored[0].keys.shape[0] if stored else None
