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

import ctypes
import errno
import hashlib
import json
import os
import re
import shutil
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
# The case naming rule (`<group>.<name>`): lowercase words joined by dots. No "/", no "..", no leading dot, so a
# case id or manifest key can never name a path outside the fixture folder.
CASE_ID_PATTERN = re.compile(r"[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+")
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")
# Siblings of the fixture folder that regenerate uses: the new set is staged in the first and swapped in; the
# second holds the old set for a moment where the swap needs two renames (no renameat2).
STAGING_SUFFIX, PREVIOUS_SUFFIX = ".regenerate", ".previous"


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
    """Every entry under root that the fixture set is responsible for: files of any name (hidden ``.tmp``
    files too), symbolic links and anything else that is not a folder. Skipped: the package's own files
    (``IGNORED_FILES``), ``__pycache__`` and the folders other owners manage (``EXCLUDED_DIRS``)."""
    root = Path(root)
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        if here == root:
            dirnames[:] = [d for d in dirnames if d not in (*EXCLUDED_DIRS, "__pycache__")]
        links = [d for d in dirnames if (here / d).is_symlink()]  # a linked folder is reported, never entered
        dirnames[:] = [d for d in dirnames if d not in links]
        found += [here / name for name in filenames + links if here != root or name not in IGNORED_FILES]
    return sorted(found)


def case_name_problem(name: str) -> str | None:
    """Why ``name`` is not a case file name (``<case id>.safetensors``), or None."""
    if not name.endswith(CASE_SUFFIX) or not CASE_ID_PATTERN.fullmatch(name[: -len(CASE_SUFFIX)]):
        return (f"{name!r} is not a case file name (<case id>{CASE_SUFFIX} in the folder itself; a case id is "
                "lowercase words joined by dots, e.g. model.tiny)")
    return None


def confined_file(root: Path, name: str) -> Path:
    """``root / name`` if it is a regular file directly in root; a symbolic link (which could lead anywhere,
    inside or out) or anything else is refused, so a case is never read from outside the fixture folder."""
    path = Path(root) / name
    if path.is_symlink():
        raise GoldenError(f"{path}: a symbolic link (to {os.readlink(path)}); fixtures must be regular files in "
                          f"{Path(root)}")
    if not path.exists():
        raise GoldenError(f"{path}: missing (listed in {MANIFEST_NAME})")
    if not path.is_file():
        raise GoldenError(f"{path}: not a regular file")
    return path


def read_manifest(root: Path) -> dict[str, Any]:
    """The manifest, checked: its structure and every file name and entry (else one GoldenError naming it)."""
    path = Path(root) / MANIFEST_NAME
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise GoldenError(f"{path}: missing (run `bert-conformance golden regenerate`)") from e
    except (OSError, ValueError) as e:  # UnicodeDecodeError is a ValueError: binary garbage lands here
        raise GoldenError(f"{path}: unreadable: {e}") from e
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT or "files" not in manifest:
        raise GoldenError(f"{path}: not a golden manifest (needs format={FORMAT!r} and 'files')")
    if not isinstance(manifest["files"], dict):
        raise GoldenError(f"{path}: 'files' is a {type(manifest['files']).__name__}, not a mapping of file names")
    for name, entry in manifest["files"].items():
        problem = case_name_problem(name) or _entry_problem(name, entry)
        if problem:
            raise GoldenError(f"{path}: files[{name!r}]: {problem}")
    return manifest


# Manifest entry fields: name -> (type, check). bool is an int in Python, so "bytes" refuses it explicitly.
ENTRY_FIELDS: dict[str, tuple[type, Any]] = {
    "case_id": (str, None),
    "description": (str, None),
    "head": (str, None),
    "clauses": (list, lambda v: all(isinstance(c, str) for c in v)),
    "sha256": (str, SHA256_PATTERN.fullmatch),
    "bytes": (int, lambda v: not isinstance(v, bool) and v >= 0),
}


def _entry_problem(name: str, entry: Any) -> str | None:
    """What is wrong with one manifest entry, or None."""
    if not isinstance(entry, dict):
        return f"entry is a {type(entry).__name__}, not a mapping"
    for key, (kind, ok) in ENTRY_FIELDS.items():
        value = entry.get(key)
        if not isinstance(value, kind) or (ok is not None and not ok(value)):
            return f"{key!r} missing or malformed ({value!r})"
    if name != entry["case_id"] + CASE_SUFFIX:
        return f"case_id {entry['case_id']!r} does not match the file name"
    external = entry.get("external_weights")
    if external is not None and not (isinstance(external, dict) and isinstance(external.get("sha256"), str)):
        return "'external_weights' must be a mapping with a sha256"
    return None


# ------------------------------------------------------------------------------------- staging and swap


def staging_dirs(root: Path) -> tuple[Path, Path]:
    """(staging, previous): regenerate's siblings of the fixture folder (same file system, so renames work)."""
    root = Path(root).resolve()
    return root.parent / f".{root.name}{STAGING_SUFFIX}", root.parent / f".{root.name}{PREVIOUS_SUFFIX}"


def stale_staging_problems(root: Path) -> list[str]:
    """Folders an interrupted (killed) regenerate left beside the fixture folder, one line each."""
    staging, previous = staging_dirs(root)
    if not Path(root).exists() and previous.is_dir():
        return [f"{root}: missing; a swap was interrupted and {previous} holds the complete old set (the next "
                "regenerate puts it back)"]
    return [f"{path}: stale staging folder of an interrupted `golden regenerate` (the next regenerate removes "
            "it; or delete it by hand)" for path in (staging, previous) if path.exists() or path.is_symlink()]


def remove_tree(path: Path) -> None:
    """Delete a staging folder (or a link or file in its place); absent is fine."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable (a no-op where folders cannot be opened, e.g. Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_AT_FDCWD, _RENAME_EXCHANGE = -100, 2


def exchange_dirs(a: Path, b: Path) -> bool:
    """Swap two folders in one atomic step (Linux ``renameat2(RENAME_EXCHANGE)``): any reader, and any crash,
    sees one or the other at each path, never neither. False where the call or the file system lacks it."""
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # not Linux, or a libc older than glibc 2.28
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(a))


def swap_in(staging: Path, root: Path) -> None:
    """Make ``staging`` the fixture folder; the old set ends up at ``staging`` (exchange) or ``previous``
    (fallback), for the caller to delete. Fallback: two renames; a crash between them leaves no ``root`` but a
    complete ``previous``, which :func:`recover_staging` moves back."""
    fsync_dir(staging)
    if not exchange_dirs(staging, root):
        previous = staging_dirs(root)[1]
        os.rename(root, previous)
        os.rename(staging, root)
    fsync_dir(root.parent)


def recover_staging(root: Path) -> list[str]:
    """Undo what an interrupted regenerate left: put the old set back if the fallback swap stopped between its
    two renames, then delete the staging folders. One line per action."""
    root = Path(root).resolve()
    staging, previous = staging_dirs(root)
    done = []
    if not root.exists() and previous.is_dir() and not previous.is_symlink():
        os.rename(previous, root)
        done.append(f"restored {root} from {previous} (a swap was interrupted)")
    for path in (staging, previous):
        if path.exists() or path.is_symlink():
            remove_tree(path)
            done.append(f"removed stale staging folder {path}")
    return done


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
