"""Reduced-precision and quantized ports built from the reference: the controls of the accuracy tiers.

Each one meets the core contract at its boundary (BertModel, float32 arrays in and out, cpu) but computes in
less than float32 inside, and declares the tier it measures up to (spec/tiers.yaml, docs/tiers.md):

- ``reference-float16`` (tier float16): the reference with its weights and activations cast to float16;
- ``reference-bfloat16`` (tier bfloat16): the same in bfloat16;
- ``reference-int8`` (tier int8): weight-only int8, per output channel (simulated: the rounded weights are
  used in float32); the in-process int8 control the known-bad quantizers of ``bert_conformance.known_bad.tiers``
  are built on, so the suite needs no extra runtime to show a tier fail;
- ``reference-int8-dynamic`` (tier int8-dynamic): ``torch.ao.quantization.quantize_dynamic`` of the float32
  reference: every ``nn.Linear`` gets per-tensor int8 weights and per-tensor int8 activations quantized at run
  time (x86 engine); embeddings, LayerNorm and softmax stay float32. torch.ao's eager quantization is
  deprecated (it still works in torch 2.13).

Only BertModel is claimed: the tiers measure the encoder, and the heads of the tier clauses are computed by the
suite from its outputs. Everything else of the contract (config validation, strict loading, input checks) is
the reference's own.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from bert_conformance.adapters._torch import TorchModel
from bert_conformance.adapters.reference import ReferenceImplementation

INPUTS = ["input_ids", "attention_mask", "token_type_ids", "position_ids", "inputs_embeds"]


class ReducedReference(ReferenceImplementation):
    """The reference port behind a float32 boundary, computing in ``compute`` inside."""

    tier = ""
    compute = "float32"

    def capabilities(self) -> dict[str, Any]:
        base = super().capabilities()
        return {
            "name": f"bert_reference ({self.tier} tier)", "version": base["version"], "heads": ["BertModel"],
            "dtypes": ["float32"], "devices": ["cpu"], "attention": ["eager", "sdpa"], "features": [],
            "tier": self.tier,
        }

    def load_model(self, head: str, config: dict[str, Any], state_dict: dict[str, np.ndarray], *, dtype: str,
                   device: str = "cpu", attention: str = "sdpa") -> Float32Boundary:
        if (head, dtype, device) != ("BertModel", "float32", "cpu"):
            raise ValueError(f"{self.tier} reference port: only BertModel / float32 / cpu, got {head} / {dtype} / {device}")
        inner = super().load_model(head, config, state_dict, dtype=self.compute, device=device, attention=attention)
        return Float32Boundary(self.quantize(inner))

    def quantize(self, model: TorchModel) -> TorchModel:
        """Hook for a quantizing port: the loaded model, changed in place or replaced."""
        return model


class Float32Boundary:
    """A model computing in a lower precision, returning float32 arrays (the claimed dtype)."""

    def __init__(self, inner: TorchModel) -> None:
        self.inner = inner

    def forward(self, inputs: dict[str, np.ndarray], **options: Any) -> dict[str, Any]:
        return {name: _float32(value) for name, value in self.inner.forward(inputs, **options).items()}


def _float32(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(np.float32)
    if isinstance(value, list):
        return [_float32(item) for item in value]
    return value


class ReferenceFloat16(ReducedReference):
    tier = "float16"
    compute = "float16"


class ReferenceBfloat16(ReducedReference):
    tier = "bfloat16"
    compute = "bfloat16"


class ReferenceInt8(ReducedReference):
    """Weight-only int8: every Linear's weight rounded to int8 with a per-output-channel scale (max |w| / 127),
    activations and accumulation in float32 (what an int8 weight-only GEMM computes, up to summation order)."""

    tier = "int8"

    def quantize(self, model: TorchModel) -> TorchModel:
        with torch.no_grad():
            for linear in (m for m in model.module.modules() if isinstance(m, torch.nn.Linear)):
                weight = linear.weight
                scale = weight.abs().amax(dim=1, keepdim=True).clamp_min(torch.finfo(weight.dtype).tiny) / 127
                weight.copy_(torch.clamp(torch.round(weight / scale), -127, 127) * scale)
        return model


class ReferenceInt8Dynamic(ReducedReference):
    """torch.ao dynamic int8 quantization of every Linear of the float32 reference (per-tensor weights and
    per-tensor activations quantized at run time)."""

    tier = "int8-dynamic"

    def quantize(self, model: TorchModel) -> TorchModel:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch.ao.quantization's deprecation notices
            from torch.ao.quantization import quantize_dynamic

            model.module = quantize_dynamic(model.module, {torch.nn.Linear}, dtype=torch.qint8)
        return model


float16 = ReferenceFloat16()
bfloat16 = ReferenceBfloat16()
int8 = ReferenceInt8()
int8_dynamic = ReferenceInt8Dynamic()
