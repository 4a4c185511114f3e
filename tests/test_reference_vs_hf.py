"""Differential tests: the reference against transformers on hypothesis-drawn small configs and inputs.

Both models get the same random state dict (HF names; weights scaled so activations are O(1), LayerNorm
weights away from 1) and run in eval mode. float64 must agree to 1e-10 (a semantic bug shows at 1e-9 and
above); float32 within the spec's float32 tolerance. Compared: every output field transformers returns,
every loss, and the gradient of every parameter, for all nine classes, eager and sdpa, padded or not.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import bert_reference
from bert_reference.cache import Cache

HEADS = sorted(bert_reference.HEAD_CLASSES)
SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
ACTIVATIONS = ["gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "quick_gelu", "relu", "relu6", "silu",
               "swish", "tanh", "sigmoid", "mish", "linear"]


# -- building a pair of models -------------------------------------------------------------------------------

def randomise(model: torch.nn.Module, seed: int) -> None:
    """O(1)-scale random parameters (each tensor once, so tied pairs stay tied)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            noise = torch.randn(parameter.shape, generator=generator, dtype=torch.float64)
            if name.endswith("LayerNorm.weight"):
                value = 1.0 + 0.3 * noise
            elif parameter.dim() == 2 and "embeddings" not in name:
                value = noise / math.sqrt(parameter.shape[1])
            else:
                value = 0.5 * noise
            parameter.copy_(value)


def make_pair(hf_transformers, head: str, config: dict, *, dtype=torch.float64, attn="sdpa", seed=0):
    """(transformers model, reference model) with identical weights, in eval mode."""
    hf = getattr(hf_transformers, head)(hf_transformers.BertConfig(**config, attn_implementation=attn))
    randomise(hf, seed)
    with warnings.catch_warnings():  # BertLMHeadModel without is_decoder warns, as in transformers
        warnings.simplefilter("ignore")
        ref = bert_reference.HEAD_CLASSES[head](bert_reference.BertConfig(**config, attn_implementation=attn))
    ref.load_hf_state_dict(hf.state_dict(), strict=True)
    return hf.to(dtype).eval(), ref.to(dtype).eval()


# -- comparing ----------------------------------------------------------------------------------------------

