"""The ``bert-conformance`` command.

    bert-conformance --version
    bert-conformance spec validate [PATH]
    bert-conformance golden verify | regenerate [--check]
    bert-conformance run [PYTEST_ARGS ...]      (the CI gate: exit 0 only on a complete, passing run)
    bert-conformance diagnose --bert-impl PORT  (where a failing port first diverges; docs/diagnosis.md)

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

    if args.path is not None and not args.path.strip():
        print("spec validate: PATH is empty (leave it out to validate the installed spec)", file=sys.stderr)
        return 2
    target = Path(args.path) if args.path is not None else spec_dir()
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


def add_run_command(commands: argparse._SubParsersAction) -> None:
    from bert_conformance.gate import add_run_command as add  # lazy: keeps --version light

    add(commands)


def add_diagnose_command(commands: argparse._SubParsersAction) -> None:
    from bert_conformance.diagnosis.cli import add_diagnose_command as add  # lazy: keeps --version light

    add(commands)


COMMANDS: dict[str, Registrar] = {
    "spec": add_spec_commands, "golden": add_golden_commands, "run": add_run_command, "diagnose": add_diagnose_command,
}


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
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["run"] and argv[1:2] not in (["-h"], ["--help"]):
        # everything after `run` is pytest's: argparse would try to read its --options as ours
        from bert_conformance.gate import run

        return run(argv[1:])
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
