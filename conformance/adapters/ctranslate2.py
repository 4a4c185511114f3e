"""The ``ctranslate2`` port: CTranslate2's ``Encoder`` running a BertModel converted by its own converter.

``load_model`` writes the config to a temporary HF checkpoint folder, converts it with
``ctranslate2.converters.TransformersConverter`` (its ``BertLoader``) and loads the result as an ``Encoder``
(float32, cpu); conversions are cached per (config, weights). Two converter hooks are replaced: the weights go
in through a strict ``load_state_dict`` (``from_pretrained`` would silently initialise missing keys and drop
unknown ones), and the vocabulary is a placeholder (ids go in, so token strings never matter).

What it declares, and why (what is left out, the runtime cannot do):

- head ``BertModel`` only: the Encoder returns last_hidden_state and pooler_output, nothing else;
- dtype float32 (its CPU compute types are float32 and int8 variants: no float64, float16 or bfloat16);
- inputs input_ids / attention_mask / token_type_ids: ``forward_batch`` takes ragged id lists and token types,
  nothing else (no position_ids, no inputs_embeds), and returns no hidden states or attentions;
- padding ``right`` only (a mask becomes per-row lengths), 2-D masks of any form (any non-zero attends);
- activations: the ``hidden_act`` names its converter maps (``_SUPPORTED_ACTIVATIONS``); others raise;
- checkpoints: the standard names only; embeddings ``tied`` (BertModel has no output embeddings).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections import OrderedDict
from types import SimpleNamespace
from typing import Any

import ctranslate2
import numpy as np
import torch
import transformers

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
# spec/config.yaml names that ctranslate2 4.8's converter maps to a kernel; the others raise KeyError there
ACTIVATIONS = [
    "gelu", "gelu_python", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "quick_gelu", "relu", "silu",
    "swish",
]
_CACHE: OrderedDict[str, ctranslate2.Encoder] = OrderedDict()
_CACHE_SIZE = 8


class _Converter(ctranslate2.converters.TransformersConverter):
    """The stock converter with strict weight loading and a placeholder vocabulary."""

    def __init__(self, path: str, state_dict: dict[str, np.ndarray], vocab_size: int) -> None:
        super().__init__(path)
        self.state_dict, self.vocab_size = state_dict, vocab_size

    def load_model(self, model_class: Any, model_name_or_path: str, **kwargs: Any) -> Any:
        module = model_class(kwargs["config"])  # building it runs HF's model-init checks
        weights = {k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in self.state_dict.items()}
        module.load_state_dict(weights, strict=True)  # a missing, unexpected or mis-shaped key raises
        return module.eval()

    def load_tokenizer(self, tokenizer_class: Any, model_name_or_path: str, **kwargs: Any) -> Any:
        vocab = {"[UNK]" if i == 0 else f"[{i}]": i for i in range(self.vocab_size)}
        return SimpleNamespace(unk_token="[UNK]", get_vocab=lambda: vocab)


def _encoder(config: dict[str, Any], state_dict: dict[str, np.ndarray], vocab_size: int,
             compute_type: str = "float32") -> Any:
    digest = hashlib.blake2b(json.dumps([config, compute_type], sort_keys=True).encode())
    for name in sorted(state_dict):
        value = np.ascontiguousarray(state_dict[name], np.float32)
        digest.update(f"{name}{value.shape}".encode())
        digest.update(value.tobytes())
    key = digest.hexdigest()
    if key not in _CACHE:
        with tempfile.TemporaryDirectory() as folder:
            # transformers 5 dropped position_embedding_type (BERT is absolute-only); the converter asserts it
            hf_config = {**config, "model_type": "bert", "architectures": ["BertModel"],
                         "position_embedding_type": "absolute"}
            with open(f"{folder}/config.json", "w") as file:
                json.dump(hf_config, file)
            _Converter(folder, state_dict, vocab_size).convert(f"{folder}/ct2")
            _CACHE[key] = ctranslate2.Encoder(f"{folder}/ct2", device="cpu", compute_type=compute_type)
        if len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    _CACHE.move_to_end(key)
    return _CACHE[key]


class CTranslate2Implementation:
    compute_type = "float32"  # the Encoder's compute type (ctranslate2_int8: int8)

    def capabilities(self) -> dict[str, Any]:
        return {
            "name": "ctranslate2", "version": ctranslate2.__version__,
            "heads": ["BertModel"], "dtypes": ["float32"], "devices": ["cpu"], "attention": ["eager"],
            "features": [], "inputs": list(INPUTS), "outputs": [], "activations": ACTIVATIONS,
            "padding": ["right"], "attention_masks": ["binary", "bool", "float", "nonbinary"],
            "checkpoints": [], "embeddings": ["tied"],
        }

    def load_model(self, head: str, config: dict[str, Any], state_dict: dict[str, np.ndarray], *,
                   dtype: str, device: str = "cpu", attention: str = "eager") -> CTranslate2Model:
        if (head, dtype, device, attention) != ("BertModel", "float32", "cpu", "eager"):
            raise ValueError(f"ctranslate2 port: only BertModel / float32 / cpu / eager, got "
                             f"{head} / {dtype} / {device} / {attention}")
        resolved = transformers.BertConfig.from_dict(config)  # HF's config validation and v5 defaults
        if resolved.is_decoder or resolved.add_cross_attention:
            raise ValueError("ctranslate2 port: encoder only (is_decoder, add_cross_attention must be false)")
        if resolved.hidden_act not in ACTIVATIONS:
            raise ValueError(f"ctranslate2 port: hidden_act {resolved.hidden_act!r} is not converted "
                             f"(supported: {', '.join(ACTIVATIONS)})")
        return CTranslate2Model(_encoder(config, state_dict, resolved.vocab_size, self.compute_type), resolved)


class CTranslate2Model:
    def __init__(self, encoder: Any, config: transformers.BertConfig) -> None:
        self.encoder, self.config = encoder, config

    def forward(self, inputs: dict[str, np.ndarray], **options: Any) -> dict[str, np.ndarray]:
        asked = sorted(set(inputs) - set(INPUTS)) + sorted(name for name, on in options.items() if on)
        if asked:
            raise ValueError(f"ctranslate2 port: not supported: {asked} (inputs: {', '.join(INPUTS)})")
        ids = np.asarray(inputs["input_ids"])
        if ids.ndim != 2 or 0 in ids.shape:
            raise ValueError(f"ctranslate2 port: input_ids must be 2-D and non-empty, got shape {ids.shape}")
        batch, seq = ids.shape
        types = np.asarray(inputs.get("token_type_ids", np.zeros_like(ids)))
        # the Encoder reads out-of-range ids out of bounds (and types as NaN) where HF raises
        _check_range("input_ids", ids, self.config.vocab_size)
        _check_range("token_type_ids", types, self.config.type_vocab_size)
        if seq > self.config.max_position_embeddings:
            raise ValueError(f"ctranslate2 port: {seq} positions > max_position_embeddings")
        lengths = _lengths(inputs.get("attention_mask"), batch, seq)
        out = self.encoder.forward_batch(
            [ids[i, :n].tolist() for i, n in enumerate(lengths)],
            token_type_ids=[types[i, :n].tolist() for i, n in enumerate(lengths)],
        )
        # the Encoder returns max(lengths) positions; the rest are padding (unspecified values): zeros
        hidden = np.zeros((batch, seq, self.config.hidden_size), np.float32)
        computed = np.asarray(out.last_hidden_state, np.float32)
        hidden[:, : computed.shape[1]] = computed
        return {"last_hidden_state": hidden, "pooler_output": np.array(out.pooler_output, np.float32)}


def _check_range(name: str, values: np.ndarray, size: int) -> None:
    if values.min() < 0 or values.max() >= size:
        raise ValueError(f"ctranslate2 port: {name} outside [0, {size})")


def _lengths(mask: Any, batch: int, seq: int) -> list[int]:
    """Per-row lengths from a right-padded 2-D mask (any non-zero attends): no other layout is expressible."""
    if mask is None:
        return [seq] * batch
    attends = np.asarray(mask) != 0
    if attends.shape != (batch, seq):
        raise ValueError(f"ctranslate2 port: attention_mask must be 2-D [batch, seq], got {attends.shape}")
    lengths = attends.sum(axis=1)
    if (attends != (np.arange(seq) < lengths[:, None])).any():
        raise ValueError("ctranslate2 port: only right padding (each mask row 1..1 0..0) is supported")
    # a fully masked row has no specified output; as length 0 it crashes the Encoder (SIGFPE when all are)
    return [max(int(n), 1) for n in lengths]


implementation = CTranslate2Implementation()
