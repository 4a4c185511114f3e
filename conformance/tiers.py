"""Accuracy tiers (spec/tiers.yaml, docs/tiers.md): what a reduced-precision or quantized port promises.

A port that cannot match float64 BERT elementwise (float16 / bfloat16 kernels, int8 quantization) declares a
``tier`` in ``capabilities()``. Its tier clauses (``tiers.<tier>.<metric>``, conformance/clauses/test_tiers.py)
run it on the real all-MiniLM-L6-v2 checkpoint over the fixed corpus of spec/tiers_corpus.yaml and compare
task-level metrics with the float64 oracle: cosine similarity of token and sentence embeddings, rank
correlation of sentence-pair similarities, agreement of a seeded classification head and of a tied
masked-LM decoder, and elementwise max-abs bounds. This module holds the typed view of the tiers, the corpus
and the metrics; the clause module and ``tools/measure_tiers.py`` both use it, so a threshold is checked with
exactly the arithmetic that measured it.

Tiers are ordered strictest first (``order``); a port claims its declared tier and every looser one. A port
without a ``tier`` is exact: its tier is the strictest its dtypes allow (``exact-float64`` when it claims
float64, else ``float32``). A tier whose ``elementwise`` is false (float16, bfloat16, int8) takes the
port's elementwise clauses (the globs of ``elementwise.clauses``) out of its claims: they are *not claimed*,
and the tier's criteria replace them.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Forward = Callable[[dict[str, np.ndarray]], Mapping[str, Any]]


# --- the spec data -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """One measured quantity: ``kind`` "similarity" (1 is perfect, the threshold is a minimum) or "error"
    (0 is perfect, the threshold is a maximum)."""

    name: str
    kind: str
    text: str

    def passes(self, value: float, threshold: float) -> bool:
        if not np.isfinite(value):
            return False
        return value >= threshold if self.kind == "similarity" else value <= threshold

    def margin(self, value: float, threshold: float) -> float:
        """How far ``value`` is on the good side of ``threshold`` (negative: it fails)."""
        return value - threshold if self.kind == "similarity" else threshold - value


@dataclass(frozen=True)
class Criterion:
    """``tiers.<tier>.<metric>``: the threshold, and the measurement it rests on (value, port, margin)."""

    id: str
    tier: str
    metric: Metric
    threshold: float
    measured: float
    measured_on: str
    margin: str
    text: str


@dataclass(frozen=True)
class Tier:
    name: str
    dtype: str  # the dtype the tier clauses load the port in (the core's float32 but for exact-float64)
    elementwise: bool  # whether the port's elementwise clauses stay claimed
    text: str
    criteria: tuple[Criterion, ...]

    @property
    def slug(self) -> str:
        """The tier's name as a clause-id segment (``exact-float64`` -> ``exact_float64``)."""
        return slug(self.name)


@dataclass(frozen=True)
class TiersSpec:
    tiers: tuple[Tier, ...]  # strictest first
    metrics: Mapping[str, Metric]
    elementwise: tuple[str, ...]  # clause-id globs a non-elementwise tier does not claim
    classification: Mapping[str, Any]
    masked_lm: Mapping[str, Any]

    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tiers)

    def tier(self, name: str) -> Tier:
        for tier in self.tiers:
            if tier.name == name:
                return tier
        raise KeyError(f"unknown tier {name!r}; known: {', '.join(self.names())}")

    def effective(self, declared: str | None, dtypes: Iterable[str]) -> str:
        """The port's tier: the declared one, else the strictest an exact port reaches with its dtypes."""
        if declared is not None:
            return declared
        return self.names()[0] if self.tier(self.names()[0]).dtype in dtypes else exact_float32(self)

    def claimed(self, tier: str) -> tuple[str, ...]:
        """The tiers a port of ``tier`` claims: that one and every looser one."""
        names = self.names()
        return names[names.index(tier):]

    def not_claimed_elementwise(self, tier: str, clause_id: str) -> bool:
        """Whether ``clause_id`` is an elementwise clause that a port of ``tier`` does not claim."""
        if self.tier(tier).elementwise:
            return False
        return any(fnmatch.fnmatchcase(clause_id, pattern) for pattern in self.elementwise)


def slug(name: str) -> str:
    return name.replace("-", "_")


