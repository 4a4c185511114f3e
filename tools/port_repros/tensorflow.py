"""Minimal reproductions of the tensorflow port's deviations (transformers 4.57.6 TF classes vs the v5 spec), quoted
in docs/ports.md. Run in the port-tensorflow env: `.tox/port-tensorflow/bin/python tools/port_repros/tensorflow.py`."""
import numpy as np

from bert_conformance.adapters.tensorflow import implementation as port
from bert_conformance.oracle import get_oracle

oracle = get_oracle()
tiny = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)
ids = np.random.default_rng(0).integers(1, 99, (2, 6)).astype(np.int64)


def load(head, **over):
    cfg = {**tiny, **over}
    sd = oracle.random_state_dict(head, cfg, seed=0)
    return port.load_model(head, cfg, sd, dtype="float32"), cfg, sd


def attempt(what, fn):
    try:
        print(what, "->", fn())
    except Exception as e:  # noqa: BLE001
        print(what, "-> raises", type(e).__name__, str(e).splitlines()[0][:110])


# 1. per-example losses (no reduction)
for head, labels in [("BertForSequenceClassification", {"labels": np.array([0, 1])}),
                     ("BertForNextSentencePrediction", {"labels": np.array([0, 1])}),
                     ("BertForQuestionAnswering", {"start_positions": np.array([1, 2]), "end_positions": np.array([3, 4])}),
                     ("BertForMultipleChoice", {"labels": np.array([0, 1])})]:
    m, cfg, sd = load(head)
    x = {"input_ids": np.stack([ids, ids[::-1]], 1) if head == "BertForMultipleChoice" else ids, **labels}
    print(head, "loss", m.forward(x)["loss"], "spec (oracle):", oracle.forward(head, cfg, sd, x)["loss"])
# 2. QA positions outside the sequence (spec: clamped to seq, then ignored)
m, *_ = load("BertForQuestionAnswering")
attempt("QA start_positions=[1, 50]", lambda: m.forward({"input_ids": ids, "start_positions": np.array([1, 50]),
                                                          "end_positions": np.array([3, 4])})["loss"])
# 3. multi-label (problem_type) and one-class cross-entropy
m, *_ = load("BertForSequenceClassification", num_labels=3, problem_type="multi_label_classification")
attempt("multi_label float labels", lambda: m.forward({"input_ids": ids, "labels": np.eye(3, dtype=np.float32)[:2]})["loss"])
m, *_ = load("BertForTokenClassification", num_labels=1)
attempt("token classification num_labels=1", lambda: m.forward({"input_ids": ids, "labels": np.zeros_like(ids)})["loss"])
# 4. labels -2 (spec: an error) and -100 for sequence classification (spec: ignored)
m, *_ = load("BertForMaskedLM")
lab = np.full_like(ids, -100)
lab[0, 1] = -2
attempt("MLM label -2", lambda: m.forward({"input_ids": ids, "labels": lab})["loss"])
m, *_ = load("BertForSequenceClassification")
attempt("SeqCls label -100", lambda: m.forward({"input_ids": ids, "labels": np.array([0, -100])})["loss"])
# 5. non-binary mask: (1 - 2) * -10000 = +10000 (spec: any non-zero attends like 1)
m, cfg, sd = load("BertModel")
x2 = {"input_ids": ids, "attention_mask": np.array([[1, 2, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]])}
x1 = {"input_ids": ids, "attention_mask": (x2["attention_mask"] != 0).astype(np.int64)}
print("mask with a 2 vs the same mask as 0/1: max |diff| last_hidden_state",
      np.abs(m.forward(x2)["last_hidden_state"] - m.forward(x1)["last_hidden_state"])[:1].max())
# 6. output_hidden_states as indices (spec: only the selected entries)
hs = m.forward({"input_ids": ids}, output_hidden_states=[-1])["hidden_states"]
print("output_hidden_states=[-1] ->", [None if h is None else h.shape for h in hs])
# 7. LM head with labels still returns the cache (spec: labels switch use_cache off)
m, *_ = load("BertLMHeadModel", is_decoder=True)
print("BertLMHeadModel(labels) cache returned:", m.forward({"input_ids": ids, "labels": ids}).get("cache") is not None)
# 8. TFBertForMaskedLM has no encoder_hidden_states argument
m, *_ = load("BertForMaskedLM")
attempt("MaskedLM encoder_hidden_states", lambda: m.forward({"input_ids": ids, "encoder_hidden_states":
                                                             np.zeros((2, 3, 32), np.float32)})["logits"].shape)
# 9. config validation (spec: both raise)
sd = oracle.random_state_dict("BertModel", tiny, seed=0)  # weights of a valid config: the oracle rejects these
attempt("pad_token_id = vocab_size", lambda: type(port.load_model("BertModel", {**tiny, "pad_token_id": 99}, sd,
                                                                  dtype="float32")).__name__)
sd = oracle.random_state_dict("BertForSequenceClassification", {**tiny, "num_labels": 1}, seed=0)
attempt("single_label_classification with num_labels=1", lambda: type(port.load_model(
    "BertForSequenceClassification", {**tiny, "num_labels": 1, "problem_type": "single_label_classification"}, sd,
    dtype="float32")).__name__)
# 10. no padding_idx: the pad token's embedding row gets a gradient
m, cfg, sd = load("BertForMaskedLM", pad_token_id=5)
x = {"input_ids": np.array([[7, 5, 9, 5]]), "labels": np.array([[7, 3, 9, 4]])}
g, e = m.gradients(x), oracle.gradients("BertForMaskedLM", cfg, sd, x)
name = "bert.embeddings.word_embeddings.weight"
print("d loss / d word_embeddings[pad row]: TF", np.abs(g[name][5]).max(), "| spec",
      np.abs(e[name][5]).max(), "| other rows max |diff|", np.abs(np.delete(g[name] - e[name], 5, 0)).max())
# 11. hidden_size 1: tf-keras LayerNormalization computes x*inv + (beta - mean*inv)
m, cfg, sd = load("BertModel", hidden_size=1, num_attention_heads=1, intermediate_size=1, vocab_size=5)
x = {"input_ids": np.array([[4, 2]])}
print("hidden_size 1 embeddings output: TF", m.forward(x, output_hidden_states=True)["hidden_states"][0].ravel(),
      "exact (LayerNorm of one feature = beta):", sd["embeddings.LayerNorm.bias"])
# 12. multiple-choice labels of shape [batch, 1] (spec: an error)
m, *_ = load("BertForMultipleChoice")
attempt("MC labels [batch, 1]", lambda: m.forward({"input_ids": np.stack([ids, ids[::-1]], 1),
                                                   "labels": np.array([[0], [1]])})["loss"])
