"""The known-bad corpus: ports of BERT with ONE realistic bug each, every one killed by named clauses.

``CORPUS`` maps an id (``<area>.<name>``) to its port class; each has a one-line ``description`` and
``kills``, the test ids (``<clause id>`` or ``<clause id>-<variant>``) that must fail against it. Run one::

    pytest --pyargs bert_conformance.clauses --bert-impl bert_conformance.mutants:attention.scale_missing

tests/test_mutants.py proves every port is killed (and the reference is not); tools/traceability.py turns
the corpus into docs/traceability.md; docs/mutants.md explains the rules.
"""

from __future__ import annotations

from bert_conformance.mutants import (
    attention,
    cache,
    config,
    core,
    data,
    decoder,
    device,
    dtype,
    embeddings,
    gradients,
    head_layers,
    heads,
    hostile,
    labels,
    layer,
    numerics,
    parameters,
    properties,
    surface,
    tiers,
    tokenizer,
    weights,
)
from bert_conformance.mutants._base import BadPort, MutantError
from bert_conformance.mutants.probe import verify

# Model internals first (patches of the loaded module), then the areas whose bugs sit at the adapter boundary.
AREAS = (embeddings, attention, layer, head_layers, weights, cache, dtype,
         core, config, heads, parameters, numerics, labels, properties, decoder, gradients, tokenizer, data, device,
         surface, hostile, tiers)
CORPUS: dict[str, type[BadPort]] = {port.id: port for area in AREAS for port in area.MUTANTS}


def _check_addresses() -> None:
    """``bert_conformance.mutants:<id>`` must reach each port (a module-level name can shadow a short name)."""
    for area in AREAS:
        for port in area.MUTANTS:
            found = getattr(area, port.id.split(".", 1)[1], None)
            if found is not port:
                raise MutantError(f"bert_conformance.mutants:{port.id} resolves to {found!r}, not {port.__name__}")
    if len(CORPUS) != sum(len(area.MUTANTS) for area in AREAS):
        raise MutantError("two known-bad ports share an id")


_check_addresses()

__all__ = ["AREAS", "CORPUS", "BadPort", "MutantError", "verify"]
