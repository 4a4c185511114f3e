"""Helpers for the label, property, decoder and gradient clauses (spec/labels.yaml, properties.yaml,
decoder.yaml, gradients.yaml).

- :func:`clause_head_params`: one pytest param per (spec clause, head), ``id="<clause id>-<Head>"``, carrying
  the clause marker and the capabilities it needs (head, features, attention);
- :func:`check_dtype`: float64 when the port claims it (the semantic tier, where a bug shows at 1e-9), else
  float32;
- :func:`assert_same`: compare two runs of the port (or the port and the oracle) where the spec specifies
  the output: attended query positions, and pooled rows whose first position is attended;
- :func:`refined_by`: which heads.yaml / parameters.yaml clauses each property or decoder clause checks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pytest
from hypothesis import strategies as st

from bert_conformance.adapter import Capabilities
from bert_conformance.plugin import clause_params
from bert_conformance.spec import load_spec
from bert_conformance.tolerance import Tolerance, assert_close, tolerance_for

SPEC = load_spec()
SEMANTIC_DTYPE = "float64"
CORE_DTYPE = "float32"


def spec_clauses(document: str, section: str) -> list[dict[str, Any]]:
    """The clauses of one section of a spec file, as plain dicts, sorted by id (stable parametrization)."""
    return sorted(SPEC.raw(document)[section], key=lambda c: c["id"])


def by_id(clauses: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    return {c["id"]: dict(c) for c in clauses}


def clause_head_params(
    clauses: Iterable[Mapping[str, Any]],
    *,
    features: Callable[[str], Iterable[str]] = lambda head: (),
    heads: Callable[[Mapping[str, Any]], Iterable[str]] = lambda clause: clause.get("heads") or (),
) -> list[Any]:
    """``pytest.param(clause, head, id="<clause id>-<head>")`` per head of each clause.

    The requirement marker names the head, the clause's ``features`` and ``attention``, and ``features(head)``.
    """
    params = []
    for clause in sorted(clauses, key=lambda c: c["id"]):
        for head in sorted(heads(clause)):
            needs: dict[str, Any] = {"head": head}
            wanted = {*clause.get("features", ()), *features(head)}
            if wanted:
                needs["feature"] = sorted(wanted)
            if clause.get("attention"):
                needs["attention"] = list(clause["attention"])
            (base,) = clause_params([clause], requires=needs)
            params.append(pytest.param(clause, head, id=f"{clause['id']}-{head}", marks=base.marks))
    return params


def check_dtype(capabilities: Capabilities) -> str:
    """The dtype clauses compare in: float64 if claimed (semantic tier), else the core float32."""
    return SEMANTIC_DTYPE if SEMANTIC_DTYPE in capabilities.dtypes else CORE_DTYPE


def port_tolerance(clause: Mapping[str, Any], dtype: str) -> Tolerance:
    """The clause's tolerance kind (tolerances.yaml) for comparing the port with itself."""
    return tolerance_for(dtype, clause.get("tolerance", "outputs"))


