"""The pre-training and language-model heads (PreTraining, LMHeadModel, MaskedLM, NextSentencePrediction) and
`BertTaskModel`, the base of all eight heads (the four classifiers are in classifiers.py).

Each head takes transformers' arguments in transformers' order, then keyword-only `output_attentions`,
`output_hidden_states`, `return_dict` (transformers takes these through **kwargs). The MLM decoder weight and
bias are tied to the word embeddings and to `cls.predictions.bias` while config.tie_word_embeddings is True
(both are untied otherwise, as in transformers).
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import Tensor, nn

from . import losses
from .activations import ACT2FN
from .cache import Cache
from .config import BertConfig
from .model import BertModel, BertPreTrainedModel
from .outputs import (
    BertForPreTrainingOutput,
    CausalLMOutputWithCrossAttentions,
    MaskedLMOutput,
    NextSentencePredictorOutput,
)
from .validation import check_range, pop_cache_alias, reject_unknown_kwargs

# Tied target -> source (transformers' _tied_weights_keys): parameters.tied.decoder_weight and
# parameters.tied.decoder_bias.
_MLM_TIES = {
    "cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
    "cls.predictions.decoder.bias": "cls.predictions.bias",
}


class BertPredictionHeadTransform(nn.Module):
    """LayerNorm(act(W h)), before the vocabulary projection."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.transform_act_fn = ACT2FN[config.hidden_act]  # config.default.hidden_act
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, hidden_states: Tensor) -> Tensor:
        return self.LayerNorm(self.transform_act_fn(self.dense(hidden_states)))


class BertLMPredictionHead(nn.Module):
    """logits = transform(h) @ E^T + bias; `decoder` holds E and the bias (tied), `bias` is the bias.

    parameters.group.mlm_head; untied (config.tie_word_embeddings=False), the logits use `decoder.bias`.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.transform = BertPredictionHeadTransform(config)
        self.decoder = nn.Linear(config.hidden_size, config.vocab_size, bias=True)
        self.bias = nn.Parameter(torch.zeros(config.vocab_size))  # parameters.init.prediction_bias

    def forward(self, hidden_states: Tensor) -> Tensor:
        return self.decoder(self.transform(hidden_states))


class BertOnlyMLMHead(nn.Module):
    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.predictions = BertLMPredictionHead(config)

    def forward(self, sequence_output: Tensor) -> Tensor:
        return self.predictions(sequence_output)


class BertOnlyNSPHead(nn.Module):
    """Two logits from the pooled output; index 0 scores "B continues A" (labels.nsp.meaning)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.seq_relationship = nn.Linear(config.hidden_size, 2)  # parameters.group.seq_relationship

    def forward(self, pooled_output: Tensor) -> Tensor:
        return self.seq_relationship(pooled_output)


