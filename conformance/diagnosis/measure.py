"""Measure the diagnosis on the known-bad corpus and on the transformers-based known-bad ports.

    OMP_NUM_THREADS=1 python -m bert_conformance.diagnosis.measure [--corpus-matching]
    BERT_KNOWN_BAD_RESULTS=DIR pytest tests/test_known_bad.py -n 2
    python -m bert_conformance.diagnosis.measure --findings DIR
    OMP_NUM_THREADS=1 python -m bert_conformance.diagnosis.measure --run-modules DIR

Prints, per corpus area and for the transformers ports, how many are localised to their labelled component
and how many are named the right catalogue variant (none for a bug outside the catalogue), the misses, and
the wall time per diagnosis. ``--findings DIR`` instead reads the report findings that tests/test_known_bad.py
kept for each corpus port (each run on the clauses it names) and prints, for the ports no forward probe can
see (known.SUITE_COMPONENTS), how many read as one finding and how many findings name the labelled
component. ``--run-modules DIR`` first runs each of those ports on the whole clause modules its clauses are in
(as a port author's CI would, automatic diagnosis on), keeping each ``--bert-report`` as ``DIR/<id>.json``,
then measures them. docs/diagnosis.md quotes all three.
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
    """Each port no probe can see, on every clause module its named clauses are in (one process each)."""
    from bert_conformance.diagnosis.known import SUITE_COMPONENTS
    from bert_conformance.known_bad import CORPUS
    from bert_conformance.known_bad.selection import clause_paths

    folder.mkdir(parents=True, exist_ok=True)
    for port_id in sorted(SUITE_COMPONENTS):
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
    """The clause-based localisation of the report's findings on the ports no probe can see."""
    from bert_conformance.diagnosis.known import SUITE_COMPONENTS

    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # area -> [ports, one finding, component right]
    misses, absent = [], []
    for port_id, component in sorted(SUITE_COMPONENTS.items()):
        path = folder / f"{port_id}.json"
        if not path.is_file():
            absent.append(port_id)
            continue
        found = json.loads(path.read_text())["findings"]
        row = rows[port_id.split(".")[0]]
        row[0] += 1
        row[1] += len(found) == 1
        row[2] += bool(found) and found[0]["component"] == component
        if len(found) != 1 or found[0]["component"] != component:
            got = ", ".join(f"{f['component']} ({f['count']})" for f in found) or "no finding"
            misses.append(f"{port_id}: expected one finding at {component}, got {got}")
    print(f"{'area':20s} ports  one finding  component")
    for area, (n, one, right) in sorted(rows.items()):
        print(f"{area:20s} {n:5d}  {one:11d}  {right:9d}")
    total = [sum(v[i] for v in rows.values()) for i in range(3)]
    print(f"{'all':20s} {total[0]:5d}  {total[1]:11d}  {total[2]:9d}")
    for miss in misses:
        print("miss:", miss)
    if absent:
        print(f"not in {folder}: {', '.join(absent)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
