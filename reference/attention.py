"""Attention masks and the attention computation (eager and sdpa), shared by self- and cross-attention.

Mask semantics are transformers v5's (masking_utils.py):
- a 2-D mask [batch, kv_len] is cast to bool: any non-zero value attends (0.5 behaves like 1)
  (heads.common.attention_mask_binary, properties.attention_mask.nonzero, properties.attention_mask.bool,
  properties.attention_mask.float);
- a 4-D mask [batch, 1, q_len, kv_len] is used as given: bool (True attends) or float (added to the scores)
  (heads.common.attention_mask_4d; transformers' eager path adds a bool one instead:
  heads.unspecified.bool_4d_mask_eager);
- a decoder adds causality, aligned to the end of the keys when a cache holds earlier tokens
  (config.behaviour.is_decoder.causal, decoder.cache.attention_mask).

Packed sequences (transformers 5.25 and later): when position_ids are given without an attention_mask (and no
cache is in use), a position that does not follow its predecessor by exactly +1 starts a new sequence, and tokens
attend only within their own sequence (a decoder: causally within it). This is how padding-free batches (several
sequences concatenated in one row, positions restarting at each) are run. Positions that always step by +1 are
one sequence, so ordinary calls are unaffected (heads.common.packed_sequences).

Fully masked query rows ("dead rows", e.g. a batch row that is all padding): transformers' eager attention adds
finfo(dtype).min to every score, which absorbs the scores and gives uniform weights 1/kv_len. The reference gives
exactly that result with both implementations, in every dtype and never NaN: it zeroes the query of a dead row
and opens its mask, so all its scores are 0. (torch's sdpa on CPU returns 0 for such rows, some GPU kernels NaN;
transformers' sdpa path therefore disagrees with its eager path there. Gradients of dead-row queries are 0.)
The spec leaves these rows open: heads.unspecified.fully_masked_rows; they occur e.g. at the first positions
of a left-padded decoder row (decoder.left_padding).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass
class AttentionMask:
    """What an attention layer needs to know about masking (all fields broadcast to [B, A, Lq, Lk])."""

    mask: Tensor | None = None  # bool (True attends) or float (additive); None: attend everywhere
    is_causal: bool = False  # causal with q_len == kv_len, to be applied when `mask` is None
    dead_rows: Tensor | None = None  # bool [.., Lq, 1]: rows with nothing to attend (given uniform weights)


def _tracing() -> bool:
    """Under tracing/export, never branch on tensor values (masks are always materialised)."""
    return torch.jit.is_tracing() or torch.compiler.is_compiling()


def _with_dead_rows(mask: Tensor) -> AttentionMask:
    dead_rows = ~mask.any(dim=-1, keepdim=True)
    if not _tracing() and not bool(dead_rows.any()):
        return AttentionMask(mask=mask)
    return AttentionMask(mask=mask | dead_rows, dead_rows=dead_rows)


def _given_4d(mask: Tensor) -> AttentionMask:
    if mask.dtype == torch.bool:
        return _with_dead_rows(mask)
    return AttentionMask(mask=mask)  # additive: the caller's numbers, used as they are


def packed_sequence_ids(position_ids: Tensor) -> Tensor | None:
    """[B, L] index of the packed sequence each token belongs to (a new one wherever a position is not the
    previous one + 1); None when every row is a single sequence."""
    steps = torch.diff(position_ids, prepend=position_ids[:, :1] - 1, dim=-1)
    sequence_ids = (steps != 1).cumsum(-1)
    if not _tracing() and not bool(sequence_ids[:, -1].any()):
        return None
    return sequence_ids


def self_attention_mask(
    attention_mask: Tensor | None,
    *,
    q_len: int,
    past_len: int,
    causal: bool,
    device: torch.device,
    packed_position_ids: Tensor | None = None,
) -> AttentionMask:
    """The self-attention mask: padding (2-D) or given (4-D), plus causality for a decoder.

    ``packed_position_ids``: the caller's position_ids [B or 1, L] when they may describe packed sequences
    (given without an attention_mask, no cache); tokens then attend only within their sequence.
    """
    if attention_mask is not None and attention_mask.dim() == 4:
        return _given_4d(attention_mask)
    if packed_position_ids is not None:  # heads.common.packed_sequences
        sequence_ids = packed_sequence_ids(packed_position_ids.to(device))
        if sequence_ids is not None:
            same_sequence = sequence_ids[:, :, None] == sequence_ids[:, None, :]
            if causal:
                same_sequence = same_sequence.tril()
            return AttentionMask(mask=same_sequence[:, None])
    # Padded keys are never attended (heads.common.masked_keys, properties.masked_keys); no mask attends
    # everywhere (heads.omitted.all_ones, properties.attention_mask.omitted).
    padding = None
    if attention_mask is not None:  # non-zero attends: properties.attention_mask.nonzero
        padding = attention_mask.to(device=device, dtype=torch.bool)
        if not _tracing() and bool(padding.all()):
            padding = None  # nothing masked: let sdpa take its fastest path
    if not causal:  # heads.common.bidirectional, decoder.not_decoder_is_bidirectional
        return AttentionMask() if padding is None else _with_dead_rows(padding[:, None, None, :])
    # heads.common.causal, decoder.causal: query i (position past_len + i) attends to keys 0 .. past_len + i.
    if padding is None and (q_len == 1 or past_len == 0) and not _tracing():
        return AttentionMask(is_causal=q_len > 1)
    kv_len = past_len + q_len
    query_position = torch.arange(past_len, kv_len, device=device)[:, None]
    key_position = torch.arange(kv_len, device=device)[None, :]
    mask = (key_position <= query_position)[None, None]
    if padding is not None:
        mask = mask & padding[:, None, None, :]
    return _with_dead_rows(mask)


def cross_attention_mask(encoder_attention_mask: Tensor | None, *, device: torch.device) -> AttentionMask:
    """The cross-attention mask over encoder positions (decoder.cross_attention.mask); None attends to all of
    them (decoder.cross_attention.mask_omitted, heads.omitted.all_ones_encoder,
    heads.common.cross_attention_mask_none)."""
    if encoder_attention_mask is None:
        return AttentionMask()
    if encoder_attention_mask.dim() == 4:
        return _given_4d(encoder_attention_mask)
    padding = encoder_attention_mask.to(device=device, dtype=torch.bool)
    if not _tracing() and bool(padding.all()):
        return AttentionMask()
    return _with_dead_rows(padding[:, None, None, :])


def attend(
    query: Tensor,
    key: Tensor,
    value: Tensor,
    mask: AttentionMask,
    *,
    scaling: float,
    dropout_p: float,
    implementation: str,
    need_weights: bool,
) -> tuple[Tensor, Tensor | None]:
    """softmax(q k^T * scaling + mask) v on [B, A, L, D] tensors; returns (context, weights or None).

    `eager` computes the weights explicitly (and returns them); `sdpa` calls torch's fused kernel; both
    compute the same function (properties.eager_vs_sdpa). With `need_weights` the eager path is used whatever
    the implementation, so attentions are always real tensors (heads.unspecified.attentions_non_eager).
    """
    if mask.dead_rows is not None:
        query = query.masked_fill(mask.dead_rows, 0.0)
    if implementation == "sdpa" and not need_weights:
        context = F.scaled_dot_product_attention(
            query, key, value, attn_mask=mask.mask, dropout_p=dropout_p, is_causal=mask.is_causal, scale=scaling
        )
        return context, None
    scores = torch.matmul(query, key.transpose(-1, -2)) * scaling
    allowed = mask.mask
    if allowed is None and mask.is_causal:
        allowed = torch.ones(scores.shape[-2:], dtype=torch.bool, device=scores.device).tril()
    if allowed is not None and allowed.dtype == torch.bool:
        scores = scores.masked_fill(~allowed, torch.finfo(scores.dtype).min)
    elif allowed is not None:
        scores = scores + allowed
    weights = torch.softmax(scores, dim=-1)
    if dropout_p > 0.0:
        weights = F.dropout(weights, p=dropout_p)
    return torch.matmul(weights, value), weights
