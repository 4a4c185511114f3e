"""Measure how many greps lead from a clause id to its YAML, its test and the reference code.

    python tools/clause_hops.py -n 10 --seed 0     # 10 clause ids drawn at random (seeded)
    python tools/clause_hops.py --all              # every collected clause id

The ids are those pytest collects from the clause modules (``--collect-only``; the clause id is the test id up
to its first ``-``). For each id the tool runs the greps a maintainer would, from the repository root:

- YAML: ``grep -rnF <id> spec/``; reached when a hit is the clause itself (``id: <id>``).
- test: (1) ``grep -rnF <id> conformance/clauses/``, reached when a hit is in the module that runs the id;
  (2) ``grep -rnF <family> conformance/clauses/``, where <family> is the glob that names the id in a clause
  module's docstring ("Clause ids run here ...", the most specific matching glob): reached when a hit is in
  that module and names the test function that runs the id.
- reference: (1) ``grep -rnF <id> reference/``; (2) the same family glob (no family: the id's parent, as
  ``config.hidden_act.*``) in ``reference/``: reached on any hit (the comments sit where the logic lives). Families checked end to end
  against recorded or measured values have no one place of logic in the reference: their reference hop is
  "n/a" (NO_REFERENCE_LOGIC). A missing reference hop is reported, never a failure.

Prints one line per id (greps needed per target, or "not found") and a summary; exits 1 when an id needs more
than 2 greps (or is not found) for its YAML or its test.
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import os
import random
import re
import subprocess
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC, CLAUSES, REFERENCE = "spec/", "conformance/clauses/", "reference/"
_NODE = re.compile(r"^(?P<file>\S+\.py)::(?P<function>\w+)\[(?P<id>[^\]]+)\]$")
# "    <glob or id>   test_a, test_b" lines of a clause module docstring, after "Clause ids run here ..."
_FAMILY = re.compile(r"^\s+(?P<glob>[a-z][\w.*]*)\s{2,}(?P<functions>test_\w+(?:,\s*test_\w+)*)\s*$")
# Families whose clauses run the whole model (or tokenizer) against fixtures, the oracle or a measurement:
# no single place of the reference implements them, so their reference hop is "n/a".
NO_REFERENCE_LOGIC = ("core.*", "numerics.*", "golden.*", "tiers.*", "tokenizer.case.*")


def collect() -> dict[str, set[tuple[str, str]]]:
    """Clause id -> {(module file, test function)} of every collected clause test."""
    command = [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider",
               "-p", "no:xdist", "--pyargs", "bert_conformance.clauses"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    runners: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for line in done.stdout.splitlines():
        if m := _NODE.match(line.strip()):  # the module as the greps name it, wherever pytest imported it from
            runners[m["id"].split("-", 1)[0]].add((CLAUSES + Path(m["file"]).name, m["function"]))
    if done.returncode != 0 or not runners:
        raise SystemExit(f"collecting the clause tests failed (exit {done.returncode}):\n"
                         f"{done.stdout[-3000:]}{done.stderr[-2000:]}")
    return runners


def declared_families() -> list[tuple[str, str, tuple[str, ...]]]:
    """(glob, module file, test functions) of every "Clause ids run here ..." line of the clause modules."""
    found = []
    for path in sorted((ROOT / CLAUSES).glob("test_*.py")):
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
        _, marker, section = doc.partition("Clause ids run here")
        for line in section.splitlines()[1:] if marker else ():
            if not line.strip():
                break
            if m := _FAMILY.match(line):
                functions = tuple(f.strip() for f in m["functions"].split(","))
                found.append((m["glob"], path.relative_to(ROOT).as_posix(), functions))
    return found


def family_of(clause_id: str, families: list[tuple[str, str, tuple[str, ...]]]) -> str | None:
    """The most specific declared glob matching the id: fewest ``*``, then the most literal characters."""
    matching = [glob for glob, _, _ in families if fnmatch.fnmatchcase(clause_id, glob)]
    return min(matching, key=lambda g: (g.count("*"), -len(g.replace("*", ""))), default=None)


def grep(pattern: str, folder: str, include: str) -> list[tuple[str, str]]:
    """(file, line) of every hit of ``grep -rnF --include=<include> <pattern> <folder>``."""
    command = ["grep", "-rnF", f"--include={include}", "--", pattern, folder]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, check=False)
    hits = []
    for line in done.stdout.splitlines():
        file, _, rest = line.partition(":")
        hits.append((file, rest.partition(":")[2]))
    return hits


@dataclass
class Hops:
    clause_id: str
    yaml: int | None
    test: int | None
    reference: int | str | None  # greps, "n/a", or None (not found)
    family: str | None

    def ok(self) -> bool:
        return self.yaml is not None and self.yaml <= 2 and self.test is not None and self.test <= 2


Families = list[tuple[str, str, tuple[str, ...]]]  # (glob, module file, test functions)


def measure(clause_id: str, runners: set[tuple[str, str]], families: Families) -> Hops:
    own = re.compile(rf"(^|[\s{{\[,-])id: {re.escape(clause_id)}\s*([,}}]|$)")  # the clause itself
    yaml_hops = 1 if any(own.search(line) for _, line in grep(clause_id, SPEC, "*.yaml")) else None
    family = family_of(clause_id, families)
    test_hops = None
    if any(file in {f for f, _ in runners} for file, _ in grep(clause_id, CLAUSES, "*.py")):
        test_hops = 1
    elif family is not None:
        hits = grep(family, CLAUSES, "*.py")
        if any(re.search(rf"\b{function}\b", line) for file, line in hits for module, function in runners
               if module == file):
            test_hops = 2
    # the reference's comments name an id or a glob: the test family, else the id's parent (like
    # config.hidden_act.*)
    near = family or clause_id.rpartition(".")[0] + ".*"
    reference: int | str | None = None
    if any(fnmatch.fnmatchcase(clause_id, glob) for glob in NO_REFERENCE_LOGIC):
        reference = "n/a"
    elif grep(clause_id, REFERENCE, "*.py"):
        reference = 1
    elif grep(near, REFERENCE, "*.py"):
        reference = 2
    return Hops(clause_id, yaml_hops, test_hops, reference, near)


def _show(value: int | str | None) -> str:
    return "not found" if value is None else str(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10, help="how many clause ids to draw (default 10)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draw (default 0)")
    parser.add_argument("--all", action="store_true", help="every collected clause id instead of a draw")
    args = parser.parse_args(argv)

    runners = collect()
    families = declared_families()
    ids = sorted(runners) if args.all else sorted(random.Random(args.seed).sample(sorted(runners),
                                                                                  min(args.n, len(runners))))
    print(f"{len(ids)} of {len(runners)} clause ids ({'all' if args.all else f'seed {args.seed}'}); "
          f"greps needed to reach YAML / test / reference")
    results = [measure(clause_id, runners[clause_id], families) for clause_id in ids]
    width = max(len(r.clause_id) for r in results)
    for r in results:
        via = f"  (family {r.family})" if r.test == 2 or r.reference == 2 else ""
        print(f"  {r.clause_id:<{width}}  yaml {_show(r.yaml):<9}  test {_show(r.test):<9}  "
              f"reference {_show(r.reference):<9}{via}")
    for target in ("yaml", "test", "reference"):
        counts = Counter(_show(getattr(r, target)) for r in results)
        print(f"{target}: " + ", ".join(f"{counts[k]} x {k}" for k in sorted(counts)))
    print(f"reference n/a: {', '.join(NO_REFERENCE_LOGIC)} (checked end to end: no one place of logic)")
    failed = [r.clause_id for r in results if not r.ok()]
    if failed:
        more = f" and {len(failed) - 20} more" if len(failed) > 20 else ""
        print(f"FAIL: {len(failed)} id(s) need more than 2 greps for their YAML or test: "
              f"{', '.join(failed[:20])}{more}")
        return 1
    print(f"OK: every id reaches its YAML and its test in <= 2 greps ({len(results)} ids)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
