"""Fixtures for clause modules: the installed ones (``bert_conformance/clauses/test_*.py``) and a port's own.

The clauses' conftest re-exports this module. A port's own clause tests use it with
``pytest_plugins = ["bert_conformance.fixtures"]`` in their root ``conftest.py`` (not the clauses' conftest
itself: when the installed clause files run in the same session pytest imports that conftest under the same
module name, and registering one module twice is an error).

==================  =========  ==========================================================================
fixture             scope      what it gives
==================  =========  ==========================================================================
``bert_impl``       session    the selected port (:class:`bert_conformance.adapter.Port`)
``capabilities``    session    its validated :class:`~bert_conformance.adapter.Capabilities`
``oracle``          session    expected values (``--bert-oracle``; float64, cached per process)
``tiny_config``     function   a fresh copy of the tiny config dict (HF config.json keys)
``make_inputs``     function   ``make_inputs(config, *, batch=2, seq=7, seed=0, pad=True) -> inputs``
``load_case``       function   ``load_case(head="BertModel", config=None, *, dtype="float32",``
                               ``device=None, attention=None, seed=0) -> Case`` (port model + oracle;
                               device None: the run's ``--bert-device``)
==================  =========  ==========================================================================

Using ``bert_impl`` (directly or through ``load_case``) makes a test a conformance clause: the plugin then
resolves the port, applies ``bert_requires`` markers and records the result for the report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bert_conformance import case
from bert_conformance.adapter import Capabilities, Port
from bert_conformance.oracle import Oracle
from bert_conformance.session import STATE

__all__ = ["pytest_configure", "bert_impl", "capabilities", "oracle", "tiny_config", "make_inputs", "load_case"]


def pytest_configure(config: pytest.Config) -> None:
    """Runs when this conftest is loaded, before the clause modules are imported."""
    config.stash[STATE].use_profile()


@pytest.fixture(scope="session")
def bert_impl(pytestconfig: pytest.Config) -> Port:
    session = pytestconfig.stash[STATE]
    session.activate()
    assert session.port is not None
    return session.port


@pytest.fixture(scope="session")
def capabilities(bert_impl: Port) -> Capabilities:
    return bert_impl.capabilities


@pytest.fixture(scope="session")
def oracle(pytestconfig: pytest.Config) -> Oracle:
    session = pytestconfig.stash[STATE]
    session.activate()
    assert session.oracle is not None
    return session.oracle


@pytest.fixture
def tiny_config() -> dict[str, Any]:
    return case.tiny_config()


@pytest.fixture
def make_inputs() -> Callable[..., dict[str, Any]]:
    return case.make_inputs


@pytest.fixture
def load_case(bert_impl: Port, oracle: Oracle) -> Callable[..., case.Case]:
    """Load random weights (seeded) for ``head`` into the port; pair them with the oracle."""

    def load(
        head: str = "BertModel",
        config: dict[str, Any] | None = None,
        *,
        dtype: str = "float32",
        device: str | None = None,
        attention: str | None = None,
        seed: int = 0,
    ) -> case.Case:
        config = case.tiny_config() if config is None else dict(config)
        state_dict = oracle.random_state_dict(head, config, seed=seed)
        model = bert_impl.load_model(
            head, config, state_dict, dtype=dtype, device=device, attention=attention
        )
        return case.Case(head, config, state_dict, dtype, model, oracle)

    return load
