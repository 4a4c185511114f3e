"""Load and validate the machine-readable BERT spec.

Every ``spec/<name>.yaml`` is read with a safe YAML loader that rejects duplicate keys, validated against
``spec/schema/<name>.schema.json``, then checked for what a schema cannot say (unique clause ids, shape
expressions that parse and use known symbols, heads that exist, tolerances in order; see spec_checks.py).
Problems come back as SpecError (file, YAML path, message), never as a library traceback.

The spec folder is untrusted input: file size, YAML aliases and nesting, JSON Schema regex patterns and
``$ref`` targets are bounded or confined (the limits below, listed in docs/spec.md, "Limits"), so a hostile
folder gets a SpecError instead of hanging the suite or reading files outside the folder.

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
import math
import urllib.parse
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema.protocols
import referencing
import referencing.exceptions
import referencing.jsonschema
import yaml

from bert_conformance.errors import SpecError, raise_if_any
from bert_conformance.spec.checks import check_document, iter_clauses
from bert_conformance.spec.cross import check_cross
from bert_conformance.spec.node import freeze, thaw
from bert_conformance.spec.patterns import pattern_problem
from bert_conformance.spec.types import (
    CORE_TYPES,
    ConfigSpec,
    HeadsSpec,
    LabelsSpec,
    ParametersSpec,
    TolerancesSpec,
)

__all__ = ["Spec", "load_document", "load_spec", "spec_dir", "validate_path"]

CORE_DOCUMENTS = tuple(CORE_TYPES)

# --- limits (each one is checked before the work it bounds) ------------------------------------------------
# The largest real file (heads.yaml, tokenizer.yaml) is about 50 KB: 2 MB is 40 times that and still parses
# and validates in well under a second.
MAX_FILE_BYTES = 2 * 1024 * 1024
# The real YAML nests at most 7 levels, the schemas about 12; validation recurses several Python frames per
# level, so 32 keeps far from the interpreter's recursion limit.
MAX_DEPTH = 32
# The real files have at most ~3,600 YAML nodes; 100,000 bounds what the schema and the checks walk.
MAX_YAML_NODES = 100_000
# The real spec uses no anchors or aliases, and one alias can double what every later step walks
# (a "billion laughs" document is 10 lines), so none is allowed: write the value out.
MAX_YAML_ALIASES = 0


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


def read_text(path: Path) -> str:
    """The UTF-8 text of a spec file no larger than MAX_FILE_BYTES (checked before reading it)."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            message = f"file too large: {size} bytes (the limit is {MAX_FILE_BYTES})"
            raise SpecError(str(path), "(document)", message)
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(str(path), "(document)", f"cannot read file: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise SpecError(str(path), "(document)", f"not UTF-8 text: {exc.reason}") from None


@dataclasses.dataclass
class _Frame:
    """An open mapping or sequence while scanning YAML events: where it is and which child comes next."""

    path: str
    mapping: bool
    index: int = 0
    key: str | None = None  # in a mapping: the key whose value comes next (None: a key comes next)

    def child(self) -> str:
        if not self.mapping:
            return f"{self.path}[{self.index}]"
        if self.key is None:
            return self.path  # a key node: report the mapping
        return f"{self.path}.{self.key}" if self.path else self.key

    def advance(self, scalar: Any) -> None:
        if not self.mapping:
            self.index += 1
        elif self.key is None:
            self.key = scalar if isinstance(scalar, str) else "?"
        else:
            self.key = None


def _scan_yaml(text: str, file: str) -> None:
    """Refuse aliases, deep nesting and too many nodes from the event stream, before anything is built.

    Events cost linear time in the text whatever the document says; building and validating it need not.
    """
    stack: list[_Frame] = []
    nodes = aliases = 0
    for event in yaml.parse(text, Loader=_SafeBase):
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            stack.pop()
            if stack:
                stack[-1].advance(None)
            continue
        if not isinstance(event, yaml.NodeEvent):
            continue
        path, line = (stack[-1].child() if stack else ""), event.start_mark.line + 1
        nodes += 1
        if nodes > MAX_YAML_NODES:
            raise SpecError(file, path, f"more than {MAX_YAML_NODES} YAML nodes (line {line})")
        if isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_YAML_ALIASES:
                message = f"YAML alias *{event.anchor} is not allowed in a spec file (line {line}): write the value out"
                raise SpecError(file, path, message)
        if isinstance(event, yaml.CollectionStartEvent):
            if len(stack) >= MAX_DEPTH:
                raise SpecError(file, path, f"nested deeper than {MAX_DEPTH} levels (line {line})")
            stack.append(_Frame(path, isinstance(event, yaml.MappingStartEvent)))
        elif stack:
            stack[-1].advance(getattr(event, "value", None))


def read_yaml(path: Path) -> Any:
    """Parse one YAML file safely; every failure is a SpecError naming the file and the place."""
    text = read_text(path)
    try:
        _scan_yaml(text, str(path))
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
    except ValueError as exc:  # a scalar Python cannot convert, e.g. an integer of more than 4300 digits
        raise SpecError(str(path), "(document)", f"unreadable value: {str(exc)[:120]}") from None


# --- JSON Schema -------------------------------------------------------------------------------------------


def _schema_path(yaml_file: Path) -> Path:
    """spec/<name>.yaml -> spec/schema/<name>.schema.json (the installed schema when there is no schema/ dir)."""
    name = yaml_file.name.removesuffix(".yaml")
    local = yaml_file.parent / "schema"
    folder = local if local.is_dir() else spec_dir() / "schema"
    return folder / f"{name}.schema.json"


def _is_finite_number(checker: Any, instance: Any) -> bool:
    """JSON Schema's "number", less NaN and the infinities (YAML writes them .nan, .inf, -.inf)."""
    number = jsonschema.Draft202012Validator.TYPE_CHECKER.is_type(instance, "number")
    return number and not (isinstance(instance, float) and not math.isfinite(instance))


# Every `"type": "number"` of a spec schema means a finite number: a NaN tolerance compares false with
# everything (so `x > atol` never fails) and an infinite one accepts anything.
SpecValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    type_checker=jsonschema.Draft202012Validator.TYPE_CHECKER.redefine("number", _is_finite_number),
)


