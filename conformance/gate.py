"""``bert-conformance run``: the gate command for CI. It runs the suite in a child process and trusts only a
complete report from *that* run: a port that ends the process early (``os._exit(0)``, a signal, a hang killed
by the watchdog) can make pytest exit 0, never this command.

    bert-conformance run [PYTEST_ARGS ...]     # e.g. --bert-impl mypkg:port --bert-expectations exp.txt -n auto

Exit status: pytest's (0 only when every collected clause finished and none failed unexpectedly), or
:data:`~bert_conformance.watchdog.EXIT_INCOMPLETE` (6) when the run ended without a verdict.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any

from bert_conformance.session import RUN_ID_ENV
from bert_conformance.watchdog import EXIT_INCOMPLETE

_SPECIFIC = (2, 3, 4)  # pytest's INTERRUPTED, INTERNAL_ERROR, USAGE_ERROR
_SUITE = ["-m", "pytest", "--pyargs", "bert_conformance.clauses", "-p", "no:cacheprovider"]


def add_run_command(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run",
        help="run the conformance suite as a CI gate (exit 0 only on a complete, passing run)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed to pytest (the --bert-* options, -n, -k ...)")
    run.set_defaults(func=lambda args: run(args.pytest_args))


def run(arguments: list[str]) -> int:
    """Run the suite with ``arguments`` (pytest's); the gate's exit status."""
    pytest_args = list(arguments)
    report = _report_option(pytest_args)
    with tempfile.TemporaryDirectory(prefix="bert-conformance-run-") as folder:
        if report is None:
            report = Path(folder) / "report.json"
            pytest_args += ["--bert-report", str(report)]
        run_id = uuid.uuid4().hex
        try:
            code = subprocess.call([sys.executable, *_SUITE, *pytest_args], env={**os.environ, RUN_ID_ENV: run_id})
        except KeyboardInterrupt:  # the child got the same SIGINT; its report says what ran
            code = EXIT_INCOMPLETE
        problem = incomplete(report, run_id)
    if problem:
        print(f"bert-conformance run: INCOMPLETE: {problem}; no verdict (exit {EXIT_INCOMPLETE})", file=sys.stderr)
        # pytest's interrupted / internal / usage codes say more; anything else (0, 1, killed) has no verdict
        return code if code in _SPECIFIC else EXIT_INCOMPLETE
    return code


def _report_option(pytest_args: list[str]) -> Path | None:
    for index, arg in enumerate(pytest_args):
        if arg == "--bert-report" and index + 1 < len(pytest_args):
            return Path(pytest_args[index + 1])
        if arg.startswith("--bert-report="):
            return Path(arg.split("=", 1)[1])
    return None


def incomplete(report: Path, run_id: str) -> str | None:
    """Why ``report`` is not the complete report of run ``run_id`` (None: it is)."""
    try:
        data: Any = json.loads(report.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return f"the run wrote no report ({report})"
    except (OSError, ValueError) as error:
        return f"the report {report} cannot be read: {error}"
    run = data.get("run") if isinstance(data, dict) else None
    if not isinstance(run, dict) or run.get("id") != run_id:
        return f"the report {report} is not this run's (a stale or foreign file)"
    if run.get("complete") is not True:
        return str(run.get("incomplete_reason") or "the report says the run is incomplete")
    return None
