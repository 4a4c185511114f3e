"""How a probe's model is made: its inputs, and the edits of the oracle's seeded weights that leave one
component of BERT exercised (a skipped sub-block is ``LayerNorm(0 + h)``, a plain LayerNorm only
re-normalises, scores constant along the keys make the softmax uniform, pre-activations at +60 make every GELU
form the identity). The battery that uses them, in pipeline order, is :mod:`~bert_conformance.diagnosis.probes`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from bert_conformance.known_bad.probe import Probe as KnownBadProbe

SEQ = 7
BATCH = 2
LINEAR = 60.0  # a pre-activation offset at which every GELU form (erf, tanh, sigmoid) is exactly x in float64

Weights = dict[str, np.ndarray]
Editor = Callable[[Weights, str, dict[str, Any]], None]  # (state dict, "bert." or "", config) -> None


# --- inputs ---------------------------------------------------------------------------------------------------


def plain_inputs(config: dict[str, Any]) -> dict[str, np.ndarray]:
    """Distinct random ids, random token types, no attention_mask (so mask bugs cannot show before the mask
    probes), positions omitted."""
    rng = np.random.default_rng(1)
    ids = np.stack([rng.permutation(np.arange(1, config["vocab_size"]))[:SEQ] for _ in range(BATCH)])
    types = rng.integers(0, config["type_vocab_size"], size=(BATCH, SEQ))
    return {"input_ids": ids.astype(np.int64), "token_type_ids": types.astype(np.int64)}


def padded_inputs(config: dict[str, Any], *, form: str = "int") -> dict[str, np.ndarray]:
    """The plain inputs with the LAST row right-padded (row 0 full) and an explicit mask of ``form``."""
    inputs = plain_inputs(config)
    mask = np.ones((BATCH, SEQ), dtype=np.int64)
    mask[-1, SEQ - 3:] = 0
    inputs["input_ids"] = np.where(mask == 0, config["pad_token_id"], inputs["input_ids"])
    if form == "float":
        inputs["attention_mask"] = mask.astype(np.float64)
    elif form == "nonbinary":
        inputs["attention_mask"] = mask * 2
    else:
        inputs["attention_mask"] = mask
    return inputs


def without(name: str, make: Callable = plain_inputs) -> Callable[[dict[str, Any]], dict[str, np.ndarray]]:
    return lambda config: {k: v for k, v in make(config).items() if k != name}


def with_position_ids(config: dict[str, Any]) -> dict[str, np.ndarray]:
    inputs = plain_inputs(config)
    inputs["position_ids"] = np.stack([np.arange(SEQ)[::-1] + 3, np.arange(SEQ) + 10]).astype(np.int64)
    return inputs


def packed_inputs(config: dict[str, Any], *, mask: bool = False) -> dict[str, np.ndarray]:
    inputs = plain_inputs(config)
    inputs["position_ids"] = np.tile(np.r_[np.arange(3), np.arange(SEQ - 3)], (BATCH, 1)).astype(np.int64)
    if mask:
        inputs["attention_mask"] = np.ones((BATCH, SEQ), dtype=np.int64)
    return inputs


def embeds_inputs(config: dict[str, Any]) -> dict[str, np.ndarray]:
    inputs = without("input_ids")(config)
    rng = np.random.default_rng(2)
    inputs["inputs_embeds"] = rng.standard_normal((BATCH, SEQ, config["hidden_size"]))
    return inputs


def encoder_inputs(config: dict[str, Any], *, encoder_mask: bool = True) -> dict[str, np.ndarray]:
    inputs = padded_inputs(config)
    rng = np.random.default_rng(3)
    inputs["encoder_hidden_states"] = rng.standard_normal((BATCH, 5, config["hidden_size"]))
    if encoder_mask:
        inputs["encoder_attention_mask"] = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=np.int64)
    return inputs


def labelled(head: str) -> Callable[[dict[str, Any]], dict[str, np.ndarray]]:
    """The corpus probes' labelled inputs for ``head`` (masked-LM style -100s, QA positions out of range)."""
    def make(config: dict[str, Any]) -> dict[str, np.ndarray]:
        return KnownBadProbe(head=head, config=config, labels=True, dtype="float64").inputs()

    return make


def choice_inputs(config: dict[str, Any]) -> dict[str, np.ndarray]:
    inputs = plain_inputs(config)
    return {k: np.stack([v, v[::-1], np.roll(v, 1, axis=1)], axis=1) for k, v in inputs.items()}


def token_labels(config: dict[str, Any]) -> dict[str, np.ndarray]:
    """A class at every position, padded ones included (the loss must still count them: only -100 is ignored)."""
    inputs = padded_inputs(config)
    inputs["labels"] = np.random.default_rng(4).integers(0, config.get("num_labels", 2), size=(BATCH, SEQ))
    return inputs


def regression_labels(config: dict[str, Any]) -> dict[str, np.ndarray]:
    """Float targets of shape [batch] for a single-output regression."""
    inputs = plain_inputs(config)
    inputs["labels"] = np.array([0.5, -1.25])
    return inputs


