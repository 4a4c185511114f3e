"""spec/benchmarks.yaml: it validates, its seed numbers are the HF doc's, and its thresholds follow from them."""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # benchmarks/ is not installed

from benchmarks.suites import BenchSpec, load_bench_spec, load_document, parse  # noqa: E402

SEED_DOC = Path(os.environ.get("BERT_SEED_DOC", "/work/shared/seeds/hf-bert-doc-v5.6.0-ko.md"))
SCHEMA = json.loads((ROOT / "spec" / "schema" / "benchmarks.schema.json").read_text(encoding="utf-8"))
COLUMNS = ("batch_size", "seq_len", "eager_time", "sdpa_time", "speedup_pct", "eager_peak_mb", "sdpa_peak_mb",
           "mem_saving_pct")


@pytest.fixture(scope="module")
def spec() -> BenchSpec:
    return load_bench_spec()


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "spec" / "benchmarks.yaml").read_text(encoding="utf-8"))


def markdown_rows(markdown: str) -> tuple[list[str], list[dict[str, float]]]:
    """Header and numeric rows of a seed-layout Markdown table (an independent parser of the doc's text)."""
    lines = [line for line in markdown.strip().splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert set(lines[1].replace("|", "")) == {"-"}, lines[1]
    rows = []
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows.append({name: (int(v) if i < 2 else float(v)) for i, (name, v) in enumerate(zip(COLUMNS, cells))})
    return header, rows


def doc_tables() -> list[str]:
    """The doc's two tables whose header starts with |batch_size|seq_len| (training first, then inference)."""
    text = SEED_DOC.read_text(encoding="utf-8")
    return re.findall(r"^\|batch_size\|seq_len\|.*?(?=\n\n|\n#)", text, flags=re.M | re.S)


def test_document_validates_through_the_loader() -> None:
    data = load_document()
    assert data["spec_version"] and data["seed"]["id"] == "bench.seed"
    parse(data)


def test_clause_ids_are_unique_and_prefixed(raw: dict[str, Any]) -> None:
    ids: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("id"), str):
                ids.append(node["id"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(raw)
    assert len(ids) > 20
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert all(re.fullmatch(r"bench(\.[a-z0-9_]+)+", i) for i in ids), ids


def test_yaml_rows_equal_the_yaml_markdown(spec: BenchSpec) -> None:
    for table in spec.seed_tables.values():
        _, rows = markdown_rows(table.markdown)
        assert [{c: getattr(r, c) for c in COLUMNS} for r in table.rows] == rows, table.id


@pytest.mark.skipif(not SEED_DOC.exists(), reason=f"seed doc not found at {SEED_DOC} (set BERT_SEED_DOC)")
def test_seed_tables_are_the_docs_tables_verbatim(spec: BenchSpec) -> None:
    found = doc_tables()
    assert len(found) == 2, f"expected the doc's training and inference tables, found {len(found)}"
    training, inference = spec.seed_tables["bench.seed.training"], spec.seed_tables["bench.seed.inference"]
    for doc_text, table in zip(found, (training, inference)):
        assert doc_text.strip() == table.markdown, table.id
        header, rows = markdown_rows(doc_text)
        assert [{c: getattr(r, c) for c in COLUMNS} for r in table.rows] == rows


@pytest.mark.skipif(not SEED_DOC.exists(), reason=f"seed doc not found at {SEED_DOC} (set BERT_SEED_DOC)")
def test_seed_hardware_is_the_docs(spec: BenchSpec) -> None:
    text = SEED_DOC.read_text(encoding="utf-8")
    hw = spec.raw["seed"]["hardware"]
    line = next(line for line in text.splitlines() if "A100" in line)
    for value in (hw["gpu"], hw["cpu"], hw["ram"], f"PyTorch {hw['pytorch']}", hw["os"], f"`{hw['dtype']}`"):
        assert value in line, value


def test_speedup_column_is_eager_over_sdpa_minus_one_on_unrounded_times(spec: BenchSpec) -> None:
    """Each published speedup lies in the interval the 3-decimal times allow, and not every one equals the
    rounded quotient: it was computed before rounding."""
    exact = 0
    for table in spec.seed_tables.values():
        for r in table.rows:
            half = 0.0005
            low = ((r.eager_time - half) / (r.sdpa_time + half) - 1) * 100
            high = ((r.eager_time + half) / (r.sdpa_time - half) - 1) * 100
            assert low <= r.speedup_pct <= high, (table.id, r.shape)
            exact += abs((r.eager_time / r.sdpa_time - 1) * 100 - r.speedup_pct) < 0.0005
    assert exact < sum(len(t.rows) for t in spec.seed_tables.values())


def test_mem_saving_column_is_eager_over_sdpa_minus_one(spec: BenchSpec) -> None:
    for table in spec.seed_tables.values():
        for r in table.rows:
            # the MB inputs are rounded to 3 decimals: allow their effect (< 5e-4 points here) plus the output's
            assert abs((r.eager_peak_mb / r.sdpa_peak_mb - 1) * 100 - r.mem_saving_pct) <= 0.001, (table.id, r.shape)
    r = spec.seed_tables["bench.seed.training"].rows[-1]  # 16 x 512: the usual "saving" would read 43.127
    assert abs((1 - r.sdpa_peak_mb / r.eager_peak_mb) * 100 - r.mem_saving_pct) > 30


def test_training_saving_is_the_attention_storage_of_eager(spec: BenchSpec) -> None:
    """Saved MB = 5 bytes x batch x heads x seq^2 x layers (bert-base: 12 heads, 12 layers), within 17 MB."""
    for r in spec.seed_tables["bench.seed.training"].rows:
        analytic = 5 * r.batch_size * 12 * r.seq_len**2 * 12 / 1e6
        assert abs((r.eager_peak_mb - r.sdpa_peak_mb) - analytic) <= 17, r.shape


def seed_column(spec: BenchSpec, table_id: str, column: str) -> dict[tuple[int, int], float]:
    rows = spec.seed_tables[table_id].rows
    if column == "peak_ratio":
        return {r.shape: r.sdpa_peak_mb / r.eager_peak_mb for r in rows}
    if column == "saved_mb":
        return {r.shape: r.eager_peak_mb - r.sdpa_peak_mb for r in rows}
    return {r.shape: getattr(r, column) for r in rows}


def test_thresholds_follow_from_their_derivation(spec: BenchSpec) -> None:
    derived = [t for t in spec.thresholds if t.derivation]
    assert {t.suite for t in derived} == {"bench.suite.cuda.training", "bench.suite.cuda.inference"}
    for t in derived:
        d = t.derivation
        values = seed_column(spec, d["source"], d["column"])
        if d["envelope"] == "per_shape":
            assert t.bounds is not None and set(t.bounds) == set(values), t.id
            for shape, value in values.items():
                assert abs(t.bounds[shape] - d["factor"] * value) <= 0.0005 + 1e-9, (t.id, shape)
            continue
        envelope = min(values.values()) if d["envelope"] == "min" else max(values.values())
        # a ">=" bound sits below the published envelope, a "<=" bound above it
        expected = envelope - d["margin"] if t.op == ">=" else envelope + d["margin"]
        assert t.bound is not None and abs(t.bound - expected) <= 0.00005, t.id


def test_seed_rows_pass_their_own_gpu_thresholds(spec: BenchSpec) -> None:
    """The published numbers must satisfy the thresholds derived from them (margins point the right way)."""
    from benchmarks.metrics import Measurement, SideResult, judge

    for suite_id, table_id in (("bench.suite.cuda.training", "bench.seed.training"),
                               ("bench.suite.cuda.inference", "bench.seed.inference")):
        for r in spec.seed_tables[table_id].rows:
            # published times are rounded; rebuild times with the published speedup
            m = Measurement(suite_id, "published", r.batch_size, r.seq_len,
                            SideResult("eager", (1.0 + r.speedup_pct / 100,), int(r.eager_peak_mb * 1e6)),
                            SideResult("sdpa", (1.0,), int(r.sdpa_peak_mb * 1e6)))
            for t in spec.thresholds_for(suite_id):
                assert judge(t, m).status == "pass", judge(t, m).message


def test_cuda_suites_use_the_seeds_shapes_dtype_and_model(spec: BenchSpec) -> None:
    transformers = pytest.importorskip("transformers", reason="transformers not installed")
    hf_default = transformers.BertConfig()  # HF's defaults are bert-base-uncased's architecture
    for suite in spec.suites.values():
        if suite.seed_table is None:
            continue
        table = spec.seed_tables[suite.seed_table]
        assert list(suite.shapes) == [r.shape for r in table.rows], suite.id
        assert suite.mode == table.mode and suite.dtype == spec.raw["seed"]["hardware"]["dtype"] == "float16"
        assert suite.device == "cuda" and suite.compare == "attention"
        for key, value in spec.models[suite.model].items():
            assert getattr(hf_default, key) == value, (suite.model, key)


def test_every_suite_has_a_time_and_a_memory_threshold(spec: BenchSpec) -> None:
    for suite in spec.suites.values():
        metrics = {t.metric for t in spec.thresholds_for(suite.id)}
        assert metrics & {"speedup_pct", "time_ratio"}, suite.id
        assert metrics & {"peak_ratio", "saved_mb", "mem_saving_pct"}, suite.id


def _errors(data: dict[str, Any]) -> list[str]:
    return [e.message for e in jsonschema.Draft202012Validator(SCHEMA).iter_errors(data)]


MUTATIONS = {
    "missing spec_version": lambda d: d.pop("spec_version"),
    "seed row without a column": lambda d: d["seed"]["tables"][0]["rows"][0].pop("sdpa_time"),
    "negative time": lambda d: d["seed"]["tables"][0]["rows"][0].update(eager_time=-1.0),
    "unknown metric": lambda d: d["thresholds"][0].update(metric="throughput"),
    "unknown op": lambda d: d["thresholds"][0].update(op="=="),
    "bound and bounds": lambda d: d["thresholds"][0].update(bounds=[{"batch_size": 1, "seq_len": 1, "bound": 1.0}]),
    "no bound": lambda d: d["thresholds"][0].pop("bound"),
    "threshold without reason": lambda d: d["thresholds"][0].pop("reason"),
    "implementation suite without attention": lambda d: next(
        s for s in d["suites"] if s["compare"] == "implementation").pop("attention"),
    "attention suite with attention": lambda d: d["suites"][0].update(attention="sdpa"),
    "shape of three numbers": lambda d: d["suites"][0]["shapes"].append([1, 2, 3]),
    "unknown key": lambda d: d.update(extra=1),
    "clause id outside bench.": lambda d: d["methods"][0].update(id="timing"),
}


@pytest.mark.parametrize("mutation", list(MUTATIONS))
def test_schema_rejects_broken_documents(raw: dict[str, Any], mutation: str) -> None:
    assert _errors(raw) == []
    broken = copy.deepcopy(raw)
    MUTATIONS[mutation](broken)
    assert _errors(broken), mutation


def test_parse_rejects_dangling_references(raw: dict[str, Any]) -> None:
    broken = copy.deepcopy(raw)
    broken["suites"][0]["model"] = "bert-huge"
    with pytest.raises(ValueError, match="bert-huge"):
        parse(broken)
    broken = copy.deepcopy(raw)
    broken["thresholds"][0]["suite"] = "bench.suite.cpu.nothing"
    with pytest.raises(ValueError, match="bench.suite.cpu.nothing"):
        parse(broken)
    broken = copy.deepcopy(raw)
    memory = next(t for t in broken["thresholds"] if "bounds" in t)
    memory["bounds"].pop()
    with pytest.raises(ValueError, match="no bound for shapes"):
        parse(broken)
