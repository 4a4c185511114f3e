"""The public surface: class names, forward signatures, output classes and fields, tuple form, hidden-state
selection, attentions, initialisation and modes, compared with transformers where it defines them."""

from __future__ import annotations

import dataclasses
import inspect
import warnings

import pytest
import torch
from test_reference_vs_hf import assert_same, make_pair

import bert_reference
from bert_reference import BertConfig

TINY = dict(vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
HEADS = sorted(bert_reference.HEAD_CLASSES)
KEYWORD_ONLY = ["output_attentions", "output_hidden_states", "return_dict"]


def inputs_for(head: str, labels: bool) -> dict:
    generator = torch.Generator().manual_seed(0)
    shape = (2, 3, 6) if head == "BertForMultipleChoice" else (2, 6)
    kwargs = {"input_ids": torch.randint(60, shape, generator=generator)}
    mask = torch.ones(shape, dtype=torch.long)
    mask[..., 0, 4:] = 0
    kwargs["attention_mask"] = mask
    if labels:
        kwargs.update({
            "BertForPreTraining": {"labels": torch.zeros(2, 6, dtype=torch.long), "next_sentence_label": torch.zeros(2, dtype=torch.long)},
            "BertLMHeadModel": {"labels": torch.zeros(2, 6, dtype=torch.long)},
            "BertForMaskedLM": {"labels": torch.zeros(2, 6, dtype=torch.long)},
            "BertForNextSentencePrediction": {"labels": torch.zeros(2, dtype=torch.long)},
            "BertForSequenceClassification": {"labels": torch.zeros(2, dtype=torch.long)},
            "BertForMultipleChoice": {"labels": torch.zeros(2, dtype=torch.long)},
            "BertForTokenClassification": {"labels": torch.zeros(2, 6, dtype=torch.long)},
            "BertForQuestionAnswering": {"start_positions": torch.zeros(2, dtype=torch.long), "end_positions": torch.ones(2, dtype=torch.long)},
        }.get(head, {}))
    return kwargs


def test_the_nine_classes_have_transformers_names(hf_transformers):
    assert len(HEADS) == 9
    for name, cls in bert_reference.HEAD_CLASSES.items():
        assert cls.__name__ == name and hasattr(hf_transformers, name)
        assert getattr(bert_reference, name) is cls


@pytest.mark.parametrize("head", HEADS)
def test_forward_signature_is_transformers(hf_transformers, head):
    theirs = inspect.signature(getattr(hf_transformers, head).forward).parameters
    ours = inspect.signature(bert_reference.HEAD_CLASSES[head].forward).parameters
    positional = [p for p in ours.values() if p.kind == p.POSITIONAL_OR_KEYWORD]
    expected = [p for p in theirs.values() if p.kind == p.POSITIONAL_OR_KEYWORD]
    assert [p.name for p in positional] == [p.name for p in expected]
    assert [p.default for p in positional] == [p.default for p in expected]
    keyword_only = [p.name for p in ours.values() if p.kind == p.KEYWORD_ONLY]
    extra = ["shift_labels", "num_items_in_batch"] if head == "BertLMHeadModel" else []
    assert keyword_only == KEYWORD_ONLY + extra  # transformers takes these through **kwargs
    assert list(ours.values())[-1].kind == inspect.Parameter.VAR_KEYWORD


@pytest.mark.parametrize("head", HEADS)
def test_output_classes_fields_and_tuples_are_transformers(hf_transformers, head):
    """Same output class name and field order; return_dict=False gives transformers' tuple layout. (eager:
    with sdpa, transformers returns an empty attentions tuple where the reference returns the weights.)"""
    config = {**TINY, "is_decoder": head == "BertLMHeadModel"}
    hf, ref = make_pair(hf_transformers, head, config, attn="eager")
    for labels in (False, True):
        kwargs = inputs_for(head, labels)
        for flags in ({}, {"output_hidden_states": True, "output_attentions": True}):
            with torch.no_grad():
                ours, theirs = ref(**kwargs, **flags), hf(**kwargs, **flags)
                ours_tuple, theirs_tuple = ref(**kwargs, **flags, return_dict=False), hf(**kwargs, **flags, return_dict=False)
            assert type(ours).__name__ == type(theirs).__name__
            assert [f.name for f in dataclasses.fields(ours)] == [f.name for f in dataclasses.fields(theirs)]
            assert list(ours.keys()) == list(theirs.keys())
            assert isinstance(ours_tuple, tuple) and len(ours_tuple) == len(theirs_tuple)
            for i, (a, b) in enumerate(zip(ours_tuple, theirs_tuple)):
                if head == "BertLMHeadModel" and labels and i == 0:  # transformers: a float32 loss
                    assert_same(a.float(), b, 1e-6, 1e-5, "loss")
                elif isinstance(b, torch.Tensor):
                    assert_same(a, b, 1e-10, 1e-10, f"tuple[{i}]")
                elif isinstance(b, tuple):
                    assert isinstance(a, tuple) and len(a) == len(b), f"tuple[{i}]"


def test_model_output_reads_like_transformers():
    model = bert_reference.BertModel(BertConfig(**TINY)).eval()
    out = model(inputs_for("BertModel", False)["input_ids"])
    assert out.keys() == ["last_hidden_state", "pooler_output"] == list(out)
    assert out["last_hidden_state"] is out.last_hidden_state is out[0] is out.to_tuple()[0]
    assert out.hidden_states is None and "hidden_states" not in out and len(out) == 2
    with pytest.raises(KeyError):
        out["hidden_states"]
    assert out.get("cache") is None and out.past_key_values is None
    assert dict(out).keys() == {"last_hidden_state", "pooler_output"}


def test_config_flags_are_defaults_and_arguments_win():
    config = BertConfig(**TINY, output_hidden_states=True, output_attentions=True, return_dict=False)
    model = bert_reference.BertModel(config).eval()
    ids = inputs_for("BertModel", False)["input_ids"]
    as_tuple = model(ids)
    assert isinstance(as_tuple, tuple) and len(as_tuple) == 5  # last, pooled, hidden, attentions, cross=()
    assert as_tuple[4] == () and len(as_tuple[2]) == 3 and len(as_tuple[3]) == 2
    plain = model(ids, output_hidden_states=False, output_attentions=False, return_dict=True)
    assert plain.keys() == ["last_hidden_state", "pooler_output"]


@pytest.mark.parametrize("selection", [True, [0, -1], [1], -2, 5, [], 0])
def test_hidden_state_selection_is_transformers(hf_transformers, selection):
    hf, ref = make_pair(hf_transformers, "BertModel", TINY)
    ids = inputs_for("BertModel", False)["input_ids"]
    with torch.no_grad():
        ours, theirs = ref(ids, output_hidden_states=selection), hf(ids, output_hidden_states=selection)
    assert_same(ours.hidden_states, theirs.hidden_states, 1e-10, 1e-10, "hidden_states")
    if ours.hidden_states is not None and ours.hidden_states[-1] is not None:
        assert ours.hidden_states[-1] is ours.last_hidden_state


def test_cross_attentions_are_empty_without_cross_attention(hf_transformers):
    hf, ref = make_pair(hf_transformers, "BertModel", TINY, attn="eager")
    ids = inputs_for("BertModel", False)["input_ids"]
    ours, theirs = ref(ids, output_attentions=True), hf(ids, output_attentions=True)
    assert ours.cross_attentions == () == theirs.cross_attentions
    assert len(ours.attentions) == 2 and ours.attentions[0].shape == (2, 4, 6, 6)


def test_cross_attention_weights_match_transformers(hf_transformers):
    config = {**TINY, "is_decoder": True, "add_cross_attention": True}
    hf, ref = make_pair(hf_transformers, "BertLMHeadModel", config, attn="eager")
    ids = inputs_for("BertModel", False)["input_ids"]
    encoder = torch.randn(2, 4, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    encoder_mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]])
    with torch.no_grad():
        ours = ref(ids, encoder_hidden_states=encoder, encoder_attention_mask=encoder_mask, output_attentions=True)
        theirs = hf(ids, encoder_hidden_states=encoder, encoder_attention_mask=encoder_mask, output_attentions=True)
    assert len(ours.cross_attentions) == 2 and ours.cross_attentions[0].shape == (2, 4, 6, 4)
    assert_same(ours.cross_attentions, theirs.cross_attentions, 1e-10, 1e-10, "cross_attentions")
    assert_same(ours.attentions, theirs.attentions, 1e-10, 1e-10, "attentions")


