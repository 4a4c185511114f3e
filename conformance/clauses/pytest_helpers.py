"""Parametrization, coverage and assertions for clause modules.

- :func:`params` / :func:`head_params`: the tests of spec clauses, ``id=<clause id>`` (or ``<clause id>-<variant>``,
  ``<clause id>-<Head>``), each with its clause marker and the capabilities it needs;
- :func:`parametrized_clauses`, :data:`NOT_TESTED`, :func:`coverage_gaps`: which spec clauses the clause modules test, and why
  the others are not;
- :func:`forward_raises` / :func:`load_raises`: calls that must fail;
- :func:`compare_all` / :func:`assert_output_close` (the port vs the oracle), :func:`assert_same` (the port vs
  itself), :func:`assert_bitwise`: comparisons where the spec specifies the output
  (:func:`bert_conformance.specified.specified`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from bert_conformance.adapter import private
from bert_conformance.clauses.dtype_helpers import judged_loss_dtype
from bert_conformance.clauses.model_helpers import expected_length, expected_shape, label_args
from bert_conformance.plugin import clause_params
from bert_conformance.spec import load_spec
from bert_conformance.specified import per_position, specified
from bert_conformance.tolerance import Tolerance, assert_close, tolerance_for

SPEC = load_spec()


# --- spec clauses and their tests -------------------------------------------------------------------------------


def spec_clauses(document: str, section: str) -> list[dict[str, Any]]:
    """The clauses of one section of a spec file, as plain dicts, sorted by id (stable parametrization)."""
    return sorted(SPEC.raw(document)[section], key=lambda c: c["id"])


def by_id(clauses: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["id"]: dict(c) for c in clauses}


def document_clause_ids(document: str) -> set[str]:
    """Every clause id of one spec file."""
    return {cid for name, cid, _ in SPEC.clauses() if name == document}


@dataclass(frozen=True)
class Variant:
    """One of several tests of a clause: ``id=<clause id>-<name>``, ``values`` passed after the clause, and the
    capabilities it needs (None: those of the clause)."""

    name: str
    values: tuple[Any, ...] = ()
    requires: Mapping[str, Any] | None = None


def params(
    clauses: Iterable[Mapping[str, Any]],
    *,
    requires: Mapping[str, Any] | Callable[[Any], Mapping[str, Any] | None] | None = None,
    variants: Callable[[Mapping[str, Any]], Iterable[Variant]] | None = None,
) -> list[Any]:
    """The tests of ``clauses``, sorted by id: ``pytest.param(clause, id=<clause id>)`` with the clause marker and
    ``requires`` (:func:`bert_conformance.plugin.clause_params`), or, with ``variants`` (a function of the clause),
    one ``pytest.param(clause, *variant.values, id=<clause id>-<variant.name>)`` per variant."""
    found = []
    for clause in sorted(clauses, key=lambda c: c["id"]):
        if variants is None:
            found += clause_params([clause], requires=requires)
            continue
        for variant in variants(clause):
            (base,) = clause_params([clause], requires=requires if variant.requires is None else variant.requires)
            found.append(pytest.param(clause, *variant.values, id=f"{base.id}-{variant.name}", marks=base.marks))
    return found


def head_params(
    clauses: Iterable[Mapping[str, Any]],
    *,
    features: Callable[[str], Iterable[str]] = lambda head: (),
    heads: Callable[[Mapping[str, Any]], Iterable[str]] = lambda clause: clause.get("heads") or (),
) -> list[Any]:
    """``pytest.param(clause, head, id=<clause id>-<head>)`` per head of each clause (its ``heads``), needing the
    head, the clause's ``features`` and ``attention``, and ``features(head)``."""

    def per_head(clause: Mapping[str, Any]) -> list[Variant]:
        found = []
        for head in sorted(heads(clause)):
            needs: dict[str, Any] = {"head": head}
            wanted = {*clause.get("features", ()), *features(head)}
            if wanted:
                needs["feature"] = sorted(wanted)
            if clause.get("attention"):
                needs["attention"] = list(clause["attention"])
            found.append(Variant(head, (head,), needs))
        return found

    return params(clauses, variants=per_head)


