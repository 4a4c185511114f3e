"""Moved to ``bert_conformance.mutants.decoder``, part of the one known-bad corpus (docs/mutants.md).

Kept so that tests/test_clauses_decoder.py and ``--bert-impl bad_ports.decoder:<Port>`` go on working; edit the
ports there, not here.
"""

from bert_conformance.mutants.decoder import *  # noqa: F403
from bert_conformance.mutants.decoder import MUTANTS, PORTS  # noqa: F401
