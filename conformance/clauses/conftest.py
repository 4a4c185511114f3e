"""The clause modules' fixtures and hypothesis profile: :mod:`bert_conformance.fixtures` (documented there)."""

from bert_conformance.fixtures import *  # noqa: F403 - the fixtures and the pytest_configure hook
