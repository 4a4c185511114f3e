"""Ground truth for the known-bad corpus: which component each port's bug is in, as data.

Labels are read from each port's one-line description (``bert_conformance.known_bad``), written down here once,
independently of what the probes find: the test compares the engine with them. ``None`` is out of scope,
with the reason in :data:`OUT_OF_SCOPE_AREAS` or :data:`OUT_OF_SCOPE`: a forward-only diagnosis of a
model's numbers cannot see a bug in the tokenizer, the data helpers, config validation, checkpoint-key
handling, gradients, the key/value cache, float16, or an error that the port should raise but does not.
"""

from __future__ import annotations

COMPONENTS: dict[str, str] = {
    "embeddings.token_types_ignored": "embeddings.token_type",
    "embeddings.layer_norm_skipped": "embeddings.layer_norm",
    "attention.scale_missing": "attention.scaling",
    "attention.scale_one_over_d": "attention.scaling",
    "attention.mask_polarity_inverted": "attention.mask",
    "attention.mask_on_query_axis": "attention.mask",
    "attention.packing_ignored": "attention.mask",
    "attention.packing_despite_mask": "attention.mask",
    "attention.heads_transposed": "attention.head_split",
    "attention.softmax_over_queries": "attention.softmax",
    "attention.causal_off_by_one": "attention.causal_mask",
    "attention.cross_attention_uses_self_keys": "attention.cross",
    "layer.layer_norm_eps_1e-5": "layer_norm",
    "layer.layer_norm_eps_1e-7": "layer_norm",
    "layer.layer_norm_eps_ignored": "layer_norm",
    "layer.layer_norm_unbiased": "layer_norm",
    "layer.gelu_tanh": "ffn.activation",
    "layer.gelu_polynomial": "ffn.activation",
    "layer.hidden_act_ignored": "ffn.activation",
    "layer.ffn_residual_dropped": "ffn.residual",
    "head_layers.pooler_no_tanh": "pooler",
    "head_layers.pooler_mean_of_tokens": "pooler",
    "head_layers.mlm_transform_skipped": "heads.mlm.transform",
    "head_layers.qa_start_end_swapped": "heads.question_answering",
    "head_layers.ignore_index_minus_one": "loss.masked_lm",
    "weights.decoder_weight_untied": "heads.mlm.decoder",
    "weights.layer_norm_names_non_strict": "embeddings.layer_norm",
    "dtype.float32_inside": "dtype.precision",
    "dtype.returns_float32": "contract",
    "core.capabilities_head_typo": "contract",
    "core.load_model_without_attention": "contract",
    "config.gelu_tanh": "ffn.activation",
    "config.untied_logits_use_prediction_bias": "heads.mlm.decoder",
    "config.head_dim_from_hidden_size": "attention.scaling",
    "heads.hidden_states_without_embeddings": "outputs.hidden_states",
    "heads.pooler_last_token": "pooler",
    "heads.scaled_inputs_embeds": "embeddings.inputs_embeds",
    "heads.attentions_heads_last": "outputs.attentions",
    "parameters.positions_from_one": "embeddings.position",
    "numerics.attention_scale_by_hidden_size": "attention.scaling",
    "numerics.layer_norm_eps_fixed": "layer_norm",
    "numerics.token_type_embeddings_dropped": "embeddings.token_type",
    "labels.mlm_loss_shifted": "loss.masked_lm",
    "labels.lm_loss_unshifted": "loss.causal_lm",
    "labels.token_loss_uses_mask": "loss.token_classification",
    "labels.mean_over_all_positions": "loss.masked_lm",
    "labels.nsp_labels_swapped": "loss.next_sentence",
    "labels.pretraining_loss_with_one_label": "loss.pretraining",
    "labels.regression_no_squeeze": "loss.sequence_classification",
    "labels.multiple_choice_column_major": "heads.multiple_choice",
    "labels.qa_negative_ignored": "loss.question_answering",
    "labels.qa_loss_not_halved": "loss.question_answering",
    "labels.all_ignored_gives_zero": "loss.masked_lm",
    "labels.loss_not_scalar": "loss.masked_lm",
    "properties.ignores_attention_mask": "attention.mask",
    "properties.mask_skipped_when_first_row_full": "attention.mask",
    "properties.mask_equals_one": "attention.mask",
    "properties.float_mask_additive": "attention.mask",
    "properties.omitted_token_types_add_nothing": "embeddings.token_type",
    "properties.positions_from_one": "embeddings.position",
    "properties.sdpa_ignores_padding": "attention.mask",
    "properties.dropout_in_eval": "model.eval_mode",
    "properties.prediction_bias_added_twice": "heads.mlm.decoder",
    "properties.decoder_bias_not_tied": "heads.mlm.decoder",
    "decoder.not_causal": "attention.causal_mask",
    "decoder.lm_head_always_causal": "heads.causal_lm",
    "decoder.cross_mask_ignored": "attention.cross",
    "decoder.cross_mask_from_decoder_mask": "attention.cross",
    "surface.core_only_eps_ignored": "layer_norm",
    "surface.core_only_gelu_tanh": "ffn.activation",
    "surface.declared_position_ids_raise": "embeddings.position",
    "surface.declared_hidden_states_missing": "outputs.hidden_states",
    "hostile.mask_ones_in_place": "attention.mask",
}

