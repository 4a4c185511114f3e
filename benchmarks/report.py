"""From pytest-benchmark's JSON to the reports: Markdown tables, a PNG chart, threshold verdicts.

``report(json_path)`` writes ``<stem>.md``, ``<stem>.png`` (when matplotlib is installed) and
``<stem>.verdicts.json`` next to the JSON, prints every threshold verdict, and returns the exit status:
1 if a threshold failed (not in a smoke run), else 0.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.metrics import Measurement, Verdict, evaluate, failures
from benchmarks.suites import BenchSpec, load_bench_spec
from benchmarks.tables import columns, markdown_table, measurement_cells, write_atomic


@dataclass
class Results:
    """What one benchmark run measured, read back from pytest-benchmark's JSON."""

    measurements: list[Measurement]
    environment: dict[str, Any] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    datetime: str = ""
    smoke: bool = False
    models: dict[str, dict[str, Any]] = field(default_factory=dict)  # suite id -> model config used


def load_results(path: Path) -> Results:
    """Parse the JSON; a benchmark entry without our measurement is an error naming it."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not a readable pytest-benchmark JSON file: {error}") from None
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise ValueError(f"{path}: not a pytest-benchmark JSON file (no 'benchmarks' list)")
    results = Results([], machine=data.get("machine_info", {}), datetime=data.get("datetime", ""))
    for entry in data["benchmarks"]:
        extra = entry.get("extra_info", {})
        if "measurement" not in extra:
            raise ValueError(f"{path}: benchmark {entry.get('name')!r} has no extra_info.measurement")
        m = Measurement.from_dict(extra["measurement"])
        results.measurements.append(m)
        results.environment.update(extra.get("environment", {}))
        results.smoke = results.smoke or bool(extra.get("smoke"))
        results.models[m.suite] = extra.get("model", {})
    return results


def report(json_path: Path, *, command: str = "", spec: BenchSpec | None = None, out=print) -> int:
    """Write the Markdown, PNG and verdict files for one run; return the exit status."""
    spec = spec or load_bench_spec()
    json_path = Path(json_path)
    results = load_results(json_path)
    why = "its suite did not run (other device, skipped, or failed before measuring)"
    verdicts = evaluate(spec, results.measurements, why_not_run=why)
    stem = json_path.with_suffix("")
    write_atomic(stem.with_suffix(".md"), render_markdown(spec, results, verdicts, command=command))
    write_atomic(stem.with_suffix(".verdicts.json"), json.dumps(verdicts_json(verdicts), indent=2) + "\n")
    out(f"wrote {stem.with_suffix('.md')}")
    out(write_chart(spec, results, stem.with_suffix(".png")))
    for v in verdicts:
        out(f"{v.status.upper():8} {v.message}")
    failed = failures(verdicts)
    summary = _summary(verdicts)
    if results.smoke:
        out(f"smoke run: thresholds reported, not enforced (tiny model): {summary}")
        return 0
    out(f"thresholds: {summary}")
    return 1 if failed else 0


def _summary(verdicts: Sequence[Verdict]) -> str:
    counts = {s: sum(v.status == s for v in verdicts) for s in ("pass", "fail", "not-run")}
    return f"{counts['pass']} passed, {counts['fail']} failed, {counts['not-run']} not run"


def verdicts_json(verdicts: Sequence[Verdict]) -> list[dict[str, Any]]:
    rows = []
    for v in verdicts:
        m = v.measurement
        rows.append({
            "id": v.threshold.id, "status": v.status, "metric": v.threshold.metric, "op": v.threshold.op,
            "value": v.value, "bound": v.bound, "impl": m.impl if m else None,
            "batch_size": m.batch_size if m else None, "seq_len": m.seq_len if m else None, "message": v.message,
        })
    return rows


def render_markdown(spec: BenchSpec, results: Results, verdicts: Sequence[Verdict], *, command: str = "") -> str:
    lines = [f"# BERT benchmarks ({_devices(results)}), {results.datetime or 'unknown date'}", ""]
    if command:
        lines += [f"Command: `{command}`", ""]
    if results.smoke:
        lines += ["**Smoke run**: tiny model and shape, two rounds. The numbers only show that the machinery "
                  "works; thresholds are reported, not enforced.", ""]
    env = {**results.environment, "cpu": results.machine.get("cpu", {}).get("brand_raw", "")}
    lines += ["## Environment", "", plain_table(("key", "value"), [(k, str(v)) for k, v in env.items() if v != ""])]
    lines += ["", "## Thresholds (spec/benchmarks.yaml)", "", _verdict_table(verdicts), "", _summary(verdicts), ""]
    for suite_id, impl in _groups(results.measurements):
        lines += _suite_section(spec, results, suite_id, impl)
    return "\n".join(lines) + "\n"


def _verdict_table(verdicts: Sequence[Verdict]) -> str:
    header = ("threshold", "port", "batch_size", "seq_len", "metric", "value", "op", "bound", "status")
    rows = []
    for v in verdicts:
        m = v.measurement
        value = "n/a" if v.value is None else f"{v.value:.4g}"
        bound = "" if v.bound is None else f"{v.bound:g}"
        where = (m.impl, str(m.batch_size), str(m.seq_len)) if m else ("", "", "")
        rows.append((v.threshold.id, *where, v.threshold.metric, value, v.threshold.op, bound, v.status))
    return plain_table(header, rows)


def plain_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A compact Markdown table of strings (for everything that is not in the seed's layout)."""
    lines = ["|" + "|".join(header) + "|", "|" + "|".join("-" * len(h) for h in header) + "|"]
    return "\n".join(lines + ["|" + "|".join(r) + "|" for r in rows])


