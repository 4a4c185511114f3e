"""Moved to ``bert_conformance.mutants.config``, part of the one known-bad corpus (docs/mutants.md).

Kept so that tests/test_clauses_config.py and ``--bert-impl bad_ports.config:<Port>`` go on working; edit the
ports there, not here.
"""

from bert_conformance.mutants.config import *  # noqa: F403
from bert_conformance.mutants.config import MUTANTS, PORTS  # noqa: F401
