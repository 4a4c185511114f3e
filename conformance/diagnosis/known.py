"""Ground truth for the known-bad corpus: which component each port's bug is in, as data.

Labels are read from each port's one-line description (``bert_conformance.known_bad``), written down here once,
independently of what the engine finds: the tests compare the engine with them. :data:`COMPONENTS`: bugs the
forward probes localise (tests/test_diagnosis.py), contract and quantized ports included. :data:`SUITE_COMPONENTS`:
bugs no forward probe can see (the tokenizer, the data helpers, config handling, checkpoint keys, errors that
should be raised, gradients, float16), localised by the tokenizer probes or the report's findings from the
failing clauses. Every corpus port has one label (tests/test_diagnosis.py checks it); tests/test_known_bad.py
checks each port's report findings, automatic diagnosis included, against it.
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
    # the hostile ports' bug is what they do to the contract; the wrong numbers follow from it
    "hostile.mask_ones_in_place": "contract.inputs",  # writes ones into the mask it is handed
    "hostile.zeroes_state_dict": "contract.inputs",  # zeroes the state dict it is handed
    "hostile.lying_arrays": "contract.outputs",  # returns ndarray subclasses
    # the key/value cache, run in cached pieces
    "cache.concat_wrong_axis": "decoder.cache",
    "cache.concat_new_first": "decoder.cache",
    "decoder.cache_positions_from_zero": "decoder.cache",
    "decoder.cache_ignores_past_mask": "decoder.cache",
    # quantized (int8 tier) ports, probed at their tier's similarity criteria
    "tiers.drops_attention_mask": "attention.mask",
    "tiers.loses_token_types": "embeddings.token_type",
    "tiers.coarse_embedding_norm": "embeddings.layer_norm",
    "tiers.saturating_scale": "attention.projections",  # every Linear's input; the first is the attention's
}

# Corpus ports whose bug no forward probe can show (tokenizer, data helpers, config handling, checkpoint keys,
# errors that should be raised, gradients, float16): labelled with the spec family (or pipeline
# component) their bug is in, from the port's description. The report's findings localise them from the
# failing clauses (bert_conformance.findings.localise); tests/test_known_bad.py compares the two per port.
SUITE_COMPONENTS: dict[str, str] = {
    "dtype.fp16_mask_overflow": "attention.mask",
    "config.eps_default_torch": "config.default",
    "config.vocab_default30000": "config.default",
    "config.requires_initializer_range": "config.default",
    "config.hidden_states_by_default": "config.default",
    "config.no_head_divisibility_check": "config.constraint",
    "config.cross_attention_implies_decoder": "config.constraint",
    "config.padding_idx_ignored": "config.behaviour",
    "config.rejects_unknown_keys": "config.behaviour",
    "config.lenient_types": "config.behaviour",
    "config.num_labels_ignores_id2label": "config.behaviour",
    "heads.alphabetical_outputs": "heads.outputs",
    "heads.ids_win_over_embeds": "heads.common",
    "heads.q_a_loss_from_one_position": "heads.outputs",  # the rule it breaks: loss present only with both
    "heads.cache_not_returned": "heads.outputs",
    "heads.positions_clipped": "heads.common",
    "heads.token_types_clipped": "heads.common",
    "heads.negative_ids_wrap": "heads.common",
    "heads.bool_mask4d_inverted": "attention.mask",
    "heads.cross_attention_on_zeros": "heads.omitted",
    "parameters.lenient_load": "parameters.keys",
    "parameters.head_keys_under_prefix": "parameters.prefix",
    "parameters.shapes_truncated": "parameters.group",
    "parameters.needs_tied_targets": "parameters.saved",
    "parameters.untied_falls_back_to_tied": "parameters.saved",
    "parameters.tie_source_required": "parameters.saved",
    "parameters.no_legacy_names": "parameters.legacy",
    "parameters.buffer_keys_rejected": "parameters.legacy",
    "parameters.strips_prefix_only_for_heads": "parameters.legacy",
    "labels.problem_type_from_num_labels_only": "labels.seqcls",
    "labels.problem_type_not_sticky": "labels.seqcls",
    "labels.multi_label_mean_over_batch": "labels.seqcls",
    "labels.labels_out_of_range_clipped": "labels.target_dtype",
    "labels.multiple_choice_labels_flattened": "labels.mc",
    "labels.cache_with_labels": "labels.lm",
    "decoder.cross_keys_recomputed": "decoder.cross_attention",
    "decoder.logits_to_keep_first": "decoder.logits_to_keep",
    "decoder.encoder_returns_cache": "decoder.cache",
    "gradients.tied_copy_gradient": "gradients",
    "gradients.sum_instead_of_mean": "gradients",
    "gradients.tied_targets_missing": "gradients",
    "gradients.position_embeddings_frozen": "gradients",
    "tokenizer.no_lower_case": "tokenizer.normalizer",
    "tokenizer.no_accent_stripping": "tokenizer.normalizer",
    "tokenizer.no_chinese_char_split": "tokenizer.normalizer",
    "tokenizer.python_lower_case": "tokenizer.normalizer",
    "tokenizer.platform_unicode_tables": "tokenizer.unicode",
    "tokenizer.pair_double_separator": "tokenizer.template",
    "tokenizer.pair_type_ids_zero": "tokenizer.template",
    "tokenizer.truncation_ignores_specials": "tokenizer.truncation",
    "tokenizer.no_decoder_cleanup": "tokenizer.decode",
    "tokenizer.decode_drops_invalid_ids": "tokenizer.decode",
    "tokenizer.pads_ragged_tensors": "tokenizer.padding",
    "tokenizer.lenient_vocab": "tokenizer.vocab",
    # transformers' BertTokenizerLegacy: a dozen documented differences; the first in pipeline order is how it
    # loads the vocabulary (a repeated token accepted)
    "tokenizer.legacy": "tokenizer.vocab",
    "data.mask_twenty_percent": "labels.data",
    "data.always_mask": "labels.data",
    "data.masks_special_tokens": "labels.data",
    "data.labels_zero": "labels.data",
    "data.random_ids_skip_specials": "labels.data",
    "data.nsp_labels_inverted": "labels.data",
    "data.nsp_quarter_random": "labels.data",
    "device.fused_kernel_drops_padding": "attention.mask",
}

# Corpus ports whose report, on the clauses they name with the automatic diagnosis (tests/test_known_bad.py),
# is not one finding at their labelled component, and why. The test is strict: a port localised right must
# leave the list.
MISSES: dict[str, str] = {
    "config.no_head_divisibility_check": "on its two named clauses alone config.constraint and config.behaviour "
                                         "tie (one failure each); the passing clauses of a whole-module run "
                                         "break the tie",
    "parameters.lenient_load": "the key-set clauses that fail are in two families, more of them in "
                               "parameters.group than in parameters.<Head>.keys",
    "decoder.lm_head_always_causal": "the probes name heads.causal_lm (BertLMHeadModel without is_decoder), "
                                     "the one failing clause, decoder.not_decoder_is_bidirectional, tests the "
                                     "causal mask (attention.causal_mask): one finding, the clause's component",
}


def expected_component(port_id: str) -> str | None:
    """The labelled component of a corpus port (None: not labelled)."""
    return COMPONENTS.get(port_id) or SUITE_COMPONENTS.get(port_id)


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
    "decoder.cache_positions_from_zero": "cache_positions_restart",
    "tiers.drops_attention_mask": "mask_ignored",
    "tiers.loses_token_types": "token_type_always_zero",
}
