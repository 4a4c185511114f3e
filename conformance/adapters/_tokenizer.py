"""Adapter-side helpers for the ``tokenizer``, ``data`` and ``nsp_data`` features (docs/adapters.md,
"Tokenizer and data clauses"), shared by the built-in ``reference`` and ``transformers`` ports.

The contract, framework-free (lists, numpy arrays, str):

- ``load_tokenizer(vocab_path, **options)``: ``vocab_path`` is a vocab.txt or a tokenizer.json; options are
  :data:`TOKENIZER_OPTIONS`. The tokenizer is called like HF's (``tok(text, text_pair, padding=...,
  truncation=..., ...)`` -> dict of lists or numpy arrays), and has ``decode`` and ``convert_tokens_to_ids``.
- ``mask_tokens(input_ids, special_tokens_mask, *, vocab_size, mask_token_id, seed)`` -> (masked_ids, labels),
  int64 arrays shaped like ``input_ids`` (feature ``data``).
- ``make_nsp_pairs(documents, *, seed)`` -> list of (sentence_a, sentence_b, label) (feature ``nsp_data``).

Imports of ``bert_reference`` and ``transformers`` are lazy, so each port pulls in only its own library.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

TOKENIZER_OPTIONS = ("do_lower_case", "strip_accents", "tokenize_chinese_chars")


def check_options(options: dict[str, Any], port: str) -> None:
    unknown = sorted(set(options) - set(TOKENIZER_OPTIONS))
    if unknown:
        raise TypeError(
            f"{port}: load_tokenizer() got unknown option(s) {unknown}; known: {', '.join(TOKENIZER_OPTIONS)}"
        )


def vocab_entries(path: str | Path) -> int:
    """How many tokens the file defines: lines of a vocab.txt (a final newline adds none), or the size of a
    tokenizer.json's ``model.vocab``."""
    path = Path(path)
    data = path.read_bytes()
    if path.suffix == ".json":
        return len(json.loads(data.decode("utf-8"))["model"]["vocab"])
    return data.count(b"\n") + (0 if not data or data.endswith(b"\n") else 1)


# --- reference ----------------------------------------------------------------------------------------------


def load_reference_tokenizer(vocab_path: str, **options: Any) -> Any:
    """``bert_reference.tokenizer.BertTokenizer``: it already follows HF's call conventions."""
    from bert_reference.tokenizer import BertTokenizer

    check_options(options, "reference")
    return BertTokenizer(vocab_path, **options)


def reference_mask_tokens(
    input_ids: np.ndarray, special_tokens_mask: np.ndarray, *, vocab_size: int, mask_token_id: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    from bert_reference.data import mask_tokens

    masked, labels = mask_tokens(
        np.asarray(input_ids, dtype=np.int64),
        mask_token_id=mask_token_id,
        vocab_size=vocab_size,
        special_tokens_mask=np.asarray(special_tokens_mask),
        generator=int(seed),
    )
    return np.asarray(masked, dtype=np.int64), np.asarray(labels, dtype=np.int64)


def reference_nsp_pairs(documents: Sequence[Sequence[str]], *, seed: int) -> list[tuple[str, str, int]]:
    from bert_reference.data import make_nsp_pairs

    return [
        (pair.sentence_a, pair.sentence_b, int(pair.label))
        for pair in make_nsp_pairs(documents, generator=int(seed))
    ]


# --- transformers -------------------------------------------------------------------------------------------


class HFTokenizer:
    """``transformers.BertTokenizer`` behind the contract: its BatchEncoding becomes a plain dict."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    def __call__(self, text: Any, text_pair: Any = None, **kwargs: Any) -> dict[str, Any]:
        return dict(self.tokenizer(text, text_pair, **kwargs))

    def decode(self, ids: Any, **kwargs: Any) -> str:
        return self.tokenizer.decode(ids, **kwargs)

    def convert_tokens_to_ids(self, tokens: Any) -> Any:
        return self.tokenizer.convert_tokens_to_ids(tokens)


def load_hf_tokenizer(vocab_path: str, **options: Any) -> HFTokenizer:
    """``BertTokenizer(vocab=path)`` for a vocab.txt (``vocab_file=`` is silently ignored by HF v5), or
    ``from_pretrained`` of the folder for a tokenizer.json (which rebuilds the pipeline from its vocabulary,
    where ``tokenizer_file=`` would use the stored pipeline as is)."""
    import transformers

    check_options(options, "transformers")
    path = Path(vocab_path)
    if path.suffix == ".json":
        tokenizer = transformers.BertTokenizer.from_pretrained(
            str(path.parent), local_files_only=True, **options
        )
    else:
        tokenizer = transformers.BertTokenizer(vocab=str(path), **options)
    # HF loads duplicate lines (last id wins), a byte-order mark or missing special tokens without a word;
    # its token count then differs from the file's. A port must not run on a vocabulary it misread.
    expected = vocab_entries(path)
    if len(tokenizer) != expected:
        raise ValueError(
            f"{path}: transformers.BertTokenizer holds {len(tokenizer)} tokens, the file defines "
            f"{expected} (duplicate lines, a byte-order mark or missing special tokens)"
        )
    return HFTokenizer(tokenizer)


class _MaskingVocab:
    """What DataCollatorForLanguageModeling reads from its tokenizer when special_tokens_mask is given."""

    mask_token = "[MASK]"
    is_fast = True

    def __init__(self, vocab_size: int, mask_token_id: int) -> None:
        self.vocab_size, self.mask_token_id = vocab_size, mask_token_id

    def __len__(self) -> int:
        return self.vocab_size


def hf_mask_tokens(
    input_ids: np.ndarray, special_tokens_mask: np.ndarray, *, vocab_size: int, mask_token_id: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """HF's own masking draw (``DataCollatorForLanguageModeling.numpy_mask_tokens``, seeded generator)."""
    from transformers import DataCollatorForLanguageModeling

    collator = DataCollatorForLanguageModeling(
        _MaskingVocab(vocab_size, mask_token_id), mlm=True, return_tensors="np", seed=int(seed)
    )
    collator.create_rng("np")
    ids = np.array(input_ids, dtype=np.int64, copy=True)  # HF masks in place
    masked, labels = collator.numpy_mask_tokens(
        ids, special_tokens_mask=np.asarray(special_tokens_mask, dtype=bool)
    )
    return np.asarray(masked, dtype=np.int64), np.asarray(labels, dtype=np.int64)
