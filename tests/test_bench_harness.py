"""The measuring harness on fake sessions: output checks gate the timings, rounds interleave."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ is not installed

from benchmarks.harness import OutputMismatch, Side, check_outputs, measure_sides, sample_positions  # noqa: E402
from bert_conformance.tolerance import tolerance_for  # noqa: E402

RNG = np.random.default_rng(0)
BASELINE = {
    "loss": np.float32(10.3) * np.ones((), np.float32),
    "logits": RNG.standard_normal((2, 8, 99)).astype(np.float32),
}


class FakeSession:
    """A BenchmarkSession whose outputs are the baseline times ``scale`` (``timed_scale`` for timed steps)."""

    def __init__(self, name: str, log: list[str], scale: float = 1.0, timed_scale: float | None = None) -> None:
        self.name, self.log = name, log
        self.scale = scale
        self.timed_scale = scale if timed_scale is None else timed_scale
        self.last: dict[str, np.ndarray] = {}

    def _outputs(self, scale: float) -> dict[str, np.ndarray]:
        return {k: (v * np.float32(scale)).astype(np.float32) for k, v in BASELINE.items()}

    def step(self) -> None:
        self.log.append(self.name)
        self.last = self._outputs(self.timed_scale)

    def check(self) -> dict[str, np.ndarray]:
        self.log.append(f"check {self.name}")
        self.last = self._outputs(self.scale)
        return dict(self.last)

    def outputs(self) -> dict[str, np.ndarray]:
        return dict(self.last)

    def peak_memory_bytes(self) -> int:
        self.log.append(f"memory {self.name}")
        return 1000

    def close(self) -> None:
        pass


def sides(log: list[str], **b_kwargs: float) -> tuple[Side, Side]:
    return Side("eager", FakeSession("eager", log)), Side("sdpa", FakeSession("sdpa", log, **b_kwargs))


def run(a: Side, b: Side, *, train: bool = False, rounds: int = 4) -> tuple:
    return measure_sides(a, b, BASELINE, train=train, dtype="float32", rounds=rounds, warmup_rounds=1)


def test_correct_sides_are_timed_in_alternating_order() -> None:
    log: list[str] = []
    ra, rb, checks = run(*sides(log))
    timed = [entry for entry in log[log.index("memory sdpa") + 3:] if " " not in entry]  # after the warm-up
    assert timed == ["eager", "sdpa", "sdpa", "eager", "eager", "sdpa", "sdpa", "eager"]
    assert len(ra.times_s) == len(rb.times_s) == 4 and ra.peak_bytes == 1000
    assert log[:4] == ["check eager", "check sdpa", "memory eager", "memory sdpa"]  # checks come first
    assert len(checks) == 8 and all(c["mismatches"] == 0 for c in checks)


def test_fast_but_wrong_side_is_rejected_before_timing() -> None:
    log: list[str] = []
    with pytest.raises(OutputMismatch, match="sdpa before timing: loss"):
        run(*sides(log, scale=1.01))
    assert "sdpa" not in log and "eager" not in log  # no step was ever timed


def test_side_wrong_only_while_timed_is_caught_after_timing() -> None:
    """Inference: the outputs of the last timed step are checked (a path that is right only when checked)."""
    log: list[str] = []
    with pytest.raises(OutputMismatch, match="sdpa after timing"):
        run(*sides(log, timed_scale=0.0))


def test_training_rechecks_with_the_deterministic_step() -> None:
    log: list[str] = []
    run(*sides(log, timed_scale=0.0), train=True)  # dropout-randomised timed outputs are not compared
    assert log[-2:] == ["check eager", "check sdpa"]


def test_missing_output_is_named() -> None:
    with pytest.raises(OutputMismatch, match="output 'loss' missing"):
        check_outputs({"logits": BASELINE["logits"]}, BASELINE, dtype="float32", what="port")


def test_check_uses_the_specs_eager_vs_sdpa_tolerance() -> None:
    tol = tolerance_for("float32", "eager_vs_sdpa")
    expected = {"x": np.array([1.0], np.float32)}
    limit = tol.atol + tol.rtol * 1.0
    inside = {"x": np.array([1.0 + 0.5 * limit], np.float32)}
    outside = {"x": np.array([1.0 + 2.0 * limit], np.float32)}
    records = check_outputs(inside, expected, dtype="float32", what="port")
    assert records[0]["atol"] == tol.atol and records[0]["rtol"] == tol.rtol
    with pytest.raises(OutputMismatch, match="port: x"):
        check_outputs(outside, expected, dtype="float32", what="port")


def test_a_runner_that_runs_nothing_is_an_error() -> None:
    log: list[str] = []
    a, b = sides(log)
    with pytest.raises(RuntimeError, match="no timed round"):
        measure_sides(a, b, BASELINE, train=False, dtype="float32", rounds=3, warmup_rounds=0,
                      runner=lambda one_round, rounds: None)


def test_logits_are_sampled_by_position_above_the_limit() -> None:
    small = np.arange(2 * 3 * 5, dtype=np.float32).reshape(2, 3, 5)
    assert np.array_equal(sample_positions(small, limit=6), small.reshape(6, 5))
    big = np.arange(40 * 5, dtype=np.float32).reshape(4, 10, 5)
    picked = sample_positions(big, limit=7)
    assert picked.shape == (7, 5) and np.array_equal(picked, sample_positions(big.copy(), limit=7))
    rows = picked[:, 0] / 5
    assert len(set(rows)) == 7 and np.all(np.diff(rows) > 0)  # distinct whole rows, in order
    assert np.array_equal(picked, big.reshape(40, 5)[rows.astype(int)])


def test_a_change_at_every_position_is_caught_through_the_sample() -> None:
    """Above 512 positions only a sample is compared; a wrong attention path changes every position."""
    logits = RNG.standard_normal((4, 200, 7)).astype(np.float32)  # 800 positions
    expected = {"logits": logits}
    assert check_outputs({"logits": logits.copy()}, expected, dtype="float32", what="port")[0]["size"] == 512 * 7
    with pytest.raises(OutputMismatch, match="port: logits"):
        check_outputs({"logits": logits + np.float32(1e-3)}, expected, dtype="float32", what="port")
