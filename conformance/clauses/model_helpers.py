"""Models for clause modules: head configs and inputs, spec shapes, weights and labels built from the spec.

- :func:`head_config` / :func:`decoder_setup` / :func:`head_inputs` / :func:`encoder_inputs`: a head's tiny
  config (as a decoder, with cross-attention) and deterministic inputs for it;
- :func:`shape_env` / :func:`expected_shape` / :func:`expected_length`: symbolic output shapes (heads.yaml) made
  concrete for one call;
- :func:`spec_state_dict`: random weights keyed and shaped from parameters.yaml alone (not from the reference),
  so key-set clauses test the spec's templates;
- :func:`label_args`: valid label arguments for a head (their names come from heads.yaml).

Nothing here draws with hypothesis (see hypothesis_helpers) or asserts (see pytest_helpers).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from bert_conformance.case import make_inputs, tiny_config
from bert_conformance.losses import MC, SEQCLS, classes, dims, num_labels
from bert_conformance.oracle import draw_weight
from bert_conformance.spec import load_spec
from bert_conformance.spec.shapes import evaluate, evaluate_expr

SPEC = load_spec()
HEADS: tuple[str, ...] = tuple(SPEC.heads.heads)
WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


# --- configs and inputs -------------------------------------------------------------------------------------


def claims(capabilities: Any, *features: str) -> bool:
    return all(feature in capabilities.features for feature in features)


def head_config(head: str, *, decoder: bool = False, cross: bool = False, **overrides: Any) -> dict[str, Any]:
    """The tiny config, as a decoder (``decoder``) and with cross-attention (``cross``) when asked."""
    return tiny_config(**{"is_decoder": decoder or cross, "add_cross_attention": cross, **overrides})


def decoder_setup(head: str, capabilities: Any) -> tuple[bool, bool]:
    """(decoder, cross): the richest config of ``head`` the port claims, so every argument can be passed."""
    names = SPEC.heads.head(head).argument_names
    cross = "encoder_hidden_states" in names and claims(capabilities, "decoder", "cross_attention")
    decoder = cross or ("cache" in names and claims(capabilities, "decoder", "cache"))
    return decoder, cross


def head_inputs(
    head: str, config: Mapping[str, Any], *, batch: int = 2, seq: int = 6, seed: int = 0, pad: bool = True
) -> dict[str, np.ndarray]:
    """ids, token types and a right-padding mask; [batch, 2 choices, seq] for BertForMultipleChoice."""
    if head != MC:
        return make_inputs(dict(config), batch=batch, seq=seq, seed=seed, pad=pad)
    flat = make_inputs(dict(config), batch=batch * 2, seq=seq, seed=seed, pad=pad)
    return {name: value.reshape(batch, 2, seq) for name, value in flat.items()}


def encoder_inputs(config: Mapping[str, Any], batch: int, *, enc_seq: int = 4, seed: int = 1) -> dict[str, np.ndarray]:
    """encoder_hidden_states [batch, enc_seq, hidden] and a padded encoder_attention_mask."""
    rng = np.random.default_rng(seed)
    mask = np.ones((batch, enc_seq), dtype=np.int64)
    mask[-1, enc_seq - 1 :] = 0
    states = rng.standard_normal((batch, enc_seq, config["hidden_size"]))
    return {"encoder_hidden_states": states, "encoder_attention_mask": mask}


def base_key(head: str, key: str) -> str:
    """A base-model state-dict key as ``head`` names it (with the ``bert.`` prefix in task heads)."""
    return SPEC.parameters.heads[head].prefix + key


def embed(head: str, state_dict: Mapping[str, np.ndarray], input_ids: np.ndarray) -> np.ndarray:
    """inputs_embeds = word_embeddings[input_ids], float64 (exact: the weights are float32)."""
    return np.asarray(state_dict[base_key(head, WORD_EMBEDDINGS)], dtype=np.float64)[input_ids]


# --- output shapes ------------------------------------------------------------------------------------------


def shape_env(
    config: Mapping[str, Any], head: str, inputs: Mapping[str, Any], *, past_seq: int = 0, enc_seq: int = 0
) -> dict[str, Any]:
    """Every name a heads.yaml shape may use, for this config and call."""
    numeric = {k: v for k, v in config.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    env = SPEC.env(**{**numeric, "num_labels": num_labels(config)})
    env.update(dims(head, inputs), past_seq=past_seq, enc_seq=enc_seq)
    return env


def expected_shape(head: str, name: str, env: Mapping[str, Any]) -> tuple[int, ...]:
    return tuple(evaluate(list(SPEC.heads.head(head).output(name).shape), env))


def expected_length(head: str, name: str, env: Mapping[str, Any]) -> int | None:
    """The number of entries of a list output (hidden_states: layers + 1), None for an array."""
    length = SPEC.heads.head(head).output(name).length
    return None if length is None else int(evaluate_expr(length, env))


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
    weights = {name: draw_weight(rng, name, shape) for name, shape in keys.items()}  # as the oracle draws them
    for tie in SPEC.parameters.active_ties(head, key_env(config)):
        if saved:
            weights.pop(tie.target)
        else:
            weights[tie.target] = weights[tie.source].copy()
    return weights


# --- label arguments ------------------------------------------------------------------------------------------


def label_args(head: str, config: Mapping[str, Any], inputs: Mapping[str, Any], *, seed: int = 0) -> dict[str, Any]:
    """Valid values for every label argument of ``head`` (the arguments whose omission means no loss): class
    ids, or float32 targets for a regression (BertForSequenceClassification with one label)."""
    rng = np.random.default_rng(seed)
    env = shape_env(config, head, inputs)
    out = {}
    for argument in SPEC.heads.head(head).arguments:
        if argument.omitted != "no_loss":
            continue
        shape = tuple(evaluate(list(argument.shape), env))
        if head == SEQCLS and num_labels(config) == 1:
            out[argument.name] = rng.standard_normal(shape).astype(np.float32)
        else:
            out[argument.name] = rng.integers(0, classes(head, argument.name, config, inputs), size=shape,
                                              dtype=np.int64)
    return out
