"""Golden fixtures on disk: load a case, verify the set against its manifest, and serve it as an oracle.

Consumers use :func:`iter_cases` / :func:`load_case`; each :class:`GoldenCase` holds everything needed to
run the case through a port (head, config, HF state dict, inputs, options) and what to compare against
(expected outputs, gradients, per-step values of decoder cases). Loading checks the file's sha256 against
``MANIFEST.json`` first, then its structure; it never regenerates anything.

The file format is in :mod:`.files`, the cases in :mod:`.cases`, generation in :mod:`.generate`, the
``bert-conformance golden`` commands in :mod:`.commands`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ..report import NEEDS_LIVE_ORACLE
from .check import check_structure, split_tensors
from .files import (
    MANIFEST_NAME,
    GoldenError,
    case_files,
    confined_file,
    decode_case,
    read_manifest,
    sha256_file,
    stale_staging_problems,
)
from .minilm import UNAVAILABLE, GoldenUnavailable, load_weights

__all__ = ["GoldenCase", "GoldenError", "GoldenOracle", "GoldenStep", "NoGoldenAnswer", "default_dir", "iter_cases",
           "load_case", "verify"]


@dataclass(frozen=True)
class GoldenStep:
    """One call of a decoder case (step 0 is the prefix); each later step is fed the cache of the one before."""

    inputs: dict[str, np.ndarray]
    expected: dict[str, np.ndarray]


@dataclass(frozen=True)
class GoldenCase:
    """A golden case, loaded and checked. Arrays are float64 / int64 numpy arrays under golden names:
    ``expected`` keys are output names (``logits``, ``hidden_states.0``, ``cache.1.key`` ...)."""

    case_id: str
    path: Path
    description: str
    head: str
    config: dict[str, Any]
    clauses: tuple[str, ...]
    options: dict[str, Any]
    state_dict: dict[str, np.ndarray]  # HF keys, saved form (tied targets absent)
    inputs: dict[str, np.ndarray]  # empty for decoder-step cases (see steps)
    expected: dict[str, np.ndarray]
    gradients: dict[str, np.ndarray]  # HF key -> d loss / d parameter; empty unless the case has them
    steps: tuple[GoldenStep, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    skip_reason: str | None = None  # set when an optional package is missing (state_dict is then empty)


def default_dir() -> Path:
    """The fixtures shipped as package data (``bert_conformance.goldendata``; ``golden/`` in a checkout)."""
    return Path(str(resources.files("bert_conformance.goldendata")))


def load_case(path: Path | str, manifest: dict[str, Any] | None = None) -> GoldenCase:
    """Load one case file: a regular file in the folder, size and sha256 against the manifest first, then the
    metadata against the manifest entry, then structure and contents. Raises GoldenError, nothing else."""
    path = Path(path)
    if manifest is None:
        manifest = read_manifest(path.parent)
    entry = manifest["files"].get(path.name)
    if entry is None:
        raise GoldenError(f"{path}: not listed in {path.parent / MANIFEST_NAME} (orphaned file)")
    path = confined_file(path.parent, path.name)
    try:
        size, actual = path.stat().st_size, sha256_file(path)
    except OSError as e:
        raise GoldenError(f"{path}: unreadable: {e.strerror or e}") from e
    if size != entry["bytes"]:
        raise GoldenError(f"{path}: size mismatch: manifest {entry['bytes']} bytes, file {size}")
    if actual != entry["sha256"]:
        raise GoldenError(f"{path}: sha256 mismatch: manifest {entry['sha256']}, file {actual}")
    tensors, meta = decode_case(path)
    try:
        return _checked_case(path, tensors, meta, entry)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as e:  # metadata of an unplanned shape
        raise GoldenError(f"{path}: malformed case ({type(e).__name__}: {e})") from e


def _checked_case(path: Path, tensors: dict[str, np.ndarray], meta: dict[str, Any],
                  entry: dict[str, Any]) -> GoldenCase:
    for key in ("case_id", "head", "clauses", "description"):  # the manifest's copy may not disagree
        if meta.get(key) != entry[key]:
            raise GoldenError(f"{path}: {key} {meta.get(key)!r} but the manifest says {entry[key]!r}")
    state_dict, skip_reason = _state_dict(path, tensors, meta, entry)
    check_structure(path, tensors, meta, state_dict)
    parts = split_tensors(tensors, meta["steps"])
    return GoldenCase(
        case_id=meta["case_id"], path=path, description=meta["description"], head=meta["head"],
        config=meta["config"], clauses=tuple(meta["clauses"]), options=meta["options"], state_dict=state_dict,
        inputs=parts.inputs, expected=parts.expected, gradients=parts.gradients,
        steps=tuple(GoldenStep(i, e) for i, e in parts.steps), meta=meta, skip_reason=skip_reason,
    )


def _state_dict(path: Path, tensors: dict[str, np.ndarray], meta: dict[str, Any],
                entry: dict[str, Any]) -> tuple[dict[str, np.ndarray], str | None]:
    """In-file weights, or (real checkpoint) the package's weights checked against the manifest's sha256."""
    external = meta.get("external_weights")
    if not external:
        return {k[len("weight."):]: v for k, v in tensors.items() if k.startswith("weight.")}, None
    recorded = (entry.get("external_weights") or {}).get("sha256")
    if recorded is None or recorded != external.get("sha256"):
        raise GoldenError(f"{path}: external weights sha256 missing or different in the file and the manifest")
    try:
        return load_weights(recorded), None
    except GoldenUnavailable:
        return {}, UNAVAILABLE


def iter_cases(dir: Path | str | None = None) -> list[GoldenCase]:
    """Every case in the folder (default: the shipped fixtures), after a full verify. Raises GoldenError."""
    root = Path(dir) if dir is not None else default_dir()
    problems = verify(root)
    if problems:
        raise GoldenError(f"{root}: {len(problems)} golden problem(s):\n  " + "\n  ".join(problems))
    manifest = read_manifest(root)
    return [load_case(root / name, manifest) for name in sorted(manifest["files"])]


def verify(root: Path | str) -> list[str]:
    """One line per problem: a bad manifest, missing, unreadable, tampered (size, sha256), malformed or
    orphaned files (anything in the folder the manifest does not list: stray ``.tmp`` files, links, ...), and
    staging folders a killed regenerate left beside it."""
    root = Path(root)
    problems = stale_staging_problems(root)
    try:
        manifest = read_manifest(root)
    except GoldenError as e:
        return [*problems, str(e)]
    for name in sorted(manifest["files"]):
        try:
            load_case(root / name, manifest)
        except GoldenError as e:
            problems.append(str(e))
    listed = set(manifest["files"])
    for path in case_files(root):
        rel = path.relative_to(root).as_posix()
        if rel not in listed:
            problems.append(f"{path}: orphaned: not listed in {MANIFEST_NAME} (regenerate, or delete it by hand)")
    return problems


# ------------------------------------------------------------------------------------------ the oracle seam


class NoGoldenAnswer(pytest.skip.Exception):  # type: ignore[misc, name-defined]
    """The golden oracle cannot answer this call: the clause needs the live reference oracle.

    A pytest skip, so the clause reports ``skipped-env`` with this message (hypothesis re-raises skips
    instead of treating them as failures). A damaged fixture is a GoldenError, never this.
    """

    def __init__(self, message: str) -> None:
        super().__init__(f"{NEEDS_LIVE_ORACLE} (--bert-oracle reference): {message}")


class GoldenOracle:
    """``--bert-oracle golden``: expected values read from the fixtures instead of computed by the reference.

    It answers only for a (head, config, weights, inputs, options) that is a golden case (decoder-step cases
    aside); anything else raises NoGoldenAnswer (the clause is skipped as needing the live oracle). It has no
    random weights of its own. Damaged fixtures fail when it is built (GoldenError).
    """

    name = "golden"

    def __init__(self, dir: Path | str | None = None) -> None:
        self._cases = {_key(c.head, c.config, c.state_dict, c.inputs, c.options): c
                       for c in iter_cases(dir) if not c.steps and not c.skip_reason}

    def forward(self, head: str, config: dict[str, Any], state_dict: Any, inputs: Any, **options: Any) -> dict:
        case = self._find(head, config, state_dict, inputs, options)
        outputs: dict[str, Any] = {}
        for name, array in sorted(case.expected.items(), key=lambda item: _natural(item[0])):
            group, _, index = name.partition(".")
            if index:
                outputs.setdefault(group, []).append(array)
            else:
                outputs[name] = array
        return outputs

    def gradients(self, head: str, config: dict[str, Any], state_dict: Any, inputs: Any) -> dict[str, np.ndarray]:
        case = self._find(head, config, state_dict, inputs, None)
        if not case.gradients:
            raise NoGoldenAnswer(f"golden case {case.case_id} has no gradients")
        return dict(case.gradients)

    def random_state_dict(self, head: str, config: dict[str, Any], *, seed: int) -> dict[str, np.ndarray]:
        raise NoGoldenAnswer("the golden oracle has no random weights; only clauses that load golden cases use it")

    def _find(self, head, config, state_dict, inputs, options: dict[str, Any] | None) -> GoldenCase:
        """The case for this call; ``options=None`` (gradients) matches any forward options."""
        query = _key(head, config, state_dict, inputs, options or {})
        for case_key, case in self._cases.items():
            if case_key == query or (options is None and case_key[:4] == query[:4]):
                return case
        raise NoGoldenAnswer(f"no golden case for this {head} call (the golden oracle only knows the fixtures)")


def _key(head: str, config: dict[str, Any], state_dict: Any, inputs: Any, options: dict[str, Any]) -> tuple:
    from .files import canonical_json, sha256_bytes

    def digest(arrays: Any) -> str:
        return sha256_bytes(b"".join(
            f"{k}:{np.asarray(v).dtype.str}:{np.shape(v)}:".encode() + np.ascontiguousarray(v).tobytes()
            for k, v in sorted(arrays.items())
        ))

    return head, canonical_json(config), digest(state_dict), digest(inputs), canonical_json(options)


def _natural(name: str) -> tuple:
    group, _, index = name.partition(".")
    return (group, int(index)) if index.isdigit() else (group, -1)
