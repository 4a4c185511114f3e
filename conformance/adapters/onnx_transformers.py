"""The ``onnx-transformers`` port: ONNX Runtime on a standard ``torch.onnx`` export of transformers' BERT.

This is what users deploy: transformers' ``BertModel`` (or ``BertForSequenceClassification``), built from the
config dict and strictly loaded with the state dict, wrapped to return (last_hidden_state, pooler_output) (or
logits), exported by ``torch.onnx.export`` (the TorchScript exporter, ``dynamo=False``: 0.1-0.3 s for a tiny
config and 3 s for MiniLM, against 5-7 s and 14 s for the dynamo exporter; opset 20, constant folding on)
with int64 inputs input_ids / attention_mask / token_type_ids and dynamic batch and sequence axes, and run by
``onnxruntime.InferenceSession`` on the CPU. torch only exports; every forward is ONNX Runtime and numpy.
Each load re-exports with its own weights, so the graph is exactly a user's export (constant folding on, no
weight swapping of ours). Measured: caching the graph per (head, config) and swapping initializers makes a
repeated tiny load 0.03 s instead of 0.13 s, but the suite's 367 loads use 255 distinct configs, so it
saved ~3% of load time (83 s against 86 s) for ~40 more lines and an export that must dodge the exporter's
merging of equal initializers.

Declared, and why:
- heads BertModel and BertForSequenceClassification; float32, cpu; eager attention (the mask path traced at
  export, ``attn_implementation="eager"``); no labels/loss, cache, decoder or gradients (an inference graph).
- inputs: the graph's three; omitted ones get HF's defaults here (mask ones, token types zero). position_ids
  and inputs_embeds are not graph inputs of a standard export. Outputs: none of the optional ones.
- activations: every ``hidden_act`` of spec/config.yaml except ``prelu`` and ``xielu``: both carry parameters
  outside BERT's state dict (the strict load raises), and the TorchScript exporter rejects xielu's
  ``aten::expm1`` (UnsupportedOperatorError). The other 22 match transformers to ~1e-6.
- padding right/left/arbitrary and masks binary/bool/float/nonbinary: the graph's 2-D mask is any pattern, and
  transformers' first step is ``attention_mask.to(torch.bool)`` (masking_utils), so passing ``mask != 0`` as
  int64 is exactly its semantics (a plain float -> int64 cast would turn 0.5 into 0). No 4-D masks.
- checkpoints: the standard names only (strict ``load_state_dict``); embeddings tied (no tied head here).
- chunk_size_feed_forward > 0: the tracer bakes the chunk count (hence the sequence length) into the graph, so
  such a model is exported once per sequence length it sees.
Known deviation, left visible: ONNX ``Gather`` takes indices in [-n, n), so a negative input_ids or
token_type_ids value silently picks a row from the end where transformers raises IndexError.
"""

from __future__ import annotations

import contextlib
import io
import os
import warnings
from typing import Any

import numpy as np
import onnxruntime
import torch
import transformers

NAME = "onnx-transformers"
HEADS = {"BertModel": ("last_hidden_state", "pooler_output"), "BertForSequenceClassification": ("logits",)}
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
OPTIONS = ("output_hidden_states", "output_attentions", "use_cache")  # accepted only when falsy
ACTIVATIONS = (
    "gelu", "gelu_python", "gelu_new", "gelu_pytorch_tanh", "gelu_python_tanh", "gelu_accurate", "gelu_fast",
    "quick_gelu", "gelu_10", "relu", "relu2", "relu6", "leaky_relu", "silu", "swish", "mish", "hardswish",
    "tanh", "sigmoid", "linear", "laplace", "sqrtsoftplus",
)


class OnnxTransformersImplementation:
    model_class: type[OnnxTransformersModel]  # set below the class (a subclass may run another graph: int8)

    def capabilities(self) -> dict[str, Any]:
        return {
            "name": "onnxruntime-transformers-export",
            "version": f"onnxruntime {onnxruntime.__version__}, transformers {transformers.__version__}",
            "heads": list(HEADS),
            "dtypes": ["float32"],
            "devices": ["cpu"],
            "attention": ["eager"],
            "features": [],
            "inputs": list(INPUTS),
            "outputs": [],
            "activations": list(ACTIVATIONS),
            "padding": ["right", "left", "arbitrary"],
            "attention_masks": ["binary", "bool", "float", "nonbinary"],
            "checkpoints": [],
            "embeddings": ["tied"],
        }

    def load_model(
        self, head: str, config: dict[str, Any], state_dict: dict[str, np.ndarray], *,
        dtype: str, device: str = "cpu", attention: str = "eager",
    ) -> OnnxTransformersModel:
        if head not in HEADS:
            raise ValueError(f"{NAME}: head {head!r} is not exported (supported: {', '.join(HEADS)})")
        if (dtype, device, attention) != ("float32", "cpu", "eager"):
            raise ValueError(f"{NAME}: only float32 / cpu / eager, got {dtype} / {device} / {attention}")
        hf_config = transformers.BertConfig(**config)  # HF's own validation: invalid configs raise here
        if hf_config.is_decoder or hf_config.add_cross_attention:
            raise ValueError(f"{NAME}: encoder only (is_decoder / add_cross_attention not exported)")
        if hf_config.hidden_act not in ACTIVATIONS:
            raise ValueError(f"{NAME}: hidden_act {hf_config.hidden_act!r} not supported ({ACTIVATIONS})")
        module = getattr(transformers, head)(hf_config)
        module.set_attn_implementation("eager")
        # strict: a missing, unexpected or mis-shaped key raises (the standard names, saved form)
        module.load_state_dict({k: torch.tensor(np.asarray(v, np.float32)) for k, v in state_dict.items()})
        return self.model_class(module.eval(), HEADS[head])


