"""The ``flax`` port: transformers 4.57.6's Flax classes (``FlaxBert*``, JAX on the CPU) behind the adapter contract.

Each head is its ``FlaxBert*`` class (``BertLMHeadModel`` is ``FlaxBertForCausalLM``), built from the config dict
by ``transformers.BertConfig(**config)`` with ``_do_init=False`` (no random init: the shapes come from
``params_shape_tree``), and given the HF state dict through the library's own PyTorch-to-Flax converter
(``convert_pytorch_state_dict_to_flax``). The converter is lenient (it passes unknown keys through and never
looks for missing ones; only a known key of the wrong shape raises), so the adapter compares its result with
``required_params`` and raises on any difference. Forward is the class's ``__call__`` with ``train=False``
(``deterministic=True``: no dropout), not jitted, as a user calls it.

Declared, and why:
- float32 and float64: JAX runs with ``jax_enable_x64`` (set at import, process-wide), so a float64 ``dtype``
  with float64 params computes in float64 (MiniLM and tiny configs match the float64 oracle to ~1e-15, see
  tools/port_repros/flax.py); without x64 JAX silently computes float64 requests in float32. cpu; eager.
- features ``decoder`` (``is_decoder`` makes every self-attention causal) and ``cross_attention``
  (``encoder_hidden_states`` / ``encoder_attention_mask``, read by FlaxBertModel and FlaxBertForCausalLM only).
  No ``cache``: Flax caches are fixed-size buffers from ``init_cache(batch, max_length)`` fed a full-length mask,
  not the grow-as-you-go cache the spec describes. No ``loss`` or ``gradients``: Flax heads take no labels.
- inputs: ``__call__`` takes input_ids, attention_mask, token_type_ids, position_ids (and the encoder pair);
  it has no ``inputs_embeds`` and no ``logits_to_keep``. Outputs hidden_states, attentions, cross_attentions.
- activations: the keys of ``modeling_flax_utils.ACT2FN`` (8 names); any other ``hidden_act`` is a KeyError there.
- masks: the class casts ``attention_mask`` to int32 and attends where it is > 0, as a key mask
  (``expand_dims(mask, (-3, -2))``): any padding layout, binary/bool/float/non-binary 2-D masks are accepted
  (float and non-binary ones keep that v4 cast: a real deviation the suite measures); 4-D masks are not read.
- checkpoints: the converter maps ``LayerNorm.gamma/beta`` and adds or strips the ``bert.`` prefix; old
  ``position_ids`` / ``token_type_ids`` buffers have no Flax variable and are dropped (as from_pretrained does).
  Tied targets: with ``tie_word_embeddings`` the decoder reads the word embeddings; the Flax decoder has no bias
  (``cls.predictions.bias`` is its bias, v4's tie), so ``cls.predictions.decoder.bias`` is dropped, tied or not.
  A pair given by its target name only is not converted. Embeddings tied and untied.
"""

from __future__ import annotations

import json
import os
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402

jax.config.update("jax_enable_x64", True)  # else float64 silently computes in float32

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402  (the converter takes torch tensors)
import transformers  # noqa: E402
from flax.traverse_util import flatten_dict  # noqa: E402
from transformers.modeling_flax_pytorch_utils import convert_pytorch_state_dict_to_flax  # noqa: E402
from transformers.modeling_flax_utils import ACT2FN  # noqa: E402

from bert_conformance.adapters._cache import state_dict_digest  # noqa: E402

HEADS = {
    "BertModel": "FlaxBertModel", "BertForPreTraining": "FlaxBertForPreTraining",
    "BertLMHeadModel": "FlaxBertForCausalLM", "BertForMaskedLM": "FlaxBertForMaskedLM",
    "BertForNextSentencePrediction": "FlaxBertForNextSentencePrediction",
    "BertForSequenceClassification": "FlaxBertForSequenceClassification",
    "BertForMultipleChoice": "FlaxBertForMultipleChoice",
    "BertForTokenClassification": "FlaxBertForTokenClassification",
    "BertForQuestionAnswering": "FlaxBertForQuestionAnswering",
}
DTYPES = {"float32": jnp.float32, "float64": jnp.float64}
INPUTS = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "encoder_hidden_states",
          "encoder_attention_mask")
DROPPED = ("embeddings.position_ids", "embeddings.token_type_ids", "cls.predictions.decoder.bias")