# --- coverage -----------------------------------------------------------------------------------------------------

NOT_TESTED: dict[str, str] = {}
"""Spec clause id -> why no clause test checks it (each clause module adds its own with :func:`not_tested`)."""


def not_tested(reasons: Mapping[str, str]) -> None:
    """Record why the spec clauses of ``reasons`` have no clause test."""
    NOT_TESTED.update(reasons)


def parametrized_clauses(*modules: ModuleType) -> set[str]:
    """The clause ids the tests of clause modules are parametrized with (their ``bert_clause`` markers)."""
    found: set[str] = set()
    for module in modules:
        tests = [test for name, test in vars(module).items() if name.startswith("test_")]
        for mark in (mark for test in tests for mark in getattr(test, "pytestmark", [])):
            for param in mark.args[1] if mark.name == "parametrize" else ():
                found.update(m.args[0] for m in getattr(param, "marks", ()) if m.name == "bert_clause")
    return found


def refined_elsewhere(document: str) -> dict[str, list[str]]:
    """Clause id of spec file ``document`` -> the clauses of other spec files that refine it (check it)."""
    ids, found = document_clause_ids(document), {}
    for name, cid, clause in SPEC.clauses():
        if name == document:
            continue
        for target in clause.get("refines", ()):
            if target in ids:
                found.setdefault(target, []).append(cid)
    return found


def coverage_gaps(document: str, *modules: ModuleType, covered: Mapping[str, str] | None = None) -> list[str]:
    """What keeps spec file ``document`` from being covered by the clause ``modules``: a clause that none of their
    tests is parametrized with, no clause of another spec file refines, and neither ``covered`` (clause id -> the
    tests that check it, e.g. a property clause whose test must exist) nor NOT_TESTED lists; a listed clause that
    is tested or covered too, or listed without a reason; a tested or listed id that is not a clause of the file."""
    ids, done, covered = document_clause_ids(document), parametrized_clauses(*modules), dict(covered or {})
    listed = {cid for cid in NOT_TESTED if cid.startswith(f"{document}.") or cid in ids}
    gaps = [f"{cid}: no test" for cid in sorted(ids - done - set(covered) - listed - set(refined_elsewhere(document)))]
    gaps += [f"{cid}: covered by {how}, which has no test" for cid, how in covered.items() if how in ids - done]
    gaps += [f"{cid}: tested or covered, yet in NOT_TESTED" for cid in sorted((done | set(covered)) & listed)]
    gaps += [f"{cid}: NOT_TESTED gives no reason" for cid in sorted(listed) if not NOT_TESTED[cid].strip()]
    return gaps + [f"{cid}: not a clause of spec/{document}.yaml" for cid in sorted((done | listed) - ids)]


# --- calls that must fail -----------------------------------------------------------------------------------------


def forward_raises(case: Any, inputs: Mapping[str, Any], *, why: str | None = None, **options: Any) -> str:
    """Call the port's raw forward (no boundary checks); fail (saying ``why`` must raise, when given) unless it
    raises. Returns the error text.

    Any exception type is conforming (heads.unspecified.error_types). Inputs the port does not declare (an
    undeclared argument or mask form) make the clause not claimed instead.
    """
    __tracebackhide__ = True
    case.model.guard(inputs, options)
    try:
        case.model.raw.forward(private(inputs), **options)
    except Exception as error:  # noqa: BLE001 - any error type is conforming
        return f"{type(error).__name__}: {error}"
    if why is not None:
        raise AssertionError(f"{case.head}: {why} must raise an error, the port returned outputs")
    raise AssertionError(f"{case.head}.forward accepted invalid input {sorted(inputs)} {options}; expected an error")


def load_raises(port: Any, head: str, config: Mapping[str, Any], state_dict: Mapping[str, Any], dtype: str) -> str:
    """Fail unless ``load_model`` raises (or returns a model whose first forward raises: "rejects at load")."""
    __tracebackhide__ = True
    try:
        port.impl.load_model(head, copy.deepcopy(dict(config)), private(state_dict), dtype=dtype, device=port.device,
                             attention=(port.capabilities.attention or ("eager",))[0])
    except Exception as error:  # noqa: BLE001 - any error type is conforming
        return f"{type(error).__name__}: {error}"
    raise AssertionError(f"{port.name}: load_model({head!r}) accepted what the spec says it must reject")


