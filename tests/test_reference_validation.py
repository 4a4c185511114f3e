"""Bad input: one clear error naming the argument (transformers raises IndexError / RuntimeError for several of
these, or computes something; the reference's ValueError is an intended difference)."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch

import bert_reference
from bert_reference import BertConfig, Cache

TINY = dict(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=20,
            max_position_embeddings=10, type_vocab_size=2)
IDS = torch.randint(50, (2, 5), generator=torch.Generator().manual_seed(0))


def model(head: str = "BertModel", **overrides):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bert_reference.HEAD_CLASSES[head](BertConfig(**TINY, **overrides)).eval()


ENCODER_CASES = [
    ({}, "exactly one of input_ids or inputs_embeds"),
    ({"input_ids": IDS, "inputs_embeds": torch.zeros(2, 5, 16)}, "exactly one of input_ids or inputs_embeds"),
    ({"input_ids": IDS.masked_fill(IDS == IDS[0, 0], 50)}, r"input_ids must be in \[0, 50\); found 50"),
    ({"input_ids": IDS - 100}, r"input_ids must be in \[0, 50\)"),
    ({"input_ids": IDS.float()}, "input_ids must hold integers"),
    ({"input_ids": IDS[0]}, r"input_ids must have shape \[batch, seq_len\]"),
    ({"input_ids": IDS.tolist()}, "input_ids must be a torch.Tensor"),
    ({"input_ids": torch.zeros(2, 0, dtype=torch.long)}, "empty input"),
    ({"input_ids": torch.zeros(1, 11, dtype=torch.long)}, "sequence too long: seq_len 11 .* max_position_embeddings 10"),
    ({"inputs_embeds": torch.zeros(2, 5, 8)}, r"inputs_embeds must have shape \[batch, seq_len, 16\]"),
    ({"inputs_embeds": torch.zeros(2, 5, 16, dtype=torch.float64)}, "inputs_embeds has dtype torch.float64"),
    ({"input_ids": IDS, "token_type_ids": torch.full((2, 5), 2)}, r"token_type_ids must be in \[0, 2\); found 2"),
    ({"input_ids": IDS, "token_type_ids": torch.zeros(2, 4, dtype=torch.long)}, r"token_type_ids must have shape \[2, 5\]"),
    ({"input_ids": IDS, "position_ids": torch.full((2, 5), 10)}, r"position_ids must be in \[0, 10\); found 10"),
    ({"input_ids": IDS, "position_ids": torch.zeros(3, 5, dtype=torch.long)}, "position_ids must have shape"),
    ({"input_ids": IDS, "attention_mask": torch.ones(2, 6)}, r"attention_mask must have shape \[2, 5\]"),
    ({"input_ids": IDS, "attention_mask": torch.ones(2, 1, 5, 4, dtype=torch.bool)}, "attention_mask must have shape"),
    ({"input_ids": IDS, "attention_mask": torch.ones(2, 1, 1, 5, 5)}, "attention_mask must be 2-D"),
    ({"input_ids": IDS, "attention_mask": torch.zeros(2, 1, 5, 5, dtype=torch.float64)},
     "a 4-D attention_mask must be bool .* or additive in the model dtype"),
    ({"input_ids": IDS, "encoder_hidden_states": torch.zeros(2, 3, 16)}, "encoder_hidden_states needs a model built with cross"),
    ({"input_ids": IDS, "cache": Cache()}, r"cache needs a decoder \(config.is_decoder=True\)"),
    ({"input_ids": IDS, "attention_mask": torch.ones(2, 5), "encoder_attention_mask": torch.ones(2, 5)},
     "encoder_attention_mask given without encoder_hidden_states"),
]


@pytest.mark.parametrize("kwargs,message", ENCODER_CASES)
def test_encoder_input_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        model()(**kwargs)


def test_unknown_keyword_is_a_type_error_and_head_mask_is_ignored():
    bert = model()
    with pytest.raises(TypeError, match="unexpected keyword argument.*head_mosk"):
        bert(IDS, head_mosk=None)
    with pytest.raises(TypeError, match="BertForMaskedLM.forward.*cache"):
        model("BertForMaskedLM")(IDS, cache=None)
    with pytest.warns(UserWarning, match="head_mask is ignored"):
        masked = bert(IDS, head_mask=torch.zeros(1, 2)).last_hidden_state
    assert torch.equal(masked, bert(IDS).last_hidden_state)


def test_decoder_input_errors():
    decoder = model(is_decoder=True, add_cross_attention=True)
    cache = decoder(IDS[:, :3]).cache
    with pytest.raises(ValueError, match=r"attention_mask must have shape \[2, 5\]"):
        decoder(IDS[:, 3:], cache=cache, attention_mask=torch.ones(2, 2))  # must cover past + current
    with pytest.raises(ValueError, match="seq_len 8 \\+ cached 3 tokens > max_position_embeddings 10"):
        decoder(torch.zeros(2, 8, dtype=torch.long), cache=cache)
    with pytest.raises(ValueError, match="cache holds batch size 2, the input has 1"):
        decoder(IDS[:1, 3:], cache=cache)
    with pytest.raises(ValueError, match="cache must be a bert_reference.Cache"):
        decoder(IDS, cache=((torch.zeros(1),),))
    with pytest.raises(ValueError, match="pass only one of cache and past_key_values"):
        decoder(IDS[:, 3:], cache=cache, past_key_values=cache)
    with pytest.raises(ValueError, match="encoder_attention_mask given without encoder_hidden_states"):
        decoder(IDS, encoder_attention_mask=torch.ones(2, 3))
    with pytest.raises(ValueError, match=r"encoder_hidden_states must have shape \[2, encoder_len, 16\]"):
        decoder(IDS, encoder_hidden_states=torch.zeros(2, 3, 8))
    with pytest.raises(ValueError, match=r"encoder_attention_mask must have shape \[2, 3\]"):
        decoder(IDS, encoder_hidden_states=torch.zeros(2, 3, 16), encoder_attention_mask=torch.ones(2, 4))
    with pytest.raises(ValueError, match="add_cross_attention=True needs config.is_decoder=True"):
        model(add_cross_attention=True)


def test_past_key_values_is_an_alias_of_cache():
    decoder = model(is_decoder=True).double()
    with torch.no_grad():
        first = decoder(IDS[:, :3])
        a = decoder(IDS[:, 3:], cache=copy.deepcopy(first.cache)).last_hidden_state
        b = decoder(IDS[:, 3:], past_key_values=first.cache)
    assert torch.equal(a, b.last_hidden_state) and b.past_key_values is b.cache and b["past_key_values"] is b.cache


LABEL_CASES = [
    ("BertForMaskedLM", {"labels": torch.full((2, 5), 50)}, r"labels must be in \[0, 50\) \(or -100\); found 50"),
    ("BertForMaskedLM", {"labels": torch.zeros(2, 5, dtype=torch.int32)}, r"labels must be int64 \(torch.long\)"),
    ("BertForMaskedLM", {"labels": torch.zeros(2, 4, dtype=torch.long)}, r"labels must have shape \[2, 5\]"),
    ("BertLMHeadModel", {"labels": torch.zeros(2, 5)}, r"labels must be int64"),
    ("BertForPreTraining", {"labels": torch.zeros(2, 5, dtype=torch.long), "next_sentence_label": torch.tensor([0, 2])},
     r"next_sentence_label must be in \[0, 2\)"),
    ("BertForNextSentencePrediction", {"labels": torch.zeros(2, 2, dtype=torch.long)}, r"labels must have shape \[2\] or \[2, 1\]"),
    ("BertForTokenClassification", {"labels": torch.full((2, 5), 2)}, r"labels must be in \[0, 2\)"),
    ("BertForSequenceClassification", {"labels": torch.tensor([0, 3])}, r"labels must be in \[0, 2\)"),
    ("BertForSequenceClassification", {"labels": torch.tensor([0, 1], dtype=torch.int32)}, "labels must be int64"),
    ("BertForSequenceClassification", {"labels": torch.zeros(2, 3)}, r"multi_label_classification labels must be floats of shape \[2, 2\]"),
    ("BertForQuestionAnswering", {"start_positions": torch.zeros(2), "end_positions": torch.zeros(2)},
     r"start_positions must be int64"),
    ("BertForQuestionAnswering", {"start_positions": torch.zeros(2, 2, dtype=torch.long), "end_positions": torch.zeros(2, dtype=torch.long)},
     r"start_positions must have shape \[2\] or \[2, 1\]"),
]


@pytest.mark.parametrize("head,labels,message", LABEL_CASES)
def test_label_errors(head, labels, message):
    with pytest.raises(ValueError, match=message):
        model(head)(IDS, **labels)


def test_sequence_classification_regression_and_sticky_problem_type_errors():
    regression = model("BertForSequenceClassification", num_labels=1)
    with pytest.raises(ValueError, match="regression labels must be numbers of shape"):
        regression(IDS, labels=torch.zeros(2, 3))
    classifier = model("BertForSequenceClassification", num_labels=3)
    classifier(IDS, labels=torch.tensor([0, 2]))
    assert classifier.config.problem_type == "single_label_classification"  # written back, as in transformers
    with pytest.raises(ValueError, match="labels must have shape"):  # it sticks: float labels are now wrong
        classifier(IDS, labels=torch.zeros(2, 3))


def test_multiple_choice_and_question_answering_shape_errors():
    choices = torch.randint(50, (2, 3, 5), generator=torch.Generator().manual_seed(1))
    mc = model("BertForMultipleChoice")
    with pytest.raises(ValueError, match=r"input_ids must have shape \[batch, num_choices, seq_len\]"):
        mc(IDS)
    with pytest.raises(ValueError, match=r"attention_mask must have shape \[2, 3, 5\]"):
        mc(choices, attention_mask=torch.ones(2, 5))
    with pytest.raises(ValueError, match=r"labels must have shape \[2\]"):
        mc(choices, labels=torch.zeros(2, 1, dtype=torch.long))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\)"):
        mc(choices, labels=torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="needs config.num_labels == 2"):
        model("BertForQuestionAnswering", num_labels=3)(IDS)


@pytest.mark.parametrize(
    "keep,message",
    [(-1, "logits_to_keep must be >= 0"), (True, "logits_to_keep must be an int or a tensor"),
     (1.5, "logits_to_keep must be an int or a tensor"), (torch.tensor([0.5]), "logits_to_keep tensor must be"),
     (torch.tensor([5]), r"logits_to_keep must be in \[-5, 5\)"), (torch.ones(3, 5, dtype=torch.bool), "boolean logits_to_keep")],
)
def test_bad_logits_to_keep(keep, message):
    with pytest.raises(ValueError, match=message):
        model("BertLMHeadModel", is_decoder=True)(IDS, logits_to_keep=keep)


def test_lm_labels_need_every_position_and_shift_labels_needs_labels():
    lm = model("BertLMHeadModel", is_decoder=True)
    with pytest.raises(ValueError, match="labels need logits at every position"):
        lm(IDS, labels=IDS, logits_to_keep=2)
    with pytest.raises(ValueError, match="shift_labels .* needs labels too"):
        lm(IDS, shift_labels=IDS)


def test_chunk_size_must_divide_the_sequence():
    with pytest.raises(ValueError, match="sequence length 5 is not a multiple of chunk_size_feed_forward 2"):
        model(chunk_size_feed_forward=2)(IDS)
