"""Tolerances and array comparison.

One ``Tolerance(atol=..., rtol=...)`` type; its values come from ``spec/tolerances.yaml`` only, looked up by
(dtype, comparison kind) with :func:`tolerance_for`. :func:`assert_close` checks type, dtype, shape and
non-finite values before values, and fails with a self-contained report: max abs/rel error, how many elements
mismatch and where, and the tolerance used. Every comparison is also recorded, so the pytest plugin can put
the observed error of each clause in the conformance report.

An element passes when ``|actual - expected| <= atol + rtol * |expected|`` (the numpy/torch rule), computed in
float64. There is no "enough rows match" slack: one mismatching element fails the comparison.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

DTYPES = ("float64", "float32", "float16", "bfloat16")
_MAX_LOCATIONS = 5


@dataclass(frozen=True, kw_only=True)
class Tolerance:
    """Absolute and relative tolerance; keyword-only so the two can never be swapped."""

    atol: float
    rtol: float

    def __post_init__(self) -> None:
        for name in ("atol", "rtol"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"Tolerance.{name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"Tolerance.{name} must be finite and >= 0, got {value!r}")

    def __str__(self) -> str:
        return f"atol={self.atol:g}, rtol={self.rtol:g}"


def tolerance_for(dtype: str, kind: str) -> Tolerance:
    """The spec's tolerance for comparing a ``dtype`` result of comparison ``kind`` (e.g. "outputs")."""
    from bert_conformance.spec import load_spec  # lazy: the plugin imports this module in every run

    if dtype not in DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; expected one of {DTYPES}")
    entry = load_spec().tolerances.get(dtype, kind)  # KeyError naming dtypes.<dtype>.<kind> if absent
    return Tolerance(atol=float(entry.atol), rtol=float(entry.rtol))


@dataclass(frozen=True)
class Comparison:
    """What one :func:`assert_close` call observed (kept for the report, pass or fail)."""

    what: str
    dtype: str
    atol: float
    rtol: float
    max_abs: float
    max_rel: float
    mismatches: int
    size: int
    worst: float  # max over elements of |actual - expected| / (atol + rtol * |expected|): > 1 fails

    @property
    def passed(self) -> bool:
        return self.mismatches == 0

    def to_dict(self) -> dict[str, Any]:
        return {k: _json_float(v) for k, v in asdict(self).items()}


