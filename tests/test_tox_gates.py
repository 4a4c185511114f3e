"""The suite's own gates, run by `tox` as project tests.

`tox -e conformance` (the suite against the reference, live and golden oracle), `tox -e conformance-hf` (against
HF transformers with its expectations file, strict) and `tox -e golden` (regenerate the fixtures bit for bit) are
the commands users and maintainers run. Each used to be its own tox environment in the default run: four copies
of torch and transformers (about 1.3 GB each), which filled a CI machine's disk. Here every command of those
environments runs, exactly as tox.ini writes it (tox.ini stays the one place that says what they are), in the
test environment, one test per command so that pytest-xdist spreads them over the cores.
"""

from __future__ import annotations

import configparser
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOX_INI = ROOT / "tox.ini"
GATE_ENVS = ("conformance", "conformance-hf", "golden")
# the console scripts these commands call, as modules of this interpreter (a venv's bin/ need not be on PATH)
MODULES = {"pytest": "pytest", "bert-conformance": "bert_conformance.cli"}
TAIL = 6000


def gate_commands(env: str) -> list[list[str]]:
    """The commands of tox.ini's [testenv:ENV], with {toxinidir} filled in and no positional arguments."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(TOX_INI, encoding="utf-8")
    text = parser.get(f"testenv:{env}", "commands").replace("\\\n", " ")
    commands = []
    for line in filter(None, (line.strip() for line in text.splitlines())):
        line = line.replace("{toxinidir}", str(ROOT)).replace("{posargs}", "")
        if "{" in line:
            raise ValueError(f"{TOX_INI} [testenv:{env}]: a substitution this test does not know: {line}")
        commands.append(shlex.split(line))
    return commands


def as_module(command: list[str]) -> list[str]:
    if command[0] not in MODULES:
        raise ValueError(f"{TOX_INI}: a gate command calls {command[0]!r}; add its module to MODULES")
    return [sys.executable, "-m", MODULES[command[0]], *command[1:]]


GATES = [
    pytest.param(env, command, id=f"{env}-{index}")
    for env in GATE_ENVS
    for index, command in enumerate(gate_commands(env))
]


def test_every_gate_env_has_commands() -> None:
    assert {gate.values[0] for gate in GATES} == set(GATE_ENVS)


@pytest.mark.slow
@pytest.mark.parametrize(("env", "command"), GATES)
def test_gate_command_passes(env: str, command: list[str]) -> None:
    environment = {key: value for key, value in os.environ.items() if key != "BERT_DIAGNOSE"}  # as tox runs it
    result = subprocess.run(
        as_module(command), cwd=ROOT, env=environment, capture_output=True, text=True, timeout=1800, check=False
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr)[-TAIL:]
        pytest.fail(f"tox -e {env}: `{shlex.join(command)}` exited {result.returncode}:\n{output}", pytrace=False)
