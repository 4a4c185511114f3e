"""Signature matching: does the port behave like a known bug, probe for probe?

A candidate (a catalogue variant, or a port of the known-bad corpus) *matches* when, on every probe the port
ran, the port's outputs are within the port's tolerance of the candidate's (the spec's tolerance for the
port's dtype, as for the oracle, or its tier's similarity criteria), and both raise on the same probes. The reported error is the largest
error ratio over those probes (<= 1). Candidates run in float64; a candidate's outputs are cached per
process, and a candidate is dropped at the first probe it disagrees on, starting with the probes the port
fails, so matching costs about one model call per candidate.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest

from bert_conformance.adapter import Port
from bert_conformance.diagnosis.localise import CONTRACT_KINDS, ERROR, SKIPPED, ProbeResult, call, compare
from bert_conformance.diagnosis.probes import Probe
from bert_conformance.diagnosis.standard import Standard, tolerance

_OUTPUTS: dict[tuple[str, str], Any] = {}  # (candidate, probe) -> outputs, or the exception it raised
_PORTS: dict[str, Port] = {}


@dataclass(frozen=True)
class Match:
    """A candidate the port agrees with on every probe it ran."""

    name: str
    description: str
    component: str | None
    error: float  # the largest error ratio over the probes (<= 1: within tolerance)


@dataclass(frozen=True)
class Candidate:
    name: str
    description: str
    component: str | None
    make: Callable[[], Port]


def catalogue_candidates() -> list[Candidate]:
    from bert_conformance.diagnosis.variants import CATALOGUE

    return [Candidate(v.name, v.description, v.component,
                      lambda v=v: Port(v.name, f"{__package__}.variants:{v.__name__}", v()))
            for v in CATALOGUE]


def corpus_candidates() -> list[Candidate]:
    """Every port of the known-bad corpus but those whose bug no forward call can show (tokenizer, data) and the
    quantized ones (their rounding is no signature: the catalogue names what they add to it)."""
    from bert_conformance.adapter import load_implementation
    from bert_conformance.diagnosis.known import COMPONENTS
    from bert_conformance.known_bad import CORPUS

    return [Candidate(pid, cls.description, COMPONENTS.get(pid),
                      lambda pid=pid: load_implementation(f"bert_conformance.known_bad:{pid}"))
            for pid, cls in CORPUS.items() if pid.split(".", 1)[0] not in ("tokenizer", "data", "tiers")]


def _outputs(candidate: Candidate, probe: Probe) -> Any:
    key = (candidate.name, probe.name)
    if key not in _OUTPUTS:
        if candidate.name not in _PORTS:
            _PORTS[candidate.name] = candidate.make()
        try:
            _OUTPUTS[key] = call(_PORTS[candidate.name], probe, "float64")
        except pytest.skip.Exception as skip:
            _OUTPUTS[key] = skip
        except Exception as error:  # the candidate raises here: the port must raise too
            _OUTPUTS[key] = error
    return _OUTPUTS[key]


def agrees(candidate: Candidate, results: list[ProbeResult], standard: Standard) -> float | None:
    """The largest error ratio between the port and ``candidate`` over the port's probes, or None if they
    disagree somewhere (failing probes first: they decide fastest).

    A probe on which the port raised is no evidence either way (the finding lists it): a port whose only
    other deviation is a known variant still gets that variant's name. At least one probe the port fails must
    have been compared, so a port that only raises matches nothing.
    """
    ran = [r for r in results if r.status != SKIPPED and r.probe.kind not in ("self", *CONTRACT_KINDS)]
    worst, evidence = 0.0, False
    for result in sorted(ran, key=lambda r: not r.failed):
        if result.status == ERROR:
            continue
        theirs = _outputs(candidate, result.probe)
        if isinstance(theirs, BaseException):  # raises (or cannot run) where the port returned outputs
            return None
        error, _ = compare(result.outputs, theirs, result.probe, tolerance(result.probe, standard))
        if error > 1:
            return None
        worst, evidence = max(worst, error), evidence or result.failed
    return worst if evidence else None


def matches(candidates: Iterable[Candidate], results: list[ProbeResult], standard: Standard, *,
            deadline: float) -> tuple[list[Match], bool]:
    """(the candidates the port agrees with, best first; whether every candidate was tried before ``deadline``)."""
    found, complete = [], True
    for candidate in candidates:
        if time.monotonic() > deadline:
            complete = False
            break
        error = agrees(candidate, results, standard)
        if error is not None:
            found.append(Match(candidate.name, candidate.description, candidate.component, error))
    return sorted(found, key=lambda m: m.error), complete
