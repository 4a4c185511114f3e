"""The surface declaration (spec/surface.yaml, bert_conformance.surface): what a port may leave out, how it
is validated, and what a call into a port is detected to need."""

from __future__ import annotations

import numpy as np
import pytest

from bert_conformance import surface
from bert_conformance.adapter import Capabilities, CapabilitiesError, full_surface
from bert_conformance.spec import load_spec

BASE = {"name": "p", "version": "1", "heads": ["BertModel"], "dtypes": ["float32"], "devices": ["cpu"],
        "attention": ["eager"]}


def test_declarations_come_from_the_spec():
    decl = surface.declarations()
    spec = load_spec()
    assert decl["activations"].values == tuple(a.name for a in spec.config.activations)
    arguments = {a.name for h in spec.heads.heads.values() for a in h.arguments}
    assert set(decl["inputs"].values) <= arguments and "labels" not in decl["inputs"].values
    assert "cache" not in decl["inputs"].values and "position_ids" in decl["inputs"].values
    assert decl["outputs"].values == ("hidden_states", "attentions", "cross_attentions")
    assert surface.core() == {"heads": ("BertModel",), "dtypes": ("float32",), "devices": ("cpu",)}


def test_an_omitted_key_claims_every_value_and_core_values_are_implied():
    caps = Capabilities.from_dict({**BASE, "inputs": ["position_ids"], "activations": []})
    assert caps.surface["inputs"] == ("input_ids", "attention_mask", "token_type_ids", "position_ids")
    assert caps.surface["activations"] == ("gelu",)
    assert caps.surface["outputs"] == full_surface()["outputs"]
    assert caps.narrowed() == {"inputs": caps.surface["inputs"], "activations": ("gelu",)}
    assert caps.to_dict()["activations"] == ["gelu"] and "outputs" not in caps.to_dict()


@pytest.mark.parametrize(("data", "message"), [
    ({"inputs": ["input_ids", "pixel_values"]}, "unknown inputs ['pixel_values']; known: input_ids, attention_mask"),
    ({"padding": "right"}, "'padding' must be a list of names"),
    ({"activation": ["gelu"]}, "unknown key(s) ['activation']; known: name, version, heads"),
    ({"outputs": ["logits"]}, "unknown outputs ['logits']; known: hidden_states, attentions, cross_attentions"),
])
def test_unknown_surface_names_are_errors_naming_the_known_ones(data, message):
    with pytest.raises(CapabilitiesError) as info:
        Capabilities.from_dict({**BASE, **data})
    assert message in str(info.value)


def test_requirements_accept_surface_keys():
    caps = Capabilities.from_dict({**BASE, "outputs": [], "padding": ["right", "left"]})
    assert caps.unclaimed(outputs="hidden_states", padding="left") == ["outputs hidden_states"]
    with pytest.raises(ValueError, match="unknown requirement 'paddings'"):
        caps.unclaimed(paddings="left")


ONES = np.ones((2, 4), np.int64)


