"""Benchmark sessions: one loaded model, its inputs placed once, and a step to time.

The optional adapter capability ``benchmark`` (docs/benchmarks.md): a port's model may provide
``benchmark_session(inputs: dict[str, np.ndarray], *, train: bool, grad_names: tuple[str, ...])
-> BenchmarkSession``. Only numpy
crosses that boundary (``check()`` and ``outputs()`` return numpy arrays); ``step()`` returns nothing, so a
port keeps its tensors on its device while it is timed. The built-in torch ports (``reference``,
``transformers``) are driven by :class:`TorchSession` here, around the module their adapter loaded.
"""

from __future__ import annotations

import gc
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch

from benchmarks.memory import static_bytes, step_peak_bytes
from benchmarks.workload import HEAD

TORCH_PORTS = ("reference", "transformers")


@runtime_checkable
class BenchmarkSession(Protocol):
    """What the harness needs from a port to time it (all methods but ``step`` are untimed)."""

    def step(self) -> None:
        """One timed step; returns when the work is done (CUDA: synchronised).

        train: forward with labels in training mode (the config's dropout) + backward of the loss.
        infer: forward without labels, no gradients.
        """

    def check(self) -> dict[str, np.ndarray]:
        """One deterministic step (dropout off) and its outputs: ``logits`` (+ ``loss`` and
        ``grad.<hf name>`` of the parameters asked for when training)."""

    def outputs(self) -> dict[str, np.ndarray]:
        """The outputs of the last ``step()`` (same names as ``check()``)."""

    def peak_memory_bytes(self) -> int | None:
        """Peak bytes of one step, static bytes included (None if the port cannot measure it)."""

    def close(self) -> None:
        """Release the model and its buffers."""


class TorchSession:
    """A torch module with HF keyword arguments (``reference``, ``transformers``) as a BenchmarkSession."""

    def __init__(
        self,
        module: torch.nn.Module,
        inputs: Mapping[str, np.ndarray],
        *,
        train: bool,
        device: str,
        grad_names: Sequence[str] = (),
    ) -> None:
        self.module = module
        self.train = train
        self.device = device
        names = dict(module.named_parameters())
        unknown = [n for n in grad_names if n not in names]
        if unknown:
            raise KeyError(f"{type(module).__name__} has no parameters {unknown}")
        self.grad_parameters = {n: names[n] for n in grad_names} if train else {}
        wanted = {k: v for k, v in inputs.items() if train or k != "labels"}
        self.inputs = {k: torch.from_numpy(np.ascontiguousarray(v)).to(device) for k, v in wanted.items()}
        self._last: dict[str, torch.Tensor] | None = None

    def step(self) -> None:
        self._run(dropout=True)

    def check(self) -> dict[str, np.ndarray]:
        self._run(dropout=False)
        return self.outputs()

    def outputs(self) -> dict[str, np.ndarray]:
        if self._last is None:
            raise RuntimeError("outputs() before any step()")
        out = {name: _numpy(t) for name, t in self._last.items()}
        for name, parameter in self.grad_parameters.items():
            if parameter.grad is None:
                raise RuntimeError(f"no gradient for {name} after the training step")
            out[f"grad.{name}"] = _numpy(parameter.grad)
        return out

    def peak_memory_bytes(self) -> int:
        self._last = None  # the previous step's outputs must not be freed inside the measured step
        self.module.zero_grad(set_to_none=True)  # gradients are allocated by the step, as in the seed
        gc.collect()
        peak = step_peak_bytes(self.step, self.device)
        held = [*self.module.parameters(), *self.module.buffers(), *self.inputs.values()]
        return static_bytes(held) + peak

    def close(self) -> None:
        self._last = None
        self.module = None  # type: ignore[assignment]
        self.inputs = {}
        self.grad_parameters = {}
        gc.collect()
        if self.device == "cuda":
            torch.cuda.empty_cache()

    def _run(self, *, dropout: bool) -> None:
        module = self.module
        if self.train:
            module.train(dropout)  # eval() only switches dropout off; the computation is the same
            module.zero_grad(set_to_none=True)
            output = module(**self.inputs)
            output.loss.backward()
            self._last = {"loss": output.loss.detach(), "logits": output.logits.detach()}
            module.train(True)
        else:
            module.eval()
            with torch.inference_mode():
                output = module(**self.inputs)
            self._last = {"logits": output.logits}
        if self.device == "cuda":
            torch.cuda.synchronize()


def open_session(
    port_name: str,
    config: dict[str, Any],
    state_dict: dict[str, np.ndarray],
    inputs: dict[str, np.ndarray],
    *,
    train: bool,
    dtype: str,
    device: str,
    attention: str,
    grad_names: Sequence[str] = (),
) -> BenchmarkSession:
    """Load ``port_name`` through the adapter contract and open a benchmark session on it."""
    from bert_conformance.adapter import load_implementation

    port = load_implementation(port_name)
    model = port.impl.load_model(HEAD, dict(config), dict(state_dict), dtype=dtype, device=device, attention=attention)
    if callable(getattr(model, "benchmark_session", None)):
        if "benchmark" not in port.capabilities.features:
            raise ValueError(f"port {port_name!r} has benchmark_session() but does not claim the 'benchmark' feature")
        session = model.benchmark_session(dict(inputs), train=train, grad_names=tuple(grad_names))
        missing = [m for m in ("step", "check", "outputs", "peak_memory_bytes", "close") if not callable(getattr(session, m, None))]
        if missing:
            raise TypeError(f"port {port_name!r}: benchmark_session() returned an object without {missing}")
        return session
    module = getattr(model, "module", None)
    if port_name in TORCH_PORTS and isinstance(module, torch.nn.Module):
        return TorchSession(module, inputs, train=train, device=device, grad_names=grad_names)
    raise ValueError(
        f"port {port_name!r} cannot be benchmarked: its model has no benchmark_session(inputs, train=...) "
        f"(the optional 'benchmark' capability, docs/benchmarks.md)"
    )


def _numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach().cpu()
    return (t.float() if t.dtype == torch.bfloat16 else t).numpy().copy()
