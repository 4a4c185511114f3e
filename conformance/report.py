"""Conformance results: one status per clause test, the JSON report and its Markdown matrix.

Results are keyed by test id: the spec clause id, or ``<clause id>-<variant>`` for a clause run per head or
dtype; each result also names its spec clause id.

Statuses: ``pass``, ``fail``, ``xfail`` (listed in the port's expectations file), ``not-claimed`` (the clause
needs a capability the port does not declare; never counted as passed) and ``skipped-env`` (the environment
lacks an optional peer, e.g. a checkpoint package). Results are built from pytest's test reports, which
pytest-xdist ships from workers to the controller, so a distributed run produces the same report.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bert_conformance import findings

NEEDS_LIVE_ORACLE = "needs the live oracle"  # starts the skip message of clauses --bert-oracle golden cannot answer
STATUSES = ("pass", "fail", "xfail", "not-claimed", "skipped-env")
NOT_CLAIMED = "not claimed:"
_RANK = {"not-claimed": 0, "skipped-env": 1, "pass": 2, "xfail": 3, "fail": 4}  # worst status wins
REPORT_FORMAT = "bert-conformance-report/1"


@dataclass
class ClauseResult:
    test: str  # the test id the result is keyed by
    clause: str  # its spec clause id
    nodeids: list[str]
    status: str
    message: str = ""
    duration: float = 0.0
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    repro: str = ""  # the command that reruns just this clause (failures only)
    tier: dict[str, Any] | None = None  # a tier clause's measurement: metric, value, threshold, margin

    def to_dict(self) -> dict[str, Any]:
        worst = _worst_comparison(self.comparisons)
        return {
            "clause": self.clause,
            "status": self.status,
            "nodeids": self.nodeids,
            "message": self.message,
            "duration_s": round(self.duration, 4),
            "tolerance": {"atol": worst["atol"], "rtol": worst["rtol"]} if worst else None,
            "observed": {key: worst[key] for key in ("what", "max_abs", "max_rel", "worst")}
            if worst
            else None,
            "comparisons_total": len(self.comparisons),
            "comparisons": sorted(self.comparisons, key=_closeness, reverse=True)[:_MAX_COMPARISONS],
            "repro": self.repro,
            **({"tier": self.tier} if self.tier else {}),
        }


_MAX_COMPARISONS = 20  # per result, the closest to their tolerance (hypothesis clauses make hundreds)


def _closeness(comparison: dict[str, Any]) -> float:
    return float(comparison["worst"])  # "inf" strings (NaN/Inf found) read back as inf


def _worst_comparison(comparisons: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The comparison closest to (or furthest beyond) its tolerance."""
    return max(comparisons, key=_closeness) if comparisons else None


def status_of(report: Any) -> str | None:
    """The clause status one pytest report phase implies (None: nothing to say, e.g. a passing setup)."""
    if report.failed:
        return "fail"
    if report.skipped:
        if hasattr(report, "wasxfail"):
            return "xfail"
        return "not-claimed" if skip_reason(report).startswith(NOT_CLAIMED) else "skipped-env"
    if report.when == "call":
        return "pass"
    return None


def skip_reason(report: Any) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr or "")
    return reason.removeprefix("Skipped: ")


def message_of(report: Any, status: str) -> str:
    if status in ("not-claimed", "skipped-env"):
        return skip_reason(report)
    if status == "xfail":
        actual = dict(report.user_properties).get("bert_actual_failure")
        reason = str(getattr(report, "wasxfail", ""))
        return f"{reason}\nactual failure: {actual}" if actual else reason
    if status == "fail":
        crash = getattr(report.longrepr, "reprcrash", None)
        text = crash.message if crash is not None else str(report.longrepr)
        return text[:4000]
    return ""


CRASHED = "???"  # the phase pytest-xdist gives the report of a test whose worker process died


