"""The adapter contract: how a BERT port plugs into the suite (see docs/adapters.md).

A port is any object with two methods::

    capabilities() -> dict   # name, version, heads, dtypes, devices, attention, features
                             # + optional surface keys (spec/surface.yaml): inputs, outputs, activations, ...
    load_model(head, config, state_dict, *, dtype, device, attention) -> model
    # model.forward(inputs: dict[str, np.ndarray], **options) -> dict[str, np.ndarray | list | object]
    # optional: model.gradients(inputs) -> dict[str, np.ndarray]; port.load_tokenizer(vocab_path, **options)

Everything crossing the boundary is numpy, HF config keys and HF state-dict names. This module validates
what a port declares (:class:`Capabilities`), finds a port by name (:func:`load_implementation`), and wraps
it (:class:`Port`, :class:`CheckedModel`) so that a port returning torch tensors, the wrong dtype or a
non-dict fails with a readable message instead of a confusing error further down. The wrappers also
guard the port's declared surface (:mod:`bert_conformance.surface`): a call needing a value the port did not
declare is never made; the clause is reported *not claimed* (:class:`NotClaimed`).
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pytest

from bert_conformance import surface
from bert_conformance.report import NOT_CLAIMED
from bert_conformance.tolerance import DTYPES, check_array

DEVICES = ("cpu", "cuda")
ATTENTION = ("eager", "sdpa")
FEATURES = (
    "decoder", "cache", "cross_attention", "gradients", "loss", "tokenizer", "float64", "benchmark",
    "data", "nsp_data",  # mask_tokens() (masked-LM data) and make_nsp_pairs() (next-sentence pairs)
    "packed_sequences",  # position_ids without attention_mask pack sequences (transformers >= 5.25)
)

ENTRY_POINT_GROUP = "bert_conformance.implementations"
BUILTIN = {
    "reference": "bert_conformance.adapters.reference:implementation",
    "transformers": "bert_conformance.adapters.hf:implementation",
    "onnx": "bert_conformance.adapters.onnx:implementation",
    # third-party runtimes (docs/ports.md): each an optional extra, none needed by the default tox run
    "onnx-transformers": "bert_conformance.adapters.onnx_transformers:implementation",
    "ctranslate2": "bert_conformance.adapters.ctranslate2:implementation",
    "keras-hub": "bert_conformance.adapters.keras_hub:implementation",
    "tensorflow": "bert_conformance.adapters.tensorflow:implementation",  # transformers 4.x TFBert* classes
    "flax": "bert_conformance.adapters.flax:implementation",  # transformers 4.x FlaxBert* classes
    # reduced-precision and quantized ports, each declaring its accuracy tier (spec/tiers.yaml, docs/tiers.md)
    "reference-float16": "bert_conformance.adapters.reference_tiers:float16",
    "reference-bfloat16": "bert_conformance.adapters.reference_tiers:bfloat16",
    "reference-int8": "bert_conformance.adapters.reference_tiers:int8",  # weight-only int8, per channel
    "reference-int8-dynamic": "bert_conformance.adapters.reference_tiers:int8_dynamic",  # torch.ao dynamic
    "onnx-transformers-int8": "bert_conformance.adapters.onnx_int8:implementation",
    "ctranslate2-int8": "bert_conformance.adapters.ctranslate2_int8:implementation",
}
OPAQUE_OUTPUTS = ("cache", "past_key_values")  # the port's own cache object, passed back as-is
_EXTRAS = {  # built-in name -> pip extra
    "transformers": "transformers", "onnx": "onnx", "onnx-transformers": "onnx-transformers",
    "ctranslate2": "ctranslate2", "keras-hub": "keras-hub", "tensorflow": "tensorflow",
    "flax": "flax", "onnx-transformers-int8": "onnx-transformers", "ctranslate2-int8": "ctranslate2",
}


Bound = Callable[[str], AbstractContextManager[Any]]  # bounded(what): a deadline around one call into the port


class ImplementationError(Exception):
    """The selected implementation cannot be found or imported (a usage error)."""


class CapabilitiesError(ValueError):
    """A port's ``capabilities()`` is malformed."""


