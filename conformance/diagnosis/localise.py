"""Running the probe battery on a port and localising the first component whose output diverges.

Everything goes through the public contract: :class:`bert_conformance.adapter.Port` loads each probe's model
(its wrappers raise *not claimed* for an undeclared activation, input, output or mask form: the probe is then
skipped, never asked) and :class:`~bert_conformance.adapter.CheckedModel` checks what comes back. Expected
values come from the float64 oracle; comparisons use the spec's tolerance for the dtype the port runs in, or
its accuracy tier's criteria (:mod:`~bert_conformance.diagnosis.standard`). The contract probes call the
raw port, as ``core.inputs_unchanged`` does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from bert_conformance.adapter import Port
from bert_conformance.case import run_in_pieces
from bert_conformance.diagnosis.probes import BATTERY, Probe
from bert_conformance.diagnosis.standard import Similarity, Standard, tolerance
from bert_conformance.tolerance import Tolerance

SKIPPED, PASSED, FAILED, ERROR = "skipped", "passed", "failed", "error"


@dataclass
class ProbeResult:
    """One probe on one port: its status, the worst error ratio (> 1 fails) and what the port returned."""

    probe: Probe
    status: str
    worst: float = 0.0
    max_abs: float = 0.0
    message: str = ""
    outputs: Any = field(default=None, repr=False)

    @property
    def failed(self) -> bool:
        return self.status in (FAILED, ERROR)


def call(port: Port, probe: Probe, dtype: str) -> dict[str, Any]:
    """The port's outputs on ``probe`` (``{"_second": ...}`` added for a self-consistency probe)."""
    config, weights, inputs = probe.build()
    attention = probe.attention
    if attention is not None and attention not in port.capabilities.attention:
        raise pytest.skip.Exception(f"attention {attention} not claimed")
    if probe.feature is not None and probe.feature not in port.capabilities.features:
        raise pytest.skip.Exception(f"feature {probe.feature} not claimed")
    if probe.head not in port.capabilities.heads:
        raise pytest.skip.Exception(f"head {probe.head} not claimed")
    model = port.load_model(probe.head, config, weights, dtype=dtype, device="cpu", attention=attention)
    floats = {k: v.astype(dtype) if v.dtype.kind == "f" and k != "attention_mask" else v for k, v in inputs.items()}
    if probe.kind == "cache":
        return cached_pieces(model, floats, probe)
    outputs = model.forward(floats, **probe.options)
    if probe.kind == "self":
        outputs = {**outputs, "_second": model.forward(floats, **probe.options)}
    elif probe.kind == "bidirectional":
        outputs = {**outputs, "_second": model.forward(last_token_changed(floats), **probe.options)}
    return outputs


def cached_pieces(model: Any, inputs: Mapping[str, np.ndarray], probe: Probe) -> dict[str, Any]:
    """``last_hidden_state`` of the sequence run in cached pieces cut at ``probe.cuts``, side by side."""
    steps = run_in_pieces(model.forward, dict(inputs), probe.cuts, mask=inputs.get("attention_mask"))
    return {"last_hidden_state": np.concatenate([np.asarray(s["last_hidden_state"]) for s in steps], axis=1)}


CONTRACT_KINDS = ("inputs_unchanged", "plain_arrays")


def contract_probe(port: Port, probe: Probe, dtype: str) -> ProbeResult:
    """The contract itself, through the raw port (as ``core.inputs_unchanged`` does): ``inputs_unchanged``,
    the state dict and inputs it was handed are unchanged after load_model and forward (the suite's own
    copies would otherwise hide a port that writes into them); ``plain_arrays``, what forward returns is a
    base ``np.ndarray`` (a subclass can bring its own ``__sub__`` or ``astype`` into a comparison; the suite
    compares plain copies, which then hold numbers the port did not mean to show)."""
    config, weights, inputs = probe.build()
    given = {name: np.array(value) for name, value in weights.items()}  # writeable copies, like a caller's
    fed = {name: np.array(value) for name, value in inputs.items()}
    attention = (port.capabilities.attention or ("eager",))[0]
    try:
        model = port.impl.load_model(probe.head, dict(config), given, dtype=dtype, device="cpu", attention=attention)
        outputs = model.forward(fed, **probe.options)
    except Exception as error:  # the battery's own probes name a raising port; this one has nothing to say
        return ProbeResult(probe, SKIPPED, message=f"raised {type(error).__name__}: {error}"[:300])
    if probe.kind == "inputs_unchanged":
        wrong = [name for name in weights if not np.array_equal(given[name], weights[name])]
        wrong += [name for name in inputs if not np.array_equal(fed[name], inputs[name])]
        what = "wrote into the arrays it was handed"
    else:
        wrong = [f"{name} ({type(value).__name__})" for name, value in _arrays(outputs)
                 if isinstance(value, np.ndarray) and type(value) is not np.ndarray]
        what = "returned ndarray subclasses"
    if not wrong:
        return ProbeResult(probe, PASSED)
    return ProbeResult(probe, FAILED, math.inf, math.inf, f"{what}: {', '.join(wrong[:5])}")


