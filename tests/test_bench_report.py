"""Reports: the seed's exact Markdown layout, the run report from a results JSON, the chart, atomic writes."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ is not installed

from benchmarks import tables  # noqa: E402
from benchmarks.metrics import Measurement, SideResult  # noqa: E402
from benchmarks.report import load_results, report  # noqa: E402
from benchmarks.suites import load_bench_spec  # noqa: E402

SEED_HEADER = ("|batch_size|seq_len|Time per batch (eager - s)|Time per batch (sdpa - s)|Speedup (%)|"
               "Eager peak mem (MB)|sdpa peak mem (MB)|Mem saving (%)|")


def test_training_header_is_the_seeds_exactly() -> None:
    spec = load_bench_spec()
    header, scale = tables.columns(spec.suites["bench.suite.cpu.training"], "reference")
    text = tables.markdown_table(header, [])
    assert text.splitlines()[0] == SEED_HEADER and scale == 1.0
    assert spec.seed_tables["bench.seed.training"].markdown.splitlines()[0] == SEED_HEADER


def test_inference_header_is_the_seeds_exactly() -> None:
    spec = load_bench_spec()
    header, scale = tables.columns(spec.suites["bench.suite.cuda.inference"], "reference")
    seed_header = spec.seed_tables["bench.seed.inference"].markdown.splitlines()[0]
    assert tables.markdown_table(header, []).splitlines()[0] == seed_header and scale == 1e3


def test_seed_rows_render_to_the_docs_text_byte_for_byte() -> None:
    for table in load_bench_spec().seed_tables.values():
        assert tables.seed_markdown(table) == table.markdown, table.id


def test_implementation_header_names_the_ports() -> None:
    header, _ = tables.columns(load_bench_spec().suites["bench.suite.cpu.implementation_training"], "myport")
    assert header[2:4] == ("Time per batch (transformers - s)", "Time per batch (myport - s)")
    assert header[5:7] == ("transformers peak mem (MB)", "myport peak mem (MB)") and len(header) == 8


def test_a_measured_row_uses_medians_and_the_seeds_formulas() -> None:
    m = Measurement("s", "p", 4, 256, SideResult("eager", (0.02, 0.023, 9.0), 939_213_000),
                    SideResult("sdpa", (0.017,), 764_834_000))
    row = tables.markdown_table(tables.TRAINING_COLUMNS, [tables.measurement_cells(m, 1.0)]).splitlines()[2]
    assert row == ("|4         |256    |0.023                     |0.017                    |35.294     "
                   "|939.213            |764.834           |22.800        |")


def test_a_row_with_a_wrong_number_of_cells_is_rejected() -> None:
    with pytest.raises(ValueError, match="2 cells"):
        tables.markdown_table(("a", "b", "c"), [[1, 2]])


def fake_results(tmp_path: Path, time_ratio: float, *, smoke: bool = False) -> Path:
    """A pytest-benchmark JSON with two cpu.training measurements (the shape of what the suites write)."""
    entries = []
    for shape in [(1, 128), (4, 128)]:
        m = Measurement("bench.suite.cpu.training", "reference", *shape,
                        SideResult("eager", (0.10, 0.11, 0.12), 100_000_000),
                        SideResult("sdpa", tuple(t * time_ratio for t in (0.10, 0.11, 0.12)), 99_000_000),
                        ({"what": "sdpa before timing: logits", "max_abs": 1e-7, "atol": 5e-6, "rtol": 1e-4},))
        entries.append({"name": f"test[{shape}]", "extra_info": {
            "measurement": m.to_dict(), "environment": {"torch": "2.x"}, "smoke": smoke, "model": {"h": 1}}})
    path = tmp_path / "cpu-test.json"
    path.write_text(json.dumps({"machine_info": {"cpu": {"brand_raw": "TestCPU"}}, "datetime": "today",
                                "benchmarks": entries}))
    return path


def test_report_writes_markdown_and_verdicts_and_passes(tmp_path: Path) -> None:
    lines: list[str] = []
    status = report(fake_results(tmp_path, 1.05), command="python -m benchmarks run", out=lines.append)
    assert status == 0
    md = (tmp_path / "cpu-test.md").read_text()
    assert SEED_HEADER in md and "|cpu|TestCPU|" in md
    assert "## bench.suite.cpu.training: reference" in md and "`python -m benchmarks run`" in md
    verdicts = json.loads((tmp_path / "cpu-test.verdicts.json").read_text())
    ran = [v for v in verdicts if v["status"] != "not-run"]
    assert {v["id"] for v in ran} == {"bench.threshold.cpu.training.time", "bench.threshold.cpu.training.memory"}
    assert all(v["status"] == "pass" for v in ran) and len(ran) == 4
    assert any(line.startswith("thresholds: 4 passed, 0 failed") for line in lines)


def test_a_failed_threshold_fails_the_run_with_the_numbers(tmp_path: Path) -> None:
    lines: list[str] = []
    assert report(fake_results(tmp_path, 1.2), out=lines.append) == 1
    failed = [line for line in lines if line.startswith("FAIL")]
    assert len(failed) == 2
    assert "time_ratio = 1.2 > bound 1.1" in failed[0] and "eager 110.000 ms, sdpa 132.000 ms" in failed[0]


def test_smoke_runs_report_but_do_not_enforce(tmp_path: Path) -> None:
    lines: list[str] = []
    assert report(fake_results(tmp_path, 1.2, smoke=True), out=lines.append) == 0
    assert any("not enforced" in line for line in lines)
    assert "**Smoke run**" in (tmp_path / "cpu-test.md").read_text()


def test_chart_is_written_with_matplotlib(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib not installed (the 'plot' extra)")
    report(fake_results(tmp_path, 1.0), out=lambda _: None)
    assert (tmp_path / "cpu-test.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chart_is_skipped_with_a_message_without_matplotlib(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    lines: list[str] = []
    assert report(fake_results(tmp_path, 1.0), out=lines.append) == 0
    assert any("matplotlib is not installed" in line for line in lines)
    assert not (tmp_path / "cpu-test.png").exists()


def test_unreadable_results_are_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json: not a readable pytest-benchmark JSON"):
        load_results(bad)
    bad.write_text(json.dumps({"benchmarks": [{"name": "test_x", "extra_info": {}}]}))
    with pytest.raises(ValueError, match="'test_x' has no extra_info.measurement"):
        load_results(bad)


def test_atomic_write_keeps_the_old_file_when_interrupted(tmp_path: Path, monkeypatch: Any) -> None:
    target = tmp_path / "out.md"
    target.write_text("old")

    def broken_replace(src: Any, dst: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        tables.write_atomic(target, "new")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.md"]  # no partial file left behind
