"""Measure one comparison: output checks, peak memory, then interleaved timed rounds, then checks again.

Order of work for sides a and b (spec clauses ``bench.method.*``):

1. each side's deterministic step must equal the baseline (an untimed eager run of the reference) within the
   spec's ``eager_vs_sdpa`` tolerance: a fast but wrong path fails here, before anything is timed;
2. each side's peak memory of one step (untimed);
3. warm-up rounds, then timed rounds in the order AB, BA, AB, ... (both sides see the same machine load);
4. the checks again: inference compares the outputs of the last *timed* step itself (MLPerf TEST01's
   idea: the timed path is the checked path); training re-runs the deterministic step (timed training steps
   use dropout, whose random masks no check can reproduce).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from benchmarks.metrics import SideResult
from benchmarks.sessions import BenchmarkSession

Runner = Callable[[Callable[[], None], int], None]  # (one round, number of rounds) -> runs them
CHECKED_POSITIONS = 512  # logits rows compared: all of them up to 512 tokens, a fixed random sample above


@dataclass
class Side:
    name: str  # "eager" | "sdpa" | "transformers" | "reference" | a port name
    session: BenchmarkSession


class OutputMismatch(AssertionError):
    """A side's outputs differ from the baseline: its timings must not be reported."""


def check_outputs(
    actual: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray], *, dtype: str, what: str
) -> list[dict[str, Any]]:
    """Every baseline output must be present and equal within the spec's ``<dtype>.eager_vs_sdpa`` tolerance."""
    from bert_conformance.tolerance import assert_close, tolerance_for

    tol = tolerance_for(dtype, "eager_vs_sdpa")
    records = []
    for name, want in expected.items():
        if name not in actual:
            raise OutputMismatch(f"{what}: output {name!r} missing (got {sorted(actual)})")
        got = np.asarray(actual[name])
        if name == "logits" and got.shape == np.shape(want):
            got, want = sample_positions(got), sample_positions(np.asarray(want))
        try:
            comparison = assert_close(got, want, tol, what=f"{what}: {name}", dtype=got.dtype.name)
        except AssertionError as error:
            raise OutputMismatch(str(error)) from None
        records.append(comparison.to_dict())
    return records


def sample_positions(logits: np.ndarray, limit: int = CHECKED_POSITIONS) -> np.ndarray:
    """The logits of at most ``limit`` token positions, the same fixed sample for every side.

    bert-base at 16 x 512 has 250 M logits; comparing them all in float64 costs more than the benchmark,
    while a wrong attention path changes every position. Rows keep their vocabulary axis whole.
    """
    rows = logits.reshape(-1, logits.shape[-1])
    if rows.shape[0] <= limit:
        return rows
    picked = np.sort(np.random.default_rng(0).choice(rows.shape[0], size=limit, replace=False))
    return rows[picked]


def default_runner(one_round: Callable[[], None], rounds: int) -> None:
    for _ in range(rounds):
        one_round()


def measure_sides(
    a: Side,
    b: Side,
    baseline: Mapping[str, np.ndarray],
    *,
    train: bool,
    dtype: str,
    rounds: int,
    warmup_rounds: int,
    runner: Runner = default_runner,
    timer: Callable[[], float] = time.perf_counter,
) -> tuple[SideResult, SideResult, list[dict[str, Any]]]:
    """Check, measure memory, time interleaved rounds, check again. Returns both sides and the check records."""
    sides = (a, b)
    checks: list[dict[str, Any]] = []
    for side in sides:
        checks += check_outputs(side.session.check(), baseline, dtype=dtype, what=f"{side.name} before timing")
    peaks = {side.name: side.session.peak_memory_bytes() for side in sides}

    for _ in range(warmup_rounds):
        for side in sides:
            side.session.step()
    samples: dict[str, list[float]] = {side.name: [] for side in sides}
    done = [0]

    def one_round() -> None:
        order = sides if done[0] % 2 == 0 else sides[::-1]
        done[0] += 1
        for side in order:
            start = timer()
            side.session.step()
            samples[side.name].append(timer() - start)

    runner(one_round, rounds)
    if not all(samples.values()):
        raise RuntimeError("the runner ran no timed round")

    for side in sides:
        after = side.session.check() if train else side.session.outputs()
        checks += check_outputs(after, baseline, dtype=dtype, what=f"{side.name} after timing")
    results = tuple(SideResult(s.name, tuple(samples[s.name]), peaks[s.name]) for s in sides)
    return results[0], results[1], checks
