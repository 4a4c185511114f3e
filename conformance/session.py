"""One conformance run: the selected port, expectations, profile, results, and the hooks that use them.

:class:`ConformanceSession` is registered as a pytest plugin object by ``bert_conformance.plugin`` at
configure time (one per pytest run, so nested runs such as pytester's do not share state). Its hooks do
nothing until a collected test is a conformance clause; then it resolves the port (a usage error if that
fails), marks unclaimed clauses, expected failures and timeouts, records results and writes the report.
"""

from __future__ import annotations

import os
import shlex
import signal
import uuid
from collections.abc import Generator
from pathlib import Path
from typing import Any

import pytest

import bert_conformance
from bert_conformance import expectations as exp
from bert_conformance import findings, profiles, surface
from bert_conformance import report as rep
from bert_conformance.adapter import DEVICES, Capabilities, ImplementationError, Port, load_implementation
from bert_conformance.errors import SpecError
from bert_conformance.oracle import Oracle, get_oracle
from bert_conformance.watchdog import EXIT_INCOMPLETE, Watchdog, grace

STATE = pytest.StashKey["ConformanceSession"]()
_LIVE_SESSIONS: set[int] = set()  # the ConformanceSessions configured in this process and not yet unconfigured
DEFAULT_TIMEOUT = 120.0
MIN_TIMEOUT, MAX_TIMEOUT = 0.01, 86400.0  # below: the alarm fires inside pytest's own machinery; nan, inf refused
_REQUIREMENTS = ("head", "dtype", "device", "attention", "feature")  # + the surface keys (spec/surface.yaml)
# importing a port may import a framework (TensorFlow: ~10 s on a busy 2-core machine): a tiny --bert-timeout
# meant for clauses must not kill the import (capabilities() itself gets --bert-timeout)
IMPORT_DEADLINE_FLOOR = 30.0
RUN_ID_ENV = "BERT_CONFORMANCE_RUN_ID"
DIAGNOSIS_BUDGET_S = 60.0  # issue 13: the diagnosis of one failing port takes <= 60 s on 2 cores  # set by `bert-conformance run` to recognise its own run's report
CORE_PREFIX = "core."  # the core clauses: what makes a port a BERT port; no expectations file can excuse them
_ENDED_EARLY = {
    pytest.ExitCode.INTERRUPTED: "interrupted (KeyboardInterrupt or a stop signal)",
    pytest.ExitCode.INTERNAL_ERROR: "pytest stopped on an internal error",
    pytest.ExitCode.USAGE_ERROR: "pytest stopped on a usage error",
}


def is_clause(item: pytest.Item) -> bool:
    """A conformance clause: uses the ``bert_impl`` fixture or carries a clause marker."""
    if item.get_closest_marker("bert_clause") or item.get_closest_marker("bert_requires"):
        return True
    return "bert_impl" in getattr(item, "fixturenames", ())


def report_id(item: pytest.Item) -> str:
    """The id a result is reported under: the parametrization id (``<clause id>`` or, for a clause run per
    head or dtype, e.g. ``<clause id>-float16``), else the test name."""
    callspec = getattr(item, "callspec", None)
    return callspec.id if callspec is not None else item.name


def clause_id(item: pytest.Item) -> str:
    """The spec clause id: the ``bert_clause`` marker's (set by clause_params), else the test id."""
    marker = item.get_closest_marker("bert_clause")
    return str(marker.args[0]) if marker is not None and marker.args else report_id(item)


