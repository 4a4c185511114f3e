"""conformance/clauses/test_numerics.py: the reference passes every clause (and, not claiming float64, every
float32-and-below one), and there is one clause per (dtype, head), plus ``numerics.<dtype>.hidden_states``.
(That each known-bad port of
``bert_conformance.known_bad.numerics`` fails the clauses it breaks is tests/test_known_bad.py.)"""

from __future__ import annotations

import pytest
from known_bad_runs import run_module, statuses

import bert_conformance.adapters.reference  # noqa: F401 - keep it in pytester's module snapshot
import bert_conformance.clauses.test_numerics as module
import bert_conformance.spec  # noqa: F401 - in the snapshot too: pytester drops modules an inner run imports
from bert_conformance.clauses.pytest_helpers import NOT_TESTED, parametrized_clauses
from bert_conformance.spec import load_spec
from bert_conformance.tolerance import DTYPES

pytest_plugins = ["pytester"]


def test_one_clause_per_dtype_and_head():
    heads = load_spec().heads.heads
    per_head = {f"numerics.{dtype}.{head}" for dtype in DTYPES for head in heads}
    assert parametrized_clauses(module) == per_head | {f"numerics.{dtype}.hidden_states" for dtype in DTYPES}
    assert not [cid for cid in NOT_TESTED if cid.startswith("numerics.")]


@pytest.mark.parametrize("impl", ["reference", "known_bad_runs:Float32Only"])
def test_correct_ports_pass_every_clause(pytester, impl):
    result, data = run_module(pytester, "test_numerics", impl)
    assert result.ret == 0, result.stdout.str()[-3000:]
    found = statuses(data)
    assert set(found) == parametrized_clauses(module)
    claimed = {c for c in parametrized_clauses(module) if impl == "reference" or ".float64." not in c}
    assert {c for c, status in found.items() if status == "pass"} == claimed
    assert {status for c, status in found.items() if c not in claimed} <= {"not-claimed"}
