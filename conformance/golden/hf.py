"""The transformers cross-check of golden cases: HF BERT in float64, eager attention, eval mode, weights
loaded strictly, fed exactly like the reference (same inputs, options, decoder steps)."""

from __future__ import annotations

import inspect
import os
from typing import Any

import numpy as np

from .cases import CaseSpec
from .files import flatten_outputs

# Keys HF ties to another parameter; a saved state dict leaves them out.
TIED_TARGETS = ("cls.predictions.decoder.weight", "cls.predictions.decoder.bias")


def transformers_version() -> str | None:
    """The installed transformers version, or None when it is not installed (the cross-check is skipped)."""
    try:
        import transformers
    except ImportError:
        return None
    return transformers.__version__


def hf_model(head: str, config: dict[str, Any], state_dict: dict[str, np.ndarray]) -> Any:
    """transformers.<head> in float64 eval mode with exactly these weights (a missing or extra key raises)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    import transformers
    from transformers.utils import logging

    logging.set_verbosity_error()  # "add is_decoder", "loss_type=None" warnings are expected here
    cfg = transformers.BertConfig(**config, attn_implementation="eager")
    model = getattr(transformers, head)(cfg).to(torch.float64).eval()
    tensors = {k: torch.from_numpy(np.array(v, order="C")) for k, v in state_dict.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    tied = TIED_TARGETS if config.get("tie_word_embeddings", True) else ()
    missing = [k for k in missing if not k.endswith(tied)]
    if missing or unexpected:
        raise ValueError(f"transformers.{head}: state dict mismatch: missing {missing}, unexpected {unexpected}")
    return model


def hf_expected(spec: CaseSpec, weights: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """What transformers returns for the case, under golden names (``expected.*``, ``step.<k>.*``, ``grad.*``)."""
    import torch

    model = hf_model(spec.head, spec.config, weights)
    if spec.steps:
        return _steps(model, spec)
    with torch.set_grad_enabled(spec.gradients):
        output = model(**_torch(spec.inputs), **spec.options)
    tensors = {f"expected.{k}": v for k, v in flatten_outputs(output).items()}
    if spec.gradients:
        model.zero_grad(set_to_none=True)
        output.loss.backward()
        params = dict(model.named_parameters(remove_duplicate=False))
        for key in weights:
            grad = params[key].grad
            tensors[f"grad.{key}"] = np.zeros(params[key].shape) if grad is None else grad.detach().numpy().copy()
    return tensors


def _steps(model: Any, spec: CaseSpec) -> dict[str, np.ndarray]:
    import torch

    # transformers >= 5.24 takes the cache as `cache` (`past_key_values` is a deprecated alias until 5.40).
    kwarg = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    tensors, cache = {}, None
    with torch.no_grad():
        for k, inputs in enumerate((spec.inputs, *spec.steps)):
            extra = {} if cache is None else {kwarg: cache}
            output = model(**_torch(inputs), **spec.options, **extra)
            cache = output[kwarg]
            tensors.update({f"step.{k}.expected.{n}": v for n, v in flatten_outputs(output).items()})
    return tensors


def _torch(inputs: dict[str, np.ndarray]) -> dict[str, Any]:
    import torch

    return {name: torch.from_numpy(np.array(value, order="C")) for name, value in inputs.items()}
