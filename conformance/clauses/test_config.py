"""Config clauses (spec/config.yaml): defaults, the derived head_dim, constraints, activations, behaviour.

``config.default.<field>``: the port gets a config *without* the key, and the same config with the spec's
default written out: both must give the same outputs (names and values). The clause compares the port with
itself, so it fails only when the default is wrong, never because of a numeric bug elsewhere (those fail the
clauses about them; a port that computes the explicit default wrongly is caught there). Each field is probed where
its default shows (PROBES): the 30522-row vocabulary, 768-wide hidden states, 12 layers and heads, 512
positions (a position id of 511), an eps made visible by near-constant embeddings, the padding_idx
gradient. Defaults that act only in training (dropouts, initializer_range) or only in generation (bos/eos)
are checked for what the adapter can see: the key may be omitted and evaluation outputs are unchanged.

Clause ids run here that this module does not write out, by test function (tools/clause_hops.py):
    config.default.*                                     test_default
    config.derived.*                                     test_head_dim
    config.hidden_act.*                                  test_activation
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pytest

from bert_conformance.adapter import private
from bert_conformance.case import tiny_config
from bert_conformance.clauses.dtype_helpers import check_dtype
from bert_conformance.clauses.model_helpers import (
    SPEC,
    WORD_EMBEDDINGS,
    base_key,
    encoder_inputs,
    head_config,
    head_inputs,
    label_args,
    spec_state_dict,
)
from bert_conformance.clauses.pytest_helpers import (
    compare_all,
    forward_raises,
    load_raises,
    not_tested,
    params,
    present,
    present_names,
)
from bert_conformance.losses import MLM, SEQCLS
from bert_conformance.spec.node import thaw


@dataclass(frozen=True)
class Probe:
    """Where a field's default shows: head, other config values, inputs, what the port must claim."""

    head: str = "BertModel"
    config: dict[str, Any] = field(default_factory=dict)
    features: tuple[str, ...] = ()
    attention: str | None = None
    high_ids: int | None = None  # draw input ids up to this (the default vocabulary)
    last_position: int | None = None  # pass position_ids reaching this (the default table size)
    labels: bool = False
    flat_embeddings: bool = False  # scale the embeddings down so LayerNorm's eps dominates


DECODER = {"is_decoder": True}
PROBES: dict[str, Probe] = {
    "vocab_size": Probe(MLM, high_ids=30522),
    "hidden_size": Probe(config={"num_hidden_layers": 1}),
    "num_attention_heads": Probe(config={"hidden_size": 48}),
    "hidden_act": Probe(MLM),
    "max_position_embeddings": Probe(last_position=511),
    "layer_norm_eps": Probe(flat_embeddings=True),
    "pad_token_id": Probe(SEQCLS, labels=True, features=("loss", "gradients")),
    "use_cache": Probe(config=DECODER, features=("decoder", "cache")),
    "is_encoder_decoder": Probe(config=DECODER, features=("decoder", "cache")),
    "classifier_dropout": Probe(SEQCLS),
    "tie_word_embeddings": Probe(MLM),
    "num_labels": Probe(SEQCLS),
    "id2label": Probe(SEQCLS),
    "label2id": Probe(SEQCLS),
    "problem_type": Probe(SEQCLS, labels=True, features=("loss",)),
    "output_attentions": Probe(attention="eager"),
}


def _default_clauses() -> list[dict[str, Any]]:
    fields = SPEC.config.fields + SPEC.config.inherited_fields
    return [{"id": f.id, "field": f.name, "default": thaw(f.default), "probe": PROBES.get(f.name, Probe())}
            for f in fields]


def _probe_needs(clause: dict[str, Any]) -> dict[str, Any]:
    probe = clause["probe"]
    needs: dict[str, Any] = {"head": probe.head}
    if probe.features:
        needs["feature"] = list(probe.features)
    if probe.attention:
        needs["attention"] = probe.attention
    return needs


