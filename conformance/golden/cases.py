"""The golden cases: one small function per case, like ONNX's backend case files.

Each function gets a seeded numpy Generator for its inputs and returns a :class:`CaseSpec`: what to build
(head, config), what to feed it (inputs, forward options, decoder steps) and which spec clauses it serves.
The weights are drawn from ``default_rng(seed)`` (weights.py), the inputs from ``default_rng([seed, 1])``.
Expected values are not here: the generator computes them with the reference oracle and cross-checks them
with transformers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..case import tiny_config
from .files import CASE_ID_PATTERN
from .weights import float32_grid

I64 = np.int64


@dataclass(frozen=True)
class CaseSpec:
    """A golden case before its expected values are computed."""

    description: str
    head: str
    config: dict[str, Any]
    inputs: dict[str, np.ndarray]
    clauses: tuple[str, ...]
    options: dict[str, Any] = field(default_factory=dict)
    # Decoder steps after the prefix in ``inputs``; each is fed with the cache of the step before.
    steps: tuple[dict[str, np.ndarray], ...] = ()
    gradients: bool = False
    # Real checkpoint: weights come from an installed package, verified by sha256 (see minilm.py).
    external: dict[str, Any] | None = None
    case_id: str = ""  # filled in by the registry
    seed: int = 0  # filled in by the registry


CaseFn = Callable[[np.random.Generator], CaseSpec]
CASES: dict[str, tuple[int, CaseFn]] = {}


def case(case_id: str, seed: int) -> Callable[[CaseFn], CaseFn]:
    """Register a case function under its id and seed (both unique)."""

    def register(fn: CaseFn) -> CaseFn:
        if not CASE_ID_PATTERN.fullmatch(case_id):  # the id is a file name: verify refuses any other
            raise ValueError(f"golden case {case_id!r}: not lowercase words joined by dots (e.g. model.tiny)")
        if case_id in CASES or seed in {s for s, _ in CASES.values()}:
            raise ValueError(f"golden case {case_id!r}: duplicate id or seed {seed}")
        CASES[case_id] = (seed, fn)
        return fn

    return register


def build(case_id: str) -> CaseSpec:
    """Run a case function; the result carries its id and seed."""
    seed, fn = CASES[case_id]
    return replace(fn(np.random.default_rng([seed, 1])), case_id=case_id, seed=seed)


# --------------------------------------------------------------------------------------------- configs


def config(**overrides: Any) -> dict[str, Any]:
    """A full BERT config (every BertConfig field written out), tiny by default."""
    # the clause suite's tiny config (every BertConfig field), smaller still: fixtures stay a few KB
    base = tiny_config(vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                       intermediate_size=24, max_position_embeddings=16)
    unknown = set(overrides) - set(base) - {"num_labels", "problem_type"}
    if unknown:
        raise ValueError(f"unknown config fields {sorted(unknown)}")
    return {**base, **overrides}


def two_layers(**overrides: Any) -> dict[str, Any]:
    """tiny with 2 layers and 4 heads (head_dim 4): layer stacking, per-layer caches."""
    return config(num_hidden_layers=2, num_attention_heads=4, **overrides)


def small(**overrides: Any) -> dict[str, Any]:
    """hidden 32, 2 layers, 4 heads, intermediate 37 (the HF model tester's size), vocab 100."""
    return config(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=37, **overrides)


# ---------------------------------------------------------------------------------------------- inputs


def token_ids(rng: np.random.Generator, cfg: dict[str, Any], *shape: int) -> np.ndarray:
    """Ids in [1, vocab): never the pad id, so padding is only where the mask says."""
    return rng.integers(1, cfg["vocab_size"], size=shape, dtype=I64)


def right_padded(rng: np.random.Generator, cfg: dict[str, Any], lengths: list[int], seq: int):
    """(input_ids, attention_mask) with row i real for lengths[i] tokens, then pad_token_id / mask 0."""
    ids = token_ids(rng, cfg, len(lengths), seq)
    mask = (np.arange(seq)[None, :] < np.asarray(lengths)[:, None]).astype(I64)
    ids[mask == 0] = cfg["pad_token_id"]
    return ids, mask


def token_types(rng: np.random.Generator, cfg: dict[str, Any], *shape: int) -> np.ndarray:
    return rng.integers(0, cfg["type_vocab_size"], size=shape, dtype=I64)


def lm_labels(rng: np.random.Generator, cfg: dict[str, Any], mask: np.ndarray) -> np.ndarray:
    """Token labels with -100 on padding and on about half of the real positions."""
    labels = token_ids(rng, cfg, *mask.shape)
    labels[(mask == 0) | (rng.random(mask.shape) < 0.5)] = -100
    labels[:, 0] = token_ids(rng, cfg, mask.shape[0])  # at least one real label per row
    return labels


# ---------------------------------------------------------------------------- BertModel: configs, masks


@case("model.tiny", seed=1)
def model_tiny(rng: np.random.Generator) -> CaseSpec:
    cfg = config()
    return CaseSpec(
        "BertModel, 1 layer, hidden 16: only input_ids (token types, positions and mask take their defaults)",
        "BertModel", cfg, {"input_ids": token_ids(rng, cfg, 2, 6)},
        ("heads.BertModel.outputs.last_hidden_state", "heads.BertModel.outputs.pooler_output",
         "heads.omitted.zeros", "heads.omitted.arange_past_offset", "heads.omitted.all_ones",
         "heads.common.embeddings", "heads.common.pooler_first_token"),
    )


@case("model.small", seed=2)
def model_small(rng: np.random.Generator) -> CaseSpec:
    cfg = small()
    ids, mask = right_padded(rng, cfg, [8, 6, 3], 8)
    return CaseSpec(
        "BertModel, 2 layers, hidden 32: padded batch with token types, hidden states and attentions",
        "BertModel", cfg,
        {"input_ids": ids, "attention_mask": mask, "token_type_ids": token_types(rng, cfg, 3, 8)},
        ("heads.BertModel.outputs.hidden_states", "heads.BertModel.outputs.attentions",
         "heads.common.hidden_states", "heads.common.attentions", "heads.common.masked_keys",
         "heads.kwargs.output_hidden_states", "heads.kwargs.output_attentions"),
        options={"output_hidden_states": True, "output_attentions": True},
    )


def _activation_case(act: str) -> CaseFn:
    def activation(rng: np.random.Generator) -> CaseSpec:
        cfg = config(hidden_act=act)
        ids, mask = right_padded(rng, cfg, [7, 4], 7)
        return CaseSpec(
            f"BertForMaskedLM with hidden_act={act!r} (the FFN and the MLM transform)",
            "BertForMaskedLM", cfg, {"input_ids": ids, "attention_mask": mask},
            (f"config.hidden_act.{act}", "heads.BertForMaskedLM.outputs.logits"),
            options={"output_hidden_states": True},
        )

    return activation


for _seed, _act in enumerate(("gelu", "gelu_new", "relu", "silu", "tanh", "gelu_pytorch_tanh"), start=10):
    case(f"masked_lm.act.{_act}", seed=_seed)(_activation_case(_act))


@case("model.layer_norm_eps", seed=3)
def model_layer_norm_eps(rng: np.random.Generator) -> CaseSpec:
    cfg = config(layer_norm_eps=1e-3)
    return CaseSpec(
        "BertModel with layer_norm_eps=1e-3 (every LayerNorm must use it)",
        "BertModel", cfg, {"input_ids": token_ids(rng, cfg, 2, 5)},
        ("config.default.layer_norm_eps", "heads.common.embeddings"), options={"output_hidden_states": True},
    )


@case("model.type_vocab_4", seed=4)
def model_type_vocab_4(rng: np.random.Generator) -> CaseSpec:
    cfg = config(type_vocab_size=4)
    types = np.array([[0, 1, 2, 3, 3, 2], [3, 3, 1, 0, 2, 1]], dtype=I64)
    return CaseSpec(
        "BertModel with type_vocab_size=4 and token types 0..3",
        "BertModel", cfg, {"input_ids": token_ids(rng, cfg, 2, 6), "token_type_ids": types},
        ("config.default.type_vocab_size", "heads.common.embeddings"),
    )


@case("model.heavy_right_padding", seed=5)
def model_heavy_right_padding(rng: np.random.Generator) -> CaseSpec:
    cfg = small()
    ids, mask = right_padded(rng, cfg, [16, 9, 2, 1], 16)
    return CaseSpec(
        "BertModel, batch 4 x 16 with rows of 16, 9, 2 and 1 real tokens",
        "BertModel", cfg, {"input_ids": ids, "attention_mask": mask},
        ("heads.common.masked_keys", "heads.common.padding_invariance", "heads.unspecified.padded_query_positions"),
        options={"output_hidden_states": True},
    )


@case("model.fully_padded_row", seed=6)
def model_fully_padded_row(rng: np.random.Generator) -> CaseSpec:
    cfg = two_layers()
    ids, mask = right_padded(rng, cfg, [5, 0], 5)
    return CaseSpec(
        "BertModel with a row whose mask is all zeros: only row 0 is specified, and it must not change",
        "BertModel", cfg, {"input_ids": ids, "attention_mask": mask},
        ("heads.unspecified.fully_masked_rows", "heads.unspecified.pooler_padded_first_token"),
        options={"output_attentions": True},
    )


@case("model.seq_len_1", seed=7)
def model_seq_len_1(rng: np.random.Generator) -> CaseSpec:
    cfg = two_layers()
    return CaseSpec(
        "BertModel with sequence length 1", "BertModel", cfg, {"input_ids": token_ids(rng, cfg, 3, 1)},
        ("heads.BertModel.outputs.last_hidden_state", "heads.BertModel.outputs.pooler_output"),
    )


@case("model.seq_len_max", seed=8)
def model_seq_len_max(rng: np.random.Generator) -> CaseSpec:
    cfg = two_layers()
    return CaseSpec(
        "BertModel with sequence length == max_position_embeddings (16)",
        "BertModel", cfg, {"input_ids": token_ids(rng, cfg, 2, 16)},
        ("config.default.max_position_embeddings", "heads.omitted.arange_past_offset"),
    )


@case("model.inputs_embeds", seed=9)
def model_inputs_embeds(rng: np.random.Generator) -> CaseSpec:
    cfg = two_layers()
    _, mask = right_padded(rng, cfg, [6, 4], 6)
    return CaseSpec(
        "BertModel fed inputs_embeds (float64 [2, 6, 16]) instead of input_ids",
        "BertModel", cfg, {"inputs_embeds": float32_grid(rng.standard_normal((2, 6, 16))), "attention_mask": mask},
        ("heads.common.inputs_embeds_equivalence", "heads.common.embeddings"),
    )


@case("model.position_ids", seed=20)
def model_position_ids(rng: np.random.Generator) -> CaseSpec:
    cfg = two_layers()
    positions = np.array([[15, 3, 7, 0, 9], [1, 2, 3, 4, 5]], dtype=I64)
    ids = token_ids(rng, cfg, 2, 5)
    return CaseSpec(
        "BertModel with explicit, non-monotonic position_ids and an all-ones attention_mask (which rules out "
        "packed sequences: the positions only select position embeddings)",
        "BertModel", cfg, {"input_ids": ids, "attention_mask": np.ones_like(ids), "position_ids": positions},
        ("heads.common.embeddings", "heads.common.packed_sequences"),
    )


@case("model.packed_sequences", seed=21)
def model_packed_sequences(rng: np.random.Generator) -> CaseSpec:
    cfg = two_layers()
    positions = np.array([[0, 1, 2, 0, 1, 2, 3], [0, 1, 0, 1, 2, 3, 4]], dtype=I64)
    return CaseSpec(
        "BertModel with position_ids restarting at 0 and no attention_mask: rows of two packed sequences, each "
        "attending only to itself (transformers >= 5.25)",
        "BertModel", cfg, {"input_ids": token_ids(rng, cfg, 2, 7), "position_ids": positions},
        ("heads.common.packed_sequences",),
    )
