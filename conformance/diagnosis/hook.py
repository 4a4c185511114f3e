"""What a failing suite run needs from the diagnosis: one call, a time bound, report-ready data.

The plugin (or the session) calls :func:`after_run` once when a run ends with failed clauses; it returns the
diagnosis as JSON-ready data for report.json / report.md, or None when there is nothing to diagnose
(no failure, diagnosis switched off with ``BERT_DIAGNOSE=0``, or a port the suite could not load).
:func:`terminal_lines` gives the lines for the terminal summary. Diagnosis is evidence: nothing here touches
a clause's status.
"""

from __future__ import annotations

import os
from typing import Any

from bert_conformance.adapter import Port


def after_run(port: Port | str, *, failed: int, budget_s: float = 60) -> dict[str, Any] | None:
    """The diagnosis of ``port`` after a run with ``failed`` failing clauses (None: not run, or it could not be)."""
    if failed <= 0 or os.environ.get("BERT_DIAGNOSE", "1") == "0":
        return None
    from bert_conformance.diagnosis import diagnose

    try:
        return diagnose(port, budget_s=budget_s).to_dict()
    except Exception as error:  # the diagnosis must never break the report of the run it explains
        return {"finding": None, "error": f"diagnosis failed: {type(error).__name__}: {error}"}


def terminal_lines(data: dict[str, Any] | None) -> list[str]:
    """The terminal summary's diagnosis section (empty when there is none)."""
    if not data:
        return []
    if "error" in data:
        return [data["error"]]
    from bert_conformance.diagnosis.cli import render

    return render(data).splitlines()
