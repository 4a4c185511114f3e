"""A tiny base for the spec's frozen dataclasses: build from YAML data, give it back unchanged.

Field types drive the conversion: ``tuple[X, ...]`` from a list, ``Mapping[str, X]`` from a mapping
(read-only), a ``Node`` subclass from a mapping, anything else as is. A field marked ``optional`` is
absent from ``to_dict()`` when it is None (the YAML never writes it as null); a field marked ``key`` holds
the mapping key under which the node sits (``heads.BertModel`` -> ``name="BertModel"``) and is not emitted.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar, Union

N = TypeVar("N", bound="Node")

OPTIONAL = {"optional": True}
KEY = {"key": True}


def freeze(value: Any) -> Any:
    """Deep read-only copy of YAML data: mappings become MappingProxyType, lists become tuples."""
    if isinstance(value, Mapping):
        return types.MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """Plain dict/list copy of frozen (or plain) YAML data."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [thaw(v) for v in value]
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _convert(tp: Any, value: Any) -> Any:
    """Convert YAML data to the annotated type."""
    if value is None:
        return None
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _convert(args[0], value) if len(args) == 1 else freeze(value)
    if isinstance(tp, type) and issubclass(tp, Node):
        return tp.from_dict(value)
    if origin is tuple:
        (item,) = typing.get_args(tp)[:1]
        return tuple(_convert(item, v) for v in value)
    if origin in (Mapping, dict):
        _, item = typing.get_args(tp)
        return types.MappingProxyType({k: _named(item, k, v) for k, v in value.items()})
    return freeze(value)


def _named(tp: Any, key: str, value: Any) -> Any:
    if isinstance(tp, type) and issubclass(tp, Node):
        return tp.from_dict(value, key=key)
    return _convert(tp, value)


def _unconvert(value: Any) -> Any:
    if isinstance(value, Node):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: _unconvert(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_unconvert(v) for v in value]
    return value


@dataclasses.dataclass(frozen=True, kw_only=True)
class Node:
    """Base of every typed spec entry."""

    @classmethod
    def from_dict(cls: type[N], data: Mapping[str, Any], key: str | None = None) -> N:
        hints = _hints(cls)
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.metadata.get("key"):
                kwargs[f.name] = key
            elif f.name in data:
                kwargs[f.name] = _convert(hints[f.name], data[f.name])
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.metadata.get("key") or (f.metadata.get("optional") and value is None):
                continue
            out[f.name] = _unconvert(value)
        return out


def optional(default: Any = None) -> Any:
    """A field that may be absent from the YAML (absent = None)."""
    return dataclasses.field(default=default, metadata=OPTIONAL)


def key_field() -> Any:
    """The field holding the mapping key of the node."""
    return dataclasses.field(default=None, metadata=KEY, compare=True)


# The decorator of every spec node: immutable, keyword-only (so optional fields can sit anywhere).
dataclass = dataclasses.dataclass(frozen=True, kw_only=True)


@dataclass
class Source(Node):
    transformers_version: str
    read: tuple[str, ...]
    note: str


@dataclass
class Clause(Node):
    """A clause with an id and its prose (and, if other files refine it, the clauses that check it)."""

    id: str
    text: str
    checked_by: tuple[str, ...] | None = optional()
