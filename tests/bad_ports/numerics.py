"""Moved to ``bert_conformance.mutants.numerics``, part of the one known-bad corpus (docs/mutants.md).

Kept so that tests/test_clauses_numerics.py and ``--bert-impl bad_ports.numerics:<Port>`` go on working; edit the
ports there, not here.
"""

from bert_conformance.mutants.numerics import *  # noqa: F403
from bert_conformance.mutants.numerics import MUTANTS, PORTS  # noqa: F401
