"""Pre-training data: MLM masking and NSP sentence pairs, deterministic given a seed or generator.

`mask_tokens` follows transformers' DataCollatorForLanguageModeling draw for draw (Bernoulli per token, then
80 % [MASK] / 10 % random token / 10 % unchanged among the selected), so with the same seeded generator it gives
the collator's exact output: numpy arrays use a numpy Generator, torch tensors a torch Generator. Special and
padding tokens are never selected; labels are -100 wherever no token was selected.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, TypeVar

import numpy as np
import torch

IGNORE_INDEX = -100  # labels.ignore_index: the label of every position that was not selected
Ids = TypeVar("Ids", np.ndarray, torch.Tensor)
Generator = int | np.random.Generator | torch.Generator | None


def mask_tokens(
    input_ids: Ids,
    *,
    mask_token_id: int,
    vocab_size: int,
    special_tokens_mask: Any = None,
    special_token_ids: Iterable[int] = (),
    pad_token_id: int | None = None,
    mlm_probability: float = 0.15,
    mask_replace_prob: float = 0.8,
    random_replace_prob: float = 0.1,
    generator: Generator = None,
) -> tuple[Ids, Ids]:
    """Return (masked input_ids, labels); the input is not modified (labels.data.mlm_masking).

    Tokens flagged by `special_tokens_mask`, equal to one of `special_token_ids` or to `pad_token_id` are
    never selected. `generator`: an int seed, a numpy Generator (numpy input) or a torch Generator (torch input).
    """
    _check_probabilities(mlm_probability, mask_replace_prob, random_replace_prob)
    if isinstance(input_ids, torch.Tensor):  # drawn on the CPU (like the collator), returned on the input's device
        if input_ids.dtype.is_floating_point or input_ids.dtype == torch.bool:
            raise ValueError(f"input_ids must hold integers, got dtype {input_ids.dtype}")
        ids = input_ids.cpu()
        protected = _protected(ids.numpy(), special_tokens_mask, special_token_ids, pad_token_id)
        masked, labels = _mask_torch(ids, torch.from_numpy(protected), mask_token_id, vocab_size, mlm_probability,
                                     mask_replace_prob, random_replace_prob, _torch_generator(generator))
        return masked.to(input_ids.device), labels.to(input_ids.device)
    input_ids = np.asarray(input_ids)
    if not np.issubdtype(input_ids.dtype, np.integer):
        raise ValueError(f"input_ids must hold integers, got dtype {input_ids.dtype}")
    protected = _protected(input_ids, special_tokens_mask, special_token_ids, pad_token_id)
    return _mask_numpy(input_ids, protected, mask_token_id, vocab_size, mlm_probability, mask_replace_prob,
                       random_replace_prob, _numpy_generator(generator))


def _check_probabilities(mlm: float, replace: float, random: float) -> None:
    for name, value in (("mlm_probability", mlm), ("mask_replace_prob", replace), ("random_replace_prob", random)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    if replace + random > 1.0:
        raise ValueError(f"mask_replace_prob + random_replace_prob must be <= 1, got {replace + random}")


def _protected(ids: np.ndarray, special_tokens_mask: Any, special_ids: Iterable[int], pad_id: int | None) -> np.ndarray:
    protected = np.isin(ids, list(special_ids))
    if pad_id is not None:
        protected |= ids == pad_id
    if special_tokens_mask is not None:
        mask = np.asarray(special_tokens_mask.cpu() if isinstance(special_tokens_mask, torch.Tensor) else special_tokens_mask)
        if mask.shape != ids.shape:
            raise ValueError(f"special_tokens_mask must have the shape of input_ids {ids.shape}, got {mask.shape}")
        protected |= mask.astype(bool)
    return protected


def _mask_torch(ids, protected, mask_id, vocab_size, p_mlm, p_replace, p_random, generator):
    inputs, labels = ids.clone(), ids.clone()
    probability = torch.full(labels.shape, p_mlm).masked_fill_(protected, 0.0)
    selected = torch.bernoulli(probability, generator=generator).bool()
    labels[~selected] = IGNORE_INDEX
    # 80 % of the selected become [MASK], half the rest (10 %) a random id, the rest (10 %) stay unchanged.
    replaced = torch.bernoulli(torch.full(labels.shape, p_replace), generator=generator).bool() & selected
    inputs[replaced] = mask_id
    if p_replace == 1 or p_random == 0:
        return inputs, labels
    scaled = p_random / (1 - p_replace)  # of the tokens not replaced by [MASK]
    randomised = torch.bernoulli(torch.full(labels.shape, scaled), generator=generator).bool() & selected & ~replaced
    words = torch.randint(vocab_size, labels.shape, dtype=torch.long, generator=generator)
    inputs[randomised] = words[randomised].to(inputs.dtype)
    return inputs, labels


def _mask_numpy(ids, protected, mask_id, vocab_size, p_mlm, p_replace, p_random, generator):
    inputs, labels = ids.copy(), ids.copy()
    probability = np.full(labels.shape, p_mlm)
    probability[protected] = 0
    selected = generator.binomial(1, probability, size=probability.shape).astype(bool)
    labels[~selected] = IGNORE_INDEX
    replaced = generator.binomial(1, p_replace, size=labels.shape).astype(bool) & selected
    inputs[replaced] = mask_id
    if p_replace == 1 or p_random == 0:
        return inputs, labels
    scaled = p_random / (1 - p_replace)
    randomised = generator.binomial(1, scaled, size=labels.shape).astype(bool) & selected & ~replaced
    inputs[randomised] = generator.integers(0, vocab_size, size=np.count_nonzero(randomised), dtype=np.int64)
    return inputs, labels


def _torch_generator(generator: Generator) -> torch.Generator:
    if isinstance(generator, torch.Generator):
        return generator
    if generator is None or isinstance(generator, int):
        return torch.Generator().manual_seed(0 if generator is None else generator)
    raise ValueError(f"generator for torch input must be an int seed or a torch.Generator, got {type(generator).__name__}")


def _numpy_generator(generator: Generator) -> np.random.Generator:
    if isinstance(generator, np.random.Generator):
        return generator
    if generator is None or isinstance(generator, int):
        return np.random.default_rng(0 if generator is None else generator)
    raise ValueError(f"generator for numpy input must be an int seed or a numpy Generator, got {type(generator).__name__}")


Sentence = TypeVar("Sentence")


class NSPPair(NamedTuple):
    sentence_a: Any
    sentence_b: Any
    label: int  # labels.nsp.meaning: 0 = B continues A (IsNext), 1 = B is random, from another document


def make_nsp_pairs(documents: Sequence[Sequence[Sentence]], *, generator: Generator = None) -> list[NSPPair]:
    """One pair per consecutive sentence pair of every document: with probability 1/2 the true next sentence
    (label 0), otherwise a uniformly drawn sentence of another document (label 1): labels.data.nsp_pairs."""
    if sum(1 for document in documents if len(document) > 0) < 2:
        raise ValueError("documents: NSP needs at least two non-empty documents (random sentences come from another one)")
    rng = generator if isinstance(generator, torch.Generator) else _numpy_generator(generator)
    pairs = []
    for index, document in enumerate(documents):
        for position in range(len(document) - 1):
            if _uniform(rng) < 0.5:
                pairs.append(NSPPair(document[position], document[position + 1], 0))
            else:
                pairs.append(NSPPair(document[position], _random_sentence(documents, index, rng), 1))
    return pairs


def _uniform(rng: np.random.Generator | torch.Generator) -> float:
    if isinstance(rng, torch.Generator):
        return torch.rand((), generator=rng).item()
    return float(rng.random())


def _integer(rng: np.random.Generator | torch.Generator, high: int) -> int:
    if isinstance(rng, torch.Generator):
        return int(torch.randint(high, (), generator=rng).item())
    return int(rng.integers(high))


def _random_sentence(documents: Sequence[Sequence[Sentence]], exclude: int, rng) -> Sentence:
    """A sentence drawn uniformly from the documents other than `exclude`."""
    others = [(i, len(document)) for i, document in enumerate(documents) if i != exclude and len(document) > 0]
    total = sum(length for _, length in others)
    pick = _integer(rng, total)
    for index, length in others:
        if pick < length:
            return documents[index][pick]
        pick -= length
    raise AssertionError("unreachable")
