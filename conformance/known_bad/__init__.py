"""The known-bad corpus: ports of BERT with ONE realistic bug each, every one killed by named clauses.

``CORPUS`` maps an id (``<area>.<name>``) to its port class; each has a one-line ``description`` and
``kills``, the test ids (``<clause id>`` or ``<clause id>-<variant>``) that must fail against it. Run one::

    pytest --pyargs bert_conformance.clauses --bert-impl bert_conformance.known_bad:attention.scale_missing

tests/test_known_bad.py proves every port is killed (and the reference is not); tools/traceability.py turns
the corpus into docs/traceability.md; docs/known-bad.md explains the rules.
"""

from __future__ import annotations

from bert_conformance.known_bad import (
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
from bert_conformance.known_bad._base import KnownBadError, KnownBadPort
from bert_conformance.known_bad.probe import verify

# Model internals first (patches of the loaded module), then the areas whose bugs sit at the adapter boundary.
AREAS = (embeddings, attention, layer, head_layers, weights, cache, dtype,
         core, config, heads, parameters, numerics, labels, properties, decoder, gradients, tokenizer, data, device,
         surface, hostile, tiers)
CORPUS: dict[str, type[KnownBadPort]] = {port.id: port for area in AREAS for port in area.MUTANTS}


def _check_addresses() -> None:
    """``bert_conformance.known_bad:<id>`` must reach each port (a module-level name can shadow a short name)."""
    for area in AREAS:
        for port in area.MUTANTS:
            found = getattr(area, port.id.split(".", 1)[1], None)
            if found is not port:
                raise KnownBadError(f"bert_conformance.known_bad:{port.id} resolves to {found!r}, not {port.__name__}")
    if len(CORPUS) != sum(len(area.MUTANTS) for area in AREAS):
        raise KnownBadError("two known-bad ports share an id")


_check_addresses()

__all__ = ["AREAS", "CORPUS", "KnownBadPort", "KnownBadError", "verify"]
