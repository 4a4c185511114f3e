"""Input checks: one clear ValueError naming the argument, where transformers fails late or not at all.

transformers raises IndexError / RuntimeError (or computes garbage) for several of these; raising a ValueError
up front is an intended difference (the spec names no exception type: heads.unspecified.error_types). Value
checks (ids in range) read the tensors and are skipped under tracing.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor

from .attention import _tracing
from .cache import Cache
from .config import BertConfig

_IGNORED_KWARGS = ("head_mask",)  # transformers v5 accepts and silently ignores it


def pop_cache_alias(kwargs: dict[str, Any], cache: Cache | None) -> Cache | None:
    """`past_key_values` is transformers' pre-5.24 name of `cache`; accept it, as transformers does."""
    if "past_key_values" not in kwargs:
        return cache
    legacy = kwargs.pop("past_key_values")
    if cache is not None and legacy is not None:
        raise ValueError("pass only one of cache and past_key_values (its old name)")
    return legacy if cache is None else cache


def reject_unknown_kwargs(owner: str, kwargs: dict[str, Any]) -> None:
    """head_mask is ignored with a warning (transformers v5 ignores it silently); anything else is an error."""
    for name in _IGNORED_KWARGS:
        if kwargs.pop(name, None) is not None:
            warnings.warn(f"{owner}: {name} is ignored (transformers v5 removed it)", stacklevel=3)
    if kwargs:
        raise TypeError(f"{owner}() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")


def check_tensor(name: str, value: Any) -> Tensor | None:
    if value is not None and not isinstance(value, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def check_integer(name: str, value: Tensor) -> None:
    """Index tensors: int64 or int32 (what torch's embedding lookup takes)."""
    if value.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"{name} must hold integers (int64 or int32), got dtype {value.dtype}")


def check_range(name: str, value: Tensor, low: int, high: int, *, allowed: tuple[int, ...] = ()) -> None:
    """Every entry in [low, high) or in `allowed`."""
    if _tracing() or value.numel() == 0:
        return
    bad = (value < low) | (value >= high)
    for special in allowed:
        bad &= value != special
    if bool(bad.any()):
        first = value[bad][0].item()
        extra = f" (or {', '.join(map(str, allowed))})" if allowed else ""
        raise ValueError(f"{name} must be in [{low}, {high}){extra}; found {first}")


def check_model_inputs(
    config: BertConfig,
    *,
    input_ids: Tensor | None,
    attention_mask: Tensor | None,
    token_type_ids: Tensor | None,
    position_ids: Tensor | None,
    inputs_embeds: Tensor | None,
    encoder_hidden_states: Tensor | None,
    encoder_attention_mask: Tensor | None,
    cache: Cache | None,
    dtype: torch.dtype,
) -> tuple[int, int, int]:
    """Check BertModel's inputs; return (batch, seq_len, past_len)."""
    for name, value in (("input_ids", input_ids), ("attention_mask", attention_mask),
                        ("token_type_ids", token_type_ids), ("position_ids", position_ids),
                        ("inputs_embeds", inputs_embeds), ("encoder_hidden_states", encoder_hidden_states),
                        ("encoder_attention_mask", encoder_attention_mask)):
        check_tensor(name, value)
    # heads.omitted.exactly_one_of_ids_embeds, heads.common.input_exclusive
    if (input_ids is None) == (inputs_embeds is None):
        raise ValueError("You must specify exactly one of input_ids or inputs_embeds")
    if input_ids is not None:
        if input_ids.dim() != 2:
            raise ValueError(f"input_ids must have shape [batch, seq_len], got {list(input_ids.shape)}")
        check_integer("input_ids", input_ids)
        check_range("input_ids", input_ids, 0, config.vocab_size)  # heads.common.input_ids_out_of_range
        batch, seq_len = input_ids.shape
    else:
        if inputs_embeds.dim() != 3 or inputs_embeds.shape[-1] != config.hidden_size:
            raise ValueError(
                f"inputs_embeds must have shape [batch, seq_len, {config.hidden_size}], got {list(inputs_embeds.shape)}"
            )
        if inputs_embeds.dtype != dtype:
            raise ValueError(f"inputs_embeds has dtype {inputs_embeds.dtype}, the model {dtype}")
        batch, seq_len = inputs_embeds.shape[:2]
    if seq_len == 0 or batch == 0:
        raise ValueError(f"empty input: batch {batch}, seq_len {seq_len}")

    past_len = _check_cache(config, cache, batch)
    # heads.common.max_positions
    if position_ids is None and past_len + seq_len > config.max_position_embeddings:
        raise ValueError(
            f"sequence too long: seq_len {seq_len} + cached {past_len} tokens > "
            f"max_position_embeddings {config.max_position_embeddings}"
        )
    if token_type_ids is not None:
        _check_shape("token_type_ids", token_type_ids, [(batch, seq_len)])
        check_integer("token_type_ids", token_type_ids)
        # heads.common.token_type_out_of_range
        check_range("token_type_ids", token_type_ids, 0, config.type_vocab_size)
    if position_ids is not None:
        _check_shape("position_ids", position_ids, [(batch, seq_len), (1, seq_len), (seq_len,)])
        check_integer("position_ids", position_ids)
        check_range("position_ids", position_ids, 0, config.max_position_embeddings)
    if attention_mask is not None:  # covers cached + current tokens: decoder.cache.attention_mask
        check_mask("attention_mask", attention_mask, batch, seq_len, past_len + seq_len, dtype, config)

    if encoder_hidden_states is not None:
        if not config.add_cross_attention:  # config.behaviour.add_cross_attention.layers
            raise ValueError(
                "encoder_hidden_states needs a model built with cross-attention "
                "(config.is_decoder=True and config.add_cross_attention=True)"
            )
        if encoder_hidden_states.dim() != 3 or encoder_hidden_states.shape[0] != batch or \
                encoder_hidden_states.shape[-1] != config.hidden_size:
            raise ValueError(
                f"encoder_hidden_states must have shape [{batch}, encoder_len, {config.hidden_size}], "
                f"got {list(encoder_hidden_states.shape)}"
            )
        if encoder_hidden_states.dtype != dtype:
            raise ValueError(f"encoder_hidden_states has dtype {encoder_hidden_states.dtype}, the model {dtype}")
    if encoder_attention_mask is not None:
        if encoder_hidden_states is None:
            raise ValueError("encoder_attention_mask given without encoder_hidden_states")
        encoder_len = _encoder_len(cache, encoder_hidden_states)
        check_mask("encoder_attention_mask", encoder_attention_mask, batch, seq_len, encoder_len, dtype, config)
    return batch, seq_len, past_len


