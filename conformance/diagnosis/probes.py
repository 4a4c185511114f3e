"""The probe battery: small model calls that each exercise ONE component of BERT.

A :class:`Probe` is a tiny model (one encoder layer, hidden 32) with weights chosen so that everything but
its target component is trivial or cannot change the result: a sub-block whose output dense is zeroed passes
its residual through (``LayerNorm(0 + h)``), LayerNorms with weight 1 and bias 0 only re-normalise, scores
that are constant along the key axis make the softmax uniform whatever the scaling, pre-activations pushed to
+60 make every GELU form the identity. Probes are listed in pipeline order and each is designed to be
*insensitive to the components listed after it*: so the first probe that fails names the first component
whose output diverges (a bug upstream may fail later probes too; that does not matter).

Expected values come from the suite's float64 oracle (``bert_conformance.oracle``); weights start from its
seeded draw (``random_state_dict``) and are then edited. Probes only ask a port for what it declares: the
adapter wrappers raise "not claimed" otherwise and the probe is skipped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bert_conformance.known_bad.probe import TINY
from bert_conformance.known_bad.probe import Probe as KnownBadProbe

BASE: dict[str, Any] = {**TINY, "num_hidden_layers": 1}
SEQ = 7
BATCH = 2
LINEAR = 60.0  # a pre-activation offset at which every GELU form (erf, tanh, sigmoid) is exactly x in float64

Weights = dict[str, np.ndarray]
Editor = Callable[[Weights, str, dict[str, Any]], None]  # (state dict, "bert." or "", config) -> None


@dataclass(frozen=True)
class Probe:
    """One model call aimed at one component.

    ``edit`` rewrites the oracle's seeded weights (``prefix`` is "bert." for the heads' base model);
    ``inputs`` builds the numpy inputs from the config; ``compare`` names the outputs compared (for per-token
    outputs only at attended positions); ``kind`` is "outputs" (against the oracle), "loss" (tolerance kind
    loss), "structure" (only the list lengths and shapes), "self" (two calls of the port must agree) or
    "bidirectional" (changing the last token must change the first position's output, as the oracle's does).
    ``feature``: a capabilities feature the probe needs (skipped if not claimed). Kind "cache" runs the
    sequence in pieces cut at ``cuts``, each call with the previous one's cache, and compares the pieces'
    outputs, side by side, with one full forward of the oracle. The contract kinds,
    "inputs_unchanged" and "plain_arrays", call the raw port (``localise.contract_probe``).
    """

    name: str
    component: str
    what: str
    head: str = "BertModel"
    config: Mapping[str, Any] = field(default_factory=dict)
    edit: Editor | None = None
    inputs: Callable[[dict[str, Any]], dict[str, np.ndarray]] | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    compare: tuple[str, ...] = ("last_hidden_state",)
    kind: str = "outputs"
    attention: str | None = None
    feature: str | None = None
    cuts: tuple[int, ...] = ()  # kind "cache": the positions where the sequence is cut into cached calls

    def full_config(self) -> dict[str, Any]:
        return {**BASE, **self.config}

    def build(self) -> tuple[dict[str, Any], Weights, dict[str, np.ndarray]]:
        """(config, state dict, inputs) of this probe: deterministic, cached per process."""
        if self.name not in _BUILT:
            _BUILT[self.name] = _build(self)
        return _BUILT[self.name]

    @property
    def prefix(self) -> str:
        return "" if self.head == "BertModel" else "bert."


_BUILT: dict[str, tuple[dict[str, Any], Weights, dict[str, np.ndarray]]] = {}  # per process, by probe name


def _build(probe: Probe) -> tuple[dict[str, Any], Weights, dict[str, np.ndarray]]:
    from bert_conformance.oracle import get_oracle

    config = probe.full_config()
    weights = {k: np.array(v) for k, v in get_oracle().random_state_dict(probe.head, config, seed=0).items()}
    if probe.edit is not None:
        probe.edit(weights, probe.prefix, config)
    weights = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in weights.items()}
    inputs = (probe.inputs or plain_inputs)(config)
    for array in (*weights.values(), *inputs.values()):
        array.setflags(write=False)
    return config, weights, inputs


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


# --- the battery ------------------------------------------------------------------------------------------------

# The contract first: a port that writes into what it is handed, or returns arrays that lie to a comparison,
# shows wrong numbers on every probe after these (the raw port, as core.inputs_unchanged calls it).
CONTRACT = (
    Probe("contract.inputs_unchanged", "contract.inputs", "the state dict and a padded batch it is handed are "
          "unchanged after load_model and forward", inputs=padded_inputs, kind="inputs_unchanged"),
    Probe("contract.plain_arrays", "contract.outputs", "forward returns base np.ndarray values",
          kind="plain_arrays"),
)

STRUCTURE = (
    Probe("outputs.hidden_states", "outputs.hidden_states", "hidden_states: one entry per layer plus the embeddings",
          options={"output_hidden_states": True}, compare=("hidden_states",), kind="structure"),
    Probe("outputs.attentions", "outputs.attentions", "attentions: [batch, heads, query, key] per layer",
          options={"output_attentions": True}, compare=("attentions",), kind="structure"),
    Probe("model.deterministic", "model.eval_mode", "two identical calls agree (no dropout in inference)",
          kind="self"),
)

EMBEDDINGS = (
    Probe("residual", "residual", "both sub-blocks skipped: the residual carries the embeddings through",
          edit=edits(passthrough, residual_markers)),
    Probe("layer_norm", "layer_norm", "only word embeddings, of unit scale, through plain LayerNorms (eps shows)",
          edit=edits(passthrough, only_table("word"), unit_tables, plain_embedding_norm)),
    Probe("embeddings.layer_norm", "embeddings.layer_norm", "only word embeddings, embeddings LayerNorm weight/bias",
          edit=edits(passthrough, only_table("word"))),
    Probe("layer_norm.config_eps", "layer_norm", "as layer_norm with layer_norm_eps 1e-3 in the config",
          config={"layer_norm_eps": 1e-3}, edit=edits(passthrough, only_table("word"), unit_tables,
                                                      plain_embedding_norm)),
    Probe("attention.layer_norm", "attention.layer_norm", "both blocks skipped, the attention LayerNorm's input "
          "with a mean, its weight uneven: mean subtraction, weight and bias",
          edit=edits(passthrough, only_table("word"), attention_norm_regime)),
    Probe("embeddings.position", "embeddings.position", "only position embeddings, positions omitted",
          edit=edits(passthrough, only_table("position"))),
    Probe("embeddings.position_ids", "embeddings.position", "only position embeddings, explicit position_ids",
          edit=edits(passthrough, only_table("position")), inputs=with_position_ids),
    Probe("embeddings.token_type", "embeddings.token_type", "only token-type embeddings, types given",
          edit=edits(passthrough, only_table("token_type"))),
    Probe("embeddings.token_type_default", "embeddings.token_type", "only token-type embeddings, types omitted",
          edit=edits(passthrough, only_table("token_type")), inputs=without("token_type_ids")),
    Probe("embeddings.sum", "embeddings.sum", "all three tables summed",
          edit=passthrough),
    Probe("embeddings.inputs_embeds", "embeddings.inputs_embeds", "inputs_embeds instead of input_ids",
          edit=passthrough, inputs=embeds_inputs),
)


def ffn_skipped(w: Weights, p: str, config: dict) -> None:
    """The attention probes' common step: the feed-forward block passes its input through."""
    skip_ffn(w, p)


