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
from bert_conformance import profiles, surface
from bert_conformance import report as rep
from bert_conformance.adapter import DEVICES, Capabilities, ImplementationError, Port, load_implementation
from bert_conformance.errors import SpecError
from bert_conformance.oracle import Oracle, get_oracle
from bert_conformance.watchdog import EXIT_INCOMPLETE, Watchdog, grace

STATE = pytest.StashKey["ConformanceSession"]()
DEFAULT_TIMEOUT = 120.0
MIN_TIMEOUT, MAX_TIMEOUT = 0.01, 86400.0  # below: the alarm fires inside pytest's own machinery; nan, inf refused
_REQUIREMENTS = ("head", "dtype", "device", "attention", "feature")  # + the surface keys (spec/surface.yaml)
# importing a port may import a framework (TensorFlow: ~10 s on a busy 2-core machine): a tiny --bert-timeout
# meant for clauses must not kill the import (capabilities() itself gets --bert-timeout)
IMPORT_DEADLINE_FLOOR = 30.0
RUN_ID_ENV = "BERT_CONFORMANCE_RUN_ID"  # set by `bert-conformance run` to recognise its own run's report
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
        self._worker_header: dict[str, Any] | None = None
        self._previous_profile: str | None = None
        self.run_id = os.environ.get(RUN_ID_ENV) or uuid.uuid4().hex
        self.watchdog = Watchdog(self._hung)

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
        """Requirements of every ``bert_requires`` marker on the item that the port does not claim."""
        missing: list[str] = []
        known = (*_REQUIREMENTS, *surface.declarations())
        for marker in item.iter_markers("bert_requires"):
            unknown = sorted(set(marker.kwargs) - set(known))
            if unknown or marker.args:
                raise pytest.UsageError(f"{item.nodeid}: bert_requires takes only {', '.join(known)} keywords")
            for key, value in marker.kwargs.items():
                for one in [value] if isinstance(value, str) or value is None else value:
                    missing += [m for m in self.capabilities.unclaimed(**{key: one}) if m not in missing]
        return missing

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
                if clause_id(item).startswith(CORE_PREFIX):
                    raise pytest.UsageError(
                        f"{where}: {expected.pattern!r} matches the core clause {report_id(item)}: the core "
                        "(core.*) cannot be excused by an expectations file; a port that fails it is not a BERT port"
                    )
                item.add_marker(
                    pytest.mark.xfail(strict=True, reason=f"expected failure ({where}): {expected.reason}")
                )
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
    def pytest_runtest_makereport(self, item: pytest.Item) -> Any:
        report = yield
        if report.failed and self.active and is_clause(item):
            report.sections.append(("bert-conformance", self.repro(item)))
        return report

    def repro(self, item: pytest.Item) -> str:
        """A self-contained command that reruns just this clause against the same port."""
        node = f"{item.path}::{item.name}"
        command = [
            "pytest",
            node,
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
        lines = [
            f"clause {report_id(item)} failed for implementation {self.impl_name!r}",
            f"repro: {shlex.join(command)}",
        ]
        if getattr(getattr(item, "obj", None), "is_hypothesis_test", False):
            lines.append("the falsifying example and its @reproduce_failure blob are printed above")
        return "\n".join(lines)

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

    def _collect_only_reason(self) -> str | None:
        return "--collect-only: nothing ran" if self.config.getoption("collectonly", False) else None

    def _run(self, ended_early: str | None) -> dict[str, Any]:
        return rep.run_record(self.run_id, collected=len(self.results.collected), not_run=self.results.not_run(),
                              ended_early=ended_early)

    def _write(self, run: dict[str, Any]) -> tuple[Path, Path]:
        assert self.report_path is not None
        header = self.report_header() if self.active else self._minimal_header()
        return rep.write_reports(self.report_path, self.results.to_dict(header, run))

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
