"""The golden clause module can fail: semantic bugs patched into the reference are caught at float64, and only the
entries the spec leaves open are skipped."""

from __future__ import annotations

import numpy as np
import pytest

import bert_conformance.clauses.test_golden as golden_clause
from bert_conformance.adapter import load_implementation
from bert_conformance.golden import default_dir, load_case
from bert_conformance.specified import specified

pytest_plugins = ["pytester"]


@pytest.fixture(scope="module")
def reference():
    return load_implementation("reference")


def _run(port, case, dtype="float64", **config_overrides):
    config = {**case.config, **config_overrides}
    model = port.load_model(case.head, config, case.state_dict, dtype=dtype, device="cpu", attention="eager")
    return model.forward(golden_clause._inputs(case.inputs, dtype), **case.options)


def test_the_reference_passes_a_case(reference):
    case = load_case(default_dir() / "masked_lm.act.gelu.safetensors")
    golden_clause._compare_all(case, case.inputs, case.expected, _run(reference, case), "float64", where="")


@pytest.mark.parametrize(
    ("case_file", "bug"),
    [
        ("masked_lm.act.gelu.safetensors", {"hidden_act": "gelu_pytorch_tanh"}),  # tanh-GELU for "gelu"
        ("model.layer_norm_eps.safetensors", {"layer_norm_eps": 1e-12}),  # eps ignored
    ],
)
def test_a_semantic_bug_fails_at_float64(reference, case_file, bug):
    case = load_case(default_dir() / case_file)
    outputs = _run(reference, case, **bug)
    with pytest.raises(AssertionError, match="differ beyond atol=1e-10"):
        golden_clause._compare_all(case, case.inputs, case.expected, outputs, "float64", where="")


def test_padded_positions_are_not_compared_but_real_ones_are(reference):
    case = load_case(default_dir() / "model.heavy_right_padding.safetensors")
    outputs = _run(reference, case)
    mask = case.inputs["attention_mask"]
    garbage = {**outputs, "last_hidden_state": outputs["last_hidden_state"].copy()}
    garbage["last_hidden_state"][mask == 0] = 1e6  # padded query positions: unspecified
    garbage["hidden_states"] = [h.copy() for h in outputs["hidden_states"]]
    garbage["hidden_states"][-1][mask == 0] = 1e6
    golden_clause._compare_all(case, case.inputs, case.expected, garbage, "float64", where="")
    garbage["last_hidden_state"][0, 0, 0] += 1e-9  # a real position
    with pytest.raises(AssertionError, match="last_hidden_state"):
        golden_clause._compare_all(case, case.inputs, case.expected, garbage, "float64", where="")


def test_specified_rules():
    mask = np.array([[1, 1, 0], [0, 0, 0]])
    inputs = {"input_ids": np.zeros((2, 3), dtype=np.int64), "attention_mask": mask}
    hidden = specified("BertModel", "last_hidden_state", (2, 3, 4), inputs)
    assert hidden[:, :, 0].tolist() == [[True, True, False], [False, False, False]]
    assert specified("BertModel", "hidden_states.0", (2, 3, 4), inputs).all()  # embedding output
    assert specified("BertModel", "pooler_output", (2, 4), inputs)[:, 0].tolist() == [True, False]
    assert specified("BertForSequenceClassification", "logits", (2, 3), inputs)[:, 0].tolist() == [True, False]
    assert specified("BertForMaskedLM", "logits", (2, 3, 5), inputs)[0, :, 0].tolist() == [True, True, False]
    att = specified("BertModel", "attentions.0", (2, 1, 3, 3), inputs)
    assert att[0, 0, :, 0].tolist() == [True, True, False] and not att[1].any()
    assert specified("BertModel", "loss", (), inputs).all()


def test_specified_for_cache_and_choices():
    step = {"input_ids": np.zeros((1, 1), dtype=np.int64), "attention_mask": np.array([[1, 0, 1]])}
    deep = specified("BertLMHeadModel", "cache.1.key", (1, 2, 3, 4), step, decoder=True)
    assert deep[0, 0, :, 0].tolist() == [True, False, True]
    assert specified("BertLMHeadModel", "cache.0.key", (1, 2, 3, 4), step, decoder=True).all()
    choices = {"input_ids": np.zeros((1, 2, 3), dtype=np.int64), "attention_mask": np.array([[[1, 1, 0], [0, 1, 1]]])}
    logits = specified("BertForMultipleChoice", "logits", (1, 2), choices, decoder=True)
    assert logits.tolist() == [[True, False]]  # choice 1 starts with padding: its pooled logit is unspecified


