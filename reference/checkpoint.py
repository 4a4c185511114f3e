"""Checkpoints in transformers' format: HF state-dict keys, config.json + model.safetensors.

Loading accepts what transformers accepts: tied targets absent (as in saved files) or present with the same
values, legacy `LayerNorm.gamma/beta` names, a base-model checkpoint loaded into a head (and back) with the
`bert.` prefix added or removed, and the old `embeddings.position_ids` / `token_type_ids` buffers (ignored).
Unlike transformers, a tied pair present with different values is an error (transformers unties them with a
warning), and with `strict=True` (the default) missing or unexpected keys raise one readable ValueError.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any, NamedTuple, TypeVar

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from .config import BertConfig, _atomic_write_text

# parameters.legacy.buffers_in_checkpoint: old buffers, read and ignored
_LEGACY_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")
# parameters.legacy.layernorm_gamma_beta: TensorFlow-era names
_LEGACY_NAMES = (("LayerNorm.gamma", "LayerNorm.weight"), ("LayerNorm.beta", "LayerNorm.bias"))
_DTYPES = {"float64": torch.float64, "float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}

Model = TypeVar("Model", bound="CheckpointMixin")


class LoadResult(NamedTuple):
    missing_keys: list[str]
    unexpected_keys: list[str]


class CheckpointMixin:
    """State-dict and checkpoint methods of BertPreTrainedModel (needs `config` and `_tied_weights_keys`)."""

    config: BertConfig
    base_model_prefix: str
    _tied_weights_keys: dict[str, str]

    def tied_weights(self) -> dict[str, str]:
        """Tied target -> source names in effect (none when config.tie_word_embeddings is False)."""
        return dict(self._tied_weights_keys) if self.config.tie_word_embeddings else {}

    def hf_state_dict(self) -> dict[str, Tensor]:
        """Exactly the keys of transformers' `model.state_dict()`, tied targets included
        (parameters.<Head>.keys, e.g. parameters.BertModel.keys)."""
        return dict(self.state_dict())  # type: ignore[attr-defined]

    def load_hf_state_dict(self, state_dict: dict[str, Tensor], strict: bool = True) -> LoadResult:
        """Load transformers-named weights (see the module docstring for what is accepted)."""
        expected = self.state_dict()  # type: ignore[attr-defined]
        state_dict, original_names = _normalise(state_dict, set(expected), self.base_model_prefix)
        _check_shapes(state_dict, expected)
        state_dict, tied_loaded = _resolve_ties(state_dict, self.tied_weights())
        missing = sorted(set(expected) - set(state_dict) - tied_loaded)
        unexpected = sorted(original_names[name] for name in set(state_dict) - set(expected))  # as in the file
        if strict and (missing or unexpected):
            raise ValueError(_mismatch_message(type(self).__name__, missing, unexpected))
        if missing or unexpected:
            warnings.warn(_mismatch_message(type(self).__name__, missing, unexpected), stacklevel=2)
        with torch.no_grad():
            for name, value in state_dict.items():
                if name in expected:
                    expected[name].copy_(value)  # state_dict() tensors share storage with the parameters
        return LoadResult(missing, unexpected)

    def save_pretrained(self, path: str | os.PathLike[str]) -> None:
        """Write config.json + model.safetensors that transformers loads unchanged: every key but the targets
        of active ties (parameters.saved.tied_targets_absent, parameters.saved.untied_all_present)."""
        path = os.fspath(path)
        if os.path.exists(path) and not os.path.isdir(path):
            raise ValueError(f"save_pretrained: {path} exists and is not a directory")
        os.makedirs(path, exist_ok=True)
        tensors = {
            name: tensor.detach().cpu().contiguous()
            for name, tensor in self.hf_state_dict().items()
            if name not in self.tied_weights()
        }
        dtype = next(iter(tensors.values())).dtype
        config = self.config.to_hf_dict(architectures=[type(self).__name__])
        config["dtype"] = str(dtype).removeprefix("torch.")
        weights = os.path.join(path, "model.safetensors")
        temporary = f"{weights}.tmp-{os.getpid()}"
        try:
            save_file(tensors, temporary, metadata={"format": "pt"})
            _atomic_write_text(os.path.join(path, "config.json"), json.dumps(config, indent=2, sort_keys=True) + "\n")
            os.replace(temporary, weights)
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)

    @classmethod
    def from_pretrained(
        cls: type[Model],
        path: str | os.PathLike[str],
        *,
        dtype: torch.dtype | str | None = None,
        attn_implementation: str | None = None,
        device: torch.device | str | None = None,
        strict: bool = True,
    ) -> Model:
        """Load a transformers model directory; dtype None means the checkpoint's (transformers' "auto")."""
        path = os.fspath(path)
        config_file = os.path.join(path, "config.json")
        if not os.path.isfile(config_file):
            raise ValueError(f"from_pretrained: {config_file} not found")
        config = BertConfig.from_json_file(config_file)
        if attn_implementation is not None:
            config.attn_implementation = attn_implementation
            config.validate()
        state_dict = read_weights(path)
        model = cls(config)  # type: ignore[call-arg]
        model.load_hf_state_dict(state_dict, strict=strict)
        target = _resolve_dtype(dtype, config, state_dict)
        return model.to(device=device, dtype=target).eval()  # type: ignore[attr-defined]


def read_weights(path: str) -> dict[str, Tensor]:
    """model.safetensors, a sharded safetensors index, or pytorch_model.bin (torch.load, weights_only)."""
    single = os.path.join(path, "model.safetensors")
    index = os.path.join(path, "model.safetensors.index.json")
    pickle = os.path.join(path, "pytorch_model.bin")
    try:
        if os.path.isfile(single):
            return load_file(single)
        if os.path.isfile(index):
            with open(index, encoding="utf-8") as handle:
                shards = sorted(set(json.load(handle)["weight_map"].values()))
            return {name: t for shard in shards for name, t in load_file(os.path.join(path, shard)).items()}
        if os.path.isfile(pickle):
            return torch.load(pickle, map_location="cpu", weights_only=True)
    except (OSError, KeyError, ValueError, RuntimeError) as error:
        raise ValueError(f"from_pretrained: cannot read weights in {path}: {error}") from error
    raise ValueError(f"from_pretrained: no model.safetensors, model.safetensors.index.json or pytorch_model.bin in {path}")


def _resolve_dtype(dtype: Any, config: BertConfig, state_dict: dict[str, Tensor]) -> torch.dtype:
    if dtype is None:
        dtype = config.extra.get("dtype") or config.extra.get("torch_dtype")
        if dtype is None:
            dtype = next(t.dtype for t in state_dict.values() if t.is_floating_point())
    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {sorted(_DTYPES)} or a torch.dtype, got {dtype!r}")
        dtype = _DTYPES[dtype]
    if dtype not in _DTYPES.values():
        raise ValueError(f"dtype must be one of {sorted(_DTYPES)} or a torch.dtype, got {dtype!r}")
    return dtype


def _normalise(
    state_dict: dict[str, Tensor], expected: set[str], prefix: str
) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Map legacy names and buffers, and the base-model prefix, to this model's key names.

    Returns the renamed state dict and, for each new name, the name it had in the checkpoint."""
    renamed = {}
    for name, value in state_dict.items():
        if not isinstance(value, Tensor):
            raise ValueError(f"state dict entry {name!r} is not a torch.Tensor ({type(value).__name__})")
        if name.endswith(_LEGACY_BUFFERS):
            continue
        new_name = name
        for old, new in _LEGACY_NAMES:
            if new_name.endswith(old):
                new_name = new_name[: -len(old)] + new
        renamed[new_name] = (name, value)
    dotted = prefix + "."  # parameters.legacy.prefix: "bert." added or removed
    model_prefixed = any(key.startswith(dotted) for key in expected)
    file_prefixed = any(key.startswith(dotted) for key in renamed)
    if model_prefixed and not file_prefixed:  # base-model checkpoint into a head
        renamed = {dotted + key: item for key, item in renamed.items()}
    elif file_prefixed and not model_prefixed:  # head checkpoint into the base model
        renamed = {key.removeprefix(dotted): item for key, item in renamed.items()}
    return {key: value for key, (_, value) in renamed.items()}, {key: name for key, (name, _) in renamed.items()}


