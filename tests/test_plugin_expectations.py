"""Expectations files and capability claims: xfail, XPASS, stale ids, mandatory reasons, not-claimed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bert_conformance.adapters.reference  # noqa: F401 - keep it in pytester's module snapshot
import bert_conformance.clauses
import bert_conformance.spec  # noqa: F401 - in the snapshot too: pytester drops modules an inner run imports
from bert_conformance.expectations import ExpectationsError, parse_expectations

pytest_plugins = ["pytester"]

CORE = str(Path(bert_conformance.clauses.__file__).parent / "test_core.py")
GOLDEN = str(Path(bert_conformance.clauses.__file__).parent / "test_golden.py")
TINY = ("-k", "golden.model.tiny-float32")  # compares pooler_output; the core (core.*) cannot be excused

PORTS = '''
import numpy as np

from bert_conformance.adapters.reference import ReferenceImplementation


class BadPooler(ReferenceImplementation):
    """Correct except pooler_output (a typical port bug: pooled the wrong token)."""

    def load_model(self, *args, **kwargs):
        model = super().load_model(*args, **kwargs)

        class Model:
            def forward(self, inputs, **options):
                outputs = model.forward(inputs, **options)
                outputs["pooler_output"] = outputs["pooler_output"][::-1].copy()
                return outputs

        return Model()


class EncoderOnly(ReferenceImplementation):
    def capabilities(self):
        return {**super().capabilities(), "heads": ["BertModel"], "dtypes": ["float32"], "features": []}
'''


@pytest.fixture
def run(pytester):
    pytester.makepyfile(ports=PORTS)
    pytester.syspathinsert()

    def run(*args: str, expectations: str | None = None):
        report = pytester.path / "report.json"
        extra = []
        if expectations is not None:
            (pytester.path / "expected.txt").write_text(expectations)
            extra = ["--bert-expectations", str(pytester.path / "expected.txt")]
        result = pytester.runpytest(*args, "--bert-report", str(report), "-p", "no:cacheprovider", *extra)
        data = json.loads(report.read_text()) if report.exists() else None
        return result, data

    return run


def test_listed_failure_is_xfail_and_the_run_passes(run):
    result, data = run(
        GOLDEN,
        *TINY,
        "--bert-impl",
        "ports:BadPooler",
        expectations="golden.model.tiny  # pools the last row\n",
    )
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(xfailed=1, deselected=result.parseoutcomes()["deselected"])
    clause = data["clauses"]["golden.model.tiny-float32"]
    assert clause["status"] == "xfail" and "pools the last row" in clause["message"]
    assert data["summary"]["xfail"] == 1 and data["summary"]["fail"] == 0


def test_a_real_core_failure_cannot_be_listed(run):
    """The core is what makes a port a BERT port: listing it is a usage error, never an xfail (hostile
    variants: tests/test_plugin_hostile.py)."""
    result, data = run(
        CORE, "--bert-impl", "ports:BadPooler", expectations="core.forward.pooler_output  # pools the last row\n"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*expected.txt:1: 'core.forward.pooler_output' matches the core clause*"])


def test_an_expected_failure_keeps_what_it_actually_raised(run):
    result, data = run(GOLDEN, *TINY, "--bert-impl", "ports:BadPooler",
                       expectations="golden.model.tiny  # pools the last row (fails with: pooler_output)\n")
    assert result.ret == pytest.ExitCode.OK
    message = data["clauses"]["golden.model.tiny-float32"]["message"]
    assert message.startswith("expected failure (") and "pools the last row" in message
    assert "\nactual failure: AssertionError: model.tiny: pooler_output (float32): 32 of 32 elements" in message


def test_an_expected_failure_for_another_reason_fails(run):
    result, data = run(GOLDEN, *TINY, "--bert-impl", "ports:BadPooler",
                       expectations="golden.model.tiny  # bad eps (fails with: last_hidden_state)\n")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    clause = data["clauses"]["golden.model.tiny-float32"]
    assert clause["status"] == "fail"
    assert "names the failure 'last_hidden_state', but the clause failed for another reason" in clause["message"]
    result.stdout.fnmatch_lines(["*repro: pytest --pyargs 'bert_conformance.clauses.test_golden::test_golden[[]golden.model.tiny-float32[]]' --bert-impl ports:BadPooler*"])


def test_glob_patterns_match_clause_ids(run):
    result, data = run(
        GOLDEN, *TINY, "--bert-impl", "ports:BadPooler", expectations="golden.model.t*  # pools the last row\n"
    )
    assert result.parseoutcomes()["xfailed"] == 1 and "passed" not in result.parseoutcomes()


def test_listed_clause_that_passes_fails_the_run(run):
    result, data = run(
        GOLDEN, *TINY, "--bert-impl", "reference", expectations="golden.model.tiny  # thought it was broken\n"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["*[[]XPASS(strict)[]] expected failure (*expected.txt:1): thought it was broken*"]
    )
    assert data["clauses"]["golden.model.tiny-float32"]["status"] == "fail"


def test_stale_ids_are_reported_and_fail_under_strict(run):
    text = "core.capabilities.old_name  # renamed in spec 1.1\n"
    result, data = run(CORE, "--bert-impl", "reference", expectations=text)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        ["*expectations: 'core.capabilities.old_name' matches no collected clause; use --bert-strict*"]
    )
    assert data["expectations"]["stale"] == ["core.capabilities.old_name"]

    result, _ = run(CORE, "--bert-impl", "reference", "--bert-strict", expectations=text)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*matches no collected clause; fails the run (--bert-strict)*"])


def test_missing_reason_is_a_usage_error_naming_the_line(run):
    result, _ = run(CORE, "--bert-impl", "reference", expectations="# header\n\ncore.load_model\n")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*expected.txt:3: 'core.load_model' has no reason; write '<clause id>  # <why it fails>'*"]
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a.b  #\n", "'a.b' has no reason"),
        ("a.b # x\na.b # y\n", ":2: 'a.b' is already listed on line 1"),
        ("a b # x\n", "'a b' is not a clause id"),
    ],
)
def test_parse_expectations_errors(tmp_path, text, message):
    path = tmp_path / "xfails.txt"
    path.write_text(text)
    with pytest.raises(ExpectationsError, match=message):
        parse_expectations(path)


def test_unreadable_expectations_file(tmp_path):
    with pytest.raises(ExpectationsError, match="--bert-expectations .*missing.txt: cannot read"):
        parse_expectations(tmp_path / "missing.txt")


CLAIMS_MODULE = """
import pytest