def not_claimed(missing: list[str]) -> BaseException:
    """The exception a wrapper raises instead of a call needing what the port does not declare: pytest's skip
    with the reason the report counts as *not claimed* (hypothesis re-raises a skip at once: it is not a
    failure to shrink)."""
    return pytest.skip.Exception(f"{NOT_CLAIMED} {', '.join(missing)}")


@runtime_checkable
class Model(Protocol):
    def forward(self, inputs: dict[str, np.ndarray], **options: Any) -> dict[str, Any]: ...


@runtime_checkable
class Implementation(Protocol):
    def capabilities(self) -> dict[str, Any]: ...

    def load_model(
        self,
        head: str,
        config: dict[str, Any],
        state_dict: dict[str, np.ndarray],
        *,
        dtype: str,
        device: str,
        attention: str,
    ) -> Model: ...


@dataclass(frozen=True)
class Capabilities:
    """A validated ``capabilities()`` dict."""

    name: str
    version: str
    heads: tuple[str, ...]
    dtypes: tuple[str, ...]
    devices: tuple[str, ...]
    attention: tuple[str, ...]
    features: tuple[str, ...] = ()
    # declaration key -> supported values (spec/surface.yaml): every value for a key the port omits, else
    # the values it lists plus the core ones; empty for a Capabilities built by hand (see full_surface)
    surface: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # the accuracy tier the port declares (spec/tiers.yaml); None: exact (the strictest its dtypes reach)
    tier: str | None = None
    _VOCAB = {
        "heads": (),  # the spec's (surface.heads()), read when a port is validated
        "dtypes": DTYPES,
        "devices": DEVICES,
        "attention": ATTENTION,
        "features": FEATURES,
    }

    @classmethod
    def from_dict(cls, data: Any, *, source: str = "capabilities()") -> Capabilities:
        if not isinstance(data, Mapping):
            raise CapabilitiesError(f"{source}: must return a dict, got {type(data).__name__}")
        declarations = surface.declarations()
        unknown = sorted(set(data) - {"name", "version", "tier", *cls._VOCAB, *declarations})
        if unknown:
            known = ", ".join(["name", "version", *cls._VOCAB, *declarations, "tier"])
            raise CapabilitiesError(f"{source}: unknown key(s) {unknown}; known: {known}")
        values: dict[str, Any] = {}
        for key in ("name", "version"):
            if not isinstance(data.get(key), str) or not data[key]:
                raise CapabilitiesError(
                    f"{source}: {key!r} must be a non-empty string, got {data.get(key)!r}"
                )
            values[key] = data[key]
        for key, vocabulary in {**cls._VOCAB, "heads": surface.heads()}.items():
            values[key] = _names(data.get(key, []), key, vocabulary, source)
        if "float64" in values["dtypes"] or "float64" in values["features"]:  # one claim, two spellings
            values["dtypes"] = _names([*values["dtypes"], "float64"], "dtypes", DTYPES, source)
            values["features"] = _names([*values["features"], "float64"], "features", FEATURES, source)
        values["surface"] = {
            key: _names([*d.core, *_names(data.get(key, d.values), key, d.values, source)], key, d.values, source)
            for key, d in declarations.items()
        }
        values["tier"] = _tier(data.get("tier"), values["dtypes"], source)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The claims as capabilities() would give them (surface keys only where they narrow)."""
        data = {key: list(v) if isinstance(v, tuple) else v for key, v in self.__dict__.items()
                if key != "surface" and not (key == "tier" and v is None)}  # no tier: exact, as declared
        return {**data, **{key: list(v) for key, v in self.narrowed().items()}}

    def narrowed(self) -> dict[str, tuple[str, ...]]:
        """The surface keys the port narrows (declares fewer than every value of)."""
        every = surface.declarations()
        return {key: values for key, values in self.surface.items() if values != every[key].values}

    def undeclared(self, needs: surface.Needs) -> list[str]:
        """``"<key> <value>"`` for every needed surface value this port does not support."""
        return surface.undeclared(needs, self.surface or full_surface())

    def unclaimed(self, **required: str | None) -> list[str]:
        """Requirements (head=, dtype=, device=, attention=, feature=, tier=) this port does not claim."""
        missing = []
        supported = self.surface or full_surface()
        for key, value in required.items():
            if value is None:
                continue
            if key == "tier":  # an accuracy tier: claimed with the port's own and every looser one
                missing += [] if self.claims_tier(value) else [f"tier {value}"]
                continue
            claimed = supported.get(key) if key in supported else getattr(self, _PLURAL.get(key, key), None)
            if claimed is None:
                known = ", ".join([*_PLURAL, *supported])
                raise ValueError(f"unknown requirement {key!r}; known: {known}")
            if value not in claimed:
                missing.append(f"{key} {value}")
        return missing

    def claims_tier(self, tier: str) -> bool:
        """Whether the port claims accuracy tier ``tier``: its own (or, exact, the strictest its dtypes reach)
        and every looser one (spec/tiers.yaml order)."""
        from bert_conformance.tiers import tiers_spec

        spec = tiers_spec()
        spec.tier(tier)  # KeyError naming the known tiers
        return tier in spec.claimed(spec.effective(self.tier, self.dtypes))

    def missing_core(self) -> list[str]:
        """The core heads, dtypes and devices (spec surface.core) this port does not claim."""
        return [f"{key[:-1]} {value}" for key, values in surface.core().items() for value in values
                if value not in getattr(self, key)]


def full_surface() -> dict[str, tuple[str, ...]]:
    """Every value of every surface key: what a port that narrows nothing supports."""
    return {key: d.values for key, d in surface.declarations().items()}


_PLURAL = {
    "head": "heads",
    "dtype": "dtypes",
    "device": "devices",
    "attention": "attention",
    "feature": "features",
}


def _tier(value: Any, dtypes: tuple[str, ...], source: str) -> str | None:
    """A declared accuracy tier: absent (None, exact) or a tier name of spec/tiers.yaml the port's dtypes reach."""
    if value is None:
        return None
    from bert_conformance.tiers import tiers_spec

    spec = tiers_spec()
    if not isinstance(value, str) or value not in spec.names():
        raise CapabilitiesError(f"{source}: 'tier' must be one of {', '.join(spec.names())} (spec/tiers.yaml; "
                                f"omit it for an exact port), got {value!r}")
    if spec.tier(value).dtype not in dtypes:
        raise CapabilitiesError(f"{source}: tier {value!r} is measured in {spec.tier(value).dtype}, which the port "
                                f"does not claim (dtypes: {', '.join(dtypes) or 'none'})")
    return value


