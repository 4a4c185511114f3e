"""bert-conformance: a spec-driven conformance suite for BERT ports."""

__version__ = "0.1.0"
