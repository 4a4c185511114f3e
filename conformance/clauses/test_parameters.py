"""Parameter clauses (spec/parameters.yaml): state-dict keys and shapes, saved-file form, buffers, legacy names.

The weights here are built from parameters.yaml alone (``spec_state_dict``: the spec's key templates
expanded for the config, random values), never from the reference, so these clauses test the spec's key
set: a port must load exactly it (with the spec's shapes) and reject a state dict with a missing, an
unexpected or a mis-shaped key at ``load_model``. Values are then compared with the oracle loaded from the
same state dict, in float64 when the port claims it.

Clause ids run here that this module does not write out, by test function (tools/clause_hops.py):
    parameters.*.keys     test_head_keys
    parameters.prefix     test_prefix
    parameters.group.*    test_group_shapes
    parameters.buffers.*  test_buffer_defaults
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bert_conformance.case import tiny_config
from bert_conformance.clauses.dtype_helpers import check_dtype
from bert_conformance.clauses.model_helpers import HEADS, SPEC, head_inputs, spec_keys, spec_state_dict
from bert_conformance.clauses.pytest_helpers import compare_all, load_raises, not_tested, params
from bert_conformance.losses import MLM


def _config(head: str = "", **overrides: Any) -> dict[str, Any]:
    """The tiny config; 3 labels (a classifier width other than the default) except for QA, which needs 2."""
    return tiny_config(num_labels=2 if head == "BertForQuestionAnswering" else 3, **overrides)


def _check_loads(bert_impl: Any, oracle: Any, head: str, config: dict, weights: dict, dtype: str) -> None:
    """The port loads ``weights`` and computes what the oracle computes from them."""
    __tracebackhide__ = True
    model = bert_impl.load_model(head, config, weights, dtype=dtype)
    inputs = head_inputs(head, config)
    compare_all(head, model.forward(inputs), oracle.forward(head, config, weights, inputs), inputs=inputs, dtype=dtype)


def _rejects(bert_impl: Any, head: str, config: dict, weights: dict, dtype: str, what: str) -> None:
    __tracebackhide__ = True
    try:
        load_raises(bert_impl, head, config, weights, dtype)
    except AssertionError:
        raise AssertionError(f"{head}: load_model accepted a state dict with {what}") from None


# --- the key set of each head ----------------------------------------------------------------------------------


@pytest.mark.parametrize("clause", params([{"id": SPEC.parameters.heads[h].id, "head": h} for h in HEADS],
                                          requires=lambda c: {"head": c["head"]}))
def test_head_keys(clause, bert_impl, oracle, capabilities):
    """Exactly the spec's keys load (tied targets included, equal to their sources); one missing, one extra or
    one with the wrong shape is rejected."""
    head, dtype = clause["head"], check_dtype(capabilities)
    config = _config(head)
    full = spec_state_dict(head, config, seed=0, saved=False)
    _check_loads(bert_impl, oracle, head, config, full, dtype)
    tied = {name for t in SPEC.parameters.active_ties(head, SPEC.env()) for name in (t.source, t.target)}
    keys = [k for k in full if k not in tied]  # either name of a tied pair may be left out (tied_load_symmetric)
    for key in (keys[0], keys[len(keys) // 2], keys[-1]):
        _rejects(bert_impl, head, config, {k: v for k, v in full.items() if k != key}, dtype, f"{key} missing")
    prefix = SPEC.parameters.heads[head].prefix
    extra = f"{prefix}encoder.layer.{config['num_hidden_layers']}.output.dense.bias"  # one layer too many
    _rejects(bert_impl, head, config, {**full, extra: full[f"{prefix}encoder.layer.0.output.dense.bias"]}, dtype,
             f"the unexpected key {extra}")


@pytest.mark.parametrize("clause", params([{"id": SPEC.parameters.prefix.id}]))
def test_prefix(clause, bert_impl, capabilities):
    """Base-model keys carry "bert." in task heads, head keys never do: a head key with the prefix is unexpected."""
    dtype, config = check_dtype(capabilities), _config()
    assert SPEC.parameters.prefix.base_model == "" and all(SPEC.parameters.heads[h].prefix in ("", "bert.") for h in HEADS)
    for head in [h for h in HEADS if h != "BertModel" and h in capabilities.heads][:3]:
        weights = spec_state_dict(head, config, seed=0)
        head_keys = [k for k in weights if not k.startswith(SPEC.parameters.prefix.heads)]
        moved = {(SPEC.parameters.prefix.heads + k if k in head_keys else k): v for k, v in weights.items()}
        _rejects(bert_impl, head, config, moved, dtype, f"head keys under 'bert.' ({head_keys[0]}, ...)")


# --- groups: the shapes of each group's keys -------------------------------------------------------------------


def _group_clauses() -> list[dict[str, Any]]:
    clauses = []
    for group in SPEC.parameters.groups:
        head = next(h for h in HEADS if group.name in SPEC.parameters.heads[h].groups)
        clauses.append({"id": group.id, "group": group, "head": head})
    return clauses


def _group_needs(clause: dict[str, Any]) -> dict[str, Any]:
    needs: dict[str, Any] = {"head": clause["head"]}
    if clause["group"].when_config:
        needs["feature"] = ["decoder", "cross_attention"]
    return needs


@pytest.mark.parametrize("clause", params(_group_clauses(), requires=_group_needs))
def test_group_shapes(clause, bert_impl, oracle, capabilities):
    """The group's keys load with the spec's shapes; every key of the group one row longer is rejected, and so
    is the state dict without the group."""
    group, head, dtype = clause["group"], clause["head"], check_dtype(capabilities)
    config = _config(head, **({"is_decoder": True, group.when_config: True} if group.when_config else {}))
    weights = spec_state_dict(head, config, seed=0)
    _check_loads(bert_impl, oracle, head, config, weights, dtype)
    prefix = SPEC.parameters.heads[head].prefix if group.scope == "base" else ""
    members = [k for k in weights if _in_group(k.removeprefix(prefix), group)]
    assert members, f"no key of group {group.name} in {head}'s state dict"
    for key in members:
        grown = np.concatenate([weights[key], weights[key][:1]])  # wrong first dimension
        _rejects(bert_impl, head, config, {**weights, key: grown}, dtype, f"{key} of shape {list(grown.shape)}")
    _rejects(bert_impl, head, config, {k: v for k, v in weights.items() if k not in members}, dtype,
             f"group {group.name} missing")


def _in_group(key: str, group: Any) -> bool:
    for template in group.keys:
        head, _, tail = template.partition("{i}")
        if key == template or (tail and key.startswith(head) and key.endswith(tail)
                               and key[len(head):len(key) - len(tail)].isdigit()):
            return True
    return False


# --- saved-file form and ties -----------------------------------------------------------------------------------


@pytest.mark.parametrize("clause", params([{"id": "parameters.saved.tied_targets_absent"}], requires={"head": MLM}))
def test_saved_form_loads(clause, bert_impl, oracle, capabilities):
    """Without the tied targets (as in model.safetensors) every tied head loads and computes tied."""
    dtype = check_dtype(capabilities)
    for head in [h for h in HEADS if h in capabilities.heads and any(h in t.heads for t in SPEC.parameters.tied)]:
        saved = spec_state_dict(head, _config(), seed=0)
        assert not set(spec_keys(head, _config(), saved=False)) - set(saved) - {t.target for t in SPEC.parameters.tied}
        _check_loads(bert_impl, oracle, head, _config(), saved, dtype)


@pytest.mark.parametrize("clause", params([{"id": "parameters.saved.untied_all_present"}], requires={"head": MLM}))
def test_untied_needs_every_key(clause, bert_impl, oracle, capabilities):
    """tie_word_embeddings false: every key is needed (a missing decoder weight or bias is an error)."""
    dtype, config = check_dtype(capabilities), _config(tie_word_embeddings=False)
    weights = spec_state_dict(MLM, config, seed=0)
    assert set(weights) == set(spec_keys(MLM, config, saved=False))
    _check_loads(bert_impl, oracle, MLM, config, weights, dtype)
    for tie in SPEC.parameters.tied:
        _rejects(bert_impl, MLM, config, {k: v for k, v in weights.items() if k != tie.target}, dtype,
                 f"{tie.target} missing while untied")


@pytest.mark.parametrize("clause", params([{"id": "parameters.saved.tied_load_symmetric"}], requires={"head": MLM}))
def test_tied_load_symmetric(clause, bert_impl, oracle, capabilities):
    """A file with the tie targets instead of the sources loads completely: the same model as the saved form."""
    dtype, config = check_dtype(capabilities), _config()
    saved = spec_state_dict(MLM, config, seed=0)
    swapped = dict(saved)
    for tie in SPEC.parameters.active_ties(MLM, SPEC.env()):
        swapped[tie.target] = swapped.pop(tie.source)
    model = bert_impl.load_model(MLM, config, swapped, dtype=dtype)
    inputs = head_inputs(MLM, config)
    compare_all(MLM, model.forward(inputs), oracle.forward(MLM, config, saved, inputs), inputs=inputs, dtype=dtype)


# --- buffers and legacy checkpoints --------------------------------------------------------------------------------


@pytest.mark.parametrize("clause", params([{"id": b.id, "buffer": b} for b in SPEC.parameters.buffers]))
def test_buffer_defaults(clause, bert_impl, oracle, capabilities):
    """Not in the state dict; the omitted input takes the buffer's value over the whole table."""
    buffer, dtype = clause["buffer"], check_dtype(capabilities)
    config = _config(max_position_embeddings=8)
    weights = spec_state_dict("BertModel", config, seed=0)
    assert not any(k.endswith(buffer.name) for k in weights)
    inputs = head_inputs("BertModel", config, seq=8)
    argument = buffer.name.rpartition(".")[2]
    values = {"arange(max_position_embeddings)": np.arange(8), "zeros": np.zeros(8, dtype=np.int64)}[buffer.value]
    explicit = {**inputs, argument: np.broadcast_to(values, inputs["input_ids"].shape).astype(np.int64)}
    omitted = {k: v for k, v in inputs.items() if k != argument}
    got = bert_impl.load_model("BertModel", config, weights, dtype=dtype).forward(omitted)
    compare_all("BertModel", got, oracle.forward("BertModel", config, weights, explicit), inputs=inputs, dtype=dtype)


