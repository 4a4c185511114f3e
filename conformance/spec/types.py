"""Typed, frozen views of the five core spec files (config, heads, labels, parameters, tolerances).

Each class mirrors one YAML mapping key for key; ``to_dict()`` gives the YAML content back. Lists are
tuples and mappings are read-only. Helpers answer the questions tests ask most (a field's default, a
head's argument names, the concrete state-dict keys of a head for a config).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bert_conformance.spec.node import Clause, Node, Source, dataclass, key_field, optional, thaw
from bert_conformance.spec.parameters import ParametersSpec
from bert_conformance.spec.shapes import evaluate_expr

# --- config.yaml -------------------------------------------------------------------------------------------


@dataclass
class ConfigField(Node):
    id: str
    name: str
    type: tuple[str, ...]
    default: Any
    text: str
    allowed_values: tuple[Any, ...] | None = optional()
    allowed_values_from: str | None = optional()


@dataclass
class Derived(Node):
    id: str
    name: str
    expr: str
    text: str


@dataclass
class Constraint(Node):
    id: str
    expr: str
    enforced_at: str
    text: str
    error: str | None = optional()
    applies_to: tuple[str, ...] | None = optional()
    applies_when: str | None = optional()


@dataclass
class Activation(Node):
    id: str
    name: str
    formula: str
    exact: bool
    required: bool
    text: str
    approximates: str | None = optional()


@dataclass
class Behaviour(Node):
    id: str
    fields: tuple[str, ...]
    text: str


@dataclass
class ConfigSpec(Node):
    spec_version: str
    source: Source
    fields: tuple[ConfigField, ...]
    inherited_fields: tuple[ConfigField, ...]
    derived: tuple[Derived, ...]
    constraints: tuple[Constraint, ...]
    activations: tuple[Activation, ...]
    behaviour: tuple[Behaviour, ...]

    def field(self, name: str) -> ConfigField:
        """A BertConfig or inherited field by name."""
        for f in self.fields + self.inherited_fields:
            if f.name == name:
                return f
        raise KeyError(f"config.yaml has no field {name!r}")

    def defaults(self, inherited: bool = False) -> dict[str, Any]:
        """Field name -> default (the 20 BertConfig fields, plus inherited ones if asked)."""
        chosen = self.fields + (self.inherited_fields if inherited else ())
        return {f.name: thaw(f.default) for f in chosen}

    def env(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Values of every config name and derived name, for shape expressions (defaults + overrides)."""
        values = self.defaults(inherited=True)
        values.update(overrides or {})
        for d in self.derived:
            values[d.name] = evaluate_expr(d.expr, values)
        return values

    def activation(self, name: str) -> Activation:
        for a in self.activations:
            if a.name == name:
                return a
        raise KeyError(f"config.yaml has no activation {name!r}")


# --- heads.yaml --------------------------------------------------------------------------------------------


@dataclass
class Dimension(Node):
    name: str
    text: str


@dataclass
class InfrastructureKwarg(Node):
    id: str
    name: str
    type: tuple[str, ...]
    default_from: str
    text: str


@dataclass
class OmissionRule(Node):
    id: str
    rule: str
    text: str
    checked_by: tuple[str, ...] | None = optional()


@dataclass
class DropoutSite(Node):
    site: str
    probability: str
    fallback: str | None = optional()


@dataclass
class Unspecified(Node):
    id: str
    outputs: tuple[str, ...]
    where: str
    text: str
    checked_by: tuple[str, ...] | None = optional()


@dataclass
class Argument(Node):
    name: str
    kind: str
    dtype: tuple[str, ...]
    shape: tuple[Any, ...] | None
    default: Any
    omitted: str
    text: str


@dataclass
class Presence(Node):
    when: str
    args: tuple[str, ...] | None = optional()


@dataclass
class Output(Node):
    id: str
    name: str
    kind: str
    shape: tuple[Any, ...]
    present: Presence
    text: str
    length: str | None = optional()


@dataclass
class TupleExample(Node):
    config: Mapping[str, Any]
    args_given: tuple[str, ...]
    kwargs: Mapping[str, Any]
    tuple: tuple[str, ...]


