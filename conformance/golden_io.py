"""Golden fixture files on disk: the safetensors case format, sha256, atomic writes, the manifest.

A case file is one safetensors file. All tensors are float64 or int64; the metadata holds exactly one key,
``"golden"``, whose value is canonical JSON (sorted keys, no whitespace variation). One key because the
safetensors writer stores ``__metadata__`` as a hash map whose order changes from process to process: with
several keys the same case would get different bytes on every run.

Tensor names (``<hf key>`` is a Hugging Face state-dict key, ``<i>`` an integer)::

    weight.<hf key>                      parameters, HF names as saved (tied targets dropped)
    input.<name>                         forward inputs (input_ids, attention_mask, labels, ...)
    expected.<name>                      outputs (loss, logits, last_hidden_state, ...)
    expected.hidden_states.<i>           tuple outputs, one tensor per element
    expected.attentions.<i>  /  expected.cross_attentions.<i>
    expected.cache.<i>.key / .value      per-layer self-attention cache, [B, A, past_seq + seq, D]
    expected.cache.<i>.cross_key / .cross_value   cross-attention cache, [B, A, enc_seq, D]
    grad.<hf key>                        d loss / d parameter
    step.<k>.input.<name> / step.<k>.expected.<name>   decoder steps (k = 0 is the prefix)
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

FORMAT = "bert-conformance-golden"
FORMAT_VERSION = 1
METADATA_KEY = "golden"
MANIFEST_NAME = "MANIFEST.json"
CASE_SUFFIX = ".safetensors"
# Folders under golden/ that other owners manage; verify and the orphan scan skip them.
EXCLUDED_DIRS = ("tokenizer",)
# Files that belong to the package, not to the fixture set.
IGNORED_FILES = ("__init__.py", MANIFEST_NAME)
ALLOWED_DTYPES = (np.dtype(np.float64), np.dtype(np.int64))
TENSOR_PREFIXES = ("weight.", "input.", "expected.", "grad.", "step.")


class GoldenError(Exception):
    """A golden file or manifest is wrong: the message names the file and the problem."""


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def canonical_json(obj: Any) -> str:
    """JSON that is byte-identical for equal objects (sorted keys, fixed separators, ASCII)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then rename: readers see old or new, never half."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; fixtures are package data, readable by all
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def encode_case(tensors: dict[str, np.ndarray], meta: dict[str, Any]) -> bytes:
    """Serialize one case. Refuses dtypes other than float64/int64 and names outside the convention."""
    from safetensors.numpy import save

    for name, array in tensors.items():
        if not name.startswith(TENSOR_PREFIXES):
            raise GoldenError(f"tensor {name!r}: name must start with one of {TENSOR_PREFIXES}")
        if array.dtype not in ALLOWED_DTYPES:
            raise GoldenError(f"tensor {name!r}: dtype {array.dtype} (golden files hold float64/int64 only)")
    contiguous = {k: np.array(v, order="C") for k, v in sorted(tensors.items())}  # keeps 0-d (ascontiguousarray does not)
    return save(contiguous, metadata={METADATA_KEY: canonical_json(meta)})


def decode_case(path: Path) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read a case file; any problem becomes a GoldenError naming the file."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise GoldenError(f"{path}: unreadable: {e.strerror or e}") from e
    return decode_bytes(data, path)


def decode_bytes(data: bytes, path: Path | str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Tensors and metadata of case-file bytes (``path`` names them in errors)."""
    from safetensors import SafetensorError
    from safetensors.numpy import load

    try:
        tensors = load(data)
    except (SafetensorError, ValueError, OSError) as e:
        raise GoldenError(f"{path}: unreadable: not a valid safetensors file ({e})") from e
    return tensors, read_metadata(Path(path), data)


def read_metadata(path: Path, data: bytes) -> dict[str, Any]:
    """The ``golden`` JSON from a safetensors header (8-byte little-endian length, then JSON)."""
    try:
        n = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + n])
        raw = header["__metadata__"][METADATA_KEY]
        meta = json.loads(raw)
    except (ValueError, KeyError, TypeError) as e:
        raise GoldenError(f"{path}: not a golden case file (no '{METADATA_KEY}' metadata: {e!r})") from e
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise GoldenError(f"{path}: not a golden case file (metadata format is not {FORMAT!r})")
    if meta.get("format_version") != FORMAT_VERSION:
        raise GoldenError(
            f"{path}: golden format version {meta.get('format_version')!r}, this reader needs {FORMAT_VERSION}"
        )
    return meta


def case_files(root: Path) -> list[Path]:
    """Every file under root that the fixture set is responsible for (excluded folders skipped)."""
    root = Path(root)
    found = []
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if not path.is_file() or rel.parts[0] in EXCLUDED_DIRS or rel.parts[0] == "__pycache__":
            continue
        if len(rel.parts) == 1 and (rel.name in IGNORED_FILES or rel.name.startswith(".")):
            continue
        found.append(path)
    return found


def read_manifest(root: Path) -> dict[str, Any]:
    path = Path(root) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise GoldenError(f"{path}: missing (run `bert-conformance golden regenerate`)") from e
    except (OSError, ValueError) as e:
        raise GoldenError(f"{path}: unreadable: {e}") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or "files" not in manifest:
        raise GoldenError(f"{path}: not a golden manifest (needs format={FORMAT!r} and 'files')")
    return manifest


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """The manifest as committed: sorted keys, 2-space indent, trailing newline."""
    return (json.dumps(manifest, sort_keys=True, indent=2, ensure_ascii=True, allow_nan=False) + "\n").encode()


# ---------------------------------------------------------------------------------------------- flattening


def _array(value: Any) -> np.ndarray:
    """numpy, or a torch tensor (duck-typed so this module does not import torch), as a fresh numpy array."""
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.array(value, copy=True)


def flatten_cache(cache: Any) -> dict[str, np.ndarray]:
    """``cache.<i>.key/value`` and ``cache.<i>.cross_key/cross_value`` from a reference ``Cache``
    (``layers`` / ``cross_layers``) or a transformers DynamicCache / EncoderDecoderCache."""
    self_layers = getattr(cache, "self_attention_cache", cache).layers
    cross_layers = getattr(cache, "cross_layers", None)
    if cross_layers is None and hasattr(cache, "cross_attention_cache"):
        cross_layers = cache.cross_attention_cache.layers
    flat = {}
    for i, layer in enumerate(self_layers):
        flat[f"cache.{i}.key"], flat[f"cache.{i}.value"] = _array(layer.keys), _array(layer.values)
    for i, layer in enumerate(cross_layers or []):
        flat[f"cache.{i}.cross_key"], flat[f"cache.{i}.cross_value"] = _array(layer.keys), _array(layer.values)
    return flat


def flatten_outputs(outputs: Any) -> dict[str, np.ndarray]:
    """Outputs (a ModelOutput or a dict) as {golden name: array}: sequences become ``name.<i>``, the cache
    (``cache``, or ``past_key_values`` before transformers 5.24) ``cache.<i>.*``. Empty sequences (HF's
    ``attentions=()`` under sdpa) and None entries carry no tensor and are left out."""
    flat: dict[str, np.ndarray] = {}
    for name in outputs.keys():
        value = outputs[name]
        if value is None:
            continue
        if name in ("cache", "past_key_values"):
            flat.update(flatten_cache(value))
        elif isinstance(value, (tuple, list)):
            flat.update({f"{name}.{i}": _array(item) for i, item in enumerate(value) if item is not None})
        else:
            flat[name] = _array(value)
    return flat