def exact_float32(spec: TiersSpec) -> str:
    """The strictest tier loaded in float32 that keeps elementwise clauses (an exact float32-only port)."""
    return next(t.name for t in spec.tiers if t.dtype == "float32" and t.elementwise)


@functools.cache
def tiers_spec() -> TiersSpec:
    """spec/tiers.yaml as typed objects (from the validated, installed spec; once per process), after the
    checks its schema cannot express (:func:`check`: a SpecError naming the criterion)."""
    from bert_conformance.errors import SpecError, raise_if_any
    from bert_conformance.spec import load_spec

    spec = load_spec()
    data = spec.documents["tiers"]
    raise_if_any([SpecError(str(spec.files["tiers"]), path, message) for path, message in check(data)])
    return parse(data)


def parse(data: Mapping[str, Any]) -> TiersSpec:
    """The typed tiers of a (schema-valid) tiers.yaml mapping."""
    metrics = {m["name"]: Metric(m["name"], m["kind"], m["text"]) for m in data["metrics"]}
    tiers = []
    for entry in data["tiers"]:
        criteria = tuple(
            Criterion(c["id"], entry["name"], metrics[c["metric"]], float(c["threshold"]), float(c["measured"]),
                      c["measured_on"], c["margin"], c.get("text", metrics[c["metric"]].text))
            for c in entry["criteria"]
        )
        tiers.append(Tier(entry["name"], entry["dtype"], bool(entry["elementwise"]), entry["text"], criteria))
    return TiersSpec(tuple(tiers), metrics, tuple(data["elementwise"]["clauses"]),
                     dict(data["heads"]["classification"]), dict(data["heads"]["masked_lm"]))


def check(data: Mapping[str, Any]) -> Iterable[tuple[str, str]]:
    """What the schema cannot say: (yaml path, problem) for ids that do not follow ``tiers.<tier>.<metric>``,
    unknown metrics, duplicate tier names, thresholds on the wrong side of their measurement."""
    metrics = {m["name"]: m for m in data.get("metrics", ())}
    seen: set[str] = set()
    for i, entry in enumerate(data.get("tiers", ())):
        if entry["name"] in seen:
            yield f"tiers[{i}].name", f"duplicate tier {entry['name']!r}"
        seen.add(entry["name"])
        for j, c in enumerate(entry["criteria"]):
            where = f"tiers[{i}].criteria[{j}]"
            if c["metric"] not in metrics:
                yield f"{where}.metric", f"unknown metric {c['metric']!r}; known: {', '.join(metrics)}"
                continue
            want = f"tiers.{slug(entry['name'])}.{c['metric']}"
            if c["id"] != want:
                yield f"{where}.id", f"clause id {c['id']!r} must be {want!r} (tiers.<tier>.<metric>)"
            metric = Metric(c["metric"], metrics[c["metric"]]["kind"], "")
            if not metric.passes(float(c["measured"]), float(c["threshold"])):
                yield where, (f"threshold {c['threshold']} is stricter than the measurement it rests on "
                              f"({c['measured']} on {c['measured_on']})")


# --- the corpus and the real checkpoint --------------------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    """The tokenized corpus: batches of right-padded inputs, and the masked-LM batches with their positions."""

    batches: tuple[dict[str, np.ndarray], ...]
    mlm_batches: tuple[dict[str, np.ndarray], ...]
    mlm_positions: tuple[np.ndarray, ...]  # per MLM batch: [k, 2] (row, position) of the masked tokens
    entries: int


@dataclass(frozen=True)
class Checkpoint:
    """all-MiniLM-L6-v2 as the tier clauses load it: BertModel config and float32 state dict."""

    config: dict[str, Any]
    state_dict: dict[str, np.ndarray]


@functools.cache
def checkpoint() -> Checkpoint:
    """The real checkpoint (raises minilm.GoldenUnavailable without the ``minilm`` extra)."""
    from bert_conformance.golden.minilm import load_weights, minilm_config

    weights = {name: value.astype(np.float32) for name, value in load_weights().items()}
    for array in weights.values():
        array.setflags(write=False)
    return Checkpoint(minilm_config(), weights)