OUT_OF_SCOPE_AREAS: dict[str, str] = {
    "tokenizer": "a tokenizer bug: no model call shows it (the tokenizer clauses and their golden cases do)",
    "data": "a data-helper bug (mask_tokens / make_nsp_pairs): statistical, not a model output",
    "gradients": "a backward-pass bug: the probes run forward only",
    "cache": "a key/value-cache bug: needs several cached calls of a decoder",
    "device": "a CUDA-only bug: the probes run on the CPU",
    "tiers": "a quantized (int8 tier) port: its outputs differ from BERT's everywhere by design, and the probes "
             "compare element by element",
}

OUT_OF_SCOPE: dict[str, str] = {
    "dtype.fp16_mask_overflow": "float16 only: the probes run in float64 or float32",
    "config.eps_default_torch": "a wrong default for an omitted config key: the probes pass full configs",
    "config.vocab_default30000": "a wrong default for an omitted config key",
    "config.requires_initializer_range": "config handling (a key read unconditionally): fails to load",
    "config.no_head_divisibility_check": "config validation: accepts a config HF rejects",
    "config.cross_attention_implies_decoder": "config validation",
    "config.padding_idx_ignored": "a gradient of the pad row: backward only",
    "config.rejects_unknown_keys": "config validation",
    "config.lenient_types": "config validation",
    "config.hidden_states_by_default": "an output returned when not asked for: config output flags",
    "config.num_labels_ignores_id2label": "config handling (label count)",
    "heads.alphabetical_outputs": "output order of the dict, not a value",
    "heads.ids_win_over_embeds": "an error the port should raise",
    "heads.q_a_loss_from_one_position": "an error the port should raise (one label of two)",
    "heads.cache_not_returned": "the key/value cache",
    "heads.positions_clipped": "an error the port should raise (too long)",
    "heads.token_types_clipped": "an error the port should raise (out of range)",
    "heads.negative_ids_wrap": "an error the port should raise (negative ids)",
    "heads.bool_mask4d_inverted": "a 4-D boolean mask form (not probed)",
    "heads.cross_attention_on_zeros": "a decoder called without encoder states (not probed)",
    "parameters.lenient_load": "checkpoint-key handling at load",
    "parameters.head_keys_under_prefix": "checkpoint-key handling at load",
    "parameters.shapes_truncated": "checkpoint-key handling at load",
    "parameters.needs_tied_targets": "checkpoint-key handling at load",
    "parameters.untied_falls_back_to_tied": "checkpoint-key handling at load",
    "parameters.tie_source_required": "checkpoint-key handling at load",
    "parameters.no_legacy_names": "checkpoint-key handling at load",
    "parameters.buffer_keys_rejected": "checkpoint-key handling at load",
    "parameters.strips_prefix_only_for_heads": "checkpoint-key handling at load",
    "labels.problem_type_from_num_labels_only": "multi-label targets (a problem_type not probed)",
    "labels.problem_type_not_sticky": "state across calls (problem_type inferred again)",
    "labels.multi_label_mean_over_batch": "multi-label targets (a problem_type not probed)",
    "labels.labels_out_of_range_clipped": "an error the port should raise",
    "labels.multiple_choice_labels_flattened": "an error the port should raise",
    "labels.cache_with_labels": "the key/value cache",
    "decoder.cache_positions_from_zero": "the key/value cache",
    "decoder.cache_ignores_past_mask": "the key/value cache",
    "decoder.cross_keys_recomputed": "the key/value cache",
    "decoder.logits_to_keep_first": "the logits_to_keep option (not probed)",
    "decoder.encoder_returns_cache": "the key/value cache",
    "hostile.zeroes_state_dict": "a hostile port (zeroes its weights): every output is wrong, no component",
    "hostile.lying_arrays": "a hostile port (an ndarray subclass): the boundary check's business",
}


