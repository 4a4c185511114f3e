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

STATE = pytest.StashKey["ConformanceSession"]()
DEFAULT_TIMEOUT = 120.0
MIN_TIMEOUT, MAX_TIMEOUT = 0.01, 86400.0  # below: the alarm fires inside pytest's own machinery; nan, inf refused
_REQUIREMENTS = ("head", "dtype", "device", "attention", "feature")  # + the surface keys (spec/surface.yaml)


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
        self._worker_header: dict[str, Any] | None = None
        self._previous_profile: str | None = None

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
            self.port = load_implementation(self.impl_name)
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
                item.add_marker(
                    pytest.mark.xfail(strict=True, reason=f"expected failure ({where}): {expected.reason}")
                )
            if timeout and item.get_closest_marker("timeout") is None:
                method = "signal" if hasattr(signal, "SIGALRM") else "thread"  # signal: the run goes on
                item.add_marker(pytest.mark.timeout(timeout, method=method))

    def pytest_report_collectionfinish(self) -> list[str]:
        return self.header_lines() if self.active else []

    # -- hooks: running -----------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        if self.active and is_clause(item):
            item.user_properties += [("bert_clause", clause_id(item)), ("bert_test", report_id(item))]

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item) -> Any:
        """Record every assert_close the clause makes, pass or fail, for the report."""
        if not (self.active and is_clause(item)):
            return (yield)
        from bert_conformance.tolerance import recording

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

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if self.is_worker:
            if self.active:
                session.config.workeroutput["bert_conformance"] = {
                    "header": self.report_header(),
                    "used": sorted(self.used),
                }
            return
        if not self.active:
            return
        if self.report_path:
            try:
                self.written = rep.write_reports(self.report_path, self.results.to_dict(self.report_header()))
            except OSError as error:
                self.report_error = (
                    f"--bert-report {self.report_path}: cannot write: {error.strerror or error}"
                )
                session.exitstatus = pytest.ExitCode.USAGE_ERROR
        if self.strict and self.stale() and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

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
        if self.written:
            lines.append(f"report: {self.written[0]} and {self.written[1]}")
        if self.report_error:
            lines.append(f"ERROR: {self.report_error}")
        return lines


def _spec_version() -> str:
    """Loading the spec validates it (cached per process); every clause relies on it."""
    from bert_conformance.spec import load_spec

    return str(load_spec().spec_version)
