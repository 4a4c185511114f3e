"""Setting up calls for the head, config and parameter clauses: configs, inputs, dtypes, expected failures.

Kept apart from the clause modules so they read as the clauses themselves. Comparisons go through
_shape_helpers; nothing here draws with hypothesis (see _draw).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import numpy as np

from bert_conformance.adapter import private
from bert_conformance.clauses._shape_helpers import MC, SPEC, compare_all, label_args
from bert_conformance.clauses.helpers import make_inputs, tiny_config

WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"


def best_dtype(capabilities: Any) -> str:
    """float64 (the semantic tier) when the port claims it, else float32."""
    return "float64" if "float64" in capabilities.dtypes else "float32"


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


def check_cached_call(case: Any, explicit: dict[str, Any], seq: int) -> None:
    """use_cache=True on the first positions, then the rest with the returned cache (mask over past + new)."""
    split, labels = seq // 2, label_args(case.head, case.config, explicit)  # labels would disable the cache
    explicit = {k: v for k, v in explicit.items() if k not in labels}
    first = {k: (v[:, :split] if k in ("input_ids", "token_type_ids", "position_ids", "attention_mask") else v)
             for k, v in explicit.items()}
    second = {k: (v[:, split:] if k in ("input_ids", "token_type_ids", "position_ids") else v)
              for k, v in explicit.items()}
    port_cache = case.run(first, use_cache=True).get("cache")
    assert port_cache is not None, f"{case.head}: use_cache=True on a decoder returned no cache"
    oracle_cache = case.expected(first, use_cache=True)["cache"]
    got = case.run(second, cache=port_cache, use_cache=True)
    want = case.expected(second, cache=oracle_cache, use_cache=True)
    compare_all(case.head, got, want, inputs=second, dtype=case.dtype)


def present(outputs: Mapping[str, Any], name: str) -> bool:
    """An output is present when the dict has it and it is not None (None fields are dropped in HF)."""
    return outputs.get(name) is not None


def present_names(outputs: Mapping[str, Any]) -> list[str]:
    return [name for name, value in outputs.items() if value is not None]


def forward_raises(case: Any, inputs: Mapping[str, Any], **options: Any) -> str:
    """Call the port's raw forward (no boundary checks); fail unless it raises. Returns the error text.

    Any exception type is conforming (heads.unspecified.error_types). Inputs the port does not declare (an
    undeclared argument or mask form) make the clause not claimed instead.
    """
    __tracebackhide__ = True
    case.model.guard(inputs, options)
    try:
        case.model.raw.forward(private(inputs), **options)
    except Exception as error:  # noqa: BLE001 - any error type is conforming
        return f"{type(error).__name__}: {error}"
    raise AssertionError(f"{case.head}.forward accepted invalid input {sorted(inputs)} {options}; expected an error")


def load_raises(port: Any, head: str, config: Mapping[str, Any], state_dict: Mapping[str, Any], dtype: str) -> str:
    """Fail unless ``load_model`` raises (or returns a model whose first forward raises: "rejects at load")."""
    __tracebackhide__ = True
    try:
        port.impl.load_model(head, copy.deepcopy(dict(config)), private(state_dict), dtype=dtype, device=port.device,
                             attention=(port.capabilities.attention or ("eager",))[0])
    except Exception as error:  # noqa: BLE001 - any error type is conforming
        return f"{type(error).__name__}: {error}"
    raise AssertionError(f"{port.name}: load_model({head!r}) accepted what the spec says it must reject")


def refined_elsewhere() -> dict[str, list[str]]:
    """heads/parameters/config clause id -> the clauses of other spec files that check it (their ``refines``)."""
    found: dict[str, list[str]] = {}
    for name, document in SPEC.documents.items():
        if name in ("config", "heads", "parameters"):
            continue
        for section in document.values():
            if not isinstance(section, (list, tuple)):
                continue
            for clause in section:
                if isinstance(clause, Mapping):
                    for target in clause.get("refines", ()):
                        found.setdefault(target, []).append(clause["id"])
    return found


def not_tested(prefix: str, tested: set[str], own: Mapping[str, str]) -> dict[str, str]:
    """``own`` reasons, plus every ``prefix`` clause another spec file refines and this module does not test."""
    reasons = dict(own)
    for target, by in sorted(refined_elsewhere().items()):
        if target.startswith(prefix) and target not in tested and target not in reasons:
            reasons[target] = "checked by " + ", ".join(by) + " (which refine it)"
    return reasons