def all_ignored(config: dict[str, Any]) -> dict[str, np.ndarray]:
    inputs = plain_inputs(config)
    inputs["labels"] = np.full((BATCH, SEQ), -100, dtype=np.int64)
    return inputs


# --- weight surgery ---------------------------------------------------------------------------------------------


def _layer(p: str) -> str:
    return f"{p}encoder.layer.0."


def zero(w: Weights, *keys: str) -> None:
    for key in keys:
        w[key] = np.zeros_like(w[key])


def plain_norm(w: Weights, name: str) -> None:
    """LayerNorm weight 1, bias 0: it only re-normalises (an already normalised input passes through)."""
    w[f"{name}.weight"] = np.ones_like(w[f"{name}.weight"])
    w[f"{name}.bias"] = np.zeros_like(w[f"{name}.bias"])


def skip_attention(w: Weights, p: str) -> None:
    """The attention block becomes LayerNorm(0 + h): its scores, mask, heads and projections cannot show."""
    layer = _layer(p)
    zero(w, f"{layer}attention.output.dense.weight", f"{layer}attention.output.dense.bias")
    plain_norm(w, f"{layer}attention.output.LayerNorm")


def skip_ffn(w: Weights, p: str) -> None:
    """The feed-forward block becomes LayerNorm(0 + a): its activation and projections cannot show."""
    layer = _layer(p)
    zero(w, f"{layer}output.dense.weight", f"{layer}output.dense.bias")
    plain_norm(w, f"{layer}output.LayerNorm")


def symmetric(w: Weights, key: str, scale: float = 1.0) -> None:
    """A symmetric weight: a port that uses W instead of W^T computes the same (transposition cannot show)."""
    m = w[key]
    w[key] = scale * (m + m.T) / 2


def edits(*steps: Callable[[Weights, str, dict], None]) -> Editor:
    def edit(w: Weights, p: str, config: dict[str, Any]) -> None:
        for step in steps:
            step(w, p, config)

    return edit


def passthrough(w: Weights, p: str, config: dict) -> None:
    skip_attention(w, p)
    skip_ffn(w, p)


def only_table(keep: str) -> Callable[[Weights, str, dict], None]:
    """Zero every embedding table but ``keep`` (word / position / token_type)."""
    def step(w: Weights, p: str, config: dict) -> None:
        for table in ("word", "position", "token_type"):
            key = f"{p}embeddings.{table}_embeddings.weight"
            if table != keep:
                w[key] = np.zeros_like(w[key])

    return step


def unit_tables(w: Weights, p: str, config: dict) -> None:
    """Embedding rows of unit scale, so LayerNorm's eps matters at 1e-6 relative (not drowned)."""
    key = f"{p}embeddings.word_embeddings.weight"
    w[key] = np.random.default_rng(5).standard_normal(w[key].shape)


def plain_embedding_norm(w: Weights, p: str, config: dict) -> None:
    plain_norm(w, f"{p}embeddings.LayerNorm")


def attention_norm_regime(w: Weights, p: str, config: dict) -> None:
    """The attention block's LayerNorm sees inputs with a mean (the embeddings' LayerNorm bias +1) and applies
    an uneven weight and a bias: a norm that skips the mean subtraction (RMSNorm) shows, which the following
    plain LayerNorm would otherwise undo (LayerNorm ignores a per-token scale)."""
    w[f"{p}embeddings.LayerNorm.bias"] = np.ones_like(w[f"{p}embeddings.LayerNorm.bias"])
    rng = np.random.default_rng(7)
    norm = f"{_layer(p)}attention.output.LayerNorm"
    w[f"{norm}.weight"] = 1 + 0.5 * rng.standard_normal(w[f"{norm}.weight"].shape)
    w[f"{norm}.bias"] = 0.1 * rng.standard_normal(w[f"{norm}.bias"].shape)


def residual_markers(w: Weights, p: str, config: dict) -> None:
    """Distinct LayerNorm biases after each skipped block: a block that drops its residual outputs a constant."""
    layer = _layer(p)
    rng = np.random.default_rng(6)
    w[f"{layer}attention.output.LayerNorm.bias"] = rng.standard_normal(config["hidden_size"])
    w[f"{layer}output.LayerNorm.bias"] = rng.standard_normal(config["hidden_size"]) + 3.0


def uniform_scores(w: Weights, p: str, config: dict) -> None:
    """Query and key projections zero: every score is 0, attention is the mean of the values."""
    layer = _layer(p)
    zero(w, *(f"{layer}attention.self.{n}.{t}" for n in ("query", "key") for t in ("weight", "bias")))


def wide_values(w: Weights, p: str, config: dict) -> None:
    """The embeddings' LayerNorm scaled by 8: the value projection's inputs span about +-25, not +-3 (a
    quantized port's activation range must cover them; a float port computes the same maths)."""
    w[f"{p}embeddings.LayerNorm.weight"] = w[f"{p}embeddings.LayerNorm.weight"] * 8


