"""MLM masking and NSP pairs: draw-for-draw equality with transformers' DataCollatorForLanguageModeling, and
statistics with fixed seeds inside stated binomial confidence intervals (z = 4, two-sided p ~ 6e-5)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bert_reference.data import IGNORE_INDEX, make_nsp_pairs, mask_tokens

VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + [f"w{i}" for i in range(25)]
PAD, CLS, SEP, MASK, V = 0, 2, 3, 4, len(VOCAB)
Z = 4.0


def batch(rows: int = 200, seq: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """[CLS] words [SEP] [PAD]...; returns ids and the special-tokens mask (CLS, SEP and PAD)."""
    rng = np.random.default_rng(seed)
    ids = rng.integers(MASK + 1, V, size=(rows, seq))
    lengths = rng.integers(seq // 2, seq + 1, size=rows)
    ids[:, 0] = CLS
    for row, length in enumerate(lengths):
        ids[row, length - 1] = SEP
        ids[row, length:] = PAD
    return ids, np.isin(ids, [CLS, SEP, PAD])


def within(count: int, trials: int, p: float) -> bool:
    return abs(count - trials * p) <= Z * math.sqrt(trials * p * (1 - p))


@pytest.fixture(scope="module")
def collator(hf_transformers):
    tokenizer = hf_transformers.BertTokenizer(vocab={token: i for i, token in enumerate(VOCAB)})
    assert len(tokenizer) == V and tokenizer.mask_token_id == MASK
    return hf_transformers.DataCollatorForLanguageModeling(tokenizer, mlm_probability=0.15)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_torch_masking_is_the_collators_draw_for_draw(collator, seed):
    ids, special = batch(rows=16, seed=seed)
    collator.generator = torch.Generator().manual_seed(seed)
    expected = collator.torch_mask_tokens(torch.tensor(ids), special_tokens_mask=torch.tensor(special))
    actual = mask_tokens(torch.tensor(ids), mask_token_id=MASK, vocab_size=V, special_tokens_mask=special,
                         generator=torch.Generator().manual_seed(seed))
    assert torch.equal(actual[0], expected[0]) and torch.equal(actual[1], expected[1])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_numpy_masking_is_the_collators_draw_for_draw(collator, seed):
    ids, special = batch(rows=16, seed=seed)
    collator.generator = np.random.default_rng(seed)
    expected = collator.numpy_mask_tokens(ids.copy(), special_tokens_mask=special)
    actual = mask_tokens(ids, mask_token_id=MASK, vocab_size=V, special_tokens_mask=special, generator=seed)
    assert np.array_equal(actual[0], expected[0]) and np.array_equal(actual[1], expected[1])


@pytest.mark.parametrize("kind", ["numpy", "torch"])
def test_masking_statistics_and_invariants(kind):
    ids, special = batch()
    source = torch.tensor(ids) if kind == "torch" else ids.copy()
    # special tokens passed by id and padding by pad_token_id: no explicit mask needed
    masked, labels = mask_tokens(source, mask_token_id=MASK, vocab_size=V, special_token_ids=[CLS, SEP],
                                 pad_token_id=PAD, generator=7)
    assert type(masked) is type(source) and type(labels) is type(source)
    masked, labels = np.asarray(masked), np.asarray(labels)
    assert np.array_equal(np.asarray(source), ids)  # the input is not modified
    selected = labels != IGNORE_INDEX
    assert not selected[special].any()  # special and padding tokens are never selected
    assert np.array_equal(masked[special], ids[special])
    assert np.array_equal(labels[selected], ids[selected])  # labels: the original token where selected
    assert np.array_equal(masked[~selected], ids[~selected])  # untouched elsewhere
    eligible, chosen = int((~special).sum()), int(selected.sum())
    assert within(chosen, eligible, 0.15), (chosen, eligible)
    to_mask = int((masked[selected] == MASK).sum())
    unchanged = int((masked[selected] == ids[selected]).sum())
    # a random replacement draws uniformly from the vocabulary, so it may land on [MASK] or the original token
    assert within(to_mask, chosen, 0.8 + 0.1 / V), (to_mask, chosen)
    assert within(unchanged, chosen, 0.1 + 0.1 / V), (unchanged, chosen)
    assert within(chosen - to_mask - unchanged, chosen, 0.1 * (1 - 2 / V))


def test_masking_is_deterministic_and_checked():
    ids, special = batch(rows=8)
    once = mask_tokens(ids, mask_token_id=MASK, vocab_size=V, special_tokens_mask=special, generator=3)
    again = mask_tokens(ids, mask_token_id=MASK, vocab_size=V, special_tokens_mask=special, generator=3)
    other = mask_tokens(ids, mask_token_id=MASK, vocab_size=V, special_tokens_mask=special, generator=4)
    assert np.array_equal(once[0], again[0]) and np.array_equal(once[1], again[1])
    assert not np.array_equal(once[1], other[1])
    with pytest.raises(ValueError, match=r"mlm_probability must be in \[0, 1\]"):
        mask_tokens(ids, mask_token_id=MASK, vocab_size=V, mlm_probability=1.5)
    with pytest.raises(ValueError, match="mask_replace_prob \\+ random_replace_prob must be <= 1"):
        mask_tokens(ids, mask_token_id=MASK, vocab_size=V, mask_replace_prob=0.9, random_replace_prob=0.2)
    with pytest.raises(ValueError, match="special_tokens_mask must have the shape of input_ids"):
        mask_tokens(ids, mask_token_id=MASK, vocab_size=V, special_tokens_mask=special[:, :3])
    with pytest.raises(ValueError, match="input_ids must hold integers"):
        mask_tokens(ids.astype(float), mask_token_id=MASK, vocab_size=V)
    with pytest.raises(ValueError, match="generator for numpy input must be"):
        mask_tokens(ids, mask_token_id=MASK, vocab_size=V, generator=torch.Generator())


def documents(count: int = 40, seed: int = 0) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    return [[f"d{d}s{s}" for s in range(rng.integers(1, 12))] for d in range(count)]


@pytest.mark.parametrize("generator", [0, "torch"])
def test_nsp_pairs(generator):
    docs = documents()
    rng = torch.Generator().manual_seed(0) if generator == "torch" else generator
    pairs = make_nsp_pairs(docs, generator=rng)
    assert len(pairs) == sum(len(d) - 1 for d in docs)
    where = {sentence: (d, s) for d, doc in enumerate(docs) for s, sentence in enumerate(doc)}
    for a, b, label in pairs:
        (doc_a, pos_a), (doc_b, pos_b) = where[a], where[b]
        if label == 0:  # IsNext: the following sentence of the same document
            assert (doc_b, pos_b) == (doc_a, pos_a + 1)
        else:  # NotNext: a sentence of another document
            assert label == 1 and doc_b != doc_a
    continuations = sum(1 for pair in pairs if pair.label == 0)
    assert within(continuations, len(pairs), 0.5), (continuations, len(pairs))
    again = make_nsp_pairs(docs, generator=torch.Generator().manual_seed(0) if generator == "torch" else generator)
    assert again == pairs


def test_nsp_needs_two_documents():
    with pytest.raises(ValueError, match="at least two non-empty documents"):
        make_nsp_pairs([["a", "b", "c"], []])
