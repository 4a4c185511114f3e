"""The ``keras_hub`` port: keras-hub's ``BertBackbone`` (Keras 3, torch backend) behind the adapter contract.

``BertModel`` is a ``BertBackbone``, ``BertForSequenceClassification`` a ``BertTextClassifier`` (pooled
output, dropout, one Dense: HF's maths). Both are built from the config dict and get the HF state dict
through an explicit, strict name mapping (``BertBackbone.from_preset`` on a temporary HF folder works offline
too, but is lenient: it reads no type_vocab_size, hidden_act or layer_norm_eps, ignores unknown keys).

What it declares, and why (keras-hub 0.32, keras 3.15):
- float32 only. A "float64" dtype policy gives float64 variables and outputs, but keras' ``result_type`` maps
  float64 to float32 on the torch backend (``BIT64_TO_BIT32_DTYPE``), so matmul, einsum and LayerNorm run in
  float32 (MiniLM vs HF float64: 1.6e-6). cpu; no labels/loss, cache, decoder, cross-attention, gradients.
- inputs ``token_ids``, ``segment_ids`` and a 2-D ``padding_mask``: no position_ids (always arange), no
  inputs_embeds, no hidden-state or attention outputs. The padding mask is a key mask, so right, left and
  arbitrary padding; binary, bool, float and non-binary masks become ``mask != 0``; no 4-D masks.
- the activation is hardcoded tanh GELU (``gelu_approximate``), which is HF's gelu_new / gelu_pytorch_tanh.
  HF's default "gelu" (exact erf) cannot be declared away: it runs as the tanh approximation, a real
  deviation the suite measures. Other activations raise.
- LayerNorm epsilon is hardcoded 1e-12 (HF's default): any other ``layer_norm_eps`` raises.
- checkpoints: legacy ``LayerNorm.gamma/beta`` names, old position_ids/token_type_ids buffers, and keys that
  gain or lose ``bert.`` between a head and BertModel, as keras-hub's converter (convert_bert.py) reads them.
"""

from __future__ import annotations

import json
import os
from typing import Any

os.environ["KERAS_BACKEND"] = "torch"  # before keras is imported
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keras-hub imports TensorFlow (text ops): quiet logs

import keras  # noqa: E402
import keras_hub  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from bert_conformance.adapters._cache import state_dict_digest  # noqa: E402
from bert_reference import BertConfig  # noqa: E402  (HF v5 defaults and config validation)

HEADS = ("BertModel", "BertForSequenceClassification")
DTYPES = ("float32",)  # float64 policy computes in float32: see the docstring
ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh")  # "gelu" runs as tanh GELU: see the docstring
KERAS_EPSILON = 1e-12  # bert_backbone.py: LayerNormalization(epsilon=1e-12) everywhere
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")  # in old checkpoints, unused
BASE_KEYS = ("embeddings.", "encoder.", "pooler.")


class KerasHubImplementation:
    def capabilities(self) -> dict[str, Any]:
        return {
            "name": "keras-hub",
            "version": f"{keras_hub.__version__} (keras {keras.__version__}, torch backend)",
            "heads": list(HEADS), "dtypes": list(DTYPES), "devices": ["cpu"], "attention": ["eager"],
            "features": [],  # the surface (spec/surface.yaml) follows, see the module docstring
            "inputs": list(INPUTS), "outputs": [], "activations": list(ACTIVATIONS),
            "padding": ["right", "left", "arbitrary"],
            "attention_masks": ["binary", "bool", "float", "nonbinary"],
            "checkpoints": ["layernorm_gamma_beta", "buffers_in_checkpoint", "prefix"],
            "embeddings": ["tied"],
        }

    def load_model(self, head: str, config: dict[str, Any], state_dict: dict[str, np.ndarray], *,
                   dtype: str, device: str = "cpu", attention: str = "eager") -> KerasModel:
        if head not in HEADS or dtype not in DTYPES or (device, attention) != ("cpu", "eager"):
            raise ValueError(f"keras-hub port: {head} / {dtype} / {device} / {attention} not supported "
                             f"(heads {HEADS}, dtypes {DTYPES}, cpu, eager)")
        cfg = BertConfig.from_dict(config)
        _check_expressible(cfg)
        state_dict = _hf_keys(head, state_dict)
        key = (head, json.dumps(cfg.to_dict(), sort_keys=True, default=str), dtype, state_dict_digest(state_dict))
        if key not in _MODELS:
            _MODELS.clear()  # one model alive in the cache: the suite's models are many and short-lived
            _MODELS[key] = KerasModel(_build(head, cfg, state_dict, dtype), cfg, dtype)
        return _MODELS[key]


