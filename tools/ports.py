"""The conformance matrix of real BERT runtimes (docs/ports.md), regenerated from the suite's JSON reports.

    python tools/ports.py run [PORT ...]   # run the suite against each port, then write the matrix
    python tools/ports.py matrix           # rewrite docs/ports.md's generated section from docs/ports/*.json
    python tools/ports.py matrix --check   # exit 1 if docs/ports.md is not what the summaries give

``tox -e ports`` runs ``run`` in an environment with every runtime installed. Each port runs the whole suite
(``pytest --pyargs bert_conformance.clauses``) with its expectations file (tests/expectations/<port>.txt: real
deviations only, each with its reason) under ``--bert-strict``; the run's report is reduced to
docs/ports/<port>.json (status per test id, messages of what did not pass, the command, its wall time) and
docs/ports.md's section between the ``matrix`` markers is rebuilt from those files. The prose around it (the
write-up of every deviation) is kept as it is.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SUMMARIES = ROOT / "docs" / "ports"
DOC = ROOT / "docs" / "ports.md"
EXPECTATIONS = ROOT / "tests" / "expectations"
START, END = "<!-- matrix:start (tools/ports.py) -->", "<!-- matrix:end -->"
# port name -> what it is (the --bert-impl name is the port name; "numpy-docs" is docs/adapters.md's example)
PORTS = {
    "reference": "this project's PyTorch BERT (the baseline: claims everything)",
    "onnx-transformers": "ONNX Runtime on a torch.onnx export of transformers' BertModel / SequenceClassification",
    "ctranslate2": "CTranslate2's Encoder, converted by its TransformersConverter",
    "keras-hub": "keras-hub's BertBackbone / BertTextClassifier (Keras 3, torch backend)",
    "numpy-docs": "the numpy BertModel of docs/adapters.md (declares the core surface only)",
    "tensorflow": "transformers 4.57's TFBert* classes (TensorFlow 2.21, CPU): the older documentation's TF classes",
    "flax": "transformers 4.57's FlaxBert* classes (JAX 0.10, CPU): the older documentation's Flax classes",
    # reduced-precision and quantized ports, each gated by the accuracy tier it declares (docs/tiers.md)
    "reference-float16": "the reference in float16 on the CPU (control of the float16 tier)",
    "reference-bfloat16": "the reference in bfloat16 on the CPU (control of the bfloat16 tier)",
    "reference-int8": "the reference with per-channel weight-only int8 (simulated quantisation)",
    "reference-int8-dynamic": "torch.ao dynamic int8 quantisation of the reference's Linear layers",
    "onnx-transformers-int8": "ONNX Runtime quantize_dynamic (int8) of the transformers export",
    "ctranslate2-int8": "CTranslate2's Encoder with compute_type int8",
}
# ports whose gate is red because they fail the core (core.*), which no expectations file can excuse: the port is
# not BERT as the spec defines it. The verdict is recorded; `run` fails if it changes (a new failure, or a fix).
DOES_NOT_CONFORM = {
    "keras-hub": "BertBackbone computes hidden_act 'gelu' with the tanh approximation: core.forward.* fail",
}
# run options a port needs: eager JAX compiles every new input shape, and the first tier clause measures the whole
# 300-entry corpus (about 40 shapes) in one call, past the default 120 s clause timeout on 2 busy cores
PORT_ARGS = {"flax": ("--bert-timeout", "900")}
# ports that need transformers 4.x run in their own tox envs (tox -e port-flax, port-tensorflow); `run`
# without names runs the others (tox -e ports)
OWN_ENV = ("tensorflow", "flax")
FAMILIES = ("core", "config", "parameters", "heads", "numerics", "golden", "properties", "labels", "decoder",
            "gradients", "tokenizer", "tiers")
STATUSES = ("pass", "fail", "xfail", "not-claimed", "skipped-env")


def run_port(name: str, workers: str) -> dict[str, Any]:
    """Run the suite against one port; return its reduced report (and write it to docs/ports/<name>.json)."""
    with tempfile.TemporaryDirectory() as folder:
        impl = name
        env_path = ""
        if name == "numpy-docs":
            (Path(folder) / "numpy_bert.py").write_text(_docs_example())
            impl, env_path = "numpy_bert:implementation", folder
        args = ["--pyargs", "bert_conformance.clauses", "-p", "no:cacheprovider", "-q", "--bert-impl", impl]
        expectations = EXPECTATIONS / f"{name}.txt"
        if expectations.is_file():
            args += ["--bert-expectations", str(expectations.relative_to(ROOT)), "--bert-strict"]
        args += list(PORT_ARGS.get(name, ()))
        if workers != "0":
            args += ["-n", workers]
        report = Path(folder) / "report.json"
        command = ["pytest", *args]
        env = {**_environ(), **({"PYTHONPATH": env_path} if env_path else {})}
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", *command, "--bert-report", str(report)], cwd=ROOT, env=env,
                              capture_output=True, text=True)
        wall = time.monotonic() - started
        if not report.is_file():
            raise SystemExit(f"{name}: the suite wrote no report (exit {done.returncode}):\n{done.stdout[-3000:]}"
                             f"{done.stderr[-2000:]}")
        summary = reduce(json.loads(report.read_text()), name, " ".join(map(shlex.quote, command)), wall,
                         done.returncode)
    SUMMARIES.mkdir(parents=True, exist_ok=True)
    (SUMMARIES / f"{name}.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    return summary


def _environ() -> dict[str, str]:
    import os

    return {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false", "TF_CPP_MIN_LOG_LEVEL": "3"}


def _docs_example() -> str:
    text = (ROOT / "docs" / "adapters.md").read_text()
    match = re.search(r"<!-- example: numpy_bert.py -->\n```python\n(.*?)\n```", text, re.S)
    if not match:
        raise SystemExit("docs/adapters.md lost its numpy_bert.py example block")
    return match.group(1)


def reduce(report: dict[str, Any], name: str, command: str, wall: float, exit_code: int) -> dict[str, Any]:
    """The part of a report the matrix needs: status per test id, and the message of what did not pass."""
    clauses = {}
    for test_id, result in report["clauses"].items():
        entry: dict[str, Any] = {"status": result["status"]}
        if result["status"] in ("fail", "xfail", "not-claimed", "skipped-env"):
            entry["message"] = result.get("message", "")[:600]
        observed = result.get("observed")
        if observed:  # the comparison closest to its tolerance
            entry["observed"] = {"what": observed["what"], "max_abs": float(f"{observed['max_abs']:.3g}")}
        if result.get("tier"):  # a tier criterion: what was measured against which threshold
            entry["tier"] = {k: result["tier"][k] for k in ("tier", "metric", "value", "threshold", "margin")}
        clauses[test_id] = entry
    impl = report["implementation"]
    return {"port": name, "name": impl["name"], "version": impl["version"], "capabilities": impl["capabilities"],
            "command": command, "wall_s": round(wall, 1), "exit_code": exit_code,
            "date": time.strftime("%Y-%m-%d"), "summary": report["summary"], "clauses": clauses}


# --- the matrix ----------------------------------------------------------------------------------------------


def load_summaries() -> list[dict[str, Any]]:
    found = {p.stem: json.loads(p.read_text()) for p in sorted(SUMMARIES.glob("*.json"))}
    return [found[name] for name in PORTS if name in found]


def family(test_id: str) -> str:
    return test_id.split(".", 1)[0]


def counts(summary: dict[str, Any]) -> dict[str, Counter]:
    by_family: dict[str, Counter] = {f: Counter() for f in FAMILIES}
    for test_id, entry in summary["clauses"].items():
        by_family.setdefault(family(test_id), Counter())[entry["status"]] += 1
    return by_family


def _cell(counter: Counter) -> str:
    """pass / fail (+xfail) / not claimed; skipped-env only when present."""
    text = f"{counter['pass']} / {counter['fail'] + counter['xfail']} / {counter['not-claimed']}"
    return text + (f" ({counter['skipped-env']} env)" if counter["skipped-env"] else "")


def _numbers_checked(summary: dict[str, Any]) -> int:
    """Passed clauses that compare the port's numbers with expected values beyond core.*."""
    return sum(1 for test_id, e in summary["clauses"].items()
               if e["status"] == "pass" and family(test_id) in ("golden", "numerics", "properties"))


