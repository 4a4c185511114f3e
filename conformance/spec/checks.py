"""Checks a JSON Schema cannot express, on one spec document or across documents.

Each check yields (yaml_path, message); the loader turns them into SpecErrors. Checks run only on
documents that passed their schema, so they can rely on its structure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from bert_conformance.errors import SpecError
from bert_conformance.spec.shapes import ShapeError, evaluate, evaluate_expr, parse_expr, parse_shape, symbols

Problems = Iterator[tuple[str, str]]

CLAUSE_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[A-Za-z0-9_]+)+$")
# Unit roundoff per dtype: an rtol below it cannot be met by rounding alone (atol/rtol likely swapped).
UNIT_ROUNDOFF = {"float64": 2.0**-53, "float32": 2.0**-24, "float16": 2.0**-11, "bfloat16": 2.0**-8}
PRECISION_ORDER = ("float64", "float32", "float16", "bfloat16")


def iter_clauses(data: Any, path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(yaml_path, clause) for every mapping with an ``id`` key, in document order."""
    if isinstance(data, Mapping):
        if "id" in data:
            yield path, data
        for key, value in data.items():
            yield from iter_clauses(value, f"{path}.{key}" if path else str(key))
    elif isinstance(data, (list, tuple)):
        for index, item in enumerate(data):
            yield from iter_clauses(item, f"{path}[{index}]")


def guard(file: str, problems: Callable[[], Problems]) -> list[SpecError]:
    """Run a check; a crash inside it becomes one error instead of a traceback."""
    try:
        return [SpecError(file, path, message) for path, message in problems()]
    except Exception as exc:  # noqa: BLE001 - reported, never swallowed
        return [SpecError(file, "(document)", f"could not check this document: {type(exc).__name__}: {exc}")]


# --- one document ------------------------------------------------------------------------------------------


def check_document(name: str, data: Mapping[str, Any], file: str) -> list[SpecError]:
    """Self-contained checks of one document (clause ids, expressions, names within the file)."""
    errors = guard(file, lambda: _clauses(name, data))
    specific = _DOCUMENT_CHECKS.get(name)
    if specific:
        errors += guard(file, lambda: specific(data))
    return errors


def _clauses(name: str, data: Mapping[str, Any]) -> Problems:
    """Clause ids are dotted, unique, and (in the files of _DOCUMENT_CHECKS) start with the file name and have
    prose."""
    seen: dict[str, str] = {}
    for path, clause in iter_clauses(data):
        clause_id = clause["id"]
        if not isinstance(clause_id, str) or not CLAUSE_ID.match(clause_id):
            yield (
                f"{path}.id",
                f"clause id {clause_id!r} must be dotted lowercase words (e.g. {name}.topic.what)",
            )
            continue
        if name in _DOCUMENT_CHECKS and not clause_id.startswith(f"{name}."):
            yield f"{path}.id", f"clause id {clause_id!r} must start with the file name: {name!r}."
        if clause_id in seen:
            yield f"{path}.id", f"duplicate clause id {clause_id!r} (first at {seen[clause_id]})"
        seen.setdefault(clause_id, path)
        prose = clause.get("text", clause.get("reason"))
        # Other files (tokenizer, benchmarks) may use `text` as data; their schemas require their own prose.
        if name in _DOCUMENT_CHECKS and (not isinstance(prose, str) or not prose.strip()):
            yield path, f"clause {clause_id!r} needs a non-empty 'text' (or 'reason')"


def _duplicates(items: Iterable[tuple[str, Any]], what: str) -> Problems:
    seen: dict[Any, str] = {}
    for path, value in items:
        if value in seen:
            yield path, f"duplicate {what} {value!r} (first at {seen[value]})"
        seen.setdefault(value, path)


Evaluator = Callable[[Any, Mapping[str, Any]], Any]


def check_expr(
    path: str,
    text: Any,
    known: set[str] | None,
    env: Mapping[str, Any] | None = None,
    value: Evaluator = evaluate_expr,
) -> Problems:
    """The expression parses, uses only ``known`` names and (given ``env``) evaluates within the bounds."""
    try:
        used = symbols(parse_expr(text))
    except ShapeError as exc:
        yield path, f"bad expression: {exc}"
        return
    if known is not None and used - known:
        yield path, f"unknown symbol(s) {sorted(used - known)} in {text!r}"
    elif env is not None:
        yield from _evaluates(path, text, env, value)


def check_shape(
    path: str, shape: Any, known: set[str] | None, env: Mapping[str, Any] | None = None
) -> Problems:
    """The shape parses, uses only ``known`` names and (given ``env``) every dimension is within the bounds."""
    try:
        used = frozenset().union(*(symbols(d) for d in parse_shape(shape)))
    except ShapeError as exc:
        yield path, f"bad shape expression: {exc}"
        return
    if known is not None and used - known:
        yield path, f"unknown symbol(s) {sorted(used - known)} in shape {list(shape)}"
    elif env is not None:
        yield from _evaluates(path, shape, env, evaluate)


