"""The ``bert-conformance golden regenerate|verify`` commands (also ``python -m bert_conformance.golden``).

One command regenerates every fixture: the model cases (:mod:`.generate`) and the tokenizer goldens
(:mod:`.tokenizer`, in the fixture folder's ``tokenizer/``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .files import GoldenError, read_manifest
from .load import default_dir, verify

SETS = ("model", "tokenizer")


def add_golden_commands(commands: Any) -> None:
    """``golden regenerate|verify`` under the main CLI's subparsers (``cli.COMMANDS["golden"]``)."""
    golden = commands.add_parser("golden", help="regenerate or verify the golden fixtures")
    commands = golden.add_subparsers(dest="golden_command", required=True)
    regen = commands.add_parser("regenerate", help="rebuild every fixture: the model cases in a staging folder, "
                                                   "swapped in atomically, then the tokenizer goldens")
    regen.add_argument("--dir", type=Path, default=None, help="fixture folder (default: the installed fixtures)")
    regen.add_argument("--check", action="store_true", help="compare only; exit 1 if anything would change")
    regen.add_argument("--case", action="append", dest="cases", metavar="CASE_ID", default=None,
                       help="regenerate only this model case (repeatable); the other entries are kept as they are")
    regen.add_argument("--only", choices=SETS, default=None,
                       help="only the model cases or only the tokenizer goldens (default: both; --case: model)")
    check = commands.add_parser("verify", help="check files against MANIFEST.json (never deletes); the installed "
                                               "fixtures also against the spec's golden.* clauses")
    check.add_argument("--dir", type=Path, default=None, help="fixture folder (default: the installed fixtures)")
    golden.set_defaults(func=run_golden)


def run_golden(args: argparse.Namespace) -> int:
    """Exit 0 when clean, 1 on any golden problem (one line each, never a traceback), 128 + N on signal N."""
    root = args.dir if args.dir is not None else default_dir()
    command = f"golden {args.golden_command}"
    try:
        return _verify_command(root) if args.golden_command == "verify" else _regenerate_command(root, args)
    except (GoldenError, OSError) as e:  # OSError: e.g. no room or no permission for the staging folder
        print(f"{command}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt as e:  # SIGINT, or SIGTERM turned into generate.Interrupted
        signum = getattr(e, "signum", 2)
        print(f"{command}: interrupted by signal {signum}; {root} holds the complete old or new set",
              file=sys.stderr)
        return 128 + signum


def _verify_command(root: Path) -> int:
    problems = verify(root)
    installed = Path(root).resolve() == default_dir().resolve()
    if not problems and installed:
        problems = _clause_problems(root)
    for line in problems:
        print(f"golden verify: {line}", file=sys.stderr)
    if not problems:
        clauses = ", the spec's golden.* clauses agree" if installed else ""
        print(f"golden verify: {root}: {len(read_manifest(root)['files'])} files OK{clauses}")
    return 1 if problems else 0


def _clause_problems(root: Path) -> list[str]:
    """The installed fixtures against the installed spec's golden.* clauses (spec/golden.yaml)."""
    from ..errors import SpecError
    from ..spec import load_spec
    from .clauses import spec_problems
    from .load import iter_cases

    try:
        spec = load_spec()
    except SpecError as e:
        return [f"the spec does not load, so its golden.* clauses cannot be checked: {e}"]
    return spec_problems(spec.raw("golden")["clauses"], iter_cases(root), file=str(spec.files["golden"]))


def _regenerate_command(root: Path, args: argparse.Namespace) -> int:
    only = args.only or ("model" if args.cases else None)
    if args.cases and only == "tokenizer":
        raise GoldenError("--case names model cases; it cannot be combined with --only tokenizer")
    code = 0
    if only in (None, "model"):
        code = _regenerate_model_cases(root, args)
    if only in (None, "tokenizer") and code == 0:
        from .tokenizer import regenerate_tokenizer

        code = regenerate_tokenizer(Path(root) / "tokenizer", check=args.check)
    return code


def _regenerate_model_cases(root: Path, args: argparse.Namespace) -> int:
    from .generate import regenerate

    result = regenerate(root, check=args.check, case_ids=args.cases)
    kinds = ("added", "changed", "equivalent", "unchanged", "removed", "skipped", "refused")
    print("golden regenerate: " + ", ".join(f"{len(getattr(result, k))} {k}" for k in kinds))
    if result.refused:
        print(f"golden regenerate: refused {result.refused}: the reference and transformers disagree (see above)",
              file=sys.stderr)
        return 1
    if args.check and not result.clean():
        print("golden regenerate --check: the fixtures are stale; run `bert-conformance golden regenerate`",
              file=sys.stderr)
        return 1
    return 0


def golden_main(argv: Sequence[str] | None = None) -> int:
    """``python -m bert_conformance.golden regenerate|verify`` (the same as ``bert-conformance golden ...``)."""
    parser = argparse.ArgumentParser(prog="bert-conformance")
    add_golden_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["golden", *(sys.argv[1:] if argv is None else argv)])
    return args.func(args)
