"""The catalogue of common porting variants: named, plausible ways a BERT port differs from BERT.

Each variant is the reference port with one change, written here independently of the known-bad corpus
(``bert_conformance.known_bad``), on the same plumbing (:class:`~bert_conformance.known_bad._base.KnownBad`: a patch
of one loaded model instance through checked anchors, never of a class or module function, because the
oracle runs the reference in the same process). Signature matching runs every variant on the probes a port
ran and names the one the port agrees with, probe for probe, within the port's tolerance.

A variant that no probe can tell from BERT is left out on purpose: an additive mask of -10000 instead of the
dtype's minimum gives exp(-10000) = 0 in float32 and float64 alike, and differs only on fully masked rows,
whose values the spec leaves unspecified (``heads.unspecified.*``).

To add one: subclass :class:`Variant`, set ``name``, ``description`` and ``component`` (a component label of
``probes.py``), implement ``mutate``, and append the class to :data:`CATALOGUE` (docs/diagnosis.md).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

from bert_conformance.known_bad._base import KnownBad, anchor, instances, set_attribute, wrap_method
from bert_conformance.known_bad.attention import softmax_over
from bert_conformance.known_bad.embeddings import TokenTypesIgnored
from bert_reference import heads as ref_heads
from bert_reference import model as ref_model

EMBEDDINGS_FORWARD = ("input_ids", "token_type_ids", "position_ids", "inputs_embeds", "past_length")


class Variant(KnownBad):
    """A named porting variant: the reference port with ``mutate`` applied to every loaded model.

    ``component``: where the bug is; ``localised``: where the probes first see it, when that differs.
    """

    name = ""
    component = ""
    localised = ""

    @classmethod
    def first_seen(cls) -> str:
        return cls.localised or cls.component


# --- helpers ------------------------------------------------------------------------------------------------------


def _activations(module: Any) -> list[tuple[Any, str]]:
    owners = [(m, "intermediate_act_fn") for m in instances(module, anchor(ref_model, "BertIntermediate"))]
    owners += [(m, "transform_act_fn") for m in instances(module, anchor(ref_heads, "BertPredictionHeadTransform"))]
    return owners


def _swap_gelu(module: Any, config: dict, act: Any) -> None:
    """Replace the activation where the config asks for BERT's "gelu" (the variants are approximations of it)."""
    if config.get("hidden_act", "gelu") != "gelu":
        return
    for owner, attribute in _activations(module):
        set_attribute(owner, attribute, act)


def _norms(module: Any) -> list[torch.nn.LayerNorm]:
    return instances(module, torch.nn.LayerNorm)


def _self_attentions(module: Any) -> list[Any]:
    return instances(module, anchor(ref_model, "BertSelfAttention"))


def _mask_hook(module: Any, change: Any) -> None:
    """Rewrite the 2-D attention_mask every BertModel of ``module`` is called with."""
    def hook(bert: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        mask = kwargs.get("attention_mask")
        if mask is not None and mask.dim() == 2:
            kwargs = {**kwargs, "attention_mask": change(mask)}
        return args, kwargs

    for bert in instances(module, anchor(ref_model, "BertModel")):
        anchor(bert, "forward", params=("attention_mask",))
        bert.register_forward_pre_hook(hook, with_kwargs=True)


def _erf_as(x: torch.Tensor) -> torch.Tensor:
    """erf by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7), the usual hand-written erf of C and shader ports."""
    sign, x = torch.sign(x), torch.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * x)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return sign * (1.0 - poly * torch.exp(-x * x))


# --- activation ---------------------------------------------------------------------------------------------------


class GeluTanh(Variant):
    name, component = "gelu_tanh", "ffn.activation"
    description = 'hidden_act "gelu" computed with the tanh approximation (HF\'s "gelu_new")'

    def mutate(self, module: Any, config: dict) -> None:
        _swap_gelu(module, config, lambda x: F.gelu(x, approximate="tanh"))


