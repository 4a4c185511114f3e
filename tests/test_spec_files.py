"""The installed spec is valid, round-trips through the typed loader, has unique clause ids, and the
`bert-conformance spec validate` command accepts it. Expected contents are read with plain yaml.safe_load,
independently of the loader under test."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bert_conformance import __version__
from bert_conformance.cli import main
from bert_conformance.spec import load_document, load_spec, spec_dir, validate_path
from bert_conformance.spec.types import CORE_TYPES

SPEC_FILES = sorted(spec_dir().glob("*.yaml"))
CORE = sorted(CORE_TYPES)


def plain(name: str) -> dict:
    return yaml.safe_load((spec_dir() / f"{name}.yaml").read_text(encoding="utf-8"))


def all_ids(data) -> list[str]:
    """Every clause id (value of an `id` key in any mapping), found without the loader."""
    if isinstance(data, dict):
        own = [data["id"]] if isinstance(data.get("id"), str) else []
        return own + [i for v in data.values() for i in all_ids(v)]
    if isinstance(data, list):
        return [i for v in data for i in all_ids(v)]
    return []


def test_core_files_are_installed():
    assert {p.stem for p in SPEC_FILES} >= set(CORE)
    for name in CORE:
        assert (spec_dir() / "schema" / f"{name}.schema.json").is_file()


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_every_spec_file_validates(path):
    assert validate_path(path) == []


def test_spec_folder_validates():
    assert validate_path(spec_dir()) == []


@pytest.mark.parametrize("name", CORE)
def test_typed_loader_round_trips(name):
    spec = load_spec()
    assert getattr(spec, name).to_dict() == plain(name)


@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: p.name)
def test_raw_documents_equal_yaml(path):
    assert load_spec().raw(path.stem) == plain(path.stem)
    assert load_document(path.stem) == plain(path.stem)


def test_clause_ids_unique_across_spec():
    ids = [i for p in SPEC_FILES for i in all_ids(plain(p.stem))]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert duplicates == []
    assert list(load_spec().clause_ids()) == ids


def test_core_clause_ids_are_namespaced_by_file():
    for name in CORE:
        assert all(i.startswith(f"{name}.") for i in all_ids(plain(name))), name


def test_spec_is_cached_and_frozen():
    spec = load_spec()
    assert load_spec() is spec
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.config = None
    with pytest.raises(TypeError):
        spec.documents["config"]["spec_version"] = "9.9.9"
    with pytest.raises(TypeError):
        spec.heads.heads["BertModel"] = None
    raw = spec.raw("config")
    raw["spec_version"] = "9.9.9"  # a copy: the cached spec is unchanged
    assert spec.config.spec_version == plain("config")["spec_version"] == spec.spec_version


def test_every_dtype_and_kind_has_a_tolerance():
    spec = load_spec()
    kinds = [k.name for k in spec.tolerances.kinds]
    assert {
        "outputs",
        "loss",
        "gradients",
        "eager_vs_sdpa",
        "cache_vs_full",
        "padding_invariance",
        "golden",
    } <= set(kinds)
    for dtype in ("float64", "float32", "float16", "bfloat16"):
        for kind in kinds:
            entry = spec.tolerances.get(dtype, kind)
            assert entry.atol >= 0 and entry.rtol >= 0 and entry.reason.strip()
    with pytest.raises(KeyError, match="dtypes.int8.outputs"):
        spec.tolerances.get("int8", "outputs")


def test_lookup_errors_name_what_exists():
    spec = load_spec()
    with pytest.raises(KeyError, match="BertModel"):
        spec.heads.head("BertForEverything")
    with pytest.raises(KeyError, match="no field"):
        spec.config.field("hidden_sizes")


def test_nine_heads_in_heads_and_parameters():
    heads = list(plain("heads")["heads"])
    assert len(heads) == 9 and heads[0] == "BertModel"
    assert list(plain("parameters")["heads"]) == heads


def test_config_has_twenty_bert_fields():
    assert len(plain("config")["fields"]) == 20


def test_cli_validate_in_process(capsys):
    assert main(["spec", "validate"]) == 0
    out = capsys.readouterr().out.strip()
    n_clauses = sum(len(all_ids(plain(p.stem))) for p in SPEC_FILES)
    assert out.startswith(f"spec OK: {len(SPEC_FILES)} files, {n_clauses} clauses")


def test_cli_validate_one_file(capsys):
    assert main(["spec", "validate", str(spec_dir() / "heads.yaml")]) == 0
    assert capsys.readouterr().out.startswith("spec OK: 1 file")


def test_cli_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"bert-conformance {__version__}"


def test_cli_validate_subprocess():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from bert_conformance.cli import main; sys.exit(main())",
            "spec",
            "validate",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("spec OK:")
    assert result.stderr == ""


def test_cli_entry_point_is_installed():
    from importlib.metadata import entry_points

    scripts = {e.name: e.value for e in entry_points(group="console_scripts")}
    assert scripts.get("bert-conformance") == "bert_conformance.cli:main"


def test_validate_path_reports_missing_path(tmp_path):
    (error,) = validate_path(tmp_path / "nope.yaml")
    assert str(error) == f"{tmp_path / 'nope.yaml'}: (document): no such file or folder"


def test_schema_files_are_json_schema(tmp_path):
    import json

    import jsonschema

    for name in CORE:
        schema = json.loads((spec_dir() / "schema" / f"{name}.schema.json").read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        assert schema["additionalProperties"] is False  # strict: unknown top-level keys are errors


def test_spec_dir_is_package_data():
    assert spec_dir() == Path(__import__("bert_conformance.specdata").specdata.__file__).parent