def _evaluates(path: str, item: Any, env: Mapping[str, Any], value: Evaluator) -> Problems:
    try:
        value(item, env)
    except ShapeError as exc:
        yield path, f"cannot evaluate on the defaults: {exc}"


_TYPE_CHECKS: Mapping[str, Callable[[Any], bool]] = {
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, float),
    "str": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "list[int]": lambda v: isinstance(v, list) and all(_TYPE_CHECKS["int"](x) for x in v),
    "dict": lambda v: isinstance(v, Mapping),
}


def _config(data: Mapping[str, Any]) -> Problems:
    all_fields = [("fields", f) for f in data["fields"]] + [
        ("inherited_fields", f) for f in data["inherited_fields"]
    ]
    indexed = [
        (f"{section}[{i}]", f)
        for section in ("fields", "inherited_fields")
        for i, f in enumerate(data[section])
    ]
    yield from _duplicates(((f"{p}.name", f["name"]) for p, f in indexed), "field name")
    typed = True
    for path, f in indexed:
        if not any(_TYPE_CHECKS[t](f["default"]) for t in f["type"]):
            typed = False
            yield f"{path}.default", f"default {f['default']!r} does not match the declared type {f['type']}"
        allowed = f.get("allowed_values")
        if allowed is not None and f["default"] not in allowed:
            yield f"{path}.default", f"default {f['default']!r} is not among allowed_values"
        if "allowed_values_from" in f:
            source = f["allowed_values_from"]
            names = (
                [a.get("name") for a in data.get(source, [])] if isinstance(data.get(source), list) else None
            )
            if names is None:
                yield f"{path}.allowed_values_from", f"no list {source!r} in this file"
            elif f["default"] not in names:
                yield f"{path}.default", f"default {f['default']!r} is not a name in {source}"
    activations = [(f"activations[{i}]", a) for i, a in enumerate(data["activations"])]
    yield from _duplicates(((f"{p}.name", a["name"]) for p, a in activations), "activation")
    names = {a["name"] for _, a in activations}
    for path, a in activations:
        if a.get("approximates") and a["approximates"] not in names:
            yield f"{path}.approximates", f"unknown activation {a['approximates']!r}"
    yield from _config_expressions(data, all_fields, evaluate_defaults=typed)


def _config_expressions(data: Mapping[str, Any], all_fields: list, evaluate_defaults: bool) -> Problems:
    """Derived names and constraints parse, use known names, and (if the defaults are well typed) hold."""
    field_names = {f["name"] for _, f in all_fields}
    integer_names = {f["name"] for _, f in all_fields if "int" in f["type"]}
    env = {f["name"]: f["default"] for _, f in all_fields}
    for i, d in enumerate(data["derived"]):
        problems = list(check_expr(f"derived[{i}].expr", d["expr"], integer_names))
        yield from problems
        if not problems and evaluate_defaults:
            try:
                env[d["name"]] = evaluate_expr(d["expr"], env)
            except ShapeError as exc:
                yield f"derived[{i}].expr", f"cannot evaluate on the defaults: {exc}"
        integer_names.add(d["name"])
        field_names.add(d["name"])
    for i, c in enumerate(data["constraints"]):
        path = f"constraints[{i}]"
        problems = list(check_expr(f"{path}.expr", c["expr"], field_names))
        if "applies_when" in c:
            problems += list(check_expr(f"{path}.applies_when", c["applies_when"], field_names))
        yield from problems
        if problems or not evaluate_defaults:
            continue
        try:
            if c.get("applies_when") is None or evaluate_expr(c["applies_when"], env):
                if not evaluate_expr(c["expr"], env):
                    yield f"{path}.expr", f"the defaults violate this constraint: {c['expr']}"
        except ShapeError as exc:
            yield f"{path}.expr", f"cannot evaluate on the defaults: {exc}"
    for i, b in enumerate(data["behaviour"]):
        for j, name in enumerate(b["fields"]):
            if name not in field_names:
                yield f"behaviour[{i}].fields[{j}]", f"unknown config field {name!r}"


