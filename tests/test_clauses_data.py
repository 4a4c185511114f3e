"""conformance/clauses/test_data.py does not fail by chance: each known-bad port of
``bert_conformance.known_bad.data`` fails exactly the clauses it breaks and no other (statistical clauses could
fail a port for the wrong reason), the reference passes every clause (and every statistical check on many
seeds), transformers passes the masking clauses and does not claim next-sentence pairs."""

from __future__ import annotations

import numpy as np
import pytest
from known_bad_runs import run_module, statuses

import bert_conformance.adapters.reference  # noqa: F401 - keep it in pytester's module snapshot
import bert_conformance.clauses.test_data as module
import bert_conformance.spec  # noqa: F401 - in the snapshot too: pytester drops modules an inner run imports
from bert_conformance.adapter import load_implementation
from bert_conformance.clauses.pytest_helpers import NOT_TESTED, parametrized_clauses
from bert_conformance.known_bad import data as bad

pytest_plugins = ["pytester"]


def test_every_data_clause_is_tested():
    assert parametrized_clauses(module) == set(module.CLAUSES) == {"labels.data.mlm_masking", "labels.data.nsp_pairs"}
    assert not set(module.CLAUSES) & set(NOT_TESTED)


def test_reference_passes_every_clause(pytester):
    result, data = run_module(pytester, "test_data", "reference")
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert set(statuses(data).values()) == {"pass"} and len(data["clauses"]) == 7


def test_transformers_claims_masking_only(pytester):
    pytest.importorskip("transformers", reason="the transformers port needs transformers")
    result, data = run_module(pytester, "test_data", "transformers")
    assert result.ret == 0, result.stdout.str()[-3000:]
    found = statuses(data)
    assert {k for k, v in found.items() if v == "pass"} == {
        f"labels.data.mlm_masking-{c}" for c in module.MLM_CHECKS
    }
    assert {k for k, v in found.items() if v == "not-claimed"} == {
        f"labels.data.nsp_pairs-{c}" for c in module.NSP_CHECKS
    }


@pytest.mark.parametrize("impl", ["reference", "transformers"])
def test_statistical_checks_hold_on_other_seeds(impl, monkeypatch):
    """A conforming port passes on 20 more seeds: the intervals are not tuned to one draw."""
    if impl == "transformers":
        pytest.importorskip("transformers", reason="the transformers port needs transformers")
    port = load_implementation(impl)
    clause = module.CLAUSES["labels.data.mlm_masking"]
    for seed in range(20):
        monkeypatch.setattr(module, "SEED", 100 + seed)
        ids, special, masked, labels = module._mask(port)
        eligible = special == 0
        selected = (labels != -100) & eligible
        module.check_rate("selected", int(selected.sum()), int(eligible.sum()), clause["mask_probability"])
        module._check_replacement(clause["replace"], ids[selected], masked[selected])
        module._check_random_ids(clause["random_token_range"], ids[selected], masked[selected])
        module._check_labels(-100, ids, masked, labels)
        if impl == "reference":
            pairs = port.impl.make_nsp_pairs(module.documents(), seed=100 + seed)
            randoms = sum(label for _, _, label in pairs)
            module.check_rate("random pairs", randoms, len(pairs), 0.5)


def test_intervals():
    low, high = module.interval(0.15, 10_000)
    assert low < 0.15 < high and np.isclose(high - 0.15, module.Z * np.sqrt(0.15 * 0.85 / 10_000))
    with pytest.raises(AssertionError, match=r"outside the 4.5-sigma binomial interval .* \(n = 10000\)"):
        module.check_rate("rate", 2000, 10_000, 0.15)


def test_chi_square_limit_matches_the_exact_quantile():
    """Wilson-Hilferty vs the exact chi-square quantile at the one-sided tail of Z sigmas."""
    stats = pytest.importorskip("scipy.stats", reason="scipy (the exact quantile) is not installed")
    for df in (28, 98):
        exact = stats.chi2.isf(stats.norm.sf(module.Z), df)
        assert abs(module.chi_square_limit(df) - exact) < 0.01 * exact


@pytest.mark.parametrize("entry", bad.PORTS, ids=[e["id"] for e in bad.PORTS])
def test_known_bad_port_fails_the_clauses_it_breaks(pytester, entry):
    assert entry["description"] and entry["kills"]
    result, data = run_module(pytester, "test_data", f"bert_conformance.known_bad.data:{entry['port']}")
    found = statuses(data)
    assert {test_id: found.get(test_id) for test_id in entry["kills"]} == dict.fromkeys(
        entry["kills"], "fail"
    )
    assert {test_id for test_id, status in found.items() if status == "fail"} == set(entry["kills"])
