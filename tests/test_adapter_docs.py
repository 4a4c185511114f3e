"""The minimal example port in docs/adapters.md is real: it passes the core clauses and the float64 tier, and
the whole suite with its core-only surface: nothing undeclared is asked of it, and its numbers are still
checked by golden, numerics and property clauses."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

import bert_conformance.adapters.reference  # noqa: F401 - keep it in pytester's module snapshot
import bert_conformance.clauses
import bert_conformance.spec  # noqa: F401
from bert_conformance.adapter import load_implementation
from bert_conformance.case import make_inputs, tiny_config
from bert_conformance.known_bad.selection import all_clause_paths
from bert_conformance.oracle import get_oracle
from bert_conformance.specified import specified
from bert_conformance.tolerance import assert_close, tolerance_for

pytest_plugins = ["pytester"]

DOC = Path(__file__).resolve().parents[1] / "docs" / "adapters.md"
CORE = str(Path(bert_conformance.clauses.__file__).parent / "test_core.py")


def _example() -> str:
    match = re.search(r"<!-- example: numpy_bert.py -->\n```python\n(.*?)\n```", DOC.read_text(), re.S)
    assert match, "docs/adapters.md lost its numpy_bert.py example block"
    return match.group(1)


def test_documented_port_passes_core(pytester):
    pytester.makepyfile(numpy_bert=_example())
    pytester.syspathinsert()
    result = pytester.runpytest(CORE, "--bert-impl", "numpy_bert:implementation", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        ["claims: heads BertModel; dtypes float64,float32; devices cpu; attention eager*"]
    )


# The docs' port, declaring right padding only and asserting at every call that the suite keeps within what it
# declared (it raises on other inputs and options itself): an undeclared surface is never asked.
SPY = """
import numpy as np
from numpy_bert import NumpyBert, NumpyBertModel


class Spy(NumpyBert):
    def capabilities(self):
        return {**super().capabilities(), "padding": ["right"], "embeddings": ["tied"]}

    def load_model(self, head, config, state_dict, **kwargs):
        assert config.get("hidden_act", "gelu") == "gelu", "asked for an undeclared activation"
        assert not any(k.endswith((".gamma", ".beta", "position_ids")) for k in state_dict), "legacy keys"
        model = super().load_model(head, config, state_dict, **kwargs)
        model.__class__ = SpyModel
        return model


class SpyModel(NumpyBertModel):
    def forward(self, inputs, **options):
        mask = inputs.get("attention_mask")
        if mask is not None:
            assert mask.ndim == 2 and mask.dtype == np.int64 and np.isin(mask, (0, 1)).all(), "mask form"
            assert (np.diff(mask, axis=-1) <= 0).all(), "asked for a padding layout other than right"
        return super().forward(inputs, **options)


