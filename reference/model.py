"""BERT: embeddings, attention, post-LN layers, encoder, pooler and BertModel (transformers v5 modeling_bert.py).

Module and parameter names are transformers' so `state_dict()` keys are its keys (parameters.group.embeddings,
parameters.group.encoder_layer, parameters.group.cross_attention, parameters.group.pooler).

Read top to bottom:

    E = LayerNorm(word[ids] + token_type[tt] + position[pos])          pos = past .. past+L-1, tt = 0 by default
    per layer:  a = LayerNorm(Wo attention(h) + h)
                a = LayerNorm(Wx cross_attention(a, encoder) + a)       decoder with encoder_hidden_states only
                h = LayerNorm(W2 act(W1 a) + a)
    pooled = tanh(Wp h[:, 0])

Where the reference deliberately differs from transformers 5.24 (each is also documented where it is made):
- `output_attentions=True` with sdpa returns the real attention weights (that call takes the eager path);
  transformers returns an empty tuple.
- Fully masked query rows get uniform weights with eager and sdpa, in every dtype, never NaN (attention.py);
  transformers' sdpa returns zeros there on CPU.
- A 4-D bool mask means "True attends" with both paths; transformers' eager path adds it to the scores.
- Bad inputs raise ValueError naming the argument (validation.py, losses.py), e.g. ids outside the vocabulary,
  int32 labels, a cache given to an encoder, a mask not covering past + current tokens
  (heads.unspecified.error_types).
- `head_mask` is accepted and ignored with a warning (transformers: silently); other unknown keyword
  arguments raise TypeError.
- The causal LM loss of a float64 model stays float64 (transformers casts logits to float32).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from .activations import ACT2FN
from .attention import AttentionMask, attend, cross_attention_mask, self_attention_mask
from .cache import Cache
from .checkpoint import CheckpointMixin
from .config import BertConfig
from .outputs import BaseModelOutputWithPoolingAndCrossAttentions
from .validation import check_model_inputs, pop_cache_alias, reject_unknown_kwargs


class BertEmbeddings(nn.Module):
    """word + token_type + position embeddings (summed in that order), LayerNorm, dropout.

    heads.common.embeddings. No `position_ids` / `token_type_ids` buffers: the defaults are slices of the
    weights, so the state dict has no such keys (parameters.buffers.position_ids,
    parameters.buffers.token_type_ids).
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        # config.behaviour.pad_token_id.padding_idx: the pad row starts at 0, gets no gradient, masks nothing.
        self.word_embeddings = nn.Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = nn.Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(
        self,
        input_ids: Tensor | None,
        token_type_ids: Tensor | None,
        position_ids: Tensor | None,
        inputs_embeds: Tensor | None,
        past_length: int = 0,
    ) -> Tensor:
        if inputs_embeds is None:  # heads.common.inputs_embeds_equivalence
            inputs_embeds = self.word_embeddings(input_ids)
        seq_len = inputs_embeds.shape[1]
        # Defaults as rows broadcast over the batch: token type 0, positions past .. past+L-1.
        if token_type_ids is None:  # heads.omitted.zeros, properties.token_type_ids.omitted
            token_type = self.token_type_embeddings.weight[0]
        else:
            token_type = self.token_type_embeddings(token_type_ids)
        # heads.omitted.arange_past_offset, properties.position_ids.omitted; after a cache
        # (decoder.cache.position_offset, heads.common.cache_position_offset).
        if position_ids is None:
            position = self.position_embeddings.weight[past_length : past_length + seq_len]
        else:
            position = self.position_embeddings(position_ids)
        embeddings = inputs_embeds + token_type
        embeddings = embeddings + position
        return self.dropout(self.LayerNorm(embeddings))


