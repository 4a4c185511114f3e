"""The pytest plugin (entry point ``pytest11: bert_conformance``): options, clause markers, report.

It is loaded in every pytest run where the package is installed, so it stays inert unless conformance
clauses are collected: options are read at configure time, but the implementation is imported and the
hypothesis profile loaded only when a collected test is a clause (it uses the ``bert_impl`` fixture or a
``bert_clause``/``bert_requires`` marker). Clause tests are parametrized with :func:`clause_params`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import pytest

from bert_conformance.adapter import DEVICES
from bert_conformance.expectations import ExpectationsError
from bert_conformance.session import DEFAULT_TIMEOUT, STATE, ConformanceSession


def clause_params(
    clauses: Iterable[Any],
    *,
    requires: Mapping[str, Any] | Callable[[Any], Mapping[str, Any] | None] | None = None,
) -> list[Any]:
    """``pytest.param`` per spec clause, with ``id=<clause id>`` and the capabilities it needs.

    ``clauses`` are spec clause objects or dicts with an ``id`` (or plain id strings). ``requires`` is a dict
    (``head=``, ``dtype=``, ``device=``, ``attention=``, ``feature=``; a value may be a list) or a function
    of the clause returning one. A clause whose requirement the port does not claim is reported as
    *not claimed*.
    """
    params = []
    for clause in clauses:
        cid = clause if isinstance(clause, str) else _get(clause, "id")
        if not isinstance(cid, str) or not cid:
            raise ValueError(f"clause_params: {clause!r} has no clause id")
        needs = requires(clause) if callable(requires) else requires
        marks = [pytest.mark.bert_clause(cid)]
        if needs:
            marks.append(pytest.mark.bert_requires(**needs))
        params.append(pytest.param(clause, id=cid, marks=marks))
    return params


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("bert-conformance", "BERT conformance suite")
    group.addoption(
        "--bert-impl",
        default=None,
        help="implementation: name, entry point or module:attr (default: $BERT_IMPL, else 'reference')",
    )
    group.addoption(
        "--bert-report",
        default=None,
        metavar="PATH",
        help="write the JSON conformance report to PATH and a Markdown matrix next to it (.md)",
    )
    group.addoption(
        "--bert-expectations",
        default=None,
        metavar="FILE",
        help="the port's expected failures: '<clause id>  # reason' per line",
    )
    group.addoption(
        "--bert-strict",
        action="store_true",
        default=False,
        help="fail the run when an expectations entry matches no collected clause",
    )
    group.addoption(
        "--bert-profile",
        default=None,
        choices=("ci", "dev", "thorough"),
        help="hypothesis profile for the clauses (default: $HYPOTHESIS_PROFILE if ours, else ci)",
    )
    group.addoption(
        "--bert-timeout",
        default=None,
        type=float,
        metavar="SECONDS",
        help=f"per-clause timeout, via pytest-timeout (default {DEFAULT_TIMEOUT:g}; 0: none)",
    )
    group.addoption(
        "--bert-device",
        default=None,
        choices=DEVICES,
        help="device the port's models are loaded on (default: $BERT_DEVICE, else cpu); the core.* clauses "
        "always check the minimal core on cpu",
    )
    group.addoption(
        "--bert-oracle",
        default="reference",
        choices=("reference", "golden"),
        help="where expected values come from (default: the reference, computed in float64)",
    )


@pytest.hookimpl(tryfirst=True)  # before conftests' pytest_configure (the clause conftest uses the session)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "bert_clause(id): the spec clause id a conformance test checks (set by clause_params)"
    )
    config.addinivalue_line(
        "markers",
        "bert_requires(head=, dtype=, device=, attention=, feature=): capabilities a clause needs; "
        "unclaimed -> status 'not claimed'",
    )
    try:
        session = ConformanceSession(config)
    except ExpectationsError as error:
        raise pytest.UsageError(str(error)) from None
    config.stash[STATE] = session
    config.pluginmanager.register(session, "bert-conformance-session")