@functools.cache
def corpus() -> Corpus:
    """spec/tiers_corpus.yaml through the checkpoint's WordPiece vocabulary, in the spec's batches."""
    from tokenizers import BertWordPieceTokenizer

    from bert_conformance.golden.minilm import model_dir
    from bert_conformance.spec import load_spec

    data = load_spec().documents["tiers_corpus"]
    tokenizer = BertWordPieceTokenizer(str(model_dir() / "vocab.txt"), lowercase=True)
    tokenizer.enable_truncation(max_length=int(data["max_tokens"]))
    texts = [t if isinstance(t, str) else tuple(t) for t in data["texts"]]
    size = int(data["batch_size"])
    # batched by length (stable): each batch still mixes lengths, so nearly every batch is padded, but the
    # padding costs 10% of the compute instead of 55% in corpus order (measured: 7,700 against 15,400 positions)
    lengths = [len(e.ids) for e in tokenizer.encode_batch(texts)]
    ordered = [texts[i] for i in np.argsort(lengths, kind="stable")]
    batches = tuple(_encode(tokenizer, ordered[i:i + size]) for i in range(0, len(ordered), size))
    settings = tiers_spec().masked_lm
    singles = [t for t in texts if isinstance(t, str)][: int(settings["sentences"])]
    mask_id = tokenizer.token_to_id("[MASK]")
    mlm_batches, positions = [], []
    rng = np.random.default_rng(int(settings["seed"]))
    for i in range(0, len(singles), size):
        batch = _encode(tokenizer, singles[i:i + size])
        chosen = _mask_positions(batch, float(settings["fraction"]), rng)
        batch["input_ids"][chosen[:, 0], chosen[:, 1]] = mask_id
        mlm_batches.append(batch)
        positions.append(chosen)
    return Corpus(batches, tuple(mlm_batches), tuple(positions), len(texts))


def _encode(tokenizer: Any, texts: Sequence[Any]) -> dict[str, np.ndarray]:
    """Right-padded int64 input_ids, token_type_ids and attention_mask of a batch."""
    encodings = tokenizer.encode_batch(list(texts))
    seq = max(len(e.ids) for e in encodings)

    def padded(values: Callable[[Any], list[int]]) -> np.ndarray:
        return np.array([values(e) + [0] * (seq - len(e.ids)) for e in encodings], dtype=np.int64)

    return {"input_ids": padded(lambda e: e.ids), "token_type_ids": padded(lambda e: e.type_ids),
            "attention_mask": padded(lambda e: e.attention_mask)}


def _mask_positions(batch: dict[str, np.ndarray], fraction: float, rng: np.random.Generator) -> np.ndarray:
    """[k, 2] (row, position): ``fraction`` of each row's word pieces ([CLS]/[SEP]/padding excluded), at least 1."""
    chosen = []
    for row, length in enumerate(batch["attention_mask"].sum(axis=1)):
        inner = np.arange(1, int(length) - 1)  # between [CLS] and the final [SEP] (single segments here)
        count = max(1, round(fraction * len(inner)))
        chosen += [(row, int(p)) for p in sorted(rng.choice(inner, size=count, replace=False))]
    return np.array(chosen, dtype=np.int64).reshape(-1, 2)


# --- running a model over the corpus -----------------------------------------------------------------------


@dataclass(frozen=True)
class Outputs:
    """What the metrics need of one model's run over the corpus, in float64."""

    tokens: np.ndarray  # [attended tokens, hidden]: last_hidden_state at every attended position
    sentences: np.ndarray  # [entries, hidden]: mean of last_hidden_state over the attended positions
    pooled: np.ndarray  # [entries, hidden]: pooler_output
    masked: np.ndarray  # [masked tokens, hidden]: last_hidden_state at the masked-LM positions


def run(forward: Forward, data: Corpus) -> Outputs:
    """``forward`` (a port's model or the oracle) over every batch of the corpus."""
    tokens, sentences, pooled, masked = [], [], [], []
    for batch in data.batches:
        out = forward(batch)
        hidden = np.asarray(out["last_hidden_state"], dtype=np.float64)
        mask = batch["attention_mask"].astype(bool)
        tokens.append(hidden[mask])
        weights = mask[..., None].astype(np.float64)
        sentences.append((hidden * weights).sum(axis=1) / weights.sum(axis=1))
        pooled.append(np.asarray(out["pooler_output"], dtype=np.float64))
    for batch, positions in zip(data.mlm_batches, data.mlm_positions):
        hidden = np.asarray(forward(batch)["last_hidden_state"], dtype=np.float64)
        masked.append(hidden[positions[:, 0], positions[:, 1]])
    return Outputs(np.concatenate(tokens), np.concatenate(sentences), np.concatenate(pooled),
                   np.concatenate(masked))


