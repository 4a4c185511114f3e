"""Schema regex patterns that cannot backtrack (``pattern`` and ``patternProperties`` of spec/schema/*.json).

A pattern is accepted when matching it cannot backtrack: it is anchored (^), and every repeated item is
followed only by the end or by a literal character that the item cannot match (so the matcher never has
to guess where a repeat stops). Every pattern of the real schemas has this form; `(a+)+b` or `a*a*a*b`
(exponential or polynomial backtracking) do not.
"""

from __future__ import annotations

import functools
import re
from typing import Any

try:  # the regex parser of the standard library (re._parser since 3.11)
    from re import _constants as _sre
    from re import _parser as _sre_parse
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _sre  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

# The longest real schema pattern has 38 characters.
MAX_PATTERN_CHARS = 128

_END = None  # "the end of the pattern / of the string" in a set of possible next items
_ATOMS = (_sre.LITERAL, _sre.NOT_LITERAL, _sre.IN, _sre.ANY)
_REPEATS = tuple(
    getattr(_sre, name) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT") if hasattr(_sre, name)
)
_CATEGORIES = {
    _sre.CATEGORY_DIGIT: r"\d",
    _sre.CATEGORY_NOT_DIGIT: r"\D",
    _sre.CATEGORY_WORD: r"\w",
    _sre.CATEGORY_NOT_WORD: r"\W",
    _sre.CATEGORY_SPACE: r"\s",
    _sre.CATEGORY_NOT_SPACE: r"\S",
}


class _Unsafe(Exception):
    pass


@functools.lru_cache(maxsize=256)
def pattern_problem(pattern: str) -> str | None:
    """Why a schema regex pattern is refused (too long, unanchored, may backtrack), or None."""
    if len(pattern) > MAX_PATTERN_CHARS:
        return f"regex pattern longer than {MAX_PATTERN_CHARS} characters"
    if not pattern.startswith("^"):
        return f"regex pattern {pattern!r} must start with ^ (an unanchored search retries at every position)"
    try:
        parsed = _sre_parse.parse(pattern)
        if parsed.state.flags & (re.IGNORECASE | re.MULTILINE | re.DOTALL | re.VERBOSE):
            raise _Unsafe("inline flags are not allowed")
        _first(list(parsed), [_END])
    except (re.error, OverflowError, RecursionError) as exc:
        return f"regex pattern {pattern[:40]!r} is not a regular expression: {exc}"
    except _Unsafe as exc:
        return f"regex pattern {pattern[:40]!r} may backtrack: {exc}"
    return None


def _first(items: list[Any], after: list[Any]) -> list[Any]:
    """The possible first items of ``items`` followed by ``after``; raises _Unsafe for an ambiguous repeat."""
    following = after
    for op, arg in reversed(items):
        if op is _sre.AT and arg in (_sre.AT_END, _sre.AT_END_STRING):
            following = [_END]
        elif op is _sre.AT and arg in (_sre.AT_BEGINNING, _sre.AT_BEGINNING_STRING):
            continue
        elif op in _ATOMS:
            following = [(op, arg)]
        elif op is _sre.SUBPATTERN and not (arg[1] or arg[2]):
            following = _first(list(arg[3]), following)
        elif op in _REPEATS:
            following = _repeat(arg[0], list(arg[2]), following)
        else:
            raise _Unsafe(
                f"unsupported construct {str(op).lower()} (allowed: literals, classes, groups, repeats)"
            )
    return following


def _repeat(minimum: int, body: list[Any], following: list[Any]) -> list[Any]:
    if len(body) == 1 and body[0][0] in _ATOMS:
        lead = body[0]
        if any(
            item is not _END and (item[0] is not _sre.LITERAL or _matches(lead, item[1]))
            for item in following
        ):
            raise _Unsafe("a repeated item must be followed by the end or a literal it cannot match")
    else:
        first = _first(body, [_END])
        if len(first) != 1 or first[0] is _END or first[0][0] is not _sre.LITERAL:
            raise _Unsafe("a repeated group must start with a literal character")
        lead = first[0]
        if any(
            item is not _END and (item[0] is not _sre.LITERAL or item[1] == lead[1]) for item in following
        ):
            raise _Unsafe("a repeated group must be followed by the end or a literal other than its first")
        _first(body, [lead, *following])
    return [lead, *following] if minimum == 0 else [lead]


def _matches(atom: tuple[Any, Any], char: int) -> bool:
    """Whether a single-character item can match ``char`` (True when unsure: that only refuses more)."""
    op, arg = atom
    if op is _sre.LITERAL:
        return arg == char
    if op is _sre.NOT_LITERAL:
        return arg != char
    if op is not _sre.IN:
        return True
    negate = any(kind is _sre.NEGATE for kind, _ in arg)
    hit = any(_class_item_matches(kind, value, char) for kind, value in arg if kind is not _sre.NEGATE)
    return hit != negate


def _class_item_matches(kind: Any, value: Any, char: int) -> bool:
    if kind is _sre.LITERAL:
        return value == char
    if kind is _sre.RANGE:
        return value[0] <= char <= value[1]
    if kind is _sre.CATEGORY and value in _CATEGORIES:
        return re.fullmatch(_CATEGORIES[value], chr(char)) is not None
    return True
