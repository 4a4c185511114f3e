"""A tiny BERT case: the tiny config, deterministic inputs, and a port model paired with the oracle.

The clause fixtures (:mod:`bert_conformance.fixtures`: ``tiny_config``, ``make_inputs``, ``load_case``) hand these
out; a port's own clause tests may import them from here too (docs/adapters.md, "Writing clause modules").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bert_conformance.adapter import CheckedModel
from bert_conformance.oracle import Oracle

# Small enough for 2 shared cores, big enough that heads and layers are not degenerate. Every BertConfig
# field is explicit, so a port is judged on computing BERT, not on knowing the defaults (test_config's job).
TINY_CONFIG: dict[str, Any] = {
    "vocab_size": 99,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 64,
    "type_vocab_size": 2,
    "initializer_range": 0.02,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
    "use_cache": True,
    "classifier_dropout": None,
    "is_decoder": False,
    "add_cross_attention": False,
    "bos_token_id": None,
    "eos_token_id": None,
    "tie_word_embeddings": True,
}


def tiny_config(**overrides: Any) -> dict[str, Any]:
    """A fresh copy of :data:`TINY_CONFIG` with ``overrides`` (HF config.json keys)."""
    return {**TINY_CONFIG, **overrides}


def make_inputs(
    config: dict[str, Any], *, batch: int = 2, seq: int = 7, seed: int = 0, pad: bool = True
) -> dict[str, np.ndarray]:
    """``input_ids``, ``token_type_ids``, ``attention_mask`` (int64 [batch, seq]) drawn from a seeded Generator.

    With ``pad`` (and batch > 1) the last row is right-padded over its last third: mask 0, id ``pad_token_id``.
    """
    rng = np.random.default_rng(seed)
    input_ids = rng.integers(1, config["vocab_size"], size=(batch, seq), dtype=np.int64)
    token_type_ids = rng.integers(0, config["type_vocab_size"], size=(batch, seq), dtype=np.int64)
    attention_mask = np.ones((batch, seq), dtype=np.int64)
    if pad and batch > 1 and seq > 1:
        attention_mask[-1, seq - max(1, seq // 3) :] = 0
        input_ids[attention_mask == 0] = config.get("pad_token_id") or 0
    return {"input_ids": input_ids, "token_type_ids": token_type_ids, "attention_mask": attention_mask}


def run_in_pieces(forward: Callable[..., dict[str, Any]], batch: dict[str, np.ndarray], cuts: Sequence[int], *,
                  mask: np.ndarray | None = None, **options: Any) -> list[dict[str, Any]]:
    """The outputs of ``forward`` on positions [0, c1), [c1, c2), ... of ``batch``, each call handed the previous
    one's ``cache`` (``use_cache=True``); ``mask`` [batch, seq], if given, is passed over past + current positions."""
    steps: list[dict[str, Any]] = []
    cache = None
    bounds = [0, *cuts, batch["input_ids"].shape[1]]
    for start, end in zip(bounds, bounds[1:]):
        piece = {name: value[:, start:end] for name, value in batch.items() if name != "attention_mask"}
        if mask is not None:
            piece["attention_mask"] = mask[:, :end]
        outputs = forward(piece, use_cache=True, **({"cache": cache} if cache is not None else {}), **options)
        cache = outputs.get("cache")
        if cache is None:  # raised, not asserted: the diagnosis calls this outside pytest too
            raise AssertionError(f"call on positions [{start}, {end}) with use_cache=True returned no cache")
        steps.append(outputs)
    return steps


@dataclass
class Case:
    """One model loaded into the port, and the oracle for the same (head, config, weights)."""

    head: str
    config: dict[str, Any]
    state_dict: dict[str, np.ndarray]
    dtype: str
    model: CheckedModel
    oracle: Oracle

    def run(self, inputs: dict[str, np.ndarray], **options: Any) -> dict[str, Any]:
        """The port's outputs (checked at the boundary: numpy arrays of ``dtype``)."""
        return self.model.forward(inputs, **options)

    def expected(self, inputs: dict[str, np.ndarray], **options: Any) -> dict[str, Any]:
        """The oracle's outputs (float64, read-only)."""
        return self.oracle.forward(self.head, self.config, self.state_dict, inputs, **options)

    def gradients(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.model.gradients(inputs)

    def expected_gradients(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.oracle.gradients(self.head, self.config, self.state_dict, inputs)
