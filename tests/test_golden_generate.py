"""Regeneration: bit-identical reruns, atomic and interruption-safe writes, the transformers cross-check,
--check, and never deleting anything. Runs a few cases into tmp dirs (the full set is `tox -e golden`)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bert_conformance.golden import default_dir, generate, golden_main, minilm, verify
from bert_conformance.golden.files import decode_case, encode_case, read_manifest, sha256_file, staging_dirs
from bert_conformance.golden.generate import GoldenError, cross_check, regenerate
from bert_conformance.golden.weights import HEADS

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")
FEW = ["model.tiny", "lm_head.cache_steps", "sequence_classification.single_label"]  # plain, steps, gradients


def _quiet(_line: str) -> None:
    pass


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("golden")
    result = regenerate(root, log=_quiet, case_ids=FEW)
    assert sorted(result.added) == sorted(f"{c}.safetensors" for c in FEW) and not result.refused
    return root


def _copy(generated: Path, tmp_path: Path) -> Path:
    shutil.copytree(generated, tmp_path / "g")
    return tmp_path / "g"


def test_rerun_is_bit_identical_and_says_unchanged(generated):
    before = {p.name: p.read_bytes() for p in generated.iterdir()}
    result = regenerate(generated, log=_quiet, case_ids=FEW)
    assert sorted(result.unchanged) == sorted(f"{c}.safetensors" for c in FEW) and not result.manifest_changed
    assert result.clean()
    assert {p.name: p.read_bytes() for p in generated.iterdir()} == before
    assert verify(generated) == []


def test_regeneration_reproduces_the_committed_files(generated):
    """Same library versions as the committed manifest -> the same bytes, or, where this CPU's float64 kernels
    round differently from the machine that made them (MKL dispatches per CPU), the same file up to float64
    round-off: what ``regenerate --check`` calls equivalent (docs/golden.md, "Reproducibility")."""
    committed = default_dir()
    _, meta = decode_case(committed / "model.tiny.safetensors")
    if meta["libraries"] != generate.library_versions():
        pytest.skip(f"fixtures were made with {meta['libraries']}; bytes depend on library versions")
    for case in FEW:
        name = f"{case}.safetensors"
        same = (generated / name).read_bytes() == (committed / name).read_bytes()
        assert same or generate.equivalent_case(committed / name, (generated / name).read_bytes()), name


def test_interrupted_regeneration_leaves_the_folder_untouched_and_no_staging(generated, tmp_path, monkeypatch):
    """Writes go to a staging copy beside the folder: an interrupt before the swap changes nothing in it."""
    root = _copy(generated, tmp_path)
    before = {p.name: p.read_bytes() for p in root.iterdir()}
    monkeypatch.setattr(generate, "GENERATOR_VERSION", "next")  # every file changes
    real, writes = generate.atomic_write_bytes, []

    def write_then_die(path, data):
        if writes:
            raise KeyboardInterrupt  # interrupted on the second file
        writes.append(path)
        real(path, data)

    monkeypatch.setattr(generate, "atomic_write_bytes", write_then_die)
    with pytest.raises(KeyboardInterrupt):
        regenerate(root, log=_quiet, case_ids=FEW)
    assert writes[0].parent == staging_dirs(root)[0]  # the one finished write went to the staging copy
    assert {p.name: p.read_bytes() for p in root.iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g"]  # staging removed
    assert verify(root) == []


def test_cross_check_refuses_a_case_transformers_disagrees_on(tmp_path, monkeypatch):
    pytest.importorskip("transformers")
    real = generate.hf_expected

    def off_by_1e9(spec, weights):
        out = real(spec, weights)
        out["expected.last_hidden_state"] = out["expected.last_hidden_state"] + 1e-9
        return out

    monkeypatch.setattr(generate, "hf_expected", off_by_1e9)
    lines = []
    result = regenerate(tmp_path, log=lines.append, case_ids=["model.tiny"])
    assert result.refused == ["model.tiny.safetensors"] and not (tmp_path / "model.tiny.safetensors").exists()
    assert any("case model.tiny: output expected.last_hidden_state: reference and transformers disagree, "
               "max abs error 1e-09 > 1e-10" in line for line in lines), lines


@pytest.mark.parametrize(
    ("theirs", "message"),
    [
        ({"a": np.zeros(2), "b": np.zeros(1)}, r"only reference \[\], only transformers \['b'\]"),
        ({"a": np.zeros(3)}, r"output a: shape \(2,\) \(reference\) vs \(3,\)"),
        ({"a": np.array([0.0, np.nan])}, "output a: NaN positions differ"),
        ({"a": np.array([0.0, 2e-10])}, "output a: reference and transformers disagree, max abs error 2e-10"),
    ],
)
def test_cross_check_messages(theirs, message):
    with pytest.raises(GoldenError, match=message):
        cross_check("c", {"a": np.zeros(2)}, theirs)
    cross_check("c", {"a": np.array([1.0, np.nan])}, {"a": np.array([1.0 + 1e-11, np.nan])})  # within 1e-10


def test_files_no_longer_generated_are_reported_not_deleted(generated, tmp_path):
    root = _copy(generated, tmp_path)
    (root / "model.retired.safetensors").write_bytes(b"old case")
    result = regenerate(root, log=_quiet, case_ids=FEW)
    assert result.removed == ["model.retired.safetensors"] and not result.clean()
    assert (root / "model.retired.safetensors").read_bytes() == b"old case"
    assert any("orphaned" in p for p in verify(root))


def test_check_writes_nothing_and_flags_a_changed_value(generated, tmp_path):
    root = _copy(generated, tmp_path)
    tensors, meta = decode_case(root / "model.tiny.safetensors")
    tensors["expected.pooler_output"] = tensors["expected.pooler_output"] + 1e-6
    (root / "model.tiny.safetensors").write_bytes(encode_case(tensors, meta))
    stale = (root / "model.tiny.safetensors").read_bytes()
    result = regenerate(root, check=True, log=_quiet, case_ids=FEW)
    assert result.changed == ["model.tiny.safetensors"] and not result.clean()
    assert (root / "model.tiny.safetensors").read_bytes() == stale


def test_check_treats_a_library_version_change_as_equivalent(generated, tmp_path):
    root = _copy(generated, tmp_path)
    name = "model.tiny.safetensors"
    tensors, meta = decode_case(root / name)
    (root / name).write_bytes(encode_case(tensors, {**meta, "libraries": {**meta["libraries"], "numpy": "0.0"}}))
    manifest = read_manifest(root)

    manifest["files"][name]["sha256"] = sha256_file(root / name)
    manifest["files"][name]["bytes"] = (root / name).stat().st_size
    (root / "MANIFEST.json").write_text(json.dumps(manifest))
    result = regenerate(root, check=True, log=_quiet, case_ids=FEW)
    assert result.equivalent == [name] and result.clean()


def test_missing_optional_package_skips_and_keeps_the_old_entry(generated, tmp_path, monkeypatch):
    root = _copy(generated, tmp_path)
    name = "model.minilm.safetensors"
    shutil.copy(default_dir() / name, root / name)
    manifest = read_manifest(root)
    manifest["files"][name] = read_manifest(default_dir())["files"][name]
    manifest["generator_version"] = "old"  # so that the manifest changes and the set is swapped in
    (root / "MANIFEST.json").write_text(json.dumps(manifest))

    def absent():
        raise minilm.GoldenUnavailable(minilm.UNAVAILABLE)

    monkeypatch.setattr(minilm, "model_dir", absent)
    result = regenerate(root, log=_quiet, case_ids=[*FEW, "model.minilm"])
    assert result.skipped == [name] and result.manifest_changed
    assert read_manifest(root)["files"][name] == manifest["files"][name]
    assert (root / name).read_bytes() == (default_dir() / name).read_bytes()
    assert verify(root) == []


def test_cli_regenerate_check_exit_codes(generated, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(generate, "all_case_ids", lambda: list(FEW))
    root = _copy(generated, tmp_path)
    assert golden_main(["regenerate", "--dir", str(root), "--check", "--only", "model"]) == 0
    (root / "model.tiny.safetensors").unlink()
    assert golden_main(["regenerate", "--dir", str(root), "--check", "--only", "model"]) == 1
    assert "stale" in capsys.readouterr().err
    assert not (root / "model.tiny.safetensors").exists()  # --check wrote nothing
    assert golden_main(["regenerate", "--dir", str(root), "--only", "model"]) == 0
    assert verify(root) == []


def test_weights_do_not_depend_on_torch_rng():
    import torch

    from bert_conformance.golden.weights import random_weights

    cfg = generate.build("model.tiny").config
    torch.manual_seed(0)
    a = random_weights("BertForMaskedLM", cfg, 7)
    torch.manual_seed(1)
    b = random_weights("BertForMaskedLM", cfg, 7)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert all(np.array_equal(v.astype(np.float32).astype(np.float64), v) for v in a.values())  # float32 grid


@pytest.mark.parametrize("head", HEADS)
@pytest.mark.parametrize("variant", [{}, {"tie_word_embeddings": False}, {"is_decoder": True, "add_cross_attention": True}])
def test_head_shapes_equal_the_transformers_saved_state_dict(head, variant):
    """The hand-written key list (weights.py) against transformers' own, saved form (tied targets dropped)."""
    transformers = pytest.importorskip("transformers")
    from bert_conformance.golden.hf import TIED_TARGETS
    from bert_conformance.golden.weights import head_shapes

    cfg = {**generate.build("model.tiny").config, **variant}
    model = getattr(transformers, head)(transformers.BertConfig(**cfg))
    theirs = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    if cfg["tie_word_embeddings"]:
        theirs = {k: v for k, v in theirs.items() if not k.endswith(TIED_TARGETS)}
    assert head_shapes(head, cfg) == theirs