@pytest.mark.parametrize("clause", params(_default_clauses(), requires=_probe_needs))
def test_default(clause, bert_impl, oracle, capabilities):
    name, probe, head = clause["field"], clause["probe"], clause["probe"].head
    dtype = check_dtype(capabilities)
    expected_config = {**tiny_config(**probe.config), name: clause["default"]}
    port_config = {k: v for k, v in expected_config.items() if k != name}
    weights = oracle.random_state_dict(head, expected_config, seed=0)
    if probe.flat_embeddings:
        weights = {k: (v * np.float32(1e-4) if "embeddings." in k and "LayerNorm" not in k else v)
                   for k, v in weights.items()}
    model = bert_impl.load_model(head, port_config, weights, dtype=dtype, attention=probe.attention)
    explicit = bert_impl.load_model(head, expected_config, weights, dtype=dtype, attention=probe.attention)
    inputs = _probe_inputs(probe, expected_config)
    got, want = model.forward(inputs), explicit.forward(inputs)
    assert present_names(got) == present_names(want), (
        f"config without {name!r}: the port returned {present_names(got)}, but with the spec default "
        f"{name}={clause['default']!r} written out it returns {present_names(want)}"
    )
    compare_all(head, got, want, inputs=inputs, dtype=dtype)
    if name == "pad_token_id":
        _check_padding_row(model, inputs, clause["default"])


def _probe_inputs(probe: Probe, config: dict[str, Any]) -> dict[str, np.ndarray]:
    inputs = head_inputs(probe.head, config)
    rng = np.random.default_rng(1)
    if probe.high_ids:
        inputs["input_ids"] = rng.integers(0, probe.high_ids, size=inputs["input_ids"].shape, dtype=np.int64)
        inputs["input_ids"][0, 1] = probe.high_ids - 1
    if probe.last_position:
        positions = rng.integers(0, probe.last_position, size=inputs["input_ids"].shape, dtype=np.int64)
        positions[0, 1] = probe.last_position
        inputs["position_ids"] = positions
    if probe.labels:
        inputs.update(label_args(probe.head, config, inputs))
    if probe.head == SEQCLS and probe.labels:
        inputs["input_ids"][:, 1] = config.get("pad_token_id") or 0  # the padding id, attended
    return inputs


def _check_padding_row(model: Any, inputs: dict[str, np.ndarray], pad: int) -> None:
    """The word-embedding row pad_token_id gets no gradient (padding_idx), though the token is in the input."""
    __tracebackhide__ = True
    grads = model.gradients(inputs)
    rows = grads[base_key(SEQCLS, WORD_EMBEDDINGS)]
    used = [t for t in np.unique(inputs["input_ids"]) if t != pad]
    assert np.any(rows[used] != 0), "no gradient reaches the used word-embedding rows: the check would be vacuous"
    assert np.all(rows[pad] == 0), f"word-embedding row {pad} (pad_token_id) has gradient {rows[pad][:4]}...; want 0"


# --- derived names ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("clause", params([{"id": d.id, "derived": d} for d in SPEC.config.derived]))
def test_head_dim(clause, load_case, capabilities):
    """head_dim = hidden_size / num_attention_heads: the split and the head_dim ** -0.5 scale, per head count."""
    assert clause["derived"].name == "head_dim", "a new derived name needs a test"
    dtype = check_dtype(capabilities)
    for heads in (1, 3, 6):
        case = load_case("BertModel", tiny_config(hidden_size=24, num_attention_heads=heads), dtype=dtype)
        inputs = head_inputs("BertModel", case.config)
        compare_all("BertModel", case.run(inputs), case.expected(inputs), inputs=inputs, dtype=dtype)


# --- constraints ---------------------------------------------------------------------------------------------------

VIOLATIONS: dict[str, tuple[str, dict[str, Any]]] = {  # constraint id -> (head, config that breaks it)
    "config.constraint.hidden_size_divisible_by_heads": ("BertModel", {"hidden_size": 30, "num_attention_heads": 4}),
    "config.constraint.cross_attention_requires_decoder": ("BertModel", {"add_cross_attention": True}),
    "config.constraint.qa_two_labels": ("BertForQuestionAnswering", {"num_labels": 3}),
    "config.constraint.single_label_needs_two_labels": (
        SEQCLS, {"num_labels": 1, "problem_type": "single_label_classification"}),
    "config.constraint.hidden_dropout_range": ("BertModel", {"hidden_dropout_prob": 2.0}),
    "config.constraint.attention_dropout_range": ("BertModel", {"attention_probs_dropout_prob": 2.0}),
    "config.constraint.pad_token_in_vocab": ("BertModel", {"pad_token_id": 99}),
}


