"""Peak-memory measurement: the CPU profiler method on a known allocation pattern, the CUDA logic on a fake."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ is not installed

from benchmarks.memory import (  # noqa: E402
    cpu_step_peak_bytes,
    cuda_step_peak_bytes,
    peak_of_running_sum,
    static_bytes,
    step_peak_bytes,
)

MIB = 2**20


def test_peak_of_running_sum() -> None:
    assert peak_of_running_sum([]) == 0
    assert peak_of_running_sum([5, -5, 3]) == 5
    assert peak_of_running_sum([4, 6, -4, 1, -6, 2]) == 10


def test_cpu_peak_of_a_known_allocation_pattern() -> None:
    kept: list[torch.Tensor] = []

    def step() -> None:
        a = torch.empty(MIB // 4)  # 1 MiB of float32
        b = torch.empty(MIB // 2)  # 2 MiB while a is alive: peak 3 MiB
        del a, b
        kept.append(torch.empty(MIB // 8))  # 0.5 MiB that outlives the step (below the peak)

    assert cpu_step_peak_bytes(step) == 3 * MIB
    assert step_peak_bytes(step, "cpu") == 3 * MIB


def test_cpu_peak_counts_only_allocations_made_during_the_step() -> None:
    """Freeing a tensor from before the step does not lower the peak (the profiler never saw it allocated)."""
    holder: list[torch.Tensor | None] = [torch.ones(MIB // 4)]

    def step() -> None:
        holder[0] = None
        holder.append(torch.empty(MIB // 2))

    assert cpu_step_peak_bytes(step) == 2 * MIB


class FakeCuda:
    """torch.cuda's memory API, recording the order of calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.allocated = 500
        self.peak = 500

    def synchronize(self) -> None:
        self.calls.append("synchronize")

    def reset_peak_memory_stats(self) -> None:
        self.calls.append("reset")
        self.peak = self.allocated

    def memory_allocated(self) -> int:
        self.calls.append("allocated")
        return self.allocated

    def max_memory_allocated(self) -> int:
        self.calls.append("max")
        return self.peak


def test_cuda_peak_is_the_step_peak_above_what_was_allocated() -> None:
    cuda = FakeCuda()

    def step() -> None:
        cuda.calls.append("step")
        cuda.peak = cuda.allocated + 1200  # transient
        cuda.allocated += 300  # outputs kept

    assert cuda_step_peak_bytes(step, cuda) == 1200
    assert cuda.calls == ["synchronize", "reset", "allocated", "step", "synchronize", "max"]


def test_unknown_device_is_rejected() -> None:
    with pytest.raises(ValueError, match="'tpu'"):
        step_peak_bytes(lambda: None, "tpu")


def test_static_bytes_counts_shared_storage_once() -> None:
    w = torch.zeros(10, 4)
    assert static_bytes([w, w, w.view(40), torch.zeros(3, dtype=torch.float16)]) == 160 + 6
