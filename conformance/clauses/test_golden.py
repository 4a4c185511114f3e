"""Golden clauses: every golden fixture (``bert_conformance.goldendata``) through the port.

One clause per case, ``golden.<case id>``, run in every dtype the port claims: float64 at the spec's golden
float64 tolerance (1e-10), lower dtypes at their golden / loss tolerances (spec/tolerances.yaml). It compares
the case's core outputs and asks for no optional output, so a port declaring few optional outputs still has
its numbers checked. Cases that record optional outputs add ``golden.<case id>.hidden_states`` /
``.attentions`` (surface ``outputs``), cases with gradients ``golden.<case id>.gradients`` (feature
``gradients``). Decoder-step cases feed each step the
cache the port returned for the step before (the cache itself is opaque in the adapter contract, so only
the step outputs are compared). Entries the spec leaves open (padded query positions, fully masked rows,
the pooled output of a padded first token) are not compared: see ``bert_conformance.specified``.

The expected values come from the files, whatever ``--bert-oracle`` says; the files are sha256-checked
against ``MANIFEST.json`` at collection, and a bad file is a collection error naming it.

Clause ids run here that this module does not write out, by test function (tools/clause_hops.py):
    golden.*            test_golden
    golden.*.gradients  test_golden_gradients
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bert_conformance.clauses.dtype_helpers import judged_loss_dtype
from bert_conformance.golden import GoldenCase, GoldenError, iter_cases
from bert_conformance.golden.clauses import OPTIONAL_OUTPUTS, spec_problems
from bert_conformance.losses import label_arguments, loss_dtype
from bert_conformance.plugin import clause_params
from bert_conformance.spec import load_spec
from bert_conformance.specified import specified
from bert_conformance.tolerance import DTYPES, assert_close, tolerance_for

CASES = iter_cases()
# the golden.* clauses (spec/golden.yaml), refused at collection where they disagree with the cases
SPEC_CLAUSES = load_spec().raw("golden")["clauses"]
if _problems := spec_problems(SPEC_CLAUSES, CASES):
    raise GoldenError(f"{len(_problems)} golden clause problem(s):\n  " + "\n  ".join(_problems))
# label arguments (spec heads.yaml, omitted rule no_loss): passing one needs feature loss, loss or not
LABELS = {name for head in load_spec().heads.heads for name in label_arguments(head)}
FLOAT_INPUTS = ("inputs_embeds", "encoder_hidden_states")


def _requires(clause: dict[str, Any]) -> dict[str, Any]:
    case: GoldenCase = clause["case"]
    group = clause.get("outputs")
    features = [f for f, on in (
        ("decoder", case.config.get("is_decoder", False)),
        ("cache", bool(case.steps)),
        ("cross_attention", case.config.get("add_cross_attention", False)),
        ("loss", "loss" in case.expected or any(name in LABELS for name in case.inputs)),
        ("gradients", clause["id"].endswith(".gradients")),
        ("packed_sequences", "position_ids" in case.inputs and "attention_mask" not in case.inputs),
    ) if on]
    needs: dict[str, Any] = {"head": case.head}
    if features:
        needs["feature"] = features
    if group:
        needs["outputs"] = group
    if group in ("attentions", "cross_attentions"):
        needs["attention"] = "eager"  # attention probabilities are specified for eager only
    return needs


def _clauses(with_gradients: bool) -> list[Any]:
    """The gradients clauses, or the core clauses (file order) then the output-group clauses (file order)."""
    cases = {c.case_id: c for c in CASES}
    chosen = [c for c in SPEC_CLAUSES if c.get("gradients", False) == with_gradients]
    chosen = [c for c in chosen if "outputs" not in c] + [c for c in chosen if "outputs" in c]
    clauses = [{"id": c["id"], "text": c["text"], "case": cases[c["case"]],
                **({"outputs": c["outputs"]} if "outputs" in c else {})} for c in chosen]
    return clause_params(clauses, requires=_requires)


DTYPE_PARAMS = [pytest.param(d, id=d, marks=pytest.mark.bert_requires(dtype=d)) for d in DTYPES]


@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
@pytest.mark.parametrize("clause", _clauses(with_gradients=False))
def test_golden(clause, dtype, bert_impl):
    """The core clause compares every output but the optional groups; ``.<group>`` clauses only that group."""
    case: GoldenCase = clause["case"]
    if case.skip_reason:
        pytest.skip(case.skip_reason)
    group = clause.get("outputs")
    options = _options(case, group)
    model = _load(bert_impl, case, dtype, options)
    if not case.steps:
        outputs = model.forward(_inputs(case.inputs, dtype), **options)
        _compare_all(case, case.inputs, _selected(case.expected, group), outputs, dtype, where="")
        return
    cache = None
    for k, step in enumerate(case.steps):
        extra = {} if cache is None else {"cache": cache}
        outputs = model.forward(_inputs(step.inputs, dtype), **options, **extra)
        assert outputs.get("cache") is not None, f"step {k}: forward returned no cache (use_cache=True)"
        cache = outputs["cache"]
        _compare_all(case, step.inputs, _selected(step.expected, group), outputs, dtype, where=f"step {k}: ")


def _options(case: GoldenCase, group: str | None) -> dict[str, Any]:
    """The case's forward options, without those returning optional outputs other than ``group``'s."""
    keep = OPTIONAL_OUTPUTS.get(group or "")
    return {k: v for k, v in case.options.items() if k == keep or k not in OPTIONAL_OUTPUTS.values()}


def _selected(expected: dict[str, np.ndarray], group: str | None) -> dict[str, np.ndarray]:
    """The expected outputs a clause compares: ``group``'s, or (core clause) all but the optional groups."""
    if group is not None:
        return {n: v for n, v in expected.items() if n.split(".")[0] == group}
    return {n: v for n, v in expected.items() if n.split(".")[0] not in OPTIONAL_OUTPUTS}


