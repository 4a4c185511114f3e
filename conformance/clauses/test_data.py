"""Masked-LM and next-sentence data clauses (spec/labels.yaml, section ``data``), checked statistically.

A port claiming feature ``data`` provides ``mask_tokens(input_ids, special_tokens_mask, *, vocab_size,
mask_token_id, seed) -> (masked_ids, labels)``; feature ``nsp_data`` provides ``make_nsp_pairs(documents, *,
seed) -> [(sentence_a, sentence_b, label)]`` (docs/adapters.md, "Tokenizer and data clauses").

Inputs and the seeds passed to the port are fixed, so a run is reproducible. Every rate is checked against
a two-sided binomial interval of ``Z`` standard deviations (normal approximation; a conforming port falls
outside one with probability about 7e-6), and the random replacement ids with a chi-square test at the same
level (Wilson-Hilferty). Each failure message states the interval and the sample size.

Test ids: ``labels.data.mlm_masking-<what>`` and ``labels.data.nsp_pairs-<what>``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from bert_conformance.clauses.pytest_helpers import Variant, by_id, params, spec_clauses

CLAUSES = by_id(spec_clauses("labels", "data"))
Z = 4.5
SEED = 1234  # passed to the port
# The masking batch: [CLS] A [SEP] B [SEP] [PAD]... rows; text ids never collide with the special ids.
PAD, UNK, CLS, SEP, MASK = range(5)
VOCAB_SIZE, ROWS, SEQ = 30, 800, 256  # a small vocabulary: many draws per id for the uniformity test
MLM_CHECKS = ("selection", "replacement", "random_ids", "never_masked", "labels")
NSP_CHECKS = ("random_fraction", "label_meaning")


def _params(clause_id: str, feature: str, checks: tuple[str, ...]) -> list[Any]:
    """``(clause, check)`` per check, id ``<clause id>-<check>``; the port must claim ``feature``."""
    return params([CLAUSES[clause_id]], requires={"feature": feature},
                  variants=lambda clause: [Variant(check, (check,)) for check in checks])


def interval(p: float, n: int) -> tuple[float, float]:
    """The two-sided Z-sigma binomial interval of a rate p over n trials."""
    half = Z * math.sqrt(p * (1 - p) / n)
    return p - half, p + half


def check_rate(what: str, hits: int, n: int, p: float) -> None:
    __tracebackhide__ = True
    assert n > 0, f"{what}: no trials to measure"
    low, high = interval(p, n)
    assert low <= hits / n <= high, (
        f"{what}: {hits}/{n} = {hits / n:.4f}, outside the {Z}-sigma binomial interval "
        f"[{low:.4f}, {high:.4f}] around {p} (n = {n})"
    )


def chi_square_limit(df: int) -> float:
    """The chi-square value exceeded with the probability of a Z-sigma normal tail (Wilson-Hilferty)."""
    c = 2 / (9 * df)
    return df * (1 - c + Z * math.sqrt(c)) ** 3


# --- masked-LM masking --------------------------------------------------------------------------------------


def masking_batch() -> tuple[np.ndarray, np.ndarray]:
    """input_ids int64 [ROWS, SEQ] and the special_tokens_mask a tokenizer gives (1 at [CLS] [SEP] [PAD])."""
    rng = np.random.default_rng(0)
    ids = rng.integers(MASK + 1, VOCAB_SIZE, size=(ROWS, SEQ), dtype=np.int64)
    special = np.zeros((ROWS, SEQ), dtype=np.int64)
    for row in range(ROWS):
        length = int(rng.integers(8, SEQ + 1))
        first = int(rng.integers(1, length - 3))
        ids[row, [0, first, length - 1]] = [CLS, SEP, SEP]
        ids[row, length:] = PAD
        special[row, [0, first, length - 1]] = 1
        special[row, length:] = 1
    return ids, special


def _mask(bert_impl: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(input_ids, special_tokens_mask, masked_ids, labels), the port's outputs checked at the boundary."""
    __tracebackhide__ = True
    assert callable(getattr(bert_impl.impl, "mask_tokens", None)), (
        f"{bert_impl.name} claims data: no mask_tokens()"
    )
    ids, special = masking_batch()
    given = ids.copy()
    out = bert_impl.impl.mask_tokens(
        given, special.copy(), vocab_size=VOCAB_SIZE, mask_token_id=MASK, seed=SEED
    )
    assert isinstance(out, tuple) and len(out) == 2, (
        f"mask_tokens returned {type(out).__name__}; want (ids, labels)"
    )
    for name, value in zip(("masked_ids", "labels"), out):
        assert isinstance(value, np.ndarray), (
            f"{name}: {type(value).__module__}.{type(value).__name__}, want numpy"
        )
        assert value.dtype == np.int64 and value.shape == ids.shape, (
            f"{name}: {value.dtype} {list(value.shape)}, want int64 {list(ids.shape)}"
        )
    assert np.array_equal(given, ids), "mask_tokens modified its input_ids argument"
    return ids, special, out[0], out[1]


@pytest.mark.parametrize(("clause", "check"), _params("labels.data.mlm_masking", "data", MLM_CHECKS))
def test_mlm_masking(clause, check, bert_impl):
    ids, special, masked, labels = _mask(bert_impl)
    unmasked = clause["unmasked_label"]
    eligible = special == 0
    selected = (labels != unmasked) & eligible
    if check == "selection":
        check_rate(
            "selected tokens among text tokens",
            int(selected.sum()),
            int(eligible.sum()),
            clause["mask_probability"],
        )
    elif check == "replacement":
        _check_replacement(clause["replace"], ids[selected], masked[selected])
    elif check == "random_ids":
        _check_random_ids(clause["random_token_range"], ids[selected], masked[selected])
    elif check == "never_masked":
        changed = int((masked[~eligible] != ids[~eligible]).sum())
        labelled = int((labels[~eligible] != unmasked).sum())
        assert changed == labelled == 0, (
            f"special and padding positions ({int((~eligible).sum())}): {changed} changed, {labelled} with "
            f"a label other than {unmasked}"
        )
    else:
        _check_labels(unmasked, ids, masked, labels)


