"""Known-bad ports for conformance/clauses/test_data.py: the reference's masked-LM masking or next-sentence
pairing (bert_reference.data) with ONE realistic bug each. ``kills`` are test ids that must fail."""

from __future__ import annotations

from typing import Any

import numpy as np

from bert_conformance.known_bad._base import KnownBadPort, entries, register, resolver
from bert_reference.data import make_nsp_pairs, mask_tokens


class DataKnownBadPort(KnownBadPort):
    """The reference data functions; :meth:`masking` gives mask_tokens' keyword arguments."""

    def mask_tokens(self, input_ids, special_tokens_mask, *, vocab_size, mask_token_id, seed):
        kwargs = {"special_tokens_mask": special_tokens_mask, **self.masking()}
        return mask_tokens(
            input_ids, mask_token_id=mask_token_id, vocab_size=vocab_size, generator=seed, **kwargs
        )

    def masking(self) -> dict[str, Any]:
        return {}


class MaskTwentyPercent(DataKnownBadPort):
    description = "selects 20 % of the tokens instead of 15 %"
    kills = ("labels.data.mlm_masking-selection",)

    def masking(self) -> dict[str, Any]:
        return {"mlm_probability": 0.2}


class AlwaysMask(DataKnownBadPort):
    description = "every selected token becomes [MASK] (no 10 % random, no 10 % kept)"
    kills = ("labels.data.mlm_masking-replacement", "labels.data.mlm_masking-random_ids")

    def masking(self) -> dict[str, Any]:
        return {"mask_replace_prob": 1.0, "random_replace_prob": 0.0}


class MasksSpecialTokens(DataKnownBadPort):
    description = "ignores special_tokens_mask: [CLS], [SEP] and [PAD] can be selected"
    kills = ("labels.data.mlm_masking-never_masked",)

    def masking(self) -> dict[str, Any]:
        return {"special_tokens_mask": None}


class LabelsZero(DataKnownBadPort):
    description = "unselected positions get label 0 instead of -100"
    kills = (  # every position then looks selected
        "labels.data.mlm_masking-labels",
        "labels.data.mlm_masking-never_masked",
        "labels.data.mlm_masking-replacement",
        "labels.data.mlm_masking-selection",
    )

    def mask_tokens(self, input_ids, special_tokens_mask, **kwargs):
        masked, labels = super().mask_tokens(input_ids, special_tokens_mask, **kwargs)
        return masked, np.where(labels == -100, 0, labels)


class RandomIdsSkipSpecials(DataKnownBadPort):
    description = "random replacement ids drawn from [5, vocab_size): special ids never drawn"
    kills = ("labels.data.mlm_masking-random_ids",)

    def mask_tokens(self, input_ids, special_tokens_mask, *, vocab_size, mask_token_id, seed):
        masked, labels = super().mask_tokens(
            input_ids, special_tokens_mask, vocab_size=vocab_size, mask_token_id=mask_token_id, seed=seed
        )
        drawn = (labels != -100) & (masked != mask_token_id) & (masked != input_ids)
        rng = np.random.default_rng(seed + 1)
        masked[drawn] = rng.integers(5, vocab_size, size=int(drawn.sum()))
        return masked, labels


class NspLabelsInverted(KnownBadPort):
    description = "next-sentence label 1 for the true continuation and 0 for a random sentence"
    kills = ("labels.data.nsp_pairs-label_meaning",)

    def make_nsp_pairs(self, documents, *, seed):
        return [(a, b, 1 - label) for a, b, label in make_nsp_pairs(documents, generator=seed)]


class NspQuarterRandom(KnownBadPort):
    description = "one pair in four takes a random sentence (label 1) instead of one in two"
    kills = ("labels.data.nsp_pairs-random_fraction",)

    def make_nsp_pairs(self, documents, *, seed):
        rng = np.random.default_rng(seed)
        pairs = []
        for index, document in enumerate(documents):
            others = [s for j, d in enumerate(documents) if j != index for s in d]
            for a, b in zip(document, document[1:]):
                random = rng.random() < 0.25
                pairs.append((a, others[rng.integers(len(others))], 1) if random else (a, b, 0))
        return pairs


MUTANTS = register(
    "data",
    MaskTwentyPercent,
    AlwaysMask,
    MasksSpecialTokens,
    LabelsZero,
    RandomIdsSkipSpecials,
    NspLabelsInverted,
    NspQuarterRandom,
)
PORTS = entries("data", *MUTANTS)
__getattr__ = resolver(MUTANTS)
