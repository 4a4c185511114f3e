"""Findings: failing clauses grouped by what they have in common, so that one bug reads as one finding.

A port with one numerical bug fails dozens of clauses (golden cases, numerics, properties, heads ...), each
with its own "differs by 4e-4" message. The report lists *findings* first: one per cause, with the clauses
it affects, the worst error and the smallest reproduction. The grouping is evidence, never a verdict: every
clause keeps its own status.

Grouping (most specific first):

- **numeric**: clauses whose failure is a tolerance comparison (``... differ beyond atol=...``). They are one
  finding: a numeric deviation anywhere in the model shows in every output downstream of it. The finding
  says which outputs deviate (outputs, loss, gradients) and its worst comparison.
- **by area**: every other failure (raised, did not raise, wrong keys, wrong order ...) is one finding per area
  of the families the failing clauses point at (below: ``tokenizer``, ``config``, ``heads`` ...; areas where
  clauses fail with the same message are one: an exception raised through golden and labels clauses), named by
  its most suspicious family; the other families it touches and the distinct messages (numbers and quoted
  values blanked out: "input_ids 99 out of range [0, 98)" and "... 31 out of range [0, 30)" are one) are
  its details. One bug inside an area often fails clauses of neighbouring families too (a lower-casing bug
  fails the legacy-difference and pre-tokenizer cases that lower-case): single-fault, like the localisation.

**Localisation from the clauses** (spectrum-based, like Ochiai fault localisation): each clause exercises
spec subjects (itself, or for a case such as ``tokenizer.case.*`` the clauses it lists), and each subject
belongs to a *family*: its id without head names, cut to area and section (``tokenizer.normalizer``,
``config.default``, ``heads.outputs``, ``decoder.cache``), or the pipeline component a family tests alone
(:data:`FAMILY_COMPONENTS`). A family's suspiciousness is ``failed / sqrt(all failed x (failed + passed))``
over the run's clauses: the family that the failing clauses share and the passing ones avoid. Each failing
clause is assigned its most suspicious family. A numeric finding's component is the probe diagnosis's
(docs/diagnosis.md) when it localised one, else the family most of its clauses were assigned; another
finding takes the probes' component when they saw the same failure (:func:`_use_diagnosis`), or the
component another finding is localised to when its every message names that component's parameters or
outputs (:data:`NAMED_BY`). Findings at one component are one finding.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

NUMERIC = "differ beyond atol="
_NUMBER = re.compile(r"-?\d+(\.\d+)?(e[-+]?\d+)?", re.IGNORECASE)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


@dataclass
class Finding:
    cause: str
    tests: list[str] = field(default_factory=list)
    worst: dict[str, Any] | None = None  # the comparison furthest beyond its tolerance (numeric findings)
    repro: str = ""  # the repro of the affected clause with the fewest compared elements
    details: list[str] = field(default_factory=list)
    component: str | None = None  # where the failing clauses point (module docstring)

    def to_dict(self) -> dict[str, Any]:
        return {"cause": self.cause, "component": self.component, "tests": self.tests, "count": len(self.tests),
                "worst": self.worst, "repro": self.repro, "details": self.details}


def group(results: Mapping[str, Mapping[str, Any]], *, diagnosis: Mapping[str, Any] | None = None) -> list[Finding]:
    """Findings from a report's clause results (``report.json`` ``clauses``), largest first. ``diagnosis``
    (docs/diagnosis.md) names the numeric finding's cause: where the port first diverges, what it behaves like."""
    ranking = suspicious_families(results)
    components = localise(results, ranking)
    areas = _areas_by_cause(results)
    by_key: dict[str, Finding] = {}
    sizes: dict[str, int] = {}
    for test_id, result in sorted(results.items()):
        if result["status"] != "fail":
            continue
        key, cause = signature(result.get("message", ""))
        if key != "numeric":
            key = "area:" + "+".join(areas[test_id])
        finding = by_key.setdefault(key, Finding(cause))
        finding.tests.append(test_id)
        if key == "numeric":
            _add_numeric(finding, result)
        else:
            _add_message(finding, result)
        size = _compared_elements(result)
        if result.get("repro") and (not finding.repro or size < sizes[key]):
            finding.repro, sizes[key] = result["repro"], size
    for key, finding in by_key.items():
        counts = Counter(components[t] for t in finding.tests)
        families = sorted(counts, key=lambda f: (-counts[f], ranking.index(f)))  # ties: the most suspicious
        finding.component = families[0]
        if key != "numeric":
            _use_diagnosis(finding, key, diagnosis)
            finding.cause = _component_cause(finding, [f for f in families if f != finding.component])
            continue
        if finding.details:
            finding.cause += ": " + ", ".join(sorted(set(finding.details)))
            finding.details = []
        if diagnosis and diagnosis.get("finding"):
            finding.cause += f"; diagnosis: {diagnosis['finding']}"
            finding.component = diagnosis.get("component") or finding.component
    _join_symptoms_naming_a_component(by_key)
    return sorted(_merged_by_component(by_key.values()), key=lambda f: -len(f.tests))


