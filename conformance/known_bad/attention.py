"""Attention bugs: the scale, the padding mask, the head layout, the softmax axis, causality, cross-attention.

Each patches the attention layers of one loaded model (``BertSelfAttention.attend`` / ``forward``, or a
pre-hook on ``BertModel.forward``); see ``_base`` for the rules.
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
    set_attribute,
    wrap_method,
)
from bert_conformance.known_bad.probe import Probe
from bert_reference import attention as ref_attention
from bert_reference import model as ref_model

AttentionMask = anchor(ref_attention, "AttentionMask")
ATTEND = ("query", "key", "value", "mask", "need_weights")
DECODER = {"is_decoder": True}


def attention_layers(module: Any, *, cross: bool = True) -> list[Any]:
    """Self-attention layers (and cross-attention ones, a subclass, if ``cross``); at least one."""
    cls = anchor(ref_model, "BertSelfAttention")
    layers = instances(module, cls, exact=not cross)
    if not layers:
        raise KnownBadError(f"no {cls.__name__} in {type(module).__name__}")
    return layers


def with_dead_rows(allowed: torch.Tensor) -> Any:
    """A boolean mask (True attends) and its fully masked query rows, as the reference's attend expects them."""
    dead = ~allowed.any(dim=-1, keepdim=True)
    return AttentionMask(mask=allowed | dead, dead_rows=dead)


def capture_attention_mask(module: Any) -> dict[str, Any]:
    """The ``attention_mask`` of the current BertModel call, captured by a forward pre-hook."""
    seen: dict[str, Any] = {}

    def hook(bert: Any, args: tuple, kwargs: dict) -> None:
        seen["attention_mask"] = kwargs.get("attention_mask")

    for bert in instances(module, anchor(ref_model, "BertModel")):
        anchor(bert, "forward", params=("attention_mask",))
        bert.register_forward_pre_hook(hook, with_kwargs=True)
    return seen


class ScaleMissing(KnownBad):
    description = "attention scores are not scaled by 1/sqrt(head_dim)"
    kills = ("core.forward.last_hidden_state", "numerics.float64.BertModel", "golden.model.tiny-float64")
    probe = Probe()

    def mutate(self, module: Any, config: dict) -> None:
        for layer in attention_layers(module):
            set_attribute(layer, "scaling", 1.0)


class ScaleOneOverD(KnownBad):
    description = "attention scores are scaled by 1/head_dim instead of 1/sqrt(head_dim)"
    kills = ("core.forward.last_hidden_state", "numerics.float64.BertModel", "golden.model.tiny-float64")
    probe = Probe()

    def mutate(self, module: Any, config: dict) -> None:
        for layer in attention_layers(module):
            set_attribute(layer, "scaling", 1.0 / anchor(layer, "attention_head_size"))


