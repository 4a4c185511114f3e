"""Anchor verification: a known-bad port must change what the port computes on its probe.

A :class:`Probe` is one small, deterministic model call chosen to exercise a bug (a head, config overrides,
inputs, options; optionally labels, encoder states, or several cached steps). :func:`verify` runs it through
the reference port and through the known-bad port: identical outputs mean the bug no longer applies (its patch
target moved, or the code path it patched is no longer taken), which is a :class:`KnownBadError`, never a pass.
A known-bad port raising on its probe is an error too, unless it declares ``probe_raises`` (a bug that makes the
port crash, e.g. a cache concatenated on the wrong axis).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bert_conformance.adapters.reference import ReferenceImplementation
from bert_conformance.known_bad._base import KnownBadError, KnownBadPort

TINY = {
    "vocab_size": 99, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4,
    "intermediate_size": 37, "hidden_act": "gelu", "max_position_embeddings": 64, "type_vocab_size": 2,
    "layer_norm_eps": 1e-12, "pad_token_id": 0, "is_decoder": False, "add_cross_attention": False,
    "tie_word_embeddings": True,
}


@dataclass(frozen=True)
class Probe:
    """One model call (or a sequence of cached calls) on which a bug must show.

    ``pad``: "right" (the last row loses its last third), "left" (the last row's first two positions) or "none".
    ``labels``: add the head's labels (token-level ones include -100). ``steps``: split the sequence into that
    many cached calls (decoder configs). ``encoder``: add encoder_hidden_states and a padded encoder mask.
    ``positions``: "default" (none passed) or "packed" (position_ids restarting at 0 mid-row: two packed
    sequences per row; with ``pad="none"`` no attention_mask is passed, so the rows are packed).
    """

    head: str = "BertModel"
    config: dict[str, Any] = field(default_factory=dict)
    dtype: str = "float64"
    pad: str = "right"
    labels: bool = False
    steps: int = 1
    encoder: bool = False
    options: dict[str, Any] = field(default_factory=dict)
    batch: int = 2
    seq: int = 7
    positions: str = "default"
    device: str = "cpu"  # the device the known-bad port is asked for (the reference always runs on the CPU)

    def full_config(self) -> dict[str, Any]:
        return {**TINY, **self.config}

    def inputs(self) -> dict[str, np.ndarray]:
        config, rng = self.full_config(), np.random.default_rng(0)
        shape = (self.batch, 3, self.seq) if self.head == "BertForMultipleChoice" else (self.batch, self.seq)
        ids = rng.integers(1, config["vocab_size"], size=shape, dtype=np.int64)
        mask = np.ones(shape, dtype=np.int64)
        if self.pad == "right":
            mask[-1, ..., self.seq - max(1, self.seq // 3):] = 0
        elif self.pad == "left":
            mask[-1, ..., :2] = 0
        inputs = {
            "input_ids": np.where(mask == 0, config["pad_token_id"] or 0, ids),
            "token_type_ids": rng.integers(0, config["type_vocab_size"], size=shape, dtype=np.int64),
            "attention_mask": mask,
        }
        if self.positions == "packed":
            inputs["position_ids"] = np.tile(np.r_[np.arange(self.seq // 2), np.arange(self.seq - self.seq // 2)],
                                             (self.batch, 1))
        if self.pad == "none" and self.positions == "packed":
            del inputs["attention_mask"]  # no mask: the position_ids pack sequences
        if self.encoder:
            inputs["encoder_hidden_states"] = rng.standard_normal((self.batch, 5, config["hidden_size"]))
            inputs["encoder_attention_mask"] = np.array([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=np.int64)[: self.batch]
        if self.labels:
            inputs.update(_labels(self.head, config, ids, rng))
        return inputs


def _labels(head: str, config: dict[str, Any], ids: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
    batch, seq = ids.shape[0], ids.shape[-1]
    token = np.where(rng.random(ids.shape) < 0.5, ids, -100)  # masked-LM style: about half ignored
    if head in ("BertForMaskedLM", "BertLMHeadModel"):
        return {"labels": token}
    if head == "BertForPreTraining":
        return {"labels": token, "next_sentence_label": rng.integers(0, 2, size=batch, dtype=np.int64)}
    if head == "BertForNextSentencePrediction":
        return {"labels": rng.integers(0, 2, size=batch, dtype=np.int64)}
    if head == "BertForTokenClassification":
        classes = config.get("num_labels", 2)
        return {"labels": np.where(token == -100, -100, rng.integers(0, classes, size=ids.shape))}
    if head == "BertForQuestionAnswering":
        return {"start_positions": np.array([1, -3][:batch]), "end_positions": np.array([seq + 4, 2][:batch])}
    if head == "BertForMultipleChoice":
        return {"labels": rng.integers(0, ids.shape[1], size=batch, dtype=np.int64)}
    return {"labels": rng.integers(0, config.get("num_labels", 2), size=batch, dtype=np.int64)}


def run(port: Any, probe: Probe, device: str = "cpu") -> list[dict[str, Any]]:
    """The port's outputs on the probe, loaded on ``device``: one dict per call (weights: the oracle's draw)."""
    from bert_conformance.oracle import get_oracle

    config = probe.full_config()
    state_dict = get_oracle().random_state_dict(probe.head, config, seed=0)
    model = port.load_model(probe.head, config, state_dict, dtype=probe.dtype, device=device, attention="eager")
    inputs = {k: (v.astype(probe.dtype) if v.dtype.kind == "f" else v) for k, v in probe.inputs().items()}
    if probe.steps == 1:
        return [model.forward(inputs, **probe.options)]
    outputs, cache = [], None
    bounds = np.linspace(0, probe.seq, probe.steps + 1).astype(int)
    for start, end in zip(bounds, bounds[1:]):
        piece = {k: (v if k.startswith("encoder") else v[:, :end] if k == "attention_mask" else v[:, start:end])
                 for k, v in inputs.items()}
        result = model.forward(piece, use_cache=True, **({"cache": cache} if cache is not None else {}))
        cache = result.pop("cache", None)
        outputs.append(result)
    return outputs


def verify(port_cls: type[KnownBadPort]) -> None:
    """Raise :class:`KnownBadError` unless the port differs from the reference on its probe (no probe: no check)."""
    if port_cls.probe is None:
        return
    expected = run(ReferenceImplementation(), port_cls.probe)
    try:
        actual = run(port_cls(), port_cls.probe, device=port_cls.probe.device)
    except KnownBadError:
        raise
    except Exception as error:
        if port_cls.probe_raises:
            return  # the bug makes the port fail on the probe, as declared
        raise KnownBadError(f"{port_cls.id}: raised {type(error).__name__} on its probe: {error}") from error
    if port_cls.probe_raises:
        raise KnownBadError(f"{port_cls.id}: declared to raise on its probe, but returned outputs")
    if _same(expected, actual):
        raise KnownBadError(
            f"{port_cls.id}: equivalent to the reference on its probe ({port_cls.probe}); the bug no longer "
            "applies (its anchor moved or the patched path is no longer taken)"
        )


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        keys = (set(a) | set(b)) - {"cache", "past_key_values"}
        return all(k in a and k in b and _same(a[k], b[k]) for k in keys)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    return a == b
