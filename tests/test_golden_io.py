"""The golden file format: encoding, deterministic bytes, atomic writes, readable errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from bert_conformance.golden import files
from bert_conformance.golden.files import (
    GoldenError,
    atomic_write_bytes,
    decode_case,
    encode_case,
    flatten_outputs,
)

META = {"format": files.FORMAT, "format_version": files.FORMAT_VERSION, "case_id": "x", "b": [1, 2], "a": 1}


def test_round_trip_keeps_dtypes_shapes_scalars_and_nan(tmp_path):
    tensors = {
        "expected.loss": np.array(np.nan),
        "expected.logits": np.arange(6, dtype=np.float64).reshape(2, 3),
        "input.input_ids": np.array([[1, 2, 3]], dtype=np.int64),
    }
    path = tmp_path / "c.safetensors"
    path.write_bytes(encode_case(tensors, META))
    back, meta = decode_case(path)
    assert meta == META
    assert set(back) == set(tensors)
    for name, array in tensors.items():
        assert back[name].dtype == array.dtype and back[name].shape == array.shape, name
        np.testing.assert_array_equal(back[name], array)
    assert back["expected.loss"].shape == ()  # a 0-d loss stays 0-d (np.ascontiguousarray would make it [1])


ENCODE = """
import numpy as np, sys
from bert_conformance.golden.files import encode_case, FORMAT, FORMAT_VERSION
meta = {"format": FORMAT, "format_version": FORMAT_VERSION, **{f"k{i}": i for i in range(30)}}
sys.stdout.write(encode_case({"expected.x": np.ones(3), "input.y": np.zeros(2, dtype=np.int64)}, meta).hex())
"""


def test_bytes_are_identical_across_processes():
    """safetensors stores __metadata__ as a hash map with per-process order; one canonical JSON key fixes it."""
    runs = {
        subprocess.run([sys.executable, "-c", ENCODE], capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout
        for seed in (1, 2, 3)
    }
    assert len(runs) == 1


def test_metadata_is_one_canonical_json_key():
    data = encode_case({"expected.x": np.ones(1)}, META)
    header = json.loads(data[8 : 8 + int.from_bytes(data[:8], "little")])
    assert list(header["__metadata__"]) == [files.METADATA_KEY]
    assert header["__metadata__"][files.METADATA_KEY] == json.dumps(META, sort_keys=True, separators=(",", ":"))


@pytest.mark.parametrize(
    ("tensors", "message"),
    [
        ({"expected.x": np.ones(2, dtype=np.float32)}, "dtype float32"),
        ({"expected.x": np.ones(2, dtype=np.int32)}, "dtype int32"),
        ({"logits": np.ones(2)}, "name must start with"),
    ],
)
def test_encode_refuses_other_dtypes_and_names(tensors, message):
    with pytest.raises(GoldenError, match=message):
        encode_case(tensors, META)


def test_decode_names_the_file_for_a_non_safetensors_file(tmp_path):
    path = tmp_path / "notes.safetensors"
    path.write_text("not a tensor file")
    with pytest.raises(GoldenError, match=rf"{path}: unreadable: not a valid safetensors file"):
        decode_case(path)


def test_decode_names_the_file_for_a_foreign_safetensors_file(tmp_path):
    from safetensors.numpy import save

    path = tmp_path / "random.safetensors"
    path.write_bytes(save({"w": np.ones(3)}))
    with pytest.raises(GoldenError, match=rf"{path}: not a golden case file"):
        decode_case(path)


def test_decode_refuses_a_newer_format_version(tmp_path):
    path = tmp_path / "future.safetensors"
    path.write_bytes(encode_case({"expected.x": np.ones(1)}, {**META, "format_version": 99}))
    with pytest.raises(GoldenError, match="format version 99"):
        decode_case(path)


def test_atomic_write_leaves_the_old_file_when_interrupted(tmp_path, monkeypatch):
    path = tmp_path / "case.safetensors"
    path.write_bytes(b"old")

    def interrupted(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(files.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        atomic_write_bytes(path, b"new contents")
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["case.safetensors"]  # no temp file left behind


def test_atomic_write_replaces_and_makes_the_file_world_readable(tmp_path):
    path = tmp_path / "case.safetensors"
    path.write_bytes(b"old")
    atomic_write_bytes(path, b"new")
    assert path.read_bytes() == b"new"
    assert path.stat().st_mode & 0o777 == 0o644


def test_case_files_skip_the_tokenizer_folder_manifest_and_package_files(tmp_path):
    for rel in ("a.safetensors", "MANIFEST.json", "__init__.py", "tokenizer/t.json", "sub/b.bin", ".hidden"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    found = [p.relative_to(tmp_path).as_posix() for p in files.case_files(tmp_path)]
    assert found == [".hidden", "a.safetensors", "sub/b.bin"]  # hidden files too: a stray .tmp is reported


def test_read_manifest_errors_name_the_file(tmp_path):
    with pytest.raises(GoldenError, match="MANIFEST.json: missing"):
        files.read_manifest(tmp_path)
    (tmp_path / "MANIFEST.json").write_text("{not json")
    with pytest.raises(GoldenError, match="MANIFEST.json: unreadable"):
        files.read_manifest(tmp_path)
    (tmp_path / "MANIFEST.json").write_text('{"files": {}}')
    with pytest.raises(GoldenError, match="not a golden manifest"):
        files.read_manifest(tmp_path)


class _Layer:
    def __init__(self, k, v):
        self.keys, self.values = k, v


class _Cache:
    """The reference cache's shape: ``layers`` and ``cross_layers`` with ``keys`` / ``values``."""

    def __init__(self):
        self.layers = [_Layer(np.ones((1, 2, 3, 4)), np.zeros((1, 2, 3, 4)))]
        self.cross_layers = [_Layer(np.full((1, 2, 5, 4), 2.0), np.full((1, 2, 5, 4), 3.0))]


def test_flatten_outputs_names_sequences_and_caches():
    outputs = {"logits": np.ones(2), "hidden_states": [np.zeros(1), np.ones(1)], "attentions": [],
               "loss": None, "cache": _Cache()}
    flat = flatten_outputs(outputs)
    assert sorted(flat) == ["cache.0.cross_key", "cache.0.cross_value", "cache.0.key", "cache.0.value",
                            "hidden_states.0", "hidden_states.1", "logits"]
    assert flat["cache.0.cross_value"][0, 0, 0, 0] == 3.0
