"""Root-cause diagnosis of a failing port: WHERE it first diverges from BERT, and WHAT known bug it behaves like.

``diagnose(port)`` runs a battery of tiny probe models through the public adapter contract
(:mod:`~bert_conformance.diagnosis.probes`: each isolates one component by its config, weights and inputs),
compares each with the float64 oracle at the spec's tolerance, and localises the first component whose
output diverges (:mod:`~bert_conformance.diagnosis.localise`). It then matches the port's outputs on those
probes against a catalogue of common porting variants (:mod:`~bert_conformance.diagnosis.variants`) and the
known-bad corpus (:mod:`~bert_conformance.diagnosis.match`).

Diagnosis is evidence, never a verdict: it changes no clause status. docs/diagnosis.md explains the probes,
how to read a finding and how to add a variant.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bert_conformance.adapter import Port, load_implementation
from bert_conformance.diagnosis.localise import (
    SKIPPED,
    ProbeResult,
    first_diverging_layer,
    localise,
    run_battery,
)
from bert_conformance.diagnosis.match import Match, catalogue_candidates, corpus_candidates, matches
from bert_conformance.diagnosis.standard import Standard, port_standard
from bert_conformance.diagnosis.tokenizer_probes import TokenizerDiagnosis, run_probes

LOCALISE_SHARE = 0.6  # of the budget: the probes; the rest is for signature matching
# No signature to match: a port that raises on every probe, or whose outputs change from call to call.
UNMATCHABLE = ("contract", "contract.inputs", "contract.outputs", "model.eval_mode")


@dataclass
class Diagnosis:
    """What the probes found on one port (``component`` None: no deviation on any probe)."""

    port: str
    dtype: str
    component: str | None
    probe: str | None = None  # the first failing probe, which localises the component
    what: str = ""  # what that probe isolates
    worst: float = 0.0  # its error ratio (> 1 fails; inf: shape mismatch, missing output or an exception)
    max_abs: float = 0.0
    message: str = ""  # the exception the port raised on it, if any
    layer: int | None = None  # the first diverging entry of hidden_states (0: embeddings), when compared
    failing: list[str] = field(default_factory=list)  # every failing probe, in pipeline order
    skipped: list[str] = field(default_factory=list)  # probes not run: not claimed, or the budget spent
    variant: Match | None = None  # the best catalogue match
    variants: list[Match] = field(default_factory=list)
    known: list[Match] = field(default_factory=list)  # corpus ports it behaves like
    complete: bool = True  # every probe and candidate was tried within the budget
    seconds: float = 0.0
    tokenizer: TokenizerDiagnosis | None = None  # the tokenizer probes, for a port that claims a tokenizer
    tier: str | None = None  # a non-elementwise accuracy tier: probes held to its similarity criteria

    @property
    def standard(self) -> str:
        """What the error ratios are multiples of."""
        return f"the {self.tier} tier's token cosine criteria" if self.tier else f"the {self.dtype} tolerance"

    @property
    def finding(self) -> str | None:
        """One line for a report, or None for a port with no deviation."""
        if self.component is None:
            return None
        at = f", first at hidden_states[{self.layer}]" if self.layer is not None else ""
        where = f"first diverging component: {self.component} (probe {self.probe}: {self.what}{at}; {self._error()})"
        if self.variant is not None:
            return f"behaves like: {self.variant.name} ({self.variant.description}), to within " \
                   f"{self.variant.error:.2g} x {self.standard}; {where}"
        return f"unknown deviation localised to {self.component}; {where}"

    def _error(self) -> str:
        if self.message and self.component and self.component.startswith("contract."):
            return self.message  # what the contract probe saw (localise.contract_probe)
        if self.message:
            return f"raised {self.message}"
        return f"max abs error {self.max_abs:.3g}, {self.worst:.3g} x {self.standard}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (infinite errors as strings)."""
        def number(x: float) -> Any:
            return x if x == x and abs(x) != float("inf") else str(x)

        def match(m: Match | None) -> Any:
            return None if m is None else {"name": m.name, "description": m.description,
                                           "component": m.component, "error": number(m.error)}

        return {
            "port": self.port, "dtype": self.dtype, "tier": self.tier, "component": self.component, "finding": self.finding,
            "probe": self.probe, "what": self.what, "worst": number(self.worst), "max_abs": number(self.max_abs),
            "message": self.message, "layer": self.layer, "failing": self.failing, "skipped": self.skipped,
            "variant": match(self.variant), "variants": [match(m) for m in self.variants],
            "known": [match(m) for m in self.known], "complete": self.complete, "seconds": round(self.seconds, 3),
            "tokenizer": None if self.tokenizer is None else self.tokenizer.to_dict(),
        }


