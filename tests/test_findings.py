"""Findings group failing clauses by cause: one numerical bug is one finding, not one line per clause."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import bert_conformance.adapters.reference  # noqa: F401 - keep it in pytester's module snapshot
import bert_conformance.clauses
import bert_conformance.spec  # noqa: F401
from bert_conformance.findings import family, group, localise, signature

pytest_plugins = ["pytester"]

CLAUSES = Path(bert_conformance.clauses.__file__).parent


def _numeric(what: str, max_abs: float, size: int, repro: str) -> dict:
    worst = max_abs / 1e-5
    return {"status": "fail", "message": f"{what} (float32): 3 of {size} elements (1%) differ beyond atol=1e-05, rtol=0.0001",
            "observed": {"what": what, "max_abs": max_abs, "max_rel": 0.1, "worst": worst},
            "tolerance": {"atol": 1e-5, "rtol": 1e-4}, "comparisons": [{"size": size}], "repro": repro}


def test_numeric_failures_are_one_finding_with_the_worst_error_and_the_smallest_repro():
    results = {
        "golden.model.small-float32": _numeric("model.small: last_hidden_state", 3e-4, 4096, "pytest small"),
        "golden.model.tiny-float32": _numeric("model.tiny: pooler_output", 5e-4, 64, "pytest tiny"),
        "labels.mlm.loss-BertForMaskedLM": _numeric("loss", 1e-4, 1, "pytest loss"),
        "core.capabilities": {"status": "pass", "message": ""},
    }
    (finding,) = group(results)
    assert finding.tests == ["golden.model.small-float32", "golden.model.tiny-float32", "labels.mlm.loss-BertForMaskedLM"]
    assert finding.cause == "numeric deviation from BERT beyond the spec's tolerance: loss, outputs"
    assert finding.worst["max_abs"] == 5e-4 and finding.worst["what"] == "model.tiny: pooler_output"
    assert finding.repro == "pytest loss"  # one compared element: the smallest reproduction


def test_other_failures_are_one_finding_per_component_with_their_distinct_messages():
    def raised(text: str) -> dict:
        return {"status": "fail", "message": text, "repro": ""}

    results = {
        "heads.common.input_ids_out_of_range": raised("Failed: DID NOT RAISE: input_ids 99 out of range [0, 98)"),
        "heads.common.token_type_out_of_range": raised("Failed: DID NOT RAISE: input_ids 31 out of range [0, 30)"),
        "heads.common.max_positions": raised("TypeError: forward() got an unexpected keyword argument"),
        "heads.common.padding_invariance": {"status": "pass", "message": ""},
        "config.constraint.hidden_size_divisible_by_heads": raised("Failed: DID NOT RAISE <class 'ValueError'>"),
    }
    first, second = group(results)
    assert first.component == "heads.common" and first.tests == [
        "heads.common.input_ids_out_of_range", "heads.common.max_positions", "heads.common.token_type_out_of_range"]
    assert first.details == ["Failed: DID NOT RAISE: input_ids 99 out of range [0, 98)",
                             "TypeError: forward() got an unexpected keyword argument"]  # numbers blanked: one
    assert first.cause.startswith("heads.common: Failed: DID NOT RAISE") and "+1 other message" in first.cause
    assert second.component == "config.constraint"
    assert signature("x (float64): 1 of 2 elements differ beyond atol=1e-09")[0] == "numeric"


def _raised(text: str) -> dict:
    return {"status": "fail", "message": text, "repro": ""}


def test_one_message_failing_in_several_areas_is_one_finding():
    """The same exception raised through labels and golden clauses is one cause, not one finding per area;
    a different message in another area stays apart."""
    results = {
        "labels.ignore_index-BertForMaskedLM": _raised("IndexError: Target -100 is out of bounds."),
        "labels.ignore_index-BertForTokenClassification": _raised("IndexError: Target -100 is out of bounds."),
        "golden.masked_lm.labels-float64": _raised("IndexError: Target -100 is out of bounds."),
        "config.constraint.hidden_size_divisible_by_heads": _raised("Failed: DID NOT RAISE <class 'ValueError'>"),
    }
    first, second = group(results)
    assert first.tests == ["golden.masked_lm.labels-float64", "labels.ignore_index-BertForMaskedLM",
                           "labels.ignore_index-BertForTokenClassification"]
    assert first.component == "labels.ignore_index"  # two of its three clauses
    assert second.tests == ["config.constraint.hidden_size_divisible_by_heads"]


def _diagnosis(component: str, message: str = "") -> dict:
    return {"component": component, "message": message, "finding": f"first diverging component: {component}"}


def test_a_failure_the_probes_reproduced_takes_their_component():
    """The exception the first failing probe raised is the finding's: the probes' component names it."""
    results = {"labels.ignore_index-BertForMaskedLM": _raised("IndexError: Target -100 is out of bounds.")}
    (finding,) = group(results, diagnosis=_diagnosis("loss.masked_lm", "IndexError: Target -100 is out of bounds."))
    assert finding.component == "loss.masked_lm" and finding.details[0].startswith("diagnosis: ")
    (other,) = group(results, diagnosis=_diagnosis("loss.next_sentence", "ValueError: something else entirely"))
    assert other.component == "loss.next_sentence"  # a labels finding, and the probes localised a loss
    (apart,) = group(results, diagnosis=_diagnosis("ffn.activation", "ValueError: something else entirely"))
    assert apart.component == "labels.ignore_index"  # neither the same failure nor a loss: the clauses' family


def test_a_loading_failure_keeps_the_loading_clauses_component():
    """Every probe loads one base config: a config-handling bug raises on all of them, and the config
    clauses say which key; the probes' catch-all component does not take their finding."""
    message = "KeyError: 'initializer_range'"
    results = {"config.default.initializer_range": _raised(message)}
    (finding,) = group(results, diagnosis=_diagnosis("contract", message))
    assert finding.component == "config.default"