def _check_replacement(replace: dict[str, float], original: np.ndarray, out: np.ndarray) -> None:
    """[MASK], random or kept, among the selected; a random draw equals [MASK] or the original 1/V each."""
    __tracebackhide__ = True
    n, chance = len(original), replace["random"] / VOCAB_SIZE
    is_mask, is_kept = out == MASK, out == original
    check_rate("selected tokens replaced by [MASK]", int(is_mask.sum()), n, replace["mask"] + chance)
    check_rate("selected tokens kept", int(is_kept.sum()), n, replace["keep"] + chance)
    check_rate(
        "selected tokens replaced by another id",
        int((~is_mask & ~is_kept).sum()),
        n,
        replace["random"] * (VOCAB_SIZE - 2) / VOCAB_SIZE,
    )


def _check_random_ids(token_range: list[Any], original: np.ndarray, out: np.ndarray) -> None:
    """Random replacements lie in [0, vocab_size) and are uniform there (excluding [MASK] and the original id,
    which cannot be told from the other two outcomes)."""
    __tracebackhide__ = True
    assert token_range == [0, "vocab_size"], f"the spec's random_token_range changed: {token_range}"
    other = (out != MASK) & (out != original)
    drawn, source = out[other], original[other]
    outside = drawn[(drawn < 0) | (drawn >= VOCAB_SIZE)]
    assert not len(outside), f"random ids outside [0, {VOCAB_SIZE}): {sorted(set(outside.tolist()))[:10]}"
    assert len(drawn), "no selected token was replaced by a random id"
    observed = np.bincount(drawn, minlength=VOCAB_SIZE).astype(float)
    expected = (len(drawn) - np.bincount(source, minlength=VOCAB_SIZE)) / (VOCAB_SIZE - 2)
    values = np.arange(VOCAB_SIZE) != MASK
    statistic = float((((observed - expected) ** 2)[values] / expected[values]).sum())
    limit = chi_square_limit(VOCAB_SIZE - 2)
    assert statistic <= limit, (
        f"random ids are not uniform over [0, {VOCAB_SIZE}): chi-square {statistic:.1f} > {limit:.1f} "
        f"({VOCAB_SIZE - 2} degrees of freedom, n = {len(drawn)}); least drawn ids: "
        f"{[int(i) for i in np.argsort(observed / np.maximum(expected, 1e-9)) if values[i]][:5]}"
    )


def _check_labels(unmasked: int, ids: np.ndarray, masked: np.ndarray, labels: np.ndarray) -> None:
    """A label is the original id where a token was selected, ``unmasked`` (-100) everywhere else; unselected
    tokens are unchanged."""
    __tracebackhide__ = True
    chosen = labels != unmasked
    wrong = int((labels[chosen] != ids[chosen]).sum())
    assert wrong == 0, (
        f"{wrong} of {int(chosen.sum())} labels other than {unmasked} differ from the original id "
        f"(e.g. {labels[chosen][labels[chosen] != ids[chosen]][:5].tolist()})"
    )
    changed = int((masked[~chosen] != ids[~chosen]).sum())
    assert changed == 0, f"{changed} tokens with label {unmasked} (not selected) were changed"


# --- next-sentence pairs ------------------------------------------------------------------------------------


def documents() -> list[list[str]]:
    """300 documents of 2 to 12 distinct sentences: a sentence names its document and position."""
    rng = np.random.default_rng(1)
    return [[f"d{d}s{s}" for s in range(int(rng.integers(2, 13)))] for d in range(300)]


@pytest.mark.parametrize(("clause", "check"), _params("labels.data.nsp_pairs", "nsp_data", NSP_CHECKS))
def test_nsp_pairs(clause, check, bert_impl):
    assert callable(getattr(bert_impl.impl, "make_nsp_pairs", None)), f"{bert_impl.name}: no make_nsp_pairs()"
    docs = documents()
    where = {sentence: (d, s) for d, doc in enumerate(docs) for s, sentence in enumerate(doc)}
    pairs = list(bert_impl.impl.make_nsp_pairs([list(doc) for doc in docs], seed=SEED))
    assert pairs, "make_nsp_pairs returned no pairs"
    for pair in pairs:
        assert len(pair) == 3 and pair[0] in where and pair[1] in where, (
            f"not (sentence_a, sentence_b, label): {pair!r}"
        )
    labels = [int(label) for _, _, label in pairs]
    random, continuation = clause["label_for_random"], clause["label_for_continuation"]
    assert set(labels) <= {random, continuation}, (
        f"labels {sorted(set(labels))}, want {continuation} and {random}"
    )
    if check == "random_fraction":
        check_rate(
            f"pairs with label {random} (random sentence)",
            labels.count(random),
            len(pairs),
            clause["random_next_probability"],
        )
        return
    wrong = []
    for a, b, label in pairs:
        (doc_a, pos_a), (doc_b, pos_b) = where[a], where[b]
        follows = doc_b == doc_a and pos_b == pos_a + 1
        if (label == continuation and not follows) or (label == random and doc_b == doc_a):
            wrong.append((a, b, label))
    assert not wrong, (
        f"{len(wrong)} of {len(pairs)} pairs break label {continuation} = B follows A in its "
        f"document, {random} = B from another document: {wrong[:4]}"
    )