def _names(value: Any, key: str, vocabulary: tuple[str, ...], source: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, (list, tuple, set, frozenset)):
        raise CapabilitiesError(f"{source}: {key!r} must be a list of names, got {value!r}")
    unknown = sorted(str(v) for v in value if v not in vocabulary)
    if unknown:
        raise CapabilitiesError(f"{source}: unknown {key} {unknown}; known: {', '.join(vocabulary)}")
    return tuple(v for v in vocabulary if v in value)  # canonical order


def load_implementation(name: str, *, bounded: Bound = nullcontext) -> Port:
    """Find a port by built-in name, entry point (group ``bert_conformance.implementations``) or ``module:attr``.

    Whatever goes wrong while importing or building the port (an ImportError, a SyntaxError, a RuntimeError or
    ``sys.exit()`` at import time, a raising constructor) is an :class:`ImplementationError`: a usage error
    naming the port, never a crash of the run. ``bounded(what)`` wraps the port's ``capabilities()`` call (the
    session's watchdog deadline).
    """
    target = _target(name)
    module_name, _, attribute = target.partition(":")
    if not module_name or not all(part.isidentifier() for part in module_name.split(".")):
        raise ImplementationError(f"implementation {name!r}: {module_name!r} is not a module name ('module:attribute')")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        extra = _EXTRAS.get(name)
        hint = f" (install it with: pip install 'bert-conformance[{extra}]')" if extra else ""
        raise ImplementationError(
            f"implementation {name!r}: cannot import {module_name!r}: {error}{hint}"
        ) from error
    except (Exception, SystemExit) as error:  # the port's own import-time code failed
        raise ImplementationError(
            f"implementation {name!r}: importing {module_name!r} raised {_describe(error)}"
        ) from error
    obj: Any = module
    for part in filter(None, attribute.split(".")):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ImplementationError(
                f"implementation {name!r}: {module_name!r} has no attribute {attribute!r}"
            ) from None
        except Exception as error:  # a module-level __getattr__ (lazy import) that fails
            raise ImplementationError(f"implementation {name!r}: {target} raised {_describe(error)}") from error
    if isinstance(obj, type) or (callable(obj) and not hasattr(obj, "capabilities")):
        try:
            obj = obj()  # a class or a factory: one instance per run
        except (Exception, SystemExit) as error:
            raise ImplementationError(f"implementation {name!r}: {target}() raised {_describe(error)}") from error
    for method in ("capabilities", "load_model"):
        try:
            found = callable(getattr(obj, method, None))
        except Exception as error:  # a property that raises
            raise ImplementationError(f"implementation {name!r}: {target}.{method} raised {_describe(error)}") from error
        if not found:
            raise ImplementationError(f"implementation {name!r} ({target}) has no {method}() method")
    return Port(name, target, obj, bounded=bounded)


