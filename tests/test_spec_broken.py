"""A corpus of deliberately broken spec documents. Each case copies the five real core files (and their
schemas) to a temporary folder, applies one mutation, and expects an error that names the file, the YAML
path and what is wrong; the CLI must print only `file: path: message` lines, never a traceback."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bert_conformance.cli import main
from bert_conformance.errors import SpecError
from bert_conformance.spec import load_document, load_spec, spec_dir, validate_path

CORE = ("config", "heads", "labels", "parameters", "tolerances")
# libyaml's safe loader and dumper when present: the pure-Python ones take most of a case's time.
FAST_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
FAST_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@dataclass(frozen=True)
class Case:
    id: str
    file: str  # the file the error must name ("spec" = the folder itself)
    mutate: Callable[[Path], None]  # applied to the temporary spec folder
    path: str  # fragment of the YAML path the error must name
    message: str  # fragment of the message


def edit(name: str, fn: Callable[[dict], Any]) -> Callable[[Path], None]:
    """Mutation of the parsed data of <name>.yaml (written back with safe_dump)."""

    def mutate(folder: Path) -> None:
        file = folder / f"{name}.yaml"
        data = yaml.load(file.read_text(encoding="utf-8"), Loader=FAST_LOADER)  # noqa: S506 - a safe loader
        fn(data)
        dumped = yaml.dump(data, Dumper=FAST_DUMPER, sort_keys=False, allow_unicode=True)
        file.write_text(dumped, encoding="utf-8")

    return mutate


def text(name: str, fn: Callable[[str], str]) -> Callable[[Path], None]:
    """Mutation of the text of <name>.yaml (for what safe_dump cannot write: bad YAML, duplicate keys)."""

    def mutate(folder: Path) -> None:
        file = folder / f"{name}.yaml"
        before = file.read_text(encoding="utf-8")
        after = fn(before)
        assert after != before, "mutation did not change the file"
        file.write_text(after, encoding="utf-8")

    return mutate


def write(relative: str, content: str | bytes) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        target = folder / relative
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8")

    return mutate


def copied(name: str, fn: Callable[[dict], Any]) -> Callable[[Path], None]:
    """<name>.yaml (not a core file, so not in the copied folder) copied in with its schema, then edited."""

    def mutate(folder: Path) -> None:
        shutil.copy(spec_dir() / f"{name}.yaml", folder / f"{name}.yaml")
        shutil.copy(spec_dir() / "schema" / f"{name}.schema.json", folder / "schema" / f"{name}.schema.json")
        edit(name, fn)(folder)

    return mutate


def surface(fn: Callable[[dict], Any]) -> Callable[[Path], None]:
    return copied("surface", fn)


def delete(relative: str) -> Callable[[Path], None]:
    return lambda folder: (folder / relative).unlink()


def setitem(path: list, value: Any) -> Callable[[dict], None]:
    def fn(data: dict) -> None:
        for key in path[:-1]:
            data = data[key]
        data[path[-1]] = value

    return fn


def delitem(path: list) -> Callable[[dict], None]:
    def fn(data: dict) -> None:
        for key in path[:-1]:
            data = data[key]
        del data[path[-1]]

    return fn


def swap_float32_float64_outputs(data: dict) -> None:
    d = data["dtypes"]
    for bound in ("atol", "rtol"):
        d["float64"]["outputs"][bound], d["float32"]["outputs"][bound] = (
            d["float32"]["outputs"][bound],
            d["float64"]["outputs"][bound],
        )


def swap_tuple_order(data: dict) -> None:
    example = data["heads"]["BertForMaskedLM"]["tuple_examples"][1]
    example["tuple"] = list(reversed(example["tuple"]))


EXTRA_SCHEMA = '{"type": "object", "properties": {"spec_version": {"const": "1.0.0"}}}'

CASES = [
    # --- config.yaml
    Case(
        "wrong_type_default",
        "config",
        edit("config", setitem(["fields", 0, "default"], "30522")),
        "fields[0].default",
        "does not match the declared type ['int']",
    ),
    Case(
        "missing_default",
        "config",
        edit("config", delitem(["fields", 1, "default"])),
        "fields[1]",
        "'default' is required but missing",
    ),
    Case(
        "unknown_key",
        "config",
        edit("config", setitem(["fields", 2, "defualt"], 12)),
        "fields[2]",
        "unknown key(s): 'defualt'",
    ),
    Case(
        "float_without_dot_is_a_string",
        "config",
        text("config", lambda s: s.replace("1.0e-12", "1e-12")),
        "fields[11].default",
        "'1e-12' does not match the declared type ['float']",
    ),
    Case(
        "duplicate_field_name",
        "config",
        edit("config", setitem(["fields", 3, "name"], "hidden_size")),
        "fields[3].name",
        "duplicate field name 'hidden_size'",
    ),
    Case(
        "derived_unknown_symbol",
        "config",
        edit("config", setitem(["derived", 0, "expr"], "hidden_size / num_heads")),
        "derived[0].expr",
        "unknown symbol(s) ['num_heads']",
    ),
    Case(
        "constraint_bad_syntax",
        "config",
        edit("config", setitem(["constraints", 0, "expr"], "hidden_size %% num_attention_heads == 0")),
        "constraints[0].expr",
        "bad expression",
    ),
    Case(
        "defaults_violate_constraint",
        "config",
        edit("config", setitem(["fields", 1, "default"], 770)),
        "constraints[0].expr",
        "the defaults violate this constraint",
    ),
    Case(
        "hidden_act_not_an_activation",
        "config",
        edit("config", setitem(["fields", 5, "default"], "gelu_exact")),
        "fields[5].default",
        "not a name in activations",
    ),
    Case(
        "bad_enum",
        "config",
        edit("config", setitem(["constraints", 0, "enforced_at"], "sometimes")),
        "constraints[0].enforced_at",
        "'sometimes' is not one of",
    ),
    Case(
        "constraint_unknown_head",
        "config",
        edit("config", setitem(["constraints", 2, "applies_to"], ["BertForQA"])),
        "constraints[2].applies_to[0]",
        "unknown head 'BertForQA'",
    ),
    Case(
        "missing_spec_version",
        "config",
        edit("config", delitem(["spec_version"])),
        "(document)",
        "'spec_version' is required but missing",
    ),
    Case(
        "bad_clause_id",
        "config",
        edit("config", setitem(["fields", 0, "id"], "Config.Default.vocab_size")),
        "fields[0].id",
        "does not match",
    ),
    # --- heads.yaml
    Case(
        "duplicate_output_name",
        "heads",
        edit("heads", setitem(["heads", "BertModel", "outputs", 1, "name"], "last_hidden_state")),
        "heads.BertModel.outputs[1].name",
        "duplicate output name 'last_hidden_state'",
    ),
    Case(
        "duplicate_argument_name",
        "heads",
        edit("heads", setitem(["heads", "BertForMaskedLM", "arguments", 2, "name"], "input_ids")),
        "heads.BertForMaskedLM.arguments[2].name",
        "duplicate argument name 'input_ids'",
    ),
    Case(
        "bad_shape_expression",
        "heads",
        edit(
            "heads", setitem(["heads", "BertModel", "outputs", 0, "shape"], ["batch", "seq +", "hidden_size"])
        ),
        "heads.BertModel.outputs[0].shape",
        "bad shape expression",
    ),
    Case(
        "unknown_shape_symbol",
        "heads",
        edit(
            "heads",
            setitem(["heads", "BertModel", "outputs", 0, "shape"], ["batch", "sequence", "hidden_size"]),
        ),
        "heads.BertModel.outputs[0].shape",
        "unknown symbol(s) ['sequence']",
    ),
    Case(
        "unknown_omission_rule",
        "heads",
        edit("heads", setitem(["heads", "BertModel", "arguments", 0, "omitted"], "whatever")),
        "heads.BertModel.arguments[0].omitted",
        "unknown omission rule 'whatever'",
    ),
    Case(
        "presence_names_unknown_argument",
        "heads",
        edit(
            "heads",
            setitem(["heads", "BertForPreTraining", "outputs", 0, "present", "args"], ["labels", "nsp"]),
        ),
        "heads.BertForPreTraining.outputs[0].present.args[1]",
        "has no argument 'nsp'",
    ),
    Case(
        "tuple_example_out_of_order",
        "heads",
        edit("heads", swap_tuple_order),
        "heads.BertForMaskedLM.tuple_examples[1].tuple",
        "not in the order of the outputs list",
    ),
    Case(
        "output_id_does_not_match_name",
        "heads",
        edit("heads", setitem(["heads", "BertModel", "outputs", 0, "id"], "heads.BertModel.outputs.hidden")),
        "heads.BertModel.outputs[0].id",
        "must be 'heads.BertModel.outputs.last_hidden_state'",
    ),
    Case(
        "dropout_probability_unknown_field",
        "heads",
        edit("heads", setitem(["encoder_dropout_sites", 0, "probability"], "dropout")),
        "encoder_dropout_sites[0].probability",
        "unknown config field 'dropout'",
    ),
    Case(
        "head_output_kind_wrong_type",
        "heads",
        edit("heads", setitem(["heads", "BertModel", "pooler"], "yes")),
        "heads.BertModel.pooler",
        "expected boolean, got str",
    ),
    # --- labels.yaml
    Case(
        "labels_unknown_head",
        "labels",
        edit("labels", setitem(["losses", 0, "heads"], ["BertForMaskedLMM"])),
        "losses[0].heads[0]",
        "unknown head 'BertForMaskedLMM'",
    ),
    Case(
        "replace_probabilities_do_not_sum_to_one",
        "labels",
        edit("labels", setitem(["data", 0, "replace", "keep"], 0.2)),
        "data[0].replace",
        "not 1",
    ),
    Case(
        "probability_out_of_range",
        "labels",
        edit("labels", setitem(["data", 0, "mask_probability"], 1.5)),
        "data[0].mask_probability",
        "greater than the maximum of 1",
    ),
    Case(
        "duplicate_clause_id_in_file",
        "labels",
        edit("labels", setitem(["conventions", 1, "id"], "labels.ignore_index")),
        "conventions[1].id",
        "duplicate clause id 'labels.ignore_index'",
    ),
    Case(
        "term_names_unknown_clause",
        "labels",
        edit("labels", setitem(["losses", 2, "terms", 1], "labels.nsp.lost")),
        "losses[2].terms[1]",
        "no clause 'labels.nsp.lost'",
    ),
    # --- parameters.yaml
    Case(
        "unknown_group",
        "parameters",
        edit("parameters", setitem(["heads", "BertModel", "groups", 0], "embedding")),
        "heads.BertModel.groups[0]",
        "unknown group 'embedding'",
    ),
    Case(
        "wrong_placeholder",
        "parameters",
        text(
            "parameters",
            lambda s: s.replace(
                "encoder.layer.{i}.attention.self.query.weight",
                "encoder.layer.{j}.attention.self.query.weight",
                1,
            ),
        ),
        "groups[1].keys.encoder.layer.{j}.attention.self.query.weight",
        "key template must use {i}",
    ),
    Case(
        "pooler_disagrees_with_heads",
        "parameters",
        edit(
            "parameters",
            setitem(
                ["heads", "BertForSequenceClassification", "groups"],
                ["embeddings", "encoder_layer", "cross_attention", "classifier"],
            ),
        ),
        "heads.BertForSequenceClassification.groups",
        "pooler group missing but heads.yaml says pooler: true",
    ),
    Case(
        "tie_target_not_a_key",
        "parameters",
        edit("parameters", setitem(["tied", 0, "target"], "cls.predictions.decoder.weights")),
        "tied[0].target",
        "is not a key of",
    ),
    Case(
        "parameter_shape_unknown_symbol",
        "parameters",
        edit(
            "parameters",
            setitem(["groups", 0, "keys", "embeddings.word_embeddings.weight"], ["vocab", "hidden_size"]),
        ),
        "groups[0].keys.embeddings.word_embeddings.weight",
        "unknown symbol(s) ['vocab']",
    ),
    Case(
        "duplicate_yaml_key",
        "parameters",
        text(
            "parameters",
            lambda s: s.replace(
                "      embeddings.LayerNorm.bias: [hidden_size]\n",
                "      embeddings.LayerNorm.bias: [hidden_size]\n"
                "      embeddings.LayerNorm.bias: [hidden_size]\n",
                1,
            ),
        ),
        "groups[0].keys.embeddings.LayerNorm.bias",
        "duplicate key 'embeddings.LayerNorm.bias'",
    ),
    # --- tolerances.yaml
    Case(
        "negative_atol",
        "tolerances",
        edit("tolerances", setitem(["dtypes", "float32", "outputs", "atol"], -1.0e-6)),
        "dtypes.float32.outputs.atol",
        "less than the minimum of 0",
    ),
    Case(
        "swapped_dtype_tolerances",
        "tolerances",
        edit("tolerances", swap_float32_float64_outputs),
        "dtypes.float32.outputs",
        "tighter than dtypes.float64.outputs",
    ),
    Case(
        "rtol_below_unit_roundoff",
        "tolerances",
        edit("tolerances", setitem(["dtypes", "float32", "loss", "rtol"], 1.0e-10)),
        "dtypes.float32.loss.rtol",
        "below the float32 unit roundoff",
    ),
    Case(
        "missing_comparison_kind",
        "tolerances",
        edit("tolerances", delitem(["dtypes", "float16", "golden"])),
        "dtypes.float16",
        "'golden' is required but missing",
    ),
    Case(
        "tolerance_id_mismatch",
        "tolerances",
        edit("tolerances", setitem(["dtypes", "float16", "loss", "id"], "tolerances.float16.losses")),
        "dtypes.float16.loss.id",
        "must be 'tolerances.float16.loss'",
    ),
    Case(
        "spec_version_mismatch",
        "tolerances",
        edit("tolerances", setitem(["spec_version"], "1.1.0")),
        "spec_version",
        "differs from the other files",
    ),
    # --- files and syntax
    Case(
        "malformed_yaml",
        "heads",
        text("heads", lambda s: s.replace("dimensions:", "dimensions: [", 1)),
        "(line",
        "malformed YAML",
    ),
    Case(
        "python_tag_rejected",
        "labels",
        text("labels", lambda s: s + "evil: !!python/object/apply:os.system [ls]\n"),
        "(line",
        "could not determine a constructor",
    ),
    Case("empty_file", "heads", write("heads.yaml", ""), "(document)", "empty file"),
    Case(
        "non_mapping_top_level",
        "labels",
        write("labels.yaml", "- a\n- b\n"),
        "(document)",
        "top level must be a mapping, got list",
    ),
    Case("not_utf8", "labels", write("labels.yaml", b"spec_version: \xff\xfe\n"), "(document)", "not UTF-8"),
    Case(
        "schema_file_missing",
        "tolerances",
        delete("schema/tolerances.schema.json"),
        "(document)",
        "no JSON Schema for this file",
    ),
    Case(
        "yaml_without_schema",
        "extra",
        write("extra.yaml", 'spec_version: "1.0.0"\n'),
        "(document)",
        "no JSON Schema for this file",
    ),
    Case(
        "invalid_schema_json",
        "config.schema.json",
        write("schema/config.schema.json", "{not json"),
        "(document)",
        "invalid JSON Schema",
    ),
    Case(
        "required_file_missing",
        "labels",
        delete("labels.yaml"),
        "(document)",
        "required spec file is missing",
    ),
    Case(
        "duplicate_clause_id_across_files",
        "extra",
        lambda folder: (
            write("extra.yaml", 'spec_version: "1.0.0"\nitems:\n  - id: config.default.vocab_size\n')(folder),
            write("schema/extra.schema.json", EXTRA_SCHEMA)(folder),
        ),
        "items[0].id",
        "clause id 'config.default.vocab_size' also in",
    ),
]

CASES += [
    # --- surface.yaml
    Case(
        "surface_core_not_a_value",
        "surface",
        surface(setitem(["declarations", 2, "core"], ["gelu_exact"])),
        "declarations[2].core[0]",
        "'gelu_exact' is not one of the values",
    ),
    Case(
        "surface_key_shadows_capabilities",
        "surface",
        surface(setitem(["declarations", 0, "key"], "heads")),
        "declarations[0].key",
        "already a capabilities() key",
    ),
    Case(
        "surface_values_from_unknown",
        "surface",
        surface(setitem(["declarations", 0, "values_from"], "heads.everything")),
        "declarations[0].values_from",
        "is not one of",
    ),
    Case(
        "surface_values_and_values_from",
        "surface",
        surface(setitem(["declarations", 0, "values"], [{"name": "input_ids", "text": "ids"}])),
        "declarations[0]",
        "give exactly one of values and values_from",
    ),
    Case(
        "surface_core_unknown_head",
        "surface",
        surface(setitem(["core", "heads"], ["BertModelX"])),
        "core.heads[0]",
        "unknown head 'BertModelX'",
    ),
]

def both(*mutations: Callable[[Path], None]) -> Callable[[Path], None]:
    def mutate(folder: Path) -> None:
        for mutation in mutations:
            mutation(folder)

    return mutate


def keep(data: dict) -> None:
    """No edit: ``copied(name, keep)`` puts a non-core file beside the core files as it is."""

CASES += [
    # --- refines (backward link) and checked_by (forward link) disagree
    Case(
        "checked_by_misses_a_refining_clause",
        "heads",
        both(copied("properties", keep), edit("heads", delitem(["common", 7, "checked_by"]))),
        "common[7].checked_by",
        "'heads.common.padding_invariance' is refined by 'properties.padding_invariance' (properties.yaml) but its "
        "checked_by does not name it",
    ),
    Case(
        "checked_by_names_a_clause_that_does_not_refine",
        "heads",
        both(copied("decoder", keep),
             edit("heads", setitem(["omission_rules", 8, "checked_by"], ["decoder.logits_to_keep", "decoder.causal"]))),
        "omission_rules[8].checked_by[1]",
        "'decoder.causal' (decoder.yaml) does not refine 'heads.omitted.keep_all'",
    ),
    Case(
        "checked_by_names_an_unknown_clause",
        "heads",
        both(copied("decoder", keep),
             edit("heads", setitem(["omission_rules", 8, "checked_by"], ["decoder.logits_to_keep", "decoder.nothing"]))),
        "omission_rules[8].checked_by[1]",
        "no clause 'decoder.nothing' in the spec",
    ),
    Case(
        "refines_an_unknown_clause",
        "properties",
        copied("properties", setitem(["properties", 0, "refines"], ["heads.common.no_such_clause"])),
        "properties[0].refines[0]",
        "no clause 'heads.common.no_such_clause' in the spec",
    ),
    # --- core.yaml, numerics.yaml, golden.yaml: the ids the clause modules run
    Case(
        "core_clause_outside_its_file",
        "core",
        copied("core", setitem(["clauses", 0, "id"], "heads.core_capabilities")),
        "clauses[0].id",
        "must start with the file name",
    ),
    Case(
        "numerics_head_unknown",
        "numerics",
        copied("numerics", lambda d: d["clauses"][1].update(id="numerics.float64.BertForNothing", head="BertForNothing")),
        "clauses[1].head",
        "unknown head 'BertForNothing' (not in heads.yaml)",
    ),
    Case(
        "numerics_pair_missing",
        "numerics",
        copied("numerics", delitem(["clauses", 0])),
        "clauses",
        "no clause 'numerics.float64.BertModel'",
    ),
    Case(
        "numerics_id_not_its_dtype_and_head",
        "numerics",
        copied("numerics", setitem(["clauses", 0, "id"], "numerics.float64.Bert")),
        "clauses[0].id",
        "clause id must be 'numerics.float64.BertModel'",
    ),
    Case(
        "golden_id_not_its_case",
        "golden",
        copied("golden", setitem(["clauses", 0, "id"], "golden.lm_head.other")),
        "clauses[0].id",
        "clause id must be 'golden.lm_head.cache_steps'",
    ),
    Case(
        "golden_group_without_its_case_clause",
        "golden",
        copied("golden", delitem(["clauses", 1])),
        "clauses[1].case",
        "no clause 'golden.lm_head.causal_labels' for the case itself",
    ),
]

LINE = re.compile(r"^\S.*: \S.*: .+$")


def core_folder(folder: Path) -> Path:
    """The five core files and their schemas copied into ``folder``."""
    (folder / "schema").mkdir(parents=True)
    for name in CORE:
        shutil.copy(spec_dir() / f"{name}.yaml", folder / f"{name}.yaml")
        shutil.copy(spec_dir() / "schema" / f"{name}.schema.json", folder / "schema" / f"{name}.schema.json")
    return folder


@pytest.fixture
def broken(request, tmp_path) -> tuple[Path, Case]:
    case: Case = request.param
    case.mutate(core_folder(tmp_path))
    return tmp_path, case


def _matches(error: SpecError, folder: Path, case: Case) -> bool:
    return (
        Path(error.file).name.startswith(case.file)
        and Path(error.file).parent in (folder, folder / "schema")
        and case.path in error.yaml_path
        and case.message in error.message
    )


def cli_error_lines(folder: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    """`spec validate FOLDER` fails with one `file: path: message` line per error and a summary, no traceback."""
    assert main(["spec", "validate", str(folder)]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert "Traceback" not in captured.err + captured.out
    assert lines[-1].startswith("spec INVALID:")
    assert all(LINE.match(line) for line in lines[:-1]), lines
    return lines[:-1]


def test_corpus_is_large_enough():
    assert len(CASES) >= 25
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("broken", CASES, ids=[c.id for c in CASES], indirect=True)
def test_broken_spec_is_rejected_with_file_path_and_message(broken, capsys):
    folder, case = broken
    errors = validate_path(folder)
    assert any(_matches(e, folder, case) for e in errors), "\n".join(map(str, errors)) or "no error"
    assert cli_error_lines(folder, capsys) == [str(e) for e in errors]
    # Validating the broken file alone (siblings used for cross-file checks) names the same error.
    file = folder / f"{case.file}.yaml"
    if case.file in CORE and file.exists():
        assert any(_matches(e, folder, case) for e in validate_path(file))


SAMPLE = [
    c
    for c in CASES
    if c.id in {"duplicate_yaml_key", "swapped_dtype_tolerances", "empty_file", "yaml_without_schema"}
]


@pytest.mark.parametrize("broken", SAMPLE, ids=[c.id for c in SAMPLE], indirect=True)
def test_load_spec_raises_spec_errors(broken):
    folder, case = broken
    with pytest.raises(SpecError) as info:
        load_spec(folder)
    assert any(_matches(e, folder, case) for e in info.value.errors)


def test_load_document_raises_one_error_with_all_fields(tmp_path):
    shutil.copytree(spec_dir() / "schema", tmp_path / "schema")
    file = tmp_path / "config.yaml"
    data = yaml.safe_load((spec_dir() / "config.yaml").read_text())
    data["fields"][0]["default"] = "x"
    file.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError) as info:
        load_document("config", file)
    error = info.value
    assert (error.file, error.yaml_path) == (str(file), "fields[0].default")
    assert str(error) == f"{file}: fields[0].default: {error.message}"


def test_several_errors_are_all_reported(tmp_path):
    shutil.copytree(spec_dir() / "schema", tmp_path / "schema")
    file = tmp_path / "tolerances.yaml"
    data = yaml.safe_load((spec_dir() / "tolerances.yaml").read_text())
    data["dtypes"]["float32"]["outputs"]["atol"] = -1.0
    data["dtypes"]["float16"]["loss"]["rtol"] = -1.0
    file.write_text(yaml.safe_dump(data))
    with pytest.raises(SpecError) as info:
        load_document("tolerances", file)
    paths = [e.yaml_path for e in info.value.errors]
    assert paths == ["dtypes.float16.loss.rtol", "dtypes.float32.outputs.atol"]
