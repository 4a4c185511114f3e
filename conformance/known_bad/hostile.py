"""Hostile ports: bugs that try to make their own wrong answers expected, by writing into what the suite hands
them or by returning arrays that lie to the comparison.

The suite hands every port private copies (``bert_conformance.adapter.private``) and compares plain
``np.ndarray`` copies of what it returns, so these ports fail the clauses their wrong numbers break, and
``core.inputs_unchanged`` names the writing itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bert_conformance.known_bad._base import KnownBadPort, Model, register, resolver
from bert_conformance.known_bad.probe import Probe


class MaskOnesInPlace(KnownBadPort):
    description = "writes ones into the caller's attention_mask in place and so ignores the padding"
    kills = ("core.inputs_unchanged", "core.forward.last_hidden_state", "golden.model.heavy_right_padding-float64")
    probe = Probe()

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        mask = inputs.get("attention_mask")
        if isinstance(mask, np.ndarray) and mask.flags.writeable:
            mask[...] = 1  # the caller's array: if it were the suite's own, the oracle would see ones too
        return model.inner.forward(inputs, **options)


class ZeroesStateDict(KnownBadPort):
    description = "zeroes the state-dict arrays it is given in place, then loads the zeros"
    kills = ("core.inputs_unchanged", "core.forward.last_hidden_state", "golden.model.tiny-float64")
    probe = Probe()

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        for value in state_dict.values():
            if isinstance(value, np.ndarray) and value.flags.writeable:
                value[...] = 0
        return super().load(head, config, state_dict, **kwargs)


class _Liar(np.ndarray):
    """An array whose difference with anything is zero and whose casts return itself."""

    def __sub__(self, other: Any) -> np.ndarray:
        return np.zeros(np.broadcast_shapes(self.shape, np.shape(other)))

    def __rsub__(self, other: Any) -> np.ndarray:
        return self.__sub__(other)

    def astype(self, *args: Any, **kwargs: Any) -> _Liar:
        return self


class LyingArrays(KnownBadPort):
    description = "returns zeros as an ndarray subclass whose __sub__ is zero and whose astype returns itself"
    kills = ("core.forward.last_hidden_state", "core.forward.pooler_output", "golden.model.tiny-float64")
    probe = Probe()

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        return {name: np.zeros_like(value).view(_Liar) if isinstance(value, np.ndarray) else value
                for name, value in outputs.items()}


MUTANTS = register("hostile", MaskOnesInPlace, ZeroesStateDict, LyingArrays)
__getattr__ = resolver(MUTANTS)