def _heads(data: Mapping[str, Any]) -> Problems:
    yield from _duplicates(
        ((f"dimensions[{i}].name", d["name"]) for i, d in enumerate(data["dimensions"])), "dimension"
    )
    rules = [(f"omission_rules[{i}].rule", r["rule"]) for i, r in enumerate(data["omission_rules"])]
    yield from _duplicates(rules, "omission rule")
    rule_names = {r for _, r in rules}
    kwargs = {k["name"] for k in data["infrastructure_kwargs"]}
    all_outputs: set[str] = set()
    for head, spec in data["heads"].items():
        base = f"heads.{head}"
        args = [a["name"] for a in spec["arguments"]]
        outputs = [o["name"] for o in spec["outputs"]]
        all_outputs |= set(outputs)
        yield from _duplicates(
            ((f"{base}.arguments[{i}].name", n) for i, n in enumerate(args)), "argument name"
        )
        yield from _duplicates(
            ((f"{base}.outputs[{i}].name", n) for i, n in enumerate(outputs)), "output name"
        )
        for i, a in enumerate(spec["arguments"]):
            if a["omitted"] not in rule_names:
                yield f"{base}.arguments[{i}].omitted", f"unknown omission rule {a['omitted']!r}"
            if a["shape"] is not None:
                yield from check_shape(f"{base}.arguments[{i}].shape", a["shape"], None)
        for i, o in enumerate(spec["outputs"]):
            path = f"{base}.outputs[{i}]"
            if o["id"] != f"heads.{head}.outputs.{o['name']}":
                yield (
                    f"{path}.id",
                    f"output clause id must be 'heads.{head}.outputs.{o['name']}', got {o['id']!r}",
                )
            yield from check_shape(f"{path}.shape", o["shape"], None)
            if "length" in o:
                yield from check_expr(f"{path}.length", o["length"], None)
            present = o["present"]
            if (present["when"] == "args_given") != ("args" in present):
                yield f"{path}.present", "'args' is required with when: args_given and only then"
            for j, arg in enumerate(present.get("args", [])):
                if arg not in args:
                    yield f"{path}.present.args[{j}]", f"{head} has no argument {arg!r}"
        for i, c in enumerate(spec["clauses"]):
            if not c["id"].startswith(f"heads.{head}."):
                yield f"{base}.clauses[{i}].id", f"clause id must start with 'heads.{head}.'"
        for i, example in enumerate(spec["tuple_examples"]):
            path = f"{base}.tuple_examples[{i}]"
            for j, arg in enumerate(example["args_given"]):
                if arg not in args:
                    yield f"{path}.args_given[{j}]", f"{head} has no argument {arg!r}"
            for key in example["kwargs"]:
                if key not in kwargs and key not in args:
                    yield (
                        f"{path}.kwargs.{key}",
                        f"{key!r} is neither an argument nor an infrastructure kwarg",
                    )
            order = [n for n in example["tuple"] if n in outputs]
            for j, n in enumerate(example["tuple"]):
                if n not in outputs:
                    yield f"{path}.tuple[{j}]", f"{head} has no output {n!r}"
            if order != sorted(order, key=outputs.index):
                yield f"{path}.tuple", "entries are not in the order of the outputs list"
    for i, u in enumerate(data["unspecified"]):
        for j, n in enumerate(u["outputs"]):
            if n != "all" and n not in all_outputs:
                yield f"unspecified[{i}].outputs[{j}]", f"no head has an output {n!r}"


def _labels(data: Mapping[str, Any]) -> Problems:
    clauses = {c["id"] for section in ("conventions", "losses", "data") for c in data[section]}
    for section in ("conventions", "losses", "data"):
        for i, c in enumerate(data[section]):
            path = f"{section}[{i}]"
            for j, term in enumerate(c.get("terms", [])):
                if term not in clauses:
                    yield f"{path}.terms[{j}]", f"no clause {term!r} in labels.yaml"
            if "replace" in c and abs(sum(c["replace"].values()) - 1.0) > 1e-12:
                yield f"{path}.replace", f"probabilities sum to {sum(c['replace'].values())}, not 1"
            if "shape" in c:
                yield from check_shape(f"{path}.shape", c["shape"], None)


def _parameters(data: Mapping[str, Any]) -> Problems:
    groups = {g["name"]: (f"groups[{i}]", g) for i, g in enumerate(data["groups"])}
    yield from _duplicates(
        ((f"groups[{i}].name", g["name"]) for i, g in enumerate(data["groups"])), "group name"
    )
    for path, g in groups.values():
        var = g.get("repeat", {}).get("var")
        if "repeat" in g:
            yield from check_expr(f"{path}.repeat.count", g["repeat"]["count"], None)
        if "when_config" in g:
            yield from check_expr(f"{path}.when_config", g["when_config"], None)
        for template, shape in g["keys"].items():
            placeholders = set(re.findall(r"\{([^{}]*)\}", template))
            if placeholders != ({var} if var else set()):
                expected = f"{{{var}}}" if var else "no placeholder"
                yield (
                    f"{path}.keys.{template}",
                    f"key template must use {expected}, found {sorted(placeholders)}",
                )
            yield from check_shape(f"{path}.keys.{template}", shape, None)
    for head, spec in data["heads"].items():
        for j, name in enumerate(spec["groups"]):
            if name not in groups:
                yield f"heads.{head}.groups[{j}]", f"unknown group {name!r}"
        if spec["id"] != f"parameters.{head}.keys":
            yield f"heads.{head}.id", f"must be 'parameters.{head}.keys'"
    for i, tie in enumerate(data["tied"]):
        yield from check_expr(f"tied[{i}].when_config", tie["when_config"], None)
        for j, head in enumerate(tie["heads"]):
            if head not in data["heads"]:
                yield f"tied[{i}].heads[{j}]", f"unknown head {head!r}"
    for i, b in enumerate(data["buffers"]):
        yield from check_shape(f"buffers[{i}].shape", b["shape"], None)


