"""Known-bad ports for conformance/clauses/test_numerics.py: the reference with ONE realistic numerical bug each.

The bugs are put into the weights or the config the reference is built with, so the reference's code (which
the oracle shares in this process) stays untouched.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bert_conformance.known_bad._base import KnownBadPort, entries, register, resolver


class AttentionScaleByHiddenSize(KnownBadPort):
    description = "attention scores are scaled by hidden_size ** -0.5 instead of head_dim ** -0.5"
    kills = ("numerics.float64.BertModel", "numerics.float32.BertModel", "numerics.float64.BertForMaskedLM")

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        # q k^T * hidden^-0.5 == (q / sqrt(heads)) k^T * head_dim^-0.5: scale the query projection instead.
        factor = np.float32(1 / np.sqrt(config.get("num_attention_heads", 12)))
        scaled = {k: (v * factor if ".attention.self.query." in k else v) for k, v in state_dict.items()}
        return super().load(head, config, scaled, **kwargs)


class LayerNormEpsFixed(KnownBadPort):
    description = "every LayerNorm uses eps 1e-5 whatever config.layer_norm_eps says"
    kills = ("numerics.float64.BertModel", "numerics.float64.BertForSequenceClassification")

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        return super().load(head, {**config, "layer_norm_eps": 1e-5}, state_dict, **kwargs)


class TokenTypeEmbeddingsDropped(KnownBadPort):
    description = "token_type_ids are accepted but their embeddings never added (a DistilBERT-style embedding)"
    kills = ("numerics.float64.BertModel", "numerics.float32.BertModel", "numerics.float16.BertModel",
             "numerics.bfloat16.BertModel")

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        dropped = {k: (np.zeros_like(v) if k.endswith("token_type_embeddings.weight") else v)
                   for k, v in state_dict.items()}
        return super().load(head, config, dropped, **kwargs)


MUTANTS = register("numerics", AttentionScaleByHiddenSize, LayerNormEpsFixed, TokenTypeEmbeddingsDropped)
PORTS = entries("numerics", *MUTANTS)
__getattr__ = resolver(MUTANTS)
