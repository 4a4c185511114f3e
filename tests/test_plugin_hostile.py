"""A hostile corpus for the plugin and the gate (docs/security.md): ports that break on import, exit, hang,
ignore SIGALRM or interrupt the run; report paths that would overwrite the wrong thing; expectations files that
try to excuse the core or are not text. Each case asserts its exact outcome: a usage error (rc 4) naming the
cause, a failed clause, or a run that ends *incomplete* (report says so, ``bert-conformance run`` exits 6)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import bert_conformance.adapters.reference  # noqa: F401 - keep it in pytester's module snapshot
import bert_conformance.clauses
import bert_conformance.spec  # noqa: F401 - in the snapshot too: pytester drops modules an inner run imports
from bert_conformance.gate import incomplete
from bert_conformance.watchdog import EXIT_INCOMPLETE, Watchdog

pytest_plugins = ["pytester"]

CORE = str(Path(bert_conformance.clauses.__file__).parent / "test_core.py")
USAGE = pytest.ExitCode.USAGE_ERROR
# Clause ids without their checks: what the usage errors below are about happens before any clause runs, and
# this file collects in milliseconds where test_core.py takes seconds.
IDS = """
import pytest

from bert_conformance.plugin import clause_params

IDS = ["core.capabilities", "core.load_model", "core.forward.last_hidden_state", "core.forward.pooler_output",
       "core.inputs_unchanged", "golden.model.tiny"]


@pytest.mark.parametrize("clause", clause_params(IDS))
def test_ids(clause):
    pass