def diagnose(port: Port | str, *, budget_s: float = 60, corpus: bool = True) -> Diagnosis:
    """Localise the first diverging component of ``port`` (a :class:`Port` or a ``--bert-impl`` name) and
    name the known bugs it behaves like. ``corpus``: also match against the known-bad corpus."""
    start = time.monotonic()
    if isinstance(port, str):
        port = load_implementation(port)
    if port.capabilities_error is not None:  # claims nothing: every probe would be skipped, not passed
        return Diagnosis(port.name, "float32", "contract", probe="capabilities", what="capabilities() is valid",
                         worst=float("inf"), max_abs=float("inf"), message=port.capabilities_error,
                         seconds=time.monotonic() - start)
    standard = port_standard(port)
    results = run_battery(port, standard, deadline=start + LOCALISE_SHARE * budget_s)
    component, first = localise(results, standard.dtype)
    diagnosis = Diagnosis(port.name, standard.dtype, component,
                          skipped=[r.probe.name for r in results if r.status == SKIPPED],
                          failing=[r.probe.name for r in results if r.failed],
                          complete=not any(r.message == "time budget spent" for r in results),
                          tier=standard.similarity.tier if standard.similarity else None)
    if first is not None:
        _describe(diagnosis, first, standard)
    if first is not None and component not in UNMATCHABLE:
        deadline = start + budget_s
        diagnosis.variants, done = matches(catalogue_candidates(), results, standard, deadline=deadline)
        diagnosis.variant = diagnosis.variants[0] if diagnosis.variants else None
        if corpus:
            diagnosis.known, corpus_done = matches(corpus_candidates(), results, standard, deadline=deadline)
            done = done and corpus_done
        diagnosis.complete = diagnosis.complete and done
    if "tokenizer" in port.capabilities.features:
        diagnosis.tokenizer = diagnose_tokenizer(port, deadline=start + budget_s)
        diagnosis.complete = diagnosis.complete and not diagnosis.tokenizer.skipped
    diagnosis.seconds = time.monotonic() - start
    return diagnosis


def diagnose_tokenizer(port: Port, *, deadline: float) -> TokenizerDiagnosis:
    """The tokenizer probes (:mod:`~bert_conformance.diagnosis.tokenizer_probes`) on the committed small
    vocabulary; a port whose tokenizer cannot even load it is localised to ``tokenizer.vocab``."""
    from bert_conformance.golden import default_dir
    from bert_conformance.oracle import reference_tokenizer

    vocab = default_dir() / "tokenizer" / "vocab.txt"
    try:
        return run_probes(lambda path: port.load_tokenizer(str(path)), lambda path: reference_tokenizer(str(path)),
                          vocab, deadline=deadline)
    except Exception as error:  # load_tokenizer failed on the plain vocabulary
        return TokenizerDiagnosis("tokenizer.vocab", "load_tokenizer", "the small vocabulary loads",
                                  f"raised {type(error).__name__}: {error}"[:300], failing=["load_tokenizer"])


def _describe(diagnosis: Diagnosis, first: ProbeResult, standard: Standard) -> None:
    diagnosis.probe, diagnosis.what = first.probe.name, first.probe.what
    diagnosis.worst, diagnosis.max_abs, diagnosis.message = first.worst, first.max_abs, first.message
    if "hidden_states" in first.probe.compare and first.outputs is not None and first.probe.kind == "outputs":
        diagnosis.layer = first_diverging_layer(first, standard)


__all__ = ["Diagnosis", "Match", "TokenizerDiagnosis", "diagnose", "diagnose_tokenizer"]
