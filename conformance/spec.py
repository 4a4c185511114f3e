"""Load and validate the machine-readable BERT spec.

Every ``spec/<name>.yaml`` is read with a safe YAML loader that rejects duplicate keys, validated against
``spec/schema/<name>.schema.json``, then checked for what a schema cannot say (unique clause ids, shape
expressions that parse and use known symbols, heads that exist, tolerances in order; see spec_checks.py).
Problems come back as SpecError (file, YAML path, message), never as a library traceback.

    spec = load_spec()                       # the installed spec, cached per process
    spec.config.field("layer_norm_eps").default
    spec.heads.head("BertModel").argument_names
    spec.tolerances.get("float32", "outputs").atol
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.resources
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from bert_conformance.errors import SpecError, raise_if_any
from bert_conformance.spec_checks import check_document, iter_clauses
from bert_conformance.spec_cross import check_cross
from bert_conformance.spec_node import freeze, thaw
from bert_conformance.spec_types import (
    CORE_TYPES,
    ConfigSpec,
    HeadsSpec,
    LabelsSpec,
    ParametersSpec,
    TolerancesSpec,
)

__all__ = ["Spec", "load_document", "load_spec", "spec_dir", "validate_path"]

CORE_DOCUMENTS = tuple(CORE_TYPES)


def spec_dir() -> Path:
    """Folder of the installed spec (the ``bert_conformance.specdata`` package)."""
    return Path(str(importlib.resources.files("bert_conformance.specdata")))


# --- YAML --------------------------------------------------------------------------------------------------


class _DuplicateKey(Exception):
    def __init__(self, yaml_path: str, key: Any, line: int, first_line: int) -> None:
        super().__init__(yaml_path, key, line, first_line)
        self.yaml_path, self.key, self.line, self.first_line = yaml_path, key, line, first_line


# libyaml's parser when present (10x faster); the constructor is PyYAML's safe one either way.
_SafeBase = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class UniqueKeyLoader(_SafeBase):
    """Safe loader that rejects a mapping key given twice (PyYAML silently keeps the last one)."""

    def construct_document(self, node: yaml.Node) -> Any:
        self._root = node
        return super().construct_document(node)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        self.flatten_mapping(node)
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.get(key)
            except TypeError:
                continue  # unhashable key: the base class reports it
            if first is not None:
                parent = _node_path(self._root, node) or ""
                path = f"{parent}.{key}" if parent else str(key)
                raise _DuplicateKey(path, key, key_node.start_mark.line + 1, first)
            seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep)


def _node_path(root: yaml.Node, target: yaml.Node, path: str = "") -> str | None:
    """YAML path from ``root`` to ``target`` in the composed node tree."""
    if root is target:
        return path
    if isinstance(root, yaml.MappingNode):
        for key_node, value_node in root.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else "?"
            found = _node_path(value_node, target, f"{path}.{key}" if path else key)
            if found is not None:
                return found
    elif isinstance(root, yaml.SequenceNode):
        for index, item in enumerate(root.value):
            found = _node_path(item, target, f"{path}[{index}]")
            if found is not None:
                return found
    return None


def read_yaml(path: Path) -> Any:
    """Parse one YAML file safely; every failure is a SpecError naming the file and the place."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(str(path), "(document)", f"cannot read file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise SpecError(str(path), "(document)", f"not UTF-8 text: {exc.reason}") from None
    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except _DuplicateKey as exc:
        message = f"duplicate key {exc.key!r} (line {exc.line}; first given on line {exc.first_line})"
        raise SpecError(str(path), exc.yaml_path, message) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"(line {mark.line + 1}, column {mark.column + 1})" if mark else "(document)"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        message = f"malformed YAML: {problem}" + (f" ({context})" if context else "")
        raise SpecError(str(path), where, message) from None


# --- JSON Schema -------------------------------------------------------------------------------------------


def _schema_path(yaml_file: Path) -> Path:
    """spec/<name>.yaml -> spec/schema/<name>.schema.json (the installed schema when there is no schema/ dir)."""
    name = yaml_file.name.removesuffix(".yaml")
    local = yaml_file.parent / "schema"
    folder = local if local.is_dir() else spec_dir() / "schema"
    return folder / f"{name}.schema.json"


def _read_schema(path: Path, yaml_file: Path) -> jsonschema.Draft202012Validator:
    if not path.is_file():
        raise SpecError(str(yaml_file), "(document)", f"no JSON Schema for this file: {path} does not exist")
    try:
        return _validator(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, jsonschema.SchemaError) as exc:
        message = getattr(exc, "message", None) or str(exc).splitlines()[0]
        raise SpecError(str(path), "(document)", f"invalid JSON Schema: {message}") from None