"""


@pytest.fixture
def ids(pytester) -> str:
    pytester.makepyfile(test_ids=IDS)
    return "test_ids.py"

# Ports whose *module* misbehaves when imported: file name -> source.
BAD_MODULES = {
    "raises_at_import": "raise RuntimeError('no GPU here')\n",
    "syntax_error": "def broken(:\n",
    "exits_zero_at_import": "import sys\nsys.exit(0)\n",
    "exits_three_at_import": "import sys\nsys.exit(3)\n",
    "missing_dependency": "import a_framework_that_is_not_installed\n",
    "getattr_raises": "def __getattr__(name):\n    raise RuntimeError('lazy import failed')\n",
    "ctor_raises": "class Port:\n    def __init__(self):\n        raise ValueError('bad license')\n",
    "ctor_exits": "import sys\nclass Port:\n    def __init__(self):\n        sys.exit(0)\n",
    "factory_raises": "def implementation():\n    raise OSError('no such runtime')\n",
    "no_methods": "implementation = 42\n",
    "property_raises": "class Port:\n    @property\n    def capabilities(self):\n        raise MemoryError('oom')\n",
}


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("raises_at_import:implementation", "importing 'raises_at_import' raised RuntimeError: no GPU here"),
        ("syntax_error:implementation", "importing 'syntax_error' raised SyntaxError:"),
        ("exits_zero_at_import:x", "importing 'exits_zero_at_import' raised SystemExit(0): a port must not exit"),
        ("exits_three_at_import:x", "raised SystemExit(3): a port must not exit the process"),
        ("missing_dependency:x", "cannot import 'missing_dependency': No module named 'a_framework_that_is_not"),
        ("getattr_raises:implementation", "RuntimeError: lazy import failed"),
        ("ctor_raises:Port", "ctor_raises:Port() raised ValueError: bad license"),
        ("ctor_exits:Port", "ctor_exits:Port() raised SystemExit(0): a port must not exit the process"),
        ("factory_raises:implementation", "factory_raises:implementation() raised OSError: no such runtime"),
        ("no_methods:implementation", "(no_methods:implementation) has no capabilities() method"),
        ("no_methods:nothing_here", "'no_methods' has no attribute 'nothing_here'"),
        ("property_raises:Port", "property_raises:Port.capabilities raised MemoryError: oom"),
        (":x", "'' is not a module name"),
        ("../up:x", "'../up' is not a module name"),
        ("a b:x", "'a b' is not a module name"),
        ("not_a_module_anywhere:x", "cannot import 'not_a_module_anywhere'"),
    ],
)
def test_a_port_that_cannot_be_loaded_is_a_usage_error(pytester, ids, target, message):
    for name, source in BAD_MODULES.items():
        pytester.makepyfile(**{name: source})
    pytester.syspathinsert()
    result = pytester.runpytest(ids, "--bert-impl", target, "-p", "no:cacheprovider")
    assert result.ret == USAGE
    result.stderr.fnmatch_lines([f"ERROR: --bert-impl: *{_glob(message)}*"])
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def _glob(text: str) -> str:
    return text.replace("[", "[[]").replace("*", "[*]").replace("?", "[?]")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: "", "is empty"),
        (lambda d: "   ", "is empty"),
        (lambda d: str(d / "report.md"), "ends in .md, where the Markdown matrix goes"),
        (lambda d: str(d / "REPORT.MD"), "ends in .md, where the Markdown matrix goes"),
        (lambda d: str(_mkdir(d / "folder.json")), "folder.json exists and is not a regular file"),
        (lambda d: str(_mkdir(d / "r.md") and d / "r.json"), "r.md exists and is not a regular file"),
        (lambda d: "/dev/null", "/dev/null exists and is not a regular file"),
        (lambda d: str(_fifo(d / "pipe.json")), "pipe.json exists and is not a regular file"),
        (lambda d: str(_link(d / "link.json", d / "elsewhere.json")), "link.json is a symbolic link"),
        (lambda d: str(_link(d / "l.md", d / "other.md") and d / "l.json"), "l.md is a symbolic link"),
        (lambda d: str(_file(d / "file") / "report.json"), "cannot write"),
    ],
    ids=["empty", "blank", "md", "MD", "folder", "md-folder", "char-device", "fifo", "symlink", "md-symlink",
         "under-a-file"],
)
def test_a_report_path_that_would_overwrite_the_wrong_thing_is_refused_before_the_run(pytester, ids, make, message):
    path = make(pytester.path)
    before = _listing(pytester.path)
    result = pytester.runpytest(ids, "--bert-report", path, "-p", "no:cacheprovider")
    assert result.ret == USAGE
    result.stderr.fnmatch_lines([f"ERROR: --bert-report *{_glob(message)}*"])
    assert "passed" not in result.stdout.str()  # refused before anything ran
    assert _listing(pytester.path) == before  # nothing written, nothing replaced


def _listing(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir() if p.name != ".benchmarks"}  # pytest-benchmark's, where installed
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _link(path: Path, target: Path) -> Path:
    target.write_text("{}")
    path.symlink_to(target)
    return path


def _file(path: Path) -> Path:
    path.write_text("")
    return path


def test_reports_are_written_with_normal_permissions(pytester):
    report = pytester.path / "report.json"
    old = os.umask(0o022)
    try:
        result = pytester.runpytest(CORE, "-k", "capabilities", "--bert-report", str(report), "-p", "no:cacheprovider")
    finally:
        os.umask(old)
    assert result.ret == 0
    for path in (report, report.with_suffix(".md")):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644  # mkstemp alone gives 0600
    assert json.loads(report.read_text())["run"]["complete"] is True


@pytest.mark.parametrize(
    "entry",
    ["core.load_model", "core.*", "*", "core.forward.*", "*pooler*", "core.inputs_unchanged", "c*",
     "*.capabilities"],
)  # (the real test_core.py: tests/test_plugin_expectations.py)
def test_the_core_cannot_be_excused_by_an_expectations_file(pytester, ids, entry):
    (pytester.path / "expected.txt").write_text(f"{entry}  # please\n")
    result = pytester.runpytest(ids, "--bert-expectations", "expected.txt", "-p", "no:cacheprovider")
    assert result.ret == USAGE
    result.stderr.fnmatch_lines(
        [f"ERROR: expected.txt:1: '{_glob(entry)}' matches the core clause core.*: the core (core.*) cannot be "
         "excused by an expectations file*"]
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00c\x00o\x00r\x00e", "is not UTF-8 text"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "is not UTF-8 text"),
        (b"golden.model.tiny\x00  # nul\n", "contains a NUL byte"),
    ],
    ids=["utf16", "binary", "nul"],
)
def test_an_expectations_file_that_is_not_text_is_a_usage_error(pytester, ids, content, message):
    (pytester.path / "expected.txt").write_bytes(content)
    result = pytester.runpytest(ids, "--bert-expectations", "expected.txt", "-p", "no:cacheprovider")
    assert result.ret == USAGE
    result.stderr.fnmatch_lines([f"ERROR: --bert-expectations expected.txt: {message}*"])
    assert "Traceback" not in result.stderr.str()


def test_an_expectations_folder_is_a_usage_error(pytester, ids):
    (pytester.path / "expected").mkdir()
    result = pytester.runpytest(ids, "--bert-expectations", "expected", "-p", "no:cacheprovider")
    assert result.ret == USAGE
    result.stderr.fnmatch_lines(["ERROR: --bert-expectations expected: cannot read: Is a directory*"])


@pytest.mark.parametrize("value", ["-inf", "0.001", "86401", "1e308"])
def test_more_unusable_timeouts_are_usage_errors(pytester, ids, value):
    result = pytester.runpytest(ids, f"--bert-timeout={value}", "-p", "no:cacheprovider")
    assert result.ret == USAGE
    result.stderr.fnmatch_lines(["*--bert-timeout must be 0 (no timeout) or between 0.01 and 86400 seconds*"])


@pytest.mark.parametrize(
    ("capabilities", "message"),
    [
        ("raise SystemExit(0)", "SystemExit(0): a port must not exit the process"),
        ("return None", "CapabilitiesError"),
        ("return ['BertModel']", "CapabilitiesError"),
        ("return {'heads': 'BertModel'}", "CapabilitiesError"),
    ],
    ids=["exits", "none", "list", "string-heads"],
)
def test_hostile_capabilities_fail_core_capabilities_not_the_run(pytester, capabilities, message):
    pytester.makepyfile(
        caps_port=f"""
        from bert_conformance.adapters.reference import ReferenceImplementation

        class Port(ReferenceImplementation):
            def capabilities(self):
                {capabilities}
        """
    )
    pytester.syspathinsert()
    report = pytester.path / "report.json"
    result = pytester.runpytest(
        CORE, "-k", "capabilities", "--bert-impl", "caps_port:Port", "--bert-report", str(report), "-p",
        "no:cacheprovider",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    data = json.loads(report.read_text())
    assert data["clauses"]["core.capabilities"]["status"] == "fail"
    assert message in data["implementation"]["capabilities_error"] and data["run"]["complete"] is True


# --- runs that must end without a verdict: real processes -------------------------------------------------------

HOSTILE_PORTS = """
import os, signal, sys, time
from bert_conformance.adapters.reference import ReferenceImplementation


