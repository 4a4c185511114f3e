"""Generate golden case files: expected values from the reference oracle in float64, cross-checked against
transformers when it is installed. The new set is built in a staging folder beside the fixture folder,
verified, and swapped in with one atomic rename (see :func:`regenerate`); no fixture is ever deleted.

``bert-conformance golden regenerate [--dir DIR] [--check]`` runs :func:`regenerate`.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ..losses import loss_dtype
from ..spec import load_spec
from . import cases_heads, minilm  # noqa: F401  (registers the cases)
from .cases import CASES, CaseSpec, build
from .files import (
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_NAME,
    GoldenError,
    atomic_write_bytes,
    case_files,
    decode_bytes,
    decode_case,
    encode_case,
    flatten_outputs,
    manifest_bytes,
    read_manifest,
    recover_staging,
    sha256_bytes,
    staging_dirs,
    swap_in,
)
from .hf import hf_expected, transformers_version
from .minilm import GoldenUnavailable, load_weights
from .weights import random_weights

# Bump when a change here or in the case functions changes what a file holds.
GENERATOR_VERSION = "1"
REGENERATE_COMMAND = "bert-conformance golden regenerate"
CROSS_CHECK_ATOL = 1e-10  # reference vs transformers, both float64 (HF's own eager-vs-sdpa gap is ~1e-15)
EXCLUDED = ("tokenizer/",)


def all_case_ids() -> list[str]:
    """Every registered case (the case modules are imported above)."""
    return sorted(CASES)


def case_file_name(case_id: str) -> str:
    return f"{case_id}.safetensors"


def library_versions() -> dict[str, str | None]:
    """Versions of the libraries that produce the bytes (they are written into every file)."""
    versions: dict[str, str | None] = {}
    for name in ("numpy", "safetensors", "torch", "transformers"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def spec_version() -> str:
    """The spec_version every spec file declares (through the spec loader, so an invalid spec stops here)."""
    from ..spec import load_spec

    versions = {str(document["spec_version"]) for document in load_spec().documents.values()}
    if len(versions) != 1:
        raise GoldenError(f"spec files disagree on spec_version: {sorted(versions)}")
    return versions.pop()


@contextmanager
def one_thread():
    """One intra-op thread: float64 reductions then run in one fixed order, so reruns are bit-identical."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


# ------------------------------------------------------------------------------------ expected values


