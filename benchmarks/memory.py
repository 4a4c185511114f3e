"""Peak memory of one step, on CUDA and on CPU (spec clause ``bench.method.memory``).

Both devices report the same quantity: the peak of tensor bytes allocated during the step above what was
allocated when it started. The caller adds the side's static bytes (parameters, buffers, inputs).

- CUDA: ``torch.cuda.max_memory_allocated`` after ``reset_peak_memory_stats`` (what the seed used).
- CPU: torch has no CPU allocator statistics, tracemalloc does not see torch's allocations and the process
  RSS is monotonic, shared by every thread and subject to malloc caching. ``torch.profiler`` with
  ``profile_memory=True`` records one event per allocation and free of torch's CPU allocator; the running
  sum of their sizes, in time order, is the live tensor bytes, and its maximum is the step's peak. It is
  exact and deterministic (tested on a known allocation pattern in tests/test_bench_memory.py). Frees of
  tensors allocated before the step are invisible to it, so they never lower the peak.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch


def step_peak_bytes(step: Callable[[], Any], device: str) -> int:
    """Peak bytes allocated by ``step()`` above the bytes live when it starts."""
    if device == "cuda":
        return cuda_step_peak_bytes(step)
    if device == "cpu":
        return cpu_step_peak_bytes(step)
    raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")


def cuda_step_peak_bytes(step: Callable[[], Any], cuda: Any = None) -> int:
    """CUDA: the allocator's peak during the step minus what was allocated before it.

    ``cuda`` is the ``torch.cuda`` module (injectable so the logic is testable without a GPU).
    """
    cuda = cuda or torch.cuda
    cuda.synchronize()
    cuda.reset_peak_memory_stats()
    before = cuda.memory_allocated()
    step()
    cuda.synchronize()
    return max(0, int(cuda.max_memory_allocated()) - int(before))


def cpu_step_peak_bytes(step: Callable[[], Any]) -> int:
    """CPU: the peak of the running sum of torch.profiler allocation events during the step."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        step()
    events = sorted(_allocations(prof.profiler.kineto_results.experimental_event_tree()))
    return peak_of_running_sum(size for _, size in events)


def peak_of_running_sum(sizes: Iterable[int]) -> int:
    """Max over time of the cumulative allocated bytes (frees are negative sizes); 0 if nothing is left live."""
    live = peak = 0
    for size in sizes:
        live += size
        peak = max(peak, live)
    return peak


def _allocations(roots: Iterable[Any]) -> list[tuple[int, int]]:
    """(time ns, signed size) of every CPU allocation event in the profiler's event tree."""
    found: list[tuple[int, int]] = []
    stack = list(roots)
    while stack:
        event = stack.pop()
        extra = event.extra_fields
        if hasattr(extra, "alloc_size") and str(getattr(extra, "device", "cpu")).startswith("cpu"):
            found.append((event.start_time_ns, int(extra.alloc_size)))
        stack.extend(event.children)
    return found


def static_bytes(tensors: Iterable[torch.Tensor]) -> int:
    """Bytes of the distinct storages behind ``tensors`` (tied weights count once)."""
    seen: dict[int, int] = {}
    for t in tensors:
        storage = t.untyped_storage()
        seen[storage.data_ptr()] = storage.nbytes()
    return sum(seen.values())