def hf_cache_layers(cache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    self_cache = getattr(cache, "self_attention_cache", cache)
    return [(layer.keys, layer.values) for layer in self_cache.layers]


def assert_same(actual, expected, atol: float, rtol: float, what: str) -> None:
    """Recursive comparison of outputs: tensors, tuples of tensors (None allowed), caches."""
    if isinstance(expected, torch.Tensor):
        assert isinstance(actual, torch.Tensor), f"{what}: expected a tensor, got {type(actual).__name__}"
        assert actual.shape == expected.shape, f"{what}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
        assert actual.dtype == expected.dtype, f"{what}: dtype {actual.dtype} != {expected.dtype}"
        torch.testing.assert_close(actual, expected, atol=atol, rtol=rtol, equal_nan=True, msg=lambda m: f"{what}: {m}")
    elif isinstance(expected, tuple):
        assert isinstance(actual, tuple) and len(actual) == len(expected), f"{what}: tuple lengths differ"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_same(a, e, atol, rtol, f"{what}[{i}]")
    elif expected is None:
        assert actual is None, f"{what}: expected None"
    else:  # a transformers cache
        assert isinstance(actual, Cache), f"{what}: expected a bert_reference.Cache"
        ours = [(layer.keys, layer.values) for layer in actual.layers]
        assert_same(tuple(map(tuple, ours)), tuple(map(tuple, hf_cache_layers(expected))), atol, rtol, what)


def assert_outputs_match(ref_out, hf_out, atol: float, rtol: float, skip=()) -> None:
    assert list(ref_out.keys()) == list(hf_out.keys()), f"fields {list(ref_out.keys())} != {list(hf_out.keys())}"
    for name in hf_out.keys():
        if name not in skip:
            assert_same(ref_out[name], hf_out[name], atol, rtol, name)


# -- drawing cases ------------------------------------------------------------------------------------------

@st.composite
def configs(draw, head: str) -> dict:
    heads = draw(st.sampled_from([1, 2, 4]))
    config = dict(
        vocab_size=draw(st.integers(8, 40)),
        hidden_size=heads * draw(st.sampled_from([2, 4, 8])),
        num_hidden_layers=draw(st.integers(1, 2)),
        num_attention_heads=heads,
        intermediate_size=draw(st.integers(3, 24)),
        hidden_act=draw(st.sampled_from(ACTIVATIONS)),
        type_vocab_size=draw(st.integers(1, 3)),
        max_position_embeddings=draw(st.integers(8, 12)),
        layer_norm_eps=draw(st.sampled_from([1e-12, 1e-5, 0.1])),
        pad_token_id=draw(st.sampled_from([0, 1, None])),
        tie_word_embeddings=draw(st.booleans()),
        num_labels=2 if head == "BertForQuestionAnswering" else draw(st.integers(1, 3)),
    )
    if head == "BertLMHeadModel":
        config["is_decoder"] = draw(st.booleans())
    if head == "BertForTokenClassification" and config["num_labels"] == 1:
        config["num_labels"] = 2
    return config


@st.composite
def inputs(draw, head: str, config: dict, with_labels: bool) -> dict:
    batch, seq = draw(st.integers(1, 3)), draw(st.integers(1, 6))
    shape = (batch, draw(st.integers(1, 3)), seq) if head == "BertForMultipleChoice" else (batch, seq)
    generator = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    ints = lambda high, s=shape: torch.randint(high, s, generator=generator)  # noqa: E731
    kwargs: dict = {"input_ids": ints(config["vocab_size"])}
    # Decoders skip left padding: its leading pad queries see no key at all (fully masked rows: own test).
    paddings = ["none", "right", "scattered"] + ([] if config.get("is_decoder") else ["left"])
    padding = draw(st.sampled_from(paddings))
    if padding != "none":
        lengths = torch.randint(1, seq + 1, shape[:-1], generator=generator)[..., None]
        position = torch.arange(seq)
        if padding == "right":
            mask = position < lengths
        elif padding == "left":
            mask = position >= seq - lengths
        else:
            mask = torch.rand(shape, generator=generator) < 0.7
            mask[..., 0] = True
        kwargs["attention_mask"] = mask.to(draw(st.sampled_from([torch.long, torch.bool, torch.float64])))
    if draw(st.integers(0, 3)) == 0:  # sometimes embeddings instead of ids
        kwargs["inputs_embeds"] = torch.randn(*shape, config["hidden_size"], generator=generator, dtype=torch.float64)
        del kwargs["input_ids"]
    if draw(st.booleans()):
        kwargs["token_type_ids"] = ints(config["type_vocab_size"])
    if draw(st.booleans()):
        kwargs["position_ids"] = ints(config["max_position_embeddings"])
    if with_labels:
        kwargs.update(labels_for(head, config, shape, generator))
    return kwargs


def labels_for(head: str, config: dict, shape: tuple, generator: torch.Generator) -> dict:
    batch, seq = shape[0], shape[-1]

    def tokens(high: int) -> torch.Tensor:
        labels = torch.randint(high, (batch, seq), generator=generator)
        return labels.masked_fill(torch.rand((batch, seq), generator=generator) < 0.3, -100)

    vocab, num_labels = config["vocab_size"], config["num_labels"]
    if head in ("BertForMaskedLM", "BertLMHeadModel"):
        return {"labels": tokens(vocab)}
    if head == "BertForPreTraining":
        return {"labels": tokens(vocab), "next_sentence_label": torch.randint(2, (batch,), generator=generator)}
    if head == "BertForNextSentencePrediction":
        return {"labels": torch.randint(2, (batch,), generator=generator)}
    if head == "BertForMultipleChoice":
        return {"labels": torch.randint(shape[1], (batch,), generator=generator)}
    if head == "BertForTokenClassification":
        return {"labels": tokens(num_labels)}
    if head == "BertForQuestionAnswering":
        positions = lambda: torch.randint(-2, seq + 3, (batch,), generator=generator)  # noqa: E731
        return {"start_positions": positions(), "end_positions": positions()}
    if head == "BertForSequenceClassification":
        if num_labels == 1:
            return {"labels": torch.randn(batch, generator=generator, dtype=torch.float64)}
        if torch.rand((), generator=generator) < 0.5:
            return {"labels": torch.randint(num_labels, (batch,), generator=generator)}
        return {"labels": torch.randint(2, (batch, num_labels), generator=generator).double()}
    return {}  # BertModel has no loss


@st.composite
def cases(draw, heads=tuple(HEADS), with_labels=None):
    head = draw(st.sampled_from(heads))
    config = draw(configs(head))
    labels = draw(st.booleans()) if with_labels is None else with_labels
    return head, config, draw(inputs(head, config, labels)), draw(st.sampled_from(["eager", "sdpa"]))


def cast(kwargs: dict, dtype: torch.dtype) -> dict:
    return {k: v.to(dtype) if v.is_floating_point() and k != "attention_mask" else v for k, v in kwargs.items()}


def dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def expected_causal_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Next-token cross-entropy computed here in the logits' dtype (transformers casts to float32)."""
    return F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1))


# -- the tests ----------------------------------------------------------------------------------------------