class MaskPolarityInverted(KnownBad):
    description = "attention_mask read with the wrong polarity: 1 is taken as padding and 0 as a token"
    kills = ("core.forward.last_hidden_state", "numerics.float64.BertModel", "golden.model.small-float64",
             "properties.padding_invariance-BertModel")
    probe = Probe()

    def mutate(self, module: Any, config: dict) -> None:
        def invert(bert: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
            mask = kwargs.get("attention_mask")
            if mask is not None and mask.dim() == 2:
                kwargs = {**kwargs, "attention_mask": (mask == 0).to(mask.dtype)}
            return args, kwargs

        for bert in instances(module, anchor(ref_model, "BertModel")):
            anchor(bert, "forward", params=("attention_mask",))
            bert.register_forward_pre_hook(invert, with_kwargs=True)


class MaskOnQueryAxis(KnownBad):
    description = "the padding mask is broadcast over the query axis ([b, 1, L, 1]) instead of the key axis"
    kills = ("core.forward.last_hidden_state", "numerics.float64.BertModel", "golden.model.heavy_right_padding-float64",
             "properties.padding_invariance-BertModel", "properties.masked_keys-BertModel")
    probe = Probe()

    def mutate(self, module: Any, config: dict) -> None:
        def make(original: Any) -> Any:
            def attend(query, key, value, mask, need_weights):
                given = mask.mask
                if given is not None and given.dtype == torch.bool and given.shape[-2] == 1:
                    if mask.dead_rows is not None:
                        given = given & ~mask.dead_rows  # the reference opened fully masked rows: close them
                    mask = with_dead_rows(given.transpose(-1, -2))
                return original(query, key, value, mask, need_weights)

            return attend

        for layer in attention_layers(module, cross=False):
            wrap_method(layer, "attend", make, params=ATTEND)


class HeadsTransposed(KnownBad):
    description = "heads split as [.., head_dim, heads] (and merged back the same way): wrong features per head"
    kills = ("core.forward.last_hidden_state", "numerics.float64.BertModel", "golden.model.tiny-float64")
    probe = Probe()

    def mutate(self, module: Any, config: dict) -> None:
        for layer in attention_layers(module):
            heads, size = anchor(layer, "num_attention_heads"), anchor(layer, "attention_head_size")
            wrap_method(layer, "split_heads", lambda _, h=heads, d=size: (
                lambda x: x.view(*x.shape[:-1], d, h).permute(0, 3, 1, 2)))
            wrap_method(layer, "merge_heads", lambda _: (
                lambda x: x.permute(0, 2, 3, 1).reshape(x.shape[0], x.shape[2], -1)))


class SoftmaxOverQueries(KnownBad):
    description = "attention probabilities normalised over the query axis (softmax dim -2) instead of the keys"
    kills = ("core.forward.last_hidden_state", "numerics.float64.BertModel", "golden.model.tiny-float64",
             "heads.common.attentions")
    probe = Probe()

    def mutate(self, module: Any, config: dict) -> None:
        for layer in attention_layers(module):
            wrap_method(layer, "attend", lambda _, layer=layer: softmax_over(layer, -2), params=ATTEND)


def softmax_over(layer: Any, dim: int) -> Any:
    """The reference's eager attention, with the softmax over ``dim`` (-2: the queries; also the diagnosis
    catalogue's variant)."""

    def attend(query, key, value, mask, need_weights):
        if mask.dead_rows is not None:
            query = query.masked_fill(mask.dead_rows, 0.0)
        scores = torch.matmul(query, key.transpose(-1, -2)) * layer.scaling
        allowed = mask.mask
        if allowed is None and mask.is_causal:
            allowed = torch.ones(scores.shape[-2:], dtype=torch.bool, device=scores.device).tril()
        if allowed is not None and allowed.dtype == torch.bool:
            scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
        elif allowed is not None:
            scores = scores + allowed
        weights = torch.softmax(scores, dim=dim)
        return layer.merge_heads(torch.matmul(weights, value)), weights

    return attend


class CausalOffByOne(KnownBad):
    description = "the decoder's causal mask is off by one: each position also attends to the next token"
    kills = ("decoder.causal-BertModel", "decoder.causal-BertLMHeadModel",
             "golden.lm_head.cache_steps-float64", "config.behaviour.is_decoder.causal")
    probe = Probe(config=DECODER)

    def mutate(self, module: Any, config: dict) -> None:
        if not config.get("is_decoder"):
            return
        seen = capture_attention_mask(module)

        def make(original: Any) -> Any:
            def attend(query, key, value, mask, need_weights):
                padding = seen.get("attention_mask")
                if padding is not None and padding.dim() != 2:
                    return original(query, key, value, mask, need_weights)  # a 4-D mask is used as given
                q_len, kv_len = query.shape[-2], key.shape[-2]
                query_position = torch.arange(kv_len - q_len, kv_len)[:, None]
                allowed = (torch.arange(kv_len)[None, :] <= query_position + 1)[None, None]
                if padding is not None:
                    allowed = allowed & padding.bool()[:, None, None, :]
                return original(query, key, value, with_dead_rows(allowed), need_weights)

            return attend

        for layer in attention_layers(module, cross=False):
            wrap_method(layer, "attend", make, params=ATTEND)


def change_mask_and_positions(module: Any, change: Any) -> None:
    """Make every BertModel of ``module`` call with (attention_mask, position_ids) = ``change(mask, positions)``."""

    def hook(bert: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        mask, positions = change(kwargs.get("attention_mask"), kwargs.get("position_ids"))
        return args, {**kwargs, "attention_mask": mask, "position_ids": positions}

    for bert in instances(module, anchor(ref_model, "BertModel")):
        anchor(bert, "forward", params=("attention_mask", "position_ids"))
        bert.register_forward_pre_hook(hook, with_kwargs=True)


class PackingIgnored(KnownBad):
    description = "position_ids without an attention_mask never pack sequences (transformers before 5.25)"
    kills = ("heads.common.packed_sequences", "golden.model.packed_sequences-float64")
    probe = Probe(pad="none", positions="packed")

    def mutate(self, module: Any, config: dict) -> None:
        def unpacked(mask: Any, positions: Any) -> tuple[Any, Any]:
            if mask is None and positions is not None:  # an all-ones mask means "no packing"
                mask = torch.ones(positions.shape[-1], dtype=torch.long).expand(positions.shape[0], -1)
            return mask, positions

        change_mask_and_positions(module, unpacked)


class PackingDespiteMask(KnownBad):
    description = "position_ids that restart pack sequences even when an attention_mask is given (it is dropped)"
    kills = ("heads.common.packed_sequences", "golden.model.position_ids-float64")
    probe = Probe(pad="right", positions="packed")

    def mutate(self, module: Any, config: dict) -> None:
        def packed(mask: Any, positions: Any) -> tuple[Any, Any]:
            if positions is not None and mask is not None and mask.dim() == 2:
                return None, positions
            return mask, positions

        change_mask_and_positions(module, packed)


class CrossAttentionUsesSelfKeys(KnownBad):
    description = "cross-attention takes its keys/values from the decoder's hidden states, not the encoder's"
    kills = ("golden.lm_head.cross_attention-float64", "decoder.cross_attention.mask-BertLMHeadModel",
             "config.behaviour.add_cross_attention.layers")
    probe = Probe(head="BertLMHeadModel", config={**DECODER, "add_cross_attention": True}, encoder=True)

    def mutate(self, module: Any, config: dict) -> None:
        params = ("hidden_states", "encoder_hidden_states", "mask", "cache", "need_weights")
        for layer in instances(module, anchor(ref_model, "BertCrossAttention")):
            wrap_method(layer, "forward", lambda original: (
                lambda hidden_states, encoder_hidden_states, mask, cache=None, need_weights=False: original(
                    hidden_states, hidden_states, AttentionMask(), cache, need_weights)), params=params)


MUTANTS = register(
    "attention",
    ScaleMissing,
    ScaleOneOverD,
    MaskPolarityInverted,
    MaskOnQueryAxis,
    PackingIgnored,
    PackingDespiteMask,
    HeadsTransposed,
    SoftmaxOverQueries,
    CausalOffByOne,
    CrossAttentionUsesSelfKeys,
)
__getattr__ = resolver(MUTANTS)