REAL_CHECKPOINT = "golden.model.minilm-float32"  # the real MiniLM checkpoint on real sentences


def _observed(summary: dict[str, Any], test_id: str) -> str:
    entry = summary["clauses"].get(test_id, {})
    value = entry.get("observed", {}).get("max_abs")
    return f"{value:.2g} ({entry['status']})" if value is not None else entry.get("status", "-")


def render(summaries: list[dict[str, Any]]) -> str:
    names = [s["port"] for s in summaries]
    lines = [START, "", "Cells: passed / failed (expected failures included) / not claimed, per clause family.", "",
             "| family | " + " | ".join(f"`{n}`" for n in names) + " |",
             "|---|" + "---|" * len(names)]
    tables = [counts(s) for s in summaries]
    for fam in FAMILIES:
        lines.append(f"| {fam} | " + " | ".join(_cell(t[fam]) for t in tables) + " |")
    total = [Counter(s["summary"]) for s in summaries]
    lines.append("| **all** | " + " | ".join(f"**{_cell(c)}**" for c in total) + " |")
    lines.append("| golden + numerics + properties passed | "
                 + " | ".join(str(_numbers_checked(s)) for s in summaries) + " |")
    lines.append(f"| `{REAL_CHECKPOINT}` max abs error | " + " | ".join(_observed(s, REAL_CHECKPOINT) for s in summaries)
                 + " |")
    lines += ["", "| port | what | version | declared surface | wall time | gate |", "|---|---|---|---|---|---|"]
    for s in summaries:
        surface = "; ".join(f"{k}: {', '.join(v) or '-'}" for k, v in s["capabilities"].items()
                            if k in ("heads", "dtypes", "inputs", "outputs", "activations", "padding",
                                     "attention_masks", "checkpoints"))
        gate = "green" if s["exit_code"] == 0 else f"**red** (exit {s['exit_code']}): {_red(s)}"
        lines.append(f"| `{s['port']}` | {PORTS[s['port']]} | {s['version']} | {surface or 'everything'} | "
                     f"{s['wall_s']:.0f} s | {gate} |")
    lines += _tier_table(summaries)
    lines += ["", "Commands (from the repository root; `tox -e ports` runs them all):", ""]
    lines += [f"- `{s['port']}` ({s['date']}): `{s['command']}`" for s in summaries]
    for s in summaries:
        failing = {t: e for t, e in s["clauses"].items() if e["status"] in ("fail", "xfail")}
        if not failing:
            continue
        lines += ["", f"### `{s['port']}`: {len(failing)} failing test ids (real deviations; write-up below)", ""]
        by_reason: dict[str, list[str]] = {}
        for test_id, entry in sorted(failing.items()):
            first_line = entry["message"].splitlines()[0] if entry["message"] else ""
            reason = first_line.split("): ", 1)[-1] if entry["status"] == "xfail" else _failure_kind(
                s["port"], test_id) + entry["message"].splitlines()[0][:200]
            by_reason.setdefault(reason, []).append(test_id)
        for reason, ids in by_reason.items():
            lines.append(f"- {reason} ({len(ids)}): " + ", ".join(f"`{i}`" for i in ids))
    lines += ["", END]
    return "\n".join(lines)


