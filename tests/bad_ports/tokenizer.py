"""Moved to ``bert_conformance.mutants.tokenizer``, part of the one known-bad corpus (docs/mutants.md).

Kept so that tests/test_clauses_tokenizer.py and ``--bert-impl bad_ports.tokenizer:<Port>`` go on working; edit the
ports there, not here.
"""

from bert_conformance.mutants.tokenizer import *  # noqa: F403
from bert_conformance.mutants.tokenizer import MUTANTS, PORTS  # noqa: F401