def _resolve_ties(state_dict: dict[str, Tensor], ties: dict[str, str]) -> tuple[dict[str, Tensor], set[str]]:
    """Keep one tensor per tied pair under the source name; return the targets it also fills. Either name of a
    pair fills both (parameters.saved.tied_load_symmetric)."""
    state_dict = dict(state_dict)
    filled = set()
    for target, source in ties.items():
        if target in state_dict and source in state_dict:
            a, b = state_dict[target], state_dict[source]
            if a.shape != b.shape or not torch.equal(a, b.to(a.dtype)):
                raise ValueError(
                    f"tied weights differ: {target} and {source} are the same parameter "
                    "(config.tie_word_embeddings=True) but the state dict holds different values"
                )
            del state_dict[target]
        elif target in state_dict:
            state_dict[source] = state_dict.pop(target)
        if source in state_dict:
            filled.add(target)
    return state_dict, filled


def _check_shapes(state_dict: dict[str, Tensor], expected: dict[str, Tensor]) -> None:
    wrong = [
        f"  {name}: checkpoint {list(value.shape)}, model {list(expected[name].shape)}"
        for name, value in sorted(state_dict.items())
        if name in expected and value.shape != expected[name].shape
    ]
    if wrong:
        raise ValueError("state dict shapes do not match the model:\n" + "\n".join(wrong))


def _mismatch_message(model: str, missing: list[str], unexpected: list[str]) -> str:
    lines = [f"state dict does not match {model}:"]
    if missing:
        lines.append(f"  missing keys ({len(missing)}): " + ", ".join(missing))
    if unexpected:
        lines.append(f"  unexpected keys ({len(unexpected)}): " + ", ".join(unexpected))
    return "\n".join(lines)
