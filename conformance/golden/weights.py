"""Golden weights: HF state-dict names and shapes per head, written out from the HF BERT module tree, and
seeded random values drawn with numpy (not torch's RNG, so they do not depend on torch's generator).

The key list is written here from the HF module tree (modeling_bert.py), independently of the reference and
of transformers: at generation time both load it strictly, so a wrong key or shape here fails loudly.
"""

from __future__ import annotations

from typing import Any

import numpy as np

HEADS = (
    "BertModel",
    "BertForPreTraining",
    "BertLMHeadModel",
    "BertForMaskedLM",
    "BertForNextSentencePrediction",
    "BertForSequenceClassification",
    "BertForMultipleChoice",
    "BertForTokenClassification",
    "BertForQuestionAnswering",
)
# Heads built on BertModel(add_pooling_layer=False): no pooler weights, no pooler_output.
NO_POOLER_HEADS = ("BertLMHeadModel", "BertForMaskedLM", "BertForTokenClassification", "BertForQuestionAnswering")
MLM_HEADS = ("BertForPreTraining", "BertLMHeadModel", "BertForMaskedLM")
NSP_HEADS = ("BertForPreTraining", "BertForNextSentencePrediction")


def _linear(prefix: str, n_out: int, n_in: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.weight": (n_out, n_in), f"{prefix}.bias": (n_out,)}


def _layer_norm(prefix: str, n: int) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.weight": (n,), f"{prefix}.bias": (n,)}


def _attention(prefix: str, h: int) -> dict[str, tuple[int, ...]]:
    shapes = {}
    for name in ("query", "key", "value"):
        shapes.update(_linear(f"{prefix}.self.{name}", h, h))
    shapes.update(_linear(f"{prefix}.output.dense", h, h))
    shapes.update(_layer_norm(f"{prefix}.output.LayerNorm", h))
    return shapes


def bert_model_shapes(config: dict[str, Any], pooler: bool) -> dict[str, tuple[int, ...]]:
    """BertModel keys (no prefix): embeddings, encoder layers, optional pooler."""
    h, i = config["hidden_size"], config["intermediate_size"]
    shapes = {
        "embeddings.word_embeddings.weight": (config["vocab_size"], h),
        "embeddings.position_embeddings.weight": (config["max_position_embeddings"], h),
        "embeddings.token_type_embeddings.weight": (config["type_vocab_size"], h),
        **_layer_norm("embeddings.LayerNorm", h),
    }
    for n in range(config["num_hidden_layers"]):
        layer = f"encoder.layer.{n}"
        shapes.update(_attention(f"{layer}.attention", h))
        if config.get("add_cross_attention", False):
            shapes.update(_attention(f"{layer}.crossattention", h))
        shapes.update(_linear(f"{layer}.intermediate.dense", i, h))
        shapes.update(_linear(f"{layer}.output.dense", h, i))
        shapes.update(_layer_norm(f"{layer}.output.LayerNorm", h))
    if pooler:
        shapes.update(_linear("pooler.dense", h, h))
    return shapes


def head_shapes(head: str, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Saved-form HF state dict of a head: tied targets (``cls.predictions.decoder.*``) are left out."""
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; expected one of {HEADS}")
    base = bert_model_shapes(config, pooler=head not in NO_POOLER_HEADS)
    if head == "BertModel":
        return base
    shapes = {f"bert.{k}": v for k, v in base.items()}
    h, v = config["hidden_size"], config["vocab_size"]
    if head in MLM_HEADS:
        shapes.update(_linear("cls.predictions.transform.dense", h, h))
        shapes.update(_layer_norm("cls.predictions.transform.LayerNorm", h))
        shapes["cls.predictions.bias"] = (v,)
        if not config.get("tie_word_embeddings", True):
            shapes.update(_linear("cls.predictions.decoder", v, h))
    if head in NSP_HEADS:
        shapes.update(_linear("cls.seq_relationship", 2, h))
    n_labels = config.get("num_labels", 2)
    if head in ("BertForSequenceClassification", "BertForTokenClassification"):
        shapes.update(_linear("classifier", n_labels, h))
    if head == "BertForMultipleChoice":
        shapes.update(_linear("classifier", 1, h))
    if head == "BertForQuestionAnswering":
        shapes.update(_linear("qa_outputs", n_labels, h))
    return shapes


def random_weights(head: str, config: dict[str, Any], seed: int) -> dict[str, np.ndarray]:
    """Float64 weights drawn from ``numpy.random.default_rng(seed)``, keys in sorted order.

    Scales keep activations O(1) so that every nonlinearity, mask and LayerNorm eps shows in the outputs:
    every matrix (Linear and embedding) N(0, 1/columns), LayerNorm gamma 1 + N(0, 0.1^2), biases and LayerNorm
    beta N(0, 0.1^2): the scales of ``oracle.random_state_dict``, on which the spec's tolerances were checked.
    Nothing is zero (not even the padding row), so a port that silently drops a term is caught.
    Values are rounded to the float32 grid (stored as float64): a float32 port then loads exactly the same
    weights, so its error against the goldens is its arithmetic only, and a loader that builds the model in
    float32 before casting to float64 loses nothing.
    """
    rng = np.random.default_rng(seed)
    weights = {}
    for key, shape in sorted(head_shapes(head, config).items()):
        z = rng.standard_normal(shape)
        if "LayerNorm.weight" in key:
            weights[key] = 1.0 + 0.1 * z
        elif len(shape) == 2:
            weights[key] = z / np.sqrt(shape[1])
        else:
            weights[key] = 0.1 * z
    return {key: float32_grid(value) for key, value in weights.items()}


def float32_grid(values: np.ndarray) -> np.ndarray:
    """float64 values that are exactly representable in float32."""
    return np.asarray(values, dtype=np.float64).astype(np.float32).astype(np.float64)