class _RefRefused(Exception):
    """A $ref the spec may not follow (network, outside the schema folder); the message names only the URI."""


def _read_schema(path: Path, yaml_file: Path) -> jsonschema.protocols.Validator:
    if not path.is_file():
        raise SpecError(str(yaml_file), "(document)", f"no JSON Schema for this file: {path} does not exist")
    return _validator(read_text(path), str(path))


def _validator(schema_text: str, file: str) -> jsonschema.protocols.Validator:
    """The compiled schema. ``$ref`` goes through a registry that reads only files of the schema's folder."""
    schema = _load_schema(schema_text, file)
    return SpecValidator(schema, registry=_registry(schema, Path(file)))


def _load_schema(text: str, file: str) -> Any:
    schema, parts, problem = _checked_schema(text)
    if problem:
        raise SpecError(file, format_path(parts), problem)
    return schema


@functools.lru_cache(maxsize=64)
def _checked_schema(text: str) -> tuple[Any, list[Any], str]:
    """(schema, [], "") or (None, JSON path, problem): parsed, within the limits (no deep nesting, no regex
    that could backtrack for ages) and valid against the metaschema. Cached by content: checking a schema
    costs more than using it."""
    try:
        schema = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return None, [], f"invalid JSON Schema: {_schema_problem(exc)}"
    for parts, problem in _schema_limits(schema):
        return None, parts, problem
    try:
        SpecValidator.check_schema(schema)
    except (jsonschema.SchemaError, RecursionError) as exc:
        return None, [], f"invalid JSON Schema: {_schema_problem(exc)}"
    return schema, [], ""


