"""The BERT spec as package data (YAML + JSON Schema). Loaded by bert_conformance.spec."""