def expected_component(port_id: str) -> str | None:
    """The labelled component of a corpus port, or None when it is out of scope."""
    return COMPONENTS.get(port_id)


def out_of_scope_reason(port_id: str) -> str | None:
    """Why a corpus port is not diagnosed (None for a port in scope)."""
    if port_id in COMPONENTS:
        return None
    return OUT_OF_SCOPE.get(port_id) or OUT_OF_SCOPE_AREAS.get(port_id.split(".", 1)[0], "not labelled")

# Corpus ports whose bug is a catalogue variant (bert_conformance.diagnosis.variants): the variant a
# diagnosis must name. On the probes (row 0 never padded), "mask skipped when the first row is full" is
# exactly "mask ignored". heads.pooler_last_token is not the catalogue's pooler_last_token: it rewrites
# BertModel's pooler_output at the boundary, and the heads that use the pooled vector still get the first token.
CATALOGUED: dict[str, str] = {
    "layer.gelu_tanh": "gelu_tanh",
    "config.gelu_tanh": "gelu_tanh",
    "surface.core_only_gelu_tanh": "gelu_tanh",
    "layer.gelu_polynomial": "gelu_erf_polynomial",
    "layer.layer_norm_eps_1e-5": "layer_norm_eps_1e-5",
    "numerics.layer_norm_eps_fixed": "layer_norm_eps_1e-5",
    "layer.layer_norm_eps_ignored": "layer_norm_eps_config_ignored",
    "surface.core_only_eps_ignored": "layer_norm_eps_config_ignored",
    "layer.layer_norm_unbiased": "layer_norm_unbiased_variance",
    "embeddings.layer_norm_skipped": "embeddings_layer_norm_missing",
    "embeddings.token_types_ignored": "token_type_always_zero",
    "numerics.token_type_embeddings_dropped": "token_type_missing",
    "parameters.positions_from_one": "positions_offset_1",
    "properties.positions_from_one": "positions_offset_1",
    "attention.scale_missing": "scale_missing",
    "attention.scale_one_over_d": "scale_one_over_head_dim",
    "config.head_dim_from_hidden_size": "scale_sqrt_hidden_size",
    "numerics.attention_scale_by_hidden_size": "scale_sqrt_hidden_size",
    "attention.mask_polarity_inverted": "mask_inverted",
    "properties.ignores_attention_mask": "mask_ignored",
    "properties.mask_skipped_when_first_row_full": "mask_ignored",
    "attention.softmax_over_queries": "softmax_over_queries",
    "attention.heads_transposed": "head_split_transposed",
    "layer.ffn_residual_dropped": "ffn_residual_missing",
    "head_layers.pooler_no_tanh": "pooler_no_tanh",
    "head_layers.pooler_mean_of_tokens": "pooler_mean",
}
