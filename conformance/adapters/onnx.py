"""The ``onnx`` port: ONNX Runtime running an ONNX export of the reference.

It proves the contract is framework-agnostic: torch is used once per (head, config) to export the reference
(``torch.onnx.export``, dynamo exporter, unoptimized so every weight stays a named initializer); every
``forward`` runs in ONNX Runtime and numpy. Each ``load_model`` swaps the state dict's values into the
initializers, so new weights never need a new export.

The graph takes ``inputs_embeds``; the word-embedding lookup for ``input_ids`` is numpy glue, so both input
forms work. It claims less than the reference: encoder heads with single-sequence inputs, float32, cpu,
eager attention; inputs ``input_ids`` or ``inputs_embeds``, ``attention_mask`` (2-D), ``token_type_ids``,
``position_ids``; options ``output_hidden_states`` (bool or indices) and ``output_attentions``. No
labels/loss, cache, decoder or gradients.
"""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import onnxruntime
from onnx import numpy_helper

HEADS = (
    "BertModel",
    "BertForPreTraining",
    "BertForMaskedLM",
    "BertForNextSentencePrediction",
    "BertForSequenceClassification",
    "BertForTokenClassification",
    "BertForQuestionAnswering",
)
GRAPH_INPUTS = ("inputs_embeds", "attention_mask", "token_type_ids", "position_ids")
INPUTS = ("input_ids", *GRAPH_INPUTS)
OPTIONS = ("output_hidden_states", "output_attentions")
_PREFIX = "m."  # the export wrapper's attribute: initializers are named "m.<HF parameter name>"


class OnnxImplementation:
    def capabilities(self) -> dict[str, Any]:
        return {
            "name": "onnxruntime",
            "version": onnxruntime.__version__,
            "heads": list(HEADS),
            "dtypes": ["float32"],
            "devices": ["cpu"],
            "attention": ["eager"],
            "features": [],
            # the surface (spec/surface.yaml): the graph takes a 2-D mask; load_model swaps values into the
            # initializers of the standard names, with the tied decoder weight and bias
            "attention_masks": ["binary", "bool", "float", "nonbinary"],
            "checkpoints": [],
            "embeddings": ["tied"],
        }

    def load_model(
        self,
        head: str,
        config: dict[str, Any],
        state_dict: dict[str, np.ndarray],
        *,
        dtype: str,
        device: str = "cpu",
        attention: str = "eager",
    ) -> OnnxModel:
        if head not in HEADS:
            raise ValueError(f"onnx port: head {head!r} is not exported (supported: {', '.join(HEADS)})")
        if (dtype, device, attention) != ("float32", "cpu", "eager"):
            raise ValueError(f"onnx port: only float32 / cpu / eager, got {dtype} / {device} / {attention}")
        graph = _exported(head, json.dumps(config, sort_keys=True))
        if graph.word_embeddings not in state_dict:
            raise ValueError(f"onnx port: state dict mismatch: missing ['{graph.word_embeddings}']")
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(
            graph.with_weights(state_dict).SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        # ONNX Gather wraps negative indices (and numpy's lookup does too): ids are range-checked here, as HF's
        # embedding lookups do (heads.common.input_ids_out_of_range, token_type_out_of_range)
        word = np.asarray(state_dict[graph.word_embeddings], np.float32)
        return OnnxModel(session, graph.layout, word, type_vocab_size=config.get("type_vocab_size", 2))


@dataclass
class _Graph:
    """An exported head: the ONNX model, its output layout, and which initializer holds which parameter."""

    model: onnx.ModelProto
    layout: list[tuple[str, int | None]]  # (output name, None for a tensor or n for a list of n tensors)
    parameters: dict[str, list[str]]  # initializer name -> HF names of that parameter (several if tied)
    word_embeddings: str  # its HF name: looked up in numpy, and in the graph only if tied to the decoder

    def with_weights(self, state_dict: dict[str, np.ndarray]) -> onnx.ModelProto:
        model = onnx.ModelProto()
        model.CopyFrom(self.model)
        used, missing = {self.word_embeddings}, []
        for initializer in model.graph.initializer:
            names = self.parameters.get(initializer.name)
            if names is None:
                continue  # a buffer or constant of the graph, not a weight
            given = [name for name in names if name in state_dict]
            if not given:
                missing.append(names[0])
                continue
            used.update(given)
            value = np.asarray(state_dict[given[0]], dtype=np.float32)
            if list(value.shape) != list(initializer.dims):
                raise ValueError(
                    f"onnx port: {given[0]} has shape {list(value.shape)}, expected {list(initializer.dims)}"
                )
            initializer.CopyFrom(numpy_helper.from_array(value, initializer.name))
        unexpected = sorted(set(state_dict) - used)
        if missing or unexpected:
            raise ValueError(f"onnx port: state dict mismatch: missing {missing}, unexpected {unexpected}")
        return model


_EXPORTS: dict[tuple[str, str], _Graph] = {}


def _exported(head: str, config_json: str) -> _Graph:
    """Export once per (head, config) per process; weights are swapped in later."""
    key = (head, config_json)
    if key not in _EXPORTS:
        _EXPORTS[key] = _export(head, json.loads(config_json))
    return _EXPORTS[key]


def _export(head: str, config: dict[str, Any]) -> _Graph:
    import torch

    import bert_reference

    module = bert_reference.HEAD_CLASSES[head](bert_reference.BertConfig.from_dict(config))
    module.set_attn_implementation("eager")
    module.eval()
    example = _example_inputs(config, torch)
    with torch.no_grad():
        probe = module(**example, output_hidden_states=True, output_attentions=True, return_dict=True)
    layout = [(k, len(probe[k]) if isinstance(probe[k], (list, tuple)) else None) for k in probe.keys()]

    batch = torch.export.Dim("batch", min=1)
    seq = torch.export.Dim("seq", min=1, max=config["max_position_embeddings"])
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            _flat(module, torch),
            tuple(example[name] for name in GRAPH_INPUTS),
            input_names=list(GRAPH_INPUTS),
            dynamic_shapes={name: {0: batch, 1: seq} for name in GRAPH_INPUTS},
            dynamo=True,
            optimize=False,  # keep each weight a named initializer
            verbose=False,
        )
    aliases: dict[int, list[str]] = {}
    for name, parameter in module.named_parameters(remove_duplicate=False):
        aliases.setdefault(id(parameter), []).append(name)
    # the exporter may name a tied initializer after any of its aliases
    parameters = {f"{_PREFIX}{alias}": names for names in aliases.values() for alias in names}
    word = next(
        n for names in aliases.values() for n in names if n.endswith("embeddings.word_embeddings.weight")
    )
    return _Graph(program.model_proto, layout, parameters, word)


