"""The ``ctranslate2-int8`` port: the ``ctranslate2`` port's Encoder with ``compute_type="int8"``.

Same conversion, same surface (``bert_conformance.adapters.ctranslate2``); CTranslate2 quantizes the weights to
int8 when loading the converted model and runs its int8 GEMMs (activations quantized per row at run time).
Declared tier: ``int8`` (spec/tiers.yaml). The CPU build here (ctranslate2 4.8.5, ``get_supported_compute_types
("cpu")``) offers int8, int8_float32, int16 and float32, not float16 or bfloat16, so there is no CTranslate2
float16 port to measure on this machine.
"""

from __future__ import annotations

from typing import Any

from bert_conformance.adapters.ctranslate2 import CTranslate2Implementation


class CTranslate2Int8Implementation(CTranslate2Implementation):
    compute_type = "int8"

    def capabilities(self) -> dict[str, Any]:
        caps = super().capabilities()
        return {**caps, "name": "ctranslate2-int8", "tier": "int8"}


implementation = CTranslate2Int8Implementation()
