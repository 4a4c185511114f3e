"""The ``golden.*`` clauses of spec/golden.yaml against the golden cases: the ids the fixtures can run.

A case gives ``golden.<case id>`` (its core outputs), ``golden.<case id>.<group>`` for each optional output
group it records (:data:`OPTIONAL_OUTPUTS`), and ``golden.<case id>.gradients`` when it has gradients; the
text is the case's description (``" (<group>)"`` added for a group clause). :func:`spec_problems` lists where
spec/golden.yaml disagrees: ``bert-conformance golden verify`` (on the installed fixtures) and the clause
module (at collection) refuse such a file. ``spec validate`` checks the file on its own (ids composed from
their fields) and never reads the fixtures.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .load import GoldenCase

__all__ = ["OPTIONAL_OUTPUTS", "case_clauses", "groups", "spec_problems"]

# optional outputs (spec/surface.yaml surface.outputs) -> the forward option that returns them
OPTIONAL_OUTPUTS = {"hidden_states": "output_hidden_states", "attentions": "output_attentions",
                    "cross_attentions": "output_attentions"}


def groups(case: GoldenCase) -> list[str]:
    """The optional output groups a case recorded (hidden_states, attentions, ...), in a stable order."""
    names = {*case.expected, *(name for step in case.steps for name in step.expected)}
    return [group for group in OPTIONAL_OUTPUTS if any(n.split(".")[0] == group for n in names)]


def case_clauses(cases: Iterable[GoldenCase]) -> list[dict[str, Any]]:
    """The clauses the cases can run, as spec/golden.yaml writes them, case by case."""
    clauses: list[dict[str, Any]] = []
    for case in cases:
        clauses.append({"id": f"golden.{case.case_id}", "case": case.case_id, "text": case.description})
        clauses += [{"id": f"golden.{case.case_id}.{group}", "case": case.case_id, "outputs": group,
                     "text": f"{case.description} ({group})"} for group in groups(case)]
        if case.gradients:
            clauses.append({"id": f"golden.{case.case_id}.gradients", "case": case.case_id, "gradients": True,
                            "text": case.description})
    return clauses


def spec_problems(spec_clauses: Iterable[Mapping[str, Any]], cases: Iterable[GoldenCase],
                  file: str = "spec/golden.yaml") -> list[str]:
    """One line per disagreement between spec/golden.yaml's clauses and what the cases can run."""
    runnable = {c["id"]: c for c in case_clauses(cases)}
    listed = {c["id"]: (i, c) for i, c in enumerate(spec_clauses)}
    problems = []
    for clause_id, (i, clause) in listed.items():
        want = runnable.get(clause_id)
        if want is None:
            problems.append(f"{file}: clauses[{i}] {clause_id}: no golden case records it (case "
                            f"{clause.get('case')!r}; see golden/MANIFEST.json): remove it, or regenerate "
                            "the case")
            continue
        for key in ("case", "outputs", "gradients", "text"):
            if clause.get(key) != want.get(key):
                problems.append(f"{file}: clauses[{i}] {clause_id}: {key} {clause.get(key)!r}, but the "
                                f"golden case says {want.get(key)!r}")
    for clause_id, clause in runnable.items():
        if clause_id not in listed:
            problems.append(f"{file}: no clause {clause_id}: the golden case {clause['case']} records it; "
                            "add it")
    return problems