def _encoder_len(cache: Cache | None, encoder_hidden_states: Tensor) -> int:
    stored = cache.get_cross(0) if cache is not None else None
    return stored.keys.shape[-2] if stored is not None else encoder_hidden_states.shape[1]


def _check_cache(config: BertConfig, cache: Any, batch: int) -> int:
    if cache is None:
        return 0
    if not isinstance(cache, Cache):  # the reference's own container (heads.unspecified.cache_container)
        raise ValueError(f"cache must be a bert_reference.Cache, got {type(cache).__name__}")
    if not config.is_decoder:
        raise ValueError("cache needs a decoder (config.is_decoder=True); an encoder has no key/value cache")
    if cache.batch_size() not in (None, batch):
        raise ValueError(f"cache holds batch size {cache.batch_size()}, the input has {batch}")
    return cache.get_seq_length()


def _check_shape(name: str, value: Tensor, shapes: list[tuple[int, ...]]) -> None:
    if tuple(value.shape) not in shapes:
        expected = " or ".join(str(list(shape)) for shape in shapes)
        raise ValueError(f"{name} must have shape {expected}, got {list(value.shape)}")


def check_mask(
    name: str, mask: Tensor, batch: int, q_len: int, kv_len: int, dtype: torch.dtype, config: BertConfig
) -> None:
    """2-D [batch, kv_len] (any dtype, non-zero attends) or 4-D [batch|1, 1|heads, q_len, kv_len]
    (heads.common.attention_mask_4d)."""
    if mask.dim() == 2:
        _check_shape(name, mask, [(batch, kv_len)])
        return
    if mask.dim() != 4:
        raise ValueError(f"{name} must be 2-D [batch, {kv_len}] or 4-D [batch, 1, {q_len}, {kv_len}], "
                         f"got {list(mask.shape)}")
    b, h, q, k = mask.shape
    if b not in (1, batch) or h not in (1, config.num_attention_heads) or q != q_len or k != kv_len:
        raise ValueError(f"{name} must have shape [{batch} or 1, 1 or {config.num_attention_heads}, {q_len}, "
                         f"{kv_len}], got {list(mask.shape)}")
    if mask.dtype != torch.bool and mask.dtype != dtype:
        raise ValueError(f"a 4-D {name} must be bool (True attends) or additive in the model dtype {dtype}, "
                         f"got {mask.dtype}")
