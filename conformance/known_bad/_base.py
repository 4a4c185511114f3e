"""Plumbing of the known-bad corpus: the reference port with ONE bug, and the anchors that bug is tied to.

Two kinds of known-bad port, both subclasses of the reference port (``bert_conformance.adapters.reference``):

- :class:`KnownBadPort` puts the bug around the model's calls: ``forward(model, inputs, options)`` (calling
  ``model.inner.forward``), ``gradients(model, inputs)`` or ``load(...)``. Inputs, labels, outputs and losses.
- :class:`KnownBad` puts it inside: :meth:`KnownBad.mutate` patches the freshly loaded torch module (one instance,
  a copy per ``load_model``; never a class or a module function of ``bert_reference``, which the oracle shares in
  the same process). Every patch goes through :func:`anchor`, so a patch whose target was renamed or whose
  signature changed raises :class:`KnownBadError` instead of silently patching nothing.

Each port has ``id`` (``<area>.<name>``), a one-line ``description`` and ``kills``: the test ids (``<clause id>``
or ``<clause id>-<variant>``) that must all fail against it; optionally ``hides_in`` (test ids it passes: where
the bug hides), ``probe`` (see ``probe.py``), ``run_args`` (pytest options its runs need, e.g. a device) and, for
a known survivor that kills nothing yet, ``gap``.
:func:`register` fills in the ids of an area and checks this data.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import numpy as np

from bert_conformance.adapters.reference import ReferenceImplementation


class KnownBadError(RuntimeError):
    """A known-bad port no longer applies: its anchor is gone, or it changes nothing on its probe."""


class Model:
    """The reference model behind the contract, with the port's hooks around it."""

    def __init__(self, inner: Any, port: KnownBadPort, head: str, config: dict, state_dict: dict, dtype: str) -> None:
        self.inner, self.port, self.head, self.config, self.state_dict, self.dtype = (
            inner, port, head, config, state_dict, dtype,
        )

    def forward(self, inputs: dict[str, np.ndarray], **options: Any) -> dict[str, Any]:
        return self.port.forward(self, dict(inputs), dict(options))

    def gradients(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return self.port.gradients(self, dict(inputs))


class KnownBadPort(ReferenceImplementation):
    """The reference port; a subclass overrides one hook with its bug."""

    id = ""
    description = ""
    kills: tuple[str, ...] = ()
    hides_in: tuple[str, ...] = ()  # test ids it passes: where the bug hides (e.g. float32 noise), documented
    gap = ""  # a known survivor (kills nothing yet): the clause the suite lacks, in one line
    probe: Any = None  # a bert_conformance.known_bad.probe.Probe on which the bug must show, or None
    probe_raises = False  # the bug makes the port raise on its probe (instead of returning other outputs)
    run_args: tuple[str, ...] = ()  # extra pytest options its runs need, e.g. ("--bert-device", "cuda")

    def load_model(self, head: str, config: dict, state_dict: dict, *, dtype: str, **kwargs: Any) -> Model:
        inner = self.load(head, dict(config), dict(state_dict), dtype=dtype, **kwargs)
        return Model(inner, self, head, dict(config), dict(state_dict), dtype)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        return super().load_model(head, config, state_dict, **kwargs)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        return model.inner.forward(inputs, **options)

    def gradients(self, model: Model, inputs: dict) -> dict[str, np.ndarray]:
        return model.inner.gradients(inputs)


class KnownBad(KnownBadPort):
    """A known-bad port whose bug is a patch of the loaded torch module (``model.inner.module``)."""

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        model = super().load(head, config, state_dict, **kwargs)
        self.mutate(model.module, config)
        return model

    def mutate(self, module: Any, config: dict[str, Any]) -> None:
        raise NotImplementedError


class Float32Only(KnownBadPort):
    """A correct port that does not claim float64: every clause then checks in float32."""

    description = "the reference without float64 (a good port: the float32 path of every clause)"

    def capabilities(self) -> dict[str, Any]:
        caps = super().capabilities()
        return {**caps, "dtypes": [d for d in caps["dtypes"] if d != "float64"],
                "features": [f for f in caps["features"] if f != "float64"]}


# --- anchors: what a known-bad port patches must exist, with the parameters it relies on --------------------------------


def anchor(obj: Any, name: str, *, params: tuple[str, ...] = ()) -> Any:
    """``obj.<name>``, checked: a :class:`KnownBadError` if it is gone or lacks one of ``params``."""
    owner = obj.__name__ if inspect.ismodule(obj) or isinstance(obj, type) else type(obj).__name__
    if not hasattr(obj, name):
        raise KnownBadError(f"anchor {owner}.{name} not found: the reference changed, update the known-bad port")
    value = getattr(obj, name)
    if params:
        found = inspect.signature(value).parameters
        missing = [p for p in params if p not in found]
        if missing:
            raise KnownBadError(f"anchor {owner}.{name}{inspect.signature(value)} lacks parameter(s) {missing}")
    return value


def set_attribute(obj: Any, name: str, value: Any) -> None:
    """Replace an existing attribute (never create one: a renamed attribute must not be patched silently)."""
    anchor(obj, name)
    setattr(obj, name, value)


def wrap_method(obj: Any, name: str, make: Callable[[Callable], Callable], *, params: tuple[str, ...] = ()) -> None:
    """Replace the bound method ``obj.<name>`` of this instance only by ``make(original)``."""
    setattr(obj, name, make(anchor(obj, name, params=params)))


def instances(module: Any, cls: type, *, exact: bool = False) -> list[Any]:
    """The submodules of ``module`` (itself included) that are ``cls`` instances (exactly ``cls`` if ``exact``)."""
    return [m for m in module.modules() if (type(m) is cls if exact else isinstance(m, cls))]


# --- registry -----------------------------------------------------------------------------------------------------


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def register(area: str, *ports: type[KnownBadPort]) -> tuple[type[KnownBadPort], ...]:
    """Give each port of an area its id (``<area>.<snake_case class name>`` unless set) and check its data."""
    for port in ports:
        if "id" not in port.__dict__:
            port.id = f"{area}.{_snake(port.__name__)}"
        if not port.id.startswith(f"{area}."):
            raise ValueError(f"{port.__name__}: id {port.id!r} is not in area {area!r}")
        if not port.description or "\n" in port.description:
            raise ValueError(f"{port.id}: needs a one-line description")
        if isinstance(port.kills, str) or isinstance(port.hides_in, str):
            raise ValueError(f"{port.id}: kills and hides_in are tuples of test ids")
        if not port.kills and not (port.gap and port.hides_in):
            raise ValueError(f"{port.id}: kills nothing; a known survivor needs a gap and the hides_in it passes")
    return ports


def resolver(ports: tuple[type[KnownBadPort], ...]) -> Callable[[str], type[KnownBadPort]]:
    """A module ``__getattr__`` so that ``--bert-impl bert_conformance.known_bad:<area>.<name>`` finds a port."""
    table = {port.id.split(".", 1)[1]: port for port in ports}

    def __getattr__(name: str) -> type[KnownBadPort]:
        if name in table:
            return table[name]
        raise AttributeError(name)

    return __getattr__


# --- helpers shared by the areas ----------------------------------------------------------------------------------


def entries(area: str, *ports: type[KnownBadPort]) -> list[dict[str, Any]]:
    """The ``PORTS`` data of an area module (the form the former per-area test modules used)."""
    return [
        {"id": port.id or f"{area}.{_snake(port.__name__)}", "port": port.__name__,
         "description": port.description, "kills": list(port.kills)}
        for port in ports
    ]


def positions_from(start: int, inputs: dict[str, Any], options: dict[str, Any]) -> np.ndarray:
    """Default position ids that start at ``start`` after the cached positions (as HF slices its position_ids
    buffer after the ``cache``'s length), one row per sequence of the inputs (multiple choice: per choice)."""
    cache = options.get("cache")
    start += int(cache.get_seq_length()) if cache is not None else 0
    ids = inputs.get("input_ids")
    shape = np.shape(ids) if ids is not None else np.shape(inputs["inputs_embeds"])[:-1]
    return np.broadcast_to(np.arange(start, start + shape[-1], dtype=np.int64), shape).copy()


def with_loss(outputs: dict[str, Any], loss: float, like: np.ndarray) -> dict[str, Any]:
    """The outputs with ``loss`` replaced (0-d, in the logits' dtype, first as in HF's dataclasses)."""
    rest = {k: v for k, v in outputs.items() if k != "loss"}
    return {"loss": np.asarray(loss, dtype=like.dtype), **rest}
