"""Probing a port's character classes (golden/tokenizer/char_classes.json) through its encode call alone.

Each sampled code point c is encoded as the word ``a<c>a`` with a probe vocabulary that holds ``a``, ``##a``,
and c and ``##c`` (and the lower-cased forms), so the tokens say what the normalizer and pre-tokenizer did
with c, without any normalize() entry point:

================  ==================================  ===========================================
class             options (lower, strip, cjk)         tokens of ``a<c>a`` for c in the class
================  ==================================  ===========================================
removed           False, False, False                 ``a ##a``        (c vanished)
whitespace        False, False, False                 ``a a``          (c split the word)
punctuation       False, False, False                 ``a c a``        (c is a word of its own)
cjk               False, False, True                  ``a c a``        (not punctuation)
stripped_marks    False, True, False                  ``a ##a``        (c vanished, not removed)
================  ==================================  ===========================================

Lower-casing is relational: ``a<c>a`` lower-cased by the port equals ``a<c.lower()>a`` encoded cased, except
for the code points of ``lowercase_differs_from_python`` (where it must differ).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from bert_conformance.clauses import _tokenizer_helpers as th

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


def classes() -> Classes:
    return Classes(th.golden("char_classes")["classes"])


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
    tokens = dict.fromkeys([*th.SPECIALS, "a", "##a"])
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
        self.vocab = th.Vocab(self.path)

    def tokens(self, texts: list[str], options: dict[str, Any]) -> list[list[str]]:
        tok = th.tokenizer(self.bert_impl, self.path, **options)
        enc = th.encode(tok, texts, add_special_tokens=False)
        return [self.vocab.to_tokens(row) for row in th.rows(enc, "input_ids", batched=True)]

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
