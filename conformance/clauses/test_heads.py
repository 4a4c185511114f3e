"""Head clauses (spec/heads.yaml): forward arguments, outputs, presence rules, shapes, common behaviour.

Per head: ``heads.<Head>.signature`` (every listed argument is accepted and means what the oracle computes
with it), ``heads.<Head>.outputs.order`` (the dict's present fields are spec fields in spec order),
``heads.<Head>.outputs.tuple`` (the spec's tuple examples: the non-None fields, in order), and one clause per
output (present exactly when its rule says; shape from the symbolic spec shape; values equal the oracle's).
Shared clauses (``heads.common.*``, ``heads.kwargs.*``, ``heads.omitted.*``) run on BertModel unless they
are about another head. Comparisons use float64 when the port claims it (semantic tier), else float32.

Outputs cross the adapter as a dict, so return_dict=False itself is not observable: a port's tuple is its
dict's non-None values in order, which ``outputs.tuple`` checks against the spec's examples.

Clause ids run here that this module does not write out, by test function (tools/clause_hops.py):
    heads.*.signature      test_signature
    heads.*.outputs.*      test_output
    heads.*.outputs.order  test_outputs_order
    heads.*.outputs.tuple  test_tuple_examples
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from bert_conformance.clauses.dtype_helpers import check_dtype
from bert_conformance.clauses.model_helpers import (
    HEADS,
    SPEC,
    claims,
    decoder_setup,
    embed,
    encoder_inputs,
    head_config,
    head_inputs,
    label_args,
    shape_env,
)
from bert_conformance.clauses.pytest_helpers import (
    assert_output_close,
    check_cached_call,
    compare_all,
    forward_raises,
    not_tested,
    params,
    present,
    present_names,
)
from bert_conformance.tolerance import assert_close, tolerance_for


def _head_clauses(suffix: str) -> list[dict[str, Any]]:
    return [{"id": f"heads.{head}.{suffix}", "head": head} for head in HEADS]


def _needs(head: str, *features: str, attention: str | None = None) -> dict[str, Any]:
    needs: dict[str, Any] = {"head": head}
    if features:
        needs["feature"] = list(dict.fromkeys(features))
    if attention:
        needs["attention"] = attention
    return needs


def _load(load_case: Any, capabilities: Any, head: str, **config: Any) -> Any:
    return load_case(head, head_config(head, **config), dtype=check_dtype(capabilities))


# --- per head: signature ------------------------------------------------------------------------------------


@pytest.mark.parametrize("clause", params(_head_clauses("signature"), requires=lambda c: _needs(c["head"])))
def test_signature(clause, load_case, capabilities):
    """Every argument (the ones the port's claims allow) passed explicitly, then inputs_embeds, cache, options."""
    head = clause["head"]
    names = SPEC.heads.head(head).argument_names
    decoder, cross = decoder_setup(head, capabilities)
    case = _load(load_case, capabilities, head, decoder=decoder, cross=cross)
    dtype, inputs = case.dtype, head_inputs(head, case.config)
    rows, seq = inputs["input_ids"].shape[:-1], inputs["input_ids"].shape[-1]
    explicit = {**inputs, "position_ids": np.broadcast_to(np.arange(seq), (*rows, seq)).copy()}
    if cross:
        explicit.update(encoder_inputs(case.config, rows[0]))
    if claims(capabilities, "loss"):
        explicit.update(label_args(head, case.config, inputs))
    compare_all(head, case.run(explicit), case.expected(explicit), inputs=explicit, dtype=dtype)

    by_embedding = {k: v for k, v in explicit.items() if k != "input_ids"}
    by_embedding["inputs_embeds"] = embed(head, case.state_dict, inputs["input_ids"])
    compare_all(head, case.run(by_embedding), case.expected(by_embedding), inputs=by_embedding, dtype=dtype)

    if "logits_to_keep" in names:  # without labels: the loss needs logits at every position
        unlabelled = {k: v for k, v in explicit.items() if k != "labels"}
        got, want = case.run(unlabelled, logits_to_keep=2), case.expected(unlabelled, logits_to_keep=2)
        assert_close(got["logits"], want["logits"], tolerance_for(dtype, "outputs"), what="logits (logits_to_keep=2)",
                     dtype=dtype)
    if "cache" in names and decoder and claims(capabilities, "cache"):
        check_cached_call(case, explicit, seq)


# --- per head: output order and tuple examples ------------------------------------------------------------------


@pytest.mark.parametrize("clause", params(_head_clauses("outputs.order"), requires=lambda c: _needs(c["head"])))
def test_outputs_order(clause, load_case, capabilities):
    """Every optional field the port's claims allow switched on: the present fields are spec fields, in order."""
    head = clause["head"]
    eager = "eager" if "eager" in capabilities.attention else None
    case = load_case(head, head_config(head), dtype=check_dtype(capabilities), attention=eager)
    inputs = head_inputs(head, case.config)
    if claims(capabilities, "loss"):
        inputs.update(label_args(head, case.config, inputs))
    outputs = case.run(inputs, output_hidden_states=True, output_attentions=eager is not None)
    order = SPEC.heads.head(head).output_names
    got = present_names(outputs)
    unknown = [name for name in got if name not in order]
    assert not unknown, f"{head}: outputs {unknown} are not {head} fields (spec: {list(order)})"
    assert got == [name for name in order if name in got], f"{head}: output order {got}, spec order {list(order)}"
    assert "hidden_states" in got, f"{head}: output_hidden_states=True returned only {got}"


def _tuple_needs(clause: dict[str, Any]) -> dict[str, Any]:
    features = []
    for example in SPEC.heads.head(clause["head"]).tuple_examples:
        features += ["decoder"] if example.config.get("is_decoder") else []
        features += ["cache"] if "cache" in example.tuple or "use_cache" in example.kwargs else []
        features += ["loss"] if example.args_given else []
    return _needs(clause["head"], *features)


@pytest.mark.parametrize("clause", params(_head_clauses("outputs.tuple"), requires=_tuple_needs))
def test_tuple_examples(clause, load_case, capabilities):
    head = clause["head"]
    for example in SPEC.heads.head(head).tuple_examples:
        case = load_case(head, head_config(head, **example.config), dtype=check_dtype(capabilities))
        inputs = head_inputs(head, case.config)
        labels = label_args(head, case.config, inputs)
        call = {**inputs, **{name: labels[name] for name in example.args_given}}
        got = present_names(case.run(call, **dict(example.kwargs)))
        assert got == list(example.tuple), (
            f"{head} with config {dict(example.config)}, args {list(example.args_given)}, kwargs "
            f"{dict(example.kwargs)}: present fields {got}, spec tuple {list(example.tuple)}"
        )


# --- per head: each output --------------------------------------------------------------------------------------


def _output_clauses() -> list[dict[str, Any]]:
    return [{"id": out.id, "head": head, "output": out} for head in HEADS for out in SPEC.heads.head(head).outputs]


def _output_needs(clause: dict[str, Any]) -> dict[str, Any]:
    out, features = clause["output"], []
    features += ["loss"] if out.present.when == "args_given" else []
    features += ["decoder", "cache"] if out.kind == "cache" else []
    features += ["decoder", "cross_attention"] if out.name == "cross_attentions" else []
    attention = "eager" if out.name in ("attentions", "cross_attentions") else None
    return _needs(clause["head"], *features, attention=attention)


@pytest.mark.parametrize("clause", params(_output_clauses(), requires=_output_needs))
def test_output(clause, load_case, capabilities):
    """Present when its rule holds (shape, values), absent when it does not."""
    head, out = clause["head"], clause["output"]
    when = out.present.when
    cross = out.name == "cross_attentions"
    config = head_config(head, decoder=when == "use_cache", cross=cross)
    attention = "eager" if out.name in ("attentions", "cross_attentions") else None
    case = load_case(head, config, dtype=check_dtype(capabilities), attention=attention)
    inputs = head_inputs(head, case.config)
    enc_seq = 0
    if cross:
        inputs.update(encoder_inputs(case.config, inputs["input_ids"].shape[0]))
        enc_seq = inputs["encoder_hidden_states"].shape[1]
    labels = label_args(head, case.config, inputs)
    switch_on = {"output_hidden_states": {"output_hidden_states": True},
                 "output_attentions": {"output_attentions": True}, "use_cache": {"use_cache": True}}
    on_inputs = {**inputs, **labels} if when == "args_given" else inputs
    outputs = case.run(on_inputs, **switch_on.get(when, {}))
    assert present(outputs, out.name), f"{head}: {out.name} missing when {when} {list(out.present.args or [])} holds"
    if out.kind != "cache":  # the cache container is the port's own (heads.unspecified.cache_container)
        expected = case.expected(on_inputs, **switch_on.get(when, {}))
        env = shape_env(case.config, head, inputs, enc_seq=enc_seq)
        assert_output_close(head, out.name, outputs[out.name], expected[out.name], inputs=on_inputs,
                            dtype=case.dtype, env=env)
    for call, options in _absent_calls(when, out, inputs, labels):
        assert not present(case.run(call, **options), out.name), (
            f"{head}: {out.name} present with args {sorted(set(call) - set(inputs))} and options {options}, "
            f"but the spec says it is present only when {when} {list(out.present.args or [])}"
        )


def _absent_calls(when: str, out: Any, inputs: dict, labels: dict) -> list[tuple[dict, dict]]:
    """Calls in which the output's presence rule does not hold (none for always / pooler)."""
    if when == "args_given":
        args = list(out.present.args)
        subsets = [[]] + [[a] for a in args if len(args) > 1]  # none of them, and each one alone
        return [({**inputs, **{a: labels[a] for a in subset}}, {}) for subset in subsets]
    if when in ("output_hidden_states", "output_attentions", "use_cache"):
        return [(inputs, {}), (inputs, {when: False})] if when != "use_cache" else [(inputs, {"use_cache": False})]
    return []


# --- infrastructure kwargs ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("clause", params([{"id": "heads.kwargs.output_attentions"}], requires={"attention": "eager"}))
def test_kwarg_output_attentions(clause, load_case, capabilities):
    """True returns one probability tensor per layer; False none; omitted takes config.output_attentions."""
    dtype = check_dtype(capabilities)
    case = load_case("BertModel", head_config("BertModel"), dtype=dtype, attention="eager")
    inputs = head_inputs("BertModel", case.config)
    env = shape_env(case.config, "BertModel", inputs)
    got = case.run(inputs, output_attentions=True)
    assert_output_close("BertModel", "attentions", got.get("attentions"), case.expected(inputs, output_attentions=True)[
        "attentions"], inputs=inputs, dtype=dtype, env=env)
    assert not present(case.run(inputs, output_attentions=False), "attentions"), "output_attentions=False"
    by_config = load_case("BertModel", head_config("BertModel", output_attentions=True), dtype=dtype,
                          attention="eager")
    assert present(by_config.run(inputs), "attentions"), "omitted output_attentions must take the config's True"


@pytest.mark.parametrize("clause", params([{"id": "heads.kwargs.output_hidden_states"}]))
def test_kwarg_output_hidden_states(clause, load_case, capabilities):
    """True returns every hidden state; a list of indices only those (others None); omitted takes the config."""
    dtype = check_dtype(capabilities)
    case = _load(load_case, capabilities, "BertModel")
    inputs = head_inputs("BertModel", case.config)
    env = shape_env(case.config, "BertModel", inputs)
    for selection in (True, [0, -1]):
        got, want = case.run(inputs, output_hidden_states=selection), case.expected(inputs, output_hidden_states=True)
        layers = len(want["hidden_states"])
        chosen = range(layers) if selection is True else {i % layers for i in selection}
        masked = [w if i in chosen else None for i, w in enumerate(want["hidden_states"])]
        assert_output_close("BertModel", "hidden_states", got.get("hidden_states"), masked, inputs=inputs, dtype=dtype,
                            env=env)
    by_config = _load(load_case, capabilities, "BertModel", output_hidden_states=True)
    assert present(by_config.run(inputs), "hidden_states"), "omitted output_hidden_states must take the config's"


# --- shared clauses (heads.common, heads.omitted) on BertModel --------------------------------------------------


def _bert_model(load_case: Any, capabilities: Any, attention: str | None = None, **config: Any) -> tuple[Any, dict]:
    case = load_case("BertModel", head_config("BertModel", **config), dtype=check_dtype(capabilities),
                     attention=attention)
    return case, head_inputs("BertModel", case.config)


@pytest.mark.parametrize("clause", params([{"id": "heads.common.input_exclusive"},
                                           {"id": "heads.omitted.exactly_one_of_ids_embeds"}]))
def test_input_exclusive(clause, load_case, capabilities):
    case, inputs = _bert_model(load_case, capabilities)
    forward_raises(case, {k: v for k, v in inputs.items() if k != "input_ids"})  # neither: the core
    both = {**inputs, "inputs_embeds": embed("BertModel", case.state_dict, inputs["input_ids"])}
    forward_raises(case, both)  # not claimed by a port without inputs_embeds


@pytest.mark.parametrize("clause", params([{"id": "heads.common.inputs_embeds_equivalence"}]))
def test_inputs_embeds_equivalence(clause, load_case, capabilities):
    """The port given word_embeddings[input_ids] computes what the oracle computes from the ids."""
    case, inputs = _bert_model(load_case, capabilities)
    embeds = {**{k: v for k, v in inputs.items() if k != "input_ids"},
              "inputs_embeds": embed("BertModel", case.state_dict, inputs["input_ids"])}
    compare_all("BertModel", case.run(embeds), case.expected(inputs), inputs=inputs, dtype=case.dtype)


@pytest.mark.parametrize("clause", params([{"id": "heads.common.embeddings"}]))
def test_embeddings(clause, load_case, capabilities):
    """hidden_states[0] = LayerNorm(word[ids] + type[tt] + position[arange]) with layer_norm_eps, by numpy."""
    case, inputs = _bert_model(load_case, capabilities, layer_norm_eps=1e-3)  # an eps that shows
    w = {k.removeprefix("embeddings."): np.asarray(v, np.float64) for k, v in case.state_dict.items()
         if k.startswith("embeddings.")}
    seq = inputs["input_ids"].shape[1]
    x = (w["word_embeddings.weight"][inputs["input_ids"]] + w["token_type_embeddings.weight"][inputs["token_type_ids"]]
         + w["position_embeddings.weight"][np.arange(seq)])
    mean, var = x.mean(-1, keepdims=True), x.var(-1, keepdims=True)  # biased variance, as LayerNorm
    expected = (x - mean) / np.sqrt(var + case.config["layer_norm_eps"]) * w["LayerNorm.weight"] + w["LayerNorm.bias"]
    got = case.run(inputs, output_hidden_states=True).get("hidden_states")
    assert got, "output_hidden_states=True returned no hidden_states"
    assert_close(got[0], expected, tolerance_for(case.dtype, "outputs"), what="hidden_states[0] (embedding output)",
                 dtype=case.dtype)


@pytest.mark.parametrize("clause", params([{"id": "heads.common.attention_mask_4d"}]))
def test_attention_mask_4d(clause, load_case, capabilities):
    """A 4-D float mask is added to the scores; a 4-D bool mask selects keys with sdpa (= the 2-D mask it expands).

    (A bool 4-D mask with eager attention is unspecified: heads.unspecified.bool_4d_mask_eager.)
    """
    case, inputs = _bert_model(load_case, capabilities)
    mask = inputs["attention_mask"]
    seq = mask.shape[1]
    if "sdpa" in capabilities.attention:
        sdpa, _ = _bert_model(load_case, capabilities, attention="sdpa")
        selecting = np.broadcast_to(mask[:, None, None, :] != 0, (len(mask), 1, seq, seq)).copy()
        boolean = {**inputs, "attention_mask": selecting}
        compare_all("BertModel", sdpa.run(boolean), case.expected(inputs), inputs=inputs, dtype=case.dtype)
    rng = np.random.default_rng(3)
    additive = np.where(mask[:, None, None, :] != 0, -rng.random((len(mask), 1, seq, seq)), -1e4)
    floating = {**inputs, "attention_mask": additive}
    compare_all("BertModel", case.run(floating), case.expected(floating), inputs=inputs, dtype=case.dtype)


PACKED_LENGTHS = ((3, 4), (2, 5))  # two rows of 7 tokens, each holding two sequences


@pytest.mark.parametrize("clause", params([{"id": "heads.common.packed_sequences"}],
                                           requires={"feature": "packed_sequences"}))
def test_packed_sequences(clause, load_case, capabilities):
    """Rows packing two sequences (positions restart at 0, no attention_mask) give each sequence the outputs it
    gives alone, and the oracle's; a mask, or positions that only step by +1, mean no packing."""
    for decoder in (False, True) if claims(capabilities, "decoder") else (False,):
        case = load_case("BertModel", head_config("BertModel", decoder=decoder), dtype=check_dtype(capabilities))
        options = {"use_cache": False} if decoder else {}  # a cache in use turns packing off
        ids = head_inputs("BertModel", case.config, batch=len(PACKED_LENGTHS), seq=7, pad=False)["input_ids"]
        positions = np.array([np.concatenate([np.arange(n) for n in row]) for row in PACKED_LENGTHS])
        packed = {"input_ids": ids, "position_ids": positions}
        what = f"{'decoder' if decoder else 'encoder'}: packed rows {PACKED_LENGTHS}"
        got = case.run(packed, **options).get("last_hidden_state")
        assert got is not None, f"{what}: no last_hidden_state"
        outputs_tol = tolerance_for(case.dtype, "outputs")
        assert_close(got, case.expected(packed, **options)["last_hidden_state"], outputs_tol,
                     what=f"{what}: last_hidden_state", dtype=case.dtype)
        for row, lengths in enumerate(PACKED_LENGTHS):
            for start, n in zip(np.cumsum((0, *lengths[:-1])), lengths):
                alone = case.run({"input_ids": ids[row:row + 1, start:start + n]}, **options)["last_hidden_state"]
                assert_close(got[row:row + 1, start:start + n], alone, tolerance_for(case.dtype, "padding_invariance"),
                             what=f"{what}: row {row} tokens {start}..{start + n - 1} vs that sequence alone",
                             dtype=case.dtype)
        for label, inputs in (("an all-ones attention_mask (no packing)", {**packed, "attention_mask": np.ones_like(ids)}),
                              ("positions 2..8 (one sequence)", {"input_ids": ids, "position_ids": positions * 0 + np.arange(2, 9)})):
            assert_close(case.run(inputs, **options)["last_hidden_state"],
                         case.expected(inputs, **options)["last_hidden_state"], outputs_tol,
                         what=f"{what} with {label}: last_hidden_state", dtype=case.dtype)


@pytest.mark.parametrize("clause", params([{"id": "heads.common.hidden_states"}]))
def test_hidden_states(clause, load_case, capabilities):
    """num_hidden_layers + 1 entries; entry 0 is the embedding output; the last is last_hidden_state."""
    case, inputs = _bert_model(load_case, capabilities, num_hidden_layers=3)
    got, want = case.run(inputs, output_hidden_states=True), case.expected(inputs, output_hidden_states=True)
    states = got.get("hidden_states")
    assert states is not None and len(states) == 4, f"3 layers: want 4 hidden states, got {len(states or [])}"
    tol = tolerance_for(case.dtype, "outputs")
    assert_close(states[0], want["hidden_states"][0], tol, what="hidden_states[0] (embedding output)", dtype=case.dtype)
    rows = inputs["attention_mask"] != 0
    assert_close(states[-1][rows], got["last_hidden_state"][rows], tol, what="hidden_states[-1] vs last_hidden_state",
                 dtype=case.dtype)


@pytest.mark.parametrize("clause", params([{"id": "heads.common.attentions"}], requires={"attention": "eager"}))
def test_attentions(clause, load_case, capabilities):
    """Eager: one [batch, heads, seq, seq] tensor per layer; each attended query row sums to 1 over attended keys."""
    case, inputs = _bert_model(load_case, capabilities, attention="eager")
    attentions = case.run(inputs, output_attentions=True).get("attentions")
    layers, (batch, seq) = case.config["num_hidden_layers"], inputs["input_ids"].shape
    assert attentions is not None and len(attentions) == layers, f"want {layers} attention tensors"
    keys = inputs["attention_mask"][:, None, None, :] != 0
    tol = tolerance_for(case.dtype, "outputs")
    for i, probs in enumerate(attentions):
        assert probs.shape == (batch, case.config["num_attention_heads"], seq, seq), f"attentions[{i}]: {probs.shape}"
        rows = np.moveaxis(probs, 2, 1)[inputs["attention_mask"] != 0]  # attended query rows: [n, heads, keys]
        assert rows.min() >= -tol.atol, f"attentions[{i}]: negative probability {rows.min()}"
        sums = np.moveaxis(np.where(keys, probs, 0).sum(-1), 2, 1)[inputs["attention_mask"] != 0]
        assert_close(sums, np.ones_like(sums, dtype=np.float64), tol, what=f"attentions[{i}] sum over attended keys",
                     dtype=case.dtype)


@pytest.mark.parametrize("clause", params([{"id": "heads.common.pooler_first_token"}]))
def test_pooler_first_token(clause, load_case, capabilities):
    """pooler_output = tanh(pooler.dense(last_hidden_state[:, 0])), from the port's own last_hidden_state."""
    case, inputs = _bert_model(load_case, capabilities)
    got = case.run(inputs)
    weight, bias = (np.asarray(case.state_dict[f"pooler.dense.{p}"], np.float64) for p in ("weight", "bias"))
    expected = np.tanh(got["last_hidden_state"][:, 0].astype(np.float64) @ weight.T + bias)
    assert_close(got["pooler_output"], expected, tolerance_for(case.dtype, "outputs"), what="pooler_output",
                 dtype=case.dtype)


@pytest.mark.parametrize("clause", params([{"id": "heads.common.max_positions"}]))
def test_max_positions(clause, load_case, capabilities):
    case, _ = _bert_model(load_case, capabilities, max_position_embeddings=8)
    forward_raises(case, head_inputs("BertModel", case.config, seq=9))


@pytest.mark.parametrize("clause", params([{"id": "heads.common.token_type_out_of_range"}]))
def test_token_type_out_of_range(clause, load_case, capabilities):
    _out_of_range_raises(*_bert_model(load_case, capabilities), "token_type_ids", "type_vocab_size")


@pytest.mark.parametrize("clause", params([{"id": "heads.common.input_ids_out_of_range"}]))
def test_input_ids_out_of_range(clause, load_case, capabilities):
    _out_of_range_raises(*_bert_model(load_case, capabilities), "input_ids", "vocab_size")


def _out_of_range_raises(case, inputs, name: str, size: str) -> None:
    """One id just past the table, then -1 (a lookup that wraps negatives, as ONNX Gather does, must fail)."""
    for value in (case.config[size], -1):
        bad = inputs[name].copy()
        bad[0, 1] = value
        forward_raises(case, {**inputs, name: bad})


@pytest.mark.parametrize("clause", params([{"id": "heads.omitted.no_cross_attention"}],
                                           requires={"feature": ["decoder", "cross_attention"]}))
def test_omitted_encoder_states_skip_cross_attention(clause, load_case, capabilities):
    """Without encoder_hidden_states a cross-attention decoder equals the same decoder built without it."""
    case, inputs = _bert_model(load_case, capabilities, cross=True)
    plain = head_config("BertModel", decoder=True)
    weights = {k: v for k, v in case.state_dict.items() if ".crossattention." not in k}
    expected = case.oracle.forward("BertModel", plain, weights, inputs, use_cache=False)
    compare_all("BertModel", case.run(inputs, use_cache=False), expected, inputs=inputs, dtype=case.dtype)


@pytest.mark.parametrize("clause", params([{"id": "heads.omitted.new_cache"}],
                                           requires={"feature": ["decoder", "cache"]}))
def test_omitted_cache_starts_new(clause, load_case, capabilities):
    """No cache argument: past_seq = 0 and the returned cache holds exactly this call's positions."""
    case, inputs = _bert_model(load_case, capabilities, decoder=True)
    inputs = head_inputs("BertModel", case.config, pad=False)
    first = {k: v[:, :4] for k, v in inputs.items()}
    got = case.run(first, use_cache=True)
    compare_all("BertModel", got, case.expected(first, use_cache=False), inputs=first, dtype=case.dtype)
    assert got.get("cache") is not None, "a decoder with use_cache=True and no cache argument returned no cache"
    second = {k: (v if k == "attention_mask" else v[:, 4:]) for k, v in inputs.items()}
    full = case.expected(inputs, use_cache=False)["last_hidden_state"][:, 4:]
    after = case.run(second, cache=got["cache"], use_cache=True)["last_hidden_state"]
    assert_close(after, full, tolerance_for(case.dtype, "outputs"), what="continuation of the new cache vs full forward",
                 dtype=case.dtype)


@pytest.mark.parametrize("clause", params([{"id": "heads.omitted.no_loss"}]))
def test_omitted_labels_no_loss(clause, load_case, capabilities):
    heads = [h for h in capabilities.heads if label_args(h, head_config(h), head_inputs(h, head_config(h)))]
    if not heads:
        pytest.skip("not claimed: no head with label arguments")
    for head in heads:
        case = _load(load_case, capabilities, head)
        assert not present(case.run(head_inputs(head, case.config)), "loss"), f"{head}: loss without labels"


not_tested({
    "heads.kwargs.return_dict": "outputs cross the adapter boundary as a dict, so return_dict=False is not "
    "observable; the tuple's order and None-dropping are checked on the dict by heads.<Head>.outputs.tuple",
    "heads.common.tuple_drops_none": "same as heads.kwargs.return_dict: checked on the dict's non-None fields by "
    "heads.<Head>.outputs.tuple",
    **{u.id: "declares values no clause may compare (every comparison skips them); nothing to test"
       for u in SPEC.heads.unspecified},
})
