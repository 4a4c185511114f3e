"""Running a clause module against a known-bad port (used by tests/test_clauses_*.py).

The ports themselves moved to ``bert_conformance.known_bad`` (one corpus: docs/known-bad.md); ``KnownBadPort``,
``Model``, ``entries``, ``with_loss`` and ``Float32Only`` are re-exported from there for these tests and for
``--bert-impl known_bad_runs:Float32Only``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bert_conformance.known_bad._base import Float32Only, KnownBadPort, Model, entries, with_loss  # noqa: F401

# --- running a clause module against a port (used by tests/test_clauses_*.py) --------------------------------

TESTS_DIR = Path(__file__).resolve().parent.parent


def run_module(pytester: Any, module: str, impl: str, *args: str) -> tuple[Any, dict[str, Any]]:
    """Run ``bert_conformance.clauses.<module>`` against ``impl`` in-process; returns (result, JSON report).

    The ``ci`` profile (the default) is derandomized and does not shrink: a failing clause stops at its first
    falsifying example.
    """
    import bert_conformance.clauses

    pytester.syspathinsert(TESTS_DIR)
    report = pytester.path / "report.json"
    path = Path(bert_conformance.clauses.__file__).parent / f"{module}.py"
    result = pytester.runpytest(
        str(path), "--bert-impl", impl, "--bert-report", str(report), "-p", "no:cacheprovider", *args
    )
    return result, json.loads(report.read_text())


def statuses(data: dict[str, Any]) -> dict[str, str]:
    """Report id (``<clause id>-<Head>``) -> status."""
    return {test_id: result["status"] for test_id, result in data["clauses"].items()}
