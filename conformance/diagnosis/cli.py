"""``bert-conformance diagnose --bert-impl NAME``: localise a port's first diverging component, name its bug.

Registered in ``bert_conformance.cli.COMMANDS["diagnose"] = add_diagnose_command``. Prints the finding (or
"no deviation found") and the failing probes; ``--json PATH`` writes :meth:`Diagnosis.to_dict`. Exit status:
0 when a diagnosis was made, whatever it found (diagnosis is evidence, not a verdict: the suite's clauses
decide pass or fail), 2 when the port cannot be loaded or the budget is unusable, 6 when the port hung past the
budget (ended by the watchdog).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def add_diagnose_command(commands: argparse._SubParsersAction) -> None:
    """The ``diagnose`` subcommand (a ``bert_conformance.cli`` registrar)."""
    parser = commands.add_parser("diagnose", help="localise where a port first diverges from BERT and name the bug")
    parser.add_argument("--bert-impl", default=os.environ.get("BERT_IMPL", "reference"),
                        help="the port: a built-in name, an entry point or module:attribute (default: reference)")
    parser.add_argument("--budget", type=float, default=60.0, help="time budget in seconds (default 60)")
    parser.add_argument("--no-corpus", action="store_true", help="match the catalogue only, not the known-bad corpus")
    parser.add_argument("--json", type=Path, help="also write the diagnosis as JSON to this path")
    parser.set_defaults(func=run_diagnose)


def run_diagnose(args: argparse.Namespace) -> int:
    """Load the port, diagnose it within the budget; a port that hangs past it is ended by the watchdog (exit 6:
    the budget is the diagnosis's own, but only the watchdog holds it against a port that never returns)."""
    from bert_conformance.adapter import ImplementationError, load_implementation
    from bert_conformance.diagnosis import diagnose
    from bert_conformance.report import write_atomic
    from bert_conformance.session import IMPORT_DEADLINE_FLOOR
    from bert_conformance.watchdog import Watchdog, grace

    if not 0 < args.budget <= 3600:  # nan fails the comparison too
        print(f"diagnose: --budget must be between 0 and 3600 seconds, got {args.budget:g}", file=sys.stderr)
        return 2
    watchdog = Watchdog(lambda what: None)
    try:
        with watchdog.deadline(max(args.budget, IMPORT_DEADLINE_FLOOR), f"importing implementation {args.bert_impl!r}"):
            port = load_implementation(args.bert_impl, bounded=lambda what: watchdog.deadline(args.budget, what))
    except ImplementationError as error:
        print(f"diagnose: {error}", file=sys.stderr)
        return 2
    with watchdog.deadline(args.budget + grace(args.budget), f"the diagnosis of {args.bert_impl!r}"):
        diagnosis = diagnose(port, budget_s=args.budget, corpus=not args.no_corpus)
    print(render(diagnosis.to_dict()))
    if args.json is not None:
        write_atomic(args.json, json.dumps(diagnosis.to_dict(), indent=2) + "\n")
    return 0


def render(data: dict) -> str:
    """The human-readable diagnosis: the finding, then the evidence."""
    held = f", {data['tier']} tier: probes held to its token cosine criteria" if data.get("tier") else ""
    lines = [f"diagnosis of {data['port']} ({data['dtype']}{held}, {data['seconds']} s)"]
    tokenizer = data.get("tokenizer") or {}
    if data["finding"] is None:
        lines.append("no deviation found on any model probe" if tokenizer else "no deviation found on any probe")
    else:
        lines.append(data["finding"])
        lines.append(f"failing probes: {', '.join(data['failing'])}")
        others = [m["name"] for m in data["variants"][1:]]
        if others:
            lines.append(f"also within tolerance of: {', '.join(others)}")
        if data["known"]:
            lines.append(f"known-bad ports it behaves like: {', '.join(m['name'] for m in data['known'])}")
    if tokenizer.get("finding"):
        lines.append(tokenizer["finding"])
        lines.append(f"failing tokenizer probes: {', '.join(tokenizer['failing'])}")
    elif tokenizer:
        lines.append("no deviation found on any tokenizer probe")
    if data["skipped"] or tokenizer.get("skipped"):
        lines.append(f"probes not run (not claimed or out of time): {', '.join([*data['skipped'], *tokenizer.get('skipped', [])])}")
    if not data["complete"]:
        lines.append("the time budget ran out: the diagnosis is incomplete")
    return "\n".join(lines)