def _tier_table(summaries: list[dict[str, Any]]) -> list[str]:
    """Per port: the tier it declares, its tier criteria passed, and the criterion closest to its threshold."""
    rows = []
    for s in summaries:
        criteria = [(t, e) for t, e in s["clauses"].items() if e.get("tier")]
        if not criteria:
            continue
        declared = s["capabilities"].get("tier", "exact (none declared)")
        passed = sum(e["status"] == "pass" for _, e in criteria)
        test_id, entry = min(criteria, key=lambda c: c[1]["tier"]["margin"] / (abs(c[1]["tier"]["threshold"]) or 1.0))
        t = entry["tier"]
        rows.append(f"| `{s['port']}` | {declared} | {passed} / {len(criteria)} | `{test_id}`: {t['value']:.6g} "
                    f"against {t['threshold']:.6g} (margin {t['margin']:.3g}) |")
    if not rows:
        return []
    return ["", "Accuracy tiers (docs/tiers.md): the criteria each port is held to (its tier and every looser one), "
            "and the one closest to its threshold (relative margin).", "",
            "| port | declared tier | tier criteria passed | smallest margin |", "|---|---|---|---|", *rows]


def _failure_kind(port: str, test_id: str) -> str:
    if port in DOES_NOT_CONFORM and test_id.startswith("core."):
        return "CORE FAILS (the gate is red; the core cannot be excused): "
    return "UNEXPECTED: "


