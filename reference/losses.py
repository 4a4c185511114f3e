"""The heads' losses, as transformers computes them, with labels checked first (ValueError naming the argument).

All classification losses are cross-entropy with mean reduction and ignore_index -100, so all-ignored labels
give NaN (a mean over nothing), as in transformers. Labels must be int64 (transformers fails on int32 too).
The causal LM loss is computed in at least float32 (transformers always casts the logits to float32, even
float64 ones; the reference keeps float64 in float64). Every loss is a 0-d tensor (labels.loss_scalar).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from .config import BertConfig
from .validation import check_range, check_tensor

IGNORE_INDEX = -100  # labels.ignore_index: F.cross_entropy's default ignore_index, used by every loss here


def _check_labels(name: str, labels: Tensor, shapes: list[tuple[int, ...]], num_classes: int) -> None:
    """labels.target_dtype: int64 class ids in [0, num_classes) or -100, in one of `shapes`."""
    check_tensor(name, labels)
    if tuple(labels.shape) not in shapes:
        expected = " or ".join(str(list(shape)) for shape in shapes)
        raise ValueError(f"{name} must have shape {expected}, got {list(labels.shape)}")
    if labels.dtype != torch.long:
        raise ValueError(f"{name} must be int64 (torch.long) class indices, got {labels.dtype}")
    check_range(name, labels, 0, num_classes, allowed=(IGNORE_INDEX,))


def masked_lm_loss(logits: Tensor, labels: Tensor, name: str = "labels") -> Tensor:
    """Cross-entropy over the vocabulary at every position, no shift (labels.mlm.loss); all labels -100 give
    NaN (labels.mlm.all_ignored)."""
    batch, seq_len, vocab_size = logits.shape
    _check_labels(name, labels, [(batch, seq_len)], vocab_size)
    return F.cross_entropy(logits.reshape(-1, vocab_size), labels.reshape(-1))


def next_sentence_loss(logits: Tensor, labels: Tensor, name: str = "labels") -> Tensor:
    """0 = sentence B continues A, 1 = B is random (labels.nsp.meaning); labels [B] or [B, 1]
    (labels.nsp.loss)."""
    batch = logits.shape[0]
    _check_labels(name, labels, [(batch,), (batch, 1)], 2)
    return F.cross_entropy(logits.reshape(-1, 2), labels.reshape(-1))


def causal_lm_loss(
    logits: Tensor,
    labels: Tensor | None,
    *,
    shift_labels: Tensor | None = None,
    num_items_in_batch: Tensor | int | None = None,
) -> Tensor:
    """Next-token cross-entropy: labels are shifted left inside, unless `shift_labels` is given
    (labels.lm.shift)."""
    vocab_size = logits.shape[-1]
    positions = tuple(logits.shape[:-1])
    if shift_labels is None:
        _check_labels("labels", labels, [positions], vocab_size)
        shift_labels = F.pad(labels, (0, 1), value=IGNORE_INDEX)[..., 1:]
    else:
        _check_labels("shift_labels", shift_labels, [positions], vocab_size)
    if logits.dtype in (torch.float16, torch.bfloat16):
        logits = logits.float()
    reduction = "mean" if num_items_in_batch is None else "sum"
    loss = F.cross_entropy(logits.reshape(-1, vocab_size), shift_labels.reshape(-1), reduction=reduction)
    return loss if num_items_in_batch is None else loss / num_items_in_batch


def infer_problem_type(config: BertConfig, labels: Tensor) -> str:
    """transformers' rule (labels.seqcls.problem_type.inference); the result is written back into the (shared)
    config and sticks (labels.seqcls.problem_type.sticky)."""
    if config.problem_type is None:
        if config.num_labels == 1:
            config.problem_type = "regression"
        elif labels.dtype in (torch.long, torch.int):
            config.problem_type = "single_label_classification"
        else:
            config.problem_type = "multi_label_classification"
    return config.problem_type


def sequence_classification_loss(config: BertConfig, logits: Tensor, labels: Tensor) -> Tensor:
    check_tensor("labels", labels)
    batch, num_labels = logits.shape
    problem_type = infer_problem_type(config, labels)
    if problem_type == "regression":  # labels.seqcls.regression
        shapes = [(batch,), (batch, 1)] if num_labels == 1 else [(batch, num_labels)]
        if tuple(labels.shape) not in shapes or labels.dtype == torch.bool or labels.dtype.is_complex:
            raise ValueError(f"regression labels must be numbers of shape {' or '.join(map(str, shapes))}, "
                             f"got {labels.dtype} {list(labels.shape)}")
        labels = labels.to(logits.dtype)
        if num_labels == 1:  # both squeezed, as in transformers
            return F.mse_loss(logits.squeeze(), labels.squeeze())
        return F.mse_loss(logits, labels)
    if problem_type == "single_label_classification":  # labels.seqcls.single_label
        _check_labels("labels", labels, [(batch,), (batch, 1)], num_labels)
        return F.cross_entropy(logits.reshape(-1, num_labels), labels.reshape(-1))
    # labels.seqcls.multi_label
    if tuple(labels.shape) != (batch, num_labels) or not labels.dtype.is_floating_point:
        raise ValueError(f"multi_label_classification labels must be floats of shape [{batch}, {num_labels}], "
                         f"got {labels.dtype} {list(labels.shape)}")
    return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))


def multiple_choice_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """The index of the right choice, one per example [B] (labels.mc.labels)."""
    batch, num_choices = logits.shape
    _check_labels("labels", labels, [(batch,)], num_choices)
    return F.cross_entropy(logits, labels)


def token_classification_loss(logits: Tensor, labels: Tensor) -> Tensor:
    """Every position counts unless labelled -100 (the attention mask is not used, as in transformers):
    labels.token.loss."""
    batch, seq_len, num_labels = logits.shape
    _check_labels("labels", labels, [(batch, seq_len)], num_labels)
    return F.cross_entropy(logits.reshape(-1, num_labels), labels.reshape(-1))


def question_answering_loss(
    start_logits: Tensor, end_logits: Tensor, start_positions: Tensor, end_positions: Tensor
) -> Tensor:
    """Mean of start and end cross-entropy (labels.qa.loss); positions are clamped to [0, L] and L is ignored.

    So a negative position becomes 0 (a real target) and one >= L is ignored, as in transformers
    (labels.qa.clamp); a side with every position ignored gives NaN (labels.qa.all_ignored).
    """
    batch, seq_len = start_logits.shape
    # labels.qa.positions: one int64 token index per example, [B] or [B, 1].
    for name, positions in (("start_positions", start_positions), ("end_positions", end_positions)):
        check_tensor(name, positions)
        if tuple(positions.shape) not in ((batch,), (batch, 1)):
            raise ValueError(f"{name} must have shape [{batch}] or [{batch}, 1], got {list(positions.shape)}")
        if positions.dtype != torch.long:
            raise ValueError(f"{name} must be int64 (torch.long), got {positions.dtype}")
    ignored = seq_len
    start = start_positions.reshape(-1).clamp(0, ignored)
    end = end_positions.reshape(-1).clamp(0, ignored)
    start_loss = F.cross_entropy(start_logits, start, ignore_index=ignored)
    end_loss = F.cross_entropy(end_logits, end, ignore_index=ignored)
    return (start_loss + end_loss) / 2
