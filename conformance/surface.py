"""A port's surface (spec/surface.yaml): what it may declare it supports, and what a call into it needs.

A port narrows its surface with optional ``capabilities()`` keys (``inputs``, ``outputs``, ``activations``,
``padding``, ``attention_masks``, ``checkpoints``, ``embeddings``); an omitted key means every value, and the
core values are implied. The suite never asks a port for an undeclared value: :func:`forward_needs` and
:func:`load_needs` derive, from what a clause is about to feed the port, the values it needs, and the adapter
boundary (``bert_conformance.adapter``) reports a call needing an undeclared one as *not claimed* instead
of making it. The detection rules are written here once; the names they use come from the spec.

    declarations()["inputs"].values          # every declarable forward argument
    forward_needs("BertModel", {"input_ids": ..., "position_ids": ...}, {"output_hidden_states": True})
    # -> {"inputs": {"input_ids", "position_ids"}, "outputs": {"hidden_states"}, ...}
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

Needs = dict[str, set[str]]  # declaration key -> values a call needs

# values_from sources (spec/surface.yaml): how each is read from the other spec documents
_LABEL_RULE = "no_loss"  # labels (feature loss)
_CACHE_KINDS = ("cache", "bool")  # cache, use_cache (feature cache)


@dataclass(frozen=True)
class Declaration:
    """One capabilities() key: its clause id, every value it can take and the values it always implies."""

    id: str
    key: str
    values: tuple[str, ...]
    core: tuple[str, ...]


def resolve_values(declaration: Mapping[str, Any], documents: Mapping[str, Mapping[str, Any]]) -> tuple[str, ...]:
    """The values of one surface.yaml declaration, listed or taken from the other documents (raw YAML data)."""
    if "values" in declaration:
        return tuple(v["name"] for v in declaration["values"])
    source = declaration["values_from"]
    names: list[str] = []
    if source == "config.activations":
        names = [a["name"] for a in documents["config"]["activations"]]
    elif source == "heads.arguments":
        for head in documents["heads"]["heads"].values():
            names += [a["name"] for a in head["arguments"]
                      if a["omitted"] != _LABEL_RULE and a["kind"] not in _CACHE_KINDS]
    elif source == "heads.optional_outputs":
        options = {k["name"] for k in documents["heads"]["infrastructure_kwargs"]}
        for head in documents["heads"]["heads"].values():
            names += [o["name"] for o in head["outputs"] if o["present"].get("when") in options]
    return tuple(dict.fromkeys(names))  # first-seen order, no repeats


@functools.cache
def declarations() -> dict[str, Declaration]:
    """The installed spec's declarations by key."""
    from bert_conformance.spec import load_spec

    spec = load_spec()
    documents = {name: spec.raw(name) for name in spec.documents}
    return {
        d["key"]: Declaration(d["id"], d["key"], resolve_values(d, documents), tuple(d["core"]))
        for d in documents["surface"]["declarations"]
    }


@functools.cache
def heads() -> tuple[str, ...]:
    """The nine heads, in the spec's order (heads.yaml): what a port may claim."""
    from bert_conformance.spec import load_spec

    return tuple(load_spec().heads.heads)


@functools.cache
def core() -> dict[str, tuple[str, ...]]:
    """The non-declarable core's heads, dtypes and devices (surface.core)."""
    from bert_conformance.spec import load_spec

    data = load_spec().raw("surface")["core"]
    return {key: tuple(data[key]) for key in ("heads", "dtypes", "devices")}


# --- what a call needs -------------------------------------------------------------------------------------


def forward_needs(inputs: Mapping[str, Any], options: Mapping[str, Any]) -> Needs:
    """What ``model.forward(inputs, **options)`` needs: its arguments, optional outputs, mask forms, padding."""
    decl = declarations()
    needs: Needs = {key: set() for key in decl}
    needs["inputs"] |= {name for name in (*inputs, *options) if name in decl["inputs"].values}
    if _truthy(options.get("output_hidden_states")):
        needs["outputs"].add("hidden_states")
    if _truthy(options.get("output_attentions")):
        needs["outputs"].add("attentions")
        if inputs.get("encoder_hidden_states") is not None:
            needs["outputs"].add("cross_attentions")
    for name in ("attention_mask", "encoder_attention_mask"):
        mask = inputs.get(name)
        if mask is not None:
            needs["attention_masks"] |= mask_forms(mask)
    mask = inputs.get("attention_mask")
    if mask is not None and np.ndim(mask) != 4:
        needs["padding"] |= padding_layouts(mask)
    return needs


