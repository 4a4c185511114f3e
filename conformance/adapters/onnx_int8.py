"""The ``onnx-transformers-int8`` port: ONNX Runtime dynamic int8 quantization of the ``onnx-transformers`` export.

The graph is exactly the ``onnx-transformers`` port's (transformers' BertModel, the TorchScript exporter,
opset 20; ``bert_conformance.adapters.onnx_transformers``), then ``onnxruntime.quantization.quantize_dynamic``
with its defaults as a user would call it: int8 weights (``QuantType.QInt8``, per tensor) for MatMul/Gemm,
activations quantized at run time (uint8, per tensor), everything else (Gather, LayerNorm, Softmax, Erf) in
float32. Declared tier: ``int8-dynamic`` (spec/tiers.yaml: per-tensor activations lose more than per-row or weight-only int8); what it claims besides is the float port's surface, but its
elementwise clauses are not claimed (the tier replaces them).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path
from typing import Any

import onnxruntime
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

from bert_conformance.adapters import onnx_transformers as base


class OnnxInt8Model(base.OnnxTransformersModel):
    def session(self, module: torch.nn.Module, outputs: tuple[str, ...], *, seq: int) -> onnxruntime.InferenceSession:
        return base.ort_session(quantized(base.export(module, outputs, seq=seq)))


def quantized(model: bytes) -> bytes:
    """``quantize_dynamic`` (QInt8 weights) of an ONNX model, through temporary files (its API takes paths)."""
    with tempfile.TemporaryDirectory() as folder, contextlib.redirect_stdout(io.StringIO()):
        source, target = Path(folder) / "model.onnx", Path(folder) / "model.int8.onnx"
        source.write_bytes(model)
        quantize_dynamic(source, target, weight_type=QuantType.QInt8)
        return target.read_bytes()


class OnnxInt8Implementation(base.OnnxTransformersImplementation):
    model_class = OnnxInt8Model

    def capabilities(self) -> dict[str, Any]:
        caps = super().capabilities()
        return {**caps, "name": "onnxruntime-transformers-export-int8", "heads": ["BertModel"], "tier": "int8-dynamic"}


implementation = OnnxInt8Implementation()
