"""Bad ports written over transformers' BERT (not the reference), with bugs outside the catalogue.

They test the diagnosis on code it was not designed around: each is the built-in ``transformers`` port with
one patch of the loaded ``transformers.Bert*`` instance, and ``component`` is where its bug is (written from
the bug, not from what the probes say). None of them is a catalogue variant, so a diagnosis must never name
one. Select one as ``bert_conformance.diagnosis.hf_ports:<ClassName>`` (tests/test_diagnosis.py does).
Needs the ``transformers`` extra.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from bert_conformance.adapters._torch import TorchModel
from bert_conformance.adapters.hf import TransformersImplementation


class HFKnownBadPort(TransformersImplementation):
    """The transformers port with :meth:`patch` applied to every loaded model."""

    description = ""
    component = ""
    hard = False  # a bug the probe design cannot isolate (documented in docs/diagnosis.md)

    def load_model(self, head: str, config: dict[str, Any], state_dict: dict[str, np.ndarray], **kwargs: Any
                   ) -> TorchModel:
        model = super().load_model(head, config, state_dict, **kwargs)
        with torch.no_grad():
            self.patch(model.module, head)
        return model

    def patch(self, module: Any, head: str) -> None:
        raise NotImplementedError


def _of(module: Any, name: str) -> list[Any]:
    """Submodules of ``module`` whose class is transformers' ``name`` (e.g. "BertSelfAttention")."""
    return [m for m in module.modules() if type(m).__name__ == name]


class ValueBiasDropped(HFKnownBadPort):
    description = "the value projection's bias is never added"
    component = "attention.projections"

    def patch(self, module: Any, head: str) -> None:
        for attention in _of(module, "BertSelfAttention"):
            attention.value.bias.zero_()


class AttentionOutputBiasDropped(HFKnownBadPort):
    description = "the attention output projection's bias is never added"
    component = "attention.projections"

    def patch(self, module: Any, head: str) -> None:
        for output in _of(module, "BertSelfOutput"):
            output.dense.bias.zero_()


class IntermediateBiasDropped(HFKnownBadPort):
    description = "the feed-forward intermediate projection's bias is never added"
    component = "ffn.projections"

    def patch(self, module: Any, head: str) -> None:
        for intermediate in _of(module, "BertIntermediate"):
            intermediate.dense.bias.zero_()


class SiluForGelu(HFKnownBadPort):
    description = "the feed-forward activation is SiLU (x * sigmoid(x)) instead of GELU"
    component = "ffn.activation"

    def patch(self, module: Any, head: str) -> None:
        for intermediate in _of(module, "BertIntermediate"):
            intermediate.intermediate_act_fn = torch.nn.SiLU()


class GeluTwice(HFKnownBadPort):
    description = "the feed-forward activation is applied twice"
    component = "ffn.activation"

    def patch(self, module: Any, head: str) -> None:
        for intermediate in _of(module, "BertIntermediate"):
            act = intermediate.intermediate_act_fn
            intermediate.intermediate_act_fn = torch.nn.Sequential(act, act)


class PositionsReversed(HFKnownBadPort):
    description = "default position ids count down from the end of the sequence"
    component = "embeddings.position"

    def patch(self, module: Any, head: str) -> None:
        for embeddings in _of(module, "BertEmbeddings"):
            original = embeddings.forward

            def forward(input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                        cache_length=0, original=original):
                if position_ids is None:
                    seq = (input_ids if input_ids is not None else inputs_embeds).shape[1]
                    position_ids = torch.arange(seq - 1, -1, -1)[None, :] + cache_length
                return original(input_ids, token_type_ids, position_ids, inputs_embeds, cache_length)

            embeddings.forward = forward


class TokenTypesFlipped(HFKnownBadPort):
    description = "given token_type_ids are read as 1 - t (segment A and B swapped)"
    component = "embeddings.token_type"

    def patch(self, module: Any, head: str) -> None:
        for embeddings in _of(module, "BertEmbeddings"):
            original = embeddings.forward

            def forward(input_ids=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                        cache_length=0, original=original):
                if token_type_ids is not None:
                    token_type_ids = 1 - token_type_ids
                return original(input_ids, token_type_ids, position_ids, inputs_embeds, cache_length)

            embeddings.forward = forward


class EmbeddingsNormBiasDropped(HFKnownBadPort):
    description = "the embeddings' LayerNorm bias is never added"
    component = "embeddings.layer_norm"

    def patch(self, module: Any, head: str) -> None:
        for embeddings in _of(module, "BertEmbeddings"):
            embeddings.LayerNorm.bias.zero_()


class PoolerRelu(HFKnownBadPort):
    description = "the pooler's activation is ReLU instead of tanh"
    component = "pooler"

    def patch(self, module: Any, head: str) -> None:
        for pooler in _of(module, "BertPooler"):
            pooler.activation = torch.nn.ReLU()


