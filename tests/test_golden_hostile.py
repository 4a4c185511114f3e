"""Hostile inputs: tampered fixture sets fail `golden verify` and the clause loader with one clear line (never a
traceback, never silently used), and a regeneration killed by a real signal at any point leaves the fixture
folder holding the complete old or the complete new set, nothing else.

The corpus works on a three-case subset of the committed fixtures (a plain case, a decoder-step case, a case
whose expected loss is legitimately NaN); the signal tests regenerate two tiny cases in a subprocess that
announces fixed points on stderr (``$BERT_CONFORMANCE_GOLDEN_PAUSE``) and is signalled while it waits there.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save

from bert_conformance.golden import files, golden_main, iter_cases, verify
from bert_conformance.golden.files import (
    GoldenError,
    decode_case,
    encode_case,
    read_manifest,
    recover_staging,
    sha256_file,
    staging_dirs,
    swap_in,
)
from bert_conformance.golden.generate import PAUSE_ENV, regenerate

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
TINY, STEPS, NAN_LOSS = (
    "model.tiny.safetensors",
    "lm_head.cache_steps.safetensors",
    "masked_lm.all_ignored.safetensors",
)
SUBSET = (TINY, STEPS, NAN_LOSS)


@pytest.fixture(scope="module")
def subset(tmp_path_factory) -> Path:
    """The three committed cases and a manifest listing just them (verifies clean)."""
    root = tmp_path_factory.mktemp("subset") / "g"
    root.mkdir()
    for name in SUBSET:
        shutil.copy(GOLDEN / name, root / name)
    manifest = read_manifest(GOLDEN)
    manifest["files"] = {name: manifest["files"][name] for name in SUBSET}
    _write_manifest(root, manifest)
    assert verify(root) == []
    return root


@pytest.fixture
def root(subset: Path, tmp_path: Path) -> Path:
    shutil.copytree(subset, tmp_path / "g", symlinks=True)
    return tmp_path / "g"


# ------------------------------------------------------------------------------------------- tampering


def _write_manifest(root: Path, manifest: object) -> None:
    (root / "MANIFEST.json").write_text(json.dumps(manifest))


def _edit_manifest(root: Path, edit: Callable[[dict], object]) -> None:
    manifest = json.loads((root / "MANIFEST.json").read_text())
    _write_manifest(root, edit(manifest) or manifest)


def _relist(root: Path, name: str, **fields: object) -> None:
    """Record the file's current sha256 and size (and ``fields``) in its manifest entry: only the content
    problem under test remains."""
    entry = {"sha256": sha256_file(root / name), "bytes": (root / name).stat().st_size, **fields}
    _edit_manifest(root, lambda m: m["files"][name].update(entry))


def _recase(root: Path, name: str, edit: Callable[[dict, dict], None], **fields: object) -> None:
    """Re-encode a case after ``edit(tensors, meta)`` and relist it."""
    tensors, meta = decode_case(root / name)
    edit(tensors, meta)
    (root / name).write_bytes(encode_case(tensors, meta))
    _relist(root, name, **fields)


def _raw(root: Path, name: str, data: bytes) -> None:
    (root / name).write_bytes(data)
    _relist(root, name)


def _poke(name: str, tensor: str, value: float) -> Callable[[Path], None]:
    def edit(tensors: dict, meta: dict) -> None:
        array = tensors[tensor].copy()
        array.flat[0] = value
        tensors[tensor] = array

    return lambda root: _recase(root, name, edit)


def _add(name: str, tensor: str, array: np.ndarray) -> Callable[[Path], None]:
    return lambda root: _recase(root, name, lambda t, m: t.update({tensor: array}))


def _drop(name: str, tensor: str) -> Callable[[Path], None]:
    return lambda root: _recase(root, name, lambda t, m: t.pop(tensor))


def _meta(name: str, **changes: object) -> Callable[[Path], None]:
    return lambda root: _recase(root, name, lambda t, m: m.update(changes))


def _rekey(new: str, outside: bool = False) -> Callable[[Path], None]:
    """Move model.tiny's manifest entry under another key (with ``outside``, put the file there too)."""

    def tamper(root: Path) -> None:
        if outside:
            target = (root / new).resolve()
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(root / TINY, target)
        _edit_manifest(root, lambda m: m["files"].update({new: m["files"].pop(TINY)}))

    return tamper


