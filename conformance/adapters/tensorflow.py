"""The ``tensorflow`` port: transformers 4.57's TensorFlow classes (``TFBertModel``, ``TFBertFor*``), CPU.

transformers 4.57.6 is the last release with ``modeling_tf_bert.py`` (tf-keras 2, ``TF_USE_LEGACY_KERAS=1``).
Each head is ``TF<head>(transformers.BertConfig(**config))``, built once on its dummy inputs, and gets the HF
state dict through the library's own PyTorch-to-TF converter (``load_pytorch_state_dict_in_tf2_model``). The
converter only warns about unexpected keys and reshapes a mis-shaped array of the right size, so the key set
and every shape are checked here first against the names the converter derives from the TF variables.
Models are cached per (head, config, dtype, weights); forward runs with ``training=False``.

What it declares, and why (everything else is claimed, and checked):
- dtype float32 only. tf-keras' ``floatx`` "float64" builds a float64 model, but two constants go through
  float32: the attention scale ``tf.cast(math.sqrt(head_dim), dtype)`` (a Python float becomes a float32
  tensor before the cast) and ``tf.nn.gelu``'s ``cast(0.7071067811865476, dtype)``. Against the float64
  oracle (tiny config, head_dim 8): 3.7e-8 with gelu, 2.6e-8 with relu; 2.4e-15 with relu once the scale is
  an exact float64 constant (measured while writing this port). The float64 tier's tolerance is 1e-10.
  cpu; eager attention (an explicit softmax).
- activations: the ``hidden_act`` names of ``transformers.activations_tf.ACT2FN`` that spec/config.yaml lists;
  the others raise KeyError in ``get_tf_activation`` (``glu`` halves the width and is not a BERT activation).
- inputs: no ``logits_to_keep`` (no TF head has it). ``TFBertForMaskedLM`` has no encoder_hidden_states /
  encoder_attention_mask arguments: passing them raises (a real difference, see docs/ports.md).
- masks: 2-D of any layout and form, as given (bool as 0/1): TF computes ``(1 - mask) * -10000``. No 4-D
  masks: ``TFBertMainLayer`` reshapes the mask to ``[batch, 1, 1, mask.shape[1]]``.
- embeddings tied only: ``TFBertLMPredictionHead`` multiplies by the input embedding matrix itself, it has no
  decoder weight of its own; the decoder targets are dropped when present (TF's ``_keys_to_ignore``).
- checkpoints: legacy LayerNorm gamma/beta, old buffer keys and a ``bert.`` prefix gained or lost, as the
  converter reads them; not a tied pair given by its target only (the converter reports the source missing).
- loss and gradients: the heads' own ``hf_compute_loss`` (v4 conventions, reported as they are: a loss of
  shape (1,) is returned 0-d, per-example losses as the vector TF returns); gradients by ``tf.GradientTape``
  of that loss (a vector's gradient is that of its sum). decoder, cache (TF's past_key_values tuple, opaque),
  cross-attention.
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # transformers 4.x TF classes need tf-keras (Keras 2)

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import transformers  # noqa: E402
from transformers.activations_tf import ACT2FN  # noqa: E402
from transformers.modeling_tf_pytorch_utils import (  # noqa: E402
    TransposeType,
    convert_tf_weight_name_to_pt_weight_name,
    load_pytorch_state_dict_in_tf2_model,
)

from bert_conformance.adapters._cache import state_dict_digest  # noqa: E402

NAME = "tensorflow"
HEADS = ("BertModel", "BertForPreTraining", "BertLMHeadModel", "BertForMaskedLM",
         "BertForNextSentencePrediction", "BertForSequenceClassification", "BertForMultipleChoice",
         "BertForTokenClassification", "BertForQuestionAnswering")
ACTIVATIONS = tuple(sorted(set(ACT2FN) - {"glu"}))
INPUTS = ("input_ids", "attention_mask", "token_type_ids", "position_ids", "inputs_embeds",
          "encoder_hidden_states", "encoder_attention_mask")
LABELS = ("labels", "next_sentence_label", "start_positions", "end_positions")
LEGACY = {"LayerNorm.gamma": "LayerNorm.weight", "LayerNorm.beta": "LayerNorm.bias"}
BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")  # old checkpoints' buffers, unused in TF
TIED = {"cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias"}
TIED_HEADS = ("BertForPreTraining", "BertLMHeadModel", "BertForMaskedLM")
_MODELS: dict[tuple[str, ...], TFModel] = {}


class TensorFlowImplementation:
    def capabilities(self) -> dict[str, Any]:
        return {
            "name": NAME, "version": f"transformers {transformers.__version__}, tensorflow {tf.__version__}",
            "heads": list(HEADS), "dtypes": ["float32"], "devices": ["cpu"], "attention": ["eager"],
            "features": ["decoder", "cache", "cross_attention", "loss", "gradients"],
            "inputs": list(INPUTS), "outputs": ["hidden_states", "attentions", "cross_attentions"],
            "activations": list(ACTIVATIONS), "padding": ["right", "left", "arbitrary"],
            "attention_masks": ["binary", "bool", "float", "nonbinary"],
            "checkpoints": ["layernorm_gamma_beta", "buffers_in_checkpoint", "prefix"],
            "embeddings": ["tied"],
        }

    def load_model(self, head: str, config: dict[str, Any], state_dict: dict[str, np.ndarray], *,
                   dtype: str, device: str = "cpu", attention: str = "eager") -> TFModel:
        if head not in HEADS or dtype != "float32" or (device, attention) != ("cpu", "eager"):
            raise ValueError(f"{NAME}: {head} / {dtype} / {device} / {attention} not supported")
        cfg = transformers.BertConfig(**config)
        if head in TIED_HEADS and not cfg.tie_word_embeddings:
            raise ValueError(f"{NAME}: TF's masked-LM decoder is the input embedding matrix (no untied)")
        weights = _normalise(head, state_dict)
        key = (head, cfg.to_json_string(), dtype, state_dict_digest(weights))
        if key not in _MODELS:
            _MODELS.clear()  # one model alive in the cache: the suite's models are many and short-lived
            _MODELS[key] = TFModel(_build(head, cfg, weights, dtype), head, dtype)
        return _MODELS[key]


def _normalise(head: str, state_dict: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The checkpoint forms the converter reads (gamma/beta, buffers, a ``bert.`` prefix) as standard names;
    tied targets are dropped (TF computes the decoder from their sources)."""
    out = {_legacy_name(k): v for k, v in state_dict.items() if not k.endswith(BUFFERS)}
    prefixed = any(k.startswith("bert.") for k in out)
    if head == "BertModel" and prefixed:
        out = {k.removeprefix("bert."): v for k, v in out.items()}
    elif head != "BertModel" and not prefixed:
        base = ("embeddings.", "encoder.", "pooler.")
        out = {("bert." + k if k.startswith(base) else k): v for k, v in out.items()}
    return {k: v for k, v in out.items() if not (head in TIED_HEADS and k in TIED)}