class BertSelfAttention(nn.Module):
    """Multi-head self-attention: query/key/value projections; keys/values appended to the cache if given."""

    def __init__(self, config: BertConfig, layer_idx: int) -> None:
        super().__init__()
        self.config = config
        self.layer_idx = layer_idx
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.hidden_size // config.num_attention_heads  # config.derived.head_dim
        self.scaling = self.attention_head_size**-0.5  # the scores are scaled by 1 / sqrt(head_dim)
        self.query = nn.Linear(config.hidden_size, config.hidden_size)
        self.key = nn.Linear(config.hidden_size, config.hidden_size)
        self.value = nn.Linear(config.hidden_size, config.hidden_size)
        self.dropout = nn.Dropout(config.attention_probs_dropout_prob)

    def split_heads(self, x: Tensor) -> Tensor:
        """[B, L, H] -> [B, A, L, D] (a view, no copy)."""
        return x.view(*x.shape[:-1], self.num_attention_heads, self.attention_head_size).transpose(1, 2)

    def merge_heads(self, x: Tensor) -> Tensor:
        """[B, A, L, D] -> [B, L, H]."""
        return x.transpose(1, 2).reshape(*x.shape[:1], x.shape[2], -1)

    def attend(
        self, query: Tensor, key: Tensor, value: Tensor, mask: AttentionMask, need_weights: bool
    ) -> tuple[Tensor, Tensor | None]:
        """Attention of [B, A, L, D] heads; returns the merged context [B, L, H] and the weights or None."""
        context, weights = attend(
            query, key, value, mask,
            scaling=self.scaling,
            # Dropout only in training mode (properties.eval.no_dropout, properties.eval.deterministic,
            # heads.common.eval_deterministic).
            dropout_p=self.dropout.p if self.training else 0.0,
            implementation=self.config.attn_implementation,
            need_weights=need_weights,
        )
        return self.merge_heads(context), weights

    def forward(
        self, hidden_states: Tensor, mask: AttentionMask, cache: Cache | None = None, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """Returns the context [B, L, H] (before the output projection) and the weights or None."""
        query = self.split_heads(self.query(hidden_states))
        key = self.split_heads(self.key(hidden_states))
        value = self.split_heads(self.value(hidden_states))
        if cache is not None:  # decoder.cache.equivalence: the cached keys/values followed by this call's
            key, value = cache.update(key, value, self.layer_idx)
        return self.attend(query, key, value, mask, need_weights)


class BertCrossAttention(BertSelfAttention):
    """Attention from decoder queries to encoder keys/values; with a cache these are computed once and reused."""

    def forward(  # type: ignore[override]
        self,
        hidden_states: Tensor,
        encoder_hidden_states: Tensor,
        mask: AttentionMask,
        cache: Cache | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Queries from the decoder's hidden states, keys/values from the encoder's (or the cache)."""
        query = self.split_heads(self.query(hidden_states))
        # decoder.cross_attention.cache_reuse: the first cached call computes them, later calls reuse them.
        stored = cache.get_cross(self.layer_idx) if cache is not None else None
        if stored is not None:
            key, value = stored.keys, stored.values
        else:
            key = self.split_heads(self.key(encoder_hidden_states))
            value = self.split_heads(self.value(encoder_hidden_states))
            if cache is not None:
                cache.set_cross(key, value, self.layer_idx)
        return self.attend(query, key, value, mask, need_weights)


class BertSelfOutput(nn.Module):
    """Post-LN: LayerNorm(dropout(W context) + residual)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: Tensor, input_tensor: Tensor) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + input_tensor)


