"""Structural checks of a decoded golden case: every tensor present, float64/int64, shapes implied by the
config. Each problem is a GoldenError naming the file and the tensor."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .files import CASE_ID_PATTERN, GoldenError
from .weights import HEADS, head_shapes

F64, I64 = np.dtype(np.float64), np.dtype(np.int64)
INT_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "encoder_attention_mask",
              "next_sentence_label", "start_positions", "end_positions")
FLOAT_INPUTS = ("inputs_embeds", "encoder_hidden_states")
META_FIELDS = {"case_id": str, "description": str, "head": str, "config": dict, "options": dict, "steps": int,
               "gradients": bool, "clauses": list, "spec_version": str, "generator_version": str}
# The forward options a golden case may pass to a port (docs/golden.md, "File format"): the consumer
# (clauses/test_golden.py) hands them to ``forward`` unchanged, so anything else would reach the port.
GOLDEN_OPTIONS = ("output_attentions", "output_hidden_states", "use_cache")
# Output groups stored one tensor per element (``<group>.<i>``; the cache as ``cache.<i>.<part>``).
CACHE_PARTS = ("key", "value", "cross_key", "cross_value")
# The one output whose expected value may be NaN: a loss with every label ignored (spec labels.*: NaN).
MAY_BE_NAN = "loss"


@dataclass
class CaseTensors:
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    expected: dict[str, np.ndarray] = field(default_factory=dict)
    gradients: dict[str, np.ndarray] = field(default_factory=dict)
    steps: list[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = field(default_factory=list)


def split_tensors(tensors: dict[str, np.ndarray], n_steps: int) -> CaseTensors:
    """Group tensors by golden prefix (weights are handled by the loader)."""
    parts = CaseTensors(steps=[({}, {}) for _ in range(n_steps)])
    for name, array in tensors.items():
        kind, _, rest = name.partition(".")
        if kind == "input":
            parts.inputs[rest] = array
        elif kind == "expected":
            parts.expected[rest] = array
        elif kind == "grad":
            parts.gradients[rest] = array
        elif kind == "step":
            k, _, rest = rest.partition(".")
            sub, _, output = rest.partition(".")
            parts.steps[int(k)][0 if sub == "input" else 1][output] = array
    return parts


def check_structure(path: Path, tensors: dict[str, np.ndarray], meta: dict[str, Any],
                    state_dict: dict[str, np.ndarray]) -> None:
    _check_metadata(path, meta)
    for name, array in tensors.items():
        if array.dtype not in (F64, I64):
            raise GoldenError(f"{path}: tensor {name}: wrong dtype {array.dtype} (golden files hold float64/int64)")
        if not _known_name(name, meta["steps"]):
            raise GoldenError(f"{path}: unexpected tensor {name} (not a golden tensor name for this case)")
        _check_finite(path, name, array)
    if state_dict or not meta.get("external_weights"):
        _check_weights(path, meta, state_dict, "weight.")
    parts = split_tensors(tensors, meta["steps"])
    calls = parts.steps if meta["steps"] else [(parts.inputs, parts.expected)]
    for k, (inputs, expected) in enumerate(calls):
        where = f"step.{k}." if meta["steps"] else ""
        _check_inputs(path, meta["config"], inputs, where)
        _check_expected(path, meta, inputs, expected, where)
    if meta["gradients"]:
        _check_weights(path, meta, parts.gradients, "grad.")


def _check_metadata(path: Path, meta: dict[str, Any]) -> None:
    """Field types, the case naming rule, a known head, options a port may be given, clause ids of the spec."""
    for key, kind in META_FIELDS.items():
        if not isinstance(meta.get(key), kind):
            raise GoldenError(f"{path}: metadata field {key!r} missing or not a {kind.__name__}")
    if not CASE_ID_PATTERN.fullmatch(meta["case_id"]):
        raise GoldenError(f"{path}: case_id {meta['case_id']!r} breaks the naming rule (lowercase words joined by dots)")
    if meta["head"] not in HEADS:
        raise GoldenError(f"{path}: unknown head {meta['head']!r}")
    for key, value in sorted(meta["options"].items()):
        if key not in GOLDEN_OPTIONS or not isinstance(value, bool):
            raise GoldenError(f"{path}: option {key}={value!r}: a golden case may pass only {GOLDEN_OPTIONS} "
                              "(true/false) to a port")
    from ..spec import load_spec  # lazy: the file checks above need no spec

    known = set(load_spec().clause_ids())
    unknown = [c for c in meta["clauses"] if not isinstance(c, str) or c not in known]
    if unknown:
        raise GoldenError(f"{path}: clause ids not in the spec: {unknown}")


def _check_finite(path: Path, name: str, array: np.ndarray) -> None:
    """No Inf anywhere; NaN only in an expected loss (the spec's all-labels-ignored NaN)."""
    if array.dtype != F64 or np.isfinite(array).all():
        return
    nan_ok = name.rpartition("expected.")[2] == MAY_BE_NAN
    if nan_ok and not np.isinf(array).any():
        return
    bad = int((~np.isfinite(array)).sum())
    raise GoldenError(f"{path}: tensor {name}: {bad} non-finite value(s) (only expected.{MAY_BE_NAN} may be NaN)")


def _check_output_names(path: Path, meta: dict[str, Any], expected: dict[str, np.ndarray], where: str) -> None:
    """Each expected name an output of the head (spec heads.yaml) under the golden naming; outputs the head
    always returns present; optional groups only when the case's options ask for them."""
    from ..spec import load_spec

    outputs = {o.name: o.present.when for o in load_spec().heads.heads[meta["head"]].outputs}
    options = meta["options"]
    for name in sorted(expected):
        base, _, rest = name.partition(".")
        when = outputs.get(base)
        if when is None or not _element_name(base, rest):
            raise GoldenError(f"{path}: unexpected tensor {where}expected.{name} (not an output of {meta['head']})")
        if when in GOLDEN_OPTIONS and options.get(when) is not True:
            raise GoldenError(f"{path}: unexpected tensor {where}expected.{name} (the case does not set {when})")
    for base, when in outputs.items():
        if when == "always" and base not in expected:
            raise GoldenError(f"{path}: missing tensor {where}expected.{base}")


def _element_name(base: str, rest: str) -> bool:
    """``rest`` after ``<base>.``: empty for a tensor, ``<i>`` for a tuple element, ``<i>.<part>`` for the cache."""
    index, _, part = rest.partition(".")
    if base == "cache":
        return index.isdigit() and part in CACHE_PARTS
    if base in ("hidden_states", "attentions", "cross_attentions"):
        return index.isdigit() and not part
    return not rest


def _known_name(name: str, n_steps: int) -> bool:
    kind, _, rest = name.partition(".")
    if kind == "step":
        k, _, sub = rest.partition(".")
        return n_steps > 0 and k.isdigit() and int(k) < n_steps and sub.startswith(("input.", "expected."))
    return kind in ("weight", "grad") or (kind in ("input", "expected") and n_steps == 0)


def _check_weights(path: Path, meta: dict[str, Any], weights: dict[str, np.ndarray], prefix: str) -> None:
    """Key set and shapes against the HF state dict the config implies (weights.head_shapes)."""
    shapes = head_shapes(meta["head"], meta["config"])
    keys = set(shapes)
    for key in sorted(keys - set(weights)):
        raise GoldenError(f"{path}: missing tensor {prefix}{key}")
    for key in sorted(set(weights) - keys):
        raise GoldenError(f"{path}: unexpected tensor {prefix}{key}")
    for key in sorted(keys):
        array = weights[key]
        if array.dtype != F64:
            raise GoldenError(f"{path}: tensor {prefix}{key}: wrong dtype {array.dtype}, expected float64")
        if tuple(array.shape) != tuple(shapes[key]):
            raise GoldenError(
                f"{path}: tensor {prefix}{key}: shape {tuple(array.shape)}, the config implies {tuple(shapes[key])}"
            )


def _check_inputs(path: Path, cfg: dict[str, Any], inputs: dict[str, np.ndarray], where: str) -> None:
    if ("input_ids" in inputs) == ("inputs_embeds" in inputs):
        raise GoldenError(f"{path}: {where}inputs need exactly one of input_ids and inputs_embeds")
    for name, array in inputs.items():
        want = I64 if name in INT_INPUTS else F64 if name in FLOAT_INPUTS else None
        if name != "labels" and want is None:
            raise GoldenError(f"{path}: unexpected tensor {where}input.{name}")
        if want is not None and array.dtype != want:
            raise GoldenError(f"{path}: tensor {where}input.{name}: wrong dtype {array.dtype}, expected {want}")
    if "input_ids" in inputs:
        ids = inputs["input_ids"]
        if ids.size and (ids.min() < 0 or ids.max() >= cfg["vocab_size"]):
            raise GoldenError(f"{path}: tensor {where}input.input_ids: ids outside [0, vocab_size={cfg['vocab_size']})")
    else:
        embeds = inputs["inputs_embeds"]
        if embeds.shape[-1] != cfg["hidden_size"]:
            raise GoldenError(f"{path}: tensor {where}input.inputs_embeds: shape {embeds.shape}, last dim must be "
                              f"hidden_size={cfg['hidden_size']}")


def _check_expected(path: Path, meta: dict[str, Any], inputs: dict[str, np.ndarray],
                    expected: dict[str, np.ndarray], where: str) -> None:
    cfg, head = meta["config"], meta["head"]
    if not expected:
        raise GoldenError(f"{path}: {where}no expected.* tensors")
    _check_output_names(path, meta, expected, where)
    for name, array in expected.items():
        if array.dtype != F64:
            raise GoldenError(f"{path}: tensor {where}expected.{name}: wrong dtype {array.dtype}, expected float64")
    seq = (inputs.get("input_ids") if "input_ids" in inputs else inputs["inputs_embeds"][..., 0]).shape[-1]
    hidden, layers = cfg["hidden_size"], cfg["num_hidden_layers"]
    main = "last_hidden_state" if head == "BertModel" else None
    if main and main not in expected:
        raise GoldenError(f"{path}: missing tensor {where}expected.{main}")
    if main and expected[main].shape[-2:] != (seq, hidden):
        raise GoldenError(f"{path}: tensor {where}expected.{main}: shape {expected[main].shape}, "
                          f"expected [batch, {seq}, {hidden}]")
    if head == "BertModel" and "pooler_output" not in expected:
        raise GoldenError(f"{path}: missing tensor {where}expected.pooler_output")
    for group, count in (("hidden_states", layers + 1), ("attentions", layers)):
        present = sorted(int(n.split(".")[1]) for n in expected if n.startswith(f"{group}."))
        wanted = meta["options"].get(f"output_{group}") is True
        if wanted and present != list(range(count)):
            raise GoldenError(f"{path}: {where}expected.{group}.*: found indices {present}, expected 0..{count - 1}")
    if "loss" in expected and expected["loss"].shape != ():
        raise GoldenError(f"{path}: tensor {where}expected.loss: shape {expected['loss'].shape}, expected a scalar")