def _areas_by_cause(results: Mapping[str, Mapping[str, Any]]) -> dict[str, tuple[str, ...]]:
    """Each non-numeric failing test's areas: its own, joined with every area where a clause fails with the
    same message (numbers and quoted values blanked): one exception raised through golden, numerics and
    labels clauses alike is one cause, not three."""
    parent: dict[str, str] = {}

    def root(node: str) -> str:
        while parent.setdefault(node, node) != node:
            node = parent[node]
        return node

    failing = {test_id: result for test_id, result in results.items()
               if result["status"] == "fail" and signature(result.get("message", ""))[0] != "numeric"}
    for test_id, result in failing.items():
        parent[root("message:" + signature(result.get("message", ""))[0])] = root("area:" + _area(test_id, result))
    members: dict[str, set[str]] = {}
    for test_id, result in failing.items():
        members.setdefault(root("area:" + _area(test_id, result)), set()).add(_area(test_id, result))
    return {test_id: tuple(sorted(members[root("area:" + _area(test_id, result))]))
            for test_id, result in failing.items()}


def _area(test_id: str, result: Mapping[str, Any]) -> str:
    return str(result.get("clause") or test_id).split(".", 1)[0]


def _join_symptoms_naming_a_component(by_key: Mapping[str, Finding]) -> None:
    """A non-numeric finding whose every message names the parameters or outputs of the component another
    finding is localised to (by the probes or the clauses) is a symptom of that cause, not a second one:
    "gradients() has no 'bert.embeddings.LayerNorm.bias'" beside a deviation localised to
    ``embeddings.layer_norm``, ``cross_attentions`` of the wrong shape beside one localised to
    ``attention.cross``. It takes that component, so :func:`_merged_by_component` makes them one finding."""
    localised = {f.component for f in by_key.values() if f.component in NAMED_BY}
    for key, finding in by_key.items():
        if key == "numeric":
            continue
        messages = [_LISTS.sub("", d) for d in finding.details if not d.startswith("diagnosis:")]
        if finding.component in localised or not messages:
            continue
        named = [c for c in sorted(localised) if all(NAMED_BY[c].search(m) for m in messages)]
        if len(named) == 1:
            finding.component = named[0]


def _merged_by_component(found: Iterable[Finding]) -> list[Finding]:
    """Findings localised to the same component are one cause: the numeric one (or the largest) keeps its
    cause, worst error and repro, and lists the others' clauses and messages."""
    by_component: dict[str | None, list[Finding]] = {}
    for finding in sorted(found, key=lambda f: (f.worst is None, -len(f.tests))):
        by_component.setdefault(finding.component, []).append(finding)
    merged = []
    for component, group_ in by_component.items():
        first, *others = group_
        if component is not None:
            for other in others:
                first.tests = sorted([*first.tests, *other.tests])
                first.details.append(other.cause)
            others = []
        merged += [first, *others]
    return merged


# --- localisation from the clauses -------------------------------------------------------------------------

# Families (and single clauses) that test one pipeline component alone, named as the probe diagnosis names
# it (docs/diagnosis.md).
FAMILY_COMPONENTS = {
    "heads.common.attention_mask_binary": "attention.mask",
    "heads.common.attention_mask_4d": "attention.mask",
    "heads.common.masked_keys": "attention.mask",
    "heads.common.padding_invariance": "attention.mask",
    "heads.common.packed_sequences": "attention.mask",
    "heads.common.causal": "attention.causal_mask",
    "heads.common.bidirectional": "attention.causal_mask",
    "heads.common.pooler_first_token": "pooler",
    "heads.common.hidden_states": "outputs.hidden_states",
    "heads.outputs.hidden_states": "outputs.hidden_states",  # heads.<Head>.outputs.hidden_states
    "heads.kwargs.output_hidden_states": "outputs.hidden_states",
    "heads.outputs.attentions": "outputs.attentions",
    "heads.kwargs.output_attentions": "outputs.attentions",
    "heads.common.attentions": "outputs.attentions",
    "heads.common.eval_deterministic": "model.eval_mode",
    "properties.attention_mask": "attention.mask",
    "decoder.left_padding": "attention.mask",
    "properties.masked_keys": "attention.mask",
    "properties.padding_invariance": "attention.mask",
    "properties.position_ids": "embeddings.position",
    "properties.token_type_ids": "embeddings.token_type",
    "decoder.causal": "attention.causal_mask",
    "decoder.not_decoder_is_bidirectional": "attention.causal_mask",
    "properties.eval": "model.eval_mode",
    "properties.weight_tying": "heads.mlm.decoder",
    "core.inputs_unchanged": "contract.inputs",
}