def reference_expected(spec: CaseSpec, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Expected tensors from ``bert_conformance.oracle`` (the reference, float64, eager, eval)."""
    from ..oracle import get_oracle

    oracle = get_oracle("reference")
    if spec.steps:
        tensors, cache = {}, None
        for k, inputs in enumerate((spec.inputs, *spec.steps)):
            extra = {} if cache is None else {"cache": cache}
            output = oracle.forward(spec.head, spec.config, weights, inputs, **spec.options, **extra)
            cache = output["cache"]
            tensors.update({f"step.{k}.expected.{n}": v for n, v in flatten_outputs(output).items()})
        return tensors
    output = oracle.forward(spec.head, spec.config, weights, spec.inputs, **spec.options)
    tensors = {f"expected.{n}": v for n, v in flatten_outputs(output).items()}
    if spec.gradients:
        grads = oracle.gradients(spec.head, spec.config, weights, spec.inputs)
        tensors.update({f"grad.{key}": np.array(grads[key]) for key in weights})
    return tensors


def float32_precision_outputs(head: str) -> set[str]:
    """Outputs the spec fixes at float32 precision even for a float64 model (labels.yaml ``upcast``).

    HF computes the causal-LM loss from ``logits.float()``, so a float64 reference and a float64 HF differ there
    by float32 round-off; those outputs are cross-checked at the spec's float32 loss tolerance instead.
    """
    return {"expected.loss"} if loss_dtype(head, "float64") == "float32" else set()


def cross_check(
    case_id: str,
    ours: dict[str, np.ndarray],
    theirs: dict[str, np.ndarray],
    atol_for: dict[str, float] | None = None,
) -> None:
    """Refuse a case the reference and transformers disagree on (names, shapes, NaNs, values > 1e-10, or
    ``atol_for[name]`` for outputs the spec specifies at a lower precision)."""
    if set(ours) != set(theirs):
        raise GoldenError(
            f"case {case_id}: reference and transformers return different outputs: only reference "
            f"{sorted(set(ours) - set(theirs))}, only transformers {sorted(set(theirs) - set(ours))}"
        )
    for name in sorted(ours):
        a, b = np.asarray(ours[name], dtype=np.float64), np.asarray(theirs[name], dtype=np.float64)
        if a.shape != b.shape:
            raise GoldenError(f"case {case_id}: output {name}: shape {a.shape} (reference) vs {b.shape} (transformers)")
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            raise GoldenError(f"case {case_id}: output {name}: NaN positions differ (reference vs transformers)")
        diff = np.abs(np.where(np.isnan(a), 0.0, a - b))
        error = float(diff.max()) if diff.size else 0.0
        limit = (atol_for or {}).get(name, CROSS_CHECK_ATOL)
        if error > limit:
            raise GoldenError(
                f"case {case_id}: output {name}: reference and transformers disagree, max abs error "
                f"{error:.3g} > {limit:g}"
            )


# ------------------------------------------------------------------------------------------ one case


def case_metadata(spec: CaseSpec, spec_ver: str, checked_with: str | None) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "case_id": spec.case_id,
        "description": spec.description,
        "head": spec.head,
        "config": spec.config,
        "options": spec.options,
        "steps": len(spec.steps) + 1 if spec.steps else 0,
        "gradients": spec.gradients,
        "seed": spec.seed,
        "clauses": list(spec.clauses),
        "dtype": "float64",
        "attention": "eager",
        "external_weights": spec.external,
        "spec_version": spec_ver,
        "generator_version": GENERATOR_VERSION,
        "libraries": library_versions(),
        "cross_checked_with": checked_with,
        "regenerate": REGENERATE_COMMAND,
    }


def build_case_file(case_id: str, spec_ver: str) -> tuple[bytes, dict[str, Any]]:
    """(file bytes, manifest entry) of one case. Raises GoldenUnavailable if an optional package is missing."""
    spec = build(case_id)
    weights = load_weights(spec.external["sha256"]) if spec.external else random_weights(spec.head, spec.config, spec.seed)
    hf_version = transformers_version()
    with one_thread():
        expected = reference_expected(spec, weights)
        if hf_version is not None:
            loss_tol = load_spec().tolerances.get("float32", "loss")
            lower = {name: loss_tol.atol + loss_tol.rtol * float(np.nanmax(np.abs(expected[name]), initial=0.0))
                     for name in float32_precision_outputs(spec.head) if name in expected}
            cross_check(case_id, expected, hf_expected(spec, weights), lower)
    tensors = {name: np.asarray(v, dtype=np.float64) for name, v in expected.items()}
    if not spec.external:
        tensors.update({f"weight.{k}": v for k, v in weights.items()})
    if spec.steps:
        for k, inputs in enumerate((spec.inputs, *spec.steps)):
            tensors.update({f"step.{k}.input.{n}": v for n, v in inputs.items()})
    else:
        tensors.update({f"input.{n}": v for n, v in spec.inputs.items()})
    checked = f"transformers=={hf_version}" if hf_version else None
    data = encode_case(tensors, case_metadata(spec, spec_ver, checked))
    entry = {"case_id": case_id, "description": spec.description, "head": spec.head,
             "clauses": list(spec.clauses), "sha256": sha256_bytes(data), "bytes": len(data)}
    if spec.external:
        entry["external_weights"] = {k: spec.external[k] for k in ("package", "version", "file", "sha256")}
    return data, entry


# ------------------------------------------------------------------------------------------ regenerate


@dataclass
class Regeneration:
    """What a regeneration found, per file name."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    equivalent: list[str] = field(default_factory=list)  # --check: bytes differ, content the same
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # on disk, no longer generated: reported, never deleted
    skipped: list[str] = field(default_factory=list)  # optional package missing: existing file kept
    refused: list[str] = field(default_factory=list)  # reference and transformers disagree: not written
    manifest_changed: bool = False

    def clean(self) -> bool:
        return not (self.added or self.changed or self.removed or self.refused or self.manifest_changed)


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or SIGHUP) during a regeneration, raised like Ctrl-C so that the staging folder is cleaned."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"signal {signum}")
        self.signum = signum


