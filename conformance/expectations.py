"""A port's expectations file: the clauses it is known to fail, each with a reason.

Format (kept in the port's own repository, passed with ``--bert-expectations FILE``)::

    # comments and blank lines are ignored
    heads.BertModel.outputs.tuple      # we return a dict only
    numerics.float16.*                 # fp16 LayerNorm not implemented yet

One clause id (or a ``*`` glob) per line, then `` # reason`` (mandatory), optionally ending in
``(fails with: <text>)``: the clause is then excused only while its failure message contains <text>. An entry matches a test by its
spec clause id (all its variants) or by its test id (one variant, e.g. ``golden.x-float16``). Matching
clauses become strict expected failures: a listed clause that passes fails the run (XPASS). Ids that match no
collected clause are reported, and fail the run under ``--bert-strict``, so the file cannot silently rot.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

_ID = re.compile(r"^[A-Za-z0-9_.\-\[\]*]+$")


class ExpectationsError(ValueError):
    """The expectations file is malformed; the message names the file and line."""


_FAILS_WITH = re.compile(r"\(fails with: (?P<text>[^)]+)\)\s*$")


@dataclass(frozen=True)
class Expectation:
    pattern: str
    reason: str
    line: int

    @property
    def fails_with(self) -> str | None:
        """The failure the entry names, ``# reason (fails with: <text>)``: another failure is not excused."""
        match = _FAILS_WITH.search(self.reason)
        return match.group("text").strip() if match else None

    def matches(self, clause_id: str) -> bool:
        if "*" in self.pattern:
            return fnmatchcase(clause_id, self.pattern)
        return clause_id == self.pattern


def parse_expectations(path: str | Path) -> list[Expectation]:
    """Read and validate an expectations file (every problem is an :class:`ExpectationsError`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ExpectationsError(
            f"--bert-expectations {path}: cannot read: {error.strerror or error}"
        ) from error
    except UnicodeDecodeError as error:
        raise ExpectationsError(
            f"--bert-expectations {path}: is not UTF-8 text (byte {error.start}); one clause id per line"
        ) from None
    if "\x00" in text:
        raise ExpectationsError(f"--bert-expectations {path}: contains a NUL byte; one clause id per line")
    expectations: list[Expectation] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pattern, hash_sign, reason = line.partition("#")
        pattern, reason = pattern.strip(), reason.strip()
        where = f"{path}:{number}"
        if not hash_sign or not reason:
            raise ExpectationsError(
                f"{where}: {pattern!r} has no reason; write '<clause id>  # <why it fails>'"
            )
        if not _ID.match(pattern):
            raise ExpectationsError(f"{where}: {pattern!r} is not a clause id (one id or '*' glob per line)")
        if pattern in seen:
            raise ExpectationsError(f"{where}: {pattern!r} is already listed on line {seen[pattern]}")
        seen[pattern] = number
        expectations.append(Expectation(pattern, reason, number))
    return expectations


def find(expectations: list[Expectation], *ids: str) -> Expectation | None:
    """The first expectation matching any of ``ids`` (a test id such as ``<clause>-float16``, its clause id)."""
    return next((e for e in expectations if any(e.matches(i) for i in ids)), None)
