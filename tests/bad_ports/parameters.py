"""Moved to ``bert_conformance.mutants.parameters``, part of the one known-bad corpus (docs/mutants.md).

Kept so that tests/test_clauses_parameters.py and ``--bert-impl bad_ports.parameters:<Port>`` go on working; edit the
ports there, not here.
"""

from bert_conformance.mutants.parameters import *  # noqa: F403
from bert_conformance.mutants.parameters import MUTANTS, PORTS  # noqa: F401