class Results:
    """Results by test id, from test reports (on the controller under xdist); the worst status wins.

    It also knows which collected tests finished (their teardown, or a crash, was reported), so that a run that
    ends early (an interrupt, ``-x``, a killed process) is never reported as complete.
    """

    def __init__(self) -> None:
        self.clauses: dict[str, ClauseResult] = {}
        self.collected: set[str] = set()
        self.finished: set[str] = set()

    def add(self, report: Any) -> None:
        if report.when in ("teardown", CRASHED):
            self.finished.add(report.nodeid)
        props = dict(report.user_properties)
        clause, test = props.get("bert_clause"), props.get("bert_test")
        if report.when == CRASHED and test is None:  # the worker died before the clause reported its ids
            test = clause = _parametrization_id(report.nodeid)
        status = status_of(report)
        if clause is None or test is None or status is None:
            return
        result = self.clauses.setdefault(
            test, ClauseResult(test, clause, [], status, message_of(report, status))
        )
        if report.nodeid not in result.nodeids:
            result.nodeids.append(report.nodeid)
        result.duration += report.duration
        if report.when == "call":
            result.comparisons.extend(props.get("bert_comparisons", []))
        result.repro = result.repro or str(props.get("bert_repro", ""))
        result.tier = result.tier or props.get("bert_tier")
        if _RANK[status] > _RANK[result.status]:
            result.status, result.message = status, message_of(report, status)

    def not_run(self) -> list[str]:
        return sorted(self.collected - self.finished)

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for result in self.clauses.values():
            counts[result.status] += 1
        return counts

    def to_dict(self, header: dict[str, Any], run: dict[str, Any], *, diagnosis: dict[str, Any] | None = None
                ) -> dict[str, Any]:
        clauses = {cid: self.clauses[cid].to_dict() for cid in sorted(self.clauses)}
        return {
            "format": REPORT_FORMAT,
            "run": run,
            **header,
            "summary": {**self.counts(), "total": len(self.clauses)},
            "findings": [f.to_dict() for f in findings.group(clauses, diagnosis=diagnosis)],
            "diagnosis": diagnosis,
            "clauses": clauses,
        }


def run_record(run_id: str, *, collected: int, not_run: list[str], ended_early: str | None) -> dict[str, Any]:
    """The report's ``run`` entry: ``complete`` is true only when every collected test finished and nothing
    ended the run early. ``id`` lets a gate tell this run's report from a stale file (``bert-conformance run``)."""
    reason = ended_early or (f"{len(not_run)} collected test(s) never finished" if not_run else None)
    return {
        "id": run_id,
        "complete": reason is None,
        "incomplete_reason": reason,
        "collected": collected,
        "not_run": not_run[:_MAX_NOT_RUN],
    }


_MAX_NOT_RUN = 50


def _parametrization_id(nodeid: str) -> str:
    """``path::test[<id>]`` -> ``<id>`` (the report id of a clause whose worker died before reporting it)."""
    name = nodeid.rsplit("::", 1)[-1]
    return name[name.index("[") + 1 : -1] if name.endswith("]") and "[" in name else name


def write_reports(path: str | Path, data: dict[str, Any]) -> tuple[Path, Path]:
    """Write the JSON report and the Markdown matrix next to it (``PATH`` with ``.md``), each atomically."""
    path = Path(path)
    markdown_path = path.with_suffix(".md")
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False) + "\n")
    write_atomic(markdown_path, markdown(data))
    return path, markdown_path


def report_paths_problem(path: str) -> str | None:
    """Why ``--bert-report PATH`` cannot be written (checked before the run, not after it), or None."""
    if not path.strip():
        return "is empty; give the JSON report's path (the Markdown matrix goes next to it, .md)"
    json_path = Path(path)
    if json_path.suffix.lower() == ".md":
        return "ends in .md, where the Markdown matrix goes: give the JSON report's path (e.g. report.json)"
    for target in (json_path, json_path.with_suffix(".md")):
        if target.exists() and not target.is_file():  # os.replace would put a file where a device or folder was
            return f"{target} exists and is not a regular file"
        if target.is_symlink():
            return f"{target} is a symbolic link; the report replaces files, it does not write through links"
    return None