ATTENTION = (
    Probe("attention.bidirectional", "attention.mask", "an encoder: the first position sees a change of the last token",
          edit=ffn_skipped, kind="bidirectional"),
    Probe("attention.values", "attention.projections", "uniform attention: value and output projections only",
          edit=edits(ffn_skipped, uniform_scores)),
    Probe("attention.values.wide", "attention.projections", "uniform attention, value inputs up to +-25: the "
          "value and output projections over a wide range", edit=edits(ffn_skipped, uniform_scores, wide_values)),
    Probe("attention.softmax", "attention.softmax", "scores constant along the keys: the softmax axis only",
          edit=edits(ffn_skipped, query_only_scores)),
    Probe("attention.head_split", "attention.head_split", "scores constant per true head: the head split only",
          edit=edits(ffn_skipped, head_aligned_keys)),
    Probe("attention.scaling.single_head", "attention.scaling", "one head, symmetric Q/K: the score scale",
          config={"num_attention_heads": 1}, edit=edits(ffn_skipped, symmetric_qk(2.0))),
    Probe("attention.scaling", "attention.scaling", "four heads, symmetric Q/K: the score scale per head",
          edit=edits(ffn_skipped, symmetric_qk(2.0))),
    Probe("attention.projections", "attention.projections", "general Q/K weights",
          edit=edits(ffn_skipped, sharp_qk)),
    Probe("attention.mask", "attention.mask", "right padding in the last row, binary mask",
          edit=edits(ffn_skipped, sharp_qk), inputs=padded_inputs),
    Probe("attention.mask.sdpa", "attention.mask", "the same under sdpa attention",
          edit=edits(ffn_skipped, sharp_qk), inputs=padded_inputs, attention="sdpa"),
    Probe("attention.mask.float", "attention.mask", "a float 0/1 mask",
          edit=edits(ffn_skipped, sharp_qk), inputs=functools.partial(padded_inputs, form="float")),
    Probe("attention.mask.nonbinary", "attention.mask", "a mask of 2s and 0s (non-zero attends)",
          edit=edits(ffn_skipped, sharp_qk), inputs=functools.partial(padded_inputs, form="nonbinary")),
    Probe("attention.packed", "attention.mask", "restarting position_ids without a mask pack sequences",
          edit=edits(ffn_skipped, sharp_qk), inputs=packed_inputs, feature="packed_sequences"),
    Probe("attention.packed_with_mask", "attention.mask", "restarting position_ids with a mask do not pack",
          edit=edits(ffn_skipped, sharp_qk), inputs=functools.partial(packed_inputs, mask=True)),
    Probe("attention.causal", "attention.causal_mask", "a decoder: each position attends to itself and before",
          config={"is_decoder": True}, edit=edits(ffn_skipped, sharp_qk), inputs=padded_inputs, feature="decoder"),
    Probe("attention.cross", "attention.cross", "cross-attention to padded encoder states",
          config={"is_decoder": True, "add_cross_attention": True}, edit=edits(ffn_skipped, sharp_qk),
          inputs=encoder_inputs, feature="cross_attention"),
    Probe("attention.cross.default_mask", "attention.cross", "cross-attention, encoder mask omitted",
          config={"is_decoder": True, "add_cross_attention": True}, edit=edits(ffn_skipped, sharp_qk),
          inputs=functools.partial(encoder_inputs, encoder_mask=False), feature="cross_attention"),
)


