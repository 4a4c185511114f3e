"""Golden fixtures, like ONNX's backend test data: each case one self-describing safetensors file plus a manifest.

- :mod:`.files`: the case file format, sha256, atomic writes, the manifest
- :mod:`.cases`, :mod:`.cases_heads`, :mod:`.minilm`: the cases (one small function each), :mod:`.weights`
- :mod:`.generate` (with the transformers cross-check in :mod:`.hf`) and :mod:`.tokenizer`: generation
- :mod:`.load` and :mod:`.check`: loading, verification, the golden oracle (the entries compared:
  :mod:`bert_conformance.specified`)
- :mod:`.commands`: ``bert-conformance golden regenerate|verify``
"""

from .commands import add_golden_commands, golden_main, run_golden
from .files import GoldenError
from .load import (
           GoldenCase,
           GoldenOracle,
           GoldenStep,
           NoGoldenAnswer,
           default_dir,
           iter_cases,
           load_case,
           verify,
)

__all__ = ["GoldenCase", "GoldenError", "GoldenOracle", "GoldenStep", "NoGoldenAnswer", "add_golden_commands",
           "default_dir", "golden_main", "iter_cases", "load_case", "run_golden", "verify"]