def _legacy(rule_id: str) -> list[Any]:
    return params([{"id": rule_id}], requires={"head": MLM})


@pytest.mark.parametrize("clause", _legacy("parameters.legacy.layernorm_gamma_beta"))
def test_legacy_gamma_beta(clause, bert_impl, oracle, capabilities):
    dtype, config = check_dtype(capabilities), _config()
    weights = spec_state_dict(MLM, config, seed=0)
    renames = {new: old for old, new in SPEC.parameters.legacy[0].renames.items()}
    legacy = {_rename(k, renames): v for k, v in weights.items()}
    assert legacy.keys() != weights.keys()
    model = bert_impl.load_model(MLM, config, legacy, dtype=dtype)
    inputs = head_inputs(MLM, config)
    compare_all(MLM, model.forward(inputs), oracle.forward(MLM, config, weights, inputs), inputs=inputs, dtype=dtype)


def _rename(key: str, renames: dict[str, str]) -> str:
    for new, old in renames.items():
        if key.endswith(new):
            return key[: -len(new)] + old
    return key


@pytest.mark.parametrize("clause", _legacy("parameters.legacy.buffers_in_checkpoint"))
def test_legacy_buffers(clause, bert_impl, oracle, capabilities):
    dtype, config = check_dtype(capabilities), _config()
    weights = spec_state_dict(MLM, config, seed=0)
    rows = config["max_position_embeddings"]
    buffers = {"embeddings.position_ids": np.arange(rows)[None], "embeddings.token_type_ids": np.zeros((1, rows))}
    for prefix in ("bert.", ""):
        old = {**weights, **{prefix + k: v.astype(np.int64) for k, v in buffers.items()}}
        model = bert_impl.load_model(MLM, config, old, dtype=dtype)
        inputs = head_inputs(MLM, config)
        compare_all(MLM, model.forward(inputs), oracle.forward(MLM, config, weights, inputs), inputs=inputs,
                    dtype=dtype)


@pytest.mark.parametrize("clause", params([{"id": "parameters.legacy.prefix"}]))
def test_legacy_prefix(clause, bert_impl, oracle, capabilities):
    """The base model of a head checkpoint ("bert." keys, no head keys) loads into BertModel without the prefix.

    (The other direction leaves head keys missing, newly initialised in HF; the adapter contract requires a
    strict load, so it is not checked.)
    """
    dtype, config = check_dtype(capabilities), _config()
    base = spec_state_dict("BertModel", config, seed=1)
    model = bert_impl.load_model("BertModel", config, {"bert." + k: v for k, v in base.items()}, dtype=dtype)
    inputs = head_inputs("BertModel", config)
    compare_all("BertModel", model.forward(inputs), oracle.forward("BertModel", config, base, inputs), inputs=inputs,
                dtype=dtype)


not_tested({c.id: "initialisation is not observable through the adapter contract, which always loads given weights"
            for c in SPEC.parameters.init})