def test_the_tier_finding_takes_the_probes_component():
    results = {"tiers.int8.token_cosine_min": _raised("AssertionError: token_cosine_min 0.5 below 0.921"),
               "tiers.int8.token_cosine_mean": {"status": "pass", "message": ""}}
    (finding,) = group(results, diagnosis=_diagnosis("attention.mask"))
    assert finding.component == "attention.mask"
    (alone,) = group(results)
    assert alone.component == "tiers.int8"


def test_a_failure_naming_the_localised_component_is_its_symptom():
    """Skipping the embeddings' LayerNorm also leaves gradients() without its keys: a message that names the
    parameters of the component the deviation is localised to joins that finding; one naming another
    component, or not every message naming it, stays apart."""
    numeric = _numeric("model.small: last_hidden_state", 3e-4, 4096, "pytest small")
    missing = _raised("AssertionError: gradients() has no 'bert.embeddings.LayerNorm.bias' (keys: "
                      "['bert.embeddings.position_embeddings.weight', 'bert.pooler.dense.weight'])")
    results = {"golden.model.small-float32": numeric, "golden.sequence_classification.labels-float64": missing}
    (finding,) = group(results, diagnosis=_diagnosis("embeddings.layer_norm"))
    assert finding.component == "embeddings.layer_norm" and finding.tests == sorted(results)
    assert any("gradients() has no" in detail for detail in finding.details)
    # the key list names every parameter: the position embeddings in it are not what the message is about
    assert len(group(results, diagnosis=_diagnosis("embeddings.position"))) == 2
    cut_short = {**results, "golden.sequence_classification.labels-float64": _raised(
        "AssertionError: gradients() has no 'bert.pooler.dense.bias' (keys: ['bert.embeddings.position_embeddings")}
    assert len(group(cut_short, diagnosis=_diagnosis("embeddings.position"))) == 2
    unrelated = {**results, "heads.common.max_positions": _raised("TypeError: forward() got an unexpected keyword")}
    assert len(group(unrelated, diagnosis=_diagnosis("embeddings.layer_norm"))) == 2
    assert len(group({**results, "golden.sequence_classification.other-float64": _raised("ValueError: no")},
                     diagnosis=_diagnosis("embeddings.layer_norm"))) == 2  # one message does not name it


