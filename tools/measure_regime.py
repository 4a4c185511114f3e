"""How often a correct port leaves a tolerance below float64, on the full config range vs MEASURED_REGIME.

    python tools/measure_regime.py gradients --examples 100
    python tools/measure_regime.py decoder --impl transformers --range full --examples 100

Runs one clause module's hypothesis clauses (``gradients``, ``decoder`` or ``numerics``) many times against a
correct port with float64 taken out of its claims (``--impl``, default the reference), so that the clauses
check float32, drawing configs either on the full range (``--range full``) or as the clauses draw them
(``--range clauses``: ``hypothesis_helpers.MEASURED_REGIME`` where the module asks for it). Unlike a pytest run it does not stop at the first failure: it
prints, per clause, how many drawn examples failed and the largest share of its tolerance any comparison
used (1.0 = exactly at the tolerance). The spec's tolerances and the clause regimes are judged by these
figures (docs/spec.md, "Measured regime").
"""

from __future__ import annotations

import argparse
import importlib
import json
import warnings
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import UnsatisfiedAssumption

from bert_conformance.adapter import Port, load_implementation
from bert_conformance.clauses import hypothesis_helpers
from bert_conformance.oracle import get_oracle
from bert_conformance.tolerance import recording

TESTS = {"gradients": "test_gradients", "decoder": None, "numerics": "test_differential"}


class WithoutFloat64:
    """``impl`` with float64 taken out of its claimed dtypes: the clauses then check float32."""

    def __init__(self, impl: Any) -> None:
        self._impl = impl

    def __getattr__(self, name: str) -> Any:
        return getattr(self._impl, name)

    def capabilities(self) -> dict[str, Any]:
        caps = self._impl.capabilities()
        return {**caps, "dtypes": [d for d in caps["dtypes"] if d != "float64"],
                "features": [f for f in caps["features"] if f != "float64"]}


def _clause_tests(module: Any, kind: str) -> list[tuple[str, Any]]:
    """(name, hypothesis test) of the module: every @given test function."""
    tests = [(name, obj) for name, obj in vars(module).items() if name.startswith("test_") and hasattr(obj, "hypothesis")]
    wanted = TESTS[kind]
    return [t for t in tests if wanted is None or t[0] == wanted]


def _params(test: Any, capabilities: Any) -> list[dict[str, Any]]:
    """The pytest parametrization of ``test`` (argument name -> value), for the clauses the port claims."""
    (mark,) = [m for m in getattr(test, "pytestmark", []) if m.name == "parametrize"]
    names = mark.args[0].split(",") if isinstance(mark.args[0], str) else list(mark.args[0])
    rows = []
    for param in mark.args[1]:
        needs = [m.kwargs for m in param.marks if m.name == "bert_requires"]
        wanted = [(key, one) for kw in needs for key, value in kw.items()
                  for one in ([value] if isinstance(value, str) or value is None else value)]
        if any(capabilities.unclaimed(**{key: one}) for key, one in wanted):
            continue
        rows.append(dict(zip([n.strip() for n in names], param.values)))
    return rows


def measure(
    kind: str, impl: str, full: bool, examples: int, seed: int, only: str = ""
) -> dict[str, dict[str, Any]]:
    module = importlib.import_module(f"bert_conformance.clauses.test_{kind}")
    if full:  # every dtype on the full range
        original = hypothesis_helpers.configs_for
        module.configs_for = lambda head, dtype, **kw: original(head, dtype, full_range=(dtype,), **kw)
    found = load_implementation(impl)
    port, oracle = Port(found.name, found.target, WithoutFloat64(found.impl)), get_oracle("reference")
    assert "float64" not in port.capabilities.dtypes, port.capabilities
    results: dict[str, dict[str, Any]] = {}
    for name, test in _clause_tests(module, kind):
        inner = test.hypothesis.inner_test
        for row in _params(test, port.capabilities):
            clause = row["clause"]
            clause_id = clause["id"] if isinstance(clause, dict) else clause
            if only and only not in clause_id:
                continue
            tally = {"examples": 0, "failed": 0, "worst_share": 0.0, "first_failure": None}
            run = _runner(inner, row, tally, port, oracle, examples)
            run._hypothesis_internal_use_seed = seed  # reproducible measurement
            run()
            variant = "-".join(str(value) for key, value in row.items() if key != "clause")
            test_id = f"{name}[{clause_id}{'-' + variant if variant else ''}]"
            results[test_id] = tally
            print(json.dumps({"test": test_id, **tally}), flush=True)
    return results


def _runner(inner: Any, row: dict, tally: dict, port: Any, oracle: Any, examples: int) -> Any:
    """A hypothesis test running ``inner`` on ``row`` that tallies failures instead of raising them."""

    @settings(max_examples=examples, database=None, deadline=None, derandomize=False,
              phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data: Any) -> None:
        kwargs = {**row, "data": data, "bert_impl": port, "oracle": oracle, "capabilities": port.capabilities}
        kwargs = {k: v for k, v in kwargs.items() if k in inner.__code__.co_varnames}
        with recording() as compared:
            try:
                inner(**kwargs)
            except UnsatisfiedAssumption:
                raise
            except AssertionError as error:
                tally["failed"] += 1
                tally["first_failure"] = tally["first_failure"] or " | ".join(str(error).splitlines()[:4])
        tally["examples"] += 1
        worst = max((c.worst for c in compared), default=0.0)
        tally["worst_share"] = max(tally["worst_share"], worst)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=sorted(TESTS))
    parser.add_argument("--impl", default="reference")
    parser.add_argument("--range", choices=("full", "clauses"), default="clauses")
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--clause", default="", help="only clause ids containing this")
    args = parser.parse_args()
    warnings.simplefilter("ignore", UserWarning)  # e.g. "BertLMHeadModel as a standalone": expected here
    results = measure(args.kind, args.impl, args.range == "full", args.examples, args.seed, args.clause)
    examples = sum(r["examples"] for r in results.values())
    failed = sum(r["failed"] for r in results.values())
    worst = max((r["worst_share"] for r in results.values()), default=0.0)
    print(f"{args.kind} {args.range}: {failed} of {examples} examples failed, worst share of tolerance {worst:.3g}")


if __name__ == "__main__":
    main()