def attention_skipped(w: Weights, p: str, config: dict) -> None:
    """The feed-forward probes' common step: the attention block passes its input through."""
    skip_attention(w, p)


FEED_FORWARD = (
    Probe("ffn.projections", "ffn.projections", "pre-activations at +60 (every GELU form is x): projections only",
          edit=edits(attention_skipped, linear_regime)),
    Probe("ffn.activation", "ffn.activation", "pre-activations over [-4, 4] with hidden_act gelu",
          edit=edits(attention_skipped, wide_activation)),
    Probe("ffn.activation.config", "ffn.activation", "the same with hidden_act relu in the config",
          config={"hidden_act": "relu"}, edit=edits(attention_skipped, wide_activation)),
    Probe("encoder", "encoder", "one full layer with general weights", edit=sharp_qk),
    Probe("encoder.layers", "encoder", "three full layers, per-layer hidden states (when declared)",
          config={"num_hidden_layers": 3}, options={"output_hidden_states": True}, compare=("hidden_states",)),
    Probe("encoder.two_layers", "encoder", "two full layers", config={"num_hidden_layers": 2}),
)

def past_holes(config: dict[str, Any]) -> dict[str, np.ndarray]:
    """The plain inputs with a mask that hides two positions of the last row early on: once those positions
    are in the cache, the mask over past + current positions must still hide them."""
    inputs = plain_inputs(config)
    mask = np.ones((BATCH, SEQ), dtype=np.int64)
    mask[-1, 1:3] = 0
    return {**inputs, "attention_mask": mask}


# The cache after every full-layer probe: a cached call runs the whole decoder layer.
CACHE = (
    Probe("decoder.cache", "decoder.cache", "a decoder run in three cached calls (4, 1, 2 tokens) equals one "
          "full forward", config={"is_decoder": True}, edit=sharp_qk, kind="cache", cuts=(4, 5), feature="cache"),
    Probe("decoder.cache.past_mask", "decoder.cache", "the same with masked positions in the past: the mask over "
          "past + current positions still hides them", config={"is_decoder": True}, edit=sharp_qk,
          inputs=past_holes, kind="cache", cuts=(4, 5), feature="cache"),
)