class OnnxTransformersModel:
    """One loaded head: its ONNX Runtime session (one per sequence length for a chunked feed-forward)."""

    def __init__(self, module: torch.nn.Module, outputs: tuple[str, ...]) -> None:
        self.outputs = outputs
        self.chunked = module.config.chunk_size_feed_forward > 0
        self.module = module if self.chunked else None  # kept only to export each new length
        self.sessions: dict[int | None, onnxruntime.InferenceSession] = {}
        if not self.chunked:
            self.sessions[None] = self.session(module, outputs, seq=min(5, module.config.max_position_embeddings))

    def forward(self, inputs: dict[str, np.ndarray], **options: Any) -> dict[str, np.ndarray]:
        unknown = sorted(set(inputs) - set(INPUTS)) + [o for o, v in options.items() if o not in OPTIONS or v]
        if unknown or "input_ids" not in inputs:
            raise ValueError(f"{NAME}: needs input_ids; takes only inputs {INPUTS} and no options: {unknown}")
        ids = np.asarray(inputs["input_ids"], dtype=np.int64)
        mask = np.asarray(inputs.get("attention_mask", np.ones_like(ids)))
        if mask.shape != ids.shape:
            raise ValueError(f"{NAME}: only a 2-D [batch, seq] attention mask, got shape {mask.shape}")
        feeds = {
            "input_ids": ids,
            "attention_mask": (mask != 0).astype(np.int64),  # HF: attention_mask.to(torch.bool)
            "token_type_ids": np.asarray(inputs.get("token_type_ids", np.zeros_like(ids)), dtype=np.int64),
        }
        seq = ids.shape[1] if self.chunked else None
        if seq not in self.sessions:  # a chunked model, first time at this length
            self.sessions[seq] = self.session(self.module, self.outputs, seq=ids.shape[1])
        return dict(zip(self.outputs, self.sessions[seq].run(list(self.outputs), feeds)))

    def session(self, module: torch.nn.Module, outputs: tuple[str, ...], *, seq: int) -> onnxruntime.InferenceSession:
        """The ORT session of ``module``'s export (a subclass may transform the graph first: int8)."""
        return _session(module, outputs, seq=seq)


def _session(module: torch.nn.Module, outputs: tuple[str, ...], *, seq: int) -> onnxruntime.InferenceSession:
    """The standard export of ``module`` (traced at [2, seq], one padded position) in an ORT CPU session."""
    return ort_session(export(module, outputs, seq=seq))


def export(module: torch.nn.Module, outputs: tuple[str, ...], *, seq: int) -> bytes:
    """The standard export of ``module`` (traced at [2, seq], one padded position): the ONNX model's bytes."""

    class Wrapped(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = module

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> tuple:
            out = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                         return_dict=True)  # whatever the config's return_dict says
            return tuple(out[name] for name in outputs)

    ids = torch.zeros(2, seq, dtype=torch.int64)
    mask = torch.ones(2, seq, dtype=torch.int64)
    mask[-1, -1] = 0 if seq > 1 else 1
    buffer = io.BytesIO()
    # the TorchScript exporter is deprecated and chatty (tracer warnings): none of it concerns the result.
    # eval() on the wrapper too: the exporter restores the wrapper's mode afterwards, recursively
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Wrapped().eval(), (ids, mask, torch.zeros_like(ids)), buffer, dynamo=False,
            input_names=list(INPUTS), output_names=list(outputs),
            dynamic_axes={name: {0: "batch", 1: "seq"} for name in INPUTS},
        )
    return buffer.getvalue()


def ort_session(model: bytes) -> onnxruntime.InferenceSession:
    """An ONNX Runtime CPU session of ``model`` (quiet; OMP_NUM_THREADS intra-op threads)."""
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = int(os.environ.get("OMP_NUM_THREADS", "0"))  # 0: ORT's default
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


OnnxTransformersImplementation.model_class = OnnxTransformersModel
implementation = OnnxTransformersImplementation()