def query_only_scores(w: Weights, p: str, config: dict) -> None:
    """Key weight zero (key = its bias for every token): scores constant along the key axis, so the softmax over
    the keys is uniform whatever the scale; over the queries it is not. Symmetric query weight."""
    layer = _layer(p)
    zero(w, f"{layer}attention.self.key.weight")
    w[f"{layer}attention.self.key.bias"] = np.random.default_rng(7).standard_normal(config["hidden_size"])
    symmetric(w, f"{layer}attention.self.query.weight", 3.0)


def head_aligned_keys(w: Weights, p: str, config: dict) -> None:
    """Scores constant along the keys within each true head, but not within a wrongly split head.

    Query = its bias q (weight zero). Within each head, features come in pairs (2i, 2i+1) with q = (a, -a) and
    identical key weight rows and biases: their contributions cancel exactly (also in the float32 weights), so
    per true head every key gets the same score: uniform attention whatever the scale or softmax axis. Features
    grouped into heads any other way (e.g. [.., head_dim, heads]) separate the pairs and do not cancel.
    """
    layer = _layer(p)
    hidden = config["hidden_size"]
    rng = np.random.default_rng(8)
    pairs = rng.standard_normal(hidden // 2) * 2
    q = np.stack([pairs, -pairs], axis=1).reshape(hidden)
    zero(w, f"{layer}attention.self.query.weight")
    w[f"{layer}attention.self.query.bias"] = q
    for name in ("weight", "bias"):
        key = f"{layer}attention.self.key.{name}"
        w[key] = np.repeat(w[key][0::2] * 2, 2, axis=0)


def symmetric_qk(scale: float) -> Callable[[Weights, str, dict], None]:
    def step(w: Weights, p: str, config: dict) -> None:
        layer = _layer(p)
        for name in ("query", "key"):
            symmetric(w, f"{layer}attention.self.{name}.weight", scale)

    return step


def sharp_qk(w: Weights, p: str, config: dict) -> None:
    layer = _layer(p)
    for name in ("query", "key"):
        key = f"{layer}attention.self.{name}.weight"
        w[key] = w[key] * 2.5


def linear_regime(w: Weights, p: str, config: dict) -> None:
    """Pre-activations around +60: erf, tanh and sigmoid GELU, SiLU and ReLU are all exactly x there."""
    layer = _layer(p)
    w[f"{layer}intermediate.dense.bias"] = w[f"{layer}intermediate.dense.bias"] + LINEAR


def wide_activation(w: Weights, p: str, config: dict) -> None:
    """Pre-activations spread over about [-4, 4]: where GELU approximations differ most."""
    layer = _layer(p)
    key = f"{layer}intermediate.dense.weight"
    w[key] = w[key] * 3.0


def identity_transform(w: Weights, p: str, config: dict) -> None:
    """The masked-LM transform as the identity on normalised states: dense = I, bias +60 (linear activation
    regime), LayerNorm plain, so LayerNorm(x + 60) = x: only the decoder (weights and bias) can show."""
    name = "cls.predictions.transform"
    w[f"{name}.dense.weight"] = np.eye(config["hidden_size"])
    w[f"{name}.dense.bias"] = np.full(config["hidden_size"], LINEAR)
    plain_norm(w, f"{name}.LayerNorm")


def mean_free_words(w: Weights, p: str, config: dict) -> None:
    """Word-embedding (and untied decoder) rows with zero mean: the decoder then ignores any constant added to its input, so a
    transform whose LayerNorm is skipped (x + 60 instead of x) cannot show in the decoder probe."""
    for key in (f"{p}embeddings.word_embeddings.weight", "cls.predictions.decoder.weight"):
        if key in w:  # the untied decoder has its own weight
            half = w[key][:, : w[key].shape[1] // 2]
            w[key] = np.concatenate([half, -half], axis=1)  # exactly zero-sum rows, also in float32


def plain_final_norm(w: Weights, p: str) -> None:
    plain_norm(w, f"{_layer(p)}output.LayerNorm")


# --- the battery's shared steps ---------------------------------------------------------------------------------


def ffn_skipped(w: Weights, p: str, config: dict) -> None:
    """The attention probes' common step: the feed-forward block passes its input through."""
    skip_ffn(w, p)


def attention_skipped(w: Weights, p: str, config: dict) -> None:
    """The feed-forward probes' common step: the attention block passes its input through."""
    skip_attention(w, p)


def past_holes(config: dict[str, Any]) -> dict[str, np.ndarray]:
    """The plain inputs with a mask that hides two positions of the last row early on: once those positions
    are in the cache, the mask over past + current positions must still hide them."""
    inputs = plain_inputs(config)
    mask = np.ones((BATCH, SEQ), dtype=np.int64)
    mask[-1, 1:3] = 0
    return {**inputs, "attention_mask": mask}


def normalised_output(w: Weights, p: str, config: dict) -> None:
    """The heads' probes: encoder outputs normalised (weight 1, bias 0), as the identity transform expects."""
    plain_final_norm(w, p)
