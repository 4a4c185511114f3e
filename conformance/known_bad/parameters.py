"""Known-bad ports for conformance/clauses/test_parameters.py: the reference with ONE realistic loading bug each."""

from __future__ import annotations

from typing import Any

import numpy as np

import bert_reference
from bert_conformance.known_bad._base import KnownBadPort, Model, entries, positions_from, register, resolver

TIES = {"cls.predictions.decoder.weight": "bert.embeddings.word_embeddings.weight",
        "cls.predictions.decoder.bias": "cls.predictions.bias"}  # target -> source (parameters.yaml tied)


def _expected(head: str, config: dict) -> dict[str, Any]:
    """The reference model's own state dict for this config (names and shapes)."""
    return bert_reference.HEAD_CLASSES[head](bert_reference.BertConfig.from_dict(dict(config))).hf_state_dict()


class LenientLoad(KnownBadPort):
    description = "load_state_dict(strict=False): missing keys keep their fresh init and unexpected keys are dropped"
    kills = ("parameters.BertModel.keys", "parameters.BertForMaskedLM.keys", "parameters.group.pooler",
             "parameters.group.embeddings")

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        expected = _expected(head, config)
        kept = {k: v for k, v in state_dict.items() if k in expected}
        present = set(kept)
        for name, tensor in expected.items():
            partner = TIES.get(name) or next((t for t, s in TIES.items() if s == name), None)
            if name not in present and partner not in present:
                kept[name] = tensor.detach().numpy()
        return super().load(head, config, kept, **kwargs)


class HeadKeysUnderPrefix(KnownBadPort):
    description = 'every key is read with the "bert." prefix stripped, so cls.* under bert.cls.* is accepted'
    kills = ("parameters.prefix",)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        heads = ("bert.cls.", "bert.classifier.", "bert.qa_outputs.")
        state_dict = {(k.removeprefix("bert.") if k.startswith(heads) else k): v for k, v in state_dict.items()}
        return super().load(head, config, state_dict, **kwargs)


class ShapesTruncated(KnownBadPort):
    description = "a weight larger than the parameter is sliced to fit instead of rejected"
    kills = ("parameters.group.embeddings", "parameters.group.encoder_layer", "parameters.group.mlm_head")

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        expected = _expected(head, config)
        fitted = {}
        for name, value in state_dict.items():
            shape = tuple(expected[name].shape) if name in expected else None
            fits = shape and len(shape) == np.ndim(value) and all(a >= b for a, b in zip(np.shape(value), shape))
            fitted[name] = np.asarray(value)[tuple(slice(0, n) for n in shape)] if fits else value
        return super().load(head, config, fitted, **kwargs)


class NeedsTiedTargets(KnownBadPort):
    description = "the decoder weight must be in the state dict: a saved file (tied targets absent) does not load"
    kills = ("parameters.saved.tied_targets_absent",)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        if "cls.predictions.bias" in state_dict and "cls.predictions.decoder.weight" not in state_dict:
            raise ValueError("missing key cls.predictions.decoder.weight")
        return super().load(head, config, state_dict, **kwargs)


class UntiedFallsBackToTied(KnownBadPort):
    description = "with tie_word_embeddings false a missing decoder weight or bias is copied from its tie source"
    kills = ("parameters.saved.untied_all_present",)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        if config.get("tie_word_embeddings") is False:
            state_dict = dict(state_dict)
            for target, source in TIES.items():
                if target not in state_dict and source in state_dict:
                    state_dict[target] = state_dict[source]
        return super().load(head, config, state_dict, **kwargs)


class TieSourceRequired(KnownBadPort):
    description = "a tied pair must come under its source name: a file holding only the target name fails"
    kills = ("parameters.saved.tied_load_symmetric",)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        for target, source in TIES.items():
            if target in state_dict and source not in state_dict:
                raise ValueError(f"missing key {source}")
        return super().load(head, config, state_dict, **kwargs)


class NoLegacyNames(KnownBadPort):
    description = "LayerNorm.gamma / LayerNorm.beta (original TensorFlow names) are not renamed on load"
    kills = ("parameters.legacy.layernorm_gamma_beta",)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        legacy = [k for k in state_dict if k.endswith(("LayerNorm.gamma", "LayerNorm.beta"))]
        if legacy:
            raise ValueError(f"unexpected keys {legacy[:2]}")
        return super().load(head, config, state_dict, **kwargs)


class BufferKeysRejected(KnownBadPort):
    description = "embeddings.position_ids / token_type_ids in an old checkpoint are unexpected-key errors"
    kills = ("parameters.legacy.buffers_in_checkpoint",)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        buffers = [k for k in state_dict if k.endswith(("embeddings.position_ids", "embeddings.token_type_ids"))]
        if buffers:
            raise ValueError(f"unexpected keys {buffers}")
        return super().load(head, config, state_dict, **kwargs)


class PositionsFromOne(KnownBadPort):
    description = "the default position_ids buffer is arange(1, max_position_embeddings + 1) (a padding offset)"
    kills = ("parameters.buffers.position_ids",)

    def forward(self, model: Model, inputs: dict, options: dict) -> dict[str, Any]:
        if "position_ids" not in inputs:
            limit = model.config["max_position_embeddings"]
            inputs["position_ids"] = np.minimum(positions_from(1, inputs, options), limit - 1)
        return model.inner.forward(inputs, **options)


class StripsPrefixOnlyForHeads(KnownBadPort):
    description = 'a BertModel does not strip "bert." from a head checkpoint\'s keys'
    kills = ("parameters.legacy.prefix",)

    def load(self, head: str, config: dict, state_dict: dict, **kwargs: Any) -> Any:
        if head == "BertModel" and any(k.startswith("bert.") for k in state_dict):
            raise ValueError("unexpected keys with prefix 'bert.'")
        return super().load(head, config, state_dict, **kwargs)


MUTANTS = register(
    "parameters", LenientLoad, HeadKeysUnderPrefix, ShapesTruncated, NeedsTiedTargets, UntiedFallsBackToTied,
    TieSourceRequired, NoLegacyNames, BufferKeysRejected, PositionsFromOne, StripsPrefixOnlyForHeads,
)
PORTS = entries("parameters", *MUTANTS)
__getattr__ = resolver(MUTANTS)