def load_needs(head: str, config: Mapping[str, Any], state_dict: Mapping[str, Any]) -> Needs:
    """What ``load_model(head, config, state_dict)`` needs: the activation, the tying, the key forms."""
    from bert_conformance.spec import load_spec

    decl = declarations()
    needs: Needs = {key: set() for key in decl}
    activation = config.get("hidden_act", "gelu")
    if isinstance(activation, str) and activation in decl["activations"].values:  # others: a config error
        needs["activations"].add(activation)
    parameters = load_spec().parameters
    tied_heads = {h for tie in parameters.tied for h in tie.heads}
    if head in tied_heads:
        needs["embeddings"].add("tied" if config.get("tie_word_embeddings", True) else "untied")
        if any(tie.source not in state_dict and tie.target in state_dict for tie in parameters.tied):
            needs["checkpoints"].add("tied_load_symmetric")
    needs["checkpoints"] |= _key_forms(head, state_dict)
    return needs


def _key_forms(head: str, state_dict: Mapping[str, Any]) -> set[str]:
    from bert_conformance.spec import load_spec

    parameters = load_spec().parameters
    legacy = {rule.id.rsplit(".", 1)[-1]: rule for rule in parameters.legacy}
    forms: set[str] = set()
    old_names = tuple(legacy["layernorm_gamma_beta"].renames or {})
    if any(key.endswith(old_names) for key in state_dict):
        forms.add("layernorm_gamma_beta")
    if any(key.endswith(tuple(legacy["buffers_in_checkpoint"].keys or ())) for key in state_dict):
        forms.add("buffers_in_checkpoint")
    prefix = parameters.heads[head].prefix
    base = tuple(f"{group}." for group in ("embeddings", "encoder", "pooler"))
    if (prefix and any(key.startswith(base) for key in state_dict)) or (
        not prefix and any(key.startswith("bert.") for key in state_dict)
    ):
        forms.add("prefix")
    return forms


def mask_forms(mask: Any) -> set[str]:
    """The attention_masks values a mask needs: 4d, bool, float, nonbinary or binary."""
    array = np.asarray(mask)
    if array.ndim == 4:
        return {"4d"}
    forms = {"bool"} if array.dtype == np.bool_ else {"float"} if array.dtype.kind == "f" else set()
    if array.dtype != np.bool_ and not np.isin(array, (0, 1)).all():
        forms.add("nonbinary")
    return forms or {"binary"}


def padding_layouts(mask: Any) -> set[str]:
    """The padding values a 2-D (or [batch, choices, seq]) mask needs, one per row: right (1..1 0..0, an
    unpadded row included), left (0..0 1..1) or arbitrary (a 0 between two 1s)."""
    rows = np.asarray(mask) != 0
    rows = rows.reshape(-1, rows.shape[-1]) if rows.ndim else rows.reshape(1, 1)
    steps = np.diff(rows.astype(np.int8), axis=-1)
    rises, falls = (steps > 0).any(axis=-1), (steps < 0).any(axis=-1)
    layouts = {"arbitrary" if rise and fall else "left" if rise else "right" for rise, fall in zip(rises, falls)}
    return layouts or {"right"}


def undeclared(needs: Needs, declared: Mapping[str, tuple[str, ...]]) -> list[str]:
    """``"<key> <value>"`` for every needed value the port did not declare (sorted)."""
    return sorted(f"{key} {value}" for key, values in needs.items() for value in values
                  if value not in declared.get(key, ()))


def _truthy(option: Any) -> bool:
    if isinstance(option, (list, tuple)):
        return len(option) > 0
    return bool(option)
