"""Moved to ``bert_conformance.mutants.gradients``, part of the one known-bad corpus (docs/mutants.md).

Kept so that tests/test_clauses_gradients.py and ``--bert-impl bad_ports.gradients:<Port>`` go on working; edit the
ports there, not here.
"""

from bert_conformance.mutants.gradients import *  # noqa: F403
from bert_conformance.mutants.gradients import MUTANTS, PORTS  # noqa: F401
