"""Golden cases for the eight task heads: label conventions, losses, decoder cache, cross-attention."""

from __future__ import annotations

import numpy as np

from .cases import (
    I64,
    CaseSpec,
    case,
    config,
    lm_labels,
    right_padded,
    token_ids,
    token_types,
    two_layers,
)
from .weights import float32_grid

Rng = np.random.Generator

# ------------------------------------------------------------------------------------ pre-training / MLM


@case("pretraining.labels", seed=30)
def pretraining_labels(rng: Rng) -> CaseSpec:
    cfg = config()
    ids, mask = right_padded(rng, cfg, [7, 5, 3], 7)
    return CaseSpec(
        "BertForPreTraining with MLM labels and next_sentence_label: the loss is their sum",
        "BertForPreTraining", cfg,
        {"input_ids": ids, "attention_mask": mask, "token_type_ids": token_types(rng, cfg, 3, 7),
         "labels": lm_labels(rng, cfg, mask), "next_sentence_label": np.array([0, 1, 1], dtype=I64)},
        ("labels.pretraining.loss", "labels.ignore_index", "labels.nsp.meaning", "parameters.tied.decoder_weight",
         "parameters.tied.decoder_bias"),
        options={"output_hidden_states": True}, gradients=True,
    )


@case("pretraining.mlm_labels_only", seed=31)
def pretraining_mlm_labels_only(rng: Rng) -> CaseSpec:
    cfg = config()
    ids, mask = right_padded(rng, cfg, [5, 4], 5)
    return CaseSpec(
        "BertForPreTraining with labels but no next_sentence_label: no loss",
        "BertForPreTraining", cfg, {"input_ids": ids, "attention_mask": mask, "labels": lm_labels(rng, cfg, mask)},
        ("labels.pretraining.loss", "heads.omitted.no_loss"),
    )


@case("masked_lm.labels", seed=32)
def masked_lm_labels(rng: Rng) -> CaseSpec:
    cfg = config()
    ids, mask = right_padded(rng, cfg, [6, 6, 2], 6)
    return CaseSpec(
        "BertForMaskedLM with -100 labels on padding and on half the tokens (no shift)",
        "BertForMaskedLM", cfg, {"input_ids": ids, "attention_mask": mask, "labels": lm_labels(rng, cfg, mask)},
        ("labels.mlm.loss", "labels.ignore_index", "parameters.tied.decoder_weight", "parameters.tied.decoder_bias"),
    )


@case("masked_lm.all_ignored", seed=33)
def masked_lm_all_ignored(rng: Rng) -> CaseSpec:
    cfg = config()
    return CaseSpec(
        "BertForMaskedLM with every label -100: the loss is NaN (a mean over nothing)",
        "BertForMaskedLM", cfg, {"input_ids": token_ids(rng, cfg, 2, 4), "labels": np.full((2, 4), -100, dtype=I64)},
        ("labels.mlm.all_ignored",),
    )


@case("masked_lm.untied", seed=34)
def masked_lm_untied(rng: Rng) -> CaseSpec:
    cfg = config(tie_word_embeddings=False)
    ids, mask = right_padded(rng, cfg, [5, 3], 5)
    return CaseSpec(
        "BertForMaskedLM, tie_word_embeddings=False: its own decoder weight and bias",
        "BertForMaskedLM", cfg, {"input_ids": ids, "attention_mask": mask, "labels": lm_labels(rng, cfg, mask)},
        ("config.behaviour.tie_word_embeddings.decoder_bias", "parameters.saved.untied_all_present"),
    )


@case("next_sentence.labels", seed=35)
def next_sentence_labels(rng: Rng) -> CaseSpec:
    cfg = config()
    ids, mask = right_padded(rng, cfg, [6, 4, 5], 6)
    return CaseSpec(
        "BertForNextSentencePrediction with labels 0 (IsNext) and 1 (random)",
        "BertForNextSentencePrediction", cfg,
        {"input_ids": ids, "attention_mask": mask, "token_type_ids": token_types(rng, cfg, 3, 6),
         "labels": np.array([0, 1, 0], dtype=I64)},
        ("labels.nsp.loss", "labels.nsp.meaning"),
    )


# ---------------------------------------------------------------------------------------- classification


def _seq_cls(rng: Rng, description: str, labels: np.ndarray, clause: str, gradients: bool = False,
             **cfg_overrides) -> CaseSpec:
    cfg = config(**cfg_overrides)
    ids, mask = right_padded(rng, cfg, [6, 3, 5], 6)
    return CaseSpec(
        description, "BertForSequenceClassification", cfg, {"input_ids": ids, "attention_mask": mask, "labels": labels},
        (clause, "labels.seqcls.problem_type.inference"), gradients=gradients,
    )


