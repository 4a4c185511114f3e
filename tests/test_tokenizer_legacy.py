"""Every fast-vs-legacy difference in spec/tokenizer.yaml is real: its example is re-run on both HF classes.

For each clause of legacy_differences with an example: HF BertTokenizer gives `fast`, BertTokenizerLegacy gives
`legacy`, the two differ, and the reference gives `fast` (or raises where the spec says HF fast is defective).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import yaml

from bert_reference.tokenizer import BertTokenizer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")

ROOT = Path(__file__).resolve().parents[1]
VOCAB = ROOT / "golden" / "tokenizer" / "vocab.txt"
SPEC = yaml.safe_load((ROOT / "spec" / "tokenizer.yaml").read_text(encoding="utf-8"))
EXAMPLES = [c for c in SPEC["legacy_differences"] if "example" in c]


def _hf_fast(init: dict):
    tok = transformers.BertTokenizer(vocab=str(VOCAB), **init)
    assert len(tok) == len(VOCAB.read_text(encoding="utf-8").splitlines())
    return tok


def _hf_legacy(init: dict):
    tok = transformers.BertTokenizerLegacy(str(VOCAB), **init)
    assert len(tok) == len(VOCAB.read_text(encoding="utf-8").splitlines())
    return tok


def observe(tok, example: dict):
    """The example's `field`, or "error" if the call raises."""
    field = example["field"]
    try:
        if field == "decoded":
            ids = tok.convert_tokens_to_ids(example["tokens"])
            if example.get("ids_beyond_vocab"):
                ids = [ids[0], len(tok), *ids[1:]]
            return tok.decode(ids, **example.get("decode", {}))
        if field == "tokens":
            return tok.tokenize(example["input"])
        encoding = tok(example["input"], example.get("input_pair"), **example.get("call", {}))
        if field == "keys":
            return sorted(encoding.keys())
        return tok.convert_ids_to_tokens(encoding["input_ids"])
    except Exception:  # HF fast raises a bare Exception from Rust
        return "error"


@pytest.mark.parametrize("clause", EXAMPLES, ids=[c["id"].removeprefix("tokenizer.legacy.") for c in EXAMPLES])
def test_legacy_difference_is_observed(clause, caplog):
    example = clause["example"]
    init = example.get("init", {})
    with caplog.at_level(logging.CRITICAL, logger="transformers"):
        fast = observe(_hf_fast(init), example)
        legacy = observe(_hf_legacy(init), example)
    assert fast == example["fast"], f"HF BertTokenizer now gives {fast!r}; update {clause['id']}"
    assert legacy == example["legacy"], f"HF BertTokenizerLegacy now gives {legacy!r}; update {clause['id']}"
    assert fast != legacy
    reference = observe(BertTokenizer(VOCAB, **init), example)
    if example.get("reference") == "error":
        assert reference == "error"
    else:
        assert reference == example["fast"]


def test_legacy_token_type_ids_on_request():
    """The legacy class does compute the same token_type_ids when asked (so only the default differs)."""
    legacy = _hf_legacy({})("hello", "world", return_token_type_ids=True)
    assert legacy["token_type_ids"] == BertTokenizer(VOCAB)("hello", "world")["token_type_ids"] == [0, 0, 0, 1, 1]


def test_legacy_lowercase_and_strip_order_is_not_a_difference():
    """Python lower-then-strip equals strip-then-lower on every code point (tokenizer.normalizer.order)."""
    import unicodedata

    def strip(text: str) -> str:
        return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")

    differing = [cp for cp in range(0x110000) if not 0xD800 <= cp <= 0xDFFF
                 and strip(chr(cp).lower()) != strip(chr(cp)).lower()]
    assert differing == []