@contextmanager
def signals_interrupt() -> Iterator[None]:
    """Turn SIGTERM / SIGHUP into :class:`Interrupted` and SIGINT into KeyboardInterrupt for the duration (the
    default of the first two kills the process without running ``finally``). Only the main thread may set
    handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, _frame: Any) -> None:
        raise Interrupted(signum)

    # SIGINT too: a parent that ignores it (some process managers) would otherwise leave no way to clean up
    handlers = {signal.SIGINT: signal.default_int_handler,
                **{sig: interrupt for sig in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if sig}}
    previous = {sig: signal.signal(sig, handler) for sig, handler in handlers.items()}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


PAUSE_ENV = "BERT_CONFORMANCE_GOLDEN_PAUSE"


def _pause(point: str) -> None:
    """Test hook: with ``$BERT_CONFORMANCE_GOLDEN_PAUSE`` set, announce each point on stderr and, at the point
    it names, wait (up to 10 min) for the test to send a real signal at a known state of the regeneration."""
    wanted = os.environ.get(PAUSE_ENV)
    if wanted:
        print(f"golden regenerate: pause {point}", file=sys.stderr, flush=True)
        if point == wanted:
            time.sleep(600)


def regenerate(root: Path, *, check: bool = False, log: Callable[[str], None] = print,
               case_ids: Sequence[str] | None = None) -> Regeneration:
    """Rebuild every case (or only ``case_ids``, keeping the other entries) into ``root``; with check, only
    compare and write nothing.

    Writes go to a copy of the folder beside it (``.<name>.regenerate``); when everything is written and the
    copy verifies, one ``renameat2(RENAME_EXCHANGE)`` swaps it in (elsewhere: two renames, undone by the next
    run if interrupted between them). So after any signal, ``root`` holds the complete old or the complete new
    set. SIGINT / SIGTERM / SIGHUP remove the staging folder; one left by SIGKILL is removed by the next run."""
    unknown = sorted(set(case_ids or ()) - set(all_case_ids()))
    if unknown:
        raise GoldenError(f"unknown case id(s) {unknown} (see bert_conformance.golden.generate.all_case_ids())")
    if check:
        return _build(Path(root), Path(root), check=True, log=log, case_ids=case_ids)
    root = Path(root).resolve()  # a symlinked fixture folder: swap the folder it names, not the link
    with signals_interrupt():
        for line in recover_staging(root):  # before mkdir: a missing root may be waiting in .previous
            log(line)
        root.mkdir(parents=True, exist_ok=True)
        staging = staging_dirs(root)[0]
        try:
            shutil.copytree(root, staging, symlinks=True)
            result = _build(root, staging, check=False, log=log, case_ids=case_ids)
            if result.added or result.changed or result.manifest_changed:
                _verify_staged(staging)
                _pause("before swap")
                swap_in(staging, root)
                _pause("after swap")
        finally:
            recover_staging(root)  # the staging copy, or the old set it was exchanged with
    return result


def _verify_staged(staging: Path) -> None:
    """Refuse to swap in a set that does not verify (files it carries over unlisted aside: never deleted)."""
    from .load import verify

    problems = [p for p in verify(staging) if ": orphaned: " not in p]
    if problems:
        raise GoldenError("the regenerated set does not verify, nothing swapped in: " + "; ".join(problems))


def _build(root: Path, target: Path, *, check: bool, log: Callable[[str], None],
           case_ids: Sequence[str] | None) -> Regeneration:
    """Generate into ``target`` (``root`` itself with check, where nothing is written); files, then manifest."""
    old_entries = _old_manifest_entries(root)
    result, entries = Regeneration(), _kept_entries(old_entries, case_ids)
    spec_ver = spec_version()
    for case_id in sorted(all_case_ids() if case_ids is None else case_ids):
        name = case_file_name(case_id)
        try:
            data, entry = build_case_file(case_id, spec_ver)
        except GoldenError as e:  # GoldenUnavailable: optional package missing; else a refused cross-check
            status = "skipped" if isinstance(e, GoldenUnavailable) else "refused"
            getattr(result, status).append(name)
            log(f"{status:<10} {name}: {e} (existing file and manifest entry kept)")
            if name in old_entries:
                entries[name] = old_entries[name]
            continue
        entries[name] = entry
        status = _compare(target / name, data, check)
        getattr(result, status).append(name)
        log(f"{status:<10} {name}")
        if status in ("added", "changed") and not check:
            atomic_write_bytes(target / name, data)
            _pause(f"staged {name}")
    for path in case_files(target):
        rel = path.relative_to(target).as_posix()
        if rel not in entries:
            result.removed.append(rel)
            log(f"removed    {rel}: no longer generated; left in place (delete it by hand)")
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "generator_version": GENERATOR_VERSION,
        "spec_version": spec_ver, "regenerate": REGENERATE_COMMAND, "excluded": list(EXCLUDED), "files": entries,
    }
    result.manifest_changed = _manifest_differs(target, manifest, result.equivalent)
    if result.manifest_changed and not check:
        atomic_write_bytes(target / MANIFEST_NAME, manifest_bytes(manifest))
    log(f"{MANIFEST_NAME}: {'changed' if result.manifest_changed else 'unchanged'}"
        f"{' (not written: --check)' if check and result.manifest_changed else ''}")
    return result


def _kept_entries(old_entries: dict[str, Any], case_ids: Sequence[str] | None) -> dict[str, Any]:
    """With a subset of cases, the entries of the other registered cases stay as they are (their files are
    neither regenerated nor reported removed)."""
    if case_ids is None:
        return {}
    others = {case_file_name(c) for c in all_case_ids()} - {case_file_name(c) for c in case_ids}
    return {name: entry for name, entry in old_entries.items() if name in others}


def _old_manifest_entries(root: Path) -> dict[str, Any]:
    try:
        return dict(read_manifest(root)["files"])
    except GoldenError:
        return {}


def _compare(path: Path, data: bytes, check: bool) -> str:
    """added / unchanged / changed, or (with check) equivalent when only versions or last bits differ."""
    if not path.exists():
        return "added"
    if path.read_bytes() == data:
        return "unchanged"
    if check and equivalent_case(path, data):
        return "equivalent"
    return "changed"


def equivalent_case(path: Path, data: bytes) -> bool:
    """Same tensors (names, dtypes, shapes, NaNs), values within 1e-12, same metadata but library versions."""
    try:
        old_tensors, old_meta = decode_case(path)
    except GoldenError:
        return False
    new_tensors, new_meta = decode_bytes(data, path)
    drop = ("libraries", "cross_checked_with")
    if {k: v for k, v in old_meta.items() if k not in drop} != {k: v for k, v in new_meta.items() if k not in drop}:
        return False
    if set(old_tensors) != set(new_tensors):
        return False
    for name, old in old_tensors.items():
        new = new_tensors[name]
        if old.dtype != new.dtype or old.shape != new.shape or not np.array_equal(np.isnan(old), np.isnan(new)):
            return False
        if old.size and np.nanmax(np.abs(old - new)) > 1e-12:
            return False
    return True


def _manifest_differs(root: Path, manifest: dict[str, Any], equivalent: list[str]) -> bool:
    """True if the manifest on disk is not this one (hashes of --check-equivalent files aside)."""
    try:
        old = read_manifest(root)
    except GoldenError:
        return True
    if not equivalent:
        return old != manifest
    hashless = ("sha256", "bytes")

    def strip(m: dict[str, Any]) -> dict[str, Any]:
        files = {n: {k: v for k, v in e.items() if n not in equivalent or k not in hashless} for n, e in m["files"].items()}
        return {**m, "files": files}

    return strip(old) != strip(manifest)
