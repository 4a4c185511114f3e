"""BertConfig: transformers v5's fields and defaults, round trips through dicts and JSON, and rejected values."""

from __future__ import annotations

import dataclasses
import json

import pytest

from bert_reference import BertConfig, BertModel

GENERIC = ("id2label", "label2id", "problem_type", "output_hidden_states", "output_attentions", "return_dict",
           "chunk_size_feed_forward")


def test_fields_and_defaults_are_transformers(hf_transformers):
    ours, theirs = BertConfig(), hf_transformers.BertConfig()
    bert_fields = [f.name for f in dataclasses.fields(hf_transformers.BertConfig)
                   if f.name in hf_transformers.BertConfig.__annotations__]
    assert [f.name for f in dataclasses.fields(BertConfig)][: len(bert_fields)] == bert_fields  # same order
    for name in (*bert_fields, *GENERIC, "num_labels"):
        assert getattr(ours, name) == getattr(theirs, name), name
    model = hf_transformers.BertModel(hf_transformers.BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1,
                                                                 num_attention_heads=2, intermediate_size=4))
    assert ours.attn_implementation == model.config._attn_implementation == "sdpa"


def test_num_labels_follows_id2label_like_transformers(hf_transformers):
    for kwargs in ({"num_labels": 3}, {"id2label": {"0": "neg", "1": "pos"}}, {}):
        ours, theirs = BertConfig(**kwargs), hf_transformers.BertConfig(**kwargs)
        assert (ours.num_labels, ours.id2label, ours.label2id) == (theirs.num_labels, theirs.id2label, theirs.label2id)
    config = BertConfig()
    config.num_labels = 4
    assert config.id2label == {i: f"LABEL_{i}" for i in range(4)} and config.label2id["LABEL_3"] == 3


def test_transformers_dicts_round_trip_and_unknown_keys_are_kept(hf_transformers):
    hf_dict = hf_transformers.BertConfig(hidden_act="gelu_new", num_labels=3, position_embedding_type="absolute",
                                         problem_type="regression").to_dict()
    config = BertConfig.from_dict(hf_dict)
    assert config.hidden_act == "gelu_new" and config.num_labels == 3 and config.problem_type == "regression"
    assert config.extra["position_embedding_type"] == "absolute"  # removed in v5: kept, never used
    assert config.extra["transformers_version"] == hf_dict["transformers_version"]
    again = BertConfig.from_dict(config.to_dict())
    assert again == config and again.to_dict() == config.to_dict()
    for key, value in hf_dict.items():
        if key in config.to_dict() and key not in ("id2label",):
            assert config.to_dict()[key] == value, key


def test_json_files_round_trip(hf_transformers, tmp_path):
    config = BertConfig(num_labels=5, attn_implementation="eager", extra={"custom": [1, 2]}, eos_token_id=[1, 2])
    config.to_json_file(tmp_path / "c.json")
    assert BertConfig.from_json_file(tmp_path / "c.json") == config
    config.to_json_file(tmp_path / "hf.json", hf_format=True)
    written = json.loads((tmp_path / "hf.json").read_text())
    assert "attn_implementation" not in written and written["model_type"] == "bert"
    hf_config = hf_transformers.BertConfig.from_json_file(tmp_path / "hf.json")
    assert hf_config.num_labels == 5 and hf_config.eos_token_id == [1, 2]
    (tmp_path / "bad.json").write_text("{ not json")
    with pytest.raises(ValueError, match="bad.json: not valid JSON"):
        BertConfig.from_json_file(tmp_path / "bad.json")
    (tmp_path / "bad-value.json").write_text(json.dumps({"hidden_size": "768"}))
    with pytest.raises(ValueError, match="bad-value.json: hidden_size must be an int"):
        BertConfig.from_json_file(tmp_path / "bad-value.json")


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"hidden_size": 30, "num_attention_heads": 4}, r"hidden_size \(30\) must be a multiple of num_attention_heads"),
        ({"hidden_size": "768"}, "hidden_size must be an int"),
        ({"num_hidden_layers": True}, "num_hidden_layers must be an int"),
        ({"vocab_size": 0}, "vocab_size must be >= 1"),
        ({"hidden_act": "gelu_erf"}, r"hidden_act='gelu_erf' is not supported"),
        ({"hidden_act": "prelu"}, r"hidden_act='prelu' is not supported"),
        ({"hidden_dropout_prob": 2}, r"hidden_dropout_prob must be in \[0, 1\]"),
        ({"attention_probs_dropout_prob": -0.1}, "attention_probs_dropout_prob must be >= 0"),
        ({"classifier_dropout": "0.1"}, "classifier_dropout must be a number"),
        ({"layer_norm_eps": 0}, "layer_norm_eps must be > 0"),
        ({"pad_token_id": 30522}, r"pad_token_id \(30522\) must be < vocab_size"),
        ({"pad_token_id": -1}, "pad_token_id must be >= 0"),
        ({"eos_token_id": [1, "2"]}, "eos_token_id must be an int"),
        ({"use_cache": 1}, "use_cache must be a bool"),
        ({"is_decoder": "yes"}, "is_decoder must be a bool"),
        ({"output_hidden_states": [0, 1.5]}, "output_hidden_states must be a bool, an int or a list of ints"),
        ({"problem_type": "foo"}, r"problem_type='foo' is not one of"),
        ({"problem_type": "single_label_classification", "num_labels": 1}, "requires num_labels > 1"),
        ({"attn_implementation": "flash_attention_2"}, "attn_implementation='flash_attention_2' is not one of"),
        ({"chunk_size_feed_forward": -1}, "chunk_size_feed_forward must be >= 0"),
        ({"num_labels": 3, "id2label": {0: "a"}}, "num_labels=3 disagrees with id2label"),
        ({"id2label": {"x": "a"}}, "id2label keys must be integers"),
        ({"extra": {"hidden_size": 5}}, "extra must not hold config fields: hidden_size"),
    ],
)
def test_invalid_values_are_rejected_naming_the_field(kwargs, message):
    with pytest.raises(ValueError, match=message):
        BertConfig(**kwargs)


def test_bad_dicts_and_models():
    with pytest.raises(ValueError, match="config must be a dict"):
        BertConfig.from_dict([("hidden_size", 8)])
    with pytest.raises(TypeError):
        BertConfig(not_a_field=1)  # unknown keys only through from_dict (they land in `extra`)
    with pytest.raises(ValueError, match="config must be a bert_reference.BertConfig"):
        BertModel({"hidden_size": 8})
    config = BertConfig(vocab_size=10, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=4)
    model = BertModel(config)
    with pytest.raises(ValueError, match="attn_implementation must be 'eager' or 'sdpa'"):
        model.set_attn_implementation("flex_attention")
    model.set_attn_implementation("eager")
    assert config.attn_implementation == "eager"  # the model shares its config