def _constraint_clauses() -> list[dict[str, Any]]:
    enforced = [c for c in SPEC.config.constraints if c.enforced_at != "none"]
    missing = [c.id for c in enforced if c.id not in VIOLATIONS]
    assert not missing, f"enforced constraints without a violating config in test_config.VIOLATIONS: {missing}"
    return [{"id": c.id, "constraint": c, "head": VIOLATIONS[c.id][0]} for c in enforced]


@pytest.mark.parametrize("clause", params(_constraint_clauses(), requires=lambda c: {"head": c["head"]}))
def test_constraint_rejected(clause, bert_impl, capabilities):
    """A config breaking the constraint is rejected: at load_model, or at the first forward if the spec says so."""
    constraint, head = clause["constraint"], clause["head"]
    config = tiny_config(**VIOLATIONS[constraint.id][1])
    weights = spec_state_dict(head, config, seed=0)  # shaped for the broken config, from the spec alone
    dtype = check_dtype(capabilities)
    if constraint.enforced_at != "forward":
        load_raises(bert_impl, head, config, weights, dtype)
        return
    try:
        model = bert_impl.impl.load_model(head, dict(config), private(weights), dtype=dtype, device=bert_impl.device,
                                          attention=(capabilities.attention or ("eager",))[0])
    except Exception:  # noqa: BLE001 - rejecting the config at load time is conforming too
        return
    with pytest.raises(Exception):  # noqa: B017 - any error type (heads.unspecified.error_types)
        model.forward(head_inputs(head, config))


# --- activations ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("clause", params([{"id": a.id, "activation": a} for a in SPEC.config.activations]))
def test_activation(clause, bert_impl, oracle, capabilities):
    """hidden_act=<key> in the feed-forward and (for a port with BertForMaskedLM) the masked-LM transform:
    outputs equal the oracle's. A port without that head is checked on BertModel's feed-forward."""
    activation = clause["activation"]
    dtype = check_dtype(capabilities)
    head = MLM if MLM in capabilities.heads else "BertModel"
    config = tiny_config(hidden_act=activation.name)
    weights = spec_state_dict(head, config, seed=0)
    try:
        model = bert_impl.load_model(head, config, weights, dtype=dtype)
    except Exception as error:  # noqa: BLE001 - an optional activation may be refused
        if activation.required:
            raise
        pytest.skip(f"not claimed: optional activation {activation.name!r} ({type(error).__name__}: {error})")
    inputs = head_inputs(head, config)
    try:
        expected = oracle.forward(head, config, weights, inputs)
    except ValueError as error:
        if activation.required:
            raise
        pytest.skip(f"the oracle does not implement the optional activation {activation.name!r}: {error}")
    compare_all(head, model.forward(inputs), expected, inputs=inputs, dtype=dtype)


# --- behaviour ----------------------------------------------------------------------------------------------------


def _behaviour(clause_id: str, requires: Any = None) -> list[Any]:
    return params([{"id": clause_id}], requires=requires)


@pytest.mark.parametrize("clause", _behaviour("config.behaviour.pad_token_id.padding_idx", {"head": SEQCLS, "feature": ["loss", "gradients"]}))
def test_padding_idx(clause, load_case, capabilities):
    """Row pad_token_id gets no gradient; the pad token is still attended (only attention_mask masks)."""
    case = load_case(SEQCLS, tiny_config(pad_token_id=5), dtype=check_dtype(capabilities))
    inputs = head_inputs(SEQCLS, case.config)
    inputs["input_ids"][:, 1] = 5
    inputs.update(label_args(SEQCLS, case.config, inputs))
    compare_all(SEQCLS, case.run(inputs), case.expected(inputs), inputs=inputs, dtype=case.dtype)
    _check_padding_row(case.model, inputs, 5)


