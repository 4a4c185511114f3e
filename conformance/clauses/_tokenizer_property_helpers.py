"""Hypothesis strategies and property checks for the tokenizer clauses (spec/tokenizer.yaml ``properties``).

Every expectation is built from the port's own independent calls (single texts, unpadded rows, the text
without special tokens) and the spec's rules, or from HF transformers for ``hf_parity``; never copied from
the code under test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import assume
from hypothesis import strategies as st

from bert_conformance.clauses import _tokenizer_helpers as th

# Pieces that exercise the pipeline: vocabulary words, ## pieces, accents, CJK, punctuation, whitespace,
# removed characters, special-token strings, emoji, capital sigma.
PIECES = [
    "a",
    "b",
    "hello",
    "unwanted",
    "running",
    "café",
    "博推",
    ",",
    "!",
    " ",
    "  ",
    "\t",
    "[MASK]",
    "\u200b",
    "\u0301",
    "😀",
    "ΟΔΟΣ",
    "X",
    "1",
    "UNwant",
    "éd",
    "?",
    "'",
]
STRATEGIES = ("longest_first", "only_first", "only_second")
ALL_FIELDS = {"return_special_tokens_mask": True, "return_offsets_mapping": True}
JSON_TEXTS = (("Hello UNwantéd, 博推 [MASK] ΟΔΟΣ", "pair text"), ("", None), ("a b c", "d"))
PAD_VALUES = {"token_type_ids": 0, "attention_mask": 0, "special_tokens_mask": 1, "offset_mapping": [0, 0]}


def texts(max_pieces: int = 8) -> st.SearchStrategy[str]:
    return st.lists(st.sampled_from(PIECES), max_size=max_pieces).map("".join) | st.text(max_size=12)


def batches(max_size: int = 4) -> st.SearchStrategy[list[str]]:
    return st.lists(texts(), min_size=1, max_size=max_size)


def options() -> st.SearchStrategy[dict[str, Any]]:
    """Uncased (the default) or cased."""
    return st.sampled_from([{}, {"do_lower_case": False}])


def special_ids(vocab: th.Vocab) -> dict[str, int]:
    return {token: vocab.ids[token] for token in th.SPECIALS}


# --- properties ---------------------------------------------------------------------------------------------


def batch_equals_single(tok: Any, batch: list[str], pairs: list[str] | None) -> None:
    __tracebackhide__ = True
    enc = th.encode_all(tok, batch, pairs)
    for i, text in enumerate(batch):
        pair = None if pairs is None else pairs[i]
        # A batch's empty pair string is an empty second sequence; a single call's "" means no pair, " " does.
        single = th.encode_all(tok, text, pair if pair != "" else " " if pair is not None else None)
        row = {name: th.rows(enc, name, batched=True)[i] for name in single}
        assert row == single, f"batch row {i} ({text!r}, {pair!r}) != its single encoding: " + ", ".join(
            f"{k}: {th.first_difference(row[k], single[k])}" for k in single if row[k] != single[k]
        )


def padding_appends(tok: Any, pad_id: int, batch: list[str], side: str, mode: str, extra: int) -> None:
    __tracebackhide__ = True
    unpadded = [th.encode_all(tok, text) for text in batch]
    longest = max(len(u["input_ids"]) for u in unpadded)
    width = longest + extra if mode == "max_length" else longest
    kwargs = {"max_length": width} if mode == "max_length" else {}
    enc = th.encode_all(tok, batch, padding=mode, padding_side=side, **kwargs)
    values = {"input_ids": pad_id, **PAD_VALUES}
    for i, row in enumerate(unpadded):
        pads = width - len(row["input_ids"])
        for name, value in values.items():
            expected = row[name] + [value] * pads if side == "right" else [value] * pads + row[name]
            got = th.rows(enc, name, batched=True)[i]
            assert got == expected, (
                f"padding={mode!r}, side {side!r}, row {i} ({batch[i]!r}), {name}: "
                f"{th.first_difference(got, expected)}"
            )


def truncation_bound(tok: Any, text: str, pair: str | None, max_length: int, strategy: str) -> None:
    """At most max_length tokens; each kept sequence a prefix of the untruncated one; an error only where the
    strategy cannot reach max_length (tokenizer.truncation.only_first / only_second / impossible)."""
    __tracebackhide__ = True
    full = th.encode_all(tok, text, pair)
    n_special = 3 if pair else 2
    a_len = len(th.encode_all(tok, text, add_special_tokens=False)["input_ids"])
    b_len = len(full["input_ids"]) - n_special - a_len
    try:
        enc = th.encode_all(tok, text, pair, truncation=strategy, max_length=max_length)
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
    enc = th.encode_all(tok, text, pair)
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


def pair_template(tok: Any, vocab: th.Vocab, text: str, pair: str) -> dict[str, tuple[list[int], list[int]]]:
    """What [CLS] A [SEP] B [SEP] must give, from the encodings of A and B alone: field -> (got, expected)."""
    ids = special_ids(vocab)
    a = th.encode_all(tok, text, add_special_tokens=False)["input_ids"]
    b = th.encode_all(tok, pair, add_special_tokens=False)["input_ids"]
    enc = th.encode_all(tok, text, pair)
    expected = {
        "input_ids": [ids["[CLS]"], *a, ids["[SEP]"], *b, ids["[SEP]"]],
        "token_type_ids": [0] * (len(a) + 2) + [1] * (len(b) + 1),
        "special_tokens_mask": [1, *[0] * len(a), 1, *[0] * len(b), 1],
        "attention_mask": [1] * (len(a) + len(b) + 3),
    }
    return {name: (th.rows(enc, name, batched=False)[0], want) for name, want in expected.items()}


def vocabulary_words(vocab: th.Vocab) -> st.SearchStrategy[str]:
    """Words glued from whole-word and ## tokens of the vocabulary (lower-case letters only)."""
    heads = sorted(t for t in vocab.tokens if t.isalpha() and t.islower() and t.isascii())
    tails = sorted(
        t
        for t in vocab.tokens
        if t.startswith("##") and t[2:].isalpha() and t[2:].islower() and t[2:].isascii()
    )
    word = st.tuples(st.sampled_from(heads), st.lists(st.sampled_from(tails), max_size=2))
    return st.lists(word.map(lambda w: w[0] + "".join(t[2:] for t in w[1])), min_size=1, max_size=6).map(
        " ".join
    )


def no_unknown(ids: list[int], vocab: th.Vocab) -> None:
    assume(vocab.ids["[UNK]"] not in ids)  # [UNK] loses the text: nothing to compare


def write_tokenizer_json(vocab: th.Vocab, path: Path) -> Path:
    """A tokenizer.json (as `tokenizers` saves it) with the vocabulary's WordPiece model and a lower-casing
    normalizer that a BERT tokenizer must ignore: its own options decide (option.load_from_tokenizer_json)."""
    from tokenizers import Tokenizer, normalizers
    from tokenizers.models import WordPiece

    backend = Tokenizer(WordPiece(vocab.ids, unk_token="[UNK]"))
    backend.normalizer = normalizers.Lowercase()
    backend.save(str(path))
    return path