def _describe(error: BaseException) -> str:
    if isinstance(error, SystemExit):
        return f"SystemExit({error.code!r}): a port must not exit the process"
    return f"{type(error).__name__}: {error}"


def _target(name: str) -> str:
    if ":" in name:
        return name
    if name in BUILTIN:
        return BUILTIN[name]
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if found:
        return found[0].value
    known = sorted({*BUILTIN, *(ep.name for ep in entry_points(group=ENTRY_POINT_GROUP))})
    raise ImplementationError(
        f"unknown implementation {name!r}: use one of {', '.join(known)}, an entry point in the group "
        f"{ENTRY_POINT_GROUP!r}, or 'module:attribute'"
    )


@dataclass
class Port:
    """A selected implementation, with its capabilities validated once.

    If ``capabilities()`` raises or is malformed, the error is kept in ``capabilities_error`` and the port
    claims nothing beyond the core: the run goes on and the ``core.capabilities`` clause fails with the message.
    ``device`` is the run's device (``--bert-device``): where :meth:`load_model` puts a model unless told otherwise.
    """

    name: str
    target: str
    impl: Any
    device: str = "cpu"
    bounded: Bound = field(default=nullcontext, repr=False)
    capabilities: Capabilities = field(init=False)
    capabilities_error: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        try:
            with self.bounded(f"{self.name}: capabilities()"):
                declared = self.impl.capabilities()
            self.capabilities = Capabilities.from_dict(declared, source=f"{self.name}: capabilities()")
        except (Exception, SystemExit) as error:  # a broken port must not stop the run
            self.capabilities_error = _describe(error)
            self.capabilities = Capabilities(self.name, "unknown", (), (), (), ())

    def load_model(
        self,
        head: str,
        config: dict[str, Any],
        state_dict: dict[str, np.ndarray],
        *,
        dtype: str,
        device: str | None = None,
        attention: str | None = None,
    ) -> CheckedModel:
        """Load through the port; ``device`` defaults to the run's, ``attention`` to the first the port claims
        (else "eager")."""
        __tracebackhide__ = True
        device = device or self.device
        attention = attention or (self.capabilities.attention or ATTENTION)[0]
        missing = self.capabilities.undeclared(surface.load_needs(head, config, state_dict))
        if missing:
            raise not_claimed(missing)
        model = self.impl.load_model(
            head, copy.deepcopy(dict(config)), private(state_dict), dtype=dtype, device=device, attention=attention
        )
        if not callable(getattr(model, "forward", None)):
            raise AssertionError(
                f"{self.name}: load_model({head!r}) returned {type(model).__name__} without forward()"
            )
        return CheckedModel(model, head=head, dtype=dtype, port=self.name, capabilities=self.capabilities)

    def load_tokenizer(self, vocab_path: str, **options: Any) -> Any:
        if not callable(getattr(self.impl, "load_tokenizer", None)):
            raise AssertionError(f"{self.name}: claims no load_tokenizer()")
        return self.impl.load_tokenizer(vocab_path, **options)


