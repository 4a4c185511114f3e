"""Tier clauses (spec/tiers.yaml): task-level accuracy of the port on a real checkpoint, per accuracy tier.

One clause per criterion, ``tiers.<tier>.<metric>``: the port loads all-MiniLM-L6-v2 (the ``minilm`` extra;
skipped-env without it) as BertModel in the tier's dtype, runs the fixed corpus of spec/tiers_corpus.yaml, and
the metric (``bert_conformance.tiers.measure``: cosine of token and sentence embeddings, Spearman of pair
similarities, agreement of a seeded classifier and of a tied masked-LM decoder, max-abs errors) against the
float64 oracle must be on the good side of the threshold. A port claims its declared tier (``capabilities()
["tier"]``; none: exact) and every looser one; stricter tiers are *not claimed*. The corpus runs once per
process per (port, dtype): the clauses of one tier share it.

Every result carries ``bert_tier`` in its user properties (metric, value, threshold, margin, the measurement
the threshold rests on), pass or fail; a failure says the same in its message.

Clause ids run here that this module does not write out, by test function (tools/clause_hops.py):
    tiers.*  test_tier
"""

from __future__ import annotations

from typing import Any

import pytest

from bert_conformance import tiers
from bert_conformance.adapter import Port
from bert_conformance.golden.minilm import GoldenUnavailable
from bert_conformance.oracle import Oracle
from bert_conformance.plugin import clause_params

SPEC = tiers.tiers_spec()
CLAUSES = [{"id": c.id, "criterion": c, "tier": t} for t in SPEC.tiers for c in t.criteria]
# (id of the port object, dtype) -> (the object, kept alive so its id is not reused; the metrics of its run):
# one run per process whatever the number of clauses
_MEASURED: dict[tuple[int, str], tuple[Any, dict[str, float]]] = {}


def _requires(clause: dict[str, Any]) -> dict[str, Any]:
    tier: tiers.Tier = clause["tier"]
    return {"tier": tier.name, "head": "BertModel", "dtype": tier.dtype, "device": "cpu"}


def measured(port: Port, oracle: Oracle, dtype: str) -> dict[str, float]:
    """The port's metrics on the corpus in ``dtype`` (computed once per process)."""
    key = (id(port.impl), dtype)
    if key not in _MEASURED:
        if oracle.name != "reference":  # before any work: the golden fixtures hold no corpus outputs
            pytest.skip("needs the live oracle (the tier corpus is not a golden case)")
        try:
            checkpoint, corpus = tiers.checkpoint(), tiers.corpus()
        except GoldenUnavailable as error:
            pytest.skip(str(error))
        expected = tiers.run(
            lambda batch: oracle.forward("BertModel", checkpoint.config, checkpoint.state_dict, batch), corpus
        )
        model = port.load_model("BertModel", checkpoint.config, checkpoint.state_dict, dtype=dtype, device="cpu")
        actual = tiers.run(model.forward, corpus)
        embeddings = checkpoint.state_dict["embeddings.word_embeddings.weight"]
        _MEASURED[key] = (port.impl, tiers.measure(actual, expected, embeddings))
    return _MEASURED[key][1]


@pytest.mark.parametrize("clause", clause_params(CLAUSES, requires=_requires))
def test_tier(clause: dict[str, Any], bert_impl: Port, oracle: Oracle, request: pytest.FixtureRequest) -> None:
    criterion: tiers.Criterion = clause["criterion"]
    metric = criterion.metric
    value = measured(bert_impl, oracle, clause["tier"].dtype)[metric.name]
    margin = metric.margin(value, criterion.threshold)
    request.node.user_properties.append(("bert_tier", {
        "tier": criterion.tier, "metric": metric.name, "kind": metric.kind, "value": value,
        "threshold": criterion.threshold, "margin": margin, "measured": criterion.measured,
        "measured_on": criterion.measured_on,
    }))
    side = ">=" if metric.kind == "similarity" else "<="
    assert metric.passes(value, criterion.threshold), (
        f"{criterion.id}: {metric.name} = {value:.9g}, the tier needs {side} {criterion.threshold:.9g} "
        f"(margin {margin:.3g}); the threshold rests on {criterion.measured:.9g} measured on "
        f"{criterion.measured_on} ({criterion.margin}). {metric.text}"
    )
