"""Transformer-layer bugs: LayerNorm epsilon and variance, the activation, the feed-forward residual.

Several hide in float32 noise and show only in float64 (``layer_norm_eps_1e-7``, ``gelu_polynomial``), and two
show only for non-default configs (``layer_norm_eps_ignored``, ``hidden_act_ignored``): the corpus proves
the suite's float64 tier and its drawn configs are needed.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from bert_conformance.known_bad._base import (
    KnownBad,
    KnownBadError,
    anchor,
    instances,
    register,
    resolver,
    set_attribute,
)
from bert_conformance.known_bad.probe import Probe
from bert_reference import heads as ref_heads
from bert_reference import model as ref_model


def layer_norms(module: Any) -> list[torch.nn.LayerNorm]:
    found = instances(module, torch.nn.LayerNorm)
    if not found:
        raise KnownBadError(f"no LayerNorm in {type(module).__name__}")
    return found


def set_activation(module: Any, act: Any) -> None:
    """Replace the activation of every feed-forward (BertIntermediate) and MLM transform."""
    targets = [(m, "intermediate_act_fn") for m in instances(module, anchor(ref_model, "BertIntermediate"))]
    targets += [(m, "transform_act_fn") for m in instances(module, anchor(ref_heads, "BertPredictionHeadTransform"))]
    if not targets:
        raise KnownBadError(f"no activation in {type(module).__name__}")
    for owner, name in targets:
        set_attribute(owner, name, act)


class LayerNormEps1e5(KnownBad):
    id = "layer.layer_norm_eps_1e-5"
    description = "every LayerNorm uses eps 1e-5 (PyTorch's default) instead of config.layer_norm_eps"
    # not config.default.layer_norm_eps: omitted and written-out eps give the same (wrong) LayerNorm, so the
    # default is not what is wrong (config.eps_default_torch is that bug)
    kills = ("numerics.float64.BertModel", "golden.model.tiny-float64", "golden.model.layer_norm_eps-float64",
             "heads.common.embeddings")
    probe = Probe()

    def mutate(self, module: Any, config: dict) -> None:
        for norm in layer_norms(module):
            set_attribute(norm, "eps", 1e-5)


class LayerNormEps1e7(KnownBad):
    id = "layer.layer_norm_eps_1e-7"
    description = "LayerNorm eps clamped to at least 1e-7 (fp16-safe): BERT's 1e-12 shows in float64 only"
    kills = ("numerics.float64.BertModel", "golden.model.tiny-float64")
    hides_in = ("core.forward.last_hidden_state", "numerics.float32.BertModel", "golden.model.tiny-float32")
    probe = Probe()

    def mutate(self, module: Any, config: dict) -> None:
        for norm in layer_norms(module):
            set_attribute(norm, "eps", max(anchor(norm, "eps"), 1e-7))


class LayerNormEpsIgnored(KnownBad):
    description = "config.layer_norm_eps is ignored: LayerNorm always uses BERT's default 1e-12"
    kills = ("numerics.float64.BertModel", "golden.model.layer_norm_eps-float64", "heads.common.embeddings")
    probe = Probe(config={"layer_norm_eps": 1e-3})

    def mutate(self, module: Any, config: dict) -> None:
        for norm in layer_norms(module):
            set_attribute(norm, "eps", 1e-12)


class LayerNormUnbiased(KnownBad):
    description = "LayerNorm divides by the unbiased variance (n - 1) instead of the biased one (n)"
    kills = ("core.forward.last_hidden_state", "numerics.float64.BertModel", "golden.model.tiny-float64")
    probe = Probe()

    def mutate(self, module: Any, config: dict) -> None:
        for norm in layer_norms(module):
            weight, bias = anchor(norm, "weight"), anchor(norm, "bias")
            set_attribute(norm, "forward", lambda x, n=norm, w=weight, b=bias: (
                (x - x.mean(-1, keepdim=True)) / torch.sqrt(x.var(-1, keepdim=True, unbiased=True) + n.eps) * w + b))


def _gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")


def _erf_polynomial(x: torch.Tensor) -> torch.Tensor:
    """erf by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7): a port's hand-written approximation."""
    sign, x = torch.sign(x), torch.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * torch.exp(-x * x))


def _gelu_polynomial(x: torch.Tensor) -> torch.Tensor:
    return 0.5 * x * (1.0 + _erf_polynomial(x / math.sqrt(2.0)))


class GeluTanh(KnownBad):
    description = 'hidden_act "gelu" computed with the tanh approximation (that is "gelu_new")'
    kills = ("core.forward.last_hidden_state", "numerics.float64.BertModel", "golden.model.tiny-float64",
             "golden.masked_lm.act.gelu-float64", "config.hidden_act.gelu")
    probe = Probe()

    def mutate(self, module: Any, config: dict) -> None:
        if config.get("hidden_act", "gelu") == "gelu":
            set_activation(module, _gelu_tanh)


class GeluPolynomial(KnownBad):
    description = 'hidden_act "gelu" with erf from a 1.5e-7 polynomial: invisible in float32, not in float64'
    kills = ("numerics.float64.BertModel", "golden.model.tiny-float64", "golden.masked_lm.act.gelu-float64",
             "config.hidden_act.gelu")
    hides_in = ("core.forward.last_hidden_state", "numerics.float32.BertModel", "golden.model.tiny-float32")
    probe = Probe()

    def mutate(self, module: Any, config: dict) -> None:
        if config.get("hidden_act", "gelu") == "gelu":
            set_activation(module, _gelu_polynomial)


class HiddenActIgnored(KnownBad):
    description = "config.hidden_act is ignored: every model uses the exact GELU"
    kills = ("numerics.float64.BertModel", "golden.masked_lm.act.relu-float64",
             "golden.masked_lm.act.tanh-float64", "config.hidden_act.relu", "config.hidden_act.tanh",
             "config.hidden_act.silu")
    probe = Probe(config={"hidden_act": "relu"})

    def mutate(self, module: Any, config: dict) -> None:
        set_activation(module, F.gelu)


class FfnResidualDropped(KnownBad):
    description = "the feed-forward block drops its residual: LayerNorm(W2 act(W1 a)) instead of LayerNorm(... + a)"
    kills = ("core.forward.last_hidden_state", "numerics.float64.BertModel", "golden.model.tiny-float64",
             "config.behaviour.chunk_size_feed_forward.equivalent")
    probe = Probe()

    def mutate(self, module: Any, config: dict) -> None:
        outputs = instances(module, anchor(ref_model, "BertOutput"))
        if not outputs:
            raise KnownBadError(f"no BertOutput in {type(module).__name__}")
        for out in outputs:
            anchor(out, "forward", params=("hidden_states", "input_tensor"))
            dense, dropout, norm = anchor(out, "dense"), anchor(out, "dropout"), anchor(out, "LayerNorm")
            set_attribute(out, "forward", lambda hidden_states, input_tensor, d=dense, p=dropout, n=norm: (
                n(p(d(hidden_states)))))


MUTANTS = register(
    "layer",
    LayerNormEps1e5,
    LayerNormEps1e7,
    LayerNormEpsIgnored,
    LayerNormUnbiased,
    GeluTanh,
    GeluPolynomial,
    HiddenActIgnored,
    FfnResidualDropped,
)
__getattr__ = resolver(MUTANTS)
