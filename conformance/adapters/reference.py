"""The ``reference`` port: ``bert_reference`` behind the adapter contract, a port like any other.

(The suite's *expected* values come from ``bert_conformance.oracle``, not from this module.)
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

import bert_reference
from bert_conformance.adapters import _tokenizer
from bert_conformance.adapters._torch import TorchModel, torch_dtype, torch_state_dict


class ReferenceImplementation:
    """The reference PyTorch BERT: every head, every dtype, eager and sdpa, decoder and cache."""

    def capabilities(self) -> dict[str, Any]:
        return {
            "name": "bert_reference",
            "version": bert_reference.__version__,
            "heads": sorted(bert_reference.HEAD_CLASSES),
            "dtypes": ["float64", "float32", "float16", "bfloat16"],
            "devices": ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"],
            "attention": ["eager", "sdpa"],
            "features": [
                "decoder", "cache", "cross_attention", "gradients", "loss", "float64", "tokenizer", "data", "nsp_data",
                "packed_sequences",
            ],
        }

    def load_model(
        self,
        head: str,
        config: dict[str, Any],
        state_dict: dict[str, np.ndarray],
        *,
        dtype: str,
        device: str = "cpu",
        attention: str = "sdpa",
    ) -> TorchModel:
        if head not in bert_reference.HEAD_CLASSES:
            raise ValueError(f"reference port: unknown head {head!r}")
        module = bert_reference.HEAD_CLASSES[head](bert_reference.BertConfig.from_dict(config))
        module.to(torch_dtype(dtype))  # load in the target dtype: no detour through float32 for float64 weights
        module.load_hf_state_dict(torch_state_dict(state_dict), strict=True)
        module.set_attn_implementation(attention)
        return TorchModel(module, dtype=dtype, device=device)

    # Tokenizer and data features (docs/adapters.md, "Tokenizer and data clauses").
    def load_tokenizer(self, vocab_path: str, **options: Any) -> Any:
        return _tokenizer.load_reference_tokenizer(vocab_path, **options)

    def mask_tokens(self, input_ids: np.ndarray, special_tokens_mask: np.ndarray, *, vocab_size: int,
                    mask_token_id: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        return _tokenizer.reference_mask_tokens(input_ids, special_tokens_mask, vocab_size=vocab_size,
                                                mask_token_id=mask_token_id, seed=seed)

    def make_nsp_pairs(self, documents: list[list[str]], *, seed: int) -> list[tuple[str, str, int]]:
        return _tokenizer.reference_nsp_pairs(documents, seed=seed)


implementation = ReferenceImplementation()
