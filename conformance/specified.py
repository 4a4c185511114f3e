"""Which entries of an output the spec specifies, for one call.

A correct port's outputs are not specified everywhere (spec/heads.yaml ``unspecified``): values at padded query
positions (``padded_query_positions``), self-attention rows with no attended key (``fully_masked_rows``), the
pooled output of a row whose first position is padding (``pooler_padded_first_token``). Every comparison with
expected values (the clause modules, golden consumers) compares only where :func:`specified` is True; the rest
is the reference's choice, not a requirement. An output's query axis is where its heads.yaml shape names ``seq``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bert_conformance.spec import load_spec


def attended(mask: Any, shape: tuple[int, int]) -> np.ndarray:
    """bool [rows, seq]: the query positions a call attends (choices flattened into rows; of a cached call's
    [rows, past + seq] mask, the last seq columns); all True when the mask is omitted (None)."""
    if mask is None:
        return np.ones(shape, dtype=bool)
    seq = shape[-1]
    return np.asarray(mask)[..., -seq:].reshape(-1, seq) != 0


def per_position(head: str, name: str) -> bool:
    """Whether output ``name`` of ``head`` has a query-position axis (its heads.yaml shape names ``seq``)."""
    return "seq" in load_spec().heads.head(head).output(name).shape


def specified(
    head: str, name: str, shape: tuple[int, ...], inputs: Mapping[str, Any], *, decoder: bool = False
) -> np.ndarray:
    """bool of ``shape``: True where the spec specifies output ``name`` of ``head`` for a call with ``inputs``.

    ``name`` is an output name, or ``<name>.<index>`` for one entry of a list output as golden files name them:
    ``hidden_states.0`` (the embedding output) is specified at every position, ``cache.<layer>.<tensor>`` where
    its keys are. ``inputs`` are the call's arguments: ``attention_mask`` ([batch, past + seq] or [batch,
    choices, seq]; omitted: everything is specified) and ``input_ids`` or ``inputs_embeds`` (this call's seq;
    without them the mask's width). ``decoder``: queries attend causally (which attention rows have a key).
    A mask, not a gather, so mismatches keep the output's coordinates.
    """
    mask = inputs.get("attention_mask")
    everything = np.ones(shape, dtype=bool)
    if mask is None or name in ("loss", "hidden_states.0"):
        return everything
    keys = np.asarray(mask).reshape(-1, np.shape(mask)[-1]) != 0  # [rows, past + seq] (choices flattened)
    query = keys[:, -_seq_len(inputs, keys.shape[-1]) :]  # this call's positions
    group, _, entry = name.partition(".")
    if group == "cache":
        # Layer 0 keys/values come from the embedding output, cross keys/values from the encoder: specified.
        # Deeper self-attention keys/values come from hidden states at padded positions: unspecified there.
        if int(entry.partition(".")[0]) == 0 or name.endswith(("cross_key", "cross_value")):
            return everything
        return np.broadcast_to(keys[:, None, :, None], shape)
    spec_shape = list(load_spec().heads.head(head).output(group).shape)
    if "seq" not in spec_shape:  # pooled from each row's first position
        first = query[:, :1]
        return np.broadcast_to(first, (len(first), int(np.prod(shape)) // len(first))).reshape(shape)
    rows = query
    if group == "attentions":  # a row with no attended key is unspecified
        rows = rows & _attended_keys(keys, query.shape[-1], decoder).any(-1)
    axis = spec_shape.index("seq")
    return np.broadcast_to(rows.reshape(len(rows), *(1,) * (axis - 1), -1, *(1,) * (len(shape) - axis - 1)), shape)


def _seq_len(inputs: Mapping[str, Any], default: int) -> int:
    if "input_ids" in inputs:
        return int(np.shape(inputs["input_ids"])[-1])
    if "inputs_embeds" in inputs:
        return int(np.shape(inputs["inputs_embeds"])[-2])
    return default


def _attended_keys(keys: np.ndarray, seq: int, decoder: bool) -> np.ndarray:
    """[rows, seq, past + seq]: which keys each current query may attend (mask, and causality for decoders)."""
    total = keys.shape[-1]
    allowed = np.broadcast_to(keys[:, None, :], (keys.shape[0], seq, total))
    if decoder:
        positions = np.arange(total - seq, total)[:, None]  # query positions, offset by the cache length
        allowed = allowed & (np.arange(total)[None, :] <= positions)[None]
    return allowed
