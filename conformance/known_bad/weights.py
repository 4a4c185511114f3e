"""Weight loading and tying bugs: an untied masked-LM decoder, parameters skipped by a non-strict load.

(A decoder bias that is not tied to ``cls.predictions.bias`` is ``properties.decoder_bias_not_tied``.)
"""

from __future__ import annotations

import re
import warnings
from typing import Any

import torch

from bert_conformance.adapters._torch import TorchModel, torch_state_dict
from bert_conformance.known_bad._base import KnownBad, KnownBadPort, anchor, instances, register, resolver
from bert_conformance.known_bad.probe import Probe
from bert_reference import HEAD_CLASSES as REFERENCE_HEADS
from bert_reference import BertConfig
from bert_reference import heads as ref_heads

LAYER_NORM_PARAMETER = re.compile(r"LayerNorm\.(weight|bias|gamma|beta)$")


class DecoderWeightUntied(KnownBad):
    description = "the masked-LM decoder keeps its own freshly initialised weight instead of the word embeddings"
    kills = ("numerics.float64.BertForMaskedLM", "golden.masked_lm.labels-float64",
             "properties.weight_tying-BertForMaskedLM", "config.behaviour.tie_word_embeddings.decoder_bias",
             "parameters.saved.tied_load_symmetric")
    probe = Probe(head="BertForMaskedLM")

    def mutate(self, module: Any, config: dict) -> None:
        for head in instances(module, anchor(ref_heads, "BertLMPredictionHead")):
            decoder = anchor(head, "decoder")
            weight = anchor(decoder, "weight")
            generator = torch.Generator().manual_seed(0)
            fresh = torch.randn(weight.shape, generator=generator, dtype=torch.float64)
            fresh = fresh * config.get("initializer_range", 0.02)
            decoder.weight = torch.nn.Parameter(fresh.to(weight.dtype))  # a new tensor: the tie is broken


class LayerNormNamesNonStrict(KnownBadPort):
    description = "LayerNorm parameters named gamma/beta in the port, file loaded with strict=False: 1 and 0 stay"
    kills = ("core.forward.last_hidden_state", "numerics.float64.BertModel", "golden.model.tiny-float64",
             "parameters.legacy.layernorm_gamma_beta")
    probe = Probe()

    def load(self, head: str, config: dict, state_dict: dict, *, dtype: str, device: str = "cpu",
             attention: str = "sdpa") -> TorchModel:
        module = REFERENCE_HEADS[head](BertConfig.from_dict(config))
        anchor(module, "load_hf_state_dict", params=("strict",))
        matched = {name: value for name, value in state_dict.items() if not LAYER_NORM_PARAMETER.search(name)}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the skipped keys are reported as a warning nobody reads
            module.load_hf_state_dict(torch_state_dict(matched), strict=False)
        module.set_attn_implementation(attention)
        return TorchModel(module, dtype=dtype, device=device)


MUTANTS = register("weights", DecoderWeightUntied, LayerNormNamesNonStrict)
__getattr__ = resolver(MUTANTS)