def _flat(module: Any, torch: Any) -> Any:
    """The head with every optional output on, flattened to a tuple of tensors (what the exporter wants)."""

    class Flat(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = module  # initializers are named "m.<HF name>"

        def forward(
            self, inputs_embeds: Any, attention_mask: Any, token_type_ids: Any, position_ids: Any
        ) -> tuple:
            out = self.m(
                inputs_embeds=inputs_embeds,
                attention_mask=attention_mask,
                token_type_ids=token_type_ids,
                position_ids=position_ids,
                output_hidden_states=True,
                output_attentions=True,
                return_dict=True,
            )
            values = [out[name] for name in out.keys()]
            return tuple(t for v in values for t in (v if isinstance(v, (list, tuple)) else [v]))

    return Flat()


def _example_inputs(config: dict[str, Any], torch: Any) -> dict[str, Any]:
    batch, seq = 2, min(5, config["max_position_embeddings"])
    mask = torch.ones(batch, seq, dtype=torch.int64)
    mask[-1, -1] = 0  # trace the padded path
    return {
        "inputs_embeds": torch.randn(batch, seq, config["hidden_size"]),
        "attention_mask": mask,
        "token_type_ids": torch.zeros(batch, seq, dtype=torch.int64),
        "position_ids": torch.arange(seq).expand(batch, seq).contiguous(),
    }


class OnnxModel:
    """One loaded head: an ONNX Runtime session, the names of its flattened outputs, the word embeddings."""

    def __init__(
        self, session: onnxruntime.InferenceSession, layout: list[tuple[str, int | None]], word: np.ndarray,
        *, type_vocab_size: int,
    ) -> None:
        self.session = session
        self.layout = layout
        self.word_embeddings = word
        self.type_vocab_size = type_vocab_size

    def forward(self, inputs: dict[str, np.ndarray], **options: Any) -> dict[str, Any]:
        unknown = sorted(set(inputs) - set(INPUTS)) + sorted(set(options) - set(OPTIONS))
        if unknown:
            raise ValueError(f"onnx port: not supported: {unknown} (inputs {INPUTS}, options {OPTIONS})")
        flat = iter(self.session.run(None, self._feeds(inputs)))
        outputs: dict[str, Any] = {}
        for name, count in self.layout:
            outputs[name] = next(flat) if count is None else [next(flat) for _ in range(count)]
        _select_hidden_states(outputs, options.get("output_hidden_states"))
        if not options.get("output_attentions"):
            outputs.pop("attentions", None)
            outputs.pop("cross_attentions", None)
        return outputs

    def _feeds(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The defaults HF documents: all-ones mask, zero token types, positions arange(seq)."""
        if ("input_ids" in inputs) == ("inputs_embeds" in inputs):
            raise ValueError("onnx port: give exactly one of input_ids and inputs_embeds")
        _check_ids("token_type_ids", inputs.get("token_type_ids"), self.type_vocab_size)
        if "input_ids" in inputs:
            _check_ids("input_ids", inputs["input_ids"], len(self.word_embeddings))
            embeds = self.word_embeddings[np.asarray(inputs["input_ids"])]
        else:
            embeds = np.asarray(inputs["inputs_embeds"], dtype=np.float32)
        batch, seq = embeds.shape[:2]
        mask = np.asarray(inputs.get("attention_mask", np.ones((batch, seq))))
        if mask.ndim != 2:
            raise ValueError(f"onnx port: only 2-D attention masks are supported, got {mask.ndim}-D")
        positions = inputs.get("position_ids", np.broadcast_to(np.arange(seq), (batch, seq)))
        return {
            "inputs_embeds": embeds,
            "attention_mask": (mask != 0).astype(np.int64),  # HF v5: any non-zero value attends
            "token_type_ids": np.asarray(
                inputs.get("token_type_ids", np.zeros((batch, seq))), dtype=np.int64
            ),
            "position_ids": np.broadcast_to(np.asarray(positions, dtype=np.int64), (batch, seq)).copy(),
        }


def _select_hidden_states(outputs: dict[str, Any], wanted: Any) -> None:
    """HF semantics: False/None drops them; a list of indices (negatives allowed) keeps those, None elsewhere."""
    states = outputs.pop("hidden_states", None)
    if not wanted or states is None:
        return
    if isinstance(wanted, (list, tuple)):
        keep = {index % len(states) for index in wanted}
        states = [state if i in keep else None for i, state in enumerate(states)]
    outputs["hidden_states"] = states


implementation = OnnxImplementation()


def _check_ids(name: str, ids: Any, size: int) -> None:
    if ids is not None and np.size(ids) and (np.min(ids) < 0 or np.max(ids) >= size):
        raise IndexError(f"onnx port: {name} outside [0, {size})")