def private(data: Mapping[str, Any]) -> dict[str, Any]:
    """What the suite hands a port: its own copy of every array (a base ``np.ndarray``) and of every container,
    so that a port writing into what it was given (a mask set to ones, zeroed weights) cannot change the
    suite's copies, from which expected values are computed (``core.inputs_unchanged`` names the bug)."""
    return {name: _base(value) if isinstance(value, np.ndarray) else copy.deepcopy(value)
            for name, value in data.items()}


def _base(value: Any) -> Any:
    """A port's array as a plain ``np.ndarray`` copy (an ndarray subclass cannot bring its own ``__sub__`` or
    ``astype`` into a comparison); lists element-wise; anything else as it is (checked elsewhere)."""
    if isinstance(value, np.ndarray):
        return np.array(value, copy=True, subok=False)
    if isinstance(value, (list, tuple)):
        return type(value)(_base(item) for item in value)
    return value


@dataclass
class CheckedModel:
    """A port's model whose outputs are checked at the boundary: a dict of numpy arrays of the loaded dtype.

    Lists (``hidden_states``, ``attentions``) are checked element-wise, ``None`` entries are allowed,
    ``cache`` (HF v5's name; ``past_key_values`` before) is opaque. ``loss`` may also be float32 for float16/bfloat16
    models (HF upcasts), and for float64 models of heads whose loss labels.yaml computes in float32 (``upcast``).
    """

    raw: Any
    head: str
    dtype: str
    port: str
    capabilities: Capabilities | None = None  # None: no surface guard (a model checked outside a run)

    def forward(self, inputs: dict[str, np.ndarray], **options: Any) -> dict[str, Any]:
        __tracebackhide__ = True
        self.guard(inputs, options)
        outputs = self.raw.forward(private(inputs), **options)
        if not isinstance(outputs, Mapping):
            raise AssertionError(
                f"{self.port}: {self.head}.forward returned {type(outputs).__name__}; expected a dict of numpy arrays"
            )
        for name, value in outputs.items():
            if name not in OPAQUE_OUTPUTS:
                self._check(value, f"{self.head}.forward: output {name!r}", name)
        return {name: value if name in OPAQUE_OUTPUTS else _base(value) for name, value in outputs.items()}

    def guard(self, inputs: Mapping[str, Any], options: Mapping[str, Any]) -> None:
        """Raise :func:`not_claimed` if ``forward(inputs, **options)`` needs what the port does not declare
        (clauses that call the raw model, e.g. to expect an error, call this first)."""
        if self.capabilities is not None:
            missing = self.capabilities.undeclared(surface.forward_needs(inputs, options))
            if missing:
                raise not_claimed(missing)

    def gradients(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        __tracebackhide__ = True
        self.guard(inputs, {})
        if not callable(getattr(self.raw, "gradients", None)):
            raise AssertionError(f"{self.port}: the model has no gradients() method")
        grads = self.raw.gradients(private(inputs))
        if not isinstance(grads, Mapping):
            raise AssertionError(f"{self.port}: gradients() returned {type(grads).__name__}; expected a dict")
        for name, value in grads.items():
            self._check(value, f"{self.head}.gradients: {name!r}", name)
        return {name: _base(value) for name, value in grads.items()}

    def _check(self, value: Any, what: str, name: str) -> None:
        __tracebackhide__ = True
        if value is None:
            return
        if isinstance(value, (list, tuple)):
            for i, item in enumerate(value):
                self._check(item, f"{what}[{i}]", name)
            return
        dtype = self.dtype
        if name == "loss" and getattr(value, "dtype", None) == np.float32:
            from bert_conformance.losses import loss_dtypes  # lazy: it loads the spec

            dtype = "float32" if "float32" in loss_dtypes(self.head, dtype) else dtype
        check_array(value, what=what, dtype=dtype)
