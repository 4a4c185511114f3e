"""Moved to ``bert_conformance.mutants.heads``, part of the one known-bad corpus (docs/mutants.md).

Kept so that tests/test_clauses_heads.py and ``--bert-impl bad_ports.heads:<Port>`` go on working; edit the
ports there, not here.
"""

from bert_conformance.mutants.heads import *  # noqa: F403
from bert_conformance.mutants.heads import MUTANTS, PORTS  # noqa: F401