class ConformanceSession:
    """Options resolved at configure time; the port only when clauses are collected."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.impl_name: str = config.getoption("bert_impl") or os.environ.get("BERT_IMPL") or "reference"
        self.report_path: str | None = config.getoption("bert_report")
        problem = None if self.report_path is None else rep.report_paths_problem(self.report_path)
        if problem:
            raise pytest.UsageError(f"--bert-report {self.report_path!r}: {problem}")
        self.strict: bool = config.getoption("bert_strict")
        self.profile: str = profiles.choose(config.getoption("bert_profile"))
        timeout = config.getoption("bert_timeout")
        self.timeout: float = DEFAULT_TIMEOUT if timeout is None else timeout
        if not (self.timeout == 0 or MIN_TIMEOUT <= self.timeout <= MAX_TIMEOUT):  # nan fails every comparison
            raise pytest.UsageError(
                f"--bert-timeout must be 0 (no timeout) or between {MIN_TIMEOUT:g} and {MAX_TIMEOUT:g} seconds, "
                f"got {timeout:g}"
            )
        self.device: str = config.getoption("bert_device") or os.environ.get("BERT_DEVICE") or "cpu"
        if self.device not in DEVICES:
            raise pytest.UsageError(f"$BERT_DEVICE must be one of {', '.join(DEVICES)}, got {self.device!r}")
        self.oracle_mode: str = config.getoption("bert_oracle")
        self.expectations_path: str | None = config.getoption("bert_expectations")
        self.expectations = exp.parse_expectations(self.expectations_path) if self.expectations_path else []
        self.is_worker = hasattr(config, "workerinput")
        self.port: Port | None = None
        self.spec_version = ""
        self.oracle: Oracle | None = None
        self.active = False
        self.used: set[str] = set()  # expectation patterns that matched a collected clause
        self.results = rep.Results()
        self.written: tuple[Path, Path] | None = None
        self.report_error: str | None = None
        self.ended_early: str | None = None
        self.diagnosis: dict[str, Any] | None = None
        self._worker_header: dict[str, Any] | None = None
        self._previous_profile: str | None = None
        self.run_id = os.environ.get(RUN_ID_ENV) or uuid.uuid4().hex
        # A session inside another pytest session of this process (pytester's in-process runs) must not end the
        # process: that would kill the outer run. Its clauses keep pytest-timeout's SIGALRM timeout.
        self.nested = bool(_LIVE_SESSIONS)
        _LIVE_SESSIONS.add(id(self))
        self.watchdog = Watchdog(self._hung, enabled=not self.nested)

    # -- activation ----------------------------------------------------------------------------------------

    def activate(self) -> None:
        """Load the spec, resolve the port and the oracle (once, when clauses are collected)."""
        if self.active:
            return
        try:
            self.spec_version = _spec_version()
        except SpecError as error:
            raise pytest.UsageError(f"the installed BERT spec does not load:\n{error}") from None
        try:
            # importing the port and calling capabilities() run outside any clause: only the watchdog bounds them
            importing = self.timeout and max(self.timeout, IMPORT_DEADLINE_FLOOR)
            with self.watchdog.deadline(importing, f"importing implementation {self.impl_name!r}"):
                self.port = load_implementation(self.impl_name, bounded=self._bounded)
        except ImplementationError as error:
            raise pytest.UsageError(f"--bert-impl: {error}") from None
        self.port.device = self.device
        # cpu is the core's device: a port not claiming it fails core.capabilities, which says why
        if self.device != "cpu" and self.device not in self.port.capabilities.devices:
            claimed = ", ".join(self.port.capabilities.devices) or "none"
            raise pytest.UsageError(
                f"--bert-device {self.device}: implementation {self.impl_name!r} does not claim device "
                f"{self.device!r} (its capabilities() claim: {claimed}); nothing could be checked on it"
            )
        try:
            self.oracle = get_oracle(self.oracle_mode)
        except Exception as error:  # e.g. unreadable golden fixtures: nothing can be checked
            raise pytest.UsageError(
                f"--bert-oracle {self.oracle_mode}: {type(error).__name__}: {error}"
            ) from None
        self.active = True

    def _bounded(self, what: str) -> Any:
        return self.watchdog.deadline(self.timeout, what)

    def use_profile(self) -> None:
        """Load the clauses' hypothesis profile. Called when the clause conftest is loaded, i.e. before
        clause modules are imported (``@given`` reads the settings at decoration time)."""
        if self._previous_profile is None:
            profiles.register()
            self._previous_profile = profiles.current()
            profiles.load(self.profile)

    def deactivate(self) -> None:
        if self._previous_profile is not None:
            profiles.load(self._previous_profile)  # pytester runs in-process: leave hypothesis as found
            self._previous_profile = None

    @property
    def capabilities(self) -> Capabilities:
        assert self.port is not None, "the port is resolved when clauses are collected"
        return self.port.capabilities

    def unclaimed(self, item: pytest.Item) -> list[str]:
        """Requirements of every ``bert_requires`` marker on the item that the port does not claim (``tier=``:
        an accuracy tier, spec/tiers.yaml), and, for a port whose declared tier is not elementwise (float16,
        bfloat16, int8), the elementwise clauses that tier replaces (``tiers.elementwise``: not claimed, never
        an expectations entry). The core's non-numeric clauses (core.capabilities, core.load_model,
        core.inputs_unchanged) match no glob there and always run."""
        from bert_conformance.tiers import tiers_spec

        missing: list[str] = []
        known = (*_REQUIREMENTS, "tier", *surface.declarations())
        for marker in item.iter_markers("bert_requires"):
            unknown = sorted(set(marker.kwargs) - set(known))
            if unknown or marker.args:
                raise pytest.UsageError(f"{item.nodeid}: bert_requires takes only {', '.join(known)} keywords")
            for key, value in marker.kwargs.items():
                for one in [value] if isinstance(value, str) or value is None else value:
                    missing += [m for m in self.capabilities.unclaimed(**{key: one}) if m not in missing]
        tier = self.capabilities.tier
        if tier is not None and tiers_spec().not_claimed_elementwise(tier, clause_id(item)):
            missing.append(f"elementwise clause (tier {tier}: tiers.{tier.replace('-', '_')}.* replace it)")
        return missing

    def _unexcusable(self) -> tuple[str, ...]:
        """The core, and the criteria of the accuracy tier the port declares (its promise)."""
        tier = self.capabilities.tier
        return (CORE_PREFIX, f"tiers.{tier.replace('-', '_')}.") if tier else (CORE_PREFIX,)

    def stale(self) -> list[str]:
        return sorted(e.pattern for e in self.expectations if e.pattern not in self.used)

    # -- hooks: collection --------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Before -k/-m deselection: mark unclaimed clauses, expected failures, timeouts."""
        clauses = [item for item in items if is_clause(item)]
        if not clauses:
            return
        self.activate()
        timeout = self.timeout if self.config.pluginmanager.hasplugin("timeout") else None
        for item in clauses:
            ids = (report_id(item), clause_id(item))
            missing = self.unclaimed(item)
            if missing:
                item.add_marker(pytest.mark.skip(reason=f"{rep.NOT_CLAIMED} {', '.join(missing)}"))
            expected = exp.find(self.expectations, *ids)
            if expected is not None:
                self.used.add(expected.pattern)
                where = f"{self.expectations_path}:{expected.line}"
                if clause_id(item).startswith(self._unexcusable()):
                    raise pytest.UsageError(_unexcusable_message(where, expected.pattern, item))
                item.add_marker(
                    pytest.mark.xfail(strict=True, reason=f"expected failure ({where}): {expected.reason}")
                )
                item.stash[_EXPECTED] = (where, expected)
            if timeout and item.get_closest_marker("timeout") is None:
                method = "signal" if hasattr(signal, "SIGALRM") else "thread"  # signal: the run goes on
                item.add_marker(pytest.mark.timeout(timeout, method=method))

    def pytest_report_collectionfinish(self) -> list[str]:
        return self.header_lines() if self.active else []

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.results.collected = {item.nodeid for item in session.items}

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        """xdist controller: every worker collects the same tests; the run is complete when all finished."""
        self.results.collected = set(ids)

    # -- hooks: running -----------------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, Any, Any]:
        """The watchdog's hard deadline around the clause (setup, call, teardown): SIGALRM's timeout plus a grace."""
        if not (self.active and is_clause(item)):
            return (yield)
        # with pytest-timeout, its marker (ours or the clause's own); without it (-p no:timeout), ours alone
        timeout = _marked_timeout(item) if self.config.pluginmanager.hasplugin("timeout") else self.timeout
        if not timeout:
            return (yield)
        with self.watchdog.deadline(timeout + grace(timeout), f"clause {item.nodeid}"):
            return (yield)

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if self.active and is_clause(item):
            item.user_properties += [("bert_clause", clause_id(item)), ("bert_test", report_id(item))]

    @pytest.hookimpl(wrapper=True, trylast=True)  # inside hypothesis' own wrapper, which sets the digest first
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        """Record every assert_close the clause makes, pass or fail, for the report."""
        if not (self.active and is_clause(item)):
            return (yield)
        from bert_conformance.tolerance import recording

        _seed_from_location_free_id(item)
        with recording() as comparisons:
            try:
                return (yield)
            finally:
                item.user_properties.append(("bert_comparisons", [c.to_dict() for c in comparisons]))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        report = yield
        if not (self.active and is_clause(item)):
            return report
        if hasattr(report, "wasxfail") and call.excinfo is not None:
            _check_expected_failure(item, report, call.excinfo)
        if report.failed:
            report.sections.append(("bert-conformance", self.repro(item)))
            report.user_properties.append(("bert_repro", self.repro_command(item)))
        return report

    def repro(self, item: pytest.Item) -> str:
        lines = [
            f"clause {report_id(item)} failed for implementation {self.impl_name!r}",
            f"repro: {self.repro_command(item)}",
        ]
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            lines.append("the falsifying example and its @reproduce_failure blob are printed above")
        return "\n".join(lines)

    def repro_command(self, item: pytest.Item) -> str:
        """A self-contained command that reruns just this clause against the same port, wherever the suite is
        installed: ``--pyargs module::test[id]`` for the suite's clauses, the node id otherwise."""
        clauses = Path(bert_conformance.__file__).parent / "clauses"
        in_suite = Path(item.path).resolve().parent == clauses.resolve()
        target = ["--pyargs", f"bert_conformance.clauses.{Path(item.path).stem}::{item.name}"] if in_suite else [item.nodeid]
        command = [
            "pytest",
            *target,
            "--bert-impl",
            self.impl_name,
            "--bert-profile",
            self.profile,
            "-p",
            "no:xdist",
        ]
        if self.oracle_mode != "reference":
            command += ["--bert-oracle", self.oracle_mode]
        if self.device != "cpu":
            command += ["--bert-device", self.device]
        seed = self.config.getoption("hypothesis_seed", None)
        if seed is not None:
            command.append(f"--hypothesis-seed={seed}")
        return shlex.join(command)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not self.is_worker:  # under xdist the controller receives every worker's reports
            self.results.add(report)

    # -- hooks: end of run ----------------------------------------------------------------------------------

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        """xdist controller: take what a worker learned at collection (port header, expectations used)."""
        output = getattr(node, "workeroutput", {}).get("bert_conformance")
        if output:
            self.active = True
            self._worker_header = self._worker_header or output["header"]
            self.used.update(output["used"])

    def pytest_sessionstart(self, session: pytest.Session) -> None:
        """Write an *incomplete* report first: a run killed before its end (os._exit, SIGKILL, a crash) leaves
        a report that says so, never an old one or none."""
        if self.report_path and not self.is_worker:
            try:
                self._write(self._run(ended_early="the run did not finish (the process ended before pytest did)"))
            except OSError as error:
                raise pytest.UsageError(f"--bert-report {self.report_path}: cannot write: {error.strerror or error}") from None

    @pytest.hookimpl(tryfirst=True)  # before junitxml writes its file: the findings go in as suite properties
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker:
            if self.active:
                session.config.workeroutput["bert_conformance"] = {
                    "header": self.report_header(),
                    "used": sorted(self.used),
                }
            return
        self.ended_early = self._collect_only_reason() or _ENDED_EARLY.get(session.exitstatus) or (
            f"stopped early: {session.shouldstop or session.shouldfail}" if session.shouldstop or session.shouldfail else None
        )
        run = self._run(self.ended_early)
        if self.active and run["complete"]:
            self.diagnosis = self._diagnose()
        self._junit_findings()
        if self.report_path:
            try:
                self.written = self._write(run)
            except OSError as error:
                self.report_error = (
                    f"--bert-report {self.report_path}: cannot write: {error.strerror or error}"
                )
                session.exitstatus = pytest.ExitCode.USAGE_ERROR
        collect_only = self.config.getoption("collectonly", False)  # listing clauses is not a run: status kept
        if self.active and not collect_only and not run["complete"] and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = EXIT_INCOMPLETE
        if self.active and self.strict and self.stale() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def _junit_findings(self) -> None:
        """``--junitxml``: each finding as a test-suite property ``bert_finding_<n>`` (cause; clause count)."""
        from _pytest.junitxml import xml_key  # the plugin's own key: how record_testsuite_property reaches it

        xml = self.config.stash.get(xml_key, None)
        if xml is None or not self.active:
            return
        data = self.results.to_dict({}, {}, diagnosis=self.diagnosis)["findings"]
        for number, finding in enumerate(data, start=1):
            xml.add_global_property(f"bert_finding_{number}", f"{finding['cause']} ({finding['count']} clause(s))")

    def _diagnose(self) -> dict[str, Any] | None:
        """After a complete run with failures: where the port first diverges and what known bug it behaves like
        (docs/diagnosis.md), bounded in time. Evidence only: no clause status changes. BERT_DIAGNOSE=0: off."""
        failed = self.results.counts()["fail"]
        if not failed or os.environ.get("BERT_DIAGNOSE", "1") == "0":
            return None
        from bert_conformance.diagnosis.hook import after_run

        with self.watchdog.deadline(DIAGNOSIS_BUDGET_S + grace(DIAGNOSIS_BUDGET_S), "the diagnosis of the port"):
            return after_run(self.port or self.impl_name, failed=failed, budget_s=DIAGNOSIS_BUDGET_S)

    def _collect_only_reason(self) -> str | None:
        return "--collect-only: nothing ran" if self.config.getoption("collectonly", False) else None

    def _run(self, ended_early: str | None) -> dict[str, Any]:
        return rep.run_record(self.run_id, collected=len(self.results.collected), not_run=self.results.not_run(),
                              ended_early=ended_early)

    def _write(self, run: dict[str, Any]) -> tuple[Path, Path]:
        assert self.report_path is not None
        header = self.report_header() if self.active else self._minimal_header()
        return rep.write_reports(self.report_path, self.results.to_dict(header, run, diagnosis=self.diagnosis))

    def _minimal_header(self) -> dict[str, Any]:
        """Before the port is resolved (or when no clause was collected): what the run was asked to check."""
        return {"implementation": {"selected": self.impl_name}, "suite_version": bert_conformance.__version__,
                "oracle": self.oracle_mode, "device": self.device, "profile": self.profile, "timeout_s": self.timeout}

    def _hung(self, what: str) -> None:
        """The watchdog's last act: record why the run ends (the controller's report; a worker just dies)."""
        self.ended_early = f"{what} did not return within the hard deadline (the run was ended)"
        capture = self.config.pluginmanager.getplugin("capturemanager")
        if capture is not None:
            capture.suspend_global_capture()  # or the last words go to a capture file that is never shown
        if self.report_path and not self.is_worker:
            self._write(self._run(self.ended_early))

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.is_worker or not self.active:
            return
        terminalreporter.section("bert-conformance")
        for line in self.summary_lines():
            terminalreporter.line(line)

    def pytest_unconfigure(self) -> None:
        self.deactivate()
        _LIVE_SESSIONS.discard(id(self))

    # -- header and summary -----------------------------------------------------------------------------------

    def report_header(self) -> dict[str, Any]:
        if self._worker_header is not None:
            return {**self._worker_header, "expectations": self._expectations_info()}
        caps = self.capabilities
        return {
            "implementation": {
                "selected": self.impl_name,
                "target": self.port.target if self.port else "",
                "name": caps.name,
                "version": caps.version,
                "capabilities": caps.to_dict(),
                "capabilities_error": self.port.capabilities_error if self.port else None,
            },
            "suite_version": bert_conformance.__version__,
            "spec_version": self.spec_version,
            "oracle": self.oracle_mode,
            "device": self.device,
            "profile": self.profile,
            "timeout_s": self.timeout,
            "expectations": self._expectations_info(),
        }

    def _expectations_info(self) -> dict[str, Any]:
        return {"file": self.expectations_path, "entries": len(self.expectations), "stale": self.stale()}

    def header_lines(self) -> list[str]:
        header = self.report_header()
        impl = header["implementation"]
        caps = impl["capabilities"]
        lines = [
            f"bert-conformance {header['suite_version']} (spec {header['spec_version']}), oracle {header['oracle']}, "
            f"device {header.get('device', 'cpu')}, hypothesis profile {header['profile']}, clause timeout {header['timeout_s']:g}s",
            f"implementation: {self.impl_name} -> {impl['target']} ({impl['name']} {impl['version']})",
            "claims: " + "; ".join(f"{key} {','.join(caps[key]) or '-'}" for key in rep.CLAIM_KEYS),
        ]
        if caps.get("tier"):
            lines.append(f"accuracy tier: {caps['tier']} (elementwise clauses it replaces: not claimed; docs/tiers.md)")
        narrowed = [f"{key} {','.join(caps[key]) or '-'}" for key in surface.declarations() if key in caps]
        if narrowed:
            lines.append("surface: " + "; ".join(narrowed) + " (other keys: everything)")
        if impl["capabilities_error"]:
            lines.append(f"capabilities() is invalid: {impl['capabilities_error']}")
        if self.expectations_path:
            lines.append(f"expectations: {self.expectations_path} ({len(self.expectations)} entries)")
        return lines

    def summary_lines(self) -> list[str]:
        counts = self.results.counts()
        lines = self.header_lines()
        lines.append("clauses: " + ", ".join(f"{counts[s]} {s}" for s in rep.STATUSES))
        if counts["fail"]:
            lines += findings.summary_lines(self.results.to_dict({}, {}, diagnosis=self.diagnosis)["findings"])
        live = sum(1 for r in self.results.clauses.values() if r.status == "skipped-env" and rep.NEEDS_LIVE_ORACLE in r.message)
        if live:
            lines.append(
                f"{live} skipped-env clause(s) {rep.NEEDS_LIVE_ORACLE}: the golden oracle answers golden cases only; "
                "run with --bert-oracle reference (needs torch) to check them"
            )
        for pattern in self.stale():
            consequence = (
                "fails the run (--bert-strict)" if self.strict else "use --bert-strict to fail on it"
            )
            lines.append(f"expectations: {pattern!r} matches no collected clause; {consequence}")
        if self.ended_early or self.results.not_run():
            reason = self.ended_early or f"{len(self.results.not_run())} collected test(s) never finished"
            lines.append(f"INCOMPLETE: {reason}; this run is not a verdict on the port")
        if self.written:
            lines.append(f"report: {self.written[0]} and {self.written[1]}")
        if self.report_error:
            lines.append(f"ERROR: {self.report_error}")
        return lines


