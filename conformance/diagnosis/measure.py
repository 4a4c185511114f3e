"""Measure the diagnosis on the known-bad corpus and on the transformers-based known-bad ports.

    OMP_NUM_THREADS=1 python -m bert_conformance.diagnosis.measure [--corpus-matching]
    BERT_KNOWN_BAD_RESULTS=DIR pytest tests/test_known_bad.py -n 2
    python -m bert_conformance.diagnosis.measure --findings DIR
    OMP_NUM_THREADS=1 python -m bert_conformance.diagnosis.measure --run-modules DIR

Prints, per corpus area and for the transformers ports, how many are localised to their labelled component
and how many are named the right catalogue variant (none for a bug outside the catalogue), the misses, and
the wall time per diagnosis. ``--findings DIR`` instead reads the report findings that tests/test_known_bad.py
kept for each corpus port (each run on the clauses it names, with the automatic diagnosis) and prints, per
corpus area, how many read as one finding and how many name the labelled component. ``--run-modules DIR``
first runs each corpus port on the whole clause modules its clauses are in (as a port author's CI would,
automatic diagnosis on; about 30 minutes on one core), keeping each ``--bert-report`` as ``DIR/<id>.json``, then
measures them. docs/diagnosis.md quotes all three.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    from bert_conformance.diagnosis import diagnose
    from bert_conformance.diagnosis.hf_ports import PORTS
    from bert_conformance.diagnosis.known import CATALOGUED, COMPONENTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus-matching", action="store_true", help="also match against the corpus (slower)")
    parser.add_argument("--findings", type=Path, metavar="DIR", help="measure the report findings kept in DIR")
    parser.add_argument("--run-modules", type=Path, metavar="DIR", help="run the ports on whole modules first")
    args = parser.parse_args(argv)
    if args.run_modules:
        run_modules(args.run_modules)
        return measure_findings(args.run_modules)
    if args.findings:
        return measure_findings(args.findings)
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # area -> [ports, component right, variant right]
    misses, times = [], []
    cases = [(f"bert_conformance.known_bad:{pid}", pid.split(".")[0], COMPONENTS[pid], CATALOGUED.get(pid))
             for pid in sorted(COMPONENTS)]
    cases += [(f"bert_conformance.diagnosis.hf_ports:{c.__name__}", "transformers-based", c.component, None)
              for c in PORTS]
    for name, area, component, variant in cases:
        diagnosis = diagnose(name, corpus=args.corpus_matching)
        times.append(diagnosis.seconds)
        named = diagnosis.variant.name if diagnosis.variant else None
        row = rows[area]
        row[0] += 1
        row[1] += diagnosis.component == component
        row[2] += named == variant
        if diagnosis.component != component or named != variant:
            misses.append(f"{name}: expected {component} / {variant}, got {diagnosis.component} / {named}")
    print(f"{'area':20s} ports  component  variant")
    for area, (n, right, named) in sorted(rows.items()):
        print(f"{area:20s} {n:5d}  {right:9d}  {named:7d}")
    corpus = [v for k, v in rows.items() if k != "transformers-based"]
    total = [sum(v[i] for v in corpus) for i in range(3)]
    print(f"{'corpus (in scope)':20s} {total[0]:5d}  {total[1]:9d}  {total[2]:7d}")
    for miss in misses:
        print("miss:", miss)
    times.sort()
    print(f"seconds per diagnosis: median {times[len(times) // 2]:.2f}, max {times[-1]:.2f} "
          f"(first one includes warm-up), total {sum(times):.1f} at {time.strftime('%Y-%m-%d')}")
    return 0


def run_modules(folder: Path) -> None:
    """Each corpus port on every clause module its named clauses are in (one process each)."""
    from bert_conformance.known_bad import CORPUS
    from bert_conformance.known_bad.selection import clause_paths

    folder.mkdir(parents=True, exist_ok=True)
    for port_id in sorted(CORPUS):
        port = CORPUS[port_id]
        report = folder / f"{port_id}.json"
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
                   *map(str, clause_paths((*port.kills, *port.hides_in))),
                   "--bert-impl", f"bert_conformance.known_bad:{port_id}", "--bert-profile", "ci",
                   "--bert-report", str(report), *port.run_args]
        started = time.perf_counter()
        subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        print(f"{port_id}: {time.perf_counter() - started:.0f} s", flush=True)


def measure_findings(folder: Path) -> int:
    """The report's findings, automatic diagnosis included, on every corpus port kept in ``folder``: how many
    read as one finding, and how many name the labelled component (the largest finding's, when several)."""
    from bert_conformance.diagnosis.known import MISSES, expected_component
    from bert_conformance.known_bad import CORPUS

    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # area -> [ports, one, right, one and right]
    misses, absent = [], []
    for port_id in sorted(CORPUS):
        path = folder / f"{port_id}.json"
        if not path.is_file():
            absent.append(port_id)
            continue
        found = json.loads(path.read_text())["findings"]
        component = expected_component(port_id)
        right = bool(found) and max(found, key=lambda f: f["count"])["component"] == component
        row = rows[port_id.split(".")[0]]
        for column, value in enumerate((True, len(found) == 1, right, len(found) == 1 and right)):
            row[column] += value
        if len(found) != 1 or not right:
            got = ", ".join(f"{f['component']} ({f['count']})" for f in found) or "no finding"
            listed = " (known.MISSES)" if port_id in MISSES else ""
            misses.append(f"{port_id}: expected one finding at {component}, got {got}{listed}")
    print(f"{'area':20s} ports  one finding  component  both")
    for area, (n, one, right, both) in sorted(rows.items()):
        print(f"{area:20s} {n:5d}  {one:11d}  {right:9d}  {both:4d}")
    total = [sum(v[i] for v in rows.values()) for i in range(4)]
    print(f"{'corpus':20s} {total[0]:5d}  {total[1]:11d}  {total[2]:9d}  {total[3]:4d}")
    for miss in misses:
        print("miss:", miss)
    if absent:
        print(f"not in {folder}: {', '.join(absent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