class GeluSigmoid(Variant):
    name, component = "gelu_sigmoid", "ffn.activation"
    description = 'hidden_act "gelu" computed as x * sigmoid(1.702 x) (HF\'s "quick_gelu")'

    def mutate(self, module: Any, config: dict) -> None:
        _swap_gelu(module, config, lambda x: x * torch.sigmoid(1.702 * x))


class GeluErfPolynomial(Variant):
    name, component = "gelu_erf_polynomial", "ffn.activation"
    description = 'hidden_act "gelu" with erf from the Abramowitz-Stegun 7.1.26 polynomial (1.5e-7)'

    def mutate(self, module: Any, config: dict) -> None:
        _swap_gelu(module, config, lambda x: 0.5 * x * (1.0 + _erf_as(x / math.sqrt(2.0))))


# --- LayerNorm ----------------------------------------------------------------------------------------------------


class LayerNormEps1e5(Variant):
    name, component = "layer_norm_eps_1e-5", "layer_norm"
    description = "every LayerNorm uses eps 1e-5 (torch.nn.LayerNorm's default), whatever the config says"

    def mutate(self, module: Any, config: dict) -> None:
        for norm in _norms(module):
            set_attribute(norm, "eps", 1e-5)


class LayerNormEps1e6(Variant):
    name, component = "layer_norm_eps_1e-6", "layer_norm"
    description = "every LayerNorm uses eps 1e-6, whatever the config says"

    def mutate(self, module: Any, config: dict) -> None:
        for norm in _norms(module):
            set_attribute(norm, "eps", 1e-6)


class LayerNormEpsConfigIgnored(Variant):
    name, component = "layer_norm_eps_config_ignored", "layer_norm"
    description = "LayerNorm eps fixed at BERT's default 1e-12: config.layer_norm_eps is not read"

    def mutate(self, module: Any, config: dict) -> None:
        for norm in _norms(module):
            set_attribute(norm, "eps", 1e-12)


class LayerNormUnbiased(Variant):
    name, component = "layer_norm_unbiased_variance", "layer_norm"
    description = "LayerNorm with the unbiased variance (divides by n - 1, as torch.var's default)"

    def mutate(self, module: Any, config: dict) -> None:
        for norm in _norms(module):
            set_attribute(norm, "forward", lambda x, n=norm: (x - x.mean(-1, keepdim=True)) / torch.sqrt(
                x.var(-1, keepdim=True, unbiased=True) + n.eps) * n.weight + n.bias)


class LayerNormEpsOutsideSqrt(Variant):
    name, component = "layer_norm_eps_outside_sqrt", "layer_norm"
    description = "LayerNorm as (x - mean) / (sqrt(var) + eps): eps added to the deviation, not the variance"

    def mutate(self, module: Any, config: dict) -> None:
        for norm in _norms(module):
            set_attribute(norm, "forward", lambda x, n=norm: (x - x.mean(-1, keepdim=True)) / (torch.sqrt(
                x.var(-1, keepdim=True, unbiased=False)) + n.eps) * n.weight + n.bias)


# --- embeddings ---------------------------------------------------------------------------------------------------


class _PositionOffset(Variant):
    offset = 0

    def mutate(self, module: Any, config: dict) -> None:
        for embeddings in instances(module, anchor(ref_model, "BertEmbeddings")):
            wrap_method(embeddings, "forward", self._shifted, params=EMBEDDINGS_FORWARD)

    def _shifted(self, original: Any) -> Any:
        def forward(input_ids, token_type_ids, position_ids, inputs_embeds, past_length=0):
            if position_ids is None:
                seq = (input_ids if inputs_embeds is None else inputs_embeds).shape[1]
                start = past_length + self.offset
                position_ids = torch.arange(start, start + seq)[None, :]
            return original(input_ids, token_type_ids, position_ids, inputs_embeds, past_length)

        return forward


class PositionsOffset1(_PositionOffset):
    name, component, offset = "positions_offset_1", "embeddings.position", 1
    description = "default position ids start at 1 instead of 0"