def _unexcusable_message(where: str, pattern: str, item: pytest.Item) -> str:
    if clause_id(item).startswith(CORE_PREFIX):
        return (f"{where}: {pattern!r} matches the core clause {report_id(item)}: the core (core.*) cannot be "
                "excused by an expectations file; a port that fails it is not a BERT port")
    return (f"{where}: {pattern!r} matches {report_id(item)}, a criterion of the accuracy tier the port declares: "
            "it cannot be excused by an expectations file; declare the tier the port meets (docs/tiers.md)")


_EXPECTED = pytest.StashKey[tuple[str, exp.Expectation]]()
ACTUAL_FAILURE = "bert_actual_failure"  # user property: what an expected failure actually raised


def _check_expected_failure(item: pytest.Item, report: pytest.TestReport, excinfo: pytest.ExceptionInfo[Any]) -> None:
    """Keep what an expected failure actually raised; fail it when it is not the failure its expectation names
    (``# reason (fails with: <text>)``): an xfail must not hide a new, different bug."""
    actual = f"{excinfo.typename}: {excinfo.value}".strip()
    report.user_properties.append((ACTUAL_FAILURE, actual[:4000]))
    where, expected = item.stash.get(_EXPECTED, ("", None))
    if expected is None or not expected.fails_with or expected.fails_with in actual:
        return
    report.outcome = "failed"
    report.longrepr = (
        f"expected failure ({where}) names the failure {expected.fails_with!r}, but the clause failed for another "
        f"reason:\n{actual}"
    )
    del report.wasxfail


