"""Moved to ``bert_conformance.mutants.properties``, part of the one known-bad corpus (docs/mutants.md).

Kept so that tests/test_clauses_properties.py and ``--bert-impl bad_ports.properties:<Port>`` go on working; edit the
ports there, not here.
"""

from bert_conformance.mutants.properties import *  # noqa: F403
from bert_conformance.mutants.properties import MUTANTS, PORTS  # noqa: F401