@dataclass
class Head(Node):
    name: str = key_field()
    text: str
    output_class: str
    pooler: bool
    dropout_sites: tuple[DropoutSite, ...]
    clauses: tuple[Clause, ...]
    arguments: tuple[Argument, ...]
    outputs: tuple[Output, ...]
    tuple_examples: tuple[TupleExample, ...]

    def argument(self, name: str) -> Argument:
        for a in self.arguments:
            if a.name == name:
                return a
        raise KeyError(f"{self.name} has no argument {name!r}")

    def output(self, name: str) -> Output:
        for o in self.outputs:
            if o.name == name:
                return o
        raise KeyError(f"{self.name} has no output {name!r}")

    @property
    def argument_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.arguments)

    @property
    def output_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.outputs)


@dataclass
class HeadsSpec(Node):
    spec_version: str
    source: Source
    dimensions: tuple[Dimension, ...]
    infrastructure_kwargs: tuple[InfrastructureKwarg, ...]
    omission_rules: tuple[OmissionRule, ...]
    encoder_dropout_sites: tuple[DropoutSite, ...]
    common: tuple[Clause, ...]
    unspecified: tuple[Unspecified, ...]
    heads: Mapping[str, Head]

    def head(self, name: str) -> Head:
        try:
            return self.heads[name]
        except KeyError:
            raise KeyError(f"heads.yaml has no head {name!r} (heads: {', '.join(self.heads)})") from None

    def omission_rule(self, rule: str) -> OmissionRule:
        for r in self.omission_rules:
            if r.rule == rule:
                return r
        raise KeyError(f"heads.yaml has no omission rule {rule!r}")


# --- labels.yaml -------------------------------------------------------------------------------------------


@dataclass
class InferenceRule(Node):
    when: str
    problem_type: str


@dataclass
class LabelClause(Node):
    """A label convention, loss or data clause: prose plus the structured fields it needs."""

    id: str
    text: str
    heads: tuple[str, ...] | None = optional()
    arguments: tuple[str, ...] | None = optional()
    ignore_index: int | str | None = optional()
    dtype: str | None = optional()
    values: Mapping[int, str] | None = optional()
    shape: tuple[Any, ...] | None = optional()
    loss: str | None = optional()
    shift: int | None = optional()
    reduction: str | None = optional()
    upcast: str | None = optional()
    uses_attention_mask: bool | None = optional()
    formula: str | None = optional()
    result: str | None = optional()
    requires: tuple[str, ...] | None = optional()
    terms: tuple[str, ...] | None = optional()
    rules: tuple[InferenceRule, ...] | None = optional()
    reshape: Mapping[str, Any] | None = optional()
    clamp: tuple[Any, ...] | None = optional()
    mask_probability: float | None = optional()
    replace: Mapping[str, float] | None = optional()
    never_masked: tuple[str, ...] | None = optional()
    unmasked_label: int | None = optional()
    random_token_range: tuple[Any, ...] | None = optional()
    random_next_probability: float | None = optional()
    label_for_random: int | None = optional()
    label_for_continuation: int | None = optional()


@dataclass
class LabelsSpec(Node):
    spec_version: str
    source: Source
    conventions: tuple[LabelClause, ...]
    losses: tuple[LabelClause, ...]
    data: tuple[LabelClause, ...]

    def clause(self, clause_id: str) -> LabelClause:
        for c in self.conventions + self.losses + self.data:
            if c.id == clause_id:
                return c
        raise KeyError(f"labels.yaml has no clause {clause_id!r}")


# --- tolerances.yaml ---------------------------------------------------------------------------------------


@dataclass
class ToleranceEntry(Node):
    id: str
    atol: float
    rtol: float
    reason: str


@dataclass
class ComparisonKind(Node):
    id: str
    name: str
    text: str


@dataclass
class TolerancesSpec(Node):
    spec_version: str
    source: Source
    rule: Clause
    kinds: tuple[ComparisonKind, ...]
    dtypes: Mapping[str, Mapping[str, ToleranceEntry]]

    def get(self, dtype: str, kind: str) -> ToleranceEntry:
        """The (atol, rtol, reason) entry for a dtype name ("float32") and a comparison kind ("outputs")."""
        try:
            return self.dtypes[dtype][kind]
        except KeyError:
            raise KeyError(f"tolerances.yaml has no entry dtypes.{dtype}.{kind}") from None


CORE_TYPES: Mapping[str, type[Node]] = {
    "config": ConfigSpec,
    "heads": HeadsSpec,
    "labels": LabelsSpec,
    "parameters": ParametersSpec,
    "tolerances": TolerancesSpec,
}