class FlaxImplementation:
    def capabilities(self) -> dict[str, Any]:
        return {
            "name": "flax", "version": f"transformers {transformers.__version__}, jax {jax.__version__}",
            "heads": list(HEADS), "dtypes": list(DTYPES), "devices": ["cpu"], "attention": ["eager"],
            "features": ["decoder", "cross_attention"],  # the surface follows, see the module docstring
            "inputs": list(INPUTS), "outputs": ["hidden_states", "attentions", "cross_attentions"],
            "activations": sorted(ACT2FN), "padding": ["right", "left", "arbitrary"],
            "attention_masks": ["binary", "bool", "float", "nonbinary"],
            "checkpoints": ["layernorm_gamma_beta", "buffers_in_checkpoint", "prefix"],
            "embeddings": ["tied", "untied"],
        }

    def load_model(self, head: str, config: dict[str, Any], state_dict: dict[str, np.ndarray], *,
                   dtype: str, device: str = "cpu", attention: str = "eager") -> FlaxModel:
        if head not in HEADS or dtype not in DTYPES or (device, attention) != ("cpu", "eager"):
            raise ValueError(f"flax port: {head} / {dtype} / {device} / {attention} not supported")
        cfg = transformers.BertConfig(**config)  # HF 4.57.6's own config handling
        key = (head, json.dumps(cfg.to_dict(), sort_keys=True, default=str), dtype, state_dict_digest(state_dict))
        if key not in _MODELS:
            _MODELS.clear()  # one model alive: the suite's models are many and short-lived
            model = getattr(transformers, HEADS[head])(cfg, dtype=DTYPES[dtype], _do_init=False)
            _MODELS[key] = FlaxModel(model, _convert(model, state_dict, dtype), dtype)
        return _MODELS[key]


_MODELS: dict[tuple[str, str, str, str], FlaxModel] = {}



def _convert(model: Any, state_dict: dict[str, np.ndarray], dtype: str) -> dict[str, Any]:
    """The library's converter, made strict: its result must be exactly the model's parameter set."""
    tied = model.config.tie_word_embeddings
    dropped = DROPPED + (("cls.predictions.decoder.weight",) if tied else ())
    tensors = {k: torch.from_numpy(np.array(v, dtype=dtype)) for k, v in state_dict.items()
               if not k.removeprefix("bert.").endswith(dropped)}
    if not tensors:
        raise ValueError("flax port: empty state dict")
    shim = SimpleNamespace(params=model.params_shape_tree, base_model_prefix=model.base_model_prefix)
    params = convert_pytorch_state_dict_to_flax(tensors, shim)  # raises on a known key of the wrong shape
    flat, shapes = flatten_dict(params), flatten_dict(model.params_shape_tree)
    missing, unexpected = sorted(set(shapes) - set(flat)), sorted(set(flat) - set(shapes))
    if missing or unexpected:
        raise ValueError(f"flax port: state dict mismatch: missing Flax params {missing}, unexpected {unexpected}")
    wrong = [k for k in shapes if flat[k].shape != shapes[k].shape]
    if wrong:
        raise ValueError(f"flax port: wrong shapes for {wrong}")
    return params


class FlaxModel:
    """A FlaxBert* model and its params behind the numpy contract (train=False: deterministic)."""

    def __init__(self, model: Any, params: dict[str, Any], dtype: str) -> None:
        self.model, self.params, self.dtype = model, params, dtype

    def forward(self, inputs: dict[str, np.ndarray], **options: Any) -> dict[str, Any]:
        unknown = sorted(set(inputs) - set(INPUTS))
        flags = {k: options.pop(k) for k in ("output_hidden_states", "output_attentions") if k in options}
        if options.pop("use_cache", False) and self.model.config.is_decoder:
            raise ValueError("flax port: no cache (feature not claimed)")
        if unknown or options or "input_ids" not in inputs:  # the output flags go to the class as given
            raise ValueError(f"flax port: not supported: inputs {unknown}, options {sorted(options)} "
                             f"(inputs {INPUTS}, options output_hidden_states, output_attentions)")
        feeds = {k: np.asarray(v) for k, v in inputs.items()}
        ids = feeds.pop("input_ids")
        for name in ("attention_mask", "encoder_attention_mask"):
            if name in feeds and feeds[name].ndim != ids.ndim:  # a key mask: 4-D masks are not read
                raise ValueError(f"flax port: {name} must be [batch, seq] like input_ids, got {feeds[name].shape}")
        if "encoder_hidden_states" in feeds:
            feeds["encoder_hidden_states"] = jnp.asarray(feeds["encoder_hidden_states"], dtype=self.dtype)
        out = self.model(ids, **feeds, params=self.params, train=False, **flags)
        return {name: _numpy(value) for name, value in out.items() if value is not None}


def _numpy(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [np.asarray(v) for v in value]
    return np.asarray(value)


implementation = FlaxImplementation()
