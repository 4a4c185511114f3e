"""The suite can fail: every known-bad port in ``bert_conformance.known_bad`` is killed by the clauses it names.

- The reference passes every clause of every clause module (one test per module: together one run of the
  whole suite; the optional activations it refuses are "not claimed"); every test id a port names exists
  (pytest --collect-only).
- Each port is first verified (its anchors exist and its bug changes the outputs of its probe: an ERROR at
  setup otherwise), then run with ``--bert-impl bert_conformance.known_bad:<id>`` on only the test ids it names
  (``-k``), and the ``--bert-report`` JSON must say ``fail`` for every one of its ``kills`` and ``pass`` for
  every one of its ``hides_in`` (where the bug hides: float32 noise, or a known gap in the suite).
- Each port's report, with the diagnosis a port author's failing run adds (tests/conftest.py switches the
  automatic one off; here it runs once per port), reads as one finding at the port's labelled component
  (diagnosis/known.py; the documented misses, known.MISSES, are strict).
- docs/traceability.md is what tools/traceability.py generates from the corpus.

One test per port, so ``pytest -n 2 tests/test_known_bad.py`` spreads them. Runs are in-process (pytester) with
the ``ci`` hypothesis profile, which does not shrink: a failing clause stops at its first falsifying example.
Set ``BERT_KNOWN_BAD_RESULTS=DIR`` to keep each port's observed statuses and findings as ``DIR/<id>.json``
(``python tools/traceability.py --results DIR`` and ``python -m bert_conformance.diagnosis.measure --findings
DIR`` then report them).
"""

from __future__ import annotations

import importlib.util
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

import bert_conformance.adapters.reference  # noqa: F401 - imported here so that pytester's module snapshot
import bert_conformance.clauses.hypothesis_helpers  # noqa: F401 - keeps these between the in-process runs (no re-import)
import bert_conformance.clauses.model_helpers  # noqa: F401
import bert_conformance.clauses.pytest_helpers  # noqa: F401
import bert_conformance.clauses.tokenizer_helpers  # noqa: F401
import bert_conformance.golden  # noqa: F401
import bert_conformance.spec  # noqa: F401
from bert_conformance import findings as findings_
from bert_conformance import profiles
from bert_conformance.diagnosis import diagnose
from bert_conformance.diagnosis.known import MISSES, expected_component
from bert_conformance.known_bad import CORPUS, KnownBadError, verify
from bert_conformance.known_bad._base import KnownBad, set_attribute
from bert_conformance.known_bad.attention import attention_layers
from bert_conformance.known_bad.probe import Probe
from bert_conformance.known_bad.selection import all_clause_paths, clause_paths
from bert_conformance.spec import load_spec

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent


