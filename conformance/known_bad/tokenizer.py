"""Known-bad ports for conformance/clauses/test_tokenizer.py: the reference tokenizer with ONE realistic bug.

Each port overrides ``load_tokenizer``; the bug is put into the reference's own `tokenizers` pipeline where
that is how a port would get it wrong (a template, a decoder option), or wrapped around the call. ``kills``
are test ids (``tokenizer.case.<name>-small``, a clause id, or ``<clause id>-<variant>``) that must fail.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

from tokenizers import decoders, processors

from bert_conformance.known_bad._base import KnownBadPort, entries, register, resolver
from bert_reference.tokenizer import BertTokenizer


class TokenizerKnownBadPort(KnownBadPort):
    """The reference tokenizer, its options or its pipeline changed by :meth:`change`."""

    def load_tokenizer(self, vocab_path: str, **options: Any) -> Any:
        return self.change(BertTokenizer(vocab_path, **self.options(options)))

    def options(self, options: dict[str, Any]) -> dict[str, Any]:
        return options

    def change(self, tok: BertTokenizer) -> Any:
        return tok


def _strip_follows_lowercase(options: dict[str, Any]) -> dict[str, Any]:
    """strip_accents null means 'as do_lower_case': resolve it before changing do_lower_case."""
    strip = options.get("strip_accents")
    return {**options, "strip_accents": options.get("do_lower_case", True) if strip is None else strip}


class NoLowerCase(TokenizerKnownBadPort):
    description = "ignores do_lower_case (never lower-cases; accents still stripped as requested)"
    kills = (
        "tokenizer.case.hf_doc_example-small",
        "tokenizer.case.hf_matrix_uncased-small",
        "tokenizer.case.greek_sigma-small",
        "tokenizer.legacy.final_sigma",
        "tokenizer.normalizer.lowercase",
    )

    def options(self, options: dict[str, Any]) -> dict[str, Any]:
        return {**_strip_follows_lowercase(options), "do_lower_case": False}


class NoAccentStripping(TokenizerKnownBadPort):
    description = "never strips accents (strip_accents treated as false)"
    kills = (
        "tokenizer.case.accents_uncased-small",
        "tokenizer.case.accents_combining-small",
        "tokenizer.case.unwanted_running-small",
        "tokenizer.case.hf_matrix_cased_strip-small",
        "tokenizer.normalizer.strip_accents",
        "tokenizer.unicode.tables",
    )

    def options(self, options: dict[str, Any]) -> dict[str, Any]:
        return {**options, "strip_accents": False}


class NoChineseCharSplit(TokenizerKnownBadPort):
    description = "ignores tokenize_chinese_chars (CJK ideographs stay inside words)"
    kills = (
        "tokenizer.case.cjk_words-small",
        "tokenizer.case.cjk_boundaries_inside-small",
        "tokenizer.normalizer.cjk",
        "tokenizer.golden.char_classes",
    )

    def options(self, options: dict[str, Any]) -> dict[str, Any]:
        return {**options, "tokenize_chinese_chars": False}


def _template(tok: BertTokenizer, pair: str) -> BertTokenizer:
    cls, sep = tok.special_tokens["cls_token"], tok.special_tokens["sep_token"]
    tok.backend.post_processor = processors.TemplateProcessing(
        single=f"{cls}:0 $A:0 {sep}:0",
        pair=pair.format(cls=cls, sep=sep),
        special_tokens=[(cls, tok.vocab[cls]), (sep, tok.vocab[sep])],
    )
    return tok


class PairDoubleSeparator(TokenizerKnownBadPort):
    description = "pairs as [CLS] A [SEP] [SEP] B [SEP] (RoBERTa's template)"
    kills = (
        "tokenizer.case.pair-small",
        "tokenizer.case.pad_batch_pairs-small",
        "tokenizer.template.pair-drawn",
        "tokenizer.template.special_tokens_mask-drawn",
        "tokenizer.template.token_type_ids-drawn",
        "tokenizer.property.truncation_bound",
    )

    def change(self, tok: BertTokenizer) -> Any:
        return _template(tok, "{cls}:0 $A:0 {sep}:0 {sep}:0 $B:1 {sep}:1")


class PairTypeIdsZero(TokenizerKnownBadPort):
    description = "token_type_ids all 0 for a pair (B and its [SEP] not marked 1)"
    kills = (
        "tokenizer.case.pair-small",
        "tokenizer.case.pair_empty_first-small",
        "tokenizer.template.token_type_ids-drawn",
    )

    def change(self, tok: BertTokenizer) -> Any:
        return _template(tok, "{cls}:0 $A:0 {sep}:0 $B:0 {sep}:0")


class Wrapper:
    """Delegates to the reference tokenizer; subclasses change one call."""

    def __init__(self, inner: BertTokenizer) -> None:
        self.inner = inner

    def __call__(self, text: Any, text_pair: Any = None, **kwargs: Any) -> dict[str, Any]:
        return self.inner(text, text_pair, **kwargs)

    def decode(self, ids: Any, **kwargs: Any) -> str:
        return self.inner.decode(ids, **kwargs)

    def convert_tokens_to_ids(self, tokens: Any) -> Any:
        return self.inner.convert_tokens_to_ids(tokens)


class _NoSpecialsInBudget(Wrapper):
    def __call__(self, text: Any, text_pair: Any = None, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("max_length") is not None and kwargs.get("truncation") not in (
            False,
            "do_not_truncate",
        ):
            kwargs["max_length"] += 3 if text_pair else 2  # counts text tokens only
        return self.inner(text, text_pair, **kwargs)


class TruncationIgnoresSpecials(TokenizerKnownBadPort):
    description = "truncation keeps max_length text tokens, [CLS]/[SEP] not counted"
    kills = (
        "tokenizer.case.truncate_single-small",
        "tokenizer.case.truncate_longest_first_tie-small",
        "tokenizer.case.truncate_only_second-small",
        "tokenizer.property.truncation_bound",
        "tokenizer.legacy.truncation_tie",
    )

    def change(self, tok: BertTokenizer) -> Any:
        return _NoSpecialsInBudget(tok)


class _PythonLowerCase(Wrapper):
    def __init__(self, inner: BertTokenizer, lower: bool) -> None:
        super().__init__(inner)
        self.lower = lower

    def __call__(self, text: Any, text_pair: Any = None, **kwargs: Any) -> dict[str, Any]:
        if self.lower:
            text = [t.lower() for t in text] if isinstance(text, list) else text.lower()
        return self.inner(text, text_pair, **kwargs)


class PythonLowerCase(TokenizerKnownBadPort):
    description = "lower-cases the text with Python's str.lower() first (word-final sigma becomes ς)"
    kills = (
        "tokenizer.case.greek_sigma-small",
        "tokenizer.case.special_in_text-small",
        "tokenizer.legacy.final_sigma",
    )

    def change(self, tok: BertTokenizer) -> Any:
        return _PythonLowerCase(tok, tok.do_lower_case)


class _PlatformTables(Wrapper):
    def __call__(self, text: Any, text_pair: Any = None, **kwargs: Any) -> dict[str, Any]:
        return self.inner(_drop_controls(text), text_pair, **kwargs)


def _drop_controls(text: Any) -> Any:
    """Remove Cc/Cf/Co as this Python's unicodedata classifies them (not Unicode 8.0)."""
    if isinstance(text, list):
        return [_drop_controls(t) for t in text]
    return "".join(c for c in text if c in "\t\n\r" or unicodedata.category(c) not in ("Cc", "Cf", "Co"))


