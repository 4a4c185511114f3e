"""What the spec says a port's outputs look like, turned into concrete expectations for one call.

Used by test_config, test_heads, test_parameters and test_numerics:

- :func:`shape_env` / :func:`expected_shape`: symbolic output shapes (heads.yaml) -> concrete shapes;
- :func:`real_rows`, :func:`assert_output_close`: compare a port's output with the oracle's only where the
  spec specifies it (padded query positions are unspecified: heads.unspecified.padded_query_positions);
- :func:`spec_state_dict`: random weights keyed and shaped from parameters.yaml alone (not from the
  reference), so key-set clauses test the spec's templates;
- :func:`label_args`: valid label arguments for a head (their names come from heads.yaml).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bert_conformance.spec import load_spec
from bert_conformance.spec.shapes import evaluate, evaluate_expr
from bert_conformance.tolerance import assert_close, tolerance_for

SPEC = load_spec()
HEADS: tuple[str, ...] = tuple(SPEC.heads.heads)
MC = "BertForMultipleChoice"


def num_labels(config: Mapping[str, Any]) -> int:
    """num_labels as the config defines it: the key, else len(id2label), else the spec's default."""
    if config.get("num_labels") is not None:
        return int(config["num_labels"])
    if config.get("id2label"):
        return len(config["id2label"])
    return int(SPEC.config.field("num_labels").default)


def dims(head: str, inputs: Mapping[str, Any]) -> dict[str, int]:
    """batch, seq, num_choices of an input dict (ids or embeddings)."""
    ids = inputs.get("input_ids")
    shape = ids.shape if ids is not None else inputs["inputs_embeds"].shape[:-1]
    if head == MC:
        return {"batch": shape[0], "num_choices": shape[1], "seq": shape[2]}
    return {"batch": shape[0], "num_choices": 1, "seq": shape[1]}