def _legacy_name(key: str) -> str:
    for old, new in LEGACY.items():
        if key.endswith(old):
            return key[: -len(old)] + new
    return key



def _build(head: str, cfg: transformers.BertConfig, weights: dict[str, np.ndarray], dtype: str) -> Any:
    model = getattr(transformers, "TF" + head)(cfg)
    model(model.dummy_inputs, training=False)  # builds the variables
    expected = {name: _hf_shape(*target) for name, target in _names(model, head).items()}
    missing, unexpected = sorted(set(expected) - set(weights)), sorted(set(weights) - set(expected))
    wrong = [f"{k} {np.shape(weights[k])} (wants {expected[k]})" for k in sorted(set(weights) & set(expected))
             if tuple(np.shape(weights[k])) != expected[k]]
    if missing or unexpected or wrong:
        raise ValueError(f"{NAME}: state dict: missing {missing}, unexpected {unexpected}, shapes {wrong}")
    _, info = load_pytorch_state_dict_in_tf2_model(
        model, {k: np.asarray(v, dtype) for k, v in weights.items()}, tf_inputs=False,
        output_loading_info=True, skip_logger_warnings=True)
    assert not any(info.values()), info  # the checks above leave the converter nothing to skip
    return model


def _names(model: Any, head: str) -> dict[str, tuple[Any, bool]]:
    """HF state-dict name -> (TF variable, transposed: a Dense kernel is HF's weight.T), as the converter
    names them."""
    out, strip = {}, "bert." if head == "BertModel" else ""
    for var in model.weights:
        name, transpose = convert_tf_weight_name_to_pt_weight_name(
            var.name, start_prefix_to_remove=strip, tf_weight_shape=var.shape)
        out[name] = (var, transpose is TransposeType.SIMPLE)
    return out


