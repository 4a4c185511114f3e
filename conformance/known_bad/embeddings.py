"""Embedding bugs: token types and the embedding LayerNorm.

(Position-id bugs are in ``properties`` (omitted positions from 1) and ``decoder`` (positions restarting at 0
after a cache).)
"""

from __future__ import annotations

from typing import Any

import torch

from bert_conformance.known_bad._base import (
    KnownBad,
    anchor,
    instances,
    register,
    resolver,
    set_attribute,
    wrap_method,
)
from bert_conformance.known_bad.probe import Probe
from bert_reference import model as ref_model

EMBEDDINGS_FORWARD = ("input_ids", "token_type_ids", "position_ids", "inputs_embeds", "past_length")


class TokenTypesIgnored(KnownBad):
    description = "token_type_ids are ignored: every token gets the type-0 embedding"
    kills = ("core.forward.last_hidden_state", "numerics.float64.BertModel",
             "golden.model.type_vocab_4-float64", "golden.model.small-float64", "heads.common.embeddings")
    probe = Probe()

    def mutate(self, module: Any, config: dict) -> None:
        for embeddings in instances(module, anchor(ref_model, "BertEmbeddings")):
            wrap_method(embeddings, "forward", lambda original: (
                lambda input_ids, token_type_ids, position_ids, inputs_embeds, past_length=0: original(
                    input_ids, None, position_ids, inputs_embeds, past_length)), params=EMBEDDINGS_FORWARD)


class LayerNormSkipped(KnownBad):
    description = "the embeddings skip their LayerNorm: word + position + token type go straight to layer 0"
    kills = ("core.forward.last_hidden_state", "numerics.float64.BertModel", "golden.model.tiny-float64",
             "heads.common.embeddings")
    probe = Probe()

    def mutate(self, module: Any, config: dict) -> None:
        for embeddings in instances(module, anchor(ref_model, "BertEmbeddings")):
            set_attribute(embeddings, "LayerNorm", torch.nn.Identity())


MUTANTS = register("embeddings", TokenTypesIgnored, LayerNormSkipped)
__getattr__ = resolver(MUTANTS)