def _registry(schema: Any, file: Path) -> referencing.Registry:
    """A registry holding every file the schema's $refs name (read here, so that a refused one names its
    JSON path), and retrieving only files of the schema's folder for any other (resolved against an $id)."""
    retrieve = _retriever(file.parent)
    registry: referencing.Registry = referencing.Registry(retrieve=retrieve)
    for parts, node in _walk(schema):
        ref = node.get("$ref") if isinstance(node, dict) else None
        uri = ref.partition("#")[0] if isinstance(ref, str) else ""
        if uri and uri not in registry:
            try:
                registry = registry.with_resource(uri, retrieve(uri))
            except _RefRefused as exc:
                raise SpecError(str(file), format_path([*parts, "$ref"]), str(exc)) from None
    try:
        return registry.crawl()
    except ValueError as exc:  # an $id that is not a URI (urllib refuses it)
        raise SpecError(str(file), "(document)", f"invalid $id in a referenced schema: {exc}") from None


def _schema_problem(exc: Exception) -> str:
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return _clip(getattr(exc, "message", None) or str(exc).splitlines()[0], 240)


def _walk(data: Any) -> Iterator[tuple[list[Any], Any]]:
    """(JSON path, node) of every node of parsed JSON, parents first; iterative (no recursion limit)."""
    todo: list[tuple[list[Any], Any]] = [([], data)]
    while todo:
        parts, node = todo.pop()
        yield parts, node
        if isinstance(node, dict):
            todo += [([*parts, key], value) for key, value in reversed(node.items())]
        elif isinstance(node, list):
            todo += [([*parts, index], value) for index, value in reversed(list(enumerate(node)))]


def _schema_limits(schema: Any) -> Iterator[tuple[list[Any], str]]:
    """(JSON path, problem) for nesting past MAX_DEPTH and every unsafe regex pattern."""
    for parts, node in _walk(schema):
        if len(parts) > MAX_DEPTH:
            yield parts, f"nested deeper than {MAX_DEPTH} levels"
            return
        if isinstance(node, dict):
            patterns = [(["pattern"], node.get("pattern"))] + [
                (["patternProperties", key], key) for key in node.get("patternProperties", None) or ()
            ]
            for where, pattern in patterns:
                problem = pattern_problem(pattern) if isinstance(pattern, str) else None
                if problem:
                    yield parts + where, problem


def _retriever(folder: Path) -> Callable[[str], referencing.Resource]:
    def retrieve(uri: str) -> referencing.Resource:
        target = _ref_target(uri, folder)
        try:
            schema = _load_schema(read_text(target), str(target))
        except SpecError as exc:
            raise _RefRefused(f"$ref {uri!r}: {exc.message}") from None
        return referencing.Resource.from_contents(
            schema, default_specification=referencing.jsonschema.DRAFT202012
        )

    return retrieve


def _ref_target(uri: str, folder: Path) -> Path:
    """The file a $ref names, if it is a file inside ``folder``; never opens anything outside it."""
    try:
        parts = urllib.parse.urlsplit(uri)
    except ValueError as exc:
        raise _RefRefused(f"$ref {uri!r}: not a URI ({exc})") from None
    if parts.scheme not in ("", "file") or parts.netloc not in ("", "localhost"):
        raise _RefRefused(f"$ref {uri!r}: only files in the spec's schema folder can be referenced")
    path = Path(urllib.parse.unquote(parts.path))
    target = (path if path.is_absolute() else folder / path).resolve()
    if not target.is_relative_to(folder.resolve()) or not target.is_file():
        raise _RefRefused(f"$ref {uri!r}: not a file in the spec's schema folder {folder}")
    return target


def _ref_problem(exc: BaseException) -> str:
    """Why a $ref failed, from our own refusal when there is one; never the referenced contents."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, _RefRefused):
        cause = cause.__cause__ or cause.__context__
    if cause is not None:
        return str(cause)
    ref = getattr(exc, "ref", None) or getattr(getattr(exc, "_wrapped", None), "ref", None)
    return f"$ref {ref!r} cannot be resolved" if ref else "a $ref cannot be resolved"


def format_path(parts: Any) -> str:
    """('heads', 'BertModel', 'outputs', 2, 'shape') -> 'heads.BertModel.outputs[2].shape'."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(document)"