def _red(summary: dict[str, Any]) -> str:
    failed = sorted(t for t, e in summary["clauses"].items() if e["status"] == "fail")
    return f"{DOES_NOT_CONFORM.get(summary['port'], 'unexpected')} ({', '.join(f'`{t}`' for t in failed)})"


def verdict_problem(summary: dict[str, Any]) -> str | None:
    """Why a port's run is not its recorded verdict: a green gate, or red only on the core for the ports that
    do not conform (any other failure, or a stale expectation, is a problem)."""
    failed = [t for t, e in summary["clauses"].items() if e["status"] == "fail"]
    if summary["port"] not in DOES_NOT_CONFORM:
        return None if summary["exit_code"] == 0 else "an unexpected failure or a stale expectation"
    if summary["exit_code"] == 0:
        return "recorded as not conforming, but the gate is green now: update DOES_NOT_CONFORM"
    outside = [t for t in failed if not t.startswith("core.")]
    if outside or not failed:
        return f"fails outside the core: {', '.join(outside) or 'nothing failed but the gate is red'}"
    return None


def write_matrix(check: bool) -> int:
    summaries = load_summaries()
    text = DOC.read_text() if DOC.exists() else f"# Ports\n\n{START}\n{END}\n"
    if START not in text or END not in text:
        raise SystemExit(f"{DOC}: the matrix markers are missing")
    new = text[: text.index(START)] + render(summaries) + text[text.index(END) + len(END):]
    if check:
        if new != text:
            print(f"{DOC} is stale: run python tools/ports.py matrix", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new)
    print(f"wrote {DOC.relative_to(ROOT)} ({len(summaries)} ports)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the suite against ports, then write the matrix")
    run.add_argument("ports", nargs="*", metavar="PORT",
                     help=f"default: {', '.join(p for p in PORTS if p not in OWN_ENV)} ({', '.join(OWN_ENV)}: own envs)")
    run.add_argument("-n", "--workers", default="2", help="pytest-xdist workers per run (0: none)")
    matrix = sub.add_parser("matrix", help="rewrite docs/ports.md from docs/ports/*.json")
    matrix.add_argument("--check", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "matrix":
        return write_matrix(args.check)
    unknown = sorted(set(args.ports) - set(PORTS))
    if unknown:
        parser.error(f"unknown port(s) {unknown}; known: {', '.join(PORTS)}")
    failed = []
    for name in args.ports or [p for p in PORTS if p not in OWN_ENV]:
        summary = run_port(name, args.workers)
        print(f"{name}: {summary['summary']} in {summary['wall_s']:.0f} s (exit {summary['exit_code']})", flush=True)
        problem = verdict_problem(summary)
        if problem:
            failed.append(f"{name} ({problem})")
    write_matrix(check=False)
    if failed:
        print(f"not the recorded verdict: {'; '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
