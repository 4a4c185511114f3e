"""Precision bugs: a float64 model that is not float64 inside or outside, and an fp16 mask that overflows."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bert_conformance.known_bad._base import (
    KnownBad,
    KnownBadPort,
    Model,
    anchor,
    register,
    resolver,
    wrap_method,
)
from bert_conformance.known_bad.attention import ATTEND, AttentionMask, attention_layers
from bert_conformance.known_bad.probe import Probe


def cast_floats(value: Any, dtype: Any) -> Any:
    """Floating arrays (also inside lists) cast to ``dtype``; everything else unchanged."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(dtype)
    if isinstance(value, list):
        return [cast_floats(item, dtype) for item in value]
    return value


class Float32Inside(KnownBadPort):
    description = "claims float64 but computes in float32, casting the outputs up: invisible in float32 clauses"
    kills = ("numerics.float64.BertModel", "golden.model.tiny-float64", "gradients.BertForMaskedLM-BertForMaskedLM")
    hides_in = ("core.forward.last_hidden_state", "numerics.float32.BertModel", "golden.model.tiny-float32")
    probe = Probe()

    def load(self, head: str, config: dict, state_dict: dict, *, dtype: str, **kwargs: Any) -> Any:
        return super().load(head, config, state_dict, dtype="float32" if dtype == "float64" else dtype, **kwargs)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        return {k: cast_floats(v, np.float64) for k, v in outputs.items()} if model.dtype == "float64" else outputs

    def gradients(self, model: Model, inputs: dict) -> dict[str, np.ndarray]:
        grads = model.inner.gradients(inputs)
        return {k: cast_floats(v, np.float64) for k, v in grads.items()} if model.dtype == "float64" else grads


class ReturnsFloat32(KnownBadPort):
    description = "a float64 model returns float32 arrays (the port casts its outputs to float32)"
    kills = ("numerics.float64.BertModel", "golden.model.tiny-float64")
    probe = Probe()

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = model.inner.forward(inputs, **options)
        return {k: cast_floats(v, np.float32) for k, v in outputs.items()}


class Fp16MaskOverflow(KnownBad):
    description = "additive mask (1 - mask) * float32 min cast to float16 is -inf: fully masked rows give NaN"
    kills = ("decoder.left_padding-BertLMHeadModel-float16", "decoder.left_padding-BertModel-float16",
             "decoder.left_padding-BertLMHeadModel-bfloat16", "decoder.left_padding-BertModel-bfloat16")
    hides_in = ("golden.lm_head.cache_steps-float16", "golden.lm_head.cross_attention-float16",
                "golden.model.fully_padded_row-float16", "numerics.float16.BertLMHeadModel")
    probe = Probe(head="BertLMHeadModel", config={"is_decoder": True}, pad="left", dtype="float16")

    def mutate(self, module: Any, config: dict) -> None:
        def make(original: Any) -> Any:
            def attend(query, key, value, mask, need_weights):
                if mask.mask is None or mask.mask.dtype != torch.bool:
                    return original(query, key, value, mask, need_weights)
                allowed = mask.mask if mask.dead_rows is None else mask.mask & ~mask.dead_rows
                additive = (~allowed).to(torch.float32) * torch.finfo(torch.float32).min
                return original(query, key, value, AttentionMask(mask=additive.to(query.dtype)), need_weights)

            return attend

        for layer in attention_layers(module):
            wrap_method(layer, "attend", make, params=ATTEND)
        anchor(AttentionMask, "dead_rows")


MUTANTS = register("dtype", Float32Inside, ReturnsFloat32, Fp16MaskOverflow)
__getattr__ = resolver(MUTANTS)