class PlatformUnicodeTables(TokenizerKnownBadPort):
    description = "removes control/format characters by the running Python's Unicode tables, not Unicode 8.0"
    kills = (
        "tokenizer.unicode.tables",
        "tokenizer.case.unicode_tables-small",
        "tokenizer.case.control_characters-small",
    )

    def change(self, tok: BertTokenizer) -> Any:
        return _PlatformTables(tok)


class NoDecoderCleanup(TokenizerKnownBadPort):
    description = "WordPiece decoder without cleanup (keeps the space before . ? ! ,)"
    kills = (
        "tokenizer.case.decode_wordpiece-small",
        "tokenizer.case.decode_no_python_cleanup-small",
        "tokenizer.legacy.decode_no_decoder_cleanup",
    )

    def change(self, tok: BertTokenizer) -> Any:
        tok.backend.decoder = decoders.WordPiece(prefix="##", cleanup=False)
        return tok


class _DropsInvalidIds(Wrapper):
    def decode(self, ids: Any, **kwargs: Any) -> str:
        return self.inner.decode([i for i in ids if 0 <= i < len(self.inner)], **kwargs)


class DecodeDropsInvalidIds(TokenizerKnownBadPort):
    description = "decode silently drops ids outside the vocabulary (HF fast's behaviour)"
    kills = ("tokenizer.decode.invalid_ids", "tokenizer.legacy.decode_unknown_id")

    def change(self, tok: BertTokenizer) -> Any:
        return _DropsInvalidIds(tok)


