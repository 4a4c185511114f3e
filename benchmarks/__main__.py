"""``python -m benchmarks run|report``: run the suites with pytest-benchmark, then write the reports.

    python -m benchmarks run [--device auto|cpu|cuda|all] [--impl reference,transformers] [--out DIR] [--smoke]
                             [-- extra pytest arguments]
    python -m benchmarks report RESULTS.json

``--device auto`` (the default) runs every suite when torch sees a CUDA device, else the CPU suites: the GPU
suites run whenever a GPU is there. ``run`` writes ``<out>/<device>-<YYYYMMDD-HHMMSS>.json`` (pytest-benchmark's JSON, renamed into place only
when pytest finished), then ``.md``, ``.png`` and ``.verdicts.json`` beside it. Exit status: pytest's if
it failed (an output check, an error), else 1 if a threshold failed, else 0.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "benchmarks" / "results"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the suites, then write the reports")
    run.add_argument("--device", choices=("auto", "cpu", "cuda", "all"), default="auto",
                     help="suites to run (default: auto = all with a CUDA device, else cpu)")
    run.add_argument("--impl", default="reference,transformers", help="comma-separated ports (default: %(default)s)")
    run.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results folder (default: benchmarks/results)")
    run.add_argument("--smoke", action="store_true", help="tiny model, one shape, two rounds (machinery check)")
    run.add_argument("pytest_args", nargs="*", help="extra pytest arguments, after --")
    rep = sub.add_parser("report", help="write the reports of an existing results JSON")
    rep.add_argument("json", type=Path)
    args = parser.parse_args(argv)
    if args.command == "report":
        return _report(args.json, command=f"python -m benchmarks report {args.json}")
    return _run(args)


def resolve_device(device: str) -> str:
    """``auto``: every suite when torch sees a CUDA device, else the CPU suites."""
    if device != "auto":
        return device
    import torch

    return "all" if torch.cuda.is_available() else "cpu"


def _run(args: argparse.Namespace) -> int:
    import pytest

    args.device = resolve_device(args.device)

    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"{args.device}{'-smoke' if args.smoke else ''}-{time.strftime('%Y%m%d-%H%M%S')}"
    final = stem.with_suffix(".json")
    partial = stem.with_suffix(".json.partial")
    pytest_argv = [
        str(ROOT / "benchmarks"), "-p", "no:cacheprovider", "-p", "no:xdist", "-q", "-rs",
        f"--rootdir={ROOT}", f"--benchmark-json={partial}", "--benchmark-columns=min,median,max,rounds",
        f"--bench-device={args.device}", f"--bench-impl={args.impl}",
        *(["--bench-smoke"] if args.smoke else []), *args.pytest_args,
    ]
    command = "python -m benchmarks " + shlex.join(sys.argv[1:] if sys.argv[1:] else ["run"])
    for name in [n for n in os.environ if n.startswith("PYTEST_XDIST_")]:
        del os.environ[name]  # inherited from a parallel test run, it would make pytest-benchmark disable itself
    counter = _PassedCounter()
    started = time.perf_counter()
    status = int(pytest.main(pytest_argv, plugins=[counter]))
    elapsed = time.perf_counter() - started
    if not partial.exists() or partial.stat().st_size == 0:  # pytest-benchmark writes nothing if nothing ran
        partial.unlink(missing_ok=True)
        if counter.passed:
            print(f"{counter.passed} benchmark(s) passed but pytest-benchmark wrote no results "
                  "(was it disabled, e.g. --benchmark-disable?)", file=sys.stderr)
            return 1
        if status == 0:
            print("no benchmark ran: every selected benchmark was skipped (reasons above); "
                  "no report written, no threshold evaluated")
            return 0
        print(f"no results written (pytest exit status {status})", file=sys.stderr)
        return status
    os.replace(partial, final)
    print(f"wrote {final} ({elapsed:.0f} s of benchmarks)")
    report_status = _report(final, command=command)
    if status not in (0, 5):  # 5: nothing collected/selected, e.g. only CUDA suites without a GPU
        print(f"pytest failed (exit status {status}): see the failures above", file=sys.stderr)
        return status
    return report_status


class _PassedCounter:
    """A pytest plugin counting passed tests (to tell 'all skipped' from 'ran but nothing recorded')."""

    def __init__(self) -> None:
        self.passed = 0

    def pytest_runtest_logreport(self, report) -> None:  # noqa: ANN001 - pytest's TestReport
        if report.when == "call" and report.passed:
            self.passed += 1


def _report(path: Path, *, command: str) -> int:
    from benchmarks.report import report

    try:
        return report(path, command=command)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
