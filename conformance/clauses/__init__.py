"""Conformance clauses (pytest modules), generated from the spec."""
