"""Known-bad quantizers: the correct int8 port (``reference-int8``, torch.ao dynamic int8) with ONE bug each.

Each declares tier int8 like the port it breaks, so its elementwise clauses are not claimed and only the tier
clauses (spec/tiers.yaml, ``tiers.int8.*``) can catch it: each must fail the named ones while
``reference-int8`` passes them all. No probe: a quantized port differs from the reference on any input, so
"differs from the reference" proves nothing here; the anchors still fail loudly if the reference changes.
"""

from __future__ import annotations

from typing import Any

import torch

from bert_conformance.adapters.reference_tiers import ReferenceInt8
from bert_conformance.known_bad._base import KnownBadPort, Model, anchor, register, resolver


class _Int8Port(KnownBadPort):
    """``reference-int8`` as a known-bad base: capabilities and loading of the correct int8 port."""

    def capabilities(self) -> dict[str, Any]:
        return {**ReferenceInt8().capabilities(), "name": f"bert_reference int8 ({self.id})"}

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        model = ReferenceInt8().load_model(head, config, state_dict, **kwargs)
        self.quantize(model.inner.module, config)
        return model

    def quantize(self, module: Any, config: dict) -> None:
        """The bug, as a change of the quantized torch module (none by default)."""


def _fake_quantize(x: torch.Tensor, scale: float, levels: int) -> torch.Tensor:
    """Symmetric per-tensor fake quantization: round(x / scale) clamped to +-levels, times scale."""
    return torch.clamp(torch.round(x / scale), -levels, levels) * scale


class DropsAttentionMask(_Int8Port):
    description = "an int8 export that drops the attention_mask input: padded rows attend to their padding"
    kills = ("tiers.int8.token_cosine_min", "tiers.int8.sentence_cosine_min")

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        inputs.pop("attention_mask", None)
        return model.inner.forward(inputs, **options)


class CoarseEmbeddingNorm(_Int8Port):
    description = "quantizes the embedding LayerNorm output to 4 bits (15 levels, per-tensor max scale)"
    kills = ("tiers.int8.token_cosine_mean", "tiers.int8.mlm_top5_overlap")

    def quantize(self, module: Any, config: dict) -> None:
        norm = anchor(anchor(module, "embeddings"), "LayerNorm")

        def hook(_module: Any, _inputs: Any, output: torch.Tensor) -> torch.Tensor:
            return _fake_quantize(output, float(output.abs().max()) / 7, 7)

        norm.register_forward_hook(hook)


class SaturatingScale(_Int8Port):
    description = "a static per-tensor int8 activation scale calibrated to +-2: every Linear input saturates there"
    kills = ("tiers.int8.token_cosine_mean", "tiers.int8.pair_spearman")

    def quantize(self, module: Any, config: dict) -> None:
        encoder = anchor(module, "encoder")
        for layer in anchor(encoder, "layer"):
            for linear in (layer.attention.self.query, layer.attention.self.key, layer.attention.self.value,
                           layer.attention.output.dense, layer.intermediate.dense, layer.output.dense):
                linear.register_forward_pre_hook(lambda _m, args: (_fake_quantize(args[0], 2 / 127, 127),))


class LosesTokenTypes(_Int8Port):
    description = "an int8 export whose graph lost token_type_ids: every segment is embedded as segment 0"
    kills = ("tiers.int8.token_cosine_min",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        inputs.pop("token_type_ids", None)
        return model.inner.forward(inputs, **options)


MUTANTS = register("tiers", DropsAttentionMask, CoarseEmbeddingNorm, SaturatingScale, LosesTokenTypes)
__getattr__ = resolver(MUTANTS)
