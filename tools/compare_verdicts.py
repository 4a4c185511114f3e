"""Record every clause's verdict for a set of ports, and compare two recordings (refactors change no verdict).

    python tools/compare_verdicts.py record DIR            # reference, transformers, onnx + every known-bad port
    python tools/compare_verdicts.py compare BEFORE AFTER  # exit 1 if any (port, clause) verdict differs

``record`` runs the whole clause suite (``--pyargs bert_conformance.clauses``, live oracle, ``-n 2``) against each
named port with its expectations file where the project has one, keeping ``DIR/<port>.json`` (the
``--bert-report``), and runs ``tests/test_known_bad.py`` with ``BERT_KNOWN_BAD_RESULTS=DIR/known-bad`` (each known-bad
port's statuses on the clauses it names). Run it with the Python of the tree being recorded (e.g. that tree's
``.tox/py/bin/python``), from that tree's root.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

PORTS = {
    "reference": [],
    "transformers": ["--bert-expectations", "tests/expectations/transformers.txt", "--bert-strict"],
    "onnx": ["--bert-expectations", "tests/expectations/onnx.txt", "--bert-strict"],
}


def _port_args(port: str) -> list[str]:
    """The port's expectations options, where the recorded tree has that file."""
    args = PORTS[port]
    return args if not args or Path(args[1]).is_file() else []


def record(folder: Path, ports: list[str], known_bad: bool) -> int:
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "BERT_DIAGNOSE": "0", "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    worst = 0
    for port in ports:
        command = [sys.executable, "-m", "pytest", "--pyargs", "bert_conformance.clauses", "-q", "-n", "2",
                   "-p", "no:cacheprovider", "--bert-impl", port, "--bert-report", str(folder / f"{port}.json"),
                   *_port_args(port)]
        print("+", " ".join(command), flush=True)
        worst = max(worst, subprocess.run(command, env=env).returncode)
    if known_bad:
        command = [sys.executable, "-m", "pytest", "tests/test_known_bad.py", "-q", "-n", "2", "-p", "no:cacheprovider"]
        print("+", " ".join(command), flush=True)
        code = subprocess.run(command, env={**env, "BERT_KNOWN_BAD_RESULTS": str(folder / "known-bad")}).returncode
        worst = max(worst, code)
    return worst


def verdicts(folder: Path) -> dict[str, dict[str, str]]:
    """``{port: {clause test id: status}}`` from one recording."""
    found: dict[str, dict[str, str]] = {}
    for path in sorted(folder.glob("*.json")):
        data = json.loads(path.read_text())
        found[path.stem] = {cid: entry["status"] for cid, entry in data["clauses"].items()}
    for path in sorted((folder / "known-bad").glob("*.json")):
        data = json.loads(path.read_text())
        found[f"known-bad:{data['id']}"] = dict(data["statuses"])
    return found


def compare(before: Path, after: Path) -> int:
    old, new = verdicts(before), verdicts(after)
    differences = []
    for port in sorted(set(old) | set(new)):
        if port not in old or port not in new:
            differences.append(f"{port}: recorded only {'after' if port in new else 'before'}")
            continue
        for cid in sorted(set(old[port]) | set(new[port])):
            was, now = old[port].get(cid, "absent"), new[port].get(cid, "absent")
            if was != now:
                differences.append(f"{port}: {cid}: {was} -> {now}")
    clauses = sum(len(v) for v in old.values())
    print(f"{len(old)} ports, {clauses} (port, clause) verdicts before; {sum(len(v) for v in new.values())} after")
    print("\n".join(differences) or "no verdict changed")
    return 1 if differences else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("folder", type=Path)
    rec.add_argument("--ports", nargs="*", default=list(PORTS), choices=list(PORTS))
    rec.add_argument("--no-known-bad", action="store_true")
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("before", type=Path)
    cmp_.add_argument("after", type=Path)
    args = parser.parse_args(argv)
    if args.command == "record":
        return record(args.folder, args.ports, not args.no_known_bad)
    return compare(args.before, args.after)


if __name__ == "__main__":
    sys.exit(main())
