"""Structural properties of the reference tokenizer (spec/tokenizer.yaml `properties`), checked with hypothesis.

Expected values are built from independent single-text encodings and from the spec's rules, not copied.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bert_reference.tokenizer import BertTokenizer

VOCAB = Path(__file__).resolve().parents[1] / "golden" / "tokenizer" / "vocab.txt"
TOK = BertTokenizer(VOCAB)
SETTINGS = settings(max_examples=80, deadline=None, derandomize=True)
FIELD_ORDER = ["input_ids", "token_type_ids", "attention_mask", "special_tokens_mask", "offset_mapping"]

pieces = st.sampled_from(["a", "b", "hello", "unwanted", "running", "café", "博推", ",", "!", " ", "  ", "\t",
                          "[MASK]", "\u200b", "\u0301", "😀", "ΟΔΟΣ", "X", "1"])
texts = st.lists(pieces, max_size=10).map("".join) | st.text(max_size=15)
batches = st.lists(texts, min_size=1, max_size=6)


def _single(text: str, pair: str | None = None, **kwargs) -> dict:
    return TOK(text, pair, return_special_tokens_mask=True, return_offsets_mapping=True, **kwargs)


@SETTINGS
@given(batch=batches, pairs=st.none() | batches)
def test_property_batch_equals_single(batch, pairs):
    pair_list = None if pairs is None else (pairs * len(batch))[: len(batch)]
    enc = TOK(batch, pair_list, return_special_tokens_mask=True, return_offsets_mapping=True)
    for i, text in enumerate(batch):
        pair = None if pair_list is None else pair_list[i]
        # A batch's empty pair string is a real second sequence; a single call's is "no pair" (spec).
        single = _single(text, pair) if pair != "" else _single(text, " ")
        assert {k: v[i] for k, v in enc.items()} == single


@SETTINGS
@given(batch=batches, side=st.sampled_from(["right", "left"]), extra=st.integers(0, 3),
       mode=st.sampled_from(["longest", "max_length"]))
def test_property_padding_appends(batch, side, extra, mode):
    unpadded = [_single(t) for t in batch]
    longest = max(len(u["input_ids"]) for u in unpadded)
    width = longest + extra if mode == "max_length" else longest
    kwargs = {"max_length": width} if mode == "max_length" else {}
    enc = TOK(batch, padding=mode, padding_side=side, return_special_tokens_mask=True,
              return_offsets_mapping=True, **kwargs)
    pad_values = {"input_ids": TOK.pad_token_id, "token_type_ids": 0, "attention_mask": 0,
                  "special_tokens_mask": 1, "offset_mapping": (0, 0)}
    for i, row in enumerate(unpadded):
        n_pad = width - len(row["input_ids"])
        for key, value in pad_values.items():
            pads = [value] * n_pad
            expected = row[key] + pads if side == "right" else pads + row[key]
            assert enc[key][i] == expected, (key, batch[i])


@SETTINGS
@given(text=texts, pair=st.none() | texts, max_length=st.integers(3, 12),
       strategy=st.sampled_from(["longest_first", "only_first", "only_second"]))
def test_property_truncation_bound(text, pair, max_length, strategy):
    full = _single(text, pair or None)
    n_special = 3 if pair else 2
    a_len = full["token_type_ids"].count(0) - 2  # A's tokens: type 0 minus [CLS] and the first [SEP]
    b_len = len(full["input_ids"]) - n_special - a_len
    try:
        enc = _single(text, pair or None, truncation=strategy, max_length=max_length)
    except ValueError:
        budget = max_length - n_special
        excess = a_len + b_len - budget
        impossible = (strategy == "only_second" and not pair) or (
            # only_first/only_second must leave at least one token of the truncated sequence
            budget > 0 and excess > 0 and ((strategy == "only_first" and a_len <= excess)
                                           or (strategy == "only_second" and b_len <= excess)))
        assert impossible, (text, pair, max_length, strategy)
        return
    ids = enc["input_ids"]
    assert len(ids) <= max(max_length, n_special)
    # each kept sequence is a prefix of the untruncated one
    keep_a = enc["token_type_ids"].count(0) - 2
    assert ids[1:1 + keep_a] == full["input_ids"][1:1 + keep_a]
    if pair:
        keep_b = len(ids) - n_special - keep_a
        assert ids[2 + keep_a:2 + keep_a + keep_b] == full["input_ids"][2 + a_len:2 + a_len + keep_b]
    if len(full["input_ids"]) <= max_length:
        assert enc == full


@SETTINGS
@given(text=texts, pair=st.none() | texts)
def test_property_offsets_in_bounds(text, pair):
    enc = _single(text, pair or None)
    sources = [text] + ([pair] if pair else [])
    sequence, previous_start = 0, 0
    for special, (start, end), type_id in zip(enc["special_tokens_mask"], enc["offset_mapping"],
                                              enc["token_type_ids"]):
        if special:
            assert (start, end) == (0, 0)
            continue
        if type_id != sequence:  # offsets restart in the second text
            sequence, previous_start = type_id, 0
        assert 0 <= start < end <= len(sources[sequence])
        assert start >= previous_start  # non-decreasing (pieces of one character may share it)
        previous_start = start


def test_property_tokenizer_json_equals_vocab_txt(tmp_path):
    vocab = VOCAB.read_text(encoding="utf-8").splitlines()
    blob = {"model": {"type": "WordPiece", "vocab": {t: i for i, t in enumerate(vocab)}, "unk_token": "[UNK]"},
            "normalizer": {"type": "BertNormalizer", "lowercase": False}}  # ignored, as in HF v5
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(blob), encoding="utf-8")
    from_json = BertTokenizer(path)
    assert from_json.get_vocab() == TOK.get_vocab()
    text = "Hello UNwantéd, 博推 [MASK] ΟΔΟΣ"
    assert from_json(text, "pair text") == TOK(text, "pair text")
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": False, "model_max_length": 9}))
    loaded = BertTokenizer.from_pretrained(tmp_path)
    assert (loaded.do_lower_case, loaded.model_max_length) == (False, 9)
    assert loaded(text) == BertTokenizer(VOCAB, do_lower_case=False)(text)


def test_property_field_order():
    kwargs = {"return_special_tokens_mask": True, "return_offsets_mapping": True}
    assert list(TOK("hello", **kwargs)) == FIELD_ORDER
    arrays = TOK(["hello", "a b"], padding=True, return_tensors="np", **kwargs)
    assert list(arrays) == FIELD_ORDER
    assert all(a.dtype == np.int64 for a in arrays.values())
    assert arrays["input_ids"].shape == (2, 4) and arrays["offset_mapping"].shape == (2, 4, 2)
    assert TOK("hello", return_tensors="np")["input_ids"].shape == (1, 3)
    assert list(TOK("hello", return_token_type_ids=False, return_attention_mask=False)) == ["input_ids"]


@pytest.mark.parametrize("text", ["", "hello", "a b c"])
def test_tokenize_and_encode_agree(text):
    tokens = TOK.tokenize(text)
    assert TOK(text)["input_ids"] == [TOK.cls_token_id, *TOK.convert_tokens_to_ids(tokens), TOK.sep_token_id]
    assert TOK.convert_ids_to_tokens(TOK.convert_tokens_to_ids(tokens)) == tokens
