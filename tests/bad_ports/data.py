"""Moved to ``bert_conformance.mutants.data``, part of the one known-bad corpus (docs/mutants.md).

Kept so that tests/test_clauses_data.py and ``--bert-impl bad_ports.data:<Port>`` go on working; edit the
ports there, not here.
"""

from bert_conformance.mutants.data import *  # noqa: F403
from bert_conformance.mutants.data import MUTANTS, PORTS  # noqa: F401
