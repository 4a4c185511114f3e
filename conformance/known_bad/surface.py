"""Surface bugs: ports that declare a narrow surface (spec/surface.yaml) and still deviate, or that declare a
surface they then fail to serve.

A declaration narrows what the suite asks, never what it checks: a core-only port's core numbers are still
compared by the golden, numerics and property clauses (which ask for nothing optional), and a declared value
that raises is a failure, not "unsupported".
"""

from __future__ import annotations

from typing import Any

from bert_conformance.known_bad._base import KnownBadPort, register, resolver
from bert_conformance.known_bad.layer import GeluTanh, LayerNormEpsIgnored
from bert_conformance.known_bad.probe import Probe

# What an inference runtime typically serves: the non-declarable core only.
CORE_SURFACE = {"inputs": [], "outputs": [], "activations": [], "padding": [], "attention_masks": [],
                "checkpoints": [], "embeddings": []}


class CoreOnly:
    """Mixin: the port declares the core surface only (BertModel, float64/float32, cpu, eager)."""

    def capabilities(self) -> dict[str, Any]:
        caps = super().capabilities()  # type: ignore[misc]
        return {**caps, "heads": ["BertModel"], "dtypes": ["float64", "float32"], "devices": ["cpu"],
                "attention": ["eager"], "features": [], **CORE_SURFACE}


class CoreOnlyEpsIgnored(CoreOnly, LayerNormEpsIgnored):
    description = "declares only the core surface (no hidden states) and ignores config.layer_norm_eps"
    kills = ("numerics.float64.BertModel", "golden.model.layer_norm_eps-float64")


class CoreOnlyGeluTanh(CoreOnly, GeluTanh):
    description = "declares only the core surface and activations [gelu], and computes gelu with tanh"
    kills = ("numerics.float64.BertModel", "config.hidden_act.gelu", "golden.model.tiny-float64")


class DeclaredPositionIdsRaise(KnownBadPort):
    description = "declares the position_ids input, then raises NotImplementedError when given it"
    kills = ("golden.model.position_ids-float64", "properties.position_ids.omitted-BertModel")
    probe = Probe(positions="packed")  # position_ids with a mask: they only select embeddings
    probe_raises = True

    def forward(self, model: Any, inputs: dict, options: dict) -> dict[str, Any]:
        if "position_ids" in inputs:
            raise NotImplementedError("position_ids")
        return super().forward(model, inputs, options)


class DeclaredHiddenStatesMissing(KnownBadPort):
    description = "declares the hidden_states output, then returns none when asked for it"
    kills = ("numerics.float64.hidden_states", "golden.model.small.hidden_states-float64",
             "heads.common.hidden_states")
    probe = Probe(options={"output_hidden_states": True})

    def forward(self, model: Any, inputs: dict, options: dict) -> dict[str, Any]:
        outputs = super().forward(model, inputs, options)
        return {k: v for k, v in outputs.items() if k != "hidden_states"}


MUTANTS = register("surface", CoreOnlyEpsIgnored, CoreOnlyGeluTanh, DeclaredPositionIdsRaise,
                   DeclaredHiddenStatesMissing)
__getattr__ = resolver(MUTANTS)