def _entry(**fields: object) -> Callable[[Path], None]:
    def tamper(root: Path) -> None:
        def edit(m: dict) -> None:
            for key, value in fields.items():
                if value is None:
                    m["files"][TINY].pop(key)
                else:
                    m["files"][TINY][key] = value

        _edit_manifest(root, edit)

    return tamper


def _symlink_out(root: Path) -> None:
    outside = root.parent / "elsewhere" / TINY  # the same bytes: only the link gives it away
    outside.parent.mkdir()
    shutil.copy(root / TINY, outside)
    (root / TINY).unlink()
    (root / TINY).symlink_to(outside)


def _stray(rel: str, data: bytes = b"x") -> Callable[[Path], None]:
    def tamper(root: Path) -> None:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)

    return tamper


def _sibling(suffix: str) -> Callable[[Path], None]:
    def tamper(root: Path) -> None:
        stale = root.parent / f".{root.name}{suffix}"
        shutil.copytree(root, stale)

    return tamper


def _truncate(root: Path) -> None:
    _raw(root, TINY, (root / TINY).read_bytes()[:5000])


def _flip_byte(root: Path) -> None:
    data = bytearray((root / TINY).read_bytes())
    data[-3] ^= 0x40
    (root / TINY).write_bytes(bytes(data))


def _foreign_metadata(root: Path) -> None:
    _raw(root, TINY, save({"expected.x": np.ones(2)}, metadata={"golden": json.dumps({"format": "other"})}))


def _steps_nan(root: Path) -> None:
    _poke(STEPS, "step.1.expected.logits", np.nan)(root)


def _dir_in_place(root: Path) -> None:
    (root / TINY).unlink()
    (root / TINY).mkdir()


def _linked_dir(root: Path) -> None:
    (root / "more").symlink_to(root.parent)


UNKNOWN_CLAUSE = ["heads.BertModel.outputs.last_hidden_state", "no.such.clause"]

