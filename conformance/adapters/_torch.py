"""Shared plumbing of the PyTorch-backed ports (reference, transformers): numpy <-> torch at the boundary.

Nothing here is part of the contract; it is just how these two ports meet it. Integer and bool inputs keep
their dtype; floating inputs (``inputs_embeds``, float masks, float labels) are cast to the model dtype.
bfloat16 tensors leave the port as float32 arrays (numpy has no bfloat16; the values stay representable).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

TORCH_DTYPES = {
    "float64": torch.float64,
    "float32": torch.float32,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


def torch_dtype(dtype: str) -> torch.dtype:
    if dtype not in TORCH_DTYPES:
        raise ValueError(f"unsupported dtype {dtype!r}; expected one of {sorted(TORCH_DTYPES)}")
    return TORCH_DTYPES[dtype]


def torch_state_dict(state_dict: Mapping[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """numpy -> torch, copying (the suite's arrays may be read-only)."""
    return {name: torch.tensor(np.asarray(value)) for name, value in state_dict.items()}


def load_checked(module: torch.nn.Module, state_dict: Mapping[str, np.ndarray]) -> None:
    """``load_state_dict`` that accepts the saved-file form: tied targets may be absent, nothing else may."""
    result = module.load_state_dict(torch_state_dict(state_dict), strict=False)
    aliases = _tied_aliases(module)
    missing = [name for name in result.missing_keys if not (aliases.get(name, set()) & set(state_dict))]
    if missing or result.unexpected_keys:
        raise ValueError(f"state dict mismatch: missing {missing}, unexpected {list(result.unexpected_keys)}")


def _tied_aliases(module: torch.nn.Module) -> dict[str, set[str]]:
    """Parameter name -> the other names of the same tensor (tied weights)."""
    by_tensor: dict[int, set[str]] = {}
    for name, parameter in module.named_parameters(remove_duplicate=False):
        by_tensor.setdefault(id(parameter), set()).add(name)
    return {name: names - {name} for names in by_tensor.values() for name in names}


def to_torch(value: Any, *, dtype: torch.dtype, device: str) -> Any:
    """Inputs and options: numpy arrays become tensors on ``device``; other values pass through unchanged."""
    if isinstance(value, np.ndarray):
        tensor = torch.tensor(value)  # a copy: the suite's arrays may be read-only
        if tensor.is_floating_point():
            tensor = tensor.to(dtype)
        return tensor.to(device)
    return value


def to_numpy(value: Any) -> Any:
    """Outputs: tensors become numpy (bfloat16 as float32), tuples become lists, caches stay opaque."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        if value.dtype == torch.bfloat16:
            value = value.float()
        return value.numpy()
    if isinstance(value, (tuple, list)):
        return [to_numpy(item) for item in value]
    return value


class TorchModel:
    """A loaded torch module behind the numpy contract (eval mode: no dropout)."""

    def __init__(self, module: torch.nn.Module, *, dtype: str, device: str) -> None:
        self.module = module.to(device=device, dtype=torch_dtype(dtype)).eval()
        self.dtype = torch_dtype(dtype)
        self.device = device

    def _kwargs(self, inputs: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
        kwargs = {
            k: to_torch(v, dtype=self.dtype, device=self.device) for k, v in {**inputs, **options}.items()
        }
        kwargs["return_dict"] = True
        return kwargs

    def forward(self, inputs: dict[str, np.ndarray], **options: Any) -> dict[str, Any]:
        with torch.no_grad():
            output = self.module(**self._kwargs(inputs, options))
        return {name: to_numpy(output[name]) for name in output.keys()}

    def gradients(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """d loss / d parameter for every HF parameter name (tied names share one gradient)."""
        self.module.zero_grad(set_to_none=True)
        with torch.enable_grad():
            output = self.module(**self._kwargs(inputs, {}))
            if output.get("loss") is None:
                raise ValueError("gradients() needs inputs with labels (the forward returned no loss)")
            output["loss"].backward()
        grads = {}
        for name, parameter in self.module.named_parameters(remove_duplicate=False):
            grad = parameter.grad if parameter.grad is not None else torch.zeros_like(parameter)
            grads[name] = to_numpy(grad)
        self.module.zero_grad(set_to_none=True)
        return grads
