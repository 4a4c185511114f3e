"""A corpus of hostile spec folders: documents built to hang the suite, exhaust memory or read files outside
the folder (YAML alias bombs, deep nesting, huge files, unbounded expressions, NaN and absurd sizes, $ref to
the file system or the network, regexes that backtrack). Each must end quickly in one exact SpecError: the
file, the YAML (or JSON) path and the message; the CLI prints `file: path: message` lines, never a traceback
and never the contents of a file the spec may not read. The bounds are listed in docs/spec.md, "Limits"."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_spec_broken import CORE, Case, cli_error_lines, copied, core_folder, edit, setitem, text, write

from bert_conformance.errors import SpecError
from bert_conformance.spec import load_spec, spec_dir, validate_path
from bert_conformance.spec.loader import MAX_FILE_BYTES, MAX_YAML_NODES
from bert_conformance.spec.shapes import ShapeError

# Every test here must finish in well under a second; a regression that hangs fails instead.
pytestmark = pytest.mark.timeout(10)

SECRET = "TOP-SECRET-7f3a"  # contents of a file outside the spec folder: must never be printed


def replace(name: str, old: str, new: str) -> Callable[[Path], None]:
    """Replace the first ``old`` in the text of <name>.yaml."""
    return text(name, lambda s: s.replace(old, new, 1))


def append(name: str, extra: str) -> Callable[[Path], None]:
    return text(name, lambda s: s + extra)


def schema(name: str, fn: Callable[[dict], Any]) -> Callable[[Path], None]:
    """Mutation of the parsed data of schema/<name>.schema.json."""

    def mutate(folder: Path) -> None:
        file = folder / "schema" / f"{name}.schema.json"
        data = json.loads(file.read_text(encoding="utf-8"))
        fn(data)
        file.write_text(json.dumps(data, indent=1), encoding="utf-8")

    return mutate


def ref_to(target: Callable[[Path], str]) -> Callable[[Path], None]:
    """labels.schema.json becomes a single $ref to ``target(folder)``, next to a secret file outside schema/."""

    def mutate(folder: Path) -> None:
        (folder.parent / "secret.json").write_text(json.dumps({"secret": SECRET}), encoding="utf-8")
        (folder / "secret.json").write_text(json.dumps({"secret": SECRET}), encoding="utf-8")
        write("schema/labels.schema.json", json.dumps({"$ref": target(folder)}))(folder)

    return mutate


def clause_pattern(pattern: str) -> Callable[[Path], None]:
    return schema("labels", setitem(["$defs", "clause_id", "pattern"], pattern))


def expr(name: str, path: list, value: str) -> Callable[[Path], None]:
    return edit(name, setitem(path, value))


def laughs(levels: int = 9) -> str:
    """A billion-laughs flow sequence: level k holds nine aliases of level k - 1 (9**9 strings in all)."""
    names = "abcdefghijklmnopqrstuvwxyz"
    parts = ["&a [" + ", ".join(["lol"] * 9) + "]"]
    parts += [f"&{names[k]} [" + ", ".join([f"*{names[k - 1]}"] * 9) + "]" for k in range(1, levels)]
    return "[" + ", ".join(parts) + "]"


def nested(depth: int, open_: str = "[", close: str = "]") -> str:
    return open_ * depth + "1" + close * depth


def deep_schema(depth: int) -> str:
    inner: dict = {"type": "string"}
    for _ in range(depth):
        inner = {"items": inner}
    return json.dumps({"type": "object", "properties": {"deep": inner}})


def symlink_out(folder: Path) -> str:
    (folder.parent / "secret.json").write_text(json.dumps({"secret": SECRET}), encoding="utf-8")
    os.symlink(folder.parent / "secret.json", folder / "schema" / "link.schema.json")
    return "link.schema.json"


ALIAS = "is not allowed in a spec file"
NOT_FINITE = "is not a finite number"
INT_BOUND = "larger than the integer bound 2**63 - 1"
REF_OUT = "not a file in the spec's schema folder"
REF_NET = "only files in the spec's schema folder can be referenced"
BACKTRACK = "may backtrack"
LAYERS = ["fields", 2, "default"]

CASES = [
    # --- YAML aliases: the real spec has none, so any alias is refused before anything is built
    Case(
        "alias_bomb_in_any_default",
        "config",
        replace("config", "default: 30522", f"default: {laughs()}"),
        "fields[0].default[1][0]",
        "YAML alias *a " + ALIAS,
    ),
    Case(
        "alias_bomb_top_level",
        "tolerances",
        append("tolerances", f"lol: {laughs(12)}\n"),
        "lol[1][0]",
        "YAML alias *a " + ALIAS,
    ),
    Case(
        "alias_in_a_list",
        "labels",
        append("labels", "extra: [&x 1, *x]\n"),
        "extra[1]",
        "YAML alias *x " + ALIAS,
    ),
    Case("alias_as_a_key", "labels", append("labels", "extra: {&k a: 1, *k : 2}\n"), "extra", "*k " + ALIAS),
    Case(
        "alias_in_merge_key",
        "labels",
        append("labels", "base: &b {a: 1}\nother:\n  <<: *b\n"),
        "other.<<",
        "*b " + ALIAS,
    ),
    Case("alias_recursive", "labels", append("labels", "loop: &r [*r]\n"), "loop[0]", "*r " + ALIAS),
    Case(
        "alias_of_a_shape",
        "parameters",
        replace("parameters", "embeddings.LayerNorm.bias: [hidden_size]", "embeddings.LayerNorm.bias: *w"),
        "groups[0].keys.embeddings.LayerNorm.bias",
        "*w " + ALIAS,
    ),
    # --- size and nesting
    Case(
        "file_too_large",
        "config",
        append("config", "#" * (MAX_FILE_BYTES + 1) + "\n"),
        "(document)",
        f"file too large: {(spec_dir() / 'config.yaml').stat().st_size + MAX_FILE_BYTES + 2} bytes "
        f"(the limit is {MAX_FILE_BYTES})",
    ),
    Case(
        "schema_file_too_large",
        "labels.schema.json",
        write("schema/labels.schema.json", " " * (MAX_FILE_BYTES + 1) + "{}"),
        "(document)",
        f"file too large: {MAX_FILE_BYTES + 3} bytes (the limit is {MAX_FILE_BYTES})",
    ),
    Case(
        "too_many_yaml_nodes",
        "labels",
        append("labels", "many: [" + "0," * (MAX_YAML_NODES + 1) + "0]\n"),
        "many[",
        f"more than {MAX_YAML_NODES} YAML nodes",
    ),
    Case(
        "deep_list_in_any_default",
        "config",
        replace("config", "default: 30522", "default: " + nested(40)),
        "fields[0].default[0][0]",
        "nested deeper than 32 levels",
    ),
    Case(
        "deep_mapping",
        "labels",
        append("labels", "deep: " + nested(40, "{a: ", "}") + "\n"),
        "deep.a.a.a",
        "nested deeper than 32 levels",
    ),
    # libyaml's scanner reads a flow collection ahead and stops at its own limit (1000) first
    Case(
        "very_deep_list",
        "labels",
        append("labels", "deep: " + nested(100_000) + "\n"),
        "(line",
        "malformed YAML: exceeded maximum nesting depth",
    ),
    Case(
        "integer_of_5000_digits",
        "config",
        replace("config", "default: 30522", "default: " + "9" * 5000),
        "(document)",
        "unreadable value",
    ),
    Case(
        "timestamp_out_of_range",
        "labels",
        append("labels", "when: !!timestamp 2001-99-99\n"),
        "(document)",
        "unreadable value: month must be in 1..12",
    ),
    Case(
        "schema_nested_too_deep",
        "labels.schema.json",
        write("schema/labels.schema.json", deep_schema(40)),
        "properties.deep.items",
        "nested deeper than 32 levels",
    ),
    Case(
        "schema_json_nested_100000",
        "labels.schema.json",
        write("schema/labels.schema.json", nested(100_000)),
        "(document)",
        "invalid JSON Schema: nested too deeply",
    ),
    # --- expressions: magnitude, strings, nesting, length
    Case(
        "derived_power_tower",
        "config",
        expr("config", ["derived", 0, "expr"], "hidden_size ** hidden_size ** hidden_size"),
        "derived[0].expr",
        "768 ** 768 is " + INT_BOUND,
    ),
    Case(
        "constraint_9_9_9",
        "config",
        expr("config", ["constraints", 0, "expr"], "9 ** 9 ** 9 > 0"),
        "constraints[0].expr",
        "9 ** 387420489 is " + INT_BOUND,
    ),
    Case(
        "constraint_string_repetition",
        "config",
        expr("config", ["constraints", 0, "expr"], '"a" * 1000000000 == "a"'),
        "constraints[0].expr",
        "string repeated 1000000000 times is longer than 256 characters",
    ),
    Case(
        "constraint_string_formatting",
        "config",
        expr("config", ["constraints", 0, "expr"], '"%0999999999d" % 1 == "1"'),
        "constraints[0].expr",
        "cannot apply '%' to str and int",
    ),
    Case(
        "intermediate_result_too_large",
        "config",
        expr("config", ["constraints", 0, "expr"], "2 ** 62 * 4 * 0 == 0"),
        "constraints[0].expr",
        "the result of '*' is " + INT_BOUND,
    ),
    Case(
        "integer_literal_too_large",
        "config",
        expr("config", ["constraints", 0, "expr"], "99999999999999999999 > 0"),
        "constraints[0].expr",
        "the literal 99999999999999999999 is " + INT_BOUND,
    ),
    Case(
        "float_literal_infinite",
        "config",
        expr("config", ["constraints", 0, "expr"], "1e999 > 0"),
        "constraints[0].expr",
        "the literal 1e999 " + NOT_FINITE,
    ),
    Case(
        "float_overflow",
        "config",
        expr("config", ["constraints", 0, "expr"], "2.0 ** 99999 > 0"),
        "constraints[0].expr",
        "'**' overflows",
    ),
    Case(
        "product_overflows_to_inf",
        "config",
        expr("config", ["constraints", 0, "expr"], "1e300 * 1e300 > 0"),
        "constraints[0].expr",
        "the result of '*' " + NOT_FINITE,
    ),
    Case(
        "negative_exponent_of_zero",
        "config",
        expr("config", ["constraints", 0, "expr"], "0 ** -1 == 0"),
        "constraints[0].expr",
        "division by zero",
    ),
    Case(
        "fractional_power_of_negative",
        "config",
        expr("config", ["constraints", 0, "expr"], "(-8) ** 0.5 > 0"),
        "constraints[0].expr",
        "the result of '**' is not a real number",
    ),
    Case(
        "negative_exponent_tower",
        "config",
        expr("config", ["derived", 0, "expr"], "hidden_size ** -hidden_size ** hidden_size"),
        "derived[0].expr",
        "768 ** 768 is " + INT_BOUND,
    ),
    Case(
        "expression_too_long",
        "config",
        expr("config", ["constraints", 0, "expr"], "1 + " * 90 + "1 > 0"),
        "constraints[0].expr",
        "expression longer than 256 characters",
    ),
    Case(
        "parentheses_too_deep",
        "config",
        expr("config", ["constraints", 0, "expr"], "(" * 40 + "1" + ")" * 40),
        "constraints[0].expr",
        "nested deeper than 16 levels",
    ),
    Case(
        "unary_minus_too_deep",
        "config",
        expr("config", ["constraints", 0, "expr"], "- " * 40 + "1 < 0"),
        "constraints[0].expr",
        "nested deeper than 16 levels",
    ),
    Case(
        "repeat_count_power_tower",
        "parameters",
        expr("parameters", ["groups", 1, "repeat", "count"], "10 ** 10 ** 8"),
        "groups[1].repeat.count",
        "10 ** 100000000 is " + INT_BOUND,
    ),
    Case(
        "repeat_count_too_large",
        "parameters",
        expr("parameters", ["groups", 1, "repeat", "count"], "2 ** 40"),
        "groups[1].repeat.count",
        "repeat count 1099511627776 is outside 0..1024",
    ),
    Case(
        "repeat_count_negative",
        "parameters",
        expr("parameters", ["groups", 1, "repeat", "count"], "-num_hidden_layers"),
        "groups[1].repeat.count",
        "repeat count -12 is outside 0..1024",
    ),
    Case(
        "repeat_count_fraction",
        "parameters",
        expr("parameters", ["groups", 1, "repeat", "count"], "num_hidden_layers / 5.0"),
        "groups[1].repeat.count",
        "a repeat count must be an integer, got 2.4",
    ),
    Case(
        "shape_power_99999",
        "heads",
        edit("heads", setitem(["heads", "BertModel", "outputs", 0, "shape"], ["batch", "seq ** 99999"])),
        "heads.BertModel.outputs[0].shape",
        "512 ** 99999 is " + INT_BOUND,
    ),
    Case(
        "shape_dimension_too_large",
        "heads",
        edit("heads", setitem(["heads", "BertModel", "outputs", 0, "shape"], ["batch", "seq ** 4"])),
        "heads.BertModel.outputs[0].shape",
        "dimension 1 evaluates to 68719476736, above the size bound 2**31 - 1",
    ),
    Case(
        "shape_negative_exponent",
        "heads",
        edit("heads", setitem(["heads", "BertModel", "outputs", 0, "shape"], ["batch", "seq ** -1"])),
        "heads.BertModel.outputs[0].shape",
        "dimension 1 evaluates to 0.001953125, not an integer",
    ),
    Case(
        "argument_shape_too_large",
        "heads",
        edit("heads", setitem(["heads", "BertModel", "arguments", 0, "shape"], ["batch", "seq * 2 ** 31"])),
        "heads.BertModel.arguments[0].shape",
        "above the size bound",
    ),
    Case(
        "output_length_tower",
        "heads",
        edit(
            "heads", setitem(["heads", "BertModel", "outputs", 2, "length"], "num_hidden_layers ** 99 ** 9")
        ),
        "heads.BertModel.outputs[2].length",
        INT_BOUND,
    ),
    Case(
        "labels_shape_too_large",
        "labels",
        edit("labels", setitem(["conventions", 1, "shape"], ["batch ** 9"])),
        "conventions[1].shape",
        INT_BOUND,
    ),
    Case(
        "parameter_shape_too_large",
        "parameters",
        edit("parameters", setitem(["groups", 0, "keys", "embeddings.LayerNorm.bias"], ["hidden_size ** 5"])),
        "groups[0].keys.embeddings.LayerNorm.bias",
        "above the size bound",
    ),
    Case(
        "buffer_shape_too_large",
        "parameters",
        edit("parameters", setitem(["buffers", 0, "shape"], [1, "max_position_embeddings ** 9"])),
        "buffers[0].shape",
        INT_BOUND,
    ),
    Case(
        "tie_condition_tower",
        "parameters",
        expr("parameters", ["tied", 0, "when_config"], "9 ** 9 ** 9 > 0"),
        "tied[0].when_config",
        "9 ** 387420489 is " + INT_BOUND,
    ),
    Case(
        "group_condition_tower",
        "parameters",
        expr("parameters", ["groups", 2, "when_config"], "9 ** 9 ** 9 > 0"),
        "groups[2].when_config",
        INT_BOUND,
    ),
    # --- NaN, infinities and absurd sizes in data
    Case(
        "atol_nan",
        "tolerances",
        edit("tolerances", setitem(["dtypes", "float32", "outputs", "atol"], math.nan)),
        "dtypes.float32.outputs.atol",
        "nan " + NOT_FINITE,
    ),
    Case(
        "rtol_inf",
        "tolerances",
        edit("tolerances", setitem(["dtypes", "float16", "loss", "rtol"], math.inf)),
        "dtypes.float16.loss.rtol",
        "inf " + NOT_FINITE,
    ),
    Case(
        "atol_minus_inf",
        "tolerances",
        edit("tolerances", setitem(["dtypes", "bfloat16", "golden", "atol"], -math.inf)),
        "dtypes.bfloat16.golden.atol",
        "-inf " + NOT_FINITE,
    ),
    Case(
        "atol_absurd",
        "tolerances",
        edit("tolerances", setitem(["dtypes", "float64", "outputs", "atol"], 1.0e30)),
        "dtypes.float64.outputs.atol",
        "is greater than the maximum of 1",
    ),
    Case(
        "mask_probability_nan",
        "labels",
        edit("labels", setitem(["data", 0, "mask_probability"], math.nan)),
        "data[0].mask_probability",
        "nan " + NOT_FINITE,
    ),
    Case(
        "replace_probability_inf",
        "labels",
        edit("labels", setitem(["data", 0, "replace", "keep"], math.inf)),
        "data[0].replace.keep",
        "inf " + NOT_FINITE,
    ),
    Case(
        "config_default_nan",
        "config",
        edit("config", setitem(["fields", 11, "default"], math.nan)),
        "fields[11].default",
        "nan " + NOT_FINITE,
    ),
    Case(
        "config_default_inf_in_list",
        "config",
        edit("config", setitem(["fields", 0, "allowed_values"], [30522, math.inf])),
        "fields[0].allowed_values[1]",
        "inf " + NOT_FINITE,
    ),
    Case(
        "config_default_1e26_layers",
        "config",
        edit("config", setitem(LAYERS, 10**26)),
        "fields[2].default",
        "100000000000000000000000000 is greater than the maximum of 1024",
    ),
    Case(
        "config_default_huge_hidden",
        "config",
        edit("config", setitem(["fields", 1, "default"], 2**40)),
        "fields[1].default",
        "is greater than the maximum of 1048576",
    ),
    Case(
        "config_default_beyond_int32",
        "config",
        edit("config", setitem(["fields", 12, "default"], 2**40)),
        "fields[12].default",
        "is greater than the maximum of 2147483647",
    ),
    Case(
        "tuple_example_kwarg_nan",
        "heads",
        edit("heads", setitem(["heads", "BertModel", "tuple_examples", 0, "kwargs", "scale"], math.nan)),
        "heads.BertModel.tuple_examples[0].kwargs.scale",
        "nan " + NOT_FINITE,
    ),
    Case(
        "tuple_example_config_layers",
        "heads",
        edit(
            "heads",
            setitem(["heads", "BertModel", "tuple_examples", 0, "config", "num_hidden_layers"], 10**9),
        ),
        "heads.BertModel.tuple_examples[0].config.num_hidden_layers",
        "is greater than the maximum of 1024",
    ),
    Case(
        "decoder_override_layers",
        "decoder",
        copied("decoder", setitem(["decoder", 0, "config", "num_hidden_layers"], 10**9)),
        "decoder[0].config.num_hidden_layers",
        "is greater than the maximum of 1024",
    ),
    Case(
        "decoder_override_nan",
        "decoder",
        copied("decoder", setitem(["decoder", 0, "config", "layer_norm_eps"], math.nan)),
        "decoder[0].config.layer_norm_eps",
        "nan " + NOT_FINITE,
    ),
    Case(
        "tokenizer_repeat_times",
        "tokenizer",
        copied(
            "tokenizer",
            lambda d: next(c for c in d["cases"] if isinstance(c.get("input"), dict))["input"].update(
                times=10**9
            ),
        ),
        "cases[",
        "1000000000 is greater than the maximum of 4096",
    ),
    Case(
        "benchmark_bound_inf",
        "benchmarks",
        copied("benchmarks", setitem(["thresholds", 0, "bound"], math.inf)),
        "thresholds[0].bound",
        "inf " + NOT_FINITE,
    ),
    # --- $ref: only files inside the schema folder, never the network, never the contents in a message
    Case(
        "ref_file_url_outside",
        "labels.schema.json",
        ref_to(lambda f: (f.parent / "secret.json").as_uri()),
        "$ref",
        REF_OUT,
    ),
    Case(
        "ref_file_url_spec_folder",
        "labels.schema.json",
        ref_to(lambda f: (f / "secret.json").as_uri()),
        "$ref",
        REF_OUT,
    ),
    Case("ref_relative_dotdot", "labels.schema.json", ref_to(lambda f: "../../secret.json"), "$ref", REF_OUT),
    Case(
        "ref_absolute_path",
        "labels.schema.json",
        ref_to(lambda f: str(f.parent / "secret.json")),
        "$ref",
        REF_OUT,
    ),
    Case("ref_etc_passwd", "labels.schema.json", ref_to(lambda f: "file:///etc/passwd"), "$ref", REF_OUT),
    Case(
        "ref_file_url_with_host",
        "labels.schema.json",
        ref_to(lambda f: "file://evil.example/secret.json"),
        "$ref",
        REF_NET,
    ),
    Case(
        "ref_http", "labels.schema.json", ref_to(lambda f: "http://127.0.0.1:9/schema.json"), "$ref", REF_NET
    ),
    Case(
        "ref_https",
        "labels.schema.json",
        ref_to(lambda f: "https://example.com/schema.json"),
        "$ref",
        REF_NET,
    ),
    Case("ref_symlink_out", "labels.schema.json", ref_to(symlink_out), "$ref", REF_OUT),
    Case(
        "ref_id_rebased_outside",
        "labels.schema.json",
        lambda f: (
            ref_to(lambda _: "secret.json")(f),
            write("schema/secret.json", "{}")(f),
            write(
                "schema/labels.schema.json",
                json.dumps({"$id": f.parent.as_uri() + "/", "$ref": "secret.json"}),
            )(f),
        ),
        "(document)",
        REF_OUT,
    ),
    Case(
        "ref_pointer_to_nowhere",
        "labels.schema.json",
        ref_to(lambda f: "config.schema.json#/$defs/nowhere"),
        "(document)",
        "$ref '/$defs/nowhere' cannot be resolved",
    ),
    Case(
        "ref_not_a_uri",
        "labels.schema.json",
        ref_to(lambda f: "http://[bad"),
        "$ref",
        "$ref 'http://[bad': not a URI (Invalid IPv6 URL)",
    ),
    Case(
        "ref_target_with_bad_id",
        "labels.schema.json",
        lambda f: (
            write("schema/other.json", '{"$id": "http://[bad"}')(f),
            ref_to(lambda _: "other.json")(f),
        ),
        "(document)",
        "invalid $id in a referenced schema: Invalid IPv6 URL",
    ),
    Case(
        "ref_target_with_backtracking_pattern",
        "labels.schema.json",
        lambda f: (
            write("schema/other.json", '{"pattern": "^(a+)+$"}')(f),
            ref_to(lambda _: "other.json")(f),
        ),
        "$ref",
        "$ref 'other.json': regex pattern '^(a+)+$' " + BACKTRACK,
    ),
    Case(
        "ref_loop",
        "labels.schema.json",
        write("schema/labels.schema.json", '{"$ref": "#"}'),
        "(document)",
        "schema recursion too deep",
    ),
    # --- regex patterns of the schemas: anchored, short, no backtracking
    Case(
        "pattern_nested_quantifier",
        "labels.schema.json",
        clause_pattern("^(a+)+$"),
        "$defs.clause_id.pattern",
        BACKTRACK + ": a repeated item must be followed by the end or a literal it cannot match",
    ),
    Case(
        "pattern_adjacent_quantifiers",
        "labels.schema.json",
        clause_pattern("^a*a*a*a*b$"),
        "$defs.clause_id.pattern",
        BACKTRACK + ": a repeated item must be followed by the end or a literal",
    ),
    Case(
        "pattern_alternation_in_repeat",
        "labels.schema.json",
        clause_pattern("^(a|aa)+$"),
        "$defs.clause_id.pattern",
        BACKTRACK + ": unsupported construct branch",
    ),
    Case(
        "pattern_backreference",
        "labels.schema.json",
        clause_pattern(r"^(a+)\1$"),
        "$defs.clause_id.pattern",
        "unsupported construct groupref",
    ),
    Case(
        "pattern_lookahead",
        "labels.schema.json",
        clause_pattern("^(?=a)a$"),
        "$defs.clause_id.pattern",
        "unsupported construct assert",
    ),
    Case(
        "pattern_unanchored",
        "labels.schema.json",
        clause_pattern("[a-z]+!"),
        "$defs.clause_id.pattern",
        "must start with ^",
    ),
    Case(
        "pattern_too_long",
        "labels.schema.json",
        clause_pattern("^" + "a" * 200 + "$"),
        "$defs.clause_id.pattern",
        "regex pattern longer than 128 characters",
    ),
    Case(
        "pattern_group_followed_by_its_lead",
        "labels.schema.json",
        clause_pattern(r"^(\.[a-z]+)+\.$"),
        "$defs.clause_id.pattern",
        "followed by the end or a literal other than its first",
    ),
    Case(
        "pattern_properties_key",
        "labels.schema.json",
        schema("labels", setitem(["patternProperties"], {"^(x+x+)+y$": {}})),
        "patternProperties.^(x+x+)+y$",
        BACKTRACK,
    ),
]

LINE_PARTS = 3  # file: yaml path: message


def _line_matches(line: str, folder: Path, case: Case) -> bool:
    file, path, message = line.split(": ", LINE_PARTS - 1)
    return (
        Path(file).name.startswith(case.file)
        and Path(file).parent in (folder, folder / "schema")
        and case.path in path
        and case.message in message
    )


@pytest.fixture
def hostile(request, tmp_path) -> tuple[Path, Case]:
    case: Case = request.param
    folder = core_folder(tmp_path / "spec")
    case.mutate(folder)
    return folder, case


def test_corpus_is_large_enough():
    assert len(CASES) >= 45
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("hostile", CASES, ids=[c.id for c in CASES], indirect=True)
def test_hostile_spec_is_rejected_quickly_with_file_path_and_message(hostile, capsys):
    folder, case = hostile
    lines = cli_error_lines(folder, capsys)
    assert any(_line_matches(line, folder, case) for line in lines), "\n".join(lines) or "no error"
    assert SECRET not in "\n".join(lines)


SAMPLE = [
    c
    for c in CASES
    if c.id in {"alias_bomb_in_any_default", "constraint_9_9_9", "atol_nan", "ref_file_url_outside"}
]


@pytest.mark.parametrize("hostile", SAMPLE, ids=[c.id for c in SAMPLE], indirect=True)
def test_api_raises_the_same_errors(hostile, capsys):
    folder, case = hostile
    errors = validate_path(folder)
    assert cli_error_lines(folder, capsys) == [str(e) for e in errors]
    with pytest.raises(SpecError) as info:
        load_spec(folder)
    assert any(_line_matches(str(e), folder, case) for e in info.value.errors)
    if case.file in CORE:  # the file alone (siblings used for cross-file checks) names the same error
        assert any(_line_matches(str(e), folder, case) for e in validate_path(folder / f"{case.file}.yaml"))


CLI = [c for c in CASES if c.id in {"alias_bomb_top_level", "ref_file_url_outside"}]


@pytest.mark.parametrize("hostile", CLI, ids=[c.id for c in CLI], indirect=True)
def test_cli_process_exits_1_with_one_line_per_error(hostile):
    folder, case = hostile
    command = [sys.executable, "-m", "bert_conformance.cli", "spec", "validate", str(folder)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=8)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and result.stdout == ""
    assert len(lines) == 2 and _line_matches(lines[0], folder, case), result.stderr
    assert lines[1].startswith("spec INVALID: 1 error(s)")
    assert "Traceback" not in result.stderr and SECRET not in result.stderr


def test_anchors_without_aliases_and_in_folder_refs_are_fine(tmp_path):
    folder = core_folder(tmp_path / "spec")
    replace("config", "default: 30522", "default: &vocab 30522")(folder)
    assert validate_path(folder) == []
    assert load_spec(folder).config.field("vocab_size").default == 30522
    assert "config.schema.json#/$defs/overrides" in (spec_dir() / "schema" / "heads.schema.json").read_text()


def test_expanding_parameters_for_an_absurd_config_fails_at_once():
    spec = load_spec()
    with pytest.raises(ShapeError, match=r"repeat count 1000000000 is outside 0\.\.1024"):
        spec.parameters.expand("BertModel", spec.env(num_hidden_layers=10**9))
    with pytest.raises(ShapeError, match="above the size bound"):
        spec.parameters.expand("BertModel", spec.env(hidden_size=2**32, num_attention_heads=1))
