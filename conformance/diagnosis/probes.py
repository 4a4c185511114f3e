"""The probe battery: small model calls that each exercise ONE component of BERT.

A :class:`Probe` is a tiny model (one encoder layer, hidden 32) with weights chosen so that everything but
its target component is trivial or cannot change the result: a sub-block whose output dense is zeroed passes
its residual through (``LayerNorm(0 + h)``), LayerNorms with weight 1 and bias 0 only re-normalise, scores
that are constant along the key axis make the softmax uniform whatever the scaling, pre-activations pushed to
+60 make every GELU form the identity. Probes are listed in pipeline order and each is designed to be
*insensitive to the components listed after it*: so the first probe that fails names the first component
whose output diverges (a bug upstream may fail later probes too; that does not matter).

Expected values come from the suite's float64 oracle (``bert_conformance.oracle``); weights start from its
seeded draw (``random_state_dict``) and are then edited (the inputs and the edits:
:mod:`~bert_conformance.diagnosis.probe_models`). Probes only ask a port for what it declares: the
adapter wrappers raise "not claimed" otherwise and the probe is skipped.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bert_conformance.diagnosis.probe_models import (
    Editor,
    Weights,
    all_ignored,
    attention_norm_regime,
    attention_skipped,
    choice_inputs,
    edits,
    embeds_inputs,
    encoder_inputs,
    ffn_skipped,
    head_aligned_keys,
    identity_transform,
    labelled,
    linear_regime,
    mean_free_words,
    normalised_output,
    only_table,
    packed_inputs,
    padded_inputs,
    passthrough,
    past_holes,
    plain_embedding_norm,
    plain_inputs,
    query_only_scores,
    regression_labels,
    residual_markers,
    sharp_qk,
    symmetric_qk,
    token_labels,
    uniform_scores,
    unit_tables,
    wide_activation,
    wide_values,
    with_position_ids,
    without,
)
from bert_conformance.known_bad.probe import TINY

BASE: dict[str, Any] = {**TINY, "num_hidden_layers": 1}


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