class BertPreTrainingHeads(nn.Module):
    """The MLM head on every position and the NSP head on the pooled output."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.predictions = BertLMPredictionHead(config)
        self.seq_relationship = nn.Linear(config.hidden_size, 2)  # parameters.group.seq_relationship

    def forward(self, sequence_output: Tensor, pooled_output: Tensor) -> tuple[Tensor, Tensor]:
        return self.predictions(sequence_output), self.seq_relationship(pooled_output)


class BertTaskModel(BertPreTrainedModel):
    """Base of the eight heads: a BertModel (`bert`) plus head modules.

    Initialised like transformers: `BertModel` initialises itself, then each head initialises its own modules
    with `_init_weights` and, with an MLM decoder, ties it (`tie_weights`). Without its label argument(s) a
    head computes no loss and its output has no `loss` field (heads.omitted.no_loss).
    """

    def tie_weights(self) -> None:
        """Make the MLM decoder's weight the word embeddings and its bias `cls.predictions.bias`: one tensor
        each, so both names share values and gradient (properties.weight_tying, gradients.*); only while
        config.tie_word_embeddings (config.behaviour.tie_word_embeddings.decoder_bias)."""
        if self._tied_weights_keys and self.config.tie_word_embeddings:
            predictions = self.cls.predictions
            predictions.decoder.weight = self.bert.embeddings.word_embeddings.weight
            predictions.decoder.bias = predictions.bias


class BertForPreTraining(BertTaskModel):
    """Masked LM + next sentence prediction; the loss needs both `labels` and `next_sentence_label`."""

    _tied_weights_keys = _MLM_TIES

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config)  # parameters.BertForPreTraining.keys: with pooler
        self.cls = BertPreTrainingHeads(config)
        self.cls.apply(self._init_weights)
        self.tie_weights()

    # heads.BertForPreTraining.signature
    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        labels: Tensor | None = None,
        next_sentence_label: Tensor | None = None,
        *,
        output_attentions: bool | None = None,
        output_hidden_states: bool | int | list[int] | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> BertForPreTrainingOutput | tuple:
        reject_unknown_kwargs(type(self).__name__ + ".forward", kwargs)
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        prediction_logits, seq_relationship_logits = self.cls(outputs.last_hidden_state, outputs.pooler_output)
        loss = None
        if labels is not None and next_sentence_label is not None:  # labels.pretraining.loss
            loss = losses.masked_lm_loss(prediction_logits, labels) + losses.next_sentence_loss(
                seq_relationship_logits, next_sentence_label, "next_sentence_label"
            )
        output = BertForPreTrainingOutput(loss, prediction_logits, seq_relationship_logits,
                                          outputs.hidden_states, outputs.attentions)
        return output if return_dict else output.to_tuple()


class BertLMHeadModel(BertTaskModel):
    """Causal LM (needs config.is_decoder=True to be causal); labels are shifted inside and disable the cache."""

    _tied_weights_keys = _MLM_TIES

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        if not config.is_decoder:
            warnings.warn("If you want to use `BertLMHeadModel` as a standalone, add `is_decoder=True.`", stacklevel=2)
        self.bert = BertModel(config, add_pooling_layer=False)  # parameters.BertLMHeadModel.keys: no pooler
        self.cls = BertOnlyMLMHead(config)
        self.cls.apply(self._init_weights)
        self.tie_weights()

    # heads.BertLMHeadModel.signature
    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        encoder_hidden_states: Tensor | None = None,
        encoder_attention_mask: Tensor | None = None,
        labels: Tensor | None = None,
        cache: Cache | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | Tensor = 0,
        *,
        output_attentions: bool | None = None,
        output_hidden_states: bool | int | list[int] | None = None,
        return_dict: bool | None = None,
        shift_labels: Tensor | None = None,
        num_items_in_batch: Tensor | int | None = None,
        **kwargs: Any,
    ) -> CausalLMOutputWithCrossAttentions | tuple:
        cache = pop_cache_alias(kwargs, cache)
        if shift_labels is not None and labels is None:  # transformers silently returns no loss here
            raise ValueError("shift_labels replaces the shifted labels but needs labels too (as in transformers)")
        if labels is not None:  # labels.lm.labels_disable_cache
            use_cache = False
        reject_unknown_kwargs(type(self).__name__ + ".forward", kwargs)
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=encoder_attention_mask,
            cache=cache,
            use_cache=use_cache,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        hidden_states = keep_positions(outputs.last_hidden_state, logits_to_keep)  # decoder.logits_to_keep
        logits = self.cls(hidden_states)
        loss = None
        if labels is not None:  # labels.lm.shift: shifted inside the loss
            if shift_labels is None and not _keeps_all(logits_to_keep, outputs.last_hidden_state.shape[1]):
                raise ValueError("labels need logits at every position: use logits_to_keep=0 "
                                 "(or pass shift_labels matching the kept logits)")
            loss = losses.causal_lm_loss(logits, labels, shift_labels=shift_labels,
                                         num_items_in_batch=num_items_in_batch)
        output = CausalLMOutputWithCrossAttentions(loss, logits, outputs.cache, outputs.hidden_states,
                                                   outputs.attentions, outputs.cross_attentions)
        return output if return_dict else output.to_tuple()


class BertForMaskedLM(BertTaskModel):
    """Masked LM: cross-entropy at every labelled position, no shift."""

    _tied_weights_keys = _MLM_TIES

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        if config.is_decoder:
            warnings.warn("If you want to use `BertForMaskedLM` make sure `config.is_decoder=False` for "
                          "bi-directional self-attention.", stacklevel=2)
        self.bert = BertModel(config, add_pooling_layer=False)  # parameters.BertForMaskedLM.keys: no pooler
        self.cls = BertOnlyMLMHead(config)
        self.cls.apply(self._init_weights)
        self.tie_weights()

    # heads.BertForMaskedLM.signature
    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        encoder_hidden_states: Tensor | None = None,
        encoder_attention_mask: Tensor | None = None,
        labels: Tensor | None = None,
        *,
        output_attentions: bool | None = None,
        output_hidden_states: bool | int | list[int] | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> MaskedLMOutput | tuple:
        reject_unknown_kwargs(type(self).__name__ + ".forward", kwargs)
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=encoder_attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.cls(outputs.last_hidden_state)
        loss = losses.masked_lm_loss(logits, labels) if labels is not None else None  # labels.mlm.loss
        output = MaskedLMOutput(loss, logits, outputs.hidden_states, outputs.attentions)
        return output if return_dict else output.to_tuple()


class BertForNextSentencePrediction(BertTaskModel):
    """logits [B, 2] from the pooled output; label 0 = B continues A, 1 = B is random (labels.nsp.meaning)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__(config)
        self.bert = BertModel(config)  # parameters.BertForNextSentencePrediction.keys: with pooler
        self.cls = BertOnlyNSPHead(config)
        self.cls.apply(self._init_weights)

    # heads.BertForNextSentencePrediction.signature
    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        labels: Tensor | None = None,
        *,
        output_attentions: bool | None = None,
        output_hidden_states: bool | int | list[int] | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> NextSentencePredictorOutput | tuple:
        reject_unknown_kwargs(type(self).__name__ + ".forward", kwargs)
        return_dict = self.config.return_dict if return_dict is None else return_dict
        outputs = self.bert(
            input_ids,
            attention_mask=attention_mask,
            token_type_ids=token_type_ids,
            position_ids=position_ids,
            inputs_embeds=inputs_embeds,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
        )
        logits = self.cls(outputs.pooler_output)
        loss = losses.next_sentence_loss(logits, labels) if labels is not None else None  # labels.nsp.loss
        output = NextSentencePredictorOutput(loss, logits, outputs.hidden_states, outputs.attentions)
        return output if return_dict else output.to_tuple()


