"""Tokenizer probes: where a port's tokenizer first diverges, stage by stage.

Each probe calls the port's tokenizer (``port.load_tokenizer``, the committed small vocabulary of
``golden/tokenizer/vocab.txt``, default options: uncased) and the reference tokenizer (through the oracle) on an
input chosen so that one stage decides the answer, and compares what that stage shapes. The probes run in
pipeline order, and the early ones are insensitive to the later stages:

- **vocab**: a vocabulary with a repeated token must be refused (``tokenizer.vocab.duplicates``).
- **unicode**: the character classes are Unicode 8.0's (HF's Rust tables), not the running Python's: a
  character unassigned in 8.0 but a format character today is kept (input ids only).
- **normalizer**, **pre_tokenizer**, **wordpiece**: ``add_special_tokens=False``, words that are whole vocabulary
  entries once normalised (so a template, truncation or padding bug cannot show): lower-casing, accent
  stripping, Greek final sigma (per character, not Python's ``str.lower``), control characters, CJK
  ideographs split out of words; punctuation split; ``##`` pieces, a whole-word ``[UNK]`` and offsets.
- **template**: lower-case ASCII words (a normalizer bug cannot show), ``[CLS] A [SEP]`` and
  ``[CLS] A [SEP] B [SEP]`` with token_type_ids and special_tokens_mask.
- **truncation**, **padding**: a pair cut to max_length (specials counted), a ragged batch padded, and ragged
  rows with ``return_tensors='np'`` and no padding refused.
- **decode**: the WordPiece decoder's clean-up of spaces before punctuation; an id outside the vocabulary
  refused.

A stage's probe fails when the port's fields differ from the reference's, or when exactly one of them raises.
The first failing probe names the component (``tokenizer.<stage>``). Evidence only, like the model probes.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

Loader = Callable[[Path], Any]  # vocab path -> tokenizer
Call = Callable[[Loader, Any, Path], Any]  # (loader, tokenizer, vocab path) -> what the stage shapes


@dataclass(frozen=True)
class TokenizerProbe:
    name: str
    component: str
    what: str
    call: Call


@dataclass
class TokenizerDiagnosis:
    """The first tokenizer stage whose probe differs from the reference (``component`` None: none does)."""

    component: str | None = None
    probe: str | None = None
    what: str = ""
    difference: str = ""
    failing: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def finding(self) -> str | None:
        if self.component is None:
            return None
        return f"tokenizer: first diverging stage {self.component} (probe {self.probe}: {self.what}; {self.difference})"

    def to_dict(self) -> dict[str, Any]:
        return {"component": self.component, "probe": self.probe, "what": self.what, "difference": self.difference,
                "finding": self.finding, "failing": self.failing, "skipped": self.skipped}


def _fields(*names: str, **call: Any) -> Callable[[Any, Any], dict[str, Any]]:
    """Encode ``text`` (or a (text, pair) tuple, or a batch list) and keep ``names``."""
    def encode(tok: Any, text: Any) -> dict[str, Any]:
        first, pair = text if isinstance(text, tuple) else (text, None)
        out = tok(first, pair, **call)
        return {name: _plain(out[name]) for name in names}
    return encode


def _on(text: Any, encode: Callable[[Any, Any], Any]) -> Call:
    return lambda _load, tok, _vocab: encode(tok, text)


def _words(text: str, **call: Any) -> Call:
    """Input ids and offsets of ``text`` without special tokens: only the normalizer, the pre-tokenizer and
    WordPiece decide them."""
    return _on(text, _fields("input_ids", "offset_mapping", add_special_tokens=False, return_offsets_mapping=True,
                             **call))


def _duplicate_vocab(load: Loader, _tok: Any, vocab: Path) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "vocab.txt"
        lines = vocab.read_text(encoding="utf-8").splitlines()
        path.write_text("\n".join([*lines, lines[-1]]) + "\n", encoding="utf-8")
        load(path)
    return "loaded"


def _decode(tokens: list[str], **options: Any) -> Call:
    def call(_load: Loader, tok: Any, vocab: Path) -> Any:
        ids = {token: i for i, token in enumerate(vocab.read_text(encoding="utf-8").splitlines())}
        return tok.decode([ids[token] for token in tokens], **options)
    return call


def _decode_invalid(_load: Loader, tok: Any, _vocab: Path) -> Any:
    return tok.decode([10**6])


_TEMPLATE = ("input_ids", "token_type_ids", "special_tokens_mask")

PROBES: tuple[TokenizerProbe, ...] = (
    TokenizerProbe("tokenizer.vocab.duplicates", "tokenizer.vocab", "a vocabulary with a repeated token is refused",
                   _duplicate_vocab),
    TokenizerProbe("tokenizer.unicode.tables", "tokenizer.unicode",
                   "Unicode 8.0 character classes: U+0890 (a format character only since Unicode 14) is kept",
                   _on("the a\u0890b dog", _fields("input_ids", add_special_tokens=False))),
    TokenizerProbe("tokenizer.normalizer.lowercase", "tokenizer.normalizer", "upper-case words lower-cased",
                   _words("HELLO World")),
    TokenizerProbe("tokenizer.normalizer.strip_accents", "tokenizer.normalizer", "accents stripped when uncased",
                   _words("café naïve hällo")),
    TokenizerProbe("tokenizer.normalizer.final_sigma", "tokenizer.normalizer",
                   "capital sigma lower-cased per character (σ), not by str.lower() (ς at a word end)",
                   _words("ΟΣ ΟΔΟΣ")),
    TokenizerProbe("tokenizer.normalizer.clean_text", "tokenizer.normalizer",
                   "control characters removed, tabs and newlines are spaces", _words("hel\x00lo\tworld\nthe")),
    TokenizerProbe("tokenizer.normalizer.chinese_chars", "tokenizer.normalizer",
                   "CJK ideographs split out of a word", _words("the博推dog")),
    TokenizerProbe("tokenizer.pre_tokenizer.punctuation", "tokenizer.pre_tokenizer",
                   "punctuation split from words", _words("hello,world!the")),
    TokenizerProbe("tokenizer.wordpiece.greedy", "tokenizer.wordpiece", "longest-match-first ## pieces",
                   _words("unwanted running lowest")),
    TokenizerProbe("tokenizer.wordpiece.unknown_word", "tokenizer.wordpiece",
                   "a word with an unknown piece is one [UNK]", _words("hello\U0001f600x dog")),
    TokenizerProbe("tokenizer.template.single", "tokenizer.template", "[CLS] A [SEP]",
                   _on("hello world", _fields(*_TEMPLATE, return_special_tokens_mask=True))),
    TokenizerProbe("tokenizer.template.pair", "tokenizer.template", "[CLS] A [SEP] B [SEP], B's token type 1",
                   _on(("hello world", "the dog"), _fields(*_TEMPLATE, return_special_tokens_mask=True))),
    TokenizerProbe("tokenizer.truncation.pair", "tokenizer.truncation",
                   "a pair cut to max_length, the special tokens counted",
                   _on(("hello world the how are", "you can my dog is cute"),
                       _fields("input_ids", "token_type_ids", truncation=True, max_length=9))),
    TokenizerProbe("tokenizer.padding.batch", "tokenizer.padding", "a ragged batch padded to its longest row",
                   _on(["hello", "hello world the"], _fields("input_ids", "attention_mask", padding=True))),
    TokenizerProbe("tokenizer.padding.ragged_tensors", "tokenizer.padding",
                   "ragged rows as numpy tensors without padding are refused",
                   _on(["hello", "hello world the"], _fields("input_ids", return_tensors="np"))),
    TokenizerProbe("tokenizer.decode.cleanup", "tokenizer.decode", "no space before . , ! ? after decoding",
                   _decode(["hello", ",", "world", "."])),
    TokenizerProbe("tokenizer.decode.invalid_ids", "tokenizer.decode", "an id outside the vocabulary is refused",
                   _decode_invalid),
)


def run_probes(load_port: Loader, load_reference: Loader, vocab: Path, *,
               deadline: float) -> TokenizerDiagnosis:
    """Every probe in order (until ``deadline``, a ``time.monotonic()`` value); the first failing one names
    the stage."""
    diagnosis = TokenizerDiagnosis()
    port_tok, reference_tok = load_port(vocab), load_reference(vocab)
    for probe in PROBES:
        if time.monotonic() > deadline:
            diagnosis.skipped.append(probe.name)
            continue
        got = _outcome(probe.call, load_port, port_tok, vocab)
        want = _outcome(probe.call, load_reference, reference_tok, vocab)
        difference = _difference(got, want)
        if difference is None:
            continue
        diagnosis.failing.append(probe.name)
        if diagnosis.component is None:
            diagnosis.component, diagnosis.probe = probe.component, probe.name
            diagnosis.what, diagnosis.difference = probe.what, difference
    return diagnosis


def _outcome(call: Call, load: Loader, tok: Any, vocab: Path) -> tuple[str, Any]:
    try:
        return "value", call(load, tok, vocab)
    except Exception as error:  # the port's and the reference's errors: whether one raises is the evidence
        return "raised", f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"[:200]


def _difference(got: tuple[str, Any], want: tuple[str, Any]) -> str | None:
    if got[0] != want[0]:
        return f"the port {'raised ' + got[1] if got[0] == 'raised' else 'returned ' + _short(got[1])}; " \
               f"BERT {'raises ' + want[1] if want[0] == 'raised' else 'returns ' + _short(want[1])}"
    if got[0] == "raised" or got[1] == want[1]:
        return None
    return f"the port returned {_short(got[1])}; BERT returns {_short(want[1])}"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 160 else text[:157] + "..."


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    return value
