"""What is benchmarked (spec clause ``bench.method.workload``): weights, inputs and labels as numpy arrays.

Weights come from a seeded numpy Generator, not torch's RNG, so every side of a comparison (and every port,
PyTorch or not) gets the same bytes. Keys are HF state-dict names in the saved-file form: the tied targets
``cls.predictions.decoder.{weight,bias}`` are left out, as ``save_pretrained`` leaves them out.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

HEAD = "BertForMaskedLM"
TIED_TARGETS = ("cls.predictions.decoder.weight", "cls.predictions.decoder.bias")
MLM_PROBABILITY = 0.15  # the share of positions that carry a label (the rest are -100)


def full_config(model_config: dict[str, Any]) -> dict[str, Any]:
    """The suite model's HF config keys on top of BertConfig's defaults (a config.json-style dict)."""
    from bert_reference import BertConfig

    return BertConfig.from_dict(dict(model_config)).to_dict()


def parameter_shapes(config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """HF state-dict names and shapes of BertForMaskedLM, read off the reference built on the meta device."""
    import torch

    from bert_reference import HEAD_CLASSES, BertConfig

    with torch.device("meta"):
        model = HEAD_CLASSES[HEAD](BertConfig.from_dict(dict(config)))
    return {name: tuple(t.shape) for name, t in model.hf_state_dict().items() if name not in TIED_TARGETS}


def random_state_dict(config: dict[str, Any], seed: int = 0) -> dict[str, np.ndarray]:
    """Random float32 weights like HF's init: N(0, initializer_range), LayerNorm weight 1, biases 0."""
    return dict(_random_state_dict(_frozen(config), seed))


@functools.lru_cache(maxsize=2)  # bert-base is 440 MB of float32: keep the last two configs only
def _random_state_dict(config_items: tuple[tuple[str, Any], ...], seed: int) -> tuple[tuple[str, np.ndarray], ...]:
    config = dict(config_items)
    rng = np.random.default_rng(seed)
    std = float(config.get("initializer_range", 0.02))
    out: list[tuple[str, np.ndarray]] = []
    for name, shape in sorted(parameter_shapes(config).items()):  # sorted: independent of module order
        if name.endswith("LayerNorm.weight"):
            array = np.ones(shape, np.float32)
        elif name.endswith(".bias"):
            array = np.zeros(shape, np.float32)
        else:
            array = (rng.standard_normal(shape, dtype=np.float32) * np.float32(std)).astype(np.float32)
            if name.endswith("word_embeddings.weight") and config.get("pad_token_id") is not None:
                array[config["pad_token_id"]] = 0.0  # HF zeroes the padding row
        array.flags.writeable = False
        out.append((name, array))
    return tuple(out)


def make_inputs(config: dict[str, Any], batch_size: int, seq_len: int, *, train: bool, seed: int = 0) -> dict[str, np.ndarray]:
    """input_ids uniform over the vocabulary, attention_mask all ones; labels (training only) at 15 % of positions."""
    if seq_len > int(config["max_position_embeddings"]):
        raise ValueError(f"seq_len {seq_len} exceeds max_position_embeddings {config['max_position_embeddings']}")
    rng = np.random.default_rng([seed, batch_size, seq_len])
    input_ids = rng.integers(0, int(config["vocab_size"]), size=(batch_size, seq_len), dtype=np.int64)
    inputs = {"input_ids": input_ids, "attention_mask": np.ones((batch_size, seq_len), np.int64)}
    if train:
        labelled = rng.random((batch_size, seq_len)) < MLM_PROBABILITY
        labelled[:, 0] = True  # at least one label per row: the loss is never NaN
        inputs["labels"] = np.where(labelled, input_ids, -100).astype(np.int64)
    return inputs


def checked_parameters(config: dict[str, Any]) -> tuple[str, ...]:
    """Parameters whose gradients the output check compares: q/k/v of the first and the last layer.

    Attention's backward reaches the first layer through every later one, so a wrong attention backward
    anywhere shows here; the full gradient set would cost a copy of the model per check.
    """
    last = int(config["num_hidden_layers"]) - 1
    return tuple(
        f"bert.encoder.layer.{i}.attention.self.{p}.weight" for i in sorted({0, last}) for p in ("query", "key", "value")
    )


def _frozen(config: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((k, v) for k, v in config.items() if isinstance(v, (int, float, str, bool, type(None)))))