def test_golden_oracle_serves_the_fixtures_and_refuses_anything_else():
    from bert_conformance.golden import GoldenOracle, NoGoldenAnswer
    from bert_conformance.oracle import get_oracle

    golden = GoldenOracle()
    case = load_case(default_dir() / "model.small.safetensors")
    served = golden.forward(case.head, case.config, case.state_dict, case.inputs, **case.options)
    computed = get_oracle("reference").forward(case.head, case.config, case.state_dict, case.inputs, **case.options)
    # cross_attentions=() (no cross-attention ran) carries no tensor, so goldens leave it out (spec: unspecified)
    assert sorted(served) == sorted(k for k, v in computed.items() if v is not None and not (isinstance(v, list) and not v))
    for i, layer in enumerate(computed["hidden_states"]):
        np.testing.assert_allclose(served["hidden_states"][i], layer, rtol=0, atol=1e-12)
    with pytest.raises(NoGoldenAnswer, match=r"needs the live oracle .*no golden case"):
        golden.forward(case.head, case.config, case.state_dict, case.inputs)  # other options
    with pytest.raises(NoGoldenAnswer, match="no random weights"):
        golden.random_state_dict("BertModel", case.config, seed=0)


# --- --bert-oracle golden: a port checked from committed data alone -----------------------------------------

GOLDEN_ONLY = ("test_core.py", "test_golden.py")


def _golden_only_run(pytester, impl: str) -> tuple:
    import json
    from pathlib import Path

    import bert_conformance.clauses

    clauses = Path(bert_conformance.clauses.__file__).parent
    report = pytester.path / "report.json"
    result = pytester.runpytest_subprocess(
        *(str(clauses / name) for name in GOLDEN_ONLY), "--bert-impl", impl, "--bert-oracle", "golden",
        "--bert-report", str(report), "-p", "no:cacheprovider", "-p", "no:xdist",
    )
    return result, json.loads(report.read_text())


def test_golden_oracle_mode_passes_the_reference_and_skips_what_needs_the_live_oracle(pytester):
    result, data = _golden_only_run(pytester, "reference")
    assert result.ret == 0, result.stdout.str()[-3000:]
    statuses = {test_id: r["status"] for test_id, r in data["clauses"].items()}
    golden = {t: s for t, s in statuses.items() if t.startswith("golden.")}
    assert golden and set(golden.values()) <= {"pass", "skipped-env"}
    assert golden.get("golden.model.tiny-float64") == "pass"
    live = [r for r in data["clauses"].values() if r["status"] == "skipped-env" and "needs the live oracle" in r["message"]]
    assert live and all(r["clause"].startswith("core.") for r in live)
    result.stdout.fnmatch_lines([f"{len(live)} skipped-env clause(s) needs the live oracle: *--bert-oracle reference*"])


def test_golden_oracle_mode_still_fails_a_known_bad_port(pytester):
    result, data = _golden_only_run(pytester, "bert_conformance.known_bad:attention.scale_missing")
    assert result.ret == 1
    assert data["clauses"]["golden.model.tiny-float64"]["status"] == "fail"


def test_golden_clauses_of_the_spec_are_what_the_cases_run():
    """spec/golden.yaml lists exactly the golden.* clauses the fixtures give; any disagreement is one line
    naming the file and the clause (golden verify and the clause module's collection refuse it)."""
    from bert_conformance.golden import iter_cases
    from bert_conformance.golden.clauses import spec_problems
    from bert_conformance.spec import load_spec

    spec, cases = load_spec().raw("golden")["clauses"], iter_cases()
    assert spec_problems(spec, cases) == []
    assert [c["id"] for c in golden_clause.SPEC_CLAUSES] == [c["id"] for c in spec]

    dropped = [c for c in spec if c["id"] != "golden.model.small.hidden_states"]
    renamed = [{**c, "text": "other"} if c["id"] == "golden.model.tiny" else c for c in spec]
    unknown = [*spec, {"id": "golden.model.gone", "case": "model.gone", "text": "no such case"}]
    assert spec_problems(dropped, cases) == [
        "spec/golden.yaml: no clause golden.model.small.hidden_states: the golden case model.small records it; add it"]
    (problem,) = spec_problems(renamed, cases)
    assert problem.startswith("spec/golden.yaml: clauses[") and "golden.model.tiny: text 'other', but the" in problem
    (problem,) = spec_problems(unknown, cases)
    assert f"clauses[{len(spec)}] golden.model.gone: no golden case records it" in problem


def test_golden_verify_checks_the_installed_fixtures_against_the_spec(capsys):
    from bert_conformance.golden import golden_main

    assert golden_main(["verify"]) == 0
    assert "the spec's golden.* clauses agree" in capsys.readouterr().out
