"""Contract bugs: a port that describes itself wrongly or implements an older ``load_model``."""

from __future__ import annotations

from typing import Any

from bert_conformance.known_bad._base import KnownBadPort, register, resolver


class CapabilitiesHeadTypo(KnownBadPort):
    description = 'capabilities() spells a head "BertForMaskedLm": the claim is invalid, only the core is assumed'
    kills = ("core.capabilities",)

    def capabilities(self) -> dict[str, Any]:
        caps = super().capabilities()
        return {**caps, "heads": [h.replace("MaskedLM", "MaskedLm") for h in caps["heads"]]}


class LoadModelWithoutAttention(KnownBadPort):
    description = "load_model() written against a contract without the attention= keyword (TypeError on load)"
    kills = ("core.load_model", "core.forward.last_hidden_state", "core.forward.pooler_output")

    def load_model(self, head: str, config: dict, state_dict: dict, *, dtype: str, device: str = "cpu") -> Any:
        return super().load_model(head, config, state_dict, dtype=dtype, device=device)


MUTANTS = register("core", CapabilitiesHeadTypo, LoadModelWithoutAttention)
__getattr__ = resolver(MUTANTS)