class PositionsOffset2(_PositionOffset):
    name, component, offset = "positions_offset_2", "embeddings.position", 2
    description = "default position ids start at padding_idx + 1 = 2 (RoBERTa's convention)"


class CachePositionsRestart(Variant):
    name, component = "cache_positions_restart", "decoder.cache"
    description = "with a cache, default position ids restart at 0 in every call (the cached length is not added)"

    def mutate(self, module: Any, config: dict) -> None:
        for embeddings in instances(module, anchor(ref_model, "BertEmbeddings")):
            wrap_method(embeddings, "forward", _forgetting_the_past, params=EMBEDDINGS_FORWARD)


def _forgetting_the_past(original: Any) -> Any:
    def forward(input_ids, token_type_ids, position_ids, inputs_embeds, past_length=0):
        return original(input_ids, token_type_ids, position_ids, inputs_embeds, 0)

    return forward


class TokenTypeMissing(Variant):
    name, component = "token_type_missing", "embeddings.token_type"
    description = "no token-type embedding is added at all (DistilBERT-style embeddings)"

    def mutate(self, module: Any, config: dict) -> None:
        for embeddings in instances(module, anchor(ref_model, "BertEmbeddings")):
            anchor(embeddings, "forward", params=EMBEDDINGS_FORWARD)
            set_attribute(embeddings, "forward", _without_token_types(embeddings))


def _without_token_types(embeddings: Any) -> Any:
    words, positions = embeddings.word_embeddings, embeddings.position_embeddings
    norm, dropout = embeddings.LayerNorm, embeddings.dropout

    def forward(input_ids, token_type_ids, position_ids, inputs_embeds, past_length=0):
        x = words(input_ids) if inputs_embeds is None else inputs_embeds
        seq = x.shape[1]
        pos = positions.weight[past_length:past_length + seq] if position_ids is None else positions(position_ids)
        return dropout(norm(x + pos))

    return forward


class TokenTypeAlwaysZero(Variant):
    name, component = "token_type_always_zero", "embeddings.token_type"
    description = "token_type_ids are not read: every token gets the type-0 embedding"
    mutate = TokenTypesIgnored.mutate  # the same bug as the corpus port: one implementation


class EmbeddingsLayerNormMissing(Variant):
    name, component = "embeddings_layer_norm_missing", "embeddings.layer_norm"
    description = "the embeddings' LayerNorm is left out (the sum goes straight into layer 0)"

    def mutate(self, module: Any, config: dict) -> None:
        for embeddings in instances(module, anchor(ref_model, "BertEmbeddings")):
            set_attribute(embeddings, "LayerNorm", torch.nn.Identity())


# --- attention ----------------------------------------------------------------------------------------------------


class ScaleMissing(Variant):
    name, component = "scale_missing", "attention.scaling"
    description = "attention scores not divided by sqrt(head_dim)"

    def mutate(self, module: Any, config: dict) -> None:
        for layer in _self_attentions(module):
            set_attribute(layer, "scaling", 1.0)


class ScaleOneOverHeadDim(Variant):
    name, component = "scale_one_over_head_dim", "attention.scaling"
    description = "attention scores divided by head_dim instead of sqrt(head_dim)"

    def mutate(self, module: Any, config: dict) -> None:
        for layer in _self_attentions(module):
            set_attribute(layer, "scaling", 1.0 / layer.attention_head_size)


class ScaleSqrtHidden(Variant):
    name, component = "scale_sqrt_hidden_size", "attention.scaling"
    description = "attention scores divided by sqrt(hidden_size) instead of sqrt(head_dim)"

    def mutate(self, module: Any, config: dict) -> None:
        # self-attention only: a port that derives the scale from hidden_size there (cross-attention is separate)
        for layer in instances(module, anchor(ref_model, "BertSelfAttention"), exact=True):
            set_attribute(layer, "scaling", config.get("hidden_size", 768) ** -0.5)


class MaskInverted(Variant):
    name, component = "mask_inverted", "attention.mask"
    description = "attention_mask with the opposite polarity: 1 is read as padding, 0 as a token"

    def mutate(self, module: Any, config: dict) -> None:
        _mask_hook(module, lambda mask: (mask == 0).to(mask.dtype))


