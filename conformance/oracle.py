"""Expected values: the ONLY module of the suite that imports ``bert_reference``.

The oracle computes what a conforming port must return for (head, config, state_dict, inputs, options): the
reference model in float64 on CPU, eager attention, eval mode. Results are cached per process (keyed by a
digest of everything that determines them) and returned as read-only arrays, so clauses cannot corrupt each
other's expectations. :func:`get_oracle` is the seam for ``--bert-oracle``: "reference" (computed) or
"golden" (read from the golden fixtures).

It also draws the random weights the clauses load into ports (:meth:`ReferenceOracle.random_state_dict`):
key names, shapes and ties from the reference, values from a seeded numpy Generator (not torch's RNG).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, Protocol

import numpy as np

_CACHE_LIMIT = 256  # entries per cache; tiny models and inputs, so this bounds memory, not speed


class Oracle(Protocol):
    name: str

    def forward(
        self,
        head: str,
        config: dict[str, Any],
        state_dict: Mapping[str, np.ndarray],
        inputs: Mapping[str, Any],
        **options: Any,
    ) -> dict[str, Any]: ...

    def gradients(
        self,
        head: str,
        config: dict[str, Any],
        state_dict: Mapping[str, np.ndarray],
        inputs: Mapping[str, Any],
    ) -> dict[str, np.ndarray]: ...

    def random_state_dict(self, head: str, config: dict[str, Any], *, seed: int) -> dict[str, np.ndarray]: ...


def get_oracle(mode: str = "reference") -> Oracle:
    """The oracle for ``--bert-oracle MODE`` (one per process): "reference" computes expected values,
    "golden" reads them from the golden fixtures (``bert_conformance.golden.GoldenOracle``)."""
    if mode not in _ORACLES:
        if mode == "reference":
            _ORACLES[mode] = ReferenceOracle()
        elif mode == "golden":
            from bert_conformance.golden import GoldenOracle

            _ORACLES[mode] = GoldenOracle()
        else:
            raise ValueError(f"unknown oracle {mode!r}; expected 'reference' or 'golden'")
    return _ORACLES[mode]


_ORACLES: dict[str, Oracle] = {}


class ReferenceOracle:
    """``bert_reference`` in float64 on CPU with eager attention."""

    name = "reference"

    def __init__(self) -> None:
        import torch

        import bert_reference

        self._torch = torch
        self._reference = bert_reference
        self._models: dict[str, Any] = {}
        self._outputs: dict[str, dict[str, Any]] = {}

    # -- weights ---------------------------------------------------------------------------------------------

    def random_state_dict(self, head: str, config: dict[str, Any], *, seed: int) -> dict[str, np.ndarray]:
        """Random float32 weights under HF names, in saved-file form (tied targets left out).

        Values are O(1) so a wrong bias, scale or LayerNorm shows: Linear/embedding weights N(0, 1/fan_in),
        biases N(0, 0.1), LayerNorm weights 1 + N(0, 0.1).
        """
        module = self._build(head, config)
        rng = np.random.default_rng(seed)
        weights: dict[str, np.ndarray] = {}
        seen: set[int] = set()
        for name, tensor in module.hf_state_dict().items():
            if tensor.data_ptr() in seen:
                continue  # a tied target shares its source's storage; the saved file keeps only the source
            seen.add(tensor.data_ptr())
            weights[name] = draw_weight(rng, name, tuple(tensor.shape))
        return weights

    # -- expected values --------------------------------------------------------------------------------------

    def forward(
        self,
        head: str,
        config: dict[str, Any],
        state_dict: Mapping[str, np.ndarray],
        inputs: Mapping[str, Any],
        **options: Any,
    ) -> dict[str, Any]:
        """Expected outputs (float64 arrays, lists of them; ``cache`` stays the reference's object)."""
        model_key = _digest(head, config, state_dict)
        opaque = any(
            not isinstance(v, (bool, int, float, str, type(None), list, np.ndarray)) for v in options.values()
        )
        key = "" if opaque else _digest(model_key, inputs, options)
        if key and key in self._outputs:
            return dict(self._outputs[key])
        model = self._model(model_key, head, config, state_dict)
        torch = self._torch
        with torch.no_grad():
            output = model(**self._torch_kwargs({**inputs, **options}), return_dict=True)
        result = {name: _to_numpy(output[name], torch) for name in output.keys()}
        if key and "cache" not in result:  # a cache object is mutable: never share it between clauses
            _remember(self._outputs, key, result)
        return dict(result)

    def gradients(
        self,
        head: str,
        config: dict[str, Any],
        state_dict: Mapping[str, np.ndarray],
        inputs: Mapping[str, Any],
    ) -> dict[str, np.ndarray]:
        """d loss / d parameter in float64 for every HF parameter name (tied names share one gradient)."""
        model_key = _digest(head, config, state_dict)
        key = _digest("gradients", model_key, inputs)
        if key in self._outputs:
            return dict(self._outputs[key])
        model = self._model(model_key, head, config, state_dict)
        model.zero_grad(set_to_none=True)
        with self._torch.enable_grad():
            output = model(**self._torch_kwargs(inputs), return_dict=True)
            if output["loss"] is None:
                raise ValueError("oracle.gradients needs inputs with labels (the reference returned no loss)")
            output["loss"].backward()
        grads = {}
        for name, parameter in model.named_parameters(remove_duplicate=False):
            grad = parameter.grad if parameter.grad is not None else self._torch.zeros_like(parameter)
            grads[name] = _to_numpy(grad, self._torch)
        model.zero_grad(set_to_none=True)
        _remember(self._outputs, key, grads)
        return dict(grads)

    # -- internals --------------------------------------------------------------------------------------------

    def _build(self, head: str, config: dict[str, Any]) -> Any:
        classes = self._reference.HEAD_CLASSES
        if head not in classes:
            raise ValueError(f"oracle: unknown head {head!r}; expected one of {sorted(classes)}")
        return classes[head](self._reference.BertConfig.from_dict(dict(config)))

    def _model(
        self, key: str, head: str, config: dict[str, Any], state_dict: Mapping[str, np.ndarray]
    ) -> Any:
        if key not in self._models:
            torch = self._torch
            # float64 before loading: loading into float32 parameters would round the weights first.
            module = self._build(head, config).to(torch.float64)
            weights = {
                name: torch.tensor(np.asarray(v), dtype=torch.float64) for name, v in state_dict.items()
            }
            module.load_hf_state_dict(weights, strict=True)
            module.set_attn_implementation("eager")
            _remember(self._models, key, module.to(torch.float64).eval())
        return self._models[key]

    def _torch_kwargs(self, values: Mapping[str, Any]) -> dict[str, Any]:
        torch = self._torch
        kwargs = {}
        for name, value in values.items():
            if isinstance(value, np.ndarray):
                tensor = torch.tensor(value)
                value = tensor.to(torch.float64) if tensor.is_floating_point() else tensor
            kwargs[name] = value
        return kwargs


def reference_tokenizer(vocab_path: str) -> Any:
    """The reference tokenizer with default options: the expected values of the diagnosis's tokenizer probes."""
    from bert_reference.tokenizer import BertTokenizer

    return BertTokenizer(vocab_path)


def draw_weight(rng: np.random.Generator, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Random float32 values for one weight: O(1), so a misused bias, scale or LayerNorm shows."""
    if name.endswith("LayerNorm.weight"):
        values = 1.0 + 0.1 * rng.standard_normal(shape)
    elif len(shape) == 1:
        values = 0.1 * rng.standard_normal(shape)
    else:
        values = rng.standard_normal(shape) / np.sqrt(shape[-1])
    return values.astype(np.float32)


def _to_numpy(value: Any, torch: Any) -> Any:
    if isinstance(value, torch.Tensor):
        array = value.detach().cpu().numpy()
        array.setflags(write=False)
        return array
    if isinstance(value, (tuple, list)):
        return [_to_numpy(item, torch) for item in value]
    return value


def _remember(cache: dict[str, Any], key: str, value: Any) -> None:
    if len(cache) >= _CACHE_LIMIT:
        cache.pop(next(iter(cache)))  # oldest first
    cache[key] = value


def _digest(*parts: Any) -> str:
    """A stable digest of configs, arrays (dtype, shape, bytes) and plain values."""
    hasher = hashlib.sha256()
    for part in parts:
        _feed(hasher, part)
    return hasher.hexdigest()


def _feed(hasher: Any, value: Any) -> None:
    if isinstance(value, np.ndarray):
        hasher.update(f"array:{value.dtype.str}:{value.shape}:".encode())
        hasher.update(np.ascontiguousarray(value).tobytes())
    elif isinstance(value, Mapping):
        hasher.update(b"map:")
        for key in sorted(value):
            hasher.update(f"{key}=".encode())
            _feed(hasher, value[key])
    elif isinstance(value, (list, tuple)):
        hasher.update(f"seq:{len(value)}:".encode())
        for item in value:
            _feed(hasher, item)
    else:
        hasher.update(json.dumps(value, sort_keys=True, default=repr).encode())
    hasher.update(b";")