class _PadsRagged(Wrapper):
    def __call__(self, text: Any, text_pair: Any = None, **kwargs: Any) -> dict[str, Any]:
        if kwargs.get("return_tensors") == "np" and not kwargs.get("padding"):
            kwargs["padding"] = True
        return self.inner(text, text_pair, **kwargs)


class PadsRaggedTensors(TokenizerKnownBadPort):
    description = "return_tensors='np' on rows of different lengths pads them silently"
    kills = ("tokenizer.padding.ragged_tensors",)

    def change(self, tok: BertTokenizer) -> Any:
        return _PadsRagged(tok)


class LenientVocab(TokenizerKnownBadPort):
    description = "reads vocab.txt like HF's Rust loader: lines trimmed, empty lines and repeats accepted"
    kills = ("tokenizer.vocab.duplicates", "tokenizer.vocab.ambiguous_lines")

    def load_tokenizer(self, vocab_path: str, **options: Any) -> Any:
        lines = Path(vocab_path).read_bytes().decode("utf-8", errors="replace").lstrip("\ufeff").split("\n")
        tokens = [
            line.strip() or f"[unused{i}]" for i, line in enumerate(lines[:-1] if lines[-1] == "" else lines)
        ]
        last = {token: i for i, token in enumerate(tokens)}  # a repeated token keeps its last id, as in HF
        tokens = [t if last[t] == i else f"[unused{i}]" for i, t in enumerate(tokens)]
        return BertTokenizer({t: i for i, t in enumerate(tokens)}, **options)


class Legacy(TokenizerKnownBadPort):
    """transformers.BertTokenizerLegacy, the pure-Python class (BERT's original tokenizer)."""

    description = "transformers.BertTokenizerLegacy: the original Python BERT tokenizer"
    kills = tuple(
        f"tokenizer.legacy.{name}"
        for name in (
            "nfc",
            "unassigned_code_points",
            "unicode_version",
            "cjk_extension_e",
            "final_sigma",
            "token_type_ids_default",
            "offsets",
            "empty_text_pair",
            "truncation_tie",
            "truncation_impossible",
            "truncation_below_special_tokens",
            "decode_cleanup_default",
            "decode_no_decoder_cleanup",
            "decode_unknown_id",
        )
    )

    def load_tokenizer(self, vocab_path: str, **options: Any) -> Any:
        import transformers

        from bert_conformance.adapters._tokenizer import HFTokenizer

        if vocab_path.endswith(".json"):  # the legacy class reads vocab.txt only
            raise ValueError(f"{vocab_path}: BertTokenizerLegacy needs a vocab.txt")
        tok = transformers.BertTokenizerLegacy(vocab_path, **options)
        return HFTokenizer(tok)


MUTANTS = register(
    "tokenizer",
    NoLowerCase,
    NoAccentStripping,
    NoChineseCharSplit,
    PairDoubleSeparator,
    PairTypeIdsZero,
    TruncationIgnoresSpecials,
    PythonLowerCase,
    PlatformUnicodeTables,
    NoDecoderCleanup,
    DecodeDropsInvalidIds,
    PadsRaggedTensors,
    LenientVocab,
    Legacy,
)
PORTS = entries("tokenizer", *MUTANTS)
__getattr__ = resolver(MUTANTS)