def test_initialisation_is_transformers(hf_transformers):
    """Compare with a freshly initialised transformers model: zeros, ones and N(0, initializer_range)."""
    config = dict(vocab_size=400, hidden_size=64, num_hidden_layers=1, num_attention_heads=4, intermediate_size=96,
                  initializer_range=0.05, pad_token_id=3)
    torch.manual_seed(0)
    theirs = hf_transformers.BertForPreTraining(hf_transformers.BertConfig(**config)).state_dict()
    ours = bert_reference.BertForPreTraining(BertConfig(**config)).hf_state_dict()
    for name, expected in theirs.items():
        actual = ours[name]
        if torch.all(expected == 0) or torch.all(expected == 1):
            assert torch.equal(actual, expected), name
        else:
            assert abs(actual.float().std().item() - expected.float().std().item()) < 0.15 * 0.05, name
            assert abs(actual.float().mean().item()) < 0.01, name
    assert torch.all(ours["bert.embeddings.word_embeddings.weight"][3] == 0)  # the padding row


def test_modes_dtypes_and_devices():
    model = bert_reference.BertForMaskedLM(BertConfig(**TINY))
    assert model.training  # like torch modules; from_pretrained returns eval()
    ids = inputs_for("BertModel", False)["input_ids"]
    torch.manual_seed(0)
    first, second = model(ids).logits, model(ids).logits
    assert not torch.equal(first, second)  # dropout is active in train mode
    model.eval()
    assert torch.equal(model(ids).logits, model(ids).logits)
    for dtype in (torch.float64, torch.float16, torch.bfloat16):
        assert model.to(dtype)(ids).logits.dtype == dtype
    if torch.cuda.is_available():
        model = model.to("cuda", torch.float32)
        assert model(ids.cuda()).logits.device.type == "cuda"


def test_lm_head_without_is_decoder_warns_like_transformers():
    with pytest.warns(UserWarning, match="add `is_decoder=True.`"):
        bert_reference.BertLMHeadModel(BertConfig(**TINY))
    with pytest.warns(UserWarning, match="config.is_decoder=False"):
        bert_reference.BertForMaskedLM(BertConfig(**TINY, is_decoder=True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bert_reference.BertLMHeadModel(BertConfig(**TINY, is_decoder=True))


def test_inputs_embeds_equal_input_ids():
    model = bert_reference.BertForMaskedLM(BertConfig(**TINY)).double().eval()
    ids = inputs_for("BertModel", False)["input_ids"]
    with torch.no_grad():
        by_ids = model(ids).logits
        by_embeds = model(inputs_embeds=model.bert.embeddings.word_embeddings(ids)).logits
    assert torch.equal(by_ids, by_embeds)