def _load_tool(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TRACEABILITY = _load_tool("traceability")


@pytest.fixture(scope="session")
def collected_test_ids() -> list[str]:
    """Every clause test id, from ``pytest --collect-only`` (no model runs)."""
    return TRACEABILITY.collect_test_ids()


def run_suite(pytester: Any, impl: str, paths: list[Path], *args: str) -> tuple[Any, dict]:
    """Run clause modules against ``impl`` in-process; returns (result, the --bert-report JSON)."""
    assert "shrink" not in profiles.PROFILES["ci"].get("phases", ("shrink",)), "the ci profile shrinks failing examples: each killed port would take minutes"
    report = pytester.path / "report.json"
    result = pytester.runpytest(
        *map(str, paths), "--bert-impl", impl, "--bert-profile", "ci", "--bert-report", str(report),
        "-p", "no:cacheprovider", "-p", "no:xdist", *args,
    )
    assert report.is_file(), f"{impl}: no report written (exit {result.ret}):\n" + result.stdout.str()[-3000:]
    return result, json.loads(report.read_text())


@pytest.mark.parametrize("path", all_clause_paths(), ids=lambda path: path.stem)
def test_reference_passes_every_clause(path, pytester):
    """One module per test (xdist spreads them); together, one run of the whole suite."""
    result, data = run_suite(pytester, "reference", [path])
    optional = {a.id for a in load_spec().config.activations if not a.required}  # the reference refuses them
    bad = {test_id: r["status"] for test_id, r in data["clauses"].items()
           if r["status"] not in ("pass", "skipped-env") and not (r["status"] == "not-claimed" and test_id in optional)}
    assert not bad, f"the reference does not pass {len(bad)} clause(s) of {path.name}: {bad}"
    assert data["clauses"] and result.ret == 0, result.stdout.str()[-3000:]


def test_every_named_test_id_exists(collected_test_ids):
    """A typo in kills or hides_in would select nothing; the kill check would then report 'not run'."""
    named = {test_id: port.id for port in CORPUS.values() for test_id in (*port.kills, *port.hides_in)}
    unknown = {test_id: port for test_id, port in named.items() if test_id not in collected_test_ids}
    assert not unknown, f"known-bad ports name test ids the clause modules do not have: {unknown}"


class _Renamed(KnownBad):
    id, description, probe = "test.renamed", "patches an attribute the reference does not have", Probe()

    def mutate(self, module: Any, config: dict) -> None:
        set_attribute(module.embeddings, "layer_norm", None)


class _Equivalent(KnownBad):
    id, description, probe = "test.equivalent", "sets the attention scaling to what it already is", Probe()

    def mutate(self, module: Any, config: dict) -> None:
        for layer in attention_layers(module):
            set_attribute(layer, "scaling", layer.attention_head_size**-0.5)


class _Crashes(KnownBad):
    id, description, probe = "test.crashes", "breaks the feed-forward by accident", Probe()

    def mutate(self, module: Any, config: dict) -> None:
        set_attribute(module.encoder.layer[0], "feed_forward", None)


@pytest.mark.parametrize(("port", "message"), [
    (_Renamed, r"anchor BertEmbeddings.layer_norm not found"),
    (_Equivalent, r"equivalent to the reference on its probe"),
    (_Crashes, r"raised TypeError on its probe"),
])
def test_a_known_bad_port_that_no_longer_applies_is_an_error(port, message):
    with pytest.raises(KnownBadError, match=message):
        verify(port)


@pytest.fixture
def verified(request) -> type:
    """The port, verified before it runs: a stale anchor or an equivalent patch is an ERROR at setup."""
    port = CORPUS[request.param]
    verify(port)
    return port


@pytest.mark.parametrize("verified", list(CORPUS), indirect=True)
def test_known_bad_port_is_killed(verified, pytester):
    port, started = verified, time.perf_counter()
    named = (*port.kills, *port.hides_in)
    result, data = run_suite(
        pytester, f"bert_conformance.known_bad:{port.id}", clause_paths(named), "-k", " or ".join(named),
        *port.run_args,
    )
    found = {test_id: data["clauses"].get(test_id, {}).get("status", "not run") for test_id in named}
    diagnosis = diagnose(f"bert_conformance.known_bad:{port.id}", corpus=False).to_dict()
    findings = [f.to_dict() for f in findings_.group(data["clauses"], diagnosis=diagnosis)]
    _keep(port.id, found, time.perf_counter() - started, findings)
    survived = {t: found[t] for t in port.kills if found[t] != "fail"}
    assert not survived, f"{port.id} ({port.description}) survives {survived}; killed by: " + (
        ", ".join(t for t in port.kills if found[t] == "fail") or "nothing")
    noticed = {t: found[t] for t in port.hides_in if found[t] != "pass"}
    assert not noticed, (
        f"{port.id} is expected to pass {list(port.hides_in)} but got {noticed}: "
        + ("the gap is closed, move these to kills and drop `gap`" if port.gap else "update hides_in")
    )
    _check_localised(port.id, findings)


def _check_localised(port_id: str, findings: list[dict]) -> None:
    """Issue 13: one finding per bug, at the port's labelled component; the documented misses are strict."""
    expected = expected_component(port_id)
    got = [(f["component"], f["count"]) for f in findings]
    right = len(got) == 1 and got[0][0] == expected
    if port_id in MISSES:
        assert not right, f"{port_id} is now one finding at {expected}: drop it from known.MISSES"
    else:
        assert right, f"{port_id}: expected one finding at {expected}, got {got} (findings, component: count)"


def _keep(port_id: str, found: dict[str, str], seconds: float, findings: list[dict]) -> None:
    """BERT_KNOWN_BAD_RESULTS=DIR: the statuses and the report's findings (component, clauses) per port."""
    folder = os.environ.get("BERT_KNOWN_BAD_RESULTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        kept = [{key: f[key] for key in ("component", "count", "tests", "cause", "details")} for f in findings]
        text = json.dumps({"id": port_id, "statuses": found, "seconds": round(seconds, 2), "findings": kept},
                          indent=1)
        tmp = Path(folder) / f".{port_id}.json.tmp"
        tmp.write_text(text + "\n")
        tmp.replace(Path(folder) / f"{port_id}.json")


def test_traceability_table_is_up_to_date(collected_test_ids):
    expected = TRACEABILITY.render(CORPUS, collected_test_ids, TRACEABILITY.spec_clause_ids())
    path = ROOT / "docs" / "traceability.md"
    assert path.is_file() and path.read_text(encoding="utf-8") == expected, (
        f"{path} is stale (the corpus, the clause modules or the spec changed): run python tools/traceability.py"
    )