# --- the metrics -------------------------------------------------------------------------------------------


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity (a zero row against a non-zero one is 0; NaN stays NaN: it fails)."""
    norms = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(norms > 0, (a * b).sum(axis=-1) / np.where(norms > 0, norms, 1), 0.0)


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 0..n-1 with ties averaged (what Spearman's coefficient needs)."""
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    ranked = np.empty(len(values), dtype=np.float64)
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]
    for start, end in zip(starts, ends):
        ranked[order[start:end]] = (start + end - 1) / 2
    return ranked


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two samples (Pearson's of their ranks)."""
    ra, rb = ranks(a) - (len(a) - 1) / 2, ranks(b) - (len(b) - 1) / 2
    denominator = np.sqrt((ra * ra).sum() * (rb * rb).sum())
    return float((ra * rb).sum() / denominator) if denominator > 0 else float("nan")


def pair_similarities(sentences: np.ndarray) -> np.ndarray:
    """Cosine similarity of every pair (i < j) of sentence embeddings."""
    norms = np.linalg.norm(sentences, axis=1, keepdims=True)
    unit = sentences / np.where(norms > 0, norms, 1)
    return (unit @ unit.T)[np.triu_indices(len(sentences), k=1)]


def classifier(hidden: int) -> tuple[np.ndarray, np.ndarray]:
    """The drawn classification head: BertForSequenceClassification's Linear(hidden, num_labels) on the
    pooled output, weights N(0, 1/hidden) and biases N(0, 0.1) from the spec's seed (HF's init would make all
    logits nearly equal and the argmax a coin flip)."""
    settings = tiers_spec().classification
    rng = np.random.default_rng(int(settings["seed"]))
    labels = int(settings["num_labels"])
    return rng.standard_normal((labels, hidden)) / np.sqrt(hidden), 0.1 * rng.standard_normal(labels)


def top_k(logits: np.ndarray, k: int) -> np.ndarray:
    """[n, k] indices of each row's k largest logits (unordered)."""
    return np.argpartition(-logits, k - 1, axis=1)[:, :k]


def measure(port: Outputs, oracle: Outputs, word_embeddings: np.ndarray) -> dict[str, float]:
    """Every metric of spec/tiers.yaml ``metrics`` for a port's run against the oracle's."""
    token_cos = cosines(port.tokens, oracle.tokens)
    sentence_cos = cosines(port.sentences, oracle.sentences)
    weight, bias = classifier(oracle.pooled.shape[1])
    port_labels = np.argmax(port.pooled @ weight.T + bias, axis=1)
    oracle_labels = np.argmax(oracle.pooled @ weight.T + bias, axis=1)
    # masked LM: a decoder tied to the real word embeddings (MiniLM ships no MLM head)
    embeddings = np.asarray(word_embeddings, dtype=np.float64)
    port_logits, oracle_logits = port.masked @ embeddings.T, oracle.masked @ embeddings.T
    port_top5, oracle_top5 = top_k(port_logits, 5), top_k(oracle_logits, 5)
    overlap = [len(set(a) & set(b)) / 5 for a, b in zip(port_top5, oracle_top5)]
    finite = bool(np.isfinite(port.tokens).all() and np.isfinite(port.pooled).all())
    nan = float("nan")
    return {
        "token_cosine_min": float(token_cos.min()) if finite else nan,
        "token_cosine_mean": float(token_cos.mean()) if finite else nan,
        "sentence_cosine_min": float(sentence_cos.min()) if finite else nan,
        "sentence_cosine_mean": float(sentence_cos.mean()) if finite else nan,
        "pair_spearman": spearman(pair_similarities(port.sentences), pair_similarities(oracle.sentences))
        if finite else nan,
        "classification_agreement": float((port_labels == oracle_labels).mean()),
        "mlm_top1_agreement": float((port_logits.argmax(axis=1) == oracle_logits.argmax(axis=1)).mean()),
        "mlm_top5_overlap": float(np.mean(overlap)),
        "max_abs_hidden": float(np.abs(port.tokens - oracle.tokens).max()) if finite else nan,
        "max_abs_pooler": float(np.abs(port.pooled - oracle.pooled).max()) if finite else nan,
    }