def config_for(clause: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return {**clause.get("config", {}), **extra}


# --- outputs ----------------------------------------------------------------------------------------------------


def per_position(head: str, name: str) -> bool:
    """Whether an output has a query-position axis (heads.yaml shape mentions seq)."""
    return "seq" in SPEC.heads.head(head).output(name).shape


def clause_outputs(clause: Mapping[str, Any], head: str) -> tuple[str, ...]:
    """The clause's outputs that the head has (heads.yaml)."""
    names = SPEC.heads.head(head).output_names
    found = tuple(n for n in clause.get("outputs", ()) if n in names)
    if not found:
        raise ValueError(f"{clause['id']}: none of {clause.get('outputs')} is an output of {head}")
    return found


def output(outputs: Mapping[str, Any], name: str, what: str = "forward") -> np.ndarray:
    """One named array output, with a clear message when the port did not return it."""
    __tracebackhide__ = True
    value = outputs.get(name)
    if value is None:
        raise AssertionError(f"{what}: the port returned no {name!r} (keys: {sorted(outputs)})")
    return value


def attended(mask: Any, shape: tuple[int, ...]) -> np.ndarray:
    """bool [rows, seq] of attended query positions; all True when the mask is omitted."""
    if mask is None:
        return np.ones(shape, dtype=bool)
    return np.asarray(mask).reshape(-1, shape[-1]) != 0


def specified(head: str, name: str, shape: tuple[int, ...], rows: np.ndarray) -> np.ndarray:
    """bool of ``shape`` (an output's): the entries the spec specifies, attended query positions or pooled
    rows whose first token is attended. A mask, not a gather, so mismatches keep the output's coordinates."""
    if per_position(head, name):
        tail = _tail(head, name)
        flat = (rows.shape[0], rows.shape[1], *shape[len(shape) - tail :])
        return np.broadcast_to(rows.reshape(rows.shape + (1,) * tail), flat).reshape(shape)
    per_row = int(np.prod(shape)) // rows.shape[0]
    return np.broadcast_to(rows[:, :1], (rows.shape[0], per_row)).reshape(shape)


def _tail(head: str, name: str) -> int:
    """Number of axes after the seq axis (hidden_size, vocab_size: 1; start/end logits: 0)."""
    shape = SPEC.heads.head(head).output(name).shape
    return len(shape) - 1 - list(shape).index("seq")


def assert_same(
    head: str,
    name: str,
    actual: Mapping[str, Any],
    expected: Mapping[str, Any],
    *,
    rows: np.ndarray,
    tol: Tolerance,
    dtype: str,
    what: str,
) -> None:
    """``actual[name]`` equals ``expected[name]`` at the specified entries (shapes checked first)."""
    __tracebackhide__ = True
    got, want = output(actual, name, what), np.asarray(output(expected, name, what + " (reference run)"))
    if np.shape(got) != want.shape:
        raise AssertionError(f"{what}: {name} has shape {list(np.shape(got))}, expected {list(want.shape)}")
    where = "[attended positions]" if per_position(head, name) else "[rows with an attended first token]"
    assert_close(got, want, tol, what=f"{what}: {name}{where}", dtype=dtype,
                 specified=specified(head, name, want.shape, rows))


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


# --- draws ----------------------------------------------------------------------------------------------------------


@st.composite
def any_masks(draw: st.DrawFn, rows: int, seq: int, padding: tuple[str, ...] | None = None) -> np.ndarray:
    """int64 0/1 masks with zeros anywhere; every row attends somewhere. ``padding`` (the port's declared
    surface.padding) limits where: without "arbitrary" each row's zeros move to its right end, or its left end
    for a row drawn left when "left" is declared."""
    keep = draw(st.sampled_from((0.3, 0.6, 0.9)), label="attended fraction")
    seed = draw(st.integers(0, 2**32 - 1), label="mask seed")
    rng = np.random.default_rng(seed)
    mask = (rng.random((rows, seq)) < keep).astype(np.int64)
    mask[np.arange(rows), rng.integers(0, seq, size=rows)] = 1
    if padding is None or "arbitrary" in padding:
        return mask
    right = -np.sort(-mask, axis=-1)  # the same number of real tokens, then the padding
    if "left" not in padding:
        return right
    left_rows = rng.random(rows) < 0.5
    return np.where(left_rows[:, None], right[:, ::-1], right)


def changed_ids(draw: Any, ids: np.ndarray, high: int, label: str) -> np.ndarray:
    """Ids in [0, high) that differ from ``ids`` everywhere (when high >= 2), drawn with ``draw(strategy, label)``."""
    if high < 2:
        return ids.copy()
    seed = draw(st.integers(0, 2**32 - 1), label=label)
    step = np.random.default_rng(seed).integers(1, high, size=ids.shape)
    return (ids + step) % high


# --- spec bookkeeping ---------------------------------------------------------------------------------------------


def refined_by() -> dict[str, list[str]]:
    """heads.yaml / parameters.yaml clause id -> the properties.* and decoder.* clauses that check it."""
    found: dict[str, list[str]] = {}
    for document, section in (("properties", "properties"), ("decoder", "decoder")):
        for clause in spec_clauses(document, section):
            for target in clause.get("refines", ()):
                found.setdefault(target, []).append(clause["id"])
    return found


def document_clause_ids(document: str) -> set[str]:
    """Every clause id of one spec file."""
    return {cid for name, cid, _ in SPEC.clauses() if name == document}
