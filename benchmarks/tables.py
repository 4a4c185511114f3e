"""Markdown tables in the seed doc's exact layout, and atomic file writing.

The seed's layout: ``|`` separated cells with no spaces, each cell left-aligned and padded to its header's
width, a rule of dashes as wide as each header, numbers with three decimals. Rendering the seed's own rows
with :func:`markdown_table` reproduces the doc's text byte for byte (tests/test_bench_report.py).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.metrics import MB, Measurement
from benchmarks.suites import SeedRow, SeedTable, Suite

TRAINING_COLUMNS = (
    "batch_size",
    "seq_len",
    "Time per batch (eager - s)",
    "Time per batch (sdpa - s)",
    "Speedup (%)",
    "Eager peak mem (MB)",
    "sdpa peak mem (MB)",
    "Mem saving (%)",
)
INFERENCE_COLUMNS = (
    "batch_size",
    "seq_len",
    "Per token latency eager (ms)",
    "Per token latency SDPA (ms)",
    "Speedup (%)",
    "Mem eager (MB)",
    "Mem BT (MB)",
    "Mem saved (%)",
)


def columns(suite: Suite, impl: str) -> tuple[tuple[str, ...], float]:
    """The header for a suite's table and the factor from seconds to its time unit.

    Attention suites use the seed's two headers exactly; implementation suites the training layout with the
    two ports in place of eager and sdpa.
    """
    if suite.compare == "attention":
        return (TRAINING_COLUMNS, 1.0) if suite.mode == "train" else (INFERENCE_COLUMNS, 1e3)
    unit, scale = ("s", 1.0) if suite.mode == "train" else ("ms", 1e3)
    a, b = "transformers", impl
    header = (
        "batch_size",
        "seq_len",
        f"Time per batch ({a} - {unit})",
        f"Time per batch ({b} - {unit})",
        "Speedup (%)",
        f"{a} peak mem (MB)",
        f"{b} peak mem (MB)",
        "Mem saving (%)",
    )
    return header, scale


def cell(value: int | float | None) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, int):
        return str(value)
    return f"{value:.3f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[int | float | None]]) -> str:
    """Header, rule and rows in the seed's layout (no trailing newline)."""
    widths = [len(h) for h in header]
    for row in rows:
        if len(row) != len(header):
            raise ValueError(f"row has {len(row)} cells, the header {len(header)}")
        widths = [max(w, len(cell(v))) for w, v in zip(widths, row)]
    lines = [
        "|" + "|".join(h.ljust(w) for h, w in zip(header, widths)) + "|",
        "|" + "|".join("-" * w for w in widths) + "|",
    ]
    lines += ["|" + "|".join(cell(v).ljust(w) for v, w in zip(row, widths)) + "|" for row in rows]
    return "\n".join(lines)


def seed_row_cells(row: SeedRow) -> list[int | float | None]:
    return [row.batch_size, row.seq_len, row.eager_time, row.sdpa_time, row.speedup_pct,
            row.eager_peak_mb, row.sdpa_peak_mb, row.mem_saving_pct]


def seed_markdown(table: SeedTable) -> str:
    """A seed table re-rendered from its numbers (must equal the doc's text)."""
    header = TRAINING_COLUMNS if table.mode == "train" else INFERENCE_COLUMNS
    return markdown_table(header, [seed_row_cells(r) for r in table.rows])


def measurement_cells(m: Measurement, time_scale: float) -> list[int | float | None]:
    """One measured row in the seed's columns: median times, the seed's speedup and saving formulas, MB = 1e6 B."""

    def mb(value: int | None) -> float | None:
        return None if value is None else value / MB

    return [m.batch_size, m.seq_len, m.a.time_s * time_scale, m.b.time_s * time_scale, m.metric("speedup_pct"),
            mb(m.a.peak_bytes), mb(m.b.peak_bytes), m.metric("mem_saving_pct")]


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write to a temporary file in the same folder, then rename: readers never see a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