def _marked_timeout(item: pytest.Item) -> float:
    """The item's pytest-timeout marker value (ours, or a longer one the clause set itself); 0: none."""
    marker = item.get_closest_marker("timeout")
    if marker is None:
        return 0.0
    value = marker.args[0] if marker.args else marker.kwargs.get("timeout", 0)
    try:
        return max(float(value or 0), 0.0)
    except (TypeError, ValueError):
        return 0.0


def _seed_from_location_free_id(item: pytest.Item) -> None:
    """Make a derandomized clause draw the same examples wherever the suite is installed and run from.

    hypothesis' pytest plugin seeds a parametrized test with its node id, which holds the path from pytest's
    rootdir: ``test_labels.py::...`` from one folder, ``.tox/x/lib/.../test_labels.py::...`` from another, so
    the ``ci`` profile drew different examples in a port author's CI than in ours. File name + test name is
    the same everywhere."""
    inner = getattr(getattr(getattr(item, "obj", None), "hypothesis", None), "inner_test", None)
    if inner is not None and getattr(inner, "_hypothesis_internal_add_digest", None) is not None:
        inner._hypothesis_internal_add_digest = f"{item.path.name}::{item.name}".encode()


def _spec_version() -> str:
    """Loading the spec validates it (cached per process); every clause relies on it."""
    from bert_conformance.spec import load_spec

    return str(load_spec().spec_version)