def shape_env(
    config: Mapping[str, Any], head: str, inputs: Mapping[str, Any], *, past_seq: int = 0, enc_seq: int = 0
) -> dict[str, Any]:
    """Every name a heads.yaml shape may use, for this config and call."""
    numeric = {k: v for k, v in config.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    env = SPEC.env(**{**numeric, "num_labels": num_labels(config)})
    env.update(dims(head, inputs), past_seq=past_seq, enc_seq=enc_seq)
    return env


def output_spec(head: str, name: str) -> Any:
    return SPEC.heads.head(head).output(name)


def expected_shape(head: str, name: str, env: Mapping[str, Any]) -> tuple[int, ...]:
    return tuple(evaluate(list(output_spec(head, name).shape), env))


def expected_length(head: str, name: str, env: Mapping[str, Any]) -> int | None:
    length = output_spec(head, name).length
    return None if length is None else int(evaluate_expr(length, env))


def real_rows(head: str, inputs: Mapping[str, Any]) -> np.ndarray:
    """bool [rows, seq]: attended positions (MC choices flattened into rows, as the model sees them)."""
    d = dims(head, inputs)
    mask = inputs.get("attention_mask")
    if mask is None:
        return np.ones((d["batch"] * d["num_choices"], d["seq"]), dtype=bool)
    return np.asarray(mask)[..., -d["seq"] :].reshape(-1, d["seq"]) != 0  # a cached call's mask covers the past


def _specified(array: np.ndarray, shape: tuple[Any, ...], rows: np.ndarray) -> np.ndarray | None:
    """bool, the array's shape: the entries the spec specifies (a per-position output: rows' attended query
    positions); None: all of them."""
    if "seq" not in shape:
        return None
    axis = list(shape).index("seq")
    moved = np.moveaxis(array, axis, 1)  # [rows, seq, ...]: the query axis next to the batch axis
    if moved.shape[:2] != rows.shape:
        raise AssertionError(f"shape {list(array.shape)} does not fit {rows.shape[0]} rows x {rows.shape[1]} positions")
    mask = np.broadcast_to(rows.reshape(rows.shape + (1,) * (moved.ndim - 2)), moved.shape)
    return np.moveaxis(mask, 1, axis)


def assert_output_close(
    head: str,
    name: str,
    actual: Any,
    expected: Any,
    *,
    inputs: Mapping[str, Any],
    dtype: str,
    env: Mapping[str, Any] | None = None,
) -> None:
    """Compare one output (array or list of arrays) at its specified entries, spec tolerance for ``dtype``."""
    __tracebackhide__ = True
    spec = output_spec(head, name)
    if name == "loss":
        dtype = loss_dtype(head, dtype, actual)
    tol = tolerance_for(dtype, "loss" if name == "loss" else "outputs")
    rows = real_rows(head, inputs)
    if env is not None:
        _check_shapes(head, name, actual, env)
    if isinstance(expected, (list, tuple)):
        if not isinstance(actual, (list, tuple)) or len(actual) != len(expected):
            got = len(actual) if isinstance(actual, (list, tuple)) else type(actual).__name__
            raise AssertionError(f"{head}.{name}: expected a list of {len(expected)} arrays, got {got}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            if e is None:
                assert a is None, f"{head}.{name}[{i}]: expected None (not selected), got {type(a).__name__}"
                continue
            _close(a, e, spec.shape, rows, tol, f"{head}.{name}[{i}]", dtype)
        return
    _close(actual, expected, spec.shape, rows, tol, f"{head}.{name}", dtype)


def loss_dtype(head: str, model_dtype: str, actual: Any) -> str:
    """The dtype a head's loss is judged in: the model's, or labels.yaml's ``upcast`` dtype for that head.

    HF computes the causal-LM loss in float32 whatever the model dtype (a float64 model gets a float32 loss);
    the spec's "upcast" leaves float64 open, so a float64 port may return either (judged in its own dtype).
    """
    upcast = {c.upcast for c in SPEC.labels.losses if getattr(c, "upcast", None) and head in (c.heads or ())}
    allowed = {model_dtype, *upcast}
    got = getattr(getattr(actual, "dtype", None), "name", None)
    return got if got in allowed else model_dtype


def _close(actual: Any, expected: Any, shape: Any, rows: np.ndarray, tol: Any, what: str, dtype: str) -> None:
    __tracebackhide__ = True
    if not isinstance(actual, np.ndarray):
        raise AssertionError(f"{what}: expected a numpy array, got {type(actual).__name__}")
    if actual.shape != np.shape(expected):
        raise AssertionError(f"{what}: shape {list(actual.shape)}, expected {list(np.shape(expected))}")
    where = "" if "seq" not in shape else "[attended positions]"
    assert_close(actual, np.asarray(expected), tol, what=what + where, dtype=dtype,
                 specified=_specified(actual, shape, rows))


def _check_shapes(head: str, name: str, actual: Any, env: Mapping[str, Any]) -> None:
    __tracebackhide__ = True
    shape = expected_shape(head, name, env)
    length = expected_length(head, name, env)
    items = actual if length is not None else [actual]
    if length is not None:
        assert isinstance(actual, (list, tuple)), f"{head}.{name}: expected a list, got {type(actual).__name__}"
        assert len(actual) == length, f"{head}.{name}: {len(actual)} entries, the spec says {length}"
    for i, item in enumerate(items):
        if item is not None:
            assert np.shape(item) == shape, f"{head}.{name}[{i}]: shape {list(np.shape(item))}, spec {list(shape)}"


def compare_all(
    head: str, actual: Mapping[str, Any], expected: Mapping[str, Any], *, inputs: Mapping[str, Any], dtype: str,
    names: tuple[str, ...] | None = None, env: Mapping[str, Any] | None = None,
) -> None:
    """Every spec output the oracle returned (or ``names``) is in ``actual`` and close to the oracle.

    The cache (the port's own object) and empty tuples (cross_attentions where no cross-attention ran, which
    heads.unspecified.cross_attentions_without_cross_attention leaves open) are not compared.
    """
    __tracebackhide__ = True
    spec_names = SPEC.heads.head(head).output_names
    specified = [n for n in spec_names if n != "cache" and expected.get(n) is not None
                 and not (isinstance(expected[n], (list, tuple)) and len(expected[n]) == 0)]
    for name in names or specified:
        if actual.get(name) is None:
            raise AssertionError(f"{head}: output {name!r} missing (got {sorted(actual)})")
        assert_output_close(head, name, actual[name], expected[name], inputs=inputs, dtype=dtype, env=env)


# --- weights from the spec ----------------------------------------------------------------------------------


def key_env(config: Mapping[str, Any]) -> dict[str, Any]:
    """Config values for parameters.yaml templates: defaults, then the config's scalars (no derived names, so
    an invalid config such as hidden_size 30 with 4 heads still expands)."""
    env = SPEC.config.defaults(inherited=True)
    env.update({k: v for k, v in config.items() if isinstance(v, (bool, int, float)) and v is not None})
    env["num_labels"] = num_labels(config)
    return env


def spec_keys(head: str, config: Mapping[str, Any], *, saved: bool) -> dict[str, tuple[int, ...]]:
    return SPEC.parameters.expand(head, key_env(config), saved=saved)


def spec_state_dict(head: str, config: Mapping[str, Any], *, seed: int, saved: bool = True) -> dict[str, np.ndarray]:
    """Random float32 weights with exactly the spec's keys and shapes; tied targets copy their source."""
    rng = np.random.default_rng(seed)
    keys = spec_keys(head, config, saved=False)
    weights = {name: _draw_weight(rng, name, shape) for name, shape in keys.items()}
    for tie in SPEC.parameters.active_ties(head, key_env(config)):
        if saved:
            weights.pop(tie.target)
        else:
            weights[tie.target] = weights[tie.source].copy()
    return weights


def _draw_weight(rng: np.random.Generator, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """O(1) values, so a misused bias, scale or LayerNorm shows (as the oracle draws them)."""
    if name.endswith(("LayerNorm.weight", "LayerNorm.gamma")):
        values = 1.0 + 0.1 * rng.standard_normal(shape)
    elif len(shape) == 1:
        values = 0.1 * rng.standard_normal(shape)
    else:
        values = rng.standard_normal(shape) / np.sqrt(shape[-1])
    return values.astype(np.float32)


# --- label arguments ------------------------------------------------------------------------------------------


def label_args(head: str, config: Mapping[str, Any], inputs: Mapping[str, Any], *, seed: int = 0) -> dict[str, Any]:
    """Valid values for every label argument of ``head`` (the arguments whose omission means no loss)."""
    rng = np.random.default_rng(seed)
    env = shape_env(config, head, inputs)
    out = {}
    for argument in SPEC.heads.head(head).arguments:
        if argument.omitted != "no_loss":
            continue
        shape = tuple(evaluate(list(argument.shape), env))
        high = _label_high(head, argument.name, config, env)
        if high is None:  # regression targets
            out[argument.name] = rng.standard_normal(shape).astype(np.float32)
        else:
            out[argument.name] = rng.integers(0, high, size=shape, dtype=np.int64)
    return out


def _label_high(head: str, name: str, config: Mapping[str, Any], env: Mapping[str, Any]) -> int | None:
    """Exclusive upper bound of a label's class ids (None: a float regression target)."""
    if name in ("start_positions", "end_positions"):
        return env["seq"]
    if name == "next_sentence_label" or head == "BertForNextSentencePrediction":
        return 2
    if head == MC:
        return env["num_choices"]
    if head in ("BertForSequenceClassification", "BertForTokenClassification"):
        n = num_labels(config)
        return None if n == 1 and head == "BertForSequenceClassification" else n
    return int(config["vocab_size"])