def write_atomic(path: Path, text: str) -> None:
    """Write to a temporary file in the same folder, then rename: never a half-written report. The file gets
    the permissions of a normally created one (mkstemp makes 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


def markdown(data: dict[str, Any]) -> str:
    """The conformance matrix: header, counts per spec section, then one row per clause."""
    impl = data.get("implementation", {})
    caps = impl.get("capabilities", {})
    lines = [
        f"# BERT conformance: {impl.get('name', '?')} {impl.get('version', '')}".rstrip(),
        "",
        f"- implementation: `{impl.get('selected', '?')}` ({impl.get('target', '?')})",
        f"- suite {data.get('suite_version', '?')}, spec {data.get('spec_version', '?')}, oracle "
        f"{data.get('oracle', '?')}, device {data.get('device', 'cpu')}, hypothesis profile {data.get('profile', '?')}",
        *(f"- claims {key}: {', '.join(caps.get(key, [])) or '(none)'}" for key in CLAIM_KEYS),
        *([f"- accuracy tier: {caps['tier']} (docs/tiers.md)"] if caps.get("tier") else []),
        *_incomplete_lines(data.get("run", {})),
        "",
        "| section | " + " | ".join(STATUSES) + " |",
        "|---|" + "---|" * len(STATUSES),
    ]
    sections: dict[str, dict[str, int]] = {}
    for result in data["clauses"].values():
        counts = sections.setdefault(result["clause"].split(".", 1)[0], dict.fromkeys(STATUSES, 0))
        counts[result["status"]] += 1
    for section, counts in sorted(sections.items()):
        lines.append(f"| {section} | " + " | ".join(str(counts[s]) for s in STATUSES) + " |")
    summary = data["summary"]
    lines.append("| **total** | " + " | ".join(f"**{summary[s]}**" for s in STATUSES) + " |")
    lines += _finding_sections(data.get("findings", []))
    lines += _failure_sections(data["clauses"])
    lines += ["", "## Every clause", "", "| clause | status | max abs error | tolerance | note |", "|---|---|---|---|---|"]
    for cid, result in data["clauses"].items():
        observed = result["observed"]
        error = f"{float(observed['max_abs']):.3g}" if observed else ""
        tol = result["tolerance"]
        tolerance = f"atol={tol['atol']:g}, rtol={tol['rtol']:g}" if tol else ""
        note = result["message"].splitlines()[0][:120].replace("|", "\\|") if result["message"] else _tier_note(result)
        lines.append(f"| `{cid}` | {result['status']} | {error} | {tolerance} | {note} |")
    stale = data.get("expectations", {}).get("stale", [])
    if stale:
        lines += ["", "Expectations matching no collected clause: " + ", ".join(f"`{s}`" for s in stale)]
    return "\n".join(lines) + "\n"


def _tier_note(result: dict[str, Any]) -> str:
    tier = result.get("tier")
    if not tier:
        return ""
    return f"{tier['metric']} {tier['value']:.6g} (threshold {tier['threshold']:.6g}, margin {tier['margin']:.3g})"


def _finding_sections(found: list[dict[str, Any]]) -> list[str]:
    """Findings first: failing clauses grouped by cause (each clause keeps its own status below)."""
    if not found:
        return []
    lines = ["", f"## Findings ({len(found)})", ""]
    for number, finding in enumerate(found, start=1):
        worst = finding.get("worst")
        error = f" Worst: max abs {float(worst['max_abs']):.3g} in `{worst['what']}`." if worst else ""
        lines.append(f"{number}. **{finding['cause']}** ({finding['count']} clause(s)).{error}")
        if finding.get("component"):
            lines.append(f"   Component: `{finding['component']}`")
        for detail in finding.get("details") or []:
            lines.append(f"   - {detail}")
        if finding.get("repro"):
            lines.append(f"   Smallest repro: `{finding['repro']}`")
        shown = ", ".join(f"`{t}`" for t in finding["tests"][:12])
        more = f" and {finding['count'] - 12} more" if finding["count"] > 12 else ""
        lines.append(f"   Clauses: {shown}{more}")
    return lines


def _failure_sections(clauses: dict[str, Any]) -> list[str]:
    """Failing clauses first, each with its whole message (the table below keeps one line per clause)."""
    failed = [(cid, r) for cid, r in clauses.items() if r["status"] == "fail"]
    if not failed:
        return []
    lines = ["", f"## Failing clauses ({len(failed)})"]
    for cid, result in failed:
        lines += ["", f"### `{cid}`", "", "```text", result["message"].rstrip() or "(no message)", "```"]
    return lines


def _incomplete_lines(run: dict[str, Any]) -> list[str]:
    if run.get("complete", True):
        return []
    return ["", f"**INCOMPLETE: {run.get('incomplete_reason')}**: this report is not a verdict on the port."]


CLAIM_KEYS = ("heads", "dtypes", "devices", "attention", "features")