@settings(max_examples=50, **SETTINGS)
@given(case=cases())
def test_float64_outputs_and_losses_match(hf_transformers, tolerance, case):
    head, config, kwargs, attn = case
    hf, ref = make_pair(hf_transformers, head, config, attn=attn)
    flags = dict(output_hidden_states=True, output_attentions=attn == "eager")
    with torch.no_grad():
        hf_out, ref_out = hf(**kwargs, **flags), ref(**kwargs, **flags)
    atol, rtol = tolerance("float64", "outputs")
    assert_outputs_match(ref_out, hf_out, atol, rtol, skip={"loss"} if head == "BertLMHeadModel" else ())
    if head == "BertLMHeadModel" and "labels" in kwargs:
        # transformers computes this loss in float32 even for float64 logits: compare to float64 maths,
        # and to transformers within the float32 loss tolerance.
        expected = expected_causal_loss(hf_out.logits, kwargs["labels"])
        assert_same(ref_out.loss, expected, *tolerance("float64", "loss"), "loss vs float64 maths")
        assert_same(ref_out.loss.float(), hf_out.loss, *tolerance("float32", "loss"), "loss vs transformers")
    if head == "BertForSequenceClassification" and "labels" in kwargs:
        assert ref.config.problem_type == hf.config.problem_type is not None


@settings(max_examples=25, **SETTINGS)
@given(case=cases(with_labels=True, heads=tuple(h for h in HEADS if h != "BertModel")))
def test_float64_gradients_match(hf_transformers, tolerance, case):
    head, config, kwargs, attn = case
    hf, ref = make_pair(hf_transformers, head, config, attn=attn)
    hf_loss, ref_loss = hf(**kwargs).loss, ref(**kwargs).loss
    if head == "BertLMHeadModel":
        hf_loss = expected_causal_loss(hf(**kwargs).logits, kwargs["labels"])  # float64, see above
    if torch.isnan(hf_loss):
        assert torch.isnan(ref_loss)
        return
    hf_loss.backward()
    ref_loss.backward()
    hf_grads = dict(hf.named_parameters(remove_duplicate=False))
    atol, rtol = tolerance("float64", "gradients")
    for name, parameter in ref.named_parameters(remove_duplicate=False):
        expected = hf_grads[name].grad
        assert (parameter.grad is None) == (expected is None), f"{name}: gradient presence differs"
        if expected is not None:
            assert_same(parameter.grad, expected, atol, rtol, f"grad {name}")