def _hf_shape(var: Any, transposed: bool) -> tuple[int, ...]:
    return tuple(var.shape)[::-1] if transposed else tuple(var.shape)


class TFModel:
    def __init__(self, model: Any, head: str, dtype: str) -> None:
        self.model, self.head, self.dtype = model, head, dtype

    def _call(self, inputs: dict[str, np.ndarray], options: dict[str, Any]) -> Any:
        unknown = sorted(set(inputs) - set(INPUTS) - set(LABELS))
        if unknown or options.get("logits_to_keep") is not None:
            raise ValueError(f"{NAME}: not supported: {unknown or 'logits_to_keep'} (inputs {INPUTS})")
        feeds = {k: tf.constant(_feed(k, np.asarray(v), self.dtype)) for k, v in inputs.items()}
        if self.head == "BertForNextSentencePrediction" and "labels" in feeds:
            feeds["next_sentence_label"] = feeds.pop("labels")  # TF's name for the NSP head's labels
        kwargs = {"past_key_values": options.get("cache", options.get("past_key_values")),
                  **{k: options.get(k) for k in ("use_cache", "output_hidden_states", "output_attentions")}}
        # only what is given: the heads without a cache reject past_key_values / use_cache, even as None
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        # the tensors as a dict, the first argument: keras rejects a call without one (inputs_embeds only)
        return self.model(feeds, **kwargs, return_dict=True, training=False)

    def forward(self, inputs: dict[str, np.ndarray], **options: Any) -> dict[str, Any]:
        out = self._call(inputs, options)
        result: dict[str, Any] = {}
        for name, value in out.items():
            if name == "past_key_values":
                result["cache"] = value  # TF's per-layer (key, value[, cross key, cross value]) tuples
            elif isinstance(value, (tuple, list)):
                result[name] = [None if v is None else v.numpy() for v in value]
            elif value is not None:  # TF's reduced losses have shape (1,): 0-d, as the contract has it
                reduced = name == "loss" and value.shape == (1,)
                result[name] = value.numpy().reshape(()) if reduced else value.numpy()
        return result

    def gradients(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        with tf.GradientTape() as tape:
            loss = self._call(inputs, {}).loss
        names = _names(self.model, self.head)
        grads = tape.gradient(loss, [var for var, _ in names.values()],
                              unconnected_gradients=tf.UnconnectedGradients.ZERO)
        out = {}
        for (name, (_, transposed)), grad in zip(names.items(), grads):
            grad = tf.convert_to_tensor(grad).numpy()  # an embedding's gradient comes as IndexedSlices
            out[name] = grad.T if transposed else grad
        if self.head in TIED_HEADS:  # a tied pair is one tensor: both names carry its gradient
            out.update({target: out[source] for target, source in TIED.items()})
        return out


def _feed(name: str, value: np.ndarray, dtype: str) -> np.ndarray:
    if name in ("inputs_embeds", "encoder_hidden_states"):
        return value.astype(dtype)
    if value.dtype == np.bool_:
        return value.astype(np.int64)  # TF multiplies the mask (decoder path): bool as 0/1
    return value


implementation = TensorFlowImplementation()