# (id, tamper, message fragment): each must make verify (CLI, rc 1) and the loader fail with that fragment, in
# exactly one problem line.
CORPUS: list[tuple[str, Callable[[Path], None], str]] = [
    # manifest keys and case ids that would name a path outside the folder
    (
        "key-traversal",
        _rekey("../elsewhere/x.safetensors", outside=True),
        "files['../elsewhere/x.safetensors']: '../elsewhere/x.safetensors' is not a case file name",
    ),
    ("key-absolute", _rekey("/tmp/model.tiny.safetensors"), "files['/tmp/model.tiny.safetensors']: '/tmp/"),
    (
        "key-subfolder",
        _rekey("sub/model.tiny.safetensors", outside=True),
        "'sub/model.tiny.safetensors' is not a case",
    ),
    (
        "key-dotdot-id",
        _rekey("../../x.safetensors"),
        "files['../../x.safetensors']: '../../x.safetensors' is not",
    ),
    ("key-hidden", _rekey(".model.tiny.safetensors"), "'.model.tiny.safetensors' is not a case file name"),
    ("key-suffix", _rekey("model.tiny.bin"), "'model.tiny.bin' is not a case file name"),
    ("key-uppercase", _rekey("Model.Tiny.safetensors"), "'Model.Tiny.safetensors' is not a case file name"),
    (
        "entry-case-id-dotdot",
        _entry(case_id="../../model.tiny"),
        "files['model.tiny.safetensors']: case_id '../../model.tiny' does not match the file name",
    ),
    (
        "file-case-id-dotdot",
        _meta(TINY, case_id="../model.tiny"),
        "case_id '../model.tiny' but the manifest says 'model.tiny'",
    ),
    (
        "file-case-id-other",
        _meta(TINY, case_id="model.other"),
        "case_id 'model.other' but the manifest says 'model.tiny'",
    ),
    ("symlink-out", _symlink_out, "model.tiny.safetensors: a symbolic link (to "),
    ("listed-dir", _dir_in_place, "model.tiny.safetensors: not a regular file"),
    # contents against the metadata
    (
        "nan-expected",
        _poke(TINY, "expected.last_hidden_state", np.nan),
        "tensor expected.last_hidden_state: 1 non-finite value(s) (only expected.loss may be NaN)",
    ),
    (
        "inf-expected",
        _poke(TINY, "expected.pooler_output", -np.inf),
        "tensor expected.pooler_output: 1 non-finite",
    ),
    ("inf-loss", _poke(NAN_LOSS, "expected.loss", np.inf), "tensor expected.loss: 1 non-finite value(s)"),
    ("nan-step", _steps_nan, "tensor step.1.expected.logits: 1 non-finite value(s)"),
    (
        "nan-weight",
        _poke(TINY, "weight.pooler.dense.bias", np.nan),
        "tensor weight.pooler.dense.bias: 1 non-finite",
    ),
    (
        "extra-expected",
        _add(TINY, "expected.bogus", np.ones(2)),
        "unexpected tensor expected.bogus (not an output of BertModel)",
    ),
    (
        "extra-expected-element",
        _add(TINY, "expected.pooler_output.0", np.ones(2)),
        "unexpected tensor expected.pooler_output.0 (not an output of BertModel)",
    ),
    (
        "extra-group",
        _add(TINY, "expected.hidden_states.0", np.ones((1, 8, 16))),
        "unexpected tensor expected.hidden_states.0 (the case does not set output_hidden_states)",
    ),
    ("extra-input", _add(TINY, "input.bogus", np.ones(2, dtype=np.int64)), "unexpected tensor input.bogus"),
    ("extra-weight", _add(TINY, "weight.bogus", np.ones(2)), "unexpected tensor weight.bogus"),
    (
        "extra-step",
        _add(STEPS, "step.9.expected.logits", np.ones(2)),
        "unexpected tensor step.9.expected.logits",
    ),
    ("missing-expected", _drop(NAN_LOSS, "expected.logits"), "missing tensor expected.logits"),
    ("missing-weight", _drop(TINY, "weight.pooler.dense.bias"), "missing tensor weight.pooler.dense.bias"),
    ("unknown-option", _meta(TINY, options={"evil": True}), "option evil=True: a golden case may pass only"),
    (
        "option-not-bool",
        _meta(TINY, options={"use_cache": "rm -rf"}),
        "option use_cache='rm -rf': a golden case",
    ),
    (
        "unknown-clause",
        lambda r: _recase(r, TINY, lambda t, m: m.update(clauses=UNKNOWN_CLAUSE), clauses=UNKNOWN_CLAUSE),
        "clause ids not in the spec: ['no.such.clause']",
    ),
    (
        "clauses-disagree",
        _meta(TINY, clauses=UNKNOWN_CLAUSE[:1]),
        "clauses ['heads.BertModel.outputs.last_hidden_state'] but the manifest says",
    ),
    (
        "head-disagrees",
        _entry(head="BertForMaskedLM"),
        "head 'BertModel' but the manifest says 'BertForMaskedLM'",
    ),
    ("config-empty", _meta(TINY, config={}), "model.tiny.safetensors: malformed case (KeyError: "),
    ("format-version", _meta(TINY, format_version=99), "golden format version 99, this reader needs 1"),
    # bytes against the manifest
    ("size-mismatch", _entry(bytes=1), "model.tiny.safetensors: size mismatch: manifest 1 bytes, file 34608"),
    ("sha-mismatch", _flip_byte, "model.tiny.safetensors: sha256 mismatch: manifest "),
    ("truncated", _truncate, "model.tiny.safetensors: unreadable: not a valid safetensors file"),
    ("garbage-case", lambda r: _raw(r, TINY, bytes(range(256)) * 4), "unreadable: not a valid safetensors"),
    ("foreign-metadata", _foreign_metadata, "not a golden case file (metadata format is not"),
    (
        "missing-case",
        lambda r: (r / TINY).unlink(),
        "model.tiny.safetensors: missing (listed in MANIFEST.json)",
    ),
    # malformed manifests
    ("manifest-list", lambda r: _write_manifest(r, [1, 2]), "MANIFEST.json: not a golden manifest"),
    (
        "manifest-files-list",
        lambda r: _edit_manifest(r, lambda m: {**m, "files": [TINY]}),
        "MANIFEST.json: 'files' is a list, not a mapping of file names",
    ),
    (
        "entry-not-mapping",
        lambda r: _edit_manifest(r, lambda m: m["files"].update({TINY: "sha"})),
        "files['model.tiny.safetensors']: entry is a str, not a mapping",
    ),
    (
        "entry-no-sha256",
        _entry(sha256=None),
        "files['model.tiny.safetensors']: 'sha256' missing or malformed (None)",
    ),
    ("entry-sha256-short", _entry(sha256="abc"), "'sha256' missing or malformed ('abc')"),
    ("entry-bytes-bool", _entry(bytes=True), "'bytes' missing or malformed (True)"),
    ("entry-clauses-str", _entry(clauses="x"), "'clauses' missing or malformed ('x')"),
    (
        "manifest-not-json",
        lambda r: (r / "MANIFEST.json").write_text("{files: "),
        "MANIFEST.json: unreadable: ",
    ),
    (
        "manifest-binary",
        lambda r: (r / "MANIFEST.json").write_bytes(b"\x89PNG\xff\xfe\x00"),
        "MANIFEST.json: unreadable",
    ),
    (
        "manifest-missing",
        lambda r: (r / "MANIFEST.json").unlink(),
        "MANIFEST.json: missing (run `bert-conformance",
    ),
    # anything else in or beside the folder
    ("stray-file", _stray("notes.txt"), "notes.txt: orphaned: not listed in MANIFEST.json"),
    ("stray-tmp", _stray(".model.tiny.safetensors.k2j4.tmp"), ".model.tiny.safetensors.k2j4.tmp: orphaned"),
    ("stray-nested", _stray("sub/model.tiny.safetensors"), "sub/model.tiny.safetensors: orphaned"),
    ("stray-linked-dir", _linked_dir, "/more: orphaned"),
    ("stale-staging", _sibling(".regenerate"), ".g.regenerate: stale staging folder of an interrupted"),
    ("stale-previous", _sibling(".previous"), ".g.previous: stale staging folder of an interrupted"),
]