@pytest.mark.parametrize(("inputs", "options", "needs"), [
    ({"input_ids": ONES, "attention_mask": ONES, "token_type_ids": ONES}, {},
     {"inputs": {"input_ids", "attention_mask", "token_type_ids"}, "attention_masks": {"binary"}, "padding": {"right"}}),
    ({"input_ids": ONES, "position_ids": ONES}, {"output_hidden_states": [-1]},
     {"inputs": {"input_ids", "position_ids"}, "outputs": {"hidden_states"}}),
    ({"inputs_embeds": np.zeros((2, 4, 8))}, {"output_hidden_states": [], "output_attentions": False},
     {"inputs": {"inputs_embeds"}}),
    ({"input_ids": ONES, "attention_mask": np.array([[1, 1, 0, 0], [0, 0, 1, 1]])}, {},
     {"inputs": {"input_ids", "attention_mask"}, "attention_masks": {"binary"}, "padding": {"right", "left"}}),
    ({"input_ids": ONES, "attention_mask": np.array([[1, 0, 1, 1], [1, 1, 1, 1]], bool)}, {},
     {"inputs": {"input_ids", "attention_mask"}, "attention_masks": {"bool"}, "padding": {"arbitrary", "right"}}),
    ({"input_ids": ONES, "attention_mask": np.array([[2.0, 0.5, 0, 0], [1, 1, 1, 1]])}, {},
     {"inputs": {"input_ids", "attention_mask"}, "attention_masks": {"float", "nonbinary"}, "padding": {"right"}}),
    ({"input_ids": ONES, "attention_mask": np.zeros((2, 1, 4, 4))}, {"logits_to_keep": 1},
     {"inputs": {"input_ids", "attention_mask", "logits_to_keep"}, "attention_masks": {"4d"}}),
    ({"input_ids": ONES, "encoder_hidden_states": np.zeros((2, 3, 8))}, {"output_attentions": True},
     {"inputs": {"input_ids", "encoder_hidden_states"}, "outputs": {"attentions", "cross_attentions"}}),
])
def test_forward_needs(inputs, options, needs):
    found = {key: values for key, values in surface.forward_needs(inputs, options).items() if values}
    assert found == needs


def _state_dict(head: str, config: dict) -> dict:
    from bert_conformance.clauses.model_helpers import spec_state_dict

    return spec_state_dict(head, config, seed=0)


TINY = {"vocab_size": 11, "hidden_size": 8, "num_hidden_layers": 1, "num_attention_heads": 2,
        "intermediate_size": 5, "max_position_embeddings": 8, "type_vocab_size": 2}


def test_load_needs_standard_checkpoint_needs_only_the_core():
    needs = surface.load_needs("BertForMaskedLM", TINY, _state_dict("BertForMaskedLM", TINY))
    assert {k: v for k, v in needs.items() if v} == {"activations": {"gelu"}, "embeddings": {"tied"}}


def test_load_needs_detects_every_checkpoint_form():
    weights = _state_dict("BertModel", TINY)
    legacy = {k.replace("LayerNorm.weight", "LayerNorm.gamma"): v for k, v in weights.items()}
    assert surface.load_needs("BertModel", TINY, legacy)["checkpoints"] == {"layernorm_gamma_beta"}
    buffers = {**weights, "embeddings.position_ids": np.arange(8)[None]}
    assert surface.load_needs("BertModel", TINY, buffers)["checkpoints"] == {"buffers_in_checkpoint"}
    prefixed = {f"bert.{k}": v for k, v in weights.items()}
    assert surface.load_needs("BertModel", TINY, prefixed)["checkpoints"] == {"prefix"}
    head = _state_dict("BertForSequenceClassification", TINY)
    unprefixed = {k.removeprefix("bert."): v for k, v in head.items()}
    assert surface.load_needs("BertForSequenceClassification", TINY, unprefixed)["checkpoints"] == {"prefix"}
    mlm = _state_dict("BertForMaskedLM", TINY)
    target_only = {**{k: v for k, v in mlm.items() if k != "cls.predictions.bias"},
                   "cls.predictions.decoder.bias": mlm["cls.predictions.bias"]}
    assert surface.load_needs("BertForMaskedLM", TINY, target_only)["checkpoints"] == {"tied_load_symmetric"}


def test_load_needs_activation_and_tying():
    needs = surface.load_needs("BertForMaskedLM", {**TINY, "hidden_act": "relu", "tie_word_embeddings": False}, {})
    assert needs["activations"] == {"relu"} and needs["embeddings"] == {"untied"}
    # a name outside config.yaml is a config error (the core), not a declarable activation
    assert surface.load_needs("BertModel", {**TINY, "hidden_act": "nope"}, {})["activations"] == set()
    assert surface.load_needs("BertModel", {**TINY, "tie_word_embeddings": False}, {})["embeddings"] == set()