# --- outputs ------------------------------------------------------------------------------------------------------


def output(outputs: Mapping[str, Any], name: str, what: str = "forward") -> np.ndarray:
    """One named array output, with a clear message when the port did not return it."""
    __tracebackhide__ = True
    value = outputs.get(name)
    if value is None:
        raise AssertionError(f"{what}: the port returned no {name!r} (keys: {sorted(outputs)})")
    return value


def present(outputs: Mapping[str, Any], name: str) -> bool:
    """An output is present when the dict has it and it is not None (None fields are dropped in HF)."""
    return outputs.get(name) is not None


def present_names(outputs: Mapping[str, Any]) -> list[str]:
    return [name for name, value in outputs.items() if value is not None]


def clause_outputs(clause: Mapping[str, Any], head: str) -> tuple[str, ...]:
    """The clause's outputs that the head has (heads.yaml)."""
    names = SPEC.heads.head(head).output_names
    found = tuple(n for n in clause.get("outputs", ()) if n in names)
    if not found:
        raise ValueError(f"{clause['id']}: none of {clause.get('outputs')} is an output of {head}")
    return found


# --- the port vs the oracle ---------------------------------------------------------------------------------------


def assert_output_close(
    head: str,
    name: str,
    actual: Any,
    expected: Any,
    *,
    inputs: Mapping[str, Any],
    dtype: str,
    env: Mapping[str, Any] | None = None,
) -> None:
    """Compare one output (array or list of arrays) at its specified entries, spec tolerance for ``dtype``; with
    ``env`` (:func:`~bert_conformance.clauses.model_helpers.shape_env`) check the spec's shape first."""
    __tracebackhide__ = True
    if name == "loss":
        dtype = judged_loss_dtype(head, dtype, actual)
    tol = tolerance_for(dtype, "loss" if name == "loss" else "outputs")
    if env is not None:
        _check_shapes(head, name, actual, env)
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            got = len(actual) if isinstance(actual, (list, tuple)) else type(actual).__name__
            raise AssertionError(f"{head}.{name}: expected a list of {len(expected)} arrays, got {got}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            if e is None:
                assert a is None, f"{head}.{name}[{i}]: expected None (not selected), got {type(a).__name__}"
                continue
            _close(head, name, a, e, inputs, tol, f"{head}.{name}[{i}]", dtype)
        return
    _close(head, name, actual, expected, inputs, tol, f"{head}.{name}", dtype)


def _close(head: str, name: str, actual: Any, expected: Any, inputs: Mapping[str, Any], tol: Tolerance, what: str,
           dtype: str) -> None:
    """One array at its specified entries (a list output's entries by the list's name: every hidden state, the
    embedding output included, at attended positions)."""
    __tracebackhide__ = True
    if not isinstance(actual, np.ndarray):
        raise AssertionError(f"{what}: expected a numpy array, got {type(actual).__name__}")
    if actual.shape != np.shape(expected):
        raise AssertionError(f"{what}: shape {list(actual.shape)}, expected {list(np.shape(expected))}")
    where = "[attended positions]" if per_position(head, name) else ""
    assert_close(actual, np.asarray(expected), tol, what=what + where, dtype=dtype,
                 specified=specified(head, name, actual.shape, inputs))


def _check_shapes(head: str, name: str, actual: Any, env: Mapping[str, Any]) -> None:
    __tracebackhide__ = True
    shape = expected_shape(head, name, env)
    length = expected_length(head, name, env)
    items = actual if length is not None else [actual]
    if length is not None:
        assert isinstance(actual, (list, tuple)), f"{head}.{name}: expected a list, got {type(actual).__name__}"
        assert len(actual) == length, f"{head}.{name}: {len(actual)} entries, the spec says {length}"
    for i, item in enumerate(items):
        if item is not None:
            assert np.shape(item) == shape, f"{head}.{name}[{i}]: shape {list(np.shape(item))}, spec {list(shape)}"


def compare_all(
    head: str, actual: Mapping[str, Any], expected: Mapping[str, Any], *, inputs: Mapping[str, Any], dtype: str,
    names: tuple[str, ...] | None = None, env: Mapping[str, Any] | None = None,
) -> None:
    """Every spec output the oracle returned (or ``names``) is in ``actual`` and close to the oracle.

    The cache (the port's own object) and empty tuples (cross_attentions where no cross-attention ran, which
    heads.unspecified.cross_attentions_without_cross_attention leaves open) are not compared.
    """
    __tracebackhide__ = True
    spec_names = SPEC.heads.head(head).output_names
    compared = [n for n in spec_names if n != "cache" and expected.get(n) is not None
                and not (isinstance(expected[n], (list, tuple)) and len(expected[n]) == 0)]
    for name in names or compared:
        if actual.get(name) is None:
            raise AssertionError(f"{head}: output {name!r} missing (got {sorted(actual)})")
        assert_output_close(head, name, actual[name], expected[name], inputs=inputs, dtype=dtype, env=env)


def check_cached_call(case: Any, explicit: dict[str, Any], seq: int) -> None:
    """use_cache=True on the first positions, then the rest with the returned cache (mask over past + new)."""
    split, labels = seq // 2, label_args(case.head, case.config, explicit)  # labels would disable the cache
    explicit = {k: v for k, v in explicit.items() if k not in labels}
    first = {k: (v[:, :split] if k in ("input_ids", "token_type_ids", "position_ids", "attention_mask") else v)
             for k, v in explicit.items()}
    second = {k: (v[:, split:] if k in ("input_ids", "token_type_ids", "position_ids") else v)
              for k, v in explicit.items()}
    port_cache = case.run(first, use_cache=True).get("cache")
    assert port_cache is not None, f"{case.head}: use_cache=True on a decoder returned no cache"
    oracle_cache = case.expected(first, use_cache=True)["cache"]
    got = case.run(second, cache=port_cache, use_cache=True)
    want = case.expected(second, cache=oracle_cache, use_cache=True)
    compare_all(case.head, got, want, inputs=second, dtype=case.dtype)


# --- the port vs itself -------------------------------------------------------------------------------------------


def assert_same(
    head: str,
    name: str,
    actual: Mapping[str, Any],
    expected: Mapping[str, Any],
    *,
    inputs: Mapping[str, Any],
    tol: Tolerance,
    dtype: str,
    what: str,
) -> None:
    """``actual[name]`` equals ``expected[name]`` where the spec specifies it for a call with ``inputs`` (their
    attention_mask): attended query positions, and pooled rows whose first position is attended."""
    __tracebackhide__ = True
    got, want = output(actual, name, what), np.asarray(output(expected, name, what + " (reference run)"))
    if np.shape(got) != want.shape:
        raise AssertionError(f"{what}: {name} has shape {list(np.shape(got))}, expected {list(want.shape)}")
    where = "[attended positions]" if per_position(head, name) else "[rows with an attended first token]"
    assert_close(got, want, tol, what=f"{what}: {name}{where}", dtype=dtype,
                 specified=specified(head, name, want.shape, inputs))


def assert_bitwise(actual: Any, expected: Any, what: str) -> None:
    """Identical values, dtypes and structure (lists compared element by element)."""
    __tracebackhide__ = True
    if isinstance(expected, (list, tuple)):
        assert isinstance(actual, (list, tuple)) and len(actual) == len(expected), f"{what}: structure differs"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_bitwise(a, e, f"{what}[{i}]")
        return
    if expected is None or not isinstance(expected, np.ndarray):
        return  # opaque outputs (the cache) are the port's own
    assert isinstance(actual, np.ndarray), f"{what}: {type(actual).__name__}, expected a numpy array"
    assert actual.dtype == expected.dtype and actual.shape == expected.shape, f"{what}: dtype or shape differs"
    if not np.array_equal(actual, expected, equal_nan=True):
        diff = np.abs(actual.astype(np.float64) - expected.astype(np.float64))
        raise AssertionError(
            f"{what}: two identical calls differ in {int((diff > 0).sum())} of {diff.size} elements "
            f"(max abs {float(np.nanmax(diff)):.3g}); evaluation mode must be deterministic"
        )