class BertAttention(nn.Module):
    """Attention (`self`) followed by its output projection, residual and LayerNorm (`output`).

    Self-attention attends over `hidden_states` (and the cache); cross-attention (`is_cross_attention`) over
    `encoder_hidden_states`, with `mask` then the encoder mask.
    """

    def __init__(self, config: BertConfig, layer_idx: int, is_cross_attention: bool = False) -> None:
        super().__init__()
        self.is_cross_attention = is_cross_attention
        attention_class = BertCrossAttention if is_cross_attention else BertSelfAttention
        self.self = attention_class(config, layer_idx)
        self.output = BertSelfOutput(config)

    def forward(
        self,
        hidden_states: Tensor,
        mask: AttentionMask,
        encoder_hidden_states: Tensor | None = None,
        cache: Cache | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Returns the block's output [B, L, H] and the attention weights (None unless `need_weights`)."""
        if self.is_cross_attention:
            context, weights = self.self(
                hidden_states, encoder_hidden_states, mask, cache=cache, need_weights=need_weights
            )
        else:
            context, weights = self.self(hidden_states, mask, cache=cache, need_weights=need_weights)
        return self.output(context, hidden_states), weights


class BertIntermediate(nn.Module):
    """act(W1 a): the feed-forward's inner layer."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.intermediate_size)
        self.intermediate_act_fn = ACT2FN[config.hidden_act]  # config.default.hidden_act, config.hidden_act.*

    def forward(self, hidden_states: Tensor) -> Tensor:
        return self.intermediate_act_fn(self.dense(hidden_states))


class BertOutput(nn.Module):
    """Post-LN: LayerNorm(dropout(W2 x) + residual), the feed-forward's output."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.intermediate_size, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, hidden_states: Tensor, input_tensor: Tensor) -> Tensor:
        return self.LayerNorm(self.dropout(self.dense(hidden_states)) + input_tensor)


class BertLayer(nn.Module):
    """Post-LN transformer layer: self-attention, [cross-attention], feed-forward (optionally chunked)."""

    def __init__(self, config: BertConfig, layer_idx: int) -> None:
        super().__init__()
        self.chunk_size_feed_forward = config.chunk_size_feed_forward
        self.attention = BertAttention(config, layer_idx)
        if config.add_cross_attention:  # config.behaviour.add_cross_attention.layers
            if not config.is_decoder:  # config.constraint.cross_attention_requires_decoder
                raise ValueError("config.add_cross_attention=True needs config.is_decoder=True")
            self.crossattention = BertAttention(config, layer_idx, is_cross_attention=True)
        self.intermediate = BertIntermediate(config)
        self.output = BertOutput(config)

    def forward(
        self,
        hidden_states: Tensor,
        mask: AttentionMask,
        encoder_hidden_states: Tensor | None = None,
        encoder_mask: AttentionMask | None = None,
        cache: Cache | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None, Tensor | None]:
        """Returns the layer output and the self- and cross-attention weights (None when not computed)."""
        attention_output, self_weights = self.attention(
            hidden_states, mask, cache=cache, need_weights=need_weights
        )
        cross_weights = None
        if encoder_hidden_states is not None:  # heads.omitted.no_cross_attention
            attention_output, cross_weights = self.crossattention(
                attention_output, encoder_mask, encoder_hidden_states=encoder_hidden_states, cache=cache,
                need_weights=need_weights,
            )
        return self.feed_forward(attention_output), self_weights, cross_weights

    def feed_forward(self, attention_output: Tensor) -> Tensor:
        """The feed-forward block, on chunks of positions if config.chunk_size_feed_forward > 0 (same result:
        config.behaviour.chunk_size_feed_forward.equivalent)."""
        chunk = self.chunk_size_feed_forward
        if chunk == 0:
            return self.feed_forward_chunk(attention_output)
        if attention_output.shape[1] % chunk != 0:  # transformers' apply_chunking_to_forward raises too
            raise ValueError(
                f"sequence length {attention_output.shape[1]} is not a multiple of chunk_size_feed_forward {chunk}"
            )
        chunks = attention_output.split(chunk, dim=1)
        return torch.cat([self.feed_forward_chunk(part) for part in chunks], dim=1)

    def feed_forward_chunk(self, attention_output: Tensor) -> Tensor:
        return self.output(self.intermediate(attention_output), attention_output)


class BertEncoder(nn.Module):
    """The stack of config.num_hidden_layers layers."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList([BertLayer(config, i) for i in range(config.num_hidden_layers)])

    def forward(
        self,
        hidden_states: Tensor,
        mask: AttentionMask,
        encoder_hidden_states: Tensor | None,
        encoder_mask: AttentionMask | None,
        cache: Cache | None,
        need_weights: bool,
        keep_hidden: bool,
    ) -> tuple[Tensor, list[Tensor] | None, list[Tensor], list[Tensor]]:
        """Returns the last hidden state, all hidden states if `keep_hidden` (embeddings first:
        heads.common.hidden_states), and the self- and cross-attention weights of each layer if `need_weights`
        (heads.common.attentions)."""
        all_hidden = [hidden_states] if keep_hidden else None
        all_self, all_cross = [], []
        for layer in self.layer:
            hidden_states, self_weights, cross_weights = layer(
                hidden_states, mask, encoder_hidden_states=encoder_hidden_states, encoder_mask=encoder_mask,
                cache=cache, need_weights=need_weights,
            )
            if all_hidden is not None:
                all_hidden.append(hidden_states)
            if need_weights:
                all_self.append(self_weights)
                if cross_weights is not None:
                    all_cross.append(cross_weights)
        return hidden_states, all_hidden, all_self, all_cross


class BertPooler(nn.Module):
    """tanh(W h[:, 0]): the first token, whatever it is; no masking (heads.common.pooler_first_token; a padded
    first token gives a value the spec leaves open: heads.unspecified.pooler_padded_first_token)."""

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.activation = nn.Tanh()

    def forward(self, hidden_states: Tensor) -> Tensor:
        return self.activation(self.dense(hidden_states[:, 0]))


class BertPreTrainedModel(CheckpointMixin, nn.Module):
    """Shared by BertModel and the heads: config, weight init, attention switch, checkpoint I/O."""

    base_model_prefix = "bert"  # parameters.prefix: a head's BertModel is `bert`, its keys start with "bert."
    _tied_weights_keys: dict[str, str] = {}  # target name -> source name (transformers' convention)

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        if not isinstance(config, BertConfig):
            raise ValueError(f"config must be a bert_reference.BertConfig, got {type(config).__name__}")
        config.validate()
        self.config = config

    def _init_weights(self, module: nn.Module) -> None:
        """transformers' _init_weights: N(0, initializer_range) weights, zero biases, padding row 0, LN 1/0."""
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):  # parameters.init.linear
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):  # parameters.init.embedding
            nn.init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None:
                with torch.no_grad():
                    module.weight[module.padding_idx].zero_()
        elif isinstance(module, nn.LayerNorm):  # parameters.init.layernorm
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    def set_attn_implementation(self, attn_implementation: str) -> None:
        """Switch between "eager" and "sdpa" (the default); stored in the config the modules share."""
        if attn_implementation not in ("eager", "sdpa"):
            raise ValueError(f"attn_implementation must be 'eager' or 'sdpa', got {attn_implementation!r}")
        self.config.attn_implementation = attn_implementation


