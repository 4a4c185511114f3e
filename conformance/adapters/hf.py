"""The ``transformers`` port: Hugging Face Transformers v5 BERT behind the adapter contract.

Needs the optional extra (``pip install 'bert-conformance[transformers]'``); selecting it without transformers
installed is a usage error. Models are built from the config dict and the numpy state dict, never downloaded.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch
import transformers

from bert_conformance.adapters import _tokenizer
from bert_conformance.adapters._torch import TorchModel, load_checked, torch_dtype

HEADS = (
    "BertModel",
    "BertForPreTraining",
    "BertLMHeadModel",
    "BertForMaskedLM",
    "BertForNextSentencePrediction",
    "BertForSequenceClassification",
    "BertForMultipleChoice",
    "BertForTokenClassification",
    "BertForQuestionAnswering",
)

# transformers 5.25 passes position_ids to BERT's mask builders, which then detect packed sequences (position_ids
# without an attention_mask, no cache); earlier v5 releases did not (spec clause heads.common.packed_sequences).
PACKS_SEQUENCES = "position_ids" in inspect.signature(
    transformers.models.bert.modeling_bert.BertModel._create_attention_masks
).parameters

LEGACY_RENAMES = {"LayerNorm.gamma": "LayerNorm.weight", "LayerNorm.beta": "LayerNorm.bias"}
LEGACY_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")
BASE_KEYS = ("embeddings.", "encoder.", "pooler.")


def hf_checkpoint_keys(head: str, state_dict: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The key handling of HF's ``from_pretrained`` (conversion_mapping.py, modeling_utils.py), which plain
    ``load_state_dict`` lacks: legacy gamma/beta names, unused buffers from old checkpoints, and the ``bert.``
    prefix added (base checkpoint -> head) or removed (head checkpoint -> BertModel, head keys unused)."""
    renamed = {}
    for key, value in state_dict.items():
        for old, new in LEGACY_RENAMES.items():
            if key.endswith(old):
                key = key[: -len(old)] + new
        if not key.endswith(LEGACY_BUFFERS):
            renamed[key] = value
    has_prefix = any(key.startswith("bert.") for key in renamed)
    if head == "BertModel" and has_prefix:
        return {key[len("bert."):]: v for key, v in renamed.items() if key.startswith("bert.")}
    if head != "BertModel" and not has_prefix:
        return {f"bert.{key}" if key.startswith(BASE_KEYS) else key: v for key, v in renamed.items()}
    return renamed


class TransformersImplementation:
    """HF ``transformers.Bert*`` classes, float32/float64/float16/bfloat16, eager and sdpa."""

    def capabilities(self) -> dict[str, Any]:
        return {
            "name": "transformers",
            "version": transformers.__version__,
            "heads": list(HEADS),
            "dtypes": ["float64", "float32", "float16", "bfloat16"],
            "devices": ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"],
            "attention": ["eager", "sdpa"],
            # no nsp_data: transformers v5 has no next-sentence pair builder
            "features": [
                "decoder", "cache", "cross_attention", "gradients", "loss", "float64", "tokenizer", "data",
                *(["packed_sequences"] if PACKS_SEQUENCES else []),
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
        if head not in HEADS:
            raise ValueError(f"transformers port: unknown head {head!r}")
        module = getattr(transformers, head)(transformers.BertConfig.from_dict(config))
        module.to(torch_dtype(dtype))  # load in the target dtype: no detour through float32 for float64 weights
        module.set_attn_implementation(attention)
        load_checked(module, hf_checkpoint_keys(head, state_dict))
        return TorchModel(module, dtype=dtype, device=device)

    # Tokenizer and data features (docs/adapters.md, "Tokenizer and data clauses").
    def load_tokenizer(self, vocab_path: str, **options: Any) -> Any:
        return _tokenizer.load_hf_tokenizer(vocab_path, **options)

    def mask_tokens(self, input_ids: np.ndarray, special_tokens_mask: np.ndarray, *, vocab_size: int,
                    mask_token_id: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        return _tokenizer.hf_mask_tokens(input_ids, special_tokens_mask, vocab_size=vocab_size,
                                         mask_token_id=mask_token_id, seed=seed)


implementation = TransformersImplementation()