@pytest.mark.parametrize("dtype", DTYPE_PARAMS)
@pytest.mark.parametrize("clause", _clauses(with_gradients=True))
def test_golden_gradients(clause, dtype, bert_impl):
    case: GoldenCase = clause["case"]
    model = _load(bert_impl, case, dtype, {})
    grads = model.gradients(_inputs(case.inputs, dtype))
    tol = tolerance_for(dtype, "gradients")
    for key, expected in sorted(case.gradients.items()):
        assert key in grads, f"gradients() has no {key!r} (keys: {sorted(grads)[:5]}...)"
        assert_close(grads[key], expected, tol, what=f"{case.case_id}: grad {key}", dtype=dtype)


def _load(bert_impl, case: GoldenCase, dtype: str, options: dict[str, Any]):
    attention = "eager" if options.get("output_attentions") else None
    return bert_impl.load_model(case.head, case.config, case.state_dict, dtype=dtype, attention=attention)


def _inputs(inputs: dict[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    """Float inputs in the model dtype (bfloat16 as float32: numpy has none); integer inputs as stored."""
    cast = np.float32 if dtype == "bfloat16" else np.dtype(dtype)
    return {k: (v.astype(cast) if k in FLOAT_INPUTS or v.dtype.kind == "f" else v) for k, v in inputs.items()}


def _compare_all(case: GoldenCase, inputs, expected: dict[str, np.ndarray], outputs: dict[str, Any], dtype: str,
                 where: str) -> None:
    __tracebackhide__ = True
    for name, want in sorted(expected.items()):
        if name.startswith("cache."):
            continue  # the cache is opaque in the adapter contract
        actual = _lookup(outputs, name)
        assert actual is not None, f"{case.case_id}: {where}forward returned no {name} (keys: {sorted(outputs)})"
        actual = np.asarray(actual)
        assert actual.shape == want.shape, f"{case.case_id}: {where}{name}: shape {actual.shape}, expected {want.shape}"
        keep = specified(case.head, name, want.shape, inputs, decoder=case.config.get("is_decoder", False))
        kind = "loss" if name == "loss" else "golden"
        tol_dtype, actual_dtype = dtype, judged_loss_dtype(case.head, dtype, actual) if name == "loss" else dtype
        if name == "loss" and dtype == "float64" and loss_dtype(case.head, dtype) == "float32":
            # labels.lm.shift `upcast: float32`: HF computes this loss from float32 logits, so the spec fixes
            # it at float32 precision only; a port may return it in float32 or float64.
            tol_dtype, actual_dtype, actual = "float32", "float64", actual.astype(np.float64)
        assert_close(
            actual, want, tolerance_for(tol_dtype, kind), what=f"{case.case_id}: {where}{name}",
            dtype=actual_dtype, nan_ok=name == "loss", specified=keep,
        )


def _lookup(outputs: dict[str, Any], name: str) -> Any:
    """``hidden_states.2`` -> outputs["hidden_states"][2]; ``logits`` -> outputs["logits"]."""
    group, _, index = name.partition(".")
    value = outputs.get(group)
    if not index or value is None:
        return value
    return value[int(index)] if int(index) < len(value) else None