def _schema_message(error: jsonschema.ValidationError) -> str:
    if error.validator in ("oneOf", "anyOf") and error.context:
        # The branch whose type fits says more ("greater than the maximum") than the others' "expected X".
        fitting = [e for e in error.context if e.validator != "type"] or error.context
        return _schema_message(jsonschema.exceptions.best_match(fitting))
    if error.validator == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})), key=str)
        return "unknown key(s): " + ", ".join(repr(k) for k in extra)
    if error.validator == "required":
        return error.message.replace("is a required property", "is required but missing")
    if error.validator == "type" and isinstance(error.instance, float) and not math.isfinite(error.instance):
        return f"{error.instance} is not a finite number"
    if error.validator == "type":
        return (
            f"expected {error.validator_value}, got {type(error.instance).__name__} {_short(error.instance)}"
        )
    if error.validator == "enum":
        return f"{_short(error.instance)} is not one of {list(error.validator_value)}"
    return _clip(error.message, 240)


def _short(value: Any) -> str:
    return _clip(repr(value), 60)


def _clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters (a message may quote a whole, possibly huge, instance)."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _schema_errors(
    data: Any, validator: jsonschema.protocols.Validator, file: Path, schema: Path
) -> list[SpecError]:
    """Schema errors of ``data``; a $ref the schema may not follow is one error on the schema file."""
    try:
        errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    except referencing.exceptions.Unresolvable as exc:
        return [SpecError(str(schema), "(document)", _ref_problem(exc))]
    except ValueError as exc:  # an $id or $ref that is not a URI
        return [SpecError(str(schema), "(document)", f"schema cannot be applied: {_clip(str(exc), 120)}")]
    except RecursionError:
        return [
            SpecError(str(schema), "(document)", "schema recursion too deep (a $ref that refers to itself?)")
        ]
    return [SpecError(str(file), format_path(e.absolute_path), _schema_message(e)) for e in errors]


# --- documents ---------------------------------------------------------------------------------------------


def _document_errors(name: str, path: Path) -> tuple[Any, list[SpecError]]:
    """Parse, schema-check and self-check one document. Returns (data, errors)."""
    schema_file = _schema_path(path)
    try:
        data = read_yaml(path)
        schema = _read_schema(schema_file, path)
    except SpecError as exc:
        return None, [exc]
    if data is None:
        return None, [SpecError(str(path), "(document)", "empty file: expected a mapping with spec_version")]
    if not isinstance(data, dict):
        return None, [
            SpecError(str(path), "(document)", f"top level must be a mapping, got {type(data).__name__}")
        ]
    errors = _schema_errors(data, schema, path, schema_file)
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
    errors += check_cross(documents, absent=_spec_names(folder) - set(documents))
    return documents, errors


def _spec_names(folder: Path) -> set[str]:
    """The spec files of ``folder`` and of the installed spec, by name (links into one not loaded are not
    checked)."""
    return {p.name.removesuffix(".yaml") for p in (*_yaml_files(folder), *_yaml_files(spec_dir()))}


def validate_path(path: str | Path | None = None) -> list[SpecError]:
    """Every error of a spec folder, or of one spec file (checked against its sibling files; a core file
    missing beside it is taken from the installed spec)."""
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
    sources = {other: spec_dir() / f"{other}.yaml" for other in CORE_DOCUMENTS}
    sources.update((p.name.removesuffix(".yaml"), p) for p in _yaml_files(target.parent))
    for other, source in sources.items():
        if other != name:
            other_data, other_errors = _document_errors(other, source)
            if not other_errors:
                documents[other] = (source, other_data)
    absent = _spec_names(target.parent) - set(documents)
    return [e for e in check_cross(documents, absent=absent) if Path(e.file) == target]


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
