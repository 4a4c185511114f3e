"""Every head's loss on fixed edge cases, against the formula written out here (float64) and against
transformers: ignore_index, QA clamping, problem_type inference, and when a loss is (not) returned."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from test_reference_vs_hf import assert_same, make_pair

TINY = dict(vocab_size=30, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=20)
B, L = 3, 5
IDS = torch.randint(30, (B, L), generator=torch.Generator().manual_seed(0))
MC_IDS = torch.randint(30, (B, 2, L), generator=torch.Generator().manual_seed(1))


def run(hf_transformers, head: str, labels: dict, ids=IDS, **config):
    hf, ref = make_pair(hf_transformers, head, {**TINY, **config}, seed=31)
    with torch.no_grad():
        return ref(ids, **labels), hf(ids, **labels), ref


def ce(logits: torch.Tensor, target: torch.Tensor, ignore: int = -100) -> torch.Tensor:
    """Mean cross-entropy over non-ignored targets, written out."""
    keep = target != ignore
    log_probs = logits[keep] - torch.logsumexp(logits[keep], dim=-1, keepdim=True)
    return -log_probs.gather(-1, target[keep][:, None]).mean()


def check(ours, theirs, expected, tolerance):
    assert_same(ours.loss, expected, *tolerance("float64", "loss"), "loss vs formula")
    assert_same(ours.loss, theirs.loss, *tolerance("float64", "loss"), "loss vs transformers")


def test_masked_lm_and_pretraining(hf_transformers, tolerance):
    labels = IDS.masked_fill(torch.arange(L) % 2 == 0, -100)
    ours, theirs, _ = run(hf_transformers, "BertForMaskedLM", {"labels": labels})
    check(ours, theirs, ce(ours.logits.reshape(-1, 30), labels.reshape(-1)), tolerance)
    nsl = torch.tensor([0, 1, 1])
    ours, theirs, _ = run(hf_transformers, "BertForPreTraining", {"labels": labels, "next_sentence_label": nsl})
    expected = ce(ours.prediction_logits.reshape(-1, 30), labels.reshape(-1)) + ce(ours.seq_relationship_logits, nsl)
    check(ours, theirs, expected, tolerance)
    alone, hf_alone, _ = run(hf_transformers, "BertForPreTraining", {"labels": labels})
    assert alone.loss is None and hf_alone.loss is None  # the loss needs both labels
    nan, hf_nan, _ = run(hf_transformers, "BertForMaskedLM", {"labels": torch.full((B, L), -100)})
    assert torch.isnan(nan.loss) and torch.isnan(hf_nan.loss)  # a mean over nothing


def test_next_sentence_prediction(hf_transformers, tolerance):
    for labels in (torch.tensor([1, 0, 1]), torch.tensor([[1], [0], [-100]])):
        ours, theirs, _ = run(hf_transformers, "BertForNextSentencePrediction", {"labels": labels})
        check(ours, theirs, ce(ours.logits, labels.reshape(-1)), tolerance)


@pytest.mark.parametrize(
    "num_labels,labels,problem_type",
    [(1, torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64), "regression"),
     (1, torch.tensor([[0.5], [-1.0], [2.0]], dtype=torch.float64), "regression"),
     (1, torch.tensor([1, 0, 2]), "regression"),
     (3, torch.tensor([2, 0, 1]), "single_label_classification"),
     (3, torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 1.0, 1.0]], dtype=torch.float64),
      "multi_label_classification")],
)
def test_sequence_classification(hf_transformers, tolerance, num_labels, labels, problem_type):
    ours, theirs, ref = run(hf_transformers, "BertForSequenceClassification", {"labels": labels}, num_labels=num_labels)
    assert ref.config.problem_type == problem_type  # inferred and written back into the config
    logits = ours.logits
    if problem_type == "regression":
        expected = ((logits.reshape(-1) - labels.reshape(-1).double()) ** 2).mean()
    elif problem_type == "single_label_classification":
        expected = ce(logits, labels)
    else:
        expected = (F.softplus(logits) - labels * logits).mean()  # BCE with logits, written out
    check(ours, theirs, expected, tolerance)


def test_multiple_choice_and_token_classification(hf_transformers, tolerance):
    labels = torch.tensor([1, 0, 1])
    ours, theirs, _ = run(hf_transformers, "BertForMultipleChoice", {"labels": labels}, ids=MC_IDS)
    assert ours.logits.shape == (B, 2)
    check(ours, theirs, ce(ours.logits, labels), tolerance)
    tags = torch.tensor([[0, 1, 2, -100, 1], [2, 2, 0, 0, -100], [-100, -100, 1, 0, 2]])
    ours, theirs, _ = run(hf_transformers, "BertForTokenClassification", {"labels": tags}, num_labels=3)
    check(ours, theirs, ce(ours.logits.reshape(-1, 3), tags.reshape(-1)), tolerance)


@pytest.mark.parametrize(
    "start,end",
    [([0, 2, 4], [1, 3, 4]),  # ordinary
     ([-1, -7, 2], [0, 3, -2]),  # negative: clamped to 0, a real target (not ignored)
     ([5, 9, 1], [2, 5, 100]),  # >= L: ignored
     ([[1], [2], [3]], [[4], [0], [1]])],  # [B, 1] is squeezed
)
def test_question_answering_clamps_and_ignores(hf_transformers, tolerance, start, end):
    start, end = torch.tensor(start), torch.tensor(end)
    ours, theirs, _ = run(hf_transformers, "BertForQuestionAnswering", {"start_positions": start, "end_positions": end})
    clamp = lambda p: p.reshape(-1).clamp(0, L)  # noqa: E731
    expected = (ce(ours.start_logits, clamp(start), ignore=L) + ce(ours.end_logits, clamp(end), ignore=L)) / 2
    check(ours, theirs, expected, tolerance)


def test_question_answering_loss_needs_both_positions_and_can_be_nan(hf_transformers):
    ours, theirs, _ = run(hf_transformers, "BertForQuestionAnswering", {"start_positions": torch.tensor([1, 2, 3])})
    assert ours.loss is None and theirs.loss is None
    ignored = torch.tensor([L, L + 1, 99])
    ours, theirs, _ = run(hf_transformers, "BertForQuestionAnswering",
                          {"start_positions": ignored, "end_positions": ignored})
    assert math.isnan(ours.loss.item()) and math.isnan(theirs.loss.item())