def test_the_subset_verifies_and_keeps_its_legitimate_nan_loss(subset):
    assert verify(subset) == []
    case = {c.path.name: c for c in iter_cases(subset)}[NAN_LOSS]
    assert np.isnan(case.expected["loss"])


@pytest.mark.parametrize(("tamper", "fragment"), [pytest.param(t, f, id=i) for i, t, f in CORPUS])
def test_tampered_set_fails_verify_and_the_loader(root, tamper, fragment, capsys):
    tamper(root)
    assert golden_main(["verify", "--dir", str(root)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and fragment in lines[0], lines
    assert lines[0].startswith("golden verify: ")
    with pytest.raises(GoldenError) as raised:  # the loader the golden clauses use refuses the same set
        iter_cases(root)
    assert fragment in str(raised.value)


def test_the_golden_oracle_refuses_a_tampered_set(root):
    from bert_conformance.golden import GoldenOracle

    _meta(TINY, options={"output_hidden_states": True, "evil": True})(root)
    with pytest.raises(GoldenError, match="option evil=True: a golden case may pass only"):
        GoldenOracle(root)


def test_regenerate_cannot_stage_is_one_line_and_rc_1(root, monkeypatch, capsys):
    from bert_conformance.golden import generate

    def no_room(src, dst, symlinks):
        raise OSError(28, "No space left on device", str(dst))

    monkeypatch.setattr(generate.shutil, "copytree", no_room)
    assert golden_main(["regenerate", "--dir", str(root), "--case", "model.tiny"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        f"golden regenerate: [Errno 28] No space left on device: '{staging_dirs(root)[0]}'"
    ]
    assert _beside(root) == ["g"]


def test_a_malformed_manifest_is_one_line_and_rc_1_in_a_real_process(root):
    _write_manifest(root, {"format": files.FORMAT, "files": {TINY: {"case_id": "model.tiny"}}})
    run = subprocess.run(
        [sys.executable, "-m", "bert_conformance.golden", "verify", "--dir", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.splitlines() == [
        f"golden verify: {root / 'MANIFEST.json'}: files['{TINY}']: 'description' missing or malformed (None)"
    ]


# ------------------------------------------------------------------------------- staging and the swap


def _snapshot(root: Path) -> dict[str, bytes]:
    """Every entry under root (hidden ones too) with its bytes."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _beside(root: Path) -> list[str]:
    return sorted(p.name for p in root.parent.iterdir())


def _two_sets(root: Path) -> tuple[Path, dict, dict]:
    """root (the old set) and a staging folder holding a new one (model.tiny with another description)."""
    staging = staging_dirs(root)[0]
    shutil.copytree(root, staging)
    _meta(TINY, description="new")(staging)
    _edit_manifest(staging, lambda m: m["files"][TINY].update(description="new"))
    assert verify(staging) == []
    return staging, _snapshot(root), _snapshot(staging)


def test_swap_by_exchange_leaves_the_old_set_at_staging(root):
    staging, old, new = _two_sets(root)
    swap_in(staging, root)
    assert _snapshot(root) == new and _snapshot(staging) == old
    assert recover_staging(root) == [f"removed stale staging folder {staging}"]
    assert _beside(root) == ["g"] and verify(root) == []


def test_fallback_swap_interrupted_between_its_renames_is_undone(root, monkeypatch):
    """Without renameat2: root -> previous, staging -> root. Killed between the two, there is no root; the
    next run (or the interrupted one's cleanup) moves the complete old set back."""
    staging, old, _new = _two_sets(root)
    monkeypatch.setattr(files, "exchange_dirs", lambda a, b: False)
    real, calls = os.rename, []

    def second_rename_dies(src, dst):
        calls.append(src)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(files.os, "rename", second_rename_dies)
    with pytest.raises(KeyboardInterrupt):
        swap_in(staging, root)
    monkeypatch.setattr(files.os, "rename", real)
    assert not root.exists()
    assert verify(root) == [
        f"{root}: missing; a swap was interrupted and {staging_dirs(root)[1]} holds the complete "
        "old set (the next regenerate puts it back)",
        f"{root / 'MANIFEST.json'}: missing (run `bert-conformance golden regenerate`)",
    ]
    assert (
        recover_staging(root)[0] == f"restored {root} from {staging_dirs(root)[1]} (a swap was interrupted)"
    )
    assert _snapshot(root) == old and _beside(root) == ["g"] and verify(root) == []


def test_fallback_swap_completes(root, monkeypatch):
    staging, _old, new = _two_sets(root)
    monkeypatch.setattr(files, "exchange_dirs", lambda a, b: False)
    swap_in(staging, root)
    assert _snapshot(root) == new and _beside(root) == [".g.previous", "g"]
    recover_staging(root)
    assert _beside(root) == ["g"] and verify(root) == []


# ------------------------------------------------------------------- regeneration under real signals

TWO = ("model.seq_len_1", "model.tiny")  # the smallest cases: a subprocess regenerates them in ~4 s


@pytest.fixture(scope="module")
def sets(tmp_path_factory) -> tuple[Path, dict, dict]:
    """A folder holding the old set of TWO (descriptions changed, so every file changes), and both snapshots."""
    new = tmp_path_factory.mktemp("new") / "g"
    regenerate(new, log=lambda line: None, case_ids=TWO)
    old = tmp_path_factory.mktemp("old") / "g"
    shutil.copytree(new, old)
    for case_id in TWO:
        name = f"{case_id}.safetensors"
        _meta(name, description="old")(old)
        _edit_manifest(old, lambda m, n=name: m["files"][n].update(description="old"))
    assert verify(old) == [] and verify(new) == []
    return old, _snapshot(old), _snapshot(new)


def _regenerate_until(root: Path, point: str, signum: int) -> int:
    """Run `golden regenerate` on root in a subprocess, signal it while it waits at ``point``, return its rc."""
    command = [
        sys.executable,
        "-m",
        "bert_conformance.golden",
        "regenerate",
        "--dir",
        str(root),
        *(arg for case_id in TWO for arg in ("--case", case_id)),
    ]
    env = {**os.environ, PAUSE_ENV: point, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            seen = []
            for line in proc.stderr:  # ends if the process exits before the point
                seen.append(line)
                if line.strip() == f"golden regenerate: pause {point}":
                    break
            else:
                raise AssertionError(f"never reached {point!r}: {seen}")
            proc.send_signal(signum)
            rest = proc.stderr.read()
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:  # a failed test must not leave it waiting
                proc.kill()
    assert "Traceback" not in rest, rest
    return proc.returncode


SIGNALS = [
    (signal.SIGINT, "staged model.seq_len_1.safetensors", "old", 130),
    (signal.SIGTERM, "before swap", "old", 143),
    (signal.SIGTERM, "after swap", "new", 143),
    (signal.SIGKILL, "staged model.seq_len_1.safetensors", "old", -9),
    (signal.SIGKILL, "after swap", "new", -9),
]


@pytest.mark.timeout(90)
@pytest.mark.parametrize(
    ("signum", "point", "outcome", "rc"),
    SIGNALS,
    ids=[f"{s.name}-{p.split()[0]}-{p.split()[-1]}" for s, p, _, _ in SIGNALS],
)
def test_signalled_regeneration_leaves_the_old_or_the_new_set(sets, tmp_path, signum, point, outcome, rc):
    old_dir, old, new = sets
    root = tmp_path / "g"
    shutil.copytree(old_dir, root)
    assert _regenerate_until(root, point, signum) == rc
    assert _snapshot(root) == (old if outcome == "old" else new)  # complete, and nothing else in it
    if signum != signal.SIGKILL:
        assert _beside(root) == ["g"] and verify(root) == []  # cleaned up on the way out
        return
    # SIGKILL runs no cleanup: the staging folder is left beside the set and verify reports it, once.
    assert _beside(root) == [".g.regenerate", "g"]
    assert verify(root) == [
        f"{staging_dirs(root)[0]}: stale staging folder of an interrupted `golden regenerate` "
        "(the next regenerate removes it; or delete it by hand)"
    ]
    assert recover_staging(root) == [f"removed stale staging folder {staging_dirs(root)[0]}"]
    assert _beside(root) == ["g"] and verify(root) == []


def test_the_next_regenerate_removes_stale_staging_and_swaps_in_the_new_set(sets, tmp_path):
    old_dir, _old, new = sets
    root = tmp_path / "g"
    shutil.copytree(old_dir, root)
    for stale in staging_dirs(root):
        shutil.copytree(old_dir, stale)
        (stale / "junk.tmp").write_bytes(b"half")
    lines: list[str] = []
    result = regenerate(root, log=lines.append, case_ids=TWO)
    assert lines[:2] == [f"removed stale staging folder {p}" for p in staging_dirs(root)]
    assert sorted(result.changed) == [f"{c}.safetensors" for c in TWO]
    assert _snapshot(root) == new and _beside(root) == ["g"] and verify(root) == []


def test_the_next_regenerate_puts_back_a_set_a_fallback_swap_left_in_previous(sets, tmp_path):
    old_dir, _old, new = sets
    root = tmp_path / "g"
    shutil.copytree(old_dir, staging_dirs(root)[1])  # killed between the fallback's two renames
    lines: list[str] = []
    result = regenerate(root, log=lines.append, case_ids=TWO)
    assert lines[0] == f"restored {root} from {staging_dirs(root)[1]} (a swap was interrupted)"
    assert sorted(result.changed) == [f"{c}.safetensors" for c in TWO]  # the old set came back, then changed
    assert _snapshot(root) == new and _beside(root) == ["g"] and verify(root) == []


def test_a_case_id_breaking_the_naming_rule_cannot_be_registered():
    from bert_conformance.golden.cases import case

    with pytest.raises(ValueError, match=r"golden case '\.\./x': not lowercase words joined by dots"):
        case("../x", seed=10**9)(lambda rng: None)


def test_regenerate_refuses_an_unknown_case_id(root, capsys):
    assert golden_main(["regenerate", "--dir", str(root), "--case", "../model.tiny"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "golden regenerate: unknown case id(s) ['../model.tiny'] (see bert_conformance.golden.generate.all_case_ids())"
    ]
    assert _beside(root) == ["g"]


def test_regenerate_swaps_in_nothing_that_does_not_verify(sets, tmp_path, monkeypatch):
    from bert_conformance.golden import generate

    old_dir, old, _new = sets
    root = tmp_path / "g"
    shutil.copytree(old_dir, root)
    real = generate.atomic_write_bytes

    def corrupt_cases(path: Path, data: bytes) -> None:
        real(path, data if path.name == "MANIFEST.json" else data[:-1] + b" ")

    monkeypatch.setattr(generate, "atomic_write_bytes", corrupt_cases)
    with pytest.raises(
        GoldenError, match="the regenerated set does not verify, nothing swapped in: .*sha256 mismatch"
    ):
        regenerate(root, log=lambda line: None, case_ids=TWO)
    assert _snapshot(root) == old and _beside(root) == ["g"]