# How a failure message names a component's parameters (HF state-dict keys) or outputs: a non-numeric
# failure that names the component another finding is localised to is that finding's symptom
# (:func:`_join_symptoms_naming_a_component`).
NAMED_BY = {component: re.compile(pattern) for component, pattern in {
    "embeddings.layer_norm": r"embeddings\.LayerNorm",
    "embeddings.position": r"position_(ids|embeddings)",
    "embeddings.token_type": r"token_type_embeddings",
    "attention.cross": r"cross[_ ]?attention",
    "outputs.hidden_states": r"hidden[_ ]states",
    "outputs.attentions": r"(?<![a-z_])attentions",
    "pooler": r"\bpooler",
}.items()}
# a list in a message ("keys: [...]", perhaps cut short) names what is there, not what failed
_LISTS = re.compile(r"\[[^\[\]]*(\]|$)")


# Optional output groups a golden or numerics clause compares on their own (spec/golden.yaml ``outputs:``,
# numerics.float64.hidden_states): such a clause tests that output, like heads.common.hidden_states.
OUTPUT_GROUPS = ("hidden_states", "attentions")


def suspicious_families(results: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The families of the run's failing clauses, most suspicious first (module docstring), from every pass
    and fail of the run."""
    subjects = {test_id: _families(str(result.get("clause") or test_id)) for test_id, result in results.items()}
    failed = Counter(f for t, r in results.items() if r["status"] == "fail" for f in subjects[t])
    passed = Counter(f for t, r in results.items() if r["status"] == "pass" for f in subjects[t])
    total_failed = sum(1 for r in results.values() if r["status"] == "fail") or 1

    def suspiciousness(family: str) -> tuple[float, int, str]:
        score = failed[family] / math.sqrt(total_failed * (failed[family] + passed[family]))
        return (-score, -failed[family], family)

    return sorted(failed, key=suspiciousness)


def localise(results: Mapping[str, Mapping[str, Any]], ranking: list[str] | None = None) -> dict[str, str]:
    """Each failing test id's most suspicious family."""
    ranking = suspicious_families(results) if ranking is None else ranking
    return {test_id: min(_families(str(result.get("clause") or test_id)), key=ranking.index)
            for test_id, result in results.items() if result["status"] == "fail"}


def _families(clause_id: str) -> tuple[str, ...]:
    """The families of the spec subjects a clause exercises (itself, or a case's listed clauses)."""
    listed = _case_clauses().get(clause_id.split("-", 1)[0]) or (clause_id,)  # a test id's -<param> cut off
    return tuple(dict.fromkeys(family(subject) for subject in listed))


def family(clause_id: str) -> str:
    """``tokenizer.normalizer.lowercase`` -> ``tokenizer.normalizer``; ``heads.BertModel.outputs.order`` ->
    ``heads.outputs``; ``properties.position_ids`` -> ``embeddings.position`` (:data:`FAMILY_COMPONENTS`)."""
    parts = [part for part in clause_id.split("-", 1)[0].split(".") if not part.startswith("Bert")]
    section = ".".join(parts[:2])
    if parts[0] in ("golden", "numerics") and parts[-1] in OUTPUT_GROUPS:  # golden.<case>.hidden_states ...
        return f"outputs.{parts[-1]}"
    return FAMILY_COMPONENTS.get(".".join(parts[:3])) or FAMILY_COMPONENTS.get(section, section)


@functools.cache
def _case_clauses() -> dict[str, tuple[str, ...]]:
    """Clause id -> the clauses it lists as exercised (spec cases: ``clauses: [...]``)."""
    from bert_conformance.spec import load_spec  # lazy: grouping a report needs the spec only here

    try:
        spec = load_spec()
    except Exception:  # a broken installed spec is reported by the plugin itself; localise without cases
        return {}
    return {clause_id: tuple(clause["clauses"]) for _, clause_id, clause in spec.clauses()
            if isinstance(clause.get("clauses"), (list, tuple))}


def _add_message(finding: Finding, result: Mapping[str, Any]) -> None:
    first = next((line.strip() for line in result.get("message", "").splitlines() if line.strip()), "(no message)")
    blanked = _blank(first)
    if blanked not in {_blank(d) for d in finding.details}:
        finding.details.append(first[:300])


def _use_diagnosis(finding: Finding, key: str, diagnosis: Mapping[str, Any] | None) -> None:
    """A finding the probes localised takes their component (and the diagnosis joins its details):
    - the tokenizer finding, the stage the tokenizer probes name;
    - a finding whose failure the model probes reproduced: the exception the first failing probe raised is
      one of its messages (the probes isolate the component that raises it), unless the finding is about
      loading (``config``, ``parameters``): every probe loads one base config and a HF-layout state dict,
      so a port that raises on those raises on the probes too, and the loading clauses say more precisely
      which config key or checkpoint name it trips on;
    - the accuracy-tier finding (its criteria are numbers over the whole model, like a numeric finding's),
      and a label-convention finding when the probes localised a loss (``labels.*`` clauses are how each
      head's loss is computed): the model probes' first diverging component."""
    diagnosis = diagnosis or {}
    areas = set(key.removeprefix("area:").split("+"))
    probes: Mapping[str, Any] = {}
    if areas == {"tokenizer"}:
        probes = diagnosis.get("tokenizer") or {}
    elif diagnosis.get("component") and (
            (_reproduced(finding, str(diagnosis.get("message") or "")) and not areas & {"config", "parameters"})
            or areas == {"tiers"} or (areas == {"labels"} and diagnosis["component"].startswith("loss."))):
        probes = diagnosis
    if probes.get("component"):
        finding.component = probes["component"]
        finding.details.insert(0, f"diagnosis: {probes['finding']}")


def _reproduced(finding: Finding, message: str) -> bool:
    """Whether the exception a probe raised (``message``) is one of the finding's messages, numbers and
    quoted values blanked (either may be cut short, or wrapped as "AssertionError: <it>")."""
    probe = _blank(message.strip())[:120]
    if len(probe) < 12:
        return False
    return any(probe in blanked or (len(blanked) >= 12 and blanked[:120] in probe)
               for blanked in (_blank(d) for d in finding.details))


def _component_cause(finding: Finding, others: list[str]) -> str:
    also = f" (also failing: {', '.join(others)})" if others else ""
    more = f" (+{len(finding.details) - 1} other message(s), in details)" if len(finding.details) > 1 else ""
    return f"{finding.component}{also}: {finding.details[0]}{more}"


def _blank(text: str) -> str:
    """``text`` with numbers and quoted values blanked: the same failure with other values reads the same."""
    return _NUMBER.sub("#", _QUOTED.sub("'…'", text))


def signature(message: str) -> tuple[str, str]:
    """(grouping key, readable cause) of one failure message."""
    first = next((line.strip() for line in message.splitlines() if line.strip()), "(no message)")
    if NUMERIC in message:
        return "numeric", "numeric deviation from BERT beyond the spec's tolerance"
    blanked = _blank(first)
    return blanked, first[:300]


def _add_numeric(finding: Finding, result: Mapping[str, Any]) -> None:
    observed = result.get("observed")
    if not observed:
        return
    what = str(observed.get("what", ""))
    finding.details.append("gradients" if "grad" in what else "loss" if what.endswith("loss") else "outputs")
    if finding.worst is None or float(observed["worst"]) > float(finding.worst["worst"]):
        finding.worst = {**observed, **(result.get("tolerance") or {})}


def _compared_elements(result: Mapping[str, Any]) -> int:
    comparisons: Iterable[Mapping[str, Any]] = result.get("comparisons") or []
    return sum(int(c.get("size", 0)) for c in comparisons) or 1 << 30


def summary_lines(findings: list[Mapping[str, Any]], *, limit: int = 10) -> list[str]:
    """The terminal summary's findings (as in report.json): one line each, then its repro."""
    lines = [f"findings: {len(findings)} (failing clauses grouped by cause; each clause keeps its own status)"]
    for number, finding in enumerate(findings[:limit], start=1):
        worst = finding["worst"]
        error = f"; worst max abs {float(worst['max_abs']):.3g} in {worst['what']}" if worst else ""
        component = finding.get("component")
        where = f" [component: {component}]" if component and not finding["cause"].startswith(component) else ""
        lines.append(f"  [{number}] {finding['cause']}{where} -- {finding['count']} clause(s){error}")
        if finding["repro"]:
            lines.append(f"      smallest repro: {finding['repro']}")
    if len(findings) > limit:
        lines.append(f"  ... and {len(findings) - limit} more in the report")
    return lines
