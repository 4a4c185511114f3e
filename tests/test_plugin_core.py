"""The plugin end to end with the built-in ports: test_core passes, the report says so, the plugin is inert
elsewhere, and bad selections are usage errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import bert_conformance
import bert_conformance.adapters.hf  # noqa: F401 - imported here so pytester's module snapshot keeps it
import bert_conformance.adapters.reference  # noqa: F401
import bert_conformance.clauses
import bert_conformance.spec  # noqa: F401 - in the snapshot too: pytester drops modules an inner run imports
from bert_conformance.tolerance import tolerance_for

pytest_plugins = ["pytester"]

CORE = str(Path(bert_conformance.clauses.__file__).parent / "test_core.py")
CORE_IDS = [
    "core.capabilities",
    "core.load_model",
    "core.forward.last_hidden_state",
    "core.forward.pooler_output",
    "core.inputs_unchanged",
]


@pytest.mark.parametrize("impl", ["reference", "transformers"])
def test_builtin_port_passes_core(pytester, impl):
    report = pytester.path / "report.json"
    result = pytester.runpytest(
        CORE, "--bert-impl", impl, "--bert-report", str(report), "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        [f"implementation: {impl} -> bert_conformance.adapters.*", "clauses: 5 pass, 0 fail*"]
    )

    data = json.loads(report.read_text())
    assert data["implementation"]["selected"] == impl
    assert data["suite_version"] == bert_conformance.__version__
    assert data["summary"] == {
        "pass": 5,
        "fail": 0,
        "xfail": 0,
        "not-claimed": 0,
        "skipped-env": 0,
        "total": 5,
    }
    assert sorted(data["clauses"]) == sorted(CORE_IDS)
    forward = data["clauses"]["core.forward.last_hidden_state"]
    spec_tol = tolerance_for("float32", "outputs")
    assert forward["tolerance"] == {"atol": spec_tol.atol, "rtol": spec_tol.rtol}
    # float32 against the float64 oracle: a small error, not zero, inside the spec's tolerance
    assert 0 < forward["observed"]["max_abs"] < spec_tol.atol
    assert 0 < forward["observed"]["worst"] < 1 and forward["comparisons_total"] == 1
    assert data["clauses"]["core.capabilities"]["tolerance"] is None


def test_report_header_and_markdown_matrix(pytester):
    report = pytester.path / "out" / "conformance.json"
    pytester.runpytest(
        CORE, "--bert-impl", "reference", "--bert-report", str(report), "-p", "no:cacheprovider"
    )
    data = json.loads(report.read_text())
    impl = data["implementation"]
    assert impl["name"] == "bert_reference" and impl["version"]
    assert "BertModel" in impl["capabilities"]["heads"] and impl["capabilities_error"] is None
    assert data["spec_version"] and data["oracle"] == "reference" and data["profile"] == "ci"
    markdown = report.with_suffix(".md").read_text()
    assert markdown.startswith("# BERT conformance: bert_reference")
    assert "| core | 5 | 0 | 0 | 0 | 0 |" in markdown
    assert "| `core.forward.pooler_output` | pass |" in markdown
    assert not [p.name for p in report.parent.iterdir() if p.name.startswith(".")]  # no temp files left


def test_env_var_selects_the_port(pytester, monkeypatch):
    monkeypatch.setenv("BERT_IMPL", "transformers")
    result = pytester.runpytest(CORE, "-k", "capabilities", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, deselected=4)
    result.stdout.fnmatch_lines(["implementation: transformers -> *", "claims: heads BertModel,*"])


def test_unknown_port_is_a_usage_error(pytester):
    result = pytester.runpytest(CORE, "--bert-impl", "nope", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--bert-impl: unknown implementation 'nope': use one of *onnx*reference*transformers*"]
    )


@pytest.mark.parametrize("value", ["nan", "inf", "1e-300", "-1", "1e9"])
def test_unusable_timeouts_are_usage_errors(pytester, value):
    """nan used to disable every timeout, 1e-300 fired inside pytest's machinery (INTERNALERROR)."""
    result = pytester.runpytest(CORE, "--bert-timeout", value, "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--bert-timeout must be 0 (no timeout) or between 0.01 and 86400 seconds*"])


def test_absent_optional_port_is_a_usage_error(pytester, monkeypatch):
    # as if transformers were not installed
    monkeypatch.setitem(sys.modules, "bert_conformance.adapters.hf", None)
    result = pytester.runpytest(CORE, "--bert-impl", "transformers", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*implementation 'transformers': cannot import*pip install 'bert-conformance[[]transformers[]]'*"]
    )


def test_plugin_is_inert_without_clauses(pytester):
    """A bogus --bert-impl is never resolved, torch is never imported, no summary section appears."""
    pytester.makepyfile(
        test_plain="""
        import sys

        def test_plain():
            assert "torch" not in sys.modules and "bert_conformance.adapters.reference" not in sys.modules
        """
    )
    result = pytester.runpytest_subprocess("--bert-impl", "does-not-exist", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert " bert-conformance =" not in result.stdout.str()  # no summary section


def test_unwritable_report_is_a_clear_error(pytester):
    blocker = pytester.path / "not_a_dir"
    blocker.write_text("")
    result = pytester.runpytest(
        CORE, "-k", "capabilities", "--bert-report", str(blocker / "report.json"), "-p", "no:cacheprovider"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # found at the start of the run, not after it
    result.stderr.fnmatch_lines(["ERROR: --bert-report */not_a_dir/report.json: cannot write: *"])
    assert "passed" not in result.stdout.str()  # nothing ran