@case("sequence_classification.single_label", seed=36)
def seq_cls_single_label(rng: Rng) -> CaseSpec:
    return _seq_cls(rng, "num_labels=3, int64 labels: problem_type inferred single_label (cross-entropy)",
                    np.array([2, 0, 1], dtype=I64), "labels.seqcls.single_label", gradients=True, num_labels=3)


@case("sequence_classification.regression", seed=37)
def seq_cls_regression(rng: Rng) -> CaseSpec:
    return _seq_cls(rng, "num_labels=1, float labels [B]: problem_type inferred regression (MSE, squeezed)",
                    np.array([0.5, -1.25, 2.0]), "labels.seqcls.regression", num_labels=1)


@case("sequence_classification.multi_label", seed=38)
def seq_cls_multi_label(rng: Rng) -> CaseSpec:
    labels = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 1.0, 1.0]])
    return _seq_cls(rng, "num_labels=3, float labels [B, 3]: problem_type inferred multi_label (BCE with logits)",
                    labels, "labels.seqcls.multi_label", num_labels=3)


@case("sequence_classification.regression_two_outputs", seed=39)
def seq_cls_regression_two_outputs(rng: Rng) -> CaseSpec:
    labels = np.array([[0.5, 1.0], [-1.0, 0.25], [2.0, -0.5]])
    return _seq_cls(rng, "problem_type='regression' set explicitly, num_labels=2: MSE over [B, 2] (no squeeze)",
                    labels, "labels.seqcls.regression", num_labels=2, problem_type="regression")


@case("multiple_choice.labels", seed=40)
def multiple_choice_labels(rng: Rng) -> CaseSpec:
    cfg = config()
    ids, mask = right_padded(rng, cfg, [6, 4, 5, 6, 2, 3], 6)
    return CaseSpec(
        "BertForMultipleChoice, batch 2 x 3 choices x 6 tokens, labels in [0, 3)",
        "BertForMultipleChoice", cfg,
        {"input_ids": ids.reshape(2, 3, 6), "attention_mask": mask.reshape(2, 3, 6),
         "token_type_ids": token_types(rng, cfg, 2, 3, 6), "labels": np.array([2, 0], dtype=I64)},
        ("labels.mc.labels", "labels.mc.reshape", "heads.BertForMultipleChoice.outputs.hidden_states"),
        options={"output_hidden_states": True},
    )


@case("token_classification.labels", seed=41)
def token_cls_labels(rng: Rng) -> CaseSpec:
    cfg = config(num_labels=4)
    ids, mask = right_padded(rng, cfg, [7, 3], 7)
    labels = rng.integers(0, 4, size=(2, 7), dtype=I64)
    labels[mask == 0] = -100
    labels[0, 2] = -100
    return CaseSpec(
        "BertForTokenClassification, 4 labels, -100 on padding and one real token",
        "BertForTokenClassification", cfg, {"input_ids": ids, "attention_mask": mask, "labels": labels},
        ("labels.token.loss", "labels.ignore_index"),
    )


# -------------------------------------------------------------------------------------- question answering


def _qa(rng: Rng, description: str, start: list[int], end: list[int], clauses: tuple[str, ...],
        gradients: bool = False) -> CaseSpec:
    # No padding: the loss is a softmax over every position, and logits at padded positions are unspecified.
    cfg = config()
    return CaseSpec(
        description, "BertForQuestionAnswering", cfg,
        {"input_ids": token_ids(rng, cfg, 3, 8), "start_positions": np.array(start, dtype=I64),
         "end_positions": np.array(end, dtype=I64)},
        clauses, gradients=gradients,
    )


@case("question_answering.positions", seed=42)
def qa_positions(rng: Rng) -> CaseSpec:
    return _qa(rng, "BertForQuestionAnswering with in-range start/end positions", [1, 0, 3], [4, 2, 3],
               ("labels.qa.loss", "labels.qa.positions"), gradients=True)


@case("question_answering.out_of_range", seed=43)
def qa_out_of_range(rng: Rng) -> CaseSpec:
    return _qa(rng, "negative positions clamp to 0 (a real target); positions >= seq_len (8) are ignored",
               [-1, 8, 2], [12, -3, 5], ("labels.qa.clamp",))


@case("question_answering.all_ignored", seed=44)
def qa_all_ignored(rng: Rng) -> CaseSpec:
    return _qa(rng, "every position >= seq_len: both losses NaN, so the loss is NaN", [8, 9, 100], [8, 8, 8],
               ("labels.qa.all_ignored", "labels.qa.clamp"))