class BertModel(BertPreTrainedModel):
    """The bare encoder (or decoder, with config.is_decoder) returning hidden states and the pooled output."""

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True) -> None:
        super().__init__(config)
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None  # parameters.BertModel.keys
        self.apply(self._init_weights)

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embeddings.word_embeddings

    def forward(
        self,
        input_ids: Tensor | None = None,
        attention_mask: Tensor | None = None,
        token_type_ids: Tensor | None = None,
        position_ids: Tensor | None = None,
        inputs_embeds: Tensor | None = None,
        encoder_hidden_states: Tensor | None = None,
        encoder_attention_mask: Tensor | None = None,
        cache: Cache | None = None,
        use_cache: bool | None = None,
        *,
        output_attentions: bool | None = None,
        output_hidden_states: bool | int | list[int] | None = None,
        return_dict: bool | None = None,
        **kwargs: Any,
    ) -> BaseModelOutputWithPoolingAndCrossAttentions | tuple:
        """heads.BertModel.signature: transformers' arguments; `past_key_values` is accepted as `cache`."""
        cache = pop_cache_alias(kwargs, cache)
        reject_unknown_kwargs(type(self).__name__ + ".forward", kwargs)
        config = self.config
        # Explicit arguments win over the config (transformers' precedence): heads.kwargs.output_attentions,
        # heads.kwargs.output_hidden_states, heads.kwargs.return_dict.
        output_attentions = config.output_attentions if output_attentions is None else output_attentions
        if output_hidden_states is None:
            output_hidden_states = config.output_hidden_states
        return_dict = config.return_dict if return_dict is None else return_dict
        dtype = self.embeddings.word_embeddings.weight.dtype
        _, seq_len, past_len = check_model_inputs(
            config, input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
            position_ids=position_ids, inputs_embeds=inputs_embeds, encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=encoder_attention_mask, cache=cache, dtype=dtype,
        )
        # The cache is a decoder feature: an encoder never returns one, whatever use_cache says
        # (config.behaviour.use_cache.decoder_only, heads.omitted.config_use_cache,
        # decoder.cache.encoder_no_cache, heads.common.no_cache_for_encoders).
        use_cache = (config.use_cache if use_cache is None else use_cache) and config.is_decoder
        if use_cache and cache is None:  # heads.omitted.new_cache
            cache = Cache()

        embedding_output = self.embeddings(input_ids, token_type_ids, position_ids, inputs_embeds, past_len)
        device = embedding_output.device
        # heads.common.packed_sequences (transformers >= 5.25): position_ids without an attention_mask (and no
        # cache) may pack several sequences.
        packed_by = position_ids if attention_mask is None and cache is None else None
        mask = self_attention_mask(
            attention_mask, q_len=seq_len, past_len=past_len,
            causal=config.is_decoder,  # config.behaviour.is_decoder.causal
            device=device, packed_position_ids=packed_by,
        )
        encoder_mask = cross_attention_mask(encoder_attention_mask, device=device)
        # As in transformers, a falsy output_hidden_states (0, []) selects nothing, not hidden state 0.
        sequence_output, all_hidden, all_self, all_cross = self.encoder(
            embedding_output, mask,
            encoder_hidden_states=encoder_hidden_states,
            encoder_mask=encoder_mask,
            cache=cache,
            # Real weights with sdpa too (deliberately: config.behaviour.output_attentions.eager_only).
            need_weights=output_attentions,
            keep_hidden=bool(output_hidden_states),
        )
        output = BaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=sequence_output,
            pooler_output=self.pooler(sequence_output) if self.pooler is not None else None,
            hidden_states=select_hidden_states(all_hidden, output_hidden_states) if all_hidden else None,
            cache=cache if use_cache else None,
            attentions=tuple(all_self) if output_attentions else None,
            # Empty when no cross-attention ran (encoder, or decoder without encoder states), as in
            # transformers (heads.unspecified.cross_attentions_without_cross_attention).
            cross_attentions=tuple(all_cross) if output_attentions else None,
        )
        return output if return_dict else output.to_tuple()  # config.behaviour.return_dict.tuple


# --- helpers ---------------------------------------------------------------------------------------------


def select_hidden_states(hidden_states: list[Tensor], selection: bool | int | list[int]) -> tuple:
    """transformers' output_hidden_states: True for all, or indices (negatives allowed); others become None
    (heads.kwargs.output_hidden_states)."""
    if selection is True:
        return tuple(hidden_states)
    count = len(hidden_states)
    wanted = {i % count for i in ([selection] if isinstance(selection, int) else selection) if -count <= i < count}
    return tuple(h if i in wanted else None for i, h in enumerate(hidden_states))