# --- helpers ---------------------------------------------------------------------------------------------


def keep_positions(hidden_states: Tensor, logits_to_keep: int | Tensor) -> Tensor:
    """transformers' slice_logits_to_keep: 0 = all (heads.omitted.keep_all), int n = last n, 1-D tensor =
    those positions, 2-D int [B, K] = per-row positions, 2-D bool [B, L] = the True positions (flattened to
    [N, H])."""
    seq_len = hidden_states.shape[1]
    if isinstance(logits_to_keep, bool) or not isinstance(logits_to_keep, (int, Tensor)):
        raise ValueError(f"logits_to_keep must be an int or a tensor, got {logits_to_keep!r}")
    if isinstance(logits_to_keep, int):
        if logits_to_keep < 0:
            raise ValueError(f"logits_to_keep must be >= 0 (0 keeps all positions), got {logits_to_keep}")
        return hidden_states[:, -logits_to_keep:] if logits_to_keep else hidden_states
    keep = logits_to_keep
    if keep.dim() == 2 and keep.dtype == torch.bool:
        if tuple(keep.shape) != tuple(hidden_states.shape[:2]):
            raise ValueError(f"a boolean logits_to_keep must have shape {list(hidden_states.shape[:2])}")
        return hidden_states[keep]
    if keep.dim() not in (1, 2) or keep.dtype.is_floating_point or keep.dtype == torch.bool:
        raise ValueError("logits_to_keep tensor must be 1-D integer positions, 2-D [batch, K] integer positions "
                         f"or a 2-D boolean [batch, seq_len] mask; got {keep.dtype} {list(keep.shape)}")
    check_range("logits_to_keep", keep, -seq_len, seq_len)
    if keep.dim() == 1:
        return hidden_states[:, keep]
    if keep.shape[0] != hidden_states.shape[0]:
        raise ValueError(f"logits_to_keep [batch, K] must have batch {hidden_states.shape[0]}, got {keep.shape[0]}")
    return torch.take_along_dim(hidden_states, (keep % seq_len)[..., None], dim=1)


def _keeps_all(logits_to_keep: int | Tensor, seq_len: int) -> bool:
    """Whether `logits_to_keep` keeps every position (the causal LM loss needs them all)."""
    return isinstance(logits_to_keep, int) and (logits_to_keep == 0 or logits_to_keep >= seq_len)