from bert_conformance.plugin import clause_params

CLAUSES = [
    {"id": "demo.mlm", "head": "BertForMaskedLM"},
    {"id": "demo.fp16", "dtype": "float16"},
    {"id": "demo.cache", "feature": ["decoder", "cache"]},
    {"id": "demo.base", "head": "BertModel"},
]


@pytest.mark.parametrize("clause", clause_params(CLAUSES, requires=lambda c: {k: v for k, v in c.items() if k != "id"}))
def test_demo(clause, load_case):
    case = load_case(clause.get("head", "BertModel"), dtype=clause.get("dtype", "float32"))
    assert case.model is not None


@pytest.mark.bert_requires(feature="gradients")
@pytest.mark.parametrize("clause", clause_params(["demo.env"]))
def test_environment(clause, bert_impl):
    pytest.skip("optional peer package not installed")
"""


def _demo_clauses(pytester):
    """A clause module outside the package: it takes the suite's fixtures through pytest_plugins."""
    pytester.makeconftest('pytest_plugins = ["bert_conformance.fixtures"]')
    pytester.makepyfile(test_demo_clauses=CLAIMS_MODULE)


def test_unclaimed_clauses_are_not_claimed_never_passed(run, pytester):
    _demo_clauses(pytester)
    result, data = run("test_demo_clauses.py", "--bert-impl", "ports:EncoderOnly")
    result.stdout.fnmatch_lines(["*clauses: 1 pass, 0 fail, 0 xfail, 4 not-claimed, 0 skipped-env*"])
    statuses = {cid: c["status"] for cid, c in data["clauses"].items()}
    assert statuses == {
        "demo.base": "pass",
        "demo.mlm": "not-claimed",
        "demo.fp16": "not-claimed",
        "demo.cache": "not-claimed",
        "demo.env": "not-claimed",
    }
    assert data["clauses"]["demo.cache"]["message"] == "not claimed: feature decoder, feature cache"
    assert data["summary"]["pass"] == 1


def test_environment_skips_are_skipped_env(run, pytester):
    _demo_clauses(pytester)
    result, data = run("test_demo_clauses.py", "--bert-impl", "reference")
    result.stdout.fnmatch_lines(["*clauses: 4 pass, 0 fail, 0 xfail, 0 not-claimed, 1 skipped-env*"])
    assert data["clauses"]["demo.env"] == {
        **data["clauses"]["demo.env"],
        "status": "skipped-env",
        "message": "optional peer package not installed",
    }


VARIANTS_MODULE = """
import pytest

from bert_conformance.plugin import clause_params


@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("clause", clause_params(["demo.variant"]))
def test_variant(clause, dtype, bert_impl):
    assert dtype == "float32", "fp16 path broken"
"""


def test_variants_are_reported_and_expected_one_by_one(run, pytester):
    pytester.makeconftest('pytest_plugins = ["bert_conformance.fixtures"]')
    pytester.makepyfile(test_variants=VARIANTS_MODULE)
    result, data = run(
        "test_variants.py", "--bert-impl", "reference", expectations="demo.variant-float16  # fp16 todo\n"
    )
    assert result.ret == pytest.ExitCode.OK
    assert {k: (v["clause"], v["status"]) for k, v in data["clauses"].items()} == {
        "demo.variant-float32": ("demo.variant", "pass"),
        "demo.variant-float16": ("demo.variant", "xfail"),
    }
    result, data = run(
        "test_variants.py", "--bert-impl", "reference", expectations="demo.variant  # all dtypes\n"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED  # the float32 variant passes: XPASS(strict)
    assert data["clauses"]["demo.variant-float32"]["status"] == "fail"
    assert data["clauses"]["demo.variant-float16"]["status"] == "xfail"
