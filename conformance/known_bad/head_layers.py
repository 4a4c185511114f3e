"""Bugs in the layers on top of the encoder: the pooler, the masked-LM transform, QA start/end, ignore_index.

(Loss and label conventions of every head are in ``labels``; next-sentence meaning, multiple-choice
reshape order, QA clamping, problem_type inference and the LM shifts among them.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from bert_conformance.known_bad._base import (
    KnownBad,
    KnownBadError,
    KnownBadPort,
    Model,
    anchor,
    instances,
    register,
    resolver,
    set_attribute,
    with_loss,
)
from bert_conformance.known_bad.probe import Probe
from bert_reference import heads as ref_heads
from bert_reference import model as ref_model

TOKEN_HEADS = ("BertForMaskedLM", "BertForTokenClassification")


class PoolerNoTanh(KnownBad):
    description = "the pooler drops its tanh: pooled = W h[:, 0] + b"
    kills = ("core.forward.pooler_output", "numerics.float64.BertModel", "golden.model.tiny-float64",
             "heads.common.pooler_first_token")
    probe = Probe()

    def mutate(self, module: Any, config: dict) -> None:
        for pooler in instances(module, anchor(ref_model, "BertPooler")):
            set_attribute(pooler, "activation", torch.nn.Identity())


class PoolerMeanOfTokens(KnownBad):
    description = "the pooler averages every position (sentence-embedding style) instead of taking [CLS]"
    kills = ("core.forward.pooler_output", "numerics.float64.BertModel", "golden.model.tiny-float64",
             "heads.common.pooler_first_token")
    probe = Probe()

    def mutate(self, module: Any, config: dict) -> None:
        for pooler in instances(module, anchor(ref_model, "BertPooler")):
            dense, activation = anchor(pooler, "dense"), anchor(pooler, "activation")
            anchor(pooler, "forward", params=("hidden_states",))
            set_attribute(pooler, "forward", lambda hidden_states, d=dense, a=activation: a(d(hidden_states.mean(1))))


class MlmTransformSkipped(KnownBad):
    description = "the masked-LM head skips its transform (dense, activation, LayerNorm) before the decoder"
    kills = ("numerics.float64.BertForMaskedLM", "golden.masked_lm.labels-float64")
    probe = Probe(head="BertForMaskedLM")

    def mutate(self, module: Any, config: dict) -> None:
        for head in instances(module, anchor(ref_heads, "BertLMPredictionHead")):
            set_attribute(head, "transform", torch.nn.Identity())


class QaStartEndSwapped(KnownBad):
    description = "question answering splits qa_outputs as (end, start) instead of (start, end)"
    kills = ("numerics.float64.BertForQuestionAnswering", "golden.question_answering.positions-float64")
    probe = Probe(head="BertForQuestionAnswering")

    def mutate(self, module: Any, config: dict) -> None:
        if type(module).__name__ != "BertForQuestionAnswering":
            return
        linear = anchor(module, "qa_outputs")
        if linear.out_features != 2:
            raise KnownBadError(f"qa_outputs has {linear.out_features} outputs, expected 2")
        with torch.no_grad():  # the same as unpacking the two logit columns the wrong way round
            linear.weight.copy_(linear.weight.flip(0))
            linear.bias.copy_(linear.bias.flip(0))


class IgnoreIndexMinusOne(KnownBadPort):
    description = "token-level losses use ignore_index -1 (pytorch-pretrained-bert's convention), not -100"
    kills = ("labels.ignore_index-BertForMaskedLM", "labels.ignore_index-BertForTokenClassification",
             "golden.masked_lm.labels-float64")
    probe = Probe(head="BertForMaskedLM", labels=True)
    probe_raises = True  # torch's cross_entropy rejects the label -100 it no longer ignores

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        if model.head not in TOKEN_HEADS or "labels" not in inputs:
            return model.inner.forward(inputs, **options)
        labels = torch.from_numpy(np.asarray(inputs.pop("labels"))).reshape(-1)
        outputs = model.inner.forward(inputs, **options)
        logits = torch.from_numpy(np.asarray(outputs["logits"], dtype=np.float64))
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels, ignore_index=-1)
        return with_loss(outputs, float(loss), outputs["logits"])


MUTANTS = register(
    "head_layers",
    PoolerNoTanh,
    PoolerMeanOfTokens,
    MlmTransformSkipped,
    QaStartEndSwapped,
    IgnoreIndexMinusOne,
)
__getattr__ = resolver(MUTANTS)