def _suite_section(spec: BenchSpec, results: Results, suite_id: str, impl: str) -> list[str]:
    suite = spec.suites[suite_id]
    found = sorted((m for m in results.measurements if m.suite == suite_id and m.impl == impl), key=lambda m: m.shape)
    header, scale = columns(suite, impl)
    model = "tiny smoke model" if results.smoke else suite.model
    rounds = len(found[0].a.times_s) if found else 0
    lines = [
        f"## {suite_id}: {impl}", "",
        f"{suite.device}, {suite.dtype}, {model}, {suite.mode}; median of {rounds} interleaved rounds per side; "
        f"MB = 1e6 bytes; speedup and saving use the seed's formulas (relative to {found[0].b.name if found else 'b'}).",
        "", markdown_table(header, [measurement_cells(m, scale) for m in found]), "",
        _detail_table(found), "",
    ]
    if suite.seed_table and not results.smoke:
        lines += ["Published (A100-80GB, PyTorch 2.2.0, float16, bert-base-uncased):", "",
                  spec.seed_tables[suite.seed_table].markdown, ""]
    return lines


def _detail_table(found: Sequence[Measurement]) -> str:
    header = ("batch_size", "seq_len", "side", "median (ms)", "min (ms)", "max (ms)", "rounds", "peak (bytes)")
    rows = []
    for m in found:
        for s in (m.a, m.b):
            times = [t * 1e3 for t in s.times_s]
            rows.append([str(m.batch_size), str(m.seq_len), s.name, f"{s.time_s * 1e3:.3f}", f"{min(times):.3f}",
                         f"{max(times):.3f}", str(len(times)), str(s.peak_bytes)])
    worst = max((c.get("max_abs", 0.0) or 0.0 for m in found for c in m.checks), default=0.0)
    checks = sum(len(m.checks) for m in found)
    return plain_table(header, rows) + (
        f"\n\nOutput checks: {checks} comparisons with the reference's untimed eager run passed "
        f"(tolerance {found[0].checks[0]['atol'] if found and found[0].checks else '?'} abs / "
        f"{found[0].checks[0]['rtol'] if found and found[0].checks else '?'} rel); worst max abs error {worst:.3g}."
    )


def _groups(measurements: Sequence[Measurement]) -> list[tuple[str, str]]:
    seen: dict[tuple[str, str], None] = {}
    for m in measurements:
        seen[(m.suite, m.impl)] = None
    return list(seen)


def _devices(results: Results) -> str:
    suites = load_bench_spec().suites
    return ", ".join(sorted({suites[m.suite].device for m in results.measurements if m.suite in suites})) or "nothing measured"


def write_chart(spec: BenchSpec, results: Results, path: Path) -> str:
    """Speedup and memory saving by shape, one row of plots per suite; a message if matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return f"no chart: matplotlib is not installed (pip install 'bert-conformance[plot]'); skipped {path.name}"
    groups = _groups(results.measurements)
    suites = list(dict.fromkeys(s for s, _ in groups))
    if not suites:
        return "no chart: nothing was measured"
    fig, axes = plt.subplots(len(suites), 2, figsize=(11, 3.2 * len(suites)), squeeze=False)
    for row, suite_id in enumerate(suites):
        _plot_suite(axes[row], spec, results, suite_id)
    fig.tight_layout()
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    write_atomic(path, buffer.getvalue())
    return f"wrote {path}"


def _plot_suite(axes: Any, spec: BenchSpec, results: Results, suite_id: str) -> None:
    suite = spec.suites[suite_id]
    impls = list(dict.fromkeys(m.impl for m in results.measurements if m.suite == suite_id))
    shapes = sorted({m.shape for m in results.measurements if m.suite == suite_id})
    labels = [f"{b}x{s}" for b, s in shapes]
    width = 0.8 / max(len(impls), 1)
    for ax, metric, title in ((axes[0], "speedup_pct", "Speedup (%)"), (axes[1], "mem_saving_pct", "Mem saving (%)")):
        for k, impl in enumerate(impls):
            by_shape = {m.shape: m for m in results.measurements if m.suite == suite_id and m.impl == impl}
            values = [(by_shape[s].metric(metric) if s in by_shape else None) for s in shapes]
            xs = [i + (k - (len(impls) - 1) / 2) * width for i in range(len(shapes))]
            ax.bar(xs, [v if v is not None else 0.0 for v in values], width, label=impl)
        if suite.seed_table and not results.smoke:
            seed = {r.shape: r for r in spec.seed_tables[suite.seed_table].rows}
            published = [getattr(seed[s], metric) if s in seed else None for s in shapes]
            ax.scatter(range(len(shapes)), [p if p is not None else float("nan") for p in published],
                       color="black", marker="_", s=300, zorder=3, label="published (A100)")
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set_xticks(range(len(shapes)), labels)
        ax.set_xlabel("batch_size x seq_len")
        ax.set_title(f"{suite_id}: {title}", fontsize=9)
        ax.legend(fontsize=7)
