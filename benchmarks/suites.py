"""Typed view of spec/benchmarks.yaml: the seed tables, the models, the suites and the thresholds."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SPEC_FILE = Path(__file__).resolve().parents[1] / "spec" / "benchmarks.yaml"
SIDES = {"attention": ("eager", "sdpa"), "implementation": ("transformers", "reference")}


@dataclass(frozen=True)
class SeedRow:
    """One published row; times in the table's unit, memory in MB (1e6 bytes)."""

    batch_size: int
    seq_len: int
    eager_time: float
    sdpa_time: float
    speedup_pct: float
    eager_peak_mb: float
    sdpa_peak_mb: float
    mem_saving_pct: float

    @property
    def shape(self) -> tuple[int, int]:
        return (self.batch_size, self.seq_len)


@dataclass(frozen=True)
class SeedTable:
    id: str
    mode: str  # "train" | "infer"
    time_unit: str  # "s" | "ms"
    markdown: str
    rows: tuple[SeedRow, ...]


@dataclass(frozen=True)
class Suite:
    """What one group of benchmarks measures: two sides compared at each shape."""

    id: str
    compare: str  # "attention": eager vs sdpa of one port; "implementation": transformers vs a port
    device: str
    dtype: str
    model: str
    mode: str
    shapes: tuple[tuple[int, int], ...]
    warmup_rounds: int
    rounds: int
    attention: str | None = None  # the attention both sides use when compare == "implementation"
    seed_table: str | None = None
    threads: int | None = None  # torch threads while measuring (None: torch's default)

    @property
    def sides(self) -> tuple[str, str]:
        """Names of side a (the baseline) and side b; metrics are b relative to a."""
        return SIDES[self.compare]


@dataclass(frozen=True)
class Threshold:
    id: str
    suite: str
    metric: str
    op: str  # ">=" | "<="
    reason: str
    bound: float | None = None
    bounds: Mapping[tuple[int, int], float] | None = None  # per (batch_size, seq_len)
    derivation: Mapping[str, Any] | None = None

    def bound_for(self, shape: tuple[int, int]) -> float:
        if self.bounds is None:
            assert self.bound is not None
            return self.bound
        if shape not in self.bounds:
            raise KeyError(f"{self.id}: no bound for shape batch_size={shape[0]} seq_len={shape[1]}")
        return self.bounds[shape]


@dataclass(frozen=True)
class BenchSpec:
    spec_version: str
    seed_tables: Mapping[str, SeedTable]
    models: Mapping[str, dict[str, Any]]  # name -> HF config keys
    suites: Mapping[str, Suite]
    thresholds: tuple[Threshold, ...]
    raw: Mapping[str, Any]

    def thresholds_for(self, suite_id: str) -> tuple[Threshold, ...]:
        return tuple(t for t in self.thresholds if t.suite == suite_id)


def load_document(path: Path | None = None) -> dict[str, Any]:
    """The validated YAML document, through the spec loader (its bounds on size, aliases and expressions apply:
    docs/spec.md, "Limits")."""
    from bert_conformance.spec import load_document as load_spec_document

    return load_spec_document("benchmarks", path)


def parse(data: Mapping[str, Any], *, file: str = "spec/benchmarks.yaml") -> BenchSpec:
    """Build the typed spec; cross-references (suite -> model, threshold -> suite) are checked here."""
    tables = {t["id"]: _table(t) for t in data["seed"]["tables"]}
    models = {m["name"]: dict(m["config"]) for m in data["models"]}
    suites = {s["id"]: _suite(s) for s in data["suites"]}
    thresholds = tuple(_threshold(t) for t in data["thresholds"])
    for suite in suites.values():
        if suite.model not in models:
            raise ValueError(f"{file}: suites: {suite.id}: unknown model {suite.model!r}")
        if suite.seed_table is not None and suite.seed_table not in tables:
            raise ValueError(f"{file}: suites: {suite.id}: unknown seed_table {suite.seed_table!r}")
    for threshold in thresholds:
        if threshold.suite not in suites:
            raise ValueError(f"{file}: thresholds: {threshold.id}: unknown suite {threshold.suite!r}")
        if threshold.bounds is not None:
            missing = set(suites[threshold.suite].shapes) - set(threshold.bounds)
            if missing:
                raise ValueError(f"{file}: thresholds: {threshold.id}: no bound for shapes {sorted(missing)}")
    return BenchSpec(data["spec_version"], tables, models, suites, thresholds, data)


@functools.cache
def load_bench_spec() -> BenchSpec:
    """The repository's spec/benchmarks.yaml, validated and typed (once per process)."""
    return parse(load_document())


def _table(t: Mapping[str, Any]) -> SeedTable:
    rows = tuple(SeedRow(**row) for row in t["rows"])
    return SeedTable(t["id"], t["mode"], t["time_unit"], t["markdown"], rows)


def _suite(s: Mapping[str, Any]) -> Suite:
    return Suite(
        id=s["id"],
        compare=s["compare"],
        device=s["device"],
        dtype=s["dtype"],
        model=s["model"],
        mode=s["mode"],
        shapes=tuple((int(b), int(n)) for b, n in s["shapes"]),
        warmup_rounds=s["warmup_rounds"],
        rounds=s["rounds"],
        attention=s.get("attention"),
        seed_table=s.get("seed_table"),
        threads=s.get("threads"),
    )


def _threshold(t: Mapping[str, Any]) -> Threshold:
    bounds = None
    if "bounds" in t:
        bounds = {(b["batch_size"], b["seq_len"]): float(b["bound"]) for b in t["bounds"]}
    bound = float(t["bound"]) if "bound" in t else None
    return Threshold(t["id"], t["suite"], t["metric"], t["op"], t["reason"], bound, bounds, t.get("derivation"))