def _json_float(value: Any) -> Any:
    """JSON has no inf/nan: write them as strings."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


_recorded: list[Comparison] | None = None


@contextmanager
def recording() -> Iterator[list[Comparison]]:
    """Collect every comparison made inside the block (the plugin wraps each clause in one)."""
    global _recorded
    previous, _recorded = _recorded, []
    try:
        yield _recorded
    finally:
        _recorded = previous


def _record(comparison: Comparison) -> None:
    if _recorded is not None:
        _recorded.append(comparison)


def assert_close(
    actual: Any,
    expected: np.ndarray,
    tol: Tolerance,
    *,
    what: str,
    dtype: str | None = None,
    nan_ok: bool = False,
    specified: np.ndarray | None = None,
) -> Comparison:
    """Assert ``actual`` (a port's output) equals ``expected`` (the oracle's) within ``tol``.

    ``specified`` (bool, broadcastable to the shape) limits the comparison to the entries the spec specifies
    (e.g. attended positions); mismatches are still located in the output's own coordinates
    (batch, position, ...), never as indices into a gathered array.

    ``dtype`` is the dtype the port must have returned (default: ``expected``'s); "bfloat16" means a float32
    array holding bfloat16-representable values (numpy has no bfloat16). ``nan_ok`` accepts NaN where
    ``expected`` is NaN (only where the spec says the value is NaN). Returns the recorded comparison.
    """
    __tracebackhide__ = True
    if not isinstance(tol, Tolerance):
        raise TypeError(f"{what}: tol must be a Tolerance, got {type(tol).__name__}")
    want = dtype or np.asarray(expected).dtype.name
    check_array(actual, what=what, dtype=want)
    expected = np.asarray(expected)
    if actual.shape != expected.shape:
        raise AssertionError(f"{what}: shape {list(actual.shape)}, expected {list(expected.shape)}")
    keep = np.ones(actual.shape, bool) if specified is None else np.broadcast_to(np.asarray(specified, bool), actual.shape)
    comparison, report = _compare(actual, expected, tol, what=what, dtype=want, nan_ok=nan_ok, keep=keep)
    _record(comparison)
    if report:
        raise AssertionError(report)
    return comparison


def check_array(value: Any, *, what: str, dtype: str) -> None:
    """Fail readably unless ``value`` is a numpy array of ``dtype`` (see :func:`assert_close`)."""
    __tracebackhide__ = True
    if not isinstance(value, np.ndarray):
        kind = f"{type(value).__module__}.{type(value).__qualname__}"
        raise AssertionError(
            f"{what}: expected a numpy.ndarray, got {kind} (the adapter boundary is numpy only: "
            f"convert outputs with .numpy() / np.asarray before returning them)"
        )
    if dtype == "bfloat16":
        if value.dtype != np.float32:
            raise AssertionError(f"{what}: dtype {value.dtype}, expected float32 holding bfloat16 values")
        low_bits = np.ascontiguousarray(value).view(np.uint32) & 0xFFFF
        if np.any(low_bits):
            raise AssertionError(f"{what}: float32 values are not bfloat16-representable (low 16 bits set)")
    elif value.dtype != np.dtype(dtype):
        raise AssertionError(f"{what}: dtype {value.dtype}, expected {dtype}")


def _compare(
    actual: np.ndarray, expected: np.ndarray, tol: Tolerance, *, what: str, dtype: str, nan_ok: bool,
    keep: np.ndarray,
) -> tuple[Comparison, str]:
    """Element-wise comparison in float64 of the ``keep`` entries; returns the record and a failure report
    ("" when it passes)."""
    a = np.atleast_1d(actual.astype(np.float64))  # 0-d (a loss) reads as shape [1] in the report
    e = np.atleast_1d(expected.astype(np.float64))
    keep = np.atleast_1d(keep)
    a, e = np.where(keep, a, 0.0), np.where(keep, e, 0.0)  # unspecified entries: equal, and never reported
    same_nan = np.isnan(a) & np.isnan(e) if nan_ok else np.zeros(a.shape, bool)
    same_inf = np.isinf(a) & np.isinf(e) & (np.sign(a) == np.sign(e))
    skip = same_nan | same_inf | ~keep
    finite = np.isfinite(a) & np.isfinite(e)
    allowed = tol.atol + tol.rtol * np.abs(np.where(finite, e, 0.0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # non-finite entries are masked out
        diff = np.where(finite, np.abs(a - e), np.inf)
        rel = np.where(finite, np.where(diff == 0, 0.0, diff / np.abs(e)), np.inf)
        used = np.where(diff == 0, 0.0, diff / allowed)
    bad = ~(diff <= allowed) & ~skip
    kept = ~skip
    max_abs, max_rel, worst = (float(x[kept].max()) if kept.any() else 0.0 for x in (diff, rel, used))
    count = int(bad.sum())
    comparison = Comparison(what, dtype, tol.atol, tol.rtol, max_abs, max_rel, count, int(keep.sum()), worst)
    if count == 0:
        return comparison, ""
    return comparison, _failure_report(a, e, bad, diff, rel, comparison, nan_ok)


def _failure_report(
    a: np.ndarray,
    e: np.ndarray,
    bad: np.ndarray,
    diff: np.ndarray,
    rel: np.ndarray,
    c: Comparison,
    nan_ok: bool,
) -> str:
    pct = 100.0 * c.mismatches / max(c.size, 1)
    lines = [
        f"{c.what} ({c.dtype}): {c.mismatches} of {c.size} elements ({pct:.3g}%) differ beyond "
        f"atol={c.atol:g}, rtol={c.rtol:g}",
        f"  max abs error {c.max_abs:.6g} at {_where(np.where(bad, diff, -1.0))}, "
        f"max rel error {c.max_rel:.6g} at {_where(np.where(bad, rel, -1.0))}",
    ]
    nan_actual = int((np.isnan(a) & ~np.isnan(e)).sum())
    if nan_actual:
        lines.append(f"  {nan_actual} NaN in the port's output where the expected value is not NaN")
    nan_expected = int((np.isnan(e) & ~np.isnan(a)).sum()) if nan_ok else int(np.isnan(e).sum())
    if nan_expected:
        hint = "" if nan_ok else " (nan_ok=False: the spec does not allow NaN here)"
        lines.append(f"  {nan_expected} expected NaN not matched{hint}")
    inf_actual = int((np.isinf(a) & ~np.isinf(e)).sum())
    if inf_actual:
        lines.append(f"  {inf_actual} Inf in the port's output where the expected value is finite")
    lines.append("  first mismatches (index: actual vs expected, |diff|):")
    for index in list(zip(*np.nonzero(bad)))[:_MAX_LOCATIONS]:
        idx = tuple(int(i) for i in index)
        lines.append(f"    {idx}: {float(a[idx])!r} vs {float(e[idx])!r} ({diff[idx]:.3g})")
    return "\n".join(lines)


def _where(values: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(int(np.nanargmax(values)), values.shape))