# ----------------------------------------------------------------------------------------- decoder / cache


def _encoder_states(rng: Rng, batch: int, length: int, hidden: int) -> tuple[np.ndarray, np.ndarray]:
    """encoder_hidden_states and an encoder mask whose second row has its last two slots padded."""
    states = float32_grid(rng.standard_normal((batch, length, hidden)))
    mask = np.ones((batch, length), dtype=I64)
    mask[1, -2:] = 0
    return states, mask


def _extend(rng: Rng, cfg: dict, mask: np.ndarray, n_steps: int, **fixed) -> tuple[dict, ...]:
    """One-token decoder steps; each attention_mask covers the cached plus the new position."""
    steps = []
    for _ in range(n_steps):
        mask = np.concatenate([mask, np.ones((mask.shape[0], 1), dtype=I64)], axis=1)
        steps.append({"input_ids": token_ids(rng, cfg, mask.shape[0], 1), "attention_mask": mask, **fixed})
    return tuple(steps)


@case("lm_head.causal_labels", seed=50)
def lm_head_causal_labels(rng: Rng) -> CaseSpec:
    cfg = two_layers(is_decoder=True)
    ids, mask = right_padded(rng, cfg, [7, 5], 7)
    return CaseSpec(
        "BertLMHeadModel (is_decoder) with labels: shifted inside the loss, causal mask, no cache returned",
        "BertLMHeadModel", cfg, {"input_ids": ids, "attention_mask": mask, "labels": lm_labels(rng, cfg, mask)},
        ("labels.lm.shift", "labels.lm.labels_disable_cache", "heads.common.causal"),
        options={"output_hidden_states": True},
    )


@case("lm_head.cache_steps", seed=51)
def lm_head_cache_steps(rng: Rng) -> CaseSpec:
    cfg = two_layers(is_decoder=True)
    prefix_mask = np.array([[1, 1, 1, 1, 1], [1, 1, 0, 1, 1]], dtype=I64)
    prefix = {"input_ids": token_ids(rng, cfg, 2, 5), "attention_mask": prefix_mask}
    return CaseSpec(
        "BertLMHeadModel: 5-token prefix (row 1 has a masked slot), then 3 one-token steps through the cache",
        "BertLMHeadModel", cfg, prefix,
        ("heads.BertLMHeadModel.outputs.cache", "heads.common.cache_equivalence",
         "heads.common.cache_position_offset", "heads.common.causal", "heads.omitted.new_cache"),
        options={"use_cache": True}, steps=_extend(rng, cfg, prefix_mask, 3),
    )


@case("lm_head.cross_attention", seed=52)
def lm_head_cross_attention(rng: Rng) -> CaseSpec:
    cfg = two_layers(is_decoder=True, add_cross_attention=True)
    ids, mask = right_padded(rng, cfg, [6, 4], 6)
    enc, enc_mask = _encoder_states(rng, 2, 5, cfg["hidden_size"])
    return CaseSpec(
        "BertLMHeadModel with cross-attention, an encoder mask with 2 padded slots, attentions, no cache",
        "BertLMHeadModel", cfg,
        {"input_ids": ids, "attention_mask": mask, "encoder_hidden_states": enc, "encoder_attention_mask": enc_mask},
        ("heads.BertLMHeadModel.outputs.cross_attentions", "config.behaviour.add_cross_attention.layers",
         "heads.common.masked_keys"),
        options={"output_attentions": True, "output_hidden_states": True, "use_cache": False},
    )


@case("lm_head.cross_attention_cache_steps", seed=53)
def lm_head_cross_attention_cache_steps(rng: Rng) -> CaseSpec:
    cfg = two_layers(is_decoder=True, add_cross_attention=True)
    enc, enc_mask = _encoder_states(rng, 2, 4, cfg["hidden_size"])
    cross = {"encoder_hidden_states": enc, "encoder_attention_mask": enc_mask}
    mask = np.ones((2, 3), dtype=I64)
    return CaseSpec(
        "BertLMHeadModel with cross-attention: 3-token prefix then 2 steps; self and cross caches",
        "BertLMHeadModel", cfg, {"input_ids": token_ids(rng, cfg, 2, 3), "attention_mask": mask, **cross},
        ("heads.common.cross_attention_cache_reuse", "heads.BertLMHeadModel.outputs.cache"),
        options={"use_cache": True}, steps=_extend(rng, cfg, mask, 2, **cross),
    )
