"""Hypothesis profiles for clauses, and the repro a failing hypothesis clause prints."""

from __future__ import annotations

import json

import pytest
from hypothesis import Phase, settings

import bert_conformance.adapters.reference  # noqa: F401 - keep it in pytester's module snapshot
import bert_conformance.clauses.test_core  # noqa: F401 - decorated here under hypothesis' default profile
import bert_conformance.spec  # noqa: F401
from bert_conformance import profiles

pytest_plugins = ["pytester"]

CLAUSE = """
from hypothesis import given, note, strategies as st
import pytest

from bert_conformance.plugin import clause_params


@pytest.mark.parametrize("clause", clause_params(["demo.seq_len"]))
@given(seq=st.integers(min_value=1, max_value=64))
def test_seq_len(clause, bert_impl, seq):
    note(f"seq={seq}")
    assert seq < 40, "a port that breaks on long sequences"
"""


@pytest.fixture
def run(pytester):
    pytester.makeconftest('pytest_plugins = ["bert_conformance.fixtures"]')
    pytester.makepyfile(test_hyp=CLAUSE)

    def run(*args: str):
        report = pytester.path / "report.json"
        result = pytester.runpytest("--bert-report", str(report), "-p", "no:cacheprovider", *args)
        return result, json.loads(report.read_text())

    return run


def test_failing_hypothesis_clause_prints_example_blob_and_repro(run):
    result, data = run("--bert-impl", "reference")
    result.stdout.fnmatch_lines(
        [
            "*Falsifying example: test_seq_len(*",
            "*seq=*",  # the note() of the first failing example: ci does not shrink
            "*@reproduce_failure(*",
            "repro: pytest '*test_hyp.py::test_seq_len?demo.seq_len?' --bert-impl reference --bert-profile ci -p no:xdist",
            "the falsifying example and its @reproduce_failure blob are printed above",
        ]
    )
    assert data["clauses"]["demo.seq_len"]["status"] == "fail" and data["profile"] == "ci"


def test_dev_profile_shrinks_the_failing_example_to_the_boundary(run):
    result, data = run("--bert-impl", "reference", "--bert-profile", "dev")
    result.stdout.fnmatch_lines(["*Falsifying example: test_seq_len(*", "*seq=40*", "*@reproduce_failure(*"])
    assert data["clauses"]["demo.seq_len"]["status"] == "fail" and data["profile"] == "dev"


def test_ci_profile_reports_the_first_failing_example_without_shrinking():
    profiles.register()
    assert Phase.shrink not in settings.get_profile("ci").phases
    assert Phase.explain not in settings.get_profile("ci").phases


@pytest.mark.parametrize(
    ("args", "env", "expected"),
    [
        ((), None, "ci"),
        (("--bert-profile", "dev"), None, "dev"),
        ((), "thorough", "thorough"),
        ((), "someone-elses", "ci"),
    ],
)
def test_profile_choice(run, monkeypatch, args, env, expected):
    if env:
        monkeypatch.setenv("HYPOTHESIS_PROFILE", env)
    before = settings.get_current_profile_name()
    result, data = run("--bert-impl", "reference", *args)
    result.stdout.fnmatch_lines([f"*hypothesis profile {expected},*"])
    assert data["profile"] == expected
    assert settings.get_current_profile_name() == before  # the in-process run restored the caller's profile


def test_profiles_do_not_inherit_the_profile_loaded_when_they_are_registered():
    before = settings.get_current_profile_name()
    profiles.register()
    try:
        settings.load_profile("ci")
        profiles.register()  # again, with ci loaded (a second in-process run does this)
        dev = settings.get_profile("dev")
        assert Phase.shrink in dev.phases and not dev.derandomize and dev.max_examples == 30
    finally:
        settings.load_profile(before)


def test_an_in_process_run_does_not_reuse_clause_modules_decorated_under_another_profile(pytester):
    """``@given`` keeps the settings in force at import; tests/conftest.py takes this process's clause modules
    out of sys.modules for pytester runs, so the inner run imports them under the profile it loads."""
    import sys

    assert "bert_conformance.clauses.test_core" not in sys.modules


def test_profiles_are_bounded_and_ci_is_derandomized():
    profiles.register()
    ci = settings.get_profile("ci")
    assert ci.derandomize and ci.deadline is None and ci.database is None and ci.print_blob
    assert (
        ci.max_examples
        < settings.get_profile("dev").max_examples
        < settings.get_profile("thorough").max_examples
    )