@pytest.mark.parametrize("clause", _behaviour("config.behaviour.use_cache.decoder_only", {"feature": ["decoder", "cache"]}))
def test_use_cache_decoder_only(clause, load_case, capabilities):
    dtype = check_dtype(capabilities)
    for config, options, cached in (({}, {"use_cache": True}, False), (DECODER, {}, True),
                                    ({**DECODER, "use_cache": False}, {}, False)):
        case = load_case("BertModel", tiny_config(**config), dtype=dtype)
        got = present(case.run(head_inputs("BertModel", case.config), **options), "cache")
        assert got == cached, f"config {config}, options {options}: cache returned {got}, want {cached}"


@pytest.mark.parametrize("clause", _behaviour("config.behaviour.is_decoder.causal", {"feature": ["decoder"]}))
def test_is_decoder_causal(clause, load_case, capabilities):
    """Changing the last token changes position 0 of an encoder, never of a decoder."""
    for decoder in (False, True):
        case = load_case("BertModel", tiny_config(is_decoder=decoder), dtype=check_dtype(capabilities))
        inputs = head_inputs("BertModel", case.config, pad=False)
        changed = {**inputs, "input_ids": inputs["input_ids"].copy()}
        changed["input_ids"][:, -1] = (changed["input_ids"][:, -1] + 1) % case.config["vocab_size"]
        first = [case.run(x, use_cache=False)["last_hidden_state"][:, 0] for x in (inputs, changed)]
        moved = float(np.abs(first[0] - first[1]).max())
        assert (moved == 0.0) == decoder, f"is_decoder={decoder}: position 0 moved by {moved} when the last token changed"
        compare_all("BertModel", case.run(changed, use_cache=False), case.expected(changed, use_cache=False),
                    inputs=changed, dtype=case.dtype)


@pytest.mark.parametrize("clause", _behaviour("config.behaviour.add_cross_attention.layers", {"feature": ["decoder", "cross_attention"]}))
def test_add_cross_attention(clause, load_case, capabilities):
    """With it, encoder_hidden_states are attended (outputs = oracle's); without it, passing them is an error."""
    dtype = check_dtype(capabilities)
    case = load_case("BertModel", head_config("BertModel", cross=True), dtype=dtype)
    inputs = head_inputs("BertModel", case.config)
    encoder = {**inputs, **encoder_inputs(case.config, len(inputs["input_ids"]))}
    with_encoder = case.run(encoder, use_cache=False)
    compare_all("BertModel", with_encoder, case.expected(encoder, use_cache=False), inputs=inputs, dtype=dtype)
    without = case.run(inputs, use_cache=False)["last_hidden_state"]
    assert not np.allclose(with_encoder["last_hidden_state"], without), "encoder_hidden_states changed nothing"
    plain = load_case("BertModel", head_config("BertModel", decoder=True), dtype=dtype)
    forward_raises(plain, encoder)


@pytest.mark.parametrize("clause", _behaviour("config.behaviour.tie_word_embeddings.decoder_bias", {"head": MLM}))
def test_untied_decoder(clause, bert_impl, oracle, capabilities):
    """tie_word_embeddings false: logits use decoder.weight and decoder.bias; cls.predictions.bias is unused."""
    dtype = check_dtype(capabilities)
    config = tiny_config(tie_word_embeddings=False)
    weights = spec_state_dict(MLM, config, seed=0)
    inputs = head_inputs(MLM, config)
    logits = bert_impl.load_model(MLM, config, weights, dtype=dtype).forward(inputs)
    compare_all(MLM, logits, oracle.forward(MLM, config, weights, inputs), inputs=inputs, dtype=dtype)
    shift = np.linspace(-1, 1, config["vocab_size"]).astype(np.float32)
    for key, moves in (("cls.predictions.bias", False), ("cls.predictions.decoder.bias", True)):
        changed = {**weights, key: weights[key] + shift}
        after = bert_impl.load_model(MLM, config, changed, dtype=dtype).forward(inputs)["logits"]
        expected = logits["logits"] + (shift if moves else 0)
        tol = 1e-6 if dtype == "float64" else 1e-4  # the same model up to one bias: rounding of one addition
        assert np.allclose(after, expected, atol=tol, rtol=0), (
            f"changing {key} by a vector: the logits should {'shift by it' if moves else 'not change'}")


