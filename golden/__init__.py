"""Golden fixtures as package data. Read by bert_conformance.golden."""
