"""Measure the accuracy tiers (spec/tiers.yaml) on the real checkpoint, and propose their thresholds.

    # measure ports (each in the venv that has its runtime); results merge into docs/tiers/measurements.json
    OMP_NUM_THREADS=1 python tools/measure_tiers.py measure reference@float64 reference reference-float16 \
        reference-bfloat16 reference-int8 onnx-transformers-int8
    OMP_NUM_THREADS=1 /work/venvs/ctranslate2/bin/python tools/measure_tiers.py measure ctranslate2-int8
    # the criteria of every tier, from the measurements (paste into spec/tiers.yaml)
    python tools/measure_tiers.py propose

A port is measured exactly as the tier clauses run it (``bert_conformance.tiers``: the corpus of
spec/tiers_corpus.yaml on all-MiniLM-L6-v2, the oracle in float64), so a threshold is checked with the
arithmetic that measured it. ``PORT@DTYPE`` loads the port in DTYPE (default float32).

Thresholds (``propose``): each tier's value is the worst over the ports measured for it (``TIER_PORTS``);
for a similarity metric (1 is perfect) the threshold leaves ``MARGIN`` times the measured shortfall below 1,
for an error metric (0 is perfect) it is ``MARGIN`` times the measured error, and never tighter than the
tier's floor (``FLOORS``: float64 rounding for exact-float64; one flipped prediction for the agreements of
the lower tiers, whose resolution is one item). The margin written next to each threshold says which applied.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "docs" / "tiers" / "measurements.json"
# which measured runs set each tier's thresholds (the correct ports that declare it)
TIER_PORTS = {
    "exact-float64": ["reference@float64"],
    "float32": ["reference@float32", "transformers@float32", "onnx-transformers@float32", "ctranslate2@float32"],
    "float16": ["reference-float16@float32"],
    "bfloat16": ["reference-bfloat16@float32"],
    "int8": ["reference-int8@float32", "ctranslate2-int8@float32"],
    "int8-dynamic": ["reference-int8-dynamic@float32", "onnx-transformers-int8@float32"],
}
MARGIN = 3.0
AGREEMENTS = ("classification_agreement", "mlm_top1_agreement", "mlm_top5_overlap")
# the smallest shortfall (similarity) or error a tier's threshold allows, whatever was measured
FLOORS: dict[str, dict[str, float]] = {
    "exact-float64": {"similarity": 1e-12, "error": 1e-9},
    "float32": {"similarity": 1e-9, "error": 1e-5},
}


def measure(run: str) -> dict[str, Any]:
    """One port (``NAME`` or ``NAME@DTYPE``) over the corpus against the float64 oracle."""
    from bert_conformance import tiers
    from bert_conformance.adapter import load_implementation
    from bert_conformance.oracle import get_oracle

    name, _, dtype = run.partition("@")
    dtype = dtype or "float32"
    port = load_implementation(name)
    if port.capabilities_error:
        raise SystemExit(f"{name}: {port.capabilities_error}")
    checkpoint, corpus = tiers.checkpoint(), tiers.corpus()
    oracle = get_oracle("reference")
    start = time.perf_counter()
    expected = tiers.run(lambda batch: oracle.forward("BertModel", checkpoint.config, checkpoint.state_dict, batch),
                         corpus)
    oracle_s = time.perf_counter() - start
    start = time.perf_counter()
    model = port.load_model("BertModel", checkpoint.config, checkpoint.state_dict, dtype=dtype, device="cpu")
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    actual = tiers.run(model.forward, corpus)
    port_s = time.perf_counter() - start
    values = tiers.measure(actual, expected, checkpoint.state_dict["embeddings.word_embeddings.weight"])
    return {"port": name, "dtype": dtype, "declared_tier": port.capabilities.tier,
            "version": port.capabilities.version, "metrics": values,
            "seconds": {"oracle": round(oracle_s, 2), "load": round(load_s, 2), "port": round(port_s, 2)},
            "entries": corpus.entries, "tokens": int(len(expected.tokens)), "masked": int(len(expected.masked)),
            "python": platform.python_version(), "when": datetime.now(timezone.utc).isoformat(timespec="seconds")}


def load_results() -> dict[str, Any]:
    return json.loads(RESULTS.read_text()) if RESULTS.is_file() else {}


def save_results(results: dict[str, Any]) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=1, sort_keys=True) + "\n")


def _round_up(x: float, digits: int = 2) -> float:
    """``x`` rounded up to ``digits`` significant digits (a threshold never tighter than computed)."""
    if x <= 0:
        return 0.0
    scale = 10 ** (math.floor(math.log10(x)) - digits + 1)
    return math.ceil(x / scale - 1e-9) * scale


def threshold(tier: str, metric: str, kind: str, worst: float, items: int) -> tuple[float, str]:
    """(threshold, margin text) for one criterion from the worst measured value."""
    floors = FLOORS.get(tier, {})
    if kind == "similarity":
        shortfall = max(0.0, 1.0 - worst)
        floor = floors.get("similarity", 0.0)
        if metric in AGREEMENTS:
            floor = 0.0 if tier == "exact-float64" else max(floor, 1.0 / items)
        # MARGIN times the shortfall, but never more than halfway from the measured value down to 0: a lossy
        # tier (int8-dynamic: 0.34 short) still rejects a port twice as lossy
        allowed = max(min(MARGIN * shortfall, shortfall + (1 - shortfall) / 2), floor)
        allowed = float(f"{_round_up(allowed):.3g}")
        why = ("floor" if floor > MARGIN * shortfall else f"{MARGIN:g}x the measured shortfall"
               if allowed >= MARGIN * shortfall * 0.999 else "halfway from the measured value to 0")
        margin = f"allows {allowed:.3g} below 1 ({why}); measured shortfall {shortfall:.3g}"
        return round(1.0 - allowed, 12), margin
    floor = floors.get("error", 0.0)
    allowed = float(f"{_round_up(max(MARGIN * worst, floor)):.3g}")
    why = "floor" if floor > MARGIN * worst else f"{MARGIN:g}x the measured error"
    return allowed, f"{why}; measured {worst:.3g}, headroom {allowed - worst:.3g}"


def _yaml(value: float) -> str:
    """A float YAML reads as a float (YAML 1.1 reads ``1e-09`` as a string: it wants ``1.0e-09``)."""
    text = repr(float(value))
    return text.replace("e", ".0e") if "e" in text and "." not in text else text


def propose(results: dict[str, Any]) -> str:
    """The ``criteria`` lists of spec/tiers.yaml, from the measurements (YAML text)."""
    from bert_conformance.tiers import tiers_spec

    spec = tiers_spec()
    lines = []
    for tier, runs in TIER_PORTS.items():
        present = [r for r in runs if r in results]
        if not present:
            lines.append(f"# {tier}: no measurement (run: measure {' '.join(runs)})")
            continue
        lines.append(f"# {tier}: from {', '.join(present)}")
        for name, metric in spec.metrics.items():
            values = [(results[r]["metrics"][name], r) for r in present]
            pick = min if metric.kind == "similarity" else max
            worst, run = pick(values, key=lambda v: v[0])
            items = results[run]["entries"] if name == "classification_agreement" else results[run]["masked"]
            value, margin = threshold(tier, name, metric.kind, worst, items)
            lines.append(f"      - {{id: tiers.{tier.replace('-', '_')}.{name}, metric: {name}, threshold: {_yaml(value)}, "
                         f"measured: {_yaml(worst)}, measured_on: \"{run}\", margin: \"{margin}\"}}")
    return "\n".join(lines)


def table(results: dict[str, Any]) -> str:
    """Markdown: every measured run (rows) by metric (columns)."""
    from bert_conformance.tiers import tiers_spec

    names = list(tiers_spec().metrics)
    out = ["| run | " + " | ".join(names) + " | port s |", "|---" * (len(names) + 2) + "|"]
    for run, r in sorted(results.items()):
        out.append(f"| {run} | " + " | ".join(f"{r['metrics'][n]:.6g}" for n in names) + f" | {r['seconds']['port']} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("measure", help="measure ports (NAME or NAME@DTYPE) and merge the results")
    run.add_argument("runs", nargs="+")
    sub.add_parser("propose", help="print the criteria of every tier from the measurements")
    sub.add_parser("table", help="print the measurements as a Markdown table")
    args = parser.parse_args(argv)
    if args.command == "measure":
        for name in args.runs:
            result = measure(name)
            key = f"{result['port']}@{result['dtype']}"
            results = load_results()  # re-read: another venv may have written meanwhile
            results[key] = result
            save_results(results)
            print(key, json.dumps(result["metrics"]), result["seconds"], flush=True)
    elif args.command == "propose":
        print(propose(load_results()))
    else:
        print(table(load_results()))
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
