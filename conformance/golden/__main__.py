"""``python -m bert_conformance.golden regenerate|verify``."""

import sys

from .commands import golden_main

sys.exit(golden_main())
