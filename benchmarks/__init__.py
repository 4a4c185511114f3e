"""Benchmarks of BERT ports: the HF doc's eager-vs-sdpa tables re-measured, reference vs transformers.

Not installed with the package; run from the repository root::

    python -m benchmarks run --device cpu      # what `tox -e bench` runs
    python -m benchmarks report benchmarks/results/cpu-<date>.json

See docs/benchmarks.md. The data (seed tables, suites, thresholds) is spec/benchmarks.yaml.
"""
