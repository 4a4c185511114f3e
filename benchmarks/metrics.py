"""Measurements of one comparison, the seed's metrics on them, and threshold verdicts.

A measurement compares two sides at one shape: side a is the baseline (eager, or transformers) and side b
the other (sdpa, or the port under test). The metrics use the seed's conventions (spec/benchmarks.yaml,
``bench.seed.formula.*``): speedup and memory saving are relative to side b.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from benchmarks.suites import BenchSpec, Threshold

MB = 1e6  # the seed's MB: bytes * 1e-6
METRICS = ("speedup_pct", "time_ratio", "mem_saving_pct", "peak_ratio", "saved_mb")


@dataclass(frozen=True)
class SideResult:
    """One side of a comparison: per-round step times (seconds) and the peak memory of one step."""

    name: str
    times_s: tuple[float, ...]
    peak_bytes: int | None

    @property
    def time_s(self) -> float:
        """The median step time: robust to the odd slow round on a shared machine."""
        return statistics.median(self.times_s)


@dataclass(frozen=True)
class Measurement:
    suite: str
    impl: str  # the port measured (attention suites) or the port compared with transformers
    batch_size: int
    seq_len: int
    a: SideResult
    b: SideResult
    checks: tuple[Mapping[str, Any], ...] = field(default=())  # output-check comparisons (max errors)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.batch_size, self.seq_len)

    def metric(self, name: str) -> float | None:
        """A metric's value; None when a side reported no peak memory (memory metrics only)."""
        ta, tb = self.a.time_s, self.b.time_s
        if name == "speedup_pct":
            return (ta / tb - 1.0) * 100.0
        if name == "time_ratio":
            return tb / ta
        pa, pb = self.a.peak_bytes, self.b.peak_bytes
        if name not in METRICS:
            raise KeyError(f"unknown metric {name!r}; known: {', '.join(METRICS)}")
        if pa is None or pb is None:
            return None
        if name == "mem_saving_pct":
            return (pa / pb - 1.0) * 100.0
        if name == "peak_ratio":
            return pb / pa
        return (pa - pb) / MB  # saved_mb

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["checks"] = [dict(c) for c in self.checks]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Measurement:
        def side(d: Mapping[str, Any]) -> SideResult:
            return SideResult(d["name"], tuple(d["times_s"]), d["peak_bytes"])

        return cls(
            data["suite"],
            data["impl"],
            int(data["batch_size"]),
            int(data["seq_len"]),
            side(data["a"]),
            side(data["b"]),
            tuple(data.get("checks", ())),
        )


@dataclass(frozen=True)
class Verdict:
    """A threshold applied to one measurement (or to none, when its suite did not run)."""

    threshold: Threshold
    status: str  # "pass" | "fail" | "not-run"
    message: str
    measurement: Measurement | None = None
    value: float | None = None
    bound: float | None = None

    @property
    def failed(self) -> bool:
        return self.status == "fail"


def evaluate(spec: BenchSpec, measurements: Iterable[Measurement], *, why_not_run: str = "") -> list[Verdict]:
    """Every threshold of the spec against every measurement of its suite.

    A threshold whose suite has no measurement is "not-run" (it does not fail: e.g. the CUDA suites on a
    CPU-only machine); a measurement lacking the metric (a port that reports no memory) fails.
    """
    by_suite: dict[str, list[Measurement]] = {}
    for m in measurements:
        by_suite.setdefault(m.suite, []).append(m)
    verdicts: list[Verdict] = []
    for threshold in spec.thresholds:
        found = by_suite.get(threshold.suite, [])
        if not found:
            reason = why_not_run or "no measurement of this suite in the results"
            verdicts.append(Verdict(threshold, "not-run", f"{threshold.id}: not evaluated: {reason}"))
        verdicts += [judge(threshold, m) for m in found]
    return verdicts


def judge(threshold: Threshold, m: Measurement) -> Verdict:
    """One threshold on one measurement, with the numbers behind it in the message."""
    bound = threshold.bound_for(m.shape)
    value = m.metric(threshold.metric)
    where = f"{threshold.id} [{m.impl} batch_size={m.batch_size} seq_len={m.seq_len}]"
    if value is None:
        message = f"{where}: {threshold.metric} not measured: a side reported no peak memory"
        return Verdict(threshold, "fail", message, m, None, bound)
    ok = value >= bound if threshold.op == ">=" else value <= bound
    relation = threshold.op if ok else {">=": "<", "<=": ">"}[threshold.op]
    message = f"{where}: {threshold.metric} = {value:.4g} {relation} bound {bound:g} ({_numbers(m)})"
    return Verdict(threshold, "pass" if ok else "fail", message, m, value, bound)


def _numbers(m: Measurement) -> str:
    parts = [f"{s.name} {s.time_s * 1e3:.3f} ms" for s in (m.a, m.b)]
    parts += [f"{s.name} peak {s.peak_bytes / MB:.3f} MB" for s in (m.a, m.b) if s.peak_bytes is not None]
    return ", ".join(parts)


def failures(verdicts: Sequence[Verdict]) -> list[Verdict]:
    return [v for v in verdicts if v.failed]
