"""Measure the diagnosis on the known-bad corpus and on the transformers-based known-bad ports.

    OMP_NUM_THREADS=1 python -m bert_conformance.diagnosis.measure [--corpus-matching]

Prints, per corpus area and for the transformers ports, how many are localised to their labelled component
and how many are named the right catalogue variant (none for a bug outside the catalogue), the misses, and
the wall time per diagnosis. docs/diagnosis.md quotes its output.
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict


def main(argv: list[str] | None = None) -> int:
    from bert_conformance.diagnosis import diagnose
    from bert_conformance.diagnosis.hf_ports import PORTS
    from bert_conformance.diagnosis.known import CATALOGUED, COMPONENTS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus-matching", action="store_true", help="also match against the corpus (slower)")
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    raise SystemExit(main())