@functools.lru_cache(maxsize=64)
def _validator(schema_text: str) -> jsonschema.Draft202012Validator:
    """Checked, compiled schema; cached by content (checking a schema costs more than using it)."""
    schema = json.loads(schema_text)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def format_path(parts: Any) -> str:
    """('heads', 'BertModel', 'outputs', 2, 'shape') -> 'heads.BertModel.outputs[2].shape'."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _schema_message(error: jsonschema.ValidationError) -> str:
    if error.validator in ("oneOf", "anyOf") and error.context:
        return _schema_message(jsonschema.exceptions.best_match(error.context))
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})), key=str)
        return "unknown key(s): " + ", ".join(repr(k) for k in extra)
    if error.validator == "required":
        return error.message.replace("is a required property", "is required but missing")
    if error.validator == "type":
        return (
            f"expected {error.validator_value}, got {type(error.instance).__name__} {_short(error.instance)}"
        )
    if error.validator == "enum":
        return f"{_short(error.instance)} is not one of {list(error.validator_value)}"
    return error.message if len(error.message) < 240 else error.message[:237] + "..."


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _schema_errors(data: Any, validator: jsonschema.Draft202012Validator, file: Path) -> list[SpecError]:
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    return [SpecError(str(file), format_path(e.absolute_path), _schema_message(e)) for e in errors]


# --- documents ---------------------------------------------------------------------------------------------


def _document_errors(name: str, path: Path) -> tuple[Any, list[SpecError]]:
    """Parse, schema-check and self-check one document. Returns (data, errors)."""
    try:
        data = read_yaml(path)
        schema = _read_schema(_schema_path(path), path)
    except SpecError as exc:
        return None, [exc]
    if data is None:
        return None, [SpecError(str(path), "(document)", "empty file: expected a mapping with spec_version")]
    if not isinstance(data, dict):
        return None, [
            SpecError(str(path), "(document)", f"top level must be a mapping, got {type(data).__name__}")
        ]
    errors = _schema_errors(data, schema, path)
    if not errors:
        errors = check_document(name, data, str(path))
    return data, errors


def load_document(name: str, path: str | Path | None = None) -> dict[str, Any]:
    """Read, validate and self-check ``<name>.yaml`` (from the installed spec, or ``path``).

    Raises SpecError (or SpecErrors, listing every problem). Cross-file checks need the whole spec:
    use load_spec or validate_path for them.
    """
    file = Path(path) if path is not None else spec_dir() / f"{name}.yaml"
    data, errors = _document_errors(name, file)
    raise_if_any(errors)
    return data


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.yaml") if p.is_file())


def _load_folder(folder: Path) -> tuple[dict[str, tuple[Path, dict[str, Any]]], list[SpecError]]:
    """Every document of a spec folder plus every error (per document and across documents)."""
    if not folder.is_dir():
        return {}, [SpecError(str(folder), "(document)", "no such spec folder")]
    documents: dict[str, tuple[Path, dict[str, Any]]] = {}
    errors: list[SpecError] = []
    for path in _yaml_files(folder):
        name = path.name.removesuffix(".yaml")
        data, doc_errors = _document_errors(name, path)
        errors += doc_errors
        if data is not None and not doc_errors:
            documents[name] = (path, data)
    for name in CORE_DOCUMENTS:
        if not (folder / f"{name}.yaml").exists():
            errors.append(
                SpecError(str(folder / f"{name}.yaml"), "(document)", "required spec file is missing")
            )
    errors += check_cross(documents)
    return documents, errors


def validate_path(path: str | Path | None = None) -> list[SpecError]:
    """Every error of a spec folder, or of one spec file (checked against its sibling files)."""
    target = Path(path) if path is not None else spec_dir()
    if target.is_dir():
        return _load_folder(target)[1]
    if not target.exists():
        return [SpecError(str(target), "(document)", "no such file or folder")]
    if target.suffix != ".yaml":
        return [SpecError(str(target), "(document)", "a spec file must end in .yaml")]
    name = target.name.removesuffix(".yaml")
    data, errors = _document_errors(name, target)
    if errors:
        return errors
    documents = {name: (target, data)}
    for other in CORE_DOCUMENTS:
        sibling = target.parent / f"{other}.yaml"
        source = sibling if sibling.exists() else spec_dir() / f"{other}.yaml"
        if other != name:
            other_data, other_errors = _document_errors(other, source)
            if not other_errors:
                documents[other] = (source, other_data)
    return [e for e in check_cross(documents) if Path(e.file) == target]


# --- the typed spec ----------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Spec:
    """The whole spec: typed views of the five core files plus the raw data of every file."""

    config: ConfigSpec
    heads: HeadsSpec
    labels: LabelsSpec
    parameters: ParametersSpec
    tolerances: TolerancesSpec
    documents: Mapping[str, Mapping[str, Any]]  # file stem -> read-only YAML data (all files)
    files: Mapping[str, Path]  # file stem -> path

    def raw(self, name: str) -> dict[str, Any]:
        """A plain, mutable copy of one file's YAML data."""
        return thaw(self.documents[name])

    def clauses(self) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
        """(file stem, clause id, clause mapping) of every clause, in file order."""
        for name, data in self.documents.items():
            for _, clause in iter_clauses(data):
                yield name, clause["id"], clause

    def clause_ids(self) -> tuple[str, ...]:
        return tuple(clause_id for _, clause_id, _ in self.clauses())

    def clause(self, clause_id: str) -> Mapping[str, Any]:
        for _, found, clause in self.clauses():
            if found == clause_id:
                return clause
        raise KeyError(f"no clause {clause_id!r} in the spec")

    @property
    def spec_version(self) -> str:
        """The version shared by every spec file (checked on load)."""
        return self.config.spec_version

    def env(self, **overrides: Any) -> dict[str, Any]:
        """Config values (defaults + overrides) and derived names, for shape expressions."""
        return self.config.env(overrides)


def _build(folder: Path) -> Spec:
    documents, errors = _load_folder(folder)
    raise_if_any(errors)
    typed = {name: CORE_TYPES[name].from_dict(documents[name][1]) for name in CORE_DOCUMENTS}
    return Spec(
        **typed,
        documents=freeze({name: data for name, (_, data) in documents.items()}),
        files=freeze({name: path for name, (path, _) in documents.items()}),
    )


@functools.cache
def _installed_spec() -> Spec:
    return _build(spec_dir())


def load_spec(path: str | Path | None = None) -> Spec:
    """The validated spec of a folder (default: the installed spec, loaded once per process)."""
    return _installed_spec() if path is None else _build(Path(path))