class MaskIgnored(Variant):
    name, component = "mask_ignored", "attention.mask"
    description = "attention_mask accepted but never used: padded keys are attended"

    def mutate(self, module: Any, config: dict) -> None:
        def hook(bert: Any, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
            return args, {**kwargs, "attention_mask": None}

        for bert in instances(module, anchor(ref_model, "BertModel")):
            anchor(bert, "forward", params=("attention_mask",))
            bert.register_forward_pre_hook(hook, with_kwargs=True)


class MaskMultiplicative(Variant):
    name, component = "mask_multiplicative", "attention.mask"
    description = "the mask multiplies the scores (padded keys get score 0) instead of adding a large negative"

    def mutate(self, module: Any, config: dict) -> None:
        seen: dict[str, Any] = {}

        def capture(bert: Any, args: tuple, kwargs: dict) -> None:
            seen["mask"] = kwargs.get("attention_mask")

        for bert in instances(module, anchor(ref_model, "BertModel")):
            bert.register_forward_pre_hook(capture, with_kwargs=True)
        for layer in _self_attentions(module):
            wrap_method(layer, "attend", lambda original, layer=layer: _multiplicative(layer, seen),
                        params=("query", "key", "value", "mask", "need_weights"))


def _multiplicative(layer: Any, seen: dict[str, Any]) -> Any:
    def attend(query, key, value, mask, need_weights):
        scores = torch.matmul(query, key.transpose(-1, -2)) * layer.scaling
        given = seen.get("mask")
        if given is not None and given.dim() == 2 and given.shape[-1] == scores.shape[-1]:
            scores = scores * (given != 0).to(scores.dtype)[:, None, None, :]
        weights = torch.softmax(scores, dim=-1)
        return layer.merge_heads(torch.matmul(weights, value)), weights

    return attend


class SoftmaxOverQueries(Variant):
    name, component = "softmax_over_queries", "attention.softmax"
    description = "attention softmax over the query axis (dim -2) instead of the keys"

    def mutate(self, module: Any, config: dict) -> None:
        for layer in _self_attentions(module):
            wrap_method(layer, "attend", lambda original, layer=layer: softmax_over(layer, -2),
                        params=("query", "key", "value", "mask", "need_weights"))


class HeadSplitTransposed(Variant):
    name, component = "head_split_transposed", "attention.head_split"
    description = "heads split as [.., head_dim, heads] instead of [.., heads, head_dim]"

    def mutate(self, module: Any, config: dict) -> None:
        for layer in _self_attentions(module):
            h, d = layer.num_attention_heads, layer.attention_head_size
            wrap_method(layer, "split_heads", lambda _, h=h, d=d: (
                lambda x: x.view(*x.shape[:-1], d, h).permute(0, 3, 1, 2)))
            wrap_method(layer, "merge_heads", lambda _: (
                lambda x: x.permute(0, 2, 3, 1).reshape(x.shape[0], x.shape[2], -1)))


class _Transposed(Variant):
    """Linear layers applied with W instead of W^T (a row-major / column-major mix-up when converting)."""

    targets: tuple[str, ...] = ()

    def mutate(self, module: Any, config: dict) -> None:
        for layer in _self_attentions(module) + instances(module, anchor(ref_model, "BertSelfOutput")):
            for name in self.targets:
                linear = getattr(layer, name, None)
                if isinstance(linear, torch.nn.Linear) and linear.in_features == linear.out_features:
                    set_attribute(linear, "forward", lambda x, m=linear: F.linear(x, m.weight.T, m.bias))


class QkvTransposed(_Transposed):
    name, component, targets = "qkv_weights_transposed", "attention.projections", ("query", "key", "value")
    description = "query/key/value weights used transposed (x W instead of x W^T)"


class AttentionOutputTransposed(_Transposed):
    name, component, targets = "attention_output_transposed", "attention.projections", ("dense",)
    description = "the attention output projection used transposed"


# --- layer structure ------------------------------------------------------------------------------------------------


class PreLayerNorm(Variant):
    # With both sub-blocks skipped a pre-LN layer returns its input (x + 0): the embeddings' LayerNorm weight and
    # bias reach the output without the post-LN re-normalisation, so the embeddings.layer_norm probe sees it first.
    name, component, localised = "pre_layer_norm", "layer_norm", "embeddings.layer_norm"
    description = "pre-LN layers (x + f(LayerNorm(x))) instead of BERT's post-LN (LayerNorm(x + f(x)))"

    def mutate(self, module: Any, config: dict) -> None:
        for layer in instances(module, anchor(ref_model, "BertLayer")):
            anchor(layer, "forward", params=("hidden_states", "mask"))
            set_attribute(layer, "forward", _pre_ln(layer))


def _pre_ln(layer: Any) -> Any:
    attention, intermediate, output = layer.attention, layer.intermediate, layer.output

    def forward(hidden_states, mask, encoder_hidden_states=None, encoder_mask=None, cache=None, need_weights=False):
        context, weights = attention.self(attention.output.LayerNorm(hidden_states), mask, cache, need_weights)
        a = hidden_states + attention.output.dense(context)
        out = a + output.dense(intermediate(output.LayerNorm(a)))
        return out, weights, None

    return forward


class FfnResidualMissing(Variant):
    name, component = "ffn_residual_missing", "ffn.residual"
    description = "the feed-forward block without its residual: LayerNorm(W2 act(W1 a))"

    def mutate(self, module: Any, config: dict) -> None:
        for out in instances(module, anchor(ref_model, "BertOutput")):
            set_attribute(out, "forward", lambda hidden_states, input_tensor, o=out: o.LayerNorm(o.dense(hidden_states)))


# --- pooler -------------------------------------------------------------------------------------------------------


class PoolerNoTanh(Variant):
    name, component = "pooler_no_tanh", "pooler"
    description = "the pooler without its tanh"

    def mutate(self, module: Any, config: dict) -> None:
        for pooler in instances(module, anchor(ref_model, "BertPooler")):
            set_attribute(pooler, "activation", torch.nn.Identity())


class PoolerLastToken(Variant):
    name, component = "pooler_last_token", "pooler"
    description = "the pooler reads the last position (causal-LM style) instead of the first"

    def mutate(self, module: Any, config: dict) -> None:
        for pooler in instances(module, anchor(ref_model, "BertPooler")):
            set_attribute(pooler, "forward", lambda hidden_states, p=pooler: p.activation(p.dense(hidden_states[:, -1])))


class PoolerMean(Variant):
    name, component = "pooler_mean", "pooler"
    description = "the pooler averages every position instead of taking the first"

    def mutate(self, module: Any, config: dict) -> None:
        for pooler in instances(module, anchor(ref_model, "BertPooler")):
            set_attribute(pooler, "forward", lambda hidden_states, p=pooler: p.activation(p.dense(hidden_states.mean(1))))


CATALOGUE: tuple[type[Variant], ...] = (
    GeluTanh, GeluSigmoid, GeluErfPolynomial,
    LayerNormEps1e5, LayerNormEps1e6, LayerNormEpsConfigIgnored, LayerNormUnbiased, LayerNormEpsOutsideSqrt,
    PositionsOffset1, PositionsOffset2, TokenTypeMissing, TokenTypeAlwaysZero, EmbeddingsLayerNormMissing,
    ScaleMissing, ScaleOneOverHeadDim, ScaleSqrtHidden, MaskInverted, MaskIgnored, MaskMultiplicative,
    SoftmaxOverQueries, HeadSplitTransposed, QkvTransposed, AttentionOutputTransposed,
    PreLayerNorm, FfnResidualMissing, CachePositionsRestart, PoolerNoTanh, PoolerLastToken, PoolerMean,
)
BY_NAME: dict[str, type[Variant]] = {variant.name: variant for variant in CATALOGUE}
