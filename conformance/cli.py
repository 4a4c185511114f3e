"""The ``bert-conformance`` command.

    bert-conformance --version
    bert-conformance spec validate [PATH]

Each command group registers itself in COMMANDS (name -> function adding its subparser); a later module
adds e.g. ``golden`` with ``COMMANDS["golden"] = add_golden_commands``. A registrar sets ``func`` on its
parsers: ``func(args) -> int`` (the exit status).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from bert_conformance import __version__

Registrar = Callable[[argparse._SubParsersAction], None]


def _spec_validate(args: argparse.Namespace) -> int:
    """Validate the installed spec or PATH; one line per error, or a one-line summary."""
    # Imported here so that `--version` and `--help` work even if a spec dependency is broken.
    from bert_conformance.spec import load_spec, spec_dir, validate_path

    target = Path(args.path) if args.path else spec_dir()
    errors = validate_path(target)
    if errors:
        for error in errors:
            print(error, file=sys.stderr)
        print(f"spec INVALID: {len(errors)} error(s) in {target}", file=sys.stderr)
        return 1
    if target.is_dir():
        spec = load_spec(target)
        print(f"spec OK: {len(spec.documents)} files, {len(spec.clause_ids())} clauses ({target})")
    else:
        print(f"spec OK: 1 file ({target})")
    return 0


def add_spec_commands(commands: argparse._SubParsersAction) -> None:
    spec = commands.add_parser("spec", help="work with the machine-readable spec")
    actions = spec.add_subparsers(dest="action", metavar="ACTION", required=True)
    validate = actions.add_parser("validate", help="validate spec YAML files against their schemas")
    validate.add_argument("path", nargs="?", help="a spec file or folder (default: the installed spec)")
    validate.set_defaults(func=_spec_validate)


def add_golden_commands(commands: argparse._SubParsersAction) -> None:
    from bert_conformance.golden import add_golden_commands as add  # lazy: keeps --version light

    add(commands)


COMMANDS: dict[str, Registrar] = {"spec": add_spec_commands, "golden": add_golden_commands}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bert-conformance",
        description="Conformance suite for BERT ports (Hugging Face Transformers v5).",
    )
    parser.add_argument("--version", action="version", version=f"bert-conformance {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS.values():
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
