"""Threshold evaluation on synthetic measurements: metrics, pass/fail with numbers, not-run suites."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ is not installed

from benchmarks.metrics import Measurement, SideResult, evaluate, failures, judge  # noqa: E402
from benchmarks.suites import Threshold, load_bench_spec  # noqa: E402


def measurement(suite: str, a_s: float, b_s: float, a_bytes: int | None, b_bytes: int | None,
                shape: tuple[int, int] = (4, 128), impl: str = "reference") -> Measurement:
    """Side a (eager / transformers) and side b, each with three rounds around the given median."""
    return Measurement(suite, impl, *shape,
                       SideResult("a", (a_s * 0.9, a_s, a_s * 5.0), a_bytes),
                       SideResult("b", (b_s, b_s * 1.1, b_s * 0.95), b_bytes))


def test_metrics_use_the_seeds_formulas_on_medians() -> None:
    m = measurement("s", 0.023, 0.017, 939_213_000, 764_834_000)
    assert m.a.time_s == 0.023 and m.b.time_s == 0.017  # medians: the 5x outlier round does not count
    assert m.metric("speedup_pct") == pytest.approx((0.023 / 0.017 - 1) * 100, rel=1e-12)
    assert m.metric("time_ratio") == pytest.approx(0.017 / 0.023, rel=1e-12)
    assert m.metric("mem_saving_pct") == pytest.approx(22.800, abs=5e-4)  # the seed's 4x256 row
    assert m.metric("peak_ratio") == pytest.approx(764.834 / 939.213, rel=1e-12)
    assert m.metric("saved_mb") == pytest.approx(174.379, abs=1e-9)
    with pytest.raises(KeyError, match="unknown metric"):
        m.metric("throughput")


def test_memory_metrics_are_none_without_memory() -> None:
    m = measurement("s", 1.0, 1.0, None, 5)
    assert m.metric("peak_ratio") is None and m.metric("speedup_pct") == 0.0


def test_judge_passes_and_fails_with_the_numbers() -> None:
    t = Threshold("bench.threshold.x", "s", "time_ratio", "<=", "why", bound=1.1)
    ok = judge(t, measurement("s", 1.0, 1.09, 10, 10))
    assert ok.status == "pass" and ok.value == pytest.approx(1.09)
    bad = judge(t, measurement("s", 1.0, 1.2, 10, 10))
    assert bad.failed
    assert "time_ratio = 1.2 > bound 1.1" in bad.message
    assert "a 1000.000 ms" in bad.message and "b 1200.000 ms" in bad.message  # the measured times
    assert "reference batch_size=4 seq_len=128" in bad.message


def test_lower_bounds() -> None:
    t = Threshold("bench.threshold.y", "s", "speedup_pct", ">=", "why", bound=13.491)
    assert judge(t, measurement("s", 1.135, 1.0, 1, 1)).status == "pass"
    fail = judge(t, measurement("s", 1.13, 1.0, 1, 1))
    assert fail.failed and "< bound 13.491" in fail.message


def test_per_shape_bounds() -> None:
    t = Threshold("bench.threshold.z", "s", "saved_mb", ">=", "why",
                  bounds={(4, 256): 156.941, (16, 512): 2703.281})
    assert judge(t, measurement("s", 1, 1, 1_000_000_000, 843_000_000, shape=(4, 256))).status == "pass"
    assert judge(t, measurement("s", 1, 1, 1_000_000_000, 843_000_000, shape=(16, 512))).failed
    with pytest.raises(KeyError, match="batch_size=2 seq_len=2"):
        judge(t, measurement("s", 1, 1, 1, 1, shape=(2, 2)))


def test_missing_memory_fails_instead_of_passing() -> None:
    t = Threshold("bench.threshold.m", "s", "peak_ratio", "<=", "why", bound=1.01)
    v = judge(t, measurement("s", 1, 1, 100, None))
    assert v.failed and "not measured" in v.message


def test_evaluate_marks_suites_without_measurements_not_run() -> None:
    spec = load_bench_spec()
    verdicts = evaluate(spec, [measurement("bench.suite.cpu.inference", 1.0, 1.0, 100, 100)], why_not_run="no GPU")
    ran = [v for v in verdicts if v.measurement is not None]
    assert {v.threshold.suite for v in ran} == {"bench.suite.cpu.inference"}
    assert all(v.status == "pass" for v in ran)
    not_run = [v for v in verdicts if v.status == "not-run"]
    assert len(not_run) == len(spec.thresholds) - len(spec.thresholds_for("bench.suite.cpu.inference"))
    assert all("no GPU" in v.message for v in not_run)
    assert failures(verdicts) == []


def test_cpu_thresholds_fail_on_slow_sdpa_and_on_more_memory() -> None:
    spec = load_bench_spec()
    slow = measurement("bench.suite.cpu.training", 1.0, 1.2, 100, 100)
    fat = measurement("bench.suite.cpu.training", 1.0, 1.0, 100, 102)
    failed = {(v.threshold.id, v.measurement is slow) for v in failures(evaluate(spec, [slow, fat]))}
    assert failed == {("bench.threshold.cpu.training.time", True), ("bench.threshold.cpu.training.memory", False)}


def test_gpu_thresholds_fail_when_sdpa_is_no_faster_or_saves_nothing() -> None:
    spec = load_bench_spec()
    no_gain = [measurement("bench.suite.cuda.training", 0.02, 0.02, 10**9, 10**9, shape=s)
               for s in spec.suites["bench.suite.cuda.training"].shapes]
    failed = {v.threshold.id for v in failures(evaluate(spec, no_gain))}
    assert failed == {"bench.threshold.cuda.training.speedup", "bench.threshold.cuda.training.memory"}
