"""Decoder mode: causal masking, the key/value cache, cross-attention and the causal LM head, against
transformers and against the reference's own full forward.

Comparisons are on the last hidden state and the logits (not the embedding output), at real (unpadded)
positions: a padded query of a left-padded decoder row sees no key at all, and transformers' eager and sdpa
paths disagree there (see test_reference_vs_hf.py::test_fully_masked_rows_get_uniform_weights).
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from test_reference_vs_hf import assert_same, make_pair

import bert_reference

CONFIG = dict(vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
              is_decoder=True)
CROSS = dict(CONFIG, add_cross_attention=True)
BATCH, SEQ, ENC = 3, 7, 5


def data(seed: int = 0, padding: str = "right"):
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(1, 60, (BATCH, SEQ), generator=generator)
    mask = torch.ones(BATCH, SEQ, dtype=torch.long)
    if padding == "right":
        mask[0, 5:] = 0
        mask[2, 3:] = 0
    elif padding == "left":
        mask[0, :2] = 0
        mask[2, :4] = 0
    encoder = torch.randn(BATCH, ENC, 32, generator=generator, dtype=torch.float64)
    encoder_mask = torch.ones(BATCH, ENC, dtype=torch.long)
    encoder_mask[1, 3:] = 0
    return ids, mask, encoder, encoder_mask


def decode(model, ids, mask, steps, cross=None):
    """Run `model` over `ids` in pieces of the given lengths with a cache; concatenate hidden states/logits."""
    cache, hidden, logits, start = None, [], [], 0
    for length in steps:
        end = start + length
        extra = {} if cross is None else {"encoder_hidden_states": cross[0], "encoder_attention_mask": cross[1]}
        out = model(ids[:, start:end], attention_mask=mask[:, :end], cache=cache, use_cache=True,
                    output_hidden_states=True, **extra)
        cache = out.cache
        hidden.append(out.hidden_states[-1])
        logits.append(out.logits)
        start = end
    return torch.cat(hidden, 1), torch.cat(logits, 1), cache


def real(tensor: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return tensor[mask.bool()]


@pytest.mark.parametrize("cross", [False, True], ids=["decoder", "cross-attention"])
@pytest.mark.parametrize("padding", ["right", "left"])
@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize("steps", [[1] * SEQ, [4, 3], [2, 1, 4]], ids=["token-by-token", "4+3", "2+1+4"])
def test_cached_decoding_equals_full_forward_and_transformers(hf_transformers, tolerance, cross, padding, attn, steps):
    hf, ref = make_pair(hf_transformers, "BertLMHeadModel", CROSS if cross else CONFIG, attn=attn, seed=11)
    ids, mask, encoder, encoder_mask = data(padding=padding)
    encoder_inputs = (encoder, encoder_mask) if cross else None
    extra = {"encoder_hidden_states": encoder, "encoder_attention_mask": encoder_mask} if cross else {}
    with torch.no_grad():
        full = ref(ids, attention_mask=mask, output_hidden_states=True, **extra)
        hidden, logits, cache = decode(ref, ids, mask, steps, encoder_inputs)
        hf_hidden, hf_logits, _ = decode(hf, ids, mask, steps, encoder_inputs)
    for name, ours, whole, theirs in (("last hidden state", hidden, full.hidden_states[-1], hf_hidden),
                                      ("logits", logits, full.logits, hf_logits)):
        assert_same(real(ours, mask), real(whole, mask), *tolerance("float64", "cache_vs_full"), f"{name} vs full")
        assert_same(real(ours, mask), real(theirs, mask), *tolerance("float64", "outputs"), f"{name} vs HF")
    assert cache.get_seq_length() == SEQ and len(cache) == CONFIG["num_hidden_layers"]
    assert tuple(cache.layers[0].keys.shape) == (BATCH, 4, SEQ, 8)
    if cross:
        assert tuple(cache.cross_layers[1].values.shape) == (BATCH, 4, ENC, 8)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
def test_cross_attention_keys_values_are_computed_once(hf_transformers, tolerance, attn):
    """Later encoder_hidden_states values are ignored: the cached cross k/v are reused, as in transformers."""
    hf, ref = make_pair(hf_transformers, "BertLMHeadModel", CROSS, attn=attn, seed=12)
    ids, mask, encoder, encoder_mask = data(padding="none")
    other = encoder + 1.0
    outputs = []
    with torch.no_grad():
        for model in (ref, hf):
            first = model(ids[:, :3], encoder_hidden_states=encoder, encoder_attention_mask=encoder_mask)
            keys = first.cache.cross_layers[0].keys if model is ref else None
            same = model(ids[:, 3:4], encoder_hidden_states=encoder, encoder_attention_mask=encoder_mask,
                         cache=_copy_cache(first.cache))
            changed = model(ids[:, 3:4], encoder_hidden_states=other, encoder_attention_mask=encoder_mask,
                            cache=first.cache)
            assert_same(changed.logits, same.logits, 0.0, 0.0, "new encoder states must be ignored")
            outputs.append(changed.logits)
            if model is ref:
                assert changed.cache.cross_layers[0].keys is keys
        fresh = ref(ids[:, :4], encoder_hidden_states=other, encoder_attention_mask=encoder_mask).logits[:, 3:]
    assert_same(outputs[0], outputs[1], *tolerance("float64", "outputs"), "reference vs transformers")
    assert (fresh - outputs[0]).abs().max() > 1e-6, "the changed encoder states should matter without a cache"


def _copy_cache(cache):
    import copy

    return copy.deepcopy(cache)


@pytest.mark.parametrize("attn", ["eager", "sdpa"])
@pytest.mark.parametrize("is_decoder", [True, False])
def test_future_tokens_never_leak_into_a_decoder(hf_transformers, attn, is_decoder):
    """is_decoder: earlier logits ignore later tokens; a BertLMHeadModel without it is bidirectional (as HF)."""
    _, ref = make_pair(hf_transformers, "BertLMHeadModel", {**CONFIG, "is_decoder": is_decoder}, attn=attn, seed=13)
    ids, *_ = data()
    changed = ids.clone()
    changed[:, -1] = (changed[:, -1] + 1) % 60
    with torch.no_grad():
        delta = (ref(ids).logits - ref(changed).logits)[:, :-1].abs().max().item()
    assert (delta == 0.0) if is_decoder else (delta > 1e-6)


def test_labels_disable_the_cache_and_are_shifted(hf_transformers, tolerance):
    hf, ref = make_pair(hf_transformers, "BertLMHeadModel", CONFIG, seed=14)
    ids, mask, *_ = data()
    labels = ids.masked_fill(mask == 0, -100)
    with torch.no_grad():
        out = ref(ids, attention_mask=mask, labels=labels, use_cache=True)
        hf_out = hf(ids, attention_mask=mask, labels=labels, use_cache=True)
    assert out.cache is None and list(out.keys()) == list(hf_out.keys()) == ["loss", "logits"]
    vocab = CONFIG["vocab_size"]
    shifted = F.cross_entropy(out.logits[:, :-1].reshape(-1, vocab), labels[:, 1:].reshape(-1))
    unshifted = F.cross_entropy(out.logits.reshape(-1, vocab), labels.reshape(-1))
    assert_same(out.loss, shifted, *tolerance("float64", "loss"), "loss")
    assert (out.loss - unshifted).abs() > 1e-6
    assert_same(out.loss.float(), hf_out.loss, *tolerance("float32", "loss"), "loss vs transformers (float32)")
    # shift_labels replaces the internal shift; num_items_in_batch switches to sum / n (transformers' kwargs)
    with torch.no_grad():
        given = ref(ids, labels=ids, shift_labels=labels, num_items_in_batch=5).loss
        hf_given = hf(ids, labels=ids, shift_labels=labels, num_items_in_batch=5).loss
    expected = F.cross_entropy(out.logits.reshape(-1, vocab), labels.reshape(-1), reduction="sum") / 5
    assert_same(given, expected, *tolerance("float64", "loss"), "shift_labels loss")
    assert_same(given.float(), hf_given, *tolerance("float32", "loss"), "shift_labels vs transformers")


@pytest.mark.parametrize(
    "keep", [0, 1, 3, SEQ + 2, torch.tensor([0, 4, 6]), torch.tensor([[1, 2], [0, 6], [3, 3]])],
    ids=["0", "1", "3", "more-than-seq", "1-D", "2-D"],
)
def test_logits_to_keep(hf_transformers, tolerance, keep):
    hf, ref = make_pair(hf_transformers, "BertLMHeadModel", CONFIG, seed=15)
    ids, mask, *_ = data()
    with torch.no_grad():
        ours, theirs = ref(ids, logits_to_keep=keep).logits, hf(ids, logits_to_keep=keep).logits
        full = ref(ids).logits
    assert_same(ours, theirs, *tolerance("float64", "outputs"), "logits")
    if isinstance(keep, int) and 0 < keep <= SEQ:
        assert_same(ours, full[:, -keep:], *tolerance("float64", "outputs"), "kept logits vs the full forward")


def test_encoder_never_returns_a_cache(hf_transformers):
    """use_cache only takes effect with is_decoder (forced False otherwise, as in transformers)."""
    hf, ref = make_pair(hf_transformers, "BertModel", {**CONFIG, "is_decoder": False})
    ids, *_ = data()
    assert ref(ids, use_cache=True).cache is None
    assert hf(ids, use_cache=True).cache is None
    decoder = bert_reference.BertModel(bert_reference.BertConfig(**CONFIG))
    assert isinstance(decoder(ids).cache, bert_reference.Cache)  # config.use_cache defaults to True
    assert decoder(ids, use_cache=False).cache is None


def test_default_positions_continue_after_the_cache():
    """With 4 cached tokens, the next 3 get positions 4, 5, 6: passing them explicitly changes nothing."""
    model = bert_reference.BertModel(bert_reference.BertConfig(**CONFIG)).double().eval()
    ids, *_ = data()
    with torch.no_grad():
        cache = model(ids[:, :4]).cache
        implicit = model(ids[:, 4:], cache=_copy_cache(cache)).last_hidden_state
        explicit = model(ids[:, 4:], cache=_copy_cache(cache), position_ids=torch.arange(4, SEQ)[None]).last_hidden_state
        wrong = model(ids[:, 4:], cache=cache, position_ids=torch.arange(0, 3)[None]).last_hidden_state
    assert_same(implicit, explicit, 0.0, 0.0, "default positions")
    assert (implicit - wrong).abs().max() > 1e-6
