"""conformance/clauses/test_properties.py: the reference passes every clause (in float64 and, not claiming float64,
in float32), and every clause of spec/properties.yaml is either tested or listed in NOT_TESTED. (That each
known-bad port of ``bert_conformance.known_bad.properties`` fails the clauses it breaks is tests/test_known_bad.py.)"""

from __future__ import annotations

import pytest
from known_bad_runs import run_module, statuses

import bert_conformance.adapters.reference  # noqa: F401 - keep it in pytester's module snapshot
import bert_conformance.clauses.test_properties as module
import bert_conformance.spec  # noqa: F401 - in the snapshot too: pytester drops modules an inner run imports
from bert_conformance.clauses.pytest_helpers import coverage_gaps, parametrized_clauses

pytest_plugins = ["pytester"]


def test_every_spec_clause_is_tested_or_listed():
    assert coverage_gaps("properties", module) == []


@pytest.mark.parametrize("impl", ["reference", "known_bad_runs:Float32Only"])
def test_correct_ports_pass_every_clause(pytester, impl):
    result, data = run_module(pytester, "test_properties", impl)
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert set(statuses(data).values()) == {"pass"}
    assert {r["clause"] for r in data["clauses"].values()} == parametrized_clauses(module)
