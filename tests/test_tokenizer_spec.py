"""spec/tokenizer.yaml: schema validity, cross-references, and that every clause is checked somewhere."""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = ROOT / "spec" / "tokenizer.yaml"
SCHEMA_PATH = ROOT / "spec" / "schema" / "tokenizer.schema.json"
CHAR_CLASSES_PATH = ROOT / "golden" / "tokenizer" / "char_classes.json"
CLAUSE_SECTIONS = ("options", "vocabulary", "special_tokens", "normalizer", "pre_tokenizer", "wordpiece",
                   "post_processor", "truncation", "padding", "decoding", "input_validation", "unicode_tables",
                   "legacy_differences", "golden")


def _spec() -> dict:
    return yaml.safe_load(SPEC_PATH.read_text(encoding="utf-8"))


def _validator() -> jsonschema.Draft202012Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _clauses(spec: dict) -> dict[str, dict]:
    return {c["id"]: c for section in CLAUSE_SECTIONS for c in spec[section]}


def _test_functions() -> set[str]:
    """Names of the test functions defined in tests/test_tokenizer_*.py."""
    names = set()
    for path in sorted(Path(__file__).parent.glob("test_tokenizer_*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names |= {n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")}
    return names


def test_spec_validates_against_its_schema():
    errors = sorted(_validator().iter_errors(_spec()), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_spec_loads_through_the_project_loader():
    spec_module = pytest.importorskip("bert_conformance.spec")
    if not hasattr(spec_module, "load_document"):
        pytest.skip("bert_conformance.spec has no load_document yet")
    try:
        data = spec_module.load_document("tokenizer", SPEC_PATH)
    except ImportError as err:  # the loader package is being written in parallel
        pytest.skip(f"bert_conformance.spec does not import: {err}")
    assert data["spec_version"] == _spec()["spec_version"]
    assert [c["id"] for c in data["cases"]] == [c["id"] for c in _spec()["cases"]]


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda s: s["cases"][0].pop("input"), "input"),
        (lambda s: s["normalizer"][0].update(id="Tokenizer.Bad"), "does not match"),
        (lambda s: s["legacy_differences"][0].pop("example"), "example"),
        (lambda s: s["cases"][0].update(call={"truncation": "only_third"}), "only_third"),
        (lambda s: s["cases"][0].update(init={"lowercase": True}), "lowercase"),
        (lambda s: s["normalizer"][0].update(check="maybe"), "maybe"),
        (lambda s: s.pop("cases"), "cases"),
    ],
)
def test_schema_rejects_broken_specs(mutate, fragment):
    spec = copy.deepcopy(_spec())
    mutate(spec)
    messages = [e.message for e in _validator().iter_errors(spec)]
    assert messages and any(fragment in m for m in messages), messages


def test_clause_ids_are_unique_and_prefixed():
    spec = _spec()
    ids = [c["id"] for section in CLAUSE_SECTIONS for c in spec[section]]
    ids += [p["id"] for p in spec["properties"]] + [c["id"] for c in spec["cases"]]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    assert all(i.startswith("tokenizer.") for i in ids)


def test_case_references_exist():
    spec = _spec()
    clauses = _clauses(spec)
    for case in spec["cases"]:
        unknown = [c for c in case["clauses"] if c not in clauses]
        assert not unknown, f"{case['id']} names unknown clauses {unknown}"
        if "hf_defect" in case:
            assert case["hf_defect"] in case["clauses"] and clauses[case["hf_defect"]]["check"] == "error"


def test_every_golden_clause_has_a_case():
    spec = _spec()
    covered = {c for case in spec["cases"] for c in case["clauses"]}
    missing = [cid for cid, c in _clauses(spec).items() if c["check"] == "golden" and cid not in covered
               and not cid.startswith("tokenizer.golden.")]
    assert not missing, f"clauses with check: golden but no case: {missing}"


def test_every_error_clause_has_a_test_or_case():
    """check: error clauses are tested by test_error_<section>_<what> or by a case of kind error."""
    spec = _spec()
    functions = _test_functions()
    error_cases = {c for case in spec["cases"] if case.get("kind") == "error" or "hf_defect" in case
                   for c in case["clauses"]}
    missing = []
    for cid, clause in _clauses(spec).items():
        name = "test_error_" + cid.removeprefix("tokenizer.").replace(".", "_")
        if clause["check"] == "error" and name not in functions and cid not in error_cases:
            missing.append(f"{cid} (expected {name})")
    assert not missing, missing


def test_every_property_is_implemented():
    spec = _spec()
    functions = _test_functions()
    names = {p["id"]: "test_property_" + p["id"].removeprefix("tokenizer.property.") for p in spec["properties"]}
    assert not [n for n in names.values() if n not in functions]
    referenced = {c["property"] for c in _clauses(spec).values() if c["check"] == "property"}
    assert referenced <= set(names), referenced - set(names)


def test_char_class_clauses_name_golden_classes():
    classes = json.loads(CHAR_CLASSES_PATH.read_text(encoding="utf-8"))["classes"]
    named = {c["char_class"] for c in _clauses(_spec()).values() if "char_class" in c}
    assert named <= set(classes), named - set(classes)


def test_cjk_ranges_in_spec_match_the_probed_table():
    """The ranges written in the clause equal what HF's normalizer does (probed into char_classes.json)."""
    clause = _clauses(_spec())["tokenizer.normalizer.cjk"]
    classes = json.loads(CHAR_CLASSES_PATH.read_text(encoding="utf-8"))["classes"]
    assert sorted(clause["ranges"]) == sorted(classes["cjk"])


def test_whitespace_clause_lists_the_probed_table():
    classes = json.loads(CHAR_CLASSES_PATH.read_text(encoding="utf-8"))["classes"]
    probed = {cp for lo, hi in classes["whitespace"] for cp in range(lo, hi + 1)}
    listed = {0x09, 0x0A, 0x0D, 0x20, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000}
    assert probed == listed
    text = _clauses(_spec())["tokenizer.normalizer.clean_text.whitespace"]["text"]
    assert "U+2028" in text and "U+2029" in text and "U+1680" in text