class ExitsZero(ReferenceImplementation):
    def load_model(self, *args, **kwargs):
        os._exit(0)


class IgnoresAlarm(ReferenceImplementation):
    def load_model(self, *args, **kwargs):
        signal.signal(signal.SIGALRM, signal.SIG_IGN)
        time.sleep(120)


class SwallowsAlarm(ReferenceImplementation):
    def load_model(self, *args, **kwargs):
        signal.signal(signal.SIGALRM, lambda *_: None)
        for _ in range(1200):
            time.sleep(0.1)


class SlowCapabilities(ReferenceImplementation):
    def capabilities(self):
        time.sleep(120)


class Interrupts(ReferenceImplementation):
    def load_model(self, *args, **kwargs):
        raise KeyboardInterrupt


class KillsItself(ReferenceImplementation):
    def load_model(self, *args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(10)


class ForgesReport(ReferenceImplementation):
    def load_model(self, *args, **kwargs):
        path = sys.argv[sys.argv.index("--bert-report") + 1]
        with open(path, "w") as f:
            f.write('{"run": {"complete": true}, "summary": {"fail": 0}}')
        os._exit(0)
"""


@pytest.fixture
def hostile(tmp_path):
    (tmp_path / "hostile_ports.py").write_text(textwrap.dedent(HOSTILE_PORTS))
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "OMP_NUM_THREADS": "1"}

    def run(port: str, *args: str, gate: bool = True) -> tuple[int, str, dict | None]:
        report = tmp_path / "report.json"
        suite = ["-k", "core", "-q", "--bert-impl", f"hostile_ports:{port}", "--bert-timeout", "1",
                 "--bert-report", str(report), *args]
        command = ([sys.executable, "-m", "bert_conformance.cli", "run"] if gate else
                   [sys.executable, "-m", "pytest", "--pyargs", "bert_conformance.clauses", "-p", "no:cacheprovider"])
        done = subprocess.run([*command, *suite], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        data = json.loads(report.read_text()) if report.exists() else None
        return done.returncode, done.stdout + done.stderr, data

    return run


@pytest.mark.timeout(150)
def test_os_exit_zero_passes_plain_pytest_but_never_the_gate(hostile):
    code, _, data = hostile("ExitsZero", gate=False)
    assert code == 0  # what a hostile port can do to plain pytest ...
    assert data["run"]["complete"] is False and "the process ended before pytest did" in data["run"]["incomplete_reason"]
    code, output, data = hostile("ExitsZero")  # ... and what the documented gate makes of it
    assert code == EXIT_INCOMPLETE
    assert "bert-conformance run: INCOMPLETE: the run did not finish" in output


@pytest.mark.timeout(150)
@pytest.mark.parametrize("port", ["IgnoresAlarm", "SwallowsAlarm"])
def test_a_port_that_defeats_sigalrm_is_ended_by_the_watchdog(hostile, port):
    code, output, data = hostile(port)
    assert code == EXIT_INCOMPLETE
    assert "test_core.py::test_load_model[core.load_model] did not return before the hard deadline" in output
    assert data["run"]["complete"] is False and "core.load_model" in data["run"]["incomplete_reason"]
    assert data["summary"]["pass"] == 1 and data["run"]["collected"] == 5  # what ran before is kept


@pytest.mark.timeout(150)
def test_a_hanging_capabilities_call_is_bounded_at_collection(hostile):
    code, output, data = hostile("SlowCapabilities")
    assert code == EXIT_INCOMPLETE
    assert "hostile_ports:SlowCapabilities: capabilities() did not return before the hard deadline" in output
    assert data["run"]["complete"] is False and data["summary"]["total"] == 0


@pytest.mark.timeout(150)
def test_an_interrupt_is_reported_as_incomplete(hostile):
    code, output, data = hostile("Interrupts")
    assert code == pytest.ExitCode.INTERRUPTED
    assert "INCOMPLETE: interrupted (KeyboardInterrupt or a stop signal)" in output
    assert data["run"]["complete"] is False and data["run"]["not_run"]  # never "2 pass, total 2" alone


@pytest.mark.timeout(150)
def test_a_signal_leaves_the_incomplete_report(hostile):
    code, output, data = hostile("KillsItself")
    assert code == EXIT_INCOMPLETE
    assert data["run"]["complete"] is False


@pytest.mark.timeout(150)
def test_a_forged_report_is_not_this_runs(hostile):
    code, output, _ = hostile("ForgesReport")
    assert code == EXIT_INCOMPLETE
    assert "is not this run's (a stale or foreign file)" in output


@pytest.mark.timeout(150)
def test_a_worker_killed_by_its_port_fails_the_clause_under_xdist(hostile):
    # one crashing clause (each crash costs a new worker process): the last -k wins over the fixture's
    code, output, data = hostile("ExitsZero", "-n", "2", "-k", "core.load_model or core.capabilities")
    assert code == pytest.ExitCode.TESTS_FAILED
    assert data["run"]["complete"] is True and data["summary"] == {**data["summary"], "fail": 1, "pass": 1}
    assert "crashed" in data["clauses"]["core.load_model"]["message"]


@pytest.mark.parametrize("path", ["", "   "])
def test_spec_validate_of_an_empty_path_is_an_error_not_the_installed_spec(capsys, path):
    from bert_conformance.cli import main

    assert main(["spec", "validate", path]) == 2
    captured = capsys.readouterr()
    assert captured.err.strip() == "spec validate: PATH is empty (leave it out to validate the installed spec)"
    assert "spec OK" not in captured.out


# --- the pieces, in-process -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "run_id", "problem"),
    [
        (None, "a", "the run wrote no report"),
        ("{not json", "a", "cannot be read"),
        ("[]", "a", "is not this run's"),
        ('{"run": {"id": "b", "complete": true}}', "a", "is not this run's"),
        ('{"run": {"id": "a", "complete": "yes"}}', "a", "the report says the run is incomplete"),
        ('{"run": {"id": "a", "complete": false, "incomplete_reason": "why"}}', "a", "why"),
        ('{"run": {"id": "a", "complete": true}}', "a", None),
    ],
    ids=["missing", "not-json", "list", "other-run", "truthy-string", "incomplete", "complete"],
)
def test_the_gate_trusts_only_this_runs_complete_report(tmp_path, text, run_id, problem):
    report = tmp_path / "report.json"
    if text is not None:
        report.write_text(text)
    found = incomplete(report, run_id)
    assert (found is None) if problem is None else (problem in found)


def test_the_watchdog_fires_once_its_deadline_passes(monkeypatch):
    fired: list[str] = []
    exits: list[int] = []
    monkeypatch.setattr(os, "_exit", exits.append)
    watchdog = Watchdog(fired.append)
    with watchdog.deadline(0.05, "outer"):
        with watchdog.deadline(5, "inner, later"):  # nested: the earlier deadline still holds
            for _ in range(100):
                if fired:
                    break
                __import__("time").sleep(0.02)
    assert fired == ["outer"] and exits == [EXIT_INCOMPLETE]


def test_a_disarmed_watchdog_never_fires(monkeypatch):
    fired: list[str] = []
    monkeypatch.setattr(os, "_exit", lambda code: fired.append("exit"))
    watchdog = Watchdog(fired.append)
    with watchdog.deadline(0.05, "quick"):
        pass
    with watchdog.deadline(0, "zero means none"):
        __import__("time").sleep(0.15)
    assert fired == []


def test_the_declared_tiers_criteria_cannot_be_excused(pytester):
    pytester.makepyfile(test_tier_ids="""
        import pytest
        from bert_conformance.plugin import clause_params

        @pytest.mark.parametrize("clause", clause_params(["tiers.float16.token_cosine_min"]))
        def test_ids(clause):
            pass
        """)
    (pytester.path / "expected.txt").write_text("tiers.float16.*  # close enough\n")
    result = pytester.runpytest("test_tier_ids.py", "--bert-impl", "reference-float16", "--bert-expectations",
                                "expected.txt", "-p", "no:cacheprovider")
    assert result.ret == USAGE
    result.stderr.fnmatch_lines(["*'tiers.float16.[*]' matches tiers.float16.token_cosine_min, a criterion of the "
                                 "accuracy tier the port declares: it cannot be excused*"])


def test_a_nested_in_process_run_never_ends_the_outer_process(pytester):
    """pytester's in-process runs (this project's own tests) nest a session in this process: its watchdog is
    off, so a port defeating SIGALRM delays the inner run instead of killing the outer one."""
    pytester.makepyfile(alarm_port="""
        import signal, time
        from bert_conformance.adapters.reference import ReferenceImplementation

        class Port(ReferenceImplementation):
            def load_model(self, *args, **kwargs):
                signal.signal(signal.SIGALRM, signal.SIG_IGN)
                time.sleep(2.5)
                return super().load_model(*args, **kwargs)
        """)
    pytester.syspathinsert()
    previous = signal.getsignal(signal.SIGALRM)
    try:
        result = pytester.runpytest(CORE, "-k", "core.load_model", "--bert-impl", "alarm_port:Port",
                                    "--bert-timeout", "0.5", "-p", "no:cacheprovider")
    finally:
        signal.signal(signal.SIGALRM, previous)
    assert result.ret == pytest.ExitCode.OK  # still here: 2.5 s > 0.5 s + the 1 s grace


@pytest.mark.timeout(150)
def test_diagnosing_a_port_that_hangs_is_ended_within_its_budget(hostile, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "bert_conformance.cli", "diagnose", "--bert-impl", "hostile_ports:IgnoresAlarm",
               "--budget", "1"]
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == EXIT_INCOMPLETE
    assert "the diagnosis of 'hostile_ports:IgnoresAlarm' did not return before the hard deadline" in done.stderr


@pytest.mark.parametrize("budget", ["0", "-1", "nan", "1e9"])
def test_an_unusable_diagnosis_budget_is_refused(capsys, budget):
    from bert_conformance.cli import main

    assert main(["diagnose", "--bert-impl", "reference", f"--budget={budget}"]) == 2
    assert "diagnose: --budget must be between 0 and 3600 seconds" in capsys.readouterr().err
