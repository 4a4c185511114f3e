"""Typed view of parameters.yaml: key templates per head, and their expansion for a concrete config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bert_conformance.spec.node import Clause, Node, Source, dataclass, key_field, optional
from bert_conformance.spec.shapes import evaluate, evaluate_count, evaluate_expr

# --- parameters.yaml ---------------------------------------------------------------------------------------


@dataclass
class Prefix(Node):
    id: str
    base_model: str
    heads: str
    text: str


@dataclass
class Repeat(Node):
    var: str
    count: str


@dataclass
class ParameterGroup(Node):
    name: str
    id: str
    scope: str
    text: str
    keys: Mapping[str, tuple[Any, ...]]
    repeat: Repeat | None = optional()
    when_config: str | None = optional()


@dataclass
class ParameterHead(Node):
    name: str = key_field()
    id: str
    prefix: str
    groups: tuple[str, ...]
    text: str


@dataclass
class Tie(Node):
    id: str
    target: str
    source: str
    when_config: str
    heads: tuple[str, ...]
    text: str
    checked_by: tuple[str, ...] | None = optional()


@dataclass
class Buffer(Node):
    id: str
    name: str
    shape: tuple[Any, ...]
    dtype: str
    value: str
    persistent: bool
    text: str


@dataclass
class LegacyRule(Node):
    id: str
    text: str
    renames: Mapping[str, str] | None = optional()
    keys: tuple[str, ...] | None = optional()


@dataclass
class ParametersSpec(Node):
    spec_version: str
    source: Source
    prefix: Prefix
    groups: tuple[ParameterGroup, ...]
    heads: Mapping[str, ParameterHead]
    tied: tuple[Tie, ...]
    saved: tuple[Clause, ...]
    buffers: tuple[Buffer, ...]
    legacy: tuple[LegacyRule, ...]
    init: tuple[Clause, ...]

    def group(self, name: str) -> ParameterGroup:
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(f"parameters.yaml has no group {name!r}")

    def expand(
        self, head: str, env: Mapping[str, Any], *, pooler: bool = True, saved: bool = False
    ) -> dict[str, tuple[int, ...]]:
        """Concrete state-dict keys and shapes of ``head`` for config values ``env``.

        ``env`` holds every name the templates use (``ConfigSpec.env(overrides)`` builds it). ``pooler=False``
        drops the pooler group (BertModel built with add_pooling_layer=False). ``saved=True`` gives the keys
        of the saved file instead: the targets of active ties are dropped.
        """
        spec = self.heads[head]
        keys: dict[str, tuple[int, ...]] = {}
        for name in spec.groups:
            group = self.group(name)
            if (name == "pooler" and not pooler) or (
                group.when_config and not evaluate_expr(group.when_config, env)
            ):
                continue
            prefix = spec.prefix if group.scope == "base" else ""
            indices = range(evaluate_count(group.repeat.count, env)) if group.repeat else [None]
            for index in indices:
                for template, shape in group.keys.items():
                    key = template.format(**{group.repeat.var: index}) if group.repeat else template
                    keys[prefix + key] = evaluate(shape, env)
        if saved:
            for tie in self.active_ties(head, env):
                keys.pop(tie.target, None)
        return keys

    def active_ties(self, head: str, env: Mapping[str, Any]) -> tuple[Tie, ...]:
        """The ties that hold for ``head`` under config values ``env``."""
        return tuple(t for t in self.tied if head in t.heads and evaluate_expr(t.when_config, env))
