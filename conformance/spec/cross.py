"""Checks across spec documents: unique clause ids, one spec_version, known symbols and head names,
pooler agreement between heads.yaml and parameters.yaml, ties that point at real keys."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

from bert_conformance.errors import SpecError
from bert_conformance.spec.checks import Problems, check_expr, check_shape, guard, iter_clauses
from bert_conformance.spec.shapes import ShapeError, evaluate_count, evaluate_expr

# Runtime dimensions (batch, seq, ...) take this value when shapes are evaluated on the defaults: BERT's
# max_position_embeddings, as large as a real call's; a shape past the size bound there is absurd.
PROBE_DIM = 512

# --- across documents --------------------------------------------------------------------------------------

Documents = Mapping[str, tuple[Any, Mapping[str, Any]]]  # name -> (path, data)


def check_cross(documents: Documents, absent: Collection[str] = ()) -> list[SpecError]:
    """Checks that need several documents: unique clause ids, symbols, head names, pooler agreement, links.

    ``absent``: names of spec files that exist but are not among ``documents`` (a folder holding only some
    files, or files with errors): a link to a clause of theirs cannot be checked, so it is not reported.
    """
    errors: list[SpecError] = _links(documents, set(absent))
    seen: dict[str, str] = {}
    versions: dict[str, str] = {}
    for name, (path, data) in documents.items():
        versions[name] = data.get("spec_version")
        for yaml_path, clause in iter_clauses(data):
            clause_id = clause.get("id")
            if isinstance(clause_id, str) and clause_id in seen and seen[clause_id] != str(path):
                errors.append(
                    SpecError(
                        str(path), f"{yaml_path}.id", f"clause id {clause_id!r} also in {seen[clause_id]}"
                    )
                )
            elif isinstance(clause_id, str):
                seen.setdefault(clause_id, str(path))
    if len(set(versions.values())) > 1:
        # The version most files agree on (config's on a tie) is right; the others are reported.
        counts = Counter(versions.values())
        reference = max(counts, key=lambda v: (counts[v], v == versions.get("config")))
        for name, version in versions.items():
            if version != reference:
                message = f"{version!r} differs from the other files ({reference!r})"
                errors.append(SpecError(str(documents[name][0]), "spec_version", message))
    if "config" not in documents:
        return errors
    for name, check in _CROSS_CHECKS.items():
        if name in documents:
            path = str(documents[name][0])
            errors += guard(path, lambda check=check, name=name: check(documents, documents[name][1]))
    return errors


def _links(documents: Documents, absent: set[str]) -> list[SpecError]:
    """``refines: [T]`` (backward: this clause makes T checkable) and ``checked_by: [C]`` (forward, on T)
    agree: every clause that refines T is in T's checked_by, every entry of a checked_by refines it, both ends
    exist."""
    clauses: dict[str, tuple[str, str, Mapping[str, Any]]] = {}  # id -> (file, yaml path, clause)
    for _, (path, data) in documents.items():
        for yaml_path, clause in iter_clauses(data):
            if isinstance(clause.get("id"), str):
                clauses.setdefault(clause["id"], (str(path), yaml_path, clause))

    def listed(clause: Mapping[str, Any], key: str) -> list[str]:
        value = clause.get(key)
        return [v for v in value if isinstance(v, str)] if isinstance(value, (list, tuple)) else []

    def missing(file: str, where: str, target: str) -> list[SpecError]:
        if target.split(".")[0] in absent:
            return []  # its file is not loaded here: nothing to check against
        return [SpecError(file, where, f"no clause {target!r} in the spec")]

    errors: list[SpecError] = []
    for clause_id, (file, where, clause) in clauses.items():
        for j, target in enumerate(listed(clause, "refines")):
            if target not in clauses:
                errors += missing(file, f"{where}.refines[{j}]", target)
            elif clause_id not in listed(clauses[target][2], "checked_by"):
                target_file, target_where, _ = clauses[target]
                message = (f"{target!r} is refined by {clause_id!r} ({Path(file).name}) but its checked_by "
                           "does not name it: add it (the forward link of refines)")
                errors.append(SpecError(target_file, f"{target_where}.checked_by", message))
        for j, by in enumerate(listed(clause, "checked_by")):
            if by not in clauses:
                errors += missing(file, f"{where}.checked_by[{j}]", by)
            elif clause_id not in listed(clauses[by][2], "refines"):
                message = (f"{by!r} ({Path(clauses[by][0]).name}) does not refine {clause_id!r}: add "
                           f"{clause_id!r} to its refines, or remove it here")
                errors.append(SpecError(file, f"{where}.checked_by[{j}]", message))
    return errors


def _config_symbols(documents: Documents) -> tuple[set[str], dict[str, Any]]:
    config = documents["config"][1]
    fields = config["fields"] + config["inherited_fields"]
    known = {f["name"] for f in fields} | {d["name"] for d in config["derived"]}
    env = {f["name"]: f["default"] for f in fields}
    for d in config["derived"]:
        try:
            env[d["name"]] = evaluate_expr(d["expr"], env)
        except ShapeError:
            continue  # reported on config.yaml, whose errors keep it out of the cross checks
    return known, env


def _probe_env(documents: Documents) -> dict[str, Any]:
    """Config defaults, derived names, every runtime dimension at PROBE_DIM, cross-attention on."""
    _, env = _config_symbols(documents)
    dims = documents["heads"][1]["dimensions"] if "heads" in documents else []
    flags = {"add_cross_attention": True, "is_decoder": True, "tie_word_embeddings": True}
    return {**env, **{d["name"]: PROBE_DIM for d in dims}, **flags}


def _head_names(documents: Documents) -> set[str] | None:
    return set(documents["heads"][1]["heads"]) if "heads" in documents else None


def _cross_config(documents: Documents, data: Mapping[str, Any]) -> Problems:
    heads = _head_names(documents)
    for i, c in enumerate(data["constraints"]):
        for j, head in enumerate(c.get("applies_to", [])):
            if heads is not None and head not in heads:
                yield f"constraints[{i}].applies_to[{j}]", f"unknown head {head!r} (not in heads.yaml)"


def _cross_heads(documents: Documents, data: Mapping[str, Any]) -> Problems:
    config_names, _ = _config_symbols(documents)
    env = _probe_env(documents)
    dims = {d["name"] for d in data["dimensions"]}
    for i, d in enumerate(data["dimensions"]):
        if d["name"] in config_names:
            yield f"dimensions[{i}].name", f"{d['name']!r} is already a config name"
    known = config_names | dims
    for i, k in enumerate(data["infrastructure_kwargs"]):
        if k["default_from"] not in config_names:
            yield f"infrastructure_kwargs[{i}].default_from", f"unknown config field {k['default_from']!r}"
    sites = [("encoder_dropout_sites", data["encoder_dropout_sites"])]
    for head, spec in data["heads"].items():
        base = f"heads.{head}"
        sites.append((f"{base}.dropout_sites", spec["dropout_sites"]))
        for i, a in enumerate(spec["arguments"]):
            if a["shape"] is not None:
                yield from check_shape(f"{base}.arguments[{i}].shape", a["shape"], known, env)
        for i, o in enumerate(spec["outputs"]):
            yield from check_shape(f"{base}.outputs[{i}].shape", o["shape"], known, env)
            if "length" in o:
                yield from check_expr(f"{base}.outputs[{i}].length", o["length"], known, env)
        for i, example in enumerate(spec["tuple_examples"]):
            for key in example["config"]:
                if key not in config_names:
                    yield f"{base}.tuple_examples[{i}].config.{key}", f"unknown config field {key!r}"
    for path, entries in sites:
        for i, site in enumerate(entries):
            for key in ("probability", "fallback"):
                if key in site and site[key] not in config_names:
                    yield f"{path}[{i}].{key}", f"unknown config field {site[key]!r}"


def _cross_labels(documents: Documents, data: Mapping[str, Any]) -> Problems:
    heads = _head_names(documents)
    known = _config_symbols(documents)[0] | (
        {d["name"] for d in documents["heads"][1]["dimensions"]} if "heads" in documents else set()
    )
    env = _probe_env(documents)
    for section in ("conventions", "losses", "data"):
        for i, c in enumerate(data[section]):
            for j, head in enumerate(c.get("heads", [])):
                if heads is not None and head not in heads:
                    yield f"{section}[{i}].heads[{j}]", f"unknown head {head!r} (not in heads.yaml)"
            if "shape" in c and "heads" in documents:
                yield from check_shape(f"{section}[{i}].shape", c["shape"], known, env)


def _cross_parameters(documents: Documents, data: Mapping[str, Any]) -> Problems:
    known, env = _config_symbols(documents)
    probe = _probe_env(documents)
    for i, g in enumerate(data["groups"]):
        if "repeat" in g:
            count = g["repeat"]["count"]
            yield from check_expr(f"groups[{i}].repeat.count", count, known, probe, evaluate_count)
        if "when_config" in g:
            yield from check_expr(f"groups[{i}].when_config", g["when_config"], known, probe)
        for template, shape in g["keys"].items():
            yield from check_shape(f"groups[{i}].keys.{template}", shape, known, probe)
    for i, tie in enumerate(data["tied"]):
        yield from check_expr(f"tied[{i}].when_config", tie["when_config"], known, probe)
    for i, b in enumerate(data["buffers"]):
        yield from check_shape(f"buffers[{i}].shape", b["shape"], known, probe)
    if "heads" in documents:
        heads = documents["heads"][1]["heads"]
        for head in set(heads) - set(data["heads"]):
            yield "heads", f"head {head!r} of heads.yaml has no parameter template"
        for head, spec in data["heads"].items():
            if head not in heads:
                yield f"heads.{head}", f"unknown head {head!r} (not in heads.yaml)"
            elif heads[head]["pooler"] != ("pooler" in spec["groups"]):
                yield (
                    f"heads.{head}.groups",
                    f"pooler group {'missing' if heads[head]['pooler'] else 'present'} but "
                    f"heads.yaml says pooler: {str(heads[head]['pooler']).lower()}",
                )
    yield from _expansions(data, env)


def _expansions(data: Mapping[str, Any], env: dict[str, Any]) -> Problems:
    """Expand every head on the defaults (with cross-attention on): keys unique, ties point at real keys."""
    groups = {g["name"]: g for g in data["groups"]}
    env = {**env, "add_cross_attention": True, "is_decoder": True, "tie_word_embeddings": True}
    expanded: dict[str, set[str]] = {}
    for head, spec in data["heads"].items():
        keys: dict[str, str] = {}
        for name in spec["groups"]:
            group = groups.get(name)
            if group is None:
                continue
            try:
                count = evaluate_count(group["repeat"]["count"], env) if "repeat" in group else 1
            except ShapeError:
                continue  # reported at the group's repeat.count
            prefix = spec["prefix"] if group["scope"] == "base" else ""
            for index in range(min(count, 2)):
                for template in group["keys"]:
                    key = prefix + (
                        template.format(**{group["repeat"]["var"]: index}) if "repeat" in group else template
                    )
                    if key in keys:
                        yield (
                            f"heads.{head}.groups",
                            f"key {key!r} comes from both {keys[key]!r} and {name!r}",
                        )
                    keys[key] = name
        expanded[head] = set(keys)
    for i, tie in enumerate(data["tied"]):
        for head in tie["heads"]:
            for end in ("target", "source"):
                if head in expanded and tie[end] not in expanded[head]:
                    yield f"tied[{i}].{end}", f"{tie[end]!r} is not a key of {head}"


def _cross_surface(documents: Documents, data: Mapping[str, Any]) -> Problems:
    """Declarations resolve to names, their core is among them, keys do not shadow capabilities() keys."""
    from bert_conformance.surface import resolve_values

    raw = {name: doc for name, (_, doc) in documents.items()}
    if "heads" not in raw:
        return
    heads = _head_names(documents) or set()
    for j, head in enumerate(data["core"]["heads"]):
        if head not in heads:
            yield f"core.heads[{j}]", f"unknown head {head!r} (not in heads.yaml)"
    seen: set[str] = set()
    for i, declaration in enumerate(data["declarations"]):
        key = declaration["key"]
        if key in _CAPABILITY_KEYS or key in seen:
            yield f"declarations[{i}].key", f"{key!r} is already a capabilities() key"
        seen.add(key)
        if ("values" in declaration) == ("values_from" in declaration):
            yield f"declarations[{i}]", "give exactly one of values and values_from"
            continue
        values = resolve_values(declaration, raw)
        for j, value in enumerate(declaration["core"]):
            if value not in values:
                yield f"declarations[{i}].core[{j}]", f"{value!r} is not one of the values {list(values)}"


def _cross_numerics(documents: Documents, data: Mapping[str, Any]) -> Problems:
    """Heads of heads.yaml, dtypes of tolerances.yaml, and every (dtype, head) and each dtype's hidden_states
    listed: the suite runs numerics.<dtype>.<Head> for every pair, no more and no fewer."""
    heads = _head_names(documents)
    dtypes = list(documents["tolerances"][1]["dtypes"]) if "tolerances" in documents else None
    for i, c in enumerate(data["clauses"]):
        if heads is not None and c["head"] not in heads:
            yield f"clauses[{i}].head", f"unknown head {c['head']!r} (not in heads.yaml)"
        if dtypes is not None and c["dtype"] not in dtypes:
            yield f"clauses[{i}].dtype", f"unknown dtype {c['dtype']!r} (not in tolerances.yaml: {dtypes})"
    if heads is None or dtypes is None:
        return
    listed = {c["id"] for c in data["clauses"]}
    order = list(documents["heads"][1]["heads"])
    wanted = [f"numerics.{d}.{name}" for d in dtypes for name in [*order, "hidden_states"]]
    for clause_id in wanted:
        if clause_id not in listed:
            yield "clauses", f"no clause {clause_id!r}: one per (dtype, head) and hidden_states per dtype"


_CAPABILITY_KEYS = ("name", "version", "heads", "dtypes", "devices", "attention", "features")

_CROSS_CHECKS: Mapping[str, Callable[[Documents, Mapping[str, Any]], Problems]] = {
    "config": _cross_config,
    "heads": _cross_heads,
    "labels": _cross_labels,
    "parameters": _cross_parameters,
    "surface": _cross_surface,
    "numerics": _cross_numerics,
}
