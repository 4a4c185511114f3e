"""Which entries of a golden output the spec specifies.

Goldens store the reference's value everywhere, but the spec leaves some entries open
(``heads.unspecified.*``): values at padded query positions, attention rows with no attended key, and the
pooled output of a row whose first position is padding. A consumer compares only where
:func:`specified_mask` is True; the rest is the reference's choice, not a requirement.
"""

from __future__ import annotations

from typing import Any

import numpy as np

# Heads whose `logits` are per position ([batch, seq, ...]); the others' come from the pooled first token.
PER_POSITION_LOGITS = ("BertForMaskedLM", "BertLMHeadModel", "BertForTokenClassification")
POOLED = ("pooler_output", "seq_relationship_logits")


def specified_mask(head: str, config: dict[str, Any], inputs: dict[str, np.ndarray], name: str,
                   shape: tuple[int, ...]) -> np.ndarray:
    """Boolean array of ``shape``: True where the spec specifies output ``name`` for these inputs."""
    mask = inputs.get("attention_mask")
    everything = np.ones(shape, dtype=bool)
    if mask is None:
        return everything
    keys = np.asarray(mask).reshape(-1, np.shape(mask)[-1]) != 0  # [rows, past + seq] (choices flattened)
    seq = _seq_len(inputs)
    query = keys[:, -seq:]  # the current call's positions
    group = name.partition(".")[0]
    if name in ("loss", "hidden_states.0"):
        return everything  # hidden_states.0 is the embedding output: specified at every position
    if group == "cache":
        # Layer 0 keys/values come from the embedding output, cross keys/values from the encoder: specified.
        # Deeper self-attention keys/values come from hidden states at padded positions: unspecified there.
        if int(name.split(".")[1]) == 0 or name.endswith(("cross_key", "cross_value")):
            return everything
        return np.broadcast_to(keys[:, None, :, None], shape)
    if group in ("last_hidden_state", "hidden_states", "prediction_logits", "start_logits", "end_logits") or (
        group == "logits" and head in PER_POSITION_LOGITS
    ):
        return np.broadcast_to(query.reshape(query.shape + (1,) * (len(shape) - 2)), shape)
    if group in ("attentions", "cross_attentions"):
        rows = query[:, None, :, None]
        if group == "attentions":  # a row with no attended key is unspecified (heads.unspecified.fully_masked_rows)
            rows = rows & _attended_keys(config, keys, seq).any(-1)[:, None, :, None]
        return np.broadcast_to(rows, shape)
    if group in POOLED or group == "logits":  # heads.unspecified.pooler_padded_first_token
        first = (np.asarray(mask)[..., 0] != 0).reshape(shape[: np.ndim(mask) - 1])
        return np.broadcast_to(first.reshape(first.shape + (1,) * (len(shape) - first.ndim)), shape)
    return everything


def _seq_len(inputs: dict[str, np.ndarray]) -> int:
    if "input_ids" in inputs:
        return int(np.shape(inputs["input_ids"])[-1])
    return int(np.shape(inputs["inputs_embeds"])[-2])


def _attended_keys(config: dict[str, Any], keys: np.ndarray, seq: int) -> np.ndarray:
    """[rows, seq, past + seq]: which keys each current query may attend (mask, and causality for decoders)."""
    total = keys.shape[-1]
    allowed = np.broadcast_to(keys[:, None, :], (keys.shape[0], seq, total))
    if config.get("is_decoder", False):
        positions = np.arange(total - seq, total)[:, None]  # query positions, offset by the cache length
        allowed = allowed & (np.arange(total)[None, :] <= positions)[None]
    return allowed
