"""Where a test id lives: its spec clause id, its clause family and the clause module that runs it.

Test ids are report keys: ``<clause id>`` or ``<clause id>-<variant>`` (a head, a dtype, a case size); clause
ids never contain ``-``. Clause modules mirror spec files (``labels.data.*`` is in ``test_data``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

# Clause-id prefix -> clause module (the longest matching prefix wins).
CLAUSE_MODULES = {
    "core": "test_core",
    "config": "test_config",
    "heads": "test_heads",
    "parameters": "test_parameters",
    "numerics": "test_numerics",
    "golden": "test_golden",
    "labels": "test_labels",
    "labels.data": "test_data",
    "properties": "test_properties",
    "decoder": "test_decoder",
    "gradients": "test_gradients",
    "tokenizer": "test_tokenizer",
    "tiers": "test_tiers",
}


def clause_id(test_id: str) -> str:
    return test_id.split("-", 1)[0]


def family(test_id: str) -> str:
    """The clause family: the first component of the clause id (``labels``, ``numerics``, ``golden``...)."""
    return clause_id(test_id).split(".", 1)[0]


def clause_module(test_id: str) -> str:
    parts = clause_id(test_id).split(".")
    for n in range(len(parts), 0, -1):
        module = CLAUSE_MODULES.get(".".join(parts[:n]))
        if module:
            return module
    raise ValueError(f"{test_id!r}: no clause module for its family; known: {', '.join(sorted(CLAUSE_MODULES))}")


def clause_paths(test_ids: Iterable[str]) -> list[Path]:
    """The clause module files that hold ``test_ids`` (an error naming a missing module)."""
    import bert_conformance.clauses

    folder = Path(bert_conformance.clauses.__file__).parent
    paths = sorted({folder / f"{clause_module(t)}.py" for t in test_ids})
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise ValueError(f"clause module(s) {missing} not found in {folder}")
    return paths


def all_clause_paths() -> list[Path]:
    import bert_conformance.clauses

    return sorted(Path(bert_conformance.clauses.__file__).parent.glob("test_*.py"))
