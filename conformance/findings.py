"""Findings: failing clauses grouped by what they have in common, so that one bug reads as one finding.

A port with one numerical bug fails dozens of clauses (golden cases, numerics, properties, heads ...), each
with its own "differs by 4e-4" message. The report lists *findings* first: one per cause, with the clauses
it affects, the worst error and the smallest reproduction. The grouping is evidence, never a verdict: every
clause keeps its own status.

Grouping (most specific first):

- **numeric**: clauses whose failure is a tolerance comparison (``... differ beyond atol=...``). They are one
  finding: a numeric deviation anywhere in the model shows in every output downstream of it. The finding
  says which outputs deviate (outputs, loss, gradients) and its worst comparison.
- **raised / did not raise / other**: the exception type and the first line of the message with numbers and
  quoted values blanked out, so "input_ids 99 out of range [0, 98)" and "... 31 out of range [0, 30)" are
  one finding.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

NUMERIC = "differ beyond atol="
_NUMBER = re.compile(r"-?\d+(\.\d+)?(e[-+]?\d+)?", re.IGNORECASE)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


@dataclass
class Finding:
    cause: str
    tests: list[str] = field(default_factory=list)
    worst: dict[str, Any] | None = None  # the comparison furthest beyond its tolerance (numeric findings)
    repro: str = ""  # the repro of the affected clause with the fewest compared elements
    details: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"cause": self.cause, "tests": self.tests, "count": len(self.tests), "worst": self.worst,
                "repro": self.repro, "details": self.details}


def group(results: Mapping[str, Mapping[str, Any]], *, diagnosis: Mapping[str, Any] | None = None) -> list[Finding]:
    """Findings from a report's clause results (``report.json`` ``clauses``), largest first. ``diagnosis``
    (docs/diagnosis.md) names the numeric finding's cause: where the port first diverges, what it behaves like."""
    by_key: dict[str, Finding] = {}
    sizes: dict[str, int] = {}
    for test_id, result in sorted(results.items()):
        if result["status"] != "fail":
            continue
        key, cause = signature(result.get("message", ""))
        finding = by_key.setdefault(key, Finding(cause))
        finding.tests.append(test_id)
        if key == "numeric":
            _add_numeric(finding, result)
        size = _compared_elements(result)
        if result.get("repro") and (not finding.repro or size < sizes[key]):
            finding.repro, sizes[key] = result["repro"], size
    for key, finding in by_key.items():
        if key == "numeric" and finding.details:
            finding.cause += ": " + ", ".join(sorted(set(finding.details)))
            finding.details = []
        if key == "numeric" and diagnosis and diagnosis.get("finding"):
            finding.cause += f"; diagnosis: {diagnosis['finding']}"
    return sorted(by_key.values(), key=lambda f: -len(f.tests))


def signature(message: str) -> tuple[str, str]:
    """(grouping key, readable cause) of one failure message."""
    first = next((line.strip() for line in message.splitlines() if line.strip()), "(no message)")
    if NUMERIC in message:
        return "numeric", "numeric deviation from BERT beyond the spec's tolerance"
    blanked = _NUMBER.sub("#", _QUOTED.sub("'…'", first))
    return blanked, first[:300]


def _add_numeric(finding: Finding, result: Mapping[str, Any]) -> None:
    observed = result.get("observed")
    if not observed:
        return
    what = str(observed.get("what", ""))
    finding.details.append("gradients" if "grad" in what else "loss" if what.endswith("loss") else "outputs")
    if finding.worst is None or float(observed["worst"]) > float(finding.worst["worst"]):
        finding.worst = {**observed, **(result.get("tolerance") or {})}


def _compared_elements(result: Mapping[str, Any]) -> int:
    comparisons: Iterable[Mapping[str, Any]] = result.get("comparisons") or []
    return sum(int(c.get("size", 0)) for c in comparisons) or 1 << 30


def summary_lines(findings: list[Mapping[str, Any]], *, limit: int = 10) -> list[str]:
    """The terminal summary's findings (as in report.json): one line each, then its repro."""
    lines = [f"findings: {len(findings)} (failing clauses grouped by cause; each clause keeps its own status)"]
    for number, finding in enumerate(findings[:limit], start=1):
        worst = finding["worst"]
        error = f"; worst max abs {float(worst['max_abs']):.3g} in {worst['what']}" if worst else ""
        lines.append(f"  [{number}] {finding['cause']} -- {finding['count']} clause(s){error}")
        if finding["repro"]:
            lines.append(f"      smallest repro: {finding['repro']}")
    if len(findings) > limit:
        lines.append(f"  ... and {len(findings) - limit} more in the report")
    return lines