def _arrays(outputs: Any) -> Iterable[tuple[str, Any]]:
    """(name, value) of every output, list entries named ``name[i]``."""
    for name, value in dict(outputs).items():
        if isinstance(value, (list, tuple)):
            yield from ((f"{name}[{i}]", item) for i, item in enumerate(value))
        else:
            yield name, value


def last_token_changed(inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inputs with every row's last token id replaced (by id + 1, wrapping within [1, vocab))."""
    ids = np.array(inputs["input_ids"])
    ids[:, -1] = ids[:, -1] % (ids.max() + 1) + 1 if ids[:, -1].max() < ids.max() else ids[:, 0]
    return {**inputs, "input_ids": ids}


def expected(probe: Probe) -> dict[str, Any]:
    """The oracle's float64 outputs on ``probe``."""
    from bert_conformance.oracle import get_oracle

    config, weights, inputs = probe.build()
    return get_oracle("reference").forward(probe.head, config, weights, inputs, **probe.options)


def run_probe(port: Port, probe: Probe, standard: Standard) -> ProbeResult:
    """Run one probe and compare with the oracle (or, for ``kind="self"``, with the port's second call)."""
    if probe.kind in CONTRACT_KINDS:
        return contract_probe(port, probe, standard.dtype)
    if probe.kind == "loss" and standard.similarity is not None:
        return ProbeResult(probe, SKIPPED, message=f"no {standard.similarity.tier} tier criterion for a loss")
    try:
        actual = call(port, probe, standard.dtype)
    except pytest.skip.Exception as skip:
        return ProbeResult(probe, SKIPPED, message=str(skip))
    except Exception as error:  # a raising port is a finding of its own, on this probe
        return ProbeResult(probe, ERROR, math.inf, math.inf, f"{type(error).__name__}: {error}")
    if probe.kind == "self":
        reference = actual.pop("_second")
    elif probe.kind == "bidirectional":
        changed = _first_position_change(actual.pop("_second"), actual)
        return ProbeResult(probe, PASSED if changed else FAILED, 0.0 if changed else math.inf,
                           0.0 if changed else math.inf, outputs=actual)
    else:
        try:
            reference = expected(probe)
        except Exception as error:  # the oracle cannot run it (e.g. a config the reference rejects)
            return ProbeResult(probe, SKIPPED, message=f"oracle: {error}")
    worst, max_abs = compare(actual, reference, probe, tolerance(probe, standard))
    return ProbeResult(probe, FAILED if worst > 1 else PASSED, worst, max_abs, outputs=actual)


def _first_position_change(changed: Mapping[str, Any], actual: Mapping[str, Any]) -> bool:
    """Whether the first position's output moved when only the last token changed (an encoder attends ahead)."""
    a = np.asarray(actual.get("last_hidden_state"), dtype=np.float64)
    b = np.asarray(changed.get("last_hidden_state"), dtype=np.float64)
    return a.shape == b.shape and a.ndim == 3 and bool(np.abs(a[:, 0] - b[:, 0]).max() > 1e-6)


def compare(actual: Mapping[str, Any], reference: Mapping[str, Any], probe: Probe,
            tol: Tolerance | Similarity) -> tuple[float, float]:
    """(worst error ratio, max abs error) over ``probe.compare``; inf for a missing output or shape mismatch."""
    _, _, inputs = probe.build()
    mask = inputs.get("attention_mask")
    worst = max_abs = 0.0
    for name in probe.compare:
        a, e = actual.get(name), reference.get(name)
        if probe.kind == "structure":
            ok = _same_structure(a, e)
            worst, max_abs = (worst, max_abs) if ok else (math.inf, math.inf)
            continue
        for x, y in _pairs(a, e):
            w, m = _ratio(x, y, _tolerance_of(x, probe, tol), mask)
            worst, max_abs = max(worst, w), max(max_abs, m)
    return worst, max_abs


def _tolerance_of(array: Any, probe: Probe, tol: Tolerance | Similarity) -> Tolerance | Similarity:
    """A float32 array from a float64 model (a loss the spec computes from float32 logits, labels.yaml
    ``upcast``: the boundary check lets only those through) is compared at the float32 tolerance."""
    if getattr(array, "dtype", None) == np.float32 and tol == tolerance(probe, Standard("float64")):
        return tolerance(probe, Standard("float32"))
    return tol


def _same_structure(a: Any, e: Any) -> bool:
    if isinstance(e, (list, tuple)):
        return isinstance(a, (list, tuple)) and len(a) == len(e) and all(_same_structure(x, y) for x, y in zip(a, e))
    return a is not None and np.shape(a) == np.shape(e)


def _pairs(a: Any, e: Any) -> Iterable[tuple[Any, Any]]:
    if isinstance(e, (list, tuple)):
        if not isinstance(a, (list, tuple)) or len(a) != len(e):
            yield None, e
            return
        for x, y in zip(a, e):
            yield from _pairs(x, y)
        return
    yield a, e


def _ratio(a: Any, e: Any, tol: Tolerance | Similarity, mask: np.ndarray | None) -> tuple[float, float]:
    """max |a - e| / (atol + rtol |e|) (or a tier's similarity ratio) and max |a - e|, at attended positions
    of per-token outputs."""
    if a is None or e is None:
        return (0.0, 0.0) if a is None and e is None else (math.inf, math.inf)
    a, e = np.asarray(a, dtype=np.float64), np.asarray(e, dtype=np.float64)
    if a.shape != e.shape:
        return math.inf, math.inf
    if mask is not None and np.ndim(mask) == 2 and a.ndim >= 2 and a.shape[:2] == np.shape(mask):
        keep = np.asarray(mask) != 0  # outputs at padded query positions are unspecified (heads.unspecified.*)
        a, e = a[keep], e[keep]
    nan_a, nan_e = np.isnan(a), np.isnan(e)
    if (nan_a != nan_e).any():
        return math.inf, math.inf
    if nan_a.any():  # where both are NaN they agree (flattened: a tier's cosines then see one vector)
        a, e = a[~nan_a], e[~nan_e]
    if a.size == 0:
        return 0.0, 0.0
    diff = np.abs(a - e)
    if not np.isfinite(diff).all():
        return math.inf, math.inf
    if isinstance(tol, Similarity):
        return float(tol.ratio(a, e)), float(diff.max())
    return float((diff / (tol.atol + tol.rtol * np.abs(e))).max()), float(diff.max())


def run_battery(port: Port, standard: Standard, *, deadline: float,
                probes: Iterable[Probe] = BATTERY) -> list[ProbeResult]:
    """Every probe in pipeline order, until ``deadline`` (time.monotonic()); later ones are skipped."""
    results = []
    for probe in probes:
        if time.monotonic() > deadline:
            results.append(ProbeResult(probe, SKIPPED, message="time budget spent"))
            continue
        results.append(run_probe(port, probe, standard))
    return results


# --- localisation -------------------------------------------------------------------------------------------------


def localise(results: list[ProbeResult], dtype: str) -> tuple[str | None, ProbeResult | None]:
    """(component, the probe that shows it) of the first diverging component; (None, None) if nothing fails."""
    ran = [r for r in results if r.status != SKIPPED]
    failing = [r for r in ran if r.failed]
    if not failing:
        return None, None
    if failing[0].probe.kind in CONTRACT_KINDS:
        return failing[0].probe.component, failing[0]
    if all(r.status == ERROR for r in ran if r.probe.kind not in CONTRACT_KINDS):
        return "contract", failing[0]
    if dtype == "float64" and _float32_inside(failing):
        return "dtype.precision", failing[0]
    for result in failing:
        if result.probe.name == "residual":
            component = _residual(result)
            if component is not None:
                return component, result
            continue  # a bug upstream of the residual: the next failing probe names it
        return result.probe.component, result
    return None, None


def _float32_inside(failing: list[ProbeResult]) -> bool:
    """Every failing output of a float64 model holds float32 values only: it computes in float32 and casts up
    (a float64 computation with a bug gives values float32 cannot represent)."""
    arrays = [np.asarray(x, dtype=np.float64) for r in failing if r.outputs is not None
              for name in r.probe.compare for x, _ in _pairs(r.outputs.get(name), r.outputs.get(name))
              if x is not None]
    if not arrays or len(arrays) < sum(1 for r in failing for _ in r.probe.compare):
        return False  # an error or a missing output: not a precision problem
    values = np.concatenate([a.ravel() for a in arrays])
    values = values[np.isfinite(values)]
    return values.size > 0 and bool(np.any(values != 0)) and bool(np.all(values.astype(np.float32) == values))


def _residual(result: ProbeResult) -> str | None:
    """With both sub-blocks skipped, a block that drops its residual makes every token the same vector: the
    output LayerNorm's bias (feed-forward residual dropped) or LayerNorm(attention LayerNorm's bias) + it."""
    if result.outputs is None:
        return None
    out = np.asarray(result.outputs.get("last_hidden_state"), dtype=np.float64)
    if out.ndim != 3:
        return None
    rows = out.reshape(-1, out.shape[-1])
    if np.abs(rows - rows[0]).max() > 1e-6 * max(1.0, np.abs(rows).max()):
        return None
    _, weights, _ = result.probe.build()
    bias = weights[f"{result.probe.prefix}encoder.layer.0.output.LayerNorm.bias"].astype(np.float64)
    return "ffn.residual" if np.allclose(rows[0], bias, atol=1e-4) else "attention.residual"


def first_diverging_layer(result: ProbeResult, standard: Standard) -> int | None:
    """The first entry of ``hidden_states`` (0: the embeddings' output) outside the tolerance."""
    theirs, ours = result.outputs.get("hidden_states"), expected(result.probe).get("hidden_states")
    if not isinstance(theirs, (list, tuple)) or not isinstance(ours, (list, tuple)):
        return None
    _, _, inputs = result.probe.build()
    tol = tolerance(result.probe, standard)
    for index, (a, e) in enumerate(zip(theirs, ours)):
        if _ratio(a, e, tol, inputs.get("attention_mask"))[0] > 1:
            return index
    return None