def _tolerances(data: Mapping[str, Any]) -> Problems:
    kinds = [k["name"] for k in data["kinds"]]
    yield from _duplicates(((f"kinds[{i}].name", k) for i, k in enumerate(kinds)), "comparison kind")
    for dtype, entries in data["dtypes"].items():
        for kind in set(kinds) - set(entries):
            yield f"dtypes.{dtype}", f"missing comparison kind {kind!r}"
        for kind, entry in entries.items():
            path = f"dtypes.{dtype}.{kind}"
            if kind not in kinds:
                yield path, f"unknown comparison kind {kind!r} (kinds: {kinds})"
            if entry["id"] != f"tolerances.{dtype}.{kind}":
                yield f"{path}.id", f"must be 'tolerances.{dtype}.{kind}', got {entry['id']!r}"
            for bound in ("atol", "rtol"):
                if entry[bound] < 0:
                    yield f"{path}.{bound}", f"{bound} must be >= 0, got {entry[bound]}"
            floor = UNIT_ROUNDOFF.get(dtype)
            if floor and 0 <= entry["rtol"] < floor:
                yield (
                    f"{path}.rtol",
                    f"rtol {entry['rtol']} is below the {dtype} unit roundoff {floor:.3g} (swapped?)",
                )
    present = [d for d in PRECISION_ORDER if d in data["dtypes"]]
    for finer, coarser in zip(present, present[1:]):
        for kind in kinds:
            a, b = data["dtypes"][finer].get(kind), data["dtypes"][coarser].get(kind)
            if a and b and (b["atol"] < a["atol"] or b["rtol"] < a["rtol"]):
                yield (
                    f"dtypes.{coarser}.{kind}",
                    f"tighter than dtypes.{finer}.{kind} although {coarser} is less "
                    f"precise (atol {b['atol']} vs {a['atol']}, rtol {b['rtol']} vs {a['rtol']}); swapped?",
                )


def _core(data: Mapping[str, Any]) -> Problems:
    """Nothing beyond the clause rules (ids start with ``core.``, every clause has a text)."""
    return iter(())


def _numerics(data: Mapping[str, Any]) -> Problems:
    """``numerics.<dtype>.<Head>``, or ``numerics.<dtype>.<outputs>`` for a clause comparing one output
    group."""
    for i, c in enumerate(data["clauses"]):
        want = f"numerics.{c['dtype']}.{c.get('outputs', c['head'])}"
        if c["id"] != want:
            yield f"clauses[{i}].id", f"clause id must be {want!r} (dtype, outputs or head), got {c['id']!r}"


def _golden(data: Mapping[str, Any]) -> Problems:
    """``golden.<case>``, ``golden.<case>.<outputs>`` or ``golden.<case>.gradients`` (those two need the
    first)."""
    bases = {c["case"] for c in data["clauses"] if "outputs" not in c and "gradients" not in c}
    for i, c in enumerate(data["clauses"]):
        if "outputs" in c and "gradients" in c:
            yield f"clauses[{i}]", "give at most one of outputs and gradients"
            continue
        suffix = f".{c['outputs']}" if "outputs" in c else ".gradients" if "gradients" in c else ""
        want = f"golden.{c['case']}{suffix}"
        if c["id"] != want:
            message = f"clause id must be {want!r} (golden.<case>[.<outputs>|.gradients]), got {c['id']!r}"
            yield f"clauses[{i}].id", message
        if suffix and c["case"] not in bases:
            yield f"clauses[{i}].case", f"no clause 'golden.{c['case']}' for the case itself in this file"


_DOCUMENT_CHECKS: Mapping[str, Callable[[Mapping[str, Any]], Problems]] = {
    "config": _config,
    "heads": _heads,
    "labels": _labels,
    "parameters": _parameters,
    "tolerances": _tolerances,
    "core": _core,
    "numerics": _numerics,
    "golden": _golden,
}
