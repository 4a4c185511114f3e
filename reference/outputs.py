"""Model outputs with transformers' class names, field names and field order.

A `ModelOutput` reads like transformers': attributes (`out.logits`), keys (`out["logits"]`), `keys()` listing the
fields that are not None in declaration order, integer indexing into `to_tuple()`, and `to_tuple()` dropping None
fields (empty tuples are kept). transformers v5.24 names the cache field `cache`; `past_key_values` is accepted as
an alias, as there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

from torch import Tensor

from .cache import Cache

_ALIASES = {"past_key_values": "cache"}


@dataclass(eq=False)
class ModelOutput(Mapping):
    """Base class: a dataclass that is also a read-only mapping of its non-None fields."""

    def keys(self) -> list[str]:  # type: ignore[override]
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]

    def to_tuple(self) -> tuple[Any, ...]:
        """The present fields in order, None dropped (heads.common.tuple_drops_none)."""
        return tuple(getattr(self, name) for name in self.keys())

    def __getitem__(self, key: str | int | slice) -> Any:
        if isinstance(key, str):
            key = _ALIASES.get(key, key)
            if key not in self.keys():
                raise KeyError(key)
            return getattr(self, key)
        return self.to_tuple()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __contains__(self, key: object) -> bool:
        return _ALIASES.get(key, key) in self.keys() if isinstance(key, str) else False

    __eq__ = object.__eq__
    __hash__ = object.__hash__

    @property
    def past_key_values(self) -> Cache | None:
        """Alias of `cache` (transformers' name before v5.24)."""
        return getattr(self, "cache", None)


@dataclass(eq=False)
class BaseModelOutputWithPoolingAndCrossAttentions(ModelOutput):
    """BertModel's output: heads.BertModel.outputs.order, heads.BertModel.outputs.tuple."""

    last_hidden_state: Tensor | None = None
    pooler_output: Tensor | None = None
    hidden_states: tuple[Tensor | None, ...] | None = None
    cache: Cache | None = None
    attentions: tuple[Tensor, ...] | None = None
    cross_attentions: tuple[Tensor, ...] | None = None


@dataclass(eq=False)
class BertForPreTrainingOutput(ModelOutput):
    """BertForPreTraining's output: heads.BertForPreTraining.outputs.order,
    heads.BertForPreTraining.outputs.tuple."""

    loss: Tensor | None = None
    prediction_logits: Tensor | None = None
    seq_relationship_logits: Tensor | None = None
    hidden_states: tuple[Tensor | None, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass(eq=False)
class CausalLMOutputWithCrossAttentions(ModelOutput):
    """BertLMHeadModel's output: heads.BertLMHeadModel.outputs.order, heads.BertLMHeadModel.outputs.tuple."""

    loss: Tensor | None = None
    logits: Tensor | None = None
    cache: Cache | None = None
    hidden_states: tuple[Tensor | None, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None
    cross_attentions: tuple[Tensor, ...] | None = None


@dataclass(eq=False)
class MaskedLMOutput(ModelOutput):
    """BertForMaskedLM's output: heads.BertForMaskedLM.outputs.order, heads.BertForMaskedLM.outputs.tuple."""

    loss: Tensor | None = None
    logits: Tensor | None = None
    hidden_states: tuple[Tensor | None, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass(eq=False)
class NextSentencePredictorOutput(ModelOutput):
    """BertForNextSentencePrediction's output: heads.BertForNextSentencePrediction.outputs.order,
    heads.BertForNextSentencePrediction.outputs.tuple."""

    loss: Tensor | None = None
    logits: Tensor | None = None
    hidden_states: tuple[Tensor | None, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass(eq=False)
class SequenceClassifierOutput(ModelOutput):
    """BertForSequenceClassification's output: heads.BertForSequenceClassification.outputs.order,
    heads.BertForSequenceClassification.outputs.tuple."""

    loss: Tensor | None = None
    logits: Tensor | None = None
    hidden_states: tuple[Tensor | None, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass(eq=False)
class MultipleChoiceModelOutput(ModelOutput):
    """BertForMultipleChoice's output: heads.BertForMultipleChoice.outputs.order,
    heads.BertForMultipleChoice.outputs.tuple."""

    loss: Tensor | None = None
    logits: Tensor | None = None
    hidden_states: tuple[Tensor | None, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass(eq=False)
class TokenClassifierOutput(ModelOutput):
    """BertForTokenClassification's output: heads.BertForTokenClassification.outputs.order,
    heads.BertForTokenClassification.outputs.tuple."""

    loss: Tensor | None = None
    logits: Tensor | None = None
    hidden_states: tuple[Tensor | None, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None


@dataclass(eq=False)
class QuestionAnsweringModelOutput(ModelOutput):
    """BertForQuestionAnswering's output: heads.BertForQuestionAnswering.outputs.order,
    heads.BertForQuestionAnswering.outputs.tuple."""

    loss: Tensor | None = None
    start_logits: Tensor | None = None
    end_logits: Tensor | None = None
    hidden_states: tuple[Tensor | None, ...] | None = None
    attentions: tuple[Tensor, ...] | None = None