def test_an_output_group_clause_belongs_to_that_output():
    assert family("golden.model.small.hidden_states-float64") == "outputs.hidden_states"
    assert family("numerics.float64.hidden_states") == "outputs.hidden_states"
    assert family("golden.model.small-float64") == "golden.model"
    assert family("core.inputs_unchanged") == "contract.inputs"


def test_failing_cases_are_localised_to_the_family_they_share_and_passing_cases_avoid():
    """Spectrum-based localisation: both failing tokenizer cases exercise tokenizer.normalizer; the wordpiece
    clauses they also exercise pass elsewhere, so the finding points at the normalizer."""
    fail = {"status": "fail", "message": "AssertionError: input_ids differ at 3", "repro": ""}
    results = {
        "tokenizer.case.accents_uncased-small": fail,
        "tokenizer.case.accents_combining-small": fail,
        "tokenizer.case.hf_doc_example-small": {"status": "pass", "message": ""},
    }
    assert family("tokenizer.normalizer.strip_accents") == "tokenizer.normalizer"
    assert family("heads.BertModel.outputs.order") == "heads.outputs"
    assert family("properties.position_ids") == "embeddings.position"
    assert set(localise(results).values()) == {"tokenizer.normalizer"}
    (finding,) = group(results)
    assert finding.component == "tokenizer.normalizer" and len(finding.tests) == 2


def test_a_port_with_one_numeric_bug_reads_as_one_finding(pytester):
    report = pytester.path / "report.json"
    result = pytester.runpytest(
        str(CLAUSES / "test_core.py"), str(CLAUSES / "test_golden.py"), "-k", "core.forward or golden.model.tiny or golden.model.small or golden.model.seq_len",
        "--bert-impl", "bert_conformance.known_bad:config.gelu_tanh", "--bert-report", str(report),
        "-p", "no:cacheprovider",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    data = json.loads(report.read_text())
    failed = sorted(t for t, r in data["clauses"].items() if r["status"] == "fail")
    assert len(failed) >= 5
    (finding,) = data["findings"]
    assert sorted(finding["tests"]) == failed and finding["cause"].startswith("numeric deviation")
    assert finding["repro"].startswith("pytest --pyargs 'bert_conformance.clauses.")
    result.stdout.fnmatch_lines(["findings: 1 (failing clauses grouped by cause*",
                                 f"  [[]1[]] numeric deviation from BERT*{len(failed)} clause(s); worst max abs*"])
    markdown = report.with_suffix(".md").read_text()
    assert markdown.index("## Findings (1)") < markdown.index("## Failing clauses") < markdown.index("## Every clause")


def test_a_failing_run_is_diagnosed_and_the_finding_names_the_cause(pytester, monkeypatch):
    monkeypatch.setenv("BERT_DIAGNOSE", "1")
    report = pytester.path / "report.json"
    result = pytester.runpytest(
        str(CLAUSES / "test_core.py"), "-k", "core.forward", "--bert-impl", "bert_conformance.known_bad:config.gelu_tanh",
        "--bert-report", str(report), "-p", "no:cacheprovider",
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    data = json.loads(report.read_text())
    assert data["diagnosis"]["component"] == "ffn.activation"
    assert data["diagnosis"]["variant"]["name"] == "gelu_tanh"
    (finding,) = data["findings"]
    assert "; diagnosis: behaves like: gelu_tanh" in finding["cause"]
    assert {data["clauses"][t]["status"] for t in finding["tests"]} == {"fail"}  # evidence, not a verdict