_MODELS: dict[tuple[str, str, str, str], KerasModel] = {}


def _check_expressible(cfg: BertConfig) -> None:
    """Config values BertBackbone has no knob for (it is an encoder with fixed activation and epsilon)."""
    if cfg.hidden_act not in ACTIVATIONS:
        raise ValueError(f"keras-hub port: hidden_act={cfg.hidden_act!r}: BertBackbone's activation is fixed "
                         f"(tanh GELU); supported {ACTIVATIONS}")
    if cfg.layer_norm_eps != KERAS_EPSILON:
        raise ValueError(f"keras-hub port: layer_norm_eps={cfg.layer_norm_eps}: BertBackbone hardcodes "
                         f"LayerNormalization epsilon={KERAS_EPSILON}")
    if cfg.is_decoder or cfg.add_cross_attention or cfg.output_hidden_states or cfg.output_attentions:
        raise ValueError("keras-hub port: no decoder, cross-attention, hidden-state or attention outputs")


def _hf_keys(head: str, state_dict: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Old checkpoint forms keras-hub's converter reads too: gamma/beta names, unused buffers, and keys that
    gain or lose "bert." between a head and BertModel (a head checkpoint's head keys are unused there)."""
    renamed = {k.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias"): v
               for k, v in state_dict.items() if not k.endswith(BUFFERS)}
    prefixed = any(k.startswith("bert.") for k in renamed)
    if head == "BertModel" and prefixed:
        return {k[len("bert."):]: v for k, v in renamed.items() if k.startswith("bert.")}
    if head != "BertModel" and not prefixed:
        return {("bert." + k if k.startswith(BASE_KEYS) else k): v for k, v in renamed.items()}
    return renamed



def _build(head: str, cfg: BertConfig, state_dict: dict[str, np.ndarray], dtype: str) -> keras.Model:
    # dropout is inactive at inference (training=False), but keras' MultiHeadAttention picks its path by it:
    # torch SDPA when 0, an explicit softmax when > 0; they differ only on fully padded rows (unspecified).
    backbone = keras_hub.models.BertBackbone(
        vocabulary_size=cfg.vocab_size, num_layers=cfg.num_hidden_layers, num_heads=cfg.num_attention_heads,
        hidden_dim=cfg.hidden_size, intermediate_dim=cfg.intermediate_size, dropout=cfg.hidden_dropout_prob,
        max_sequence_length=cfg.max_position_embeddings, num_segments=cfg.type_vocab_size, dtype=dtype)
    model, prefix = backbone, ""
    if head == "BertForSequenceClassification":
        dropout = cfg.classifier_dropout if cfg.classifier_dropout is not None else cfg.hidden_dropout_prob
        model = keras_hub.models.BertTextClassifier(backbone, cfg.num_labels, preprocessor=None,
                                                    dropout=dropout)
        prefix = "bert."
    variables = {v.path: v for v in model.weights}
    targets = _mapping(cfg, prefix, head)
    missing, unexpected = sorted(set(targets) - set(state_dict)), sorted(set(state_dict) - set(targets))
    if missing or unexpected:
        raise ValueError(f"keras-hub port: state dict mismatch: missing {missing}, unexpected {unexpected}")
    for name, (path, shape) in targets.items():
        value = np.asarray(state_dict[name], dtype=dtype)
        if shape is not None:  # HF Linear weight [out, in] -> keras kernel [in, ...]
            value = value.T.reshape(shape)
        variable = variables[path]
        if value.shape != tuple(variable.shape):
            raise ValueError(f"keras-hub port: {name} has shape {np.shape(state_dict[name])}, "
                             f"{path} needs {tuple(variable.shape)}")
        variable.assign(value)
    return model


def _mapping(cfg: BertConfig, prefix: str, head: str) -> dict[str, tuple[str, tuple[int, ...] | None]]:
    """HF name -> (keras variable path, shape that value.T is reshaped to; None: copied as is).
    Q/K/V kernels are split per head, (hidden, heads, head_dim), and so are their biases; the attention output
    kernel is (heads, head_dim, hidden); other Dense kernels are weight.T."""
    hidden, heads = cfg.hidden_size, cfg.num_attention_heads
    qkv, out = (hidden, heads, hidden // heads), (heads, hidden // heads, hidden)
    m: dict[str, tuple[str, tuple[int, ...] | None]] = {
        "embeddings.word_embeddings.weight": ("token_embedding/embeddings", None),
        "embeddings.position_embeddings.weight": ("position_embedding/embeddings", None),
        "embeddings.token_type_embeddings.weight": ("segment_embedding/embeddings", None),
        **_layer_norm("embeddings.LayerNorm", "embeddings_layer_norm"),
        **_dense("pooler.dense", "pooled_dense", (hidden, hidden)),
    }
    for i in range(cfg.num_hidden_layers):
        hf, kh = f"encoder.layer.{i}", f"transformer_layer_{i}"
        for name in ("query", "key", "value"):
            m |= _dense(f"{hf}.attention.self.{name}", f"{kh}/self_attention_layer/{name}", qkv, qkv[1:])
        m |= _dense(f"{hf}.attention.output.dense", f"{kh}/self_attention_layer/attention_output", out)
        m |= _layer_norm(f"{hf}.attention.output.LayerNorm", f"{kh}/self_attention_layer_norm")
        m |= _dense(f"{hf}.intermediate.dense", f"{kh}/feedforward_intermediate_dense",
                    (hidden, cfg.intermediate_size))
        m |= _dense(f"{hf}.output.dense", f"{kh}/feedforward_output_dense", (cfg.intermediate_size, hidden))
        m |= _layer_norm(f"{hf}.output.LayerNorm", f"{kh}/feedforward_layer_norm")
    m = {prefix + name: target for name, target in m.items()}
    if head == "BertForSequenceClassification":
        m |= _dense("classifier", "logits", (hidden, cfg.num_labels))
    return m


def _dense(hf: str, kh: str, kernel: tuple[int, ...], bias: tuple[int, ...] | None = None) -> dict[str, Any]:
    return {f"{hf}.weight": (f"{kh}/kernel", kernel), f"{hf}.bias": (f"{kh}/bias", bias)}


def _layer_norm(hf: str, kh: str) -> dict[str, Any]:
    return {f"{hf}.weight": (f"{kh}/gamma", None), f"{hf}.bias": (f"{kh}/beta", None)}


class KerasModel:
    """A built keras model behind the numpy contract (training=False: no dropout)."""

    def __init__(self, model: keras.Model, cfg: BertConfig, dtype: str) -> None:
        self.model, self.cfg, self.dtype = model, cfg, dtype

    def forward(self, inputs: dict[str, np.ndarray], **options: Any) -> dict[str, Any]:
        unknown = sorted(set(inputs) - set(INPUTS)) + sorted(name for name, on in options.items() if on)
        if unknown or "input_ids" not in inputs:
            raise ValueError(f"keras-hub port: not supported: {unknown} (inputs {INPUTS}, no options)")
        ids = np.asarray(inputs["input_ids"])
        if ids.ndim != 2 or ids.shape[1] > self.cfg.max_position_embeddings:
            raise ValueError(f"keras-hub port: input_ids must be [batch, seq <= max_position_embeddings], "
                             f"got {ids.shape}")
        mask = np.asarray(inputs.get("attention_mask", np.ones(ids.shape)))
        if mask.shape != ids.shape:
            raise ValueError(f"keras-hub port: attention_mask must be 2-D {ids.shape}, got {mask.shape}")
        types = inputs.get("token_type_ids", np.zeros(ids.shape))
        feeds = {  # copies: the suite's arrays may be read-only
            "token_ids": torch.tensor(ids, dtype=torch.int64),
            "segment_ids": torch.tensor(np.asarray(types), dtype=torch.int64),
            "padding_mask": torch.tensor(mask != 0),  # a key mask; HF v5: any non-zero value attends
        }
        with torch.no_grad():
            out = self.model(feeds, training=False)
        if isinstance(out, dict):  # the backbone
            return {"last_hidden_state": _numpy(out["sequence_output"]),
                    "pooler_output": _numpy(out["pooled_output"])}
        return {"logits": _numpy(out)}


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().cpu().numpy()


implementation = KerasHubImplementation()