implementation = Spy()
"""


def test_documented_port_passes_the_whole_suite_within_its_surface(pytester):
    pytester.makepyfile(numpy_bert=_example(), spy=SPY)
    pytester.syspathinsert()
    report = pytester.path / "report.json"
    result = pytester.runpytest(*map(str, all_clause_paths()), "--bert-impl", "spy:implementation",
                                "--bert-report", str(report), "-p", "no:cacheprovider", "-p", "no:xdist")
    clauses = json.loads(report.read_text())["clauses"]
    failed = sorted(k for k, v in clauses.items() if v["status"] not in ("pass", "not-claimed"))
    assert result.ret == 0 and not failed, failed
    passed = {k for k, v in clauses.items() if v["status"] == "pass"}
    # the core numbers are checked by every family, not only by core.*
    assert {"numerics.float64.BertModel", "numerics.float32.BertModel"} <= passed
    assert len([k for k in passed if k.startswith("golden.model.")]) >= 16  # 8 cases x float64/float32
    assert len([k for k in passed if k.startswith("properties.")]) >= 6
    assert "golden.model.small.hidden_states-float64" not in passed  # undeclared: not claimed, not passed


def test_documented_port_matches_the_oracle_in_float64(tmp_path, monkeypatch):
    (tmp_path / "numpy_bert.py").write_text(_example())
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "numpy_bert", raising=False)
    port, oracle, config = load_implementation("numpy_bert:implementation"), get_oracle(), tiny_config()
    state_dict = oracle.random_state_dict("BertModel", config, seed=5)
    model = port.load_model("BertModel", config, state_dict, dtype="float64")
    inputs = make_inputs(config, batch=3, seq=9, seed=5)
    actual, expected = model.forward(inputs), oracle.forward("BertModel", config, state_dict, inputs)
    tol = tolerance_for("float64", "outputs")
    assert_close(
        actual["last_hidden_state"],
        expected["last_hidden_state"],
        tol,
        what="last_hidden_state",
        specified=specified("BertModel", "last_hidden_state", expected["last_hidden_state"].shape, inputs),
    )
    assert_close(actual["pooler_output"], expected["pooler_output"], tol, what="pooler_output")


@pytest.mark.parametrize("document", ["adapters.md", "ci-gating.md"])
def test_docs_name_only_real_options(document):
    """Every --bert-* option the docs mention exists (and the plugin's options are all documented)."""
    text = (DOC.parent / document).read_text()
    options = set(re.findall(r"--bert-[a-z]+", text))
    known = {
        "--bert-impl",
        "--bert-report",
        "--bert-expectations",
        "--bert-strict",
        "--bert-profile",
        "--bert-timeout",
        "--bert-oracle",
        "--bert-device",
    }
    assert options <= known
    if document == "adapters.md":
        assert options == known


GATING = DOC.parent / "ci-gating.md"


def _install_commands() -> list[str]:
    match = re.search(r"<!-- install -->\n```bash\n(.*?)\n```", GATING.read_text(), re.S)
    assert match, "docs/ci-gating.md lost its install block"
    return [line for line in match.group(1).splitlines() if line and not line.startswith("#")]


def test_documented_install_commands_work(tmp_path):
    """b) and c) of docs/ci-gating.md as written, against a clone of this repository: each gives an installable
    distribution holding the clauses, the spec and the golden fixtures (installed --no-deps into a folder:
    the test environment already has the dependencies)."""
    import shlex
    import subprocess

    root = Path(__file__).resolve().parents[1]
    if not (root / ".git").exists():
        pytest.skip("not a git checkout: the documented clone/git commands need one")
    commands = _install_commands()
    assert commands[0] == "git clone REPO bert-conformance" and commands[-1] == "pip install -e ."
    subprocess.run(["git", "clone", "-q", str(root), "bert-conformance"], cwd=tmp_path, check=True)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=tmp_path / "bert-conformance", check=True,
                          capture_output=True, text=True).stdout.strip()

    def pip(command: str, target: str) -> None:
        url = f"file://{tmp_path / 'bert-conformance'}"
        args = [a for a in shlex.split(command.replace("REPO", url).replace("TAG", head)) if a != "pytest-xdist"]
        args = [sys.executable, "-m", *args]
        if args[3] == "install":
            args += ["--no-deps", "--target", str(tmp_path / target)]
        subprocess.run(args, cwd=tmp_path, check=True, capture_output=True)
        if args[3] == "install":
            installed = tmp_path / target / "bert_conformance"
            assert (installed / "clauses" / "test_core.py").is_file()
            assert (installed / "specdata" / "surface.yaml").is_file()
            assert (installed / "goldendata" / "MANIFEST.json").is_file()

    wheel, install_wheel, from_git = commands[2], commands[3], commands[4]
    assert wheel.startswith("pip wheel") and install_wheel.startswith("pip install dist/")
    pip(wheel, "")
    built = sorted((tmp_path / "dist").glob("bert_conformance-*.whl"))
    assert [p.name for p in built] == [install_wheel.split()[2].removeprefix("dist/")], "the documented wheel name"
    pip(install_wheel, "from-wheel")
    assert from_git.startswith('pip install "git+REPO@TAG"')
    pip(from_git, "from-git")


def _named_but_absent(block: str, root: Path) -> tuple[set[str], list[str]]:
    """(file and folder names a module-map block names, those not in the repository)."""
    names = set(re.findall(r"(?<![\w./`'(])([A-Za-z_]\w*(?:\.py|/))(?=[\s,]|$)", block))
    on_disk = {p.name for p in root.rglob("*") if ".tox" not in p.parts and "build" not in p.parts}
    return names, sorted(n for n in names if n.rstrip("/") not in on_disk)


def test_architecture_module_map_names_files_that_exist():
    """docs/architecture.md's module map: every file and folder it names exists in the repository."""
    root = Path(__file__).resolve().parents[1]
    text = (root / "docs" / "architecture.md").read_text(encoding="utf-8")
    names, missing = _named_but_absent(text.split("## Key module map", 1)[1].split("```")[1], root)
    assert not missing, f"docs/architecture.md names {missing}, which are not in the repository"
    assert len(names) > 60
    # the check can fail: a stale path (like the old golden_io.py) is reported
    assert _named_but_absent("  spec/\n    golden_io.py   the old module\n", root)[1] == ["golden_io.py"]