@pytest.mark.parametrize("clause", _behaviour("config.behaviour.chunk_size_feed_forward.equivalent"))
def test_chunking(clause, bert_impl, oracle, capabilities):
    dtype = check_dtype(capabilities)
    weights = oracle.random_state_dict("BertModel", tiny_config(), seed=0)
    inputs = head_inputs("BertModel", tiny_config())
    expected = oracle.forward("BertModel", tiny_config(), weights, inputs)
    for chunk in (1, 3):  # sizes that divide seq 6 (HF raises for others)
        model = bert_impl.load_model("BertModel", tiny_config(chunk_size_feed_forward=chunk), weights, dtype=dtype)
        compare_all("BertModel", model.forward(inputs), expected, inputs=inputs, dtype=dtype)


@pytest.mark.parametrize("clause", _behaviour("config.behaviour.output_attentions.eager_only", {"attention": "eager"}))
def test_output_attentions_eager(clause, load_case, capabilities):
    """Eager attention returns the probabilities (the sdpa result is unspecified: heads.unspecified)."""
    case = load_case("BertModel", tiny_config(), dtype=check_dtype(capabilities), attention="eager")
    inputs = head_inputs("BertModel", case.config)
    got = case.run(inputs, output_attentions=True)
    compare_all("BertModel", got, case.expected(inputs, output_attentions=True), inputs=inputs, dtype=case.dtype,
                names=("attentions",))


@pytest.mark.parametrize("clause", _behaviour("config.behaviour.num_labels.id2label", {"head": SEQCLS}))
def test_num_labels(clause, bert_impl, oracle, capabilities):
    """num_labels=3, or an id2label of 3 entries (string keys, as in config.json), gives 3 logits."""
    dtype = check_dtype(capabilities)
    weights = oracle.random_state_dict(SEQCLS, tiny_config(num_labels=3), seed=0)
    for config in (tiny_config(num_labels=3), tiny_config(id2label={"0": "a", "1": "b", "2": "c"})):
        inputs = head_inputs(SEQCLS, config)
        got = bert_impl.load_model(SEQCLS, config, weights, dtype=dtype).forward(inputs)
        assert np.shape(got.get("logits")) == (2, 3), f"{config}: logits {np.shape(got.get('logits'))}, want [2, 3]"
        compare_all(SEQCLS, got, oracle.forward(SEQCLS, tiny_config(num_labels=3), weights, inputs), inputs=inputs,
                    dtype=dtype)


@pytest.mark.parametrize("clause", _behaviour("config.behaviour.position_embedding_type.removed"))
def test_position_embedding_type_ignored(clause, bert_impl, oracle, capabilities):
    dtype = check_dtype(capabilities)
    weights = oracle.random_state_dict("BertModel", tiny_config(), seed=0)
    inputs = head_inputs("BertModel", tiny_config())
    model = bert_impl.load_model("BertModel", tiny_config(position_embedding_type="relative_key"), weights, dtype=dtype)
    compare_all("BertModel", model.forward(inputs), oracle.forward("BertModel", tiny_config(), weights, inputs),
                inputs=inputs, dtype=dtype)


@pytest.mark.parametrize("clause", _behaviour("config.behaviour.strict_types"))
def test_strict_types(clause, bert_impl, capabilities):
    config = tiny_config(hidden_size="32")
    load_raises(bert_impl, "BertModel", config, spec_state_dict("BertModel", tiny_config(), seed=0),
                check_dtype(capabilities))


@pytest.mark.parametrize("clause", _behaviour("config.behaviour.hidden_size_check_at_model_init"))
def test_hidden_size_checked_at_load(clause, bert_impl, capabilities):
    config = tiny_config(hidden_size=30)
    load_raises(bert_impl, "BertModel", config, spec_state_dict("BertModel", config, seed=0),
                check_dtype(capabilities))


not_tested({
    "config.behaviour.classifier_dropout.fallback": "dropout acts only in training mode, which the adapter "
    "contract does not expose (heads.unspecified.training_mode_values)",
    "config.behaviour.return_dict.tuple": "outputs cross the adapter as a dict; the tuple order is checked by "
    "heads.<Head>.outputs.tuple",
    **{c.id: "HF does not enforce it (enforced_at: none), so a port may accept or reject such a config"
       for c in SPEC.config.constraints if c.enforced_at == "none"},
})
