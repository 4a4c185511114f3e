"""Moved to ``bert_conformance.mutants.labels``, part of the one known-bad corpus (docs/mutants.md).

Kept so that tests/test_clauses_labels.py and ``--bert-impl bad_ports.labels:<Port>`` go on working; edit the
ports there, not here.
"""

from bert_conformance.mutants.labels import *  # noqa: F403
from bert_conformance.mutants.labels import MUTANTS, PORTS  # noqa: F401