POOLER = (
    Probe("pooler", "pooler", "pooler_output of a full layer", compare=("pooler_output",)),
)


def normalised_output(w: Weights, p: str, config: dict) -> None:
    """The heads' probes: encoder outputs normalised (weight 1, bias 0), as the identity transform expects."""
    plain_final_norm(w, p)


HEADS = (
    Probe("heads.mlm.decoder", "heads.mlm.decoder", "identity transform: the tied decoder and its bias",
          head="BertForMaskedLM", edit=edits(normalised_output, identity_transform, mean_free_words),
          compare=("logits",)),
    Probe("heads.mlm.untied", "heads.mlm.decoder", "untied decoder weight and bias",
          head="BertForMaskedLM", config={"tie_word_embeddings": False},
          edit=edits(normalised_output, identity_transform, mean_free_words), compare=("logits",)),
    Probe("heads.mlm.transform", "heads.mlm.transform", "the masked-LM transform (dense, activation, LayerNorm)",
          head="BertForMaskedLM", compare=("logits",)),
    Probe("heads.pretraining", "heads.pretraining", "pre-training logits", head="BertForPreTraining",
          compare=("prediction_logits", "seq_relationship_logits")),
    Probe("heads.nsp", "heads.next_sentence", "next-sentence logits", head="BertForNextSentencePrediction",
          compare=("logits",)),
    Probe("heads.lm", "heads.causal_lm", "causal LM logits", head="BertLMHeadModel",
          config={"is_decoder": True}, compare=("logits",), feature="decoder"),
    Probe("heads.lm.encoder", "heads.causal_lm", "BertLMHeadModel without is_decoder stays bidirectional",
          head="BertLMHeadModel", compare=("logits",)),
    Probe("heads.sequence_classification", "heads.sequence_classification", "classifier logits",
          head="BertForSequenceClassification", compare=("logits",)),
    Probe("heads.token_classification", "heads.token_classification", "per-token logits",
          head="BertForTokenClassification", compare=("logits",)),
    Probe("heads.question_answering", "heads.question_answering", "start and end logits",
          head="BertForQuestionAnswering", compare=("start_logits", "end_logits")),
    Probe("heads.multiple_choice", "heads.multiple_choice", "choice scores [batch, choices]",
          head="BertForMultipleChoice", compare=("logits",), inputs=choice_inputs),
)


def _loss(name: str, component: str, head: str, **kwargs: Any) -> Probe:
    return Probe(name, component, f"the {head} loss", head=head, compare=("loss",), kind="loss",
                 feature="loss", **{"inputs": labelled(head), **kwargs})


LOSSES = (
    _loss("loss.masked_lm", "loss.masked_lm", "BertForMaskedLM"),
    _loss("loss.masked_lm.all_ignored", "loss.masked_lm", "BertForMaskedLM", inputs=all_ignored),
    _loss("loss.causal_lm", "loss.causal_lm", "BertLMHeadModel", config={"is_decoder": True}),
    _loss("loss.next_sentence", "loss.next_sentence", "BertForNextSentencePrediction"),
    _loss("loss.pretraining", "loss.pretraining", "BertForPreTraining"),
    _loss("loss.pretraining.mlm_only", "loss.pretraining", "BertForPreTraining",
          inputs=without("next_sentence_label", labelled("BertForPreTraining"))),
    _loss("loss.token_classification", "loss.token_classification", "BertForTokenClassification",
          inputs=token_labels),
    _loss("loss.question_answering", "loss.question_answering", "BertForQuestionAnswering"),
    _loss("loss.multiple_choice", "loss.multiple_choice", "BertForMultipleChoice"),
    _loss("loss.single_label", "loss.sequence_classification", "BertForSequenceClassification",
          config={"num_labels": 3}),
    _loss("loss.regression", "loss.sequence_classification", "BertForSequenceClassification",
          config={"num_labels": 1}, inputs=regression_labels),
)

BATTERY: tuple[Probe, ...] = (*CONTRACT, *STRUCTURE, *EMBEDDINGS, *ATTENTION, *FEED_FORWARD, *CACHE, *POOLER, *HEADS, *LOSSES)
BY_NAME = {probe.name: probe for probe in BATTERY}