class WeakMask(HFKnownBadPort):
    description = "padded keys get -1 added to their scores instead of a large negative value"
    component = "attention.mask"

    def patch(self, module: Any, head: str) -> None:
        for attention in _of(module, "BertSelfAttention"):
            original = attention.forward

            def forward(hidden_states, attention_mask=None, *args, original=original, **kwargs):
                if attention_mask is not None:
                    masked = ~attention_mask if attention_mask.dtype == torch.bool else attention_mask < -1
                    attention_mask = torch.where(masked, -1.0, 0.0).to(hidden_states.dtype)
                return original(hidden_states, attention_mask, *args, **kwargs)

            attention.forward = forward


class ClassifierWithoutPooler(HFKnownBadPort):
    description = "sequence classification reads the first token's state directly (no pooler dense and tanh)"
    component = "heads.sequence_classification"

    def patch(self, module: Any, head: str) -> None:
        if head == "BertForSequenceClassification":
            module.bert.pooler.forward = lambda hidden_states: hidden_states[:, 0]


class QaEndFromStart(HFKnownBadPort):
    description = "question answering uses the start column of qa_outputs for the end logits too"
    component = "heads.question_answering"

    def patch(self, module: Any, head: str) -> None:
        if head == "BertForQuestionAnswering":
            module.qa_outputs.weight[1] = module.qa_outputs.weight[0]
            module.qa_outputs.bias[1] = module.qa_outputs.bias[0]


class MlmTransformNormSkipped(HFKnownBadPort):
    description = "the masked-LM transform skips its LayerNorm"
    component = "heads.mlm.transform"

    def patch(self, module: Any, head: str) -> None:
        for transform in _of(module, "BertPredictionHeadTransform"):
            transform.LayerNorm = torch.nn.Identity()


class AttentionResidualDropped(HFKnownBadPort):
    description = "the attention block drops its residual: LayerNorm(W_o context) instead of LayerNorm(... + h)"
    component = "attention.residual"

    def patch(self, module: Any, head: str) -> None:
        for output in _of(module, "BertSelfOutput"):
            output.forward = lambda hidden_states, input_tensor, o=output: o.LayerNorm(o.dense(hidden_states))


class AttentionRmsNorm(HFKnownBadPort):
    description = "the attention block normalises with RMSNorm (no mean subtraction) instead of LayerNorm"
    component = "attention.layer_norm"

    def patch(self, module: Any, head: str) -> None:
        for output in _of(module, "BertSelfOutput"):
            output.LayerNorm = _RmsNorm(output.LayerNorm)


class _RmsNorm(torch.nn.Module):
    def __init__(self, norm: torch.nn.LayerNorm) -> None:
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = self.norm
        return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + n.eps) * n.weight + n.bias


class EncoderCausal(HFKnownBadPort):
    description = "the encoder's self-attention is causal although is_decoder is false"
    component = "attention.mask"

    def patch(self, module: Any, head: str) -> None:
        for attention in _of(module, "BertSelfAttention"):
            original = attention.forward

            def forward(hidden_states, attention_mask=None, *args, original=original, **kwargs):
                seq = hidden_states.shape[1]
                low = torch.finfo(hidden_states.dtype).min
                causal = torch.full((seq, seq), low, dtype=hidden_states.dtype).triu(1)
                if attention_mask is not None and attention_mask.dtype == torch.bool:
                    attention_mask = torch.where(attention_mask, 0.0, low).to(hidden_states.dtype)
                attention_mask = causal if attention_mask is None else (attention_mask + causal).clamp(min=low)
                return original(hidden_states, attention_mask.to(hidden_states.dtype), *args, **kwargs)

            attention.forward = forward


class LayersShareWeights(HFKnownBadPort):
    description = "every encoder layer runs with layer 0's weights (a loader that reads one layer prefix)"
    component = "encoder"

    def patch(self, module: Any, head: str) -> None:
        for encoder in _of(module, "BertEncoder"):
            first = encoder.layer[0].state_dict()
            for layer in encoder.layer[1:]:
                layer.load_state_dict(first)


PORTS: tuple[type[HFKnownBadPort], ...] = (
    ValueBiasDropped, AttentionOutputBiasDropped, IntermediateBiasDropped, SiluForGelu, GeluTwice,
    PositionsReversed, TokenTypesFlipped, EmbeddingsNormBiasDropped, PoolerRelu, WeakMask,
    ClassifierWithoutPooler, QaEndFromStart, MlmTransformNormSkipped, AttentionResidualDropped,
    AttentionRmsNorm, EncoderCausal, LayersShareWeights,
)
