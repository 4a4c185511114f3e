"""Under pytest-xdist (-n 2) the report is the same as in one process: results are merged on the controller."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bert_conformance.clauses

pytest_plugins = ["pytester"]
pytest.importorskip("xdist", reason="pytest-xdist is not installed")

CORE = str(Path(bert_conformance.clauses.__file__).parent / "test_core.py")

PORT = '''
from bert_conformance.adapters.reference import ReferenceImplementation


class Port(ReferenceImplementation):
    """Claims only the core."""

    def capabilities(self):
        return {**super().capabilities(), "heads": ["BertModel"], "dtypes": ["float32"], "features": []}
'''

DEMO = """
import pytest

from bert_conformance.plugin import clause_params


@pytest.mark.parametrize("clause", clause_params(["demo.mlm", "demo.decoder"], requires={"head": "BertForMaskedLM"}))
def test_unclaimed(clause, bert_impl):
    raise AssertionError("never runs: not claimed")


@pytest.mark.parametrize("clause", clause_params(["demo.broken"]))
def test_broken(clause, bert_impl):
    raise AssertionError("always fails")
"""

EXPECTED = "demo.broken  # always fails\nold.clause.id  # stale\n"


def _run(pytester: pytest.Pytester, report: Path, *args: str) -> dict:
    result = pytester.runpytest_subprocess(
        CORE,
        "test_demo.py",
        "--bert-impl",
        "port:Port",
        "--bert-report",
        str(report),
        "--bert-expectations",
        "expected.txt",
        "-p",
        "no:cacheprovider",
        *args,
    )
    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "clauses: 5 pass, 0 fail, 1 xfail, 2 not-claimed, 0 skipped-env",
            "expectations: 'old.clause.id' matches no collected clause*",
        ]
    )
    data = json.loads(report.read_text())
    for clause in data["clauses"].values():
        clause.pop("duration_s")
    assert data["run"].pop("id") and data["run"]["complete"]
    return data


def test_xdist_report_equals_single_process_report(pytester):
    pytester.makepyfile(port=PORT, test_demo=DEMO)
    pytester.makeconftest('pytest_plugins = ["bert_conformance.fixtures"]')
    (pytester.path / "expected.txt").write_text(EXPECTED)

    single = _run(pytester, pytester.path / "single.json", "-p", "no:xdist")
    distributed = _run(pytester, pytester.path / "xdist.json", "-n", "2")
    assert distributed == single
    assert single["summary"] == {
        "pass": 5,
        "fail": 0,
        "xfail": 1,
        "not-claimed": 2,
        "skipped-env": 0,
        "total": 8,
    }
    assert single["expectations"]["stale"] == ["old.clause.id"]
    assert single["implementation"]["capabilities"]["heads"] == ["BertModel"]