@settings(max_examples=20, **SETTINGS)
@given(case=cases())
def test_float32_matches(hf_transformers, tolerance, case):
    head, config, kwargs, attn = case
    hf, ref = make_pair(hf_transformers, head, config, dtype=torch.float32, attn=attn)
    kwargs = cast(kwargs, torch.float32)
    with torch.no_grad():
        hf_out, ref_out = hf(**kwargs, output_hidden_states=True), ref(**kwargs, output_hidden_states=True)
    assert_outputs_match(ref_out, hf_out, *tolerance("float32", "outputs"), skip={"loss"})
    if "loss" in hf_out.keys():
        assert_same(ref_out.loss, hf_out.loss, *tolerance("float32", "loss"), "loss")


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_matches(hf_transformers, tolerance, dtype):
    """fp16/bf16 eager forward (right-padded batch) against transformers in the same dtype."""
    config = dict(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
    hf, ref = make_pair(hf_transformers, "BertForMaskedLM", config, dtype=dtype, attn="eager", seed=3)
    ids = torch.randint(50, (3, 7), generator=torch.Generator().manual_seed(1))
    mask = torch.ones(3, 7, dtype=torch.long)
    mask[1, 4:] = 0
    with torch.no_grad():
        hf_out, ref_out = hf(ids, attention_mask=mask), ref(ids, attention_mask=mask)
    assert not torch.isnan(ref_out.logits).any()
    assert_same(ref_out.logits, hf_out.logits, *tolerance(dtype_name(dtype), "outputs"), "logits")


@settings(max_examples=15, **SETTINGS)
@given(case=cases(heads=("BertModel", "BertForMaskedLM", "BertForSequenceClassification"), with_labels=False))
def test_sdpa_returns_real_attentions(hf_transformers, tolerance, case):
    """Documented difference: with sdpa and output_attentions the reference returns the weights (transformers:
    an empty tuple). They must equal transformers' eager weights."""
    head, config, kwargs, _ = case
    hf, ref = make_pair(hf_transformers, head, config, attn="eager")
    ref.set_attn_implementation("sdpa")
    with torch.no_grad():
        expected, actual = hf(**kwargs, output_attentions=True), ref(**kwargs, output_attentions=True)
        plain = ref(**kwargs)
    assert len(actual.attentions) == config["num_hidden_layers"]
    assert_same(actual.attentions, expected.attentions, *tolerance("float64", "outputs"), "attentions")
    first = "last_hidden_state" if head == "BertModel" else "logits"
    assert_same(actual[first], plain[first], *tolerance("float64", "eager_vs_sdpa"), "weights path vs sdpa")


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_fully_masked_rows_get_uniform_weights(hf_transformers, tolerance, dtype, attn):
    """A batch row that is all padding: transformers' eager gives uniform weights (finfo.min absorbs the
    scores), never NaN; the reference gives exactly that with eager and sdpa, in every dtype."""
    config = dict(vocab_size=50, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
    hf, ref = make_pair(hf_transformers, "BertModel", config, attn="eager", seed=5)
    ref.set_attn_implementation(attn)
    ids = torch.randint(50, (2, 6), generator=torch.Generator().manual_seed(2))
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0]])
    with torch.no_grad():
        expected = hf(ids, attention_mask=mask, output_attentions=True)  # float64 eager: the uniform weights
        ref_low = ref.to(dtype)
        actual = ref_low(ids, attention_mask=mask, output_attentions=attn == "eager")
    assert torch.isfinite(actual.last_hidden_state.float()).all()
    if attn == "eager":
        weights = actual.attentions[0][1]  # compared in its dtype, with torch's default tolerance for it
        torch.testing.assert_close(weights, torch.full_like(weights, 1 / 6))
    atol, rtol = tolerance(dtype_name(dtype), "outputs")
    assert_same(actual.last_hidden_state.double(), expected.last_hidden_state, atol, rtol, "last_hidden_state")


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize("kind", ["bool", "float"])
def test_4d_masks_are_used_as_given(hf_transformers, tolerance, attn, kind):
    """bool: True attends; float: added to the scores. Documented difference: transformers' *eager* path adds a
    bool 4-D mask to the scores (+1 where True), so bool masks are compared with its sdpa path."""
    config = dict(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=20)
    hf, ref = make_pair(hf_transformers, "BertModel", config, attn=attn, seed=7)
    if kind == "bool":
        hf.set_attn_implementation("sdpa")
    generator = torch.Generator().manual_seed(3)
    ids = torch.randint(50, (2, 5), generator=generator)
    allowed = torch.rand(2, 1, 5, 5, generator=generator) < 0.6
    allowed[..., 0] = True
    mask = allowed
    if kind == "float":
        mask = torch.zeros(allowed.shape, dtype=torch.float64).masked_fill(~allowed, torch.finfo(torch.float64).min)
    with torch.no_grad():
        ours = ref(ids, attention_mask=mask)
        assert_outputs_match(ours, hf(ids, attention_mask=mask), *tolerance("float64", "outputs"))
        no_mask = ref(ids).last_hidden_state
    assert (ours.last_hidden_state - no_mask).abs().max() > 1e-3, "the 4-D mask had no effect"


def test_non_binary_2d_mask_entries_attend(hf_transformers, tolerance):
    """transformers casts a 2-D mask to bool: 0.5 attends exactly like 1."""
    config = dict(vocab_size=50, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=20)
    hf, ref = make_pair(hf_transformers, "BertModel", config, seed=8)
    ids = torch.randint(50, (2, 5), generator=torch.Generator().manual_seed(4))
    half = torch.tensor([[0.5, 1.0, 0.5, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 0.25]])
    with torch.no_grad():
        ours = ref(ids, attention_mask=half).last_hidden_state
        assert_same(ours, hf(ids, attention_mask=half).last_hidden_state, *tolerance("float64", "outputs"), "0.5")
        assert_same(ours, ref(ids, attention_mask=(half > 0).long()).last_hidden_state, 0.0, 0.0, "0.5 vs 1")


def test_every_activation_matches_transformers(hf_transformers):
    from transformers.activations import ACT2FN as HF_ACT2FN

    from bert_reference.activations import ACT2FN

    x = torch.linspace(-12, 12, 2001, dtype=torch.float64)
    for name, function in ACT2FN.items():
        torch.testing.assert_close(function(x), HF_ACT2FN[name](x), atol=0, rtol=0, msg=name)
    missing = set(HF_ACT2FN) - set(ACT2FN)
    assert missing == {"prelu", "xielu"}, f"activations not implemented: {missing}"


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_chunked_feed_forward_equals_unchunked(hf_transformers, tolerance, attn):
    config = dict(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=20)
    _, plain = make_pair(hf_transformers, "BertModel", config, attn=attn, seed=9)
    hf, chunked = make_pair(hf_transformers, "BertModel", {**config, "chunk_size_feed_forward": 2}, attn=attn, seed=9)
    ids = torch.randint(50, (2, 6), generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        ours = chunked(ids).last_hidden_state
        assert_same(ours, plain(ids).last_hidden_state, *tolerance("float64", "outputs"), "chunked vs plain")
        assert_same(ours, hf(ids).last_hidden_state, *tolerance("float64", "outputs"), "chunked vs transformers")
