"""One suite at one shape for one port: build the workload, the baseline and both sides, and measure them."""

from __future__ import annotations

import dataclasses
import platform
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np
import torch

from benchmarks.harness import Runner, Side, default_runner, measure_sides
from benchmarks.metrics import Measurement, SideResult
from benchmarks.sessions import BenchmarkSession, open_session
from benchmarks.suites import Suite
from benchmarks.workload import checked_parameters, full_config, make_inputs, random_state_dict

BASELINE_PORT = "reference"  # the oracle: every side is checked against its untimed eager run
SMOKE_MODEL = {
    "vocab_size": 99,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 37,
    "max_position_embeddings": 64,
}


def smoke_suite(suite: Suite) -> Suite:
    """The same suite on a tiny shape with two rounds: exercises the whole path in seconds (not a benchmark)."""
    return dataclasses.replace(suite, shapes=((2, 8),), rounds=2, warmup_rounds=1)


def side_names(suite: Suite, impl: str) -> tuple[str, str]:
    if suite.compare == "attention":
        return ("eager", "sdpa")
    if impl == "transformers":
        raise ValueError(f"{suite.id}: compares a port with transformers; pick a port other than 'transformers'")
    return ("transformers", impl)


def measure_comparison(
    suite: Suite,
    shape: tuple[int, int],
    impl: str,
    model_config: dict[str, Any],
    *,
    runner: Runner = default_runner,
) -> Measurement:
    """Measure ``suite`` at ``shape``: attention suites compare eager and sdpa of ``impl``; implementation
    suites compare transformers with ``impl`` (both on the suite's attention)."""
    config = full_config(model_config)
    state_dict = random_state_dict(config)
    train = suite.mode == "train"
    inputs = make_inputs(config, *shape, train=train)
    grad_names = checked_parameters(config)

    def session(port: str, attention: str) -> BenchmarkSession:
        return open_session(
            port, config, state_dict, inputs, train=train, dtype=suite.dtype, device=suite.device,
            attention=attention, grad_names=grad_names,
        )

    with torch_threads(suite.threads):
        a, b, checks = _measure_sides(suite, impl, session, train=train, runner=runner)
    return Measurement(suite.id, impl, shape[0], shape[1], a, b, tuple(checks))


def _measure_sides(
    suite: Suite, impl: str, session: Callable[[str, str], BenchmarkSession], *, train: bool, runner: Runner
) -> tuple[SideResult, SideResult, list[dict[str, Any]]]:
    """Baseline first (then released, so it does not count in memory), then both sides together."""
    baseline_session = session(BASELINE_PORT, "eager")
    try:
        baseline = baseline_session.check()
    finally:
        baseline_session.close()  # frees the device before the sides' memory is measured

    name_a, name_b = side_names(suite, impl)
    with ExitStack() as stack:
        if suite.compare == "attention":
            sessions = (session(impl, "eager"), session(impl, "sdpa"))
        else:
            assert suite.attention is not None
            sessions = (session("transformers", suite.attention), session(impl, suite.attention))
        for s in sessions:
            stack.callback(s.close)
        return measure_sides(
            Side(name_a, sessions[0]), Side(name_b, sessions[1]), baseline, train=train, dtype=suite.dtype,
            rounds=suite.rounds, warmup_rounds=suite.warmup_rounds, runner=runner,
        )


@contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` torch threads (None: leave torch's setting), restoring it afterwards."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def environment(suite: Suite) -> dict[str, Any]:
    """What the numbers depend on, for the report header."""
    import transformers

    device = suite.device

    env = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "numpy": np.__version__,
        f"torch_threads ({device})": suite.threads or torch.get_num_threads(),
    }
    if device == "cuda" and torch.cuda.is_available():
        env["cuda_device"] = torch.cuda.get_device_name()
        env["cuda"] = torch.version.cuda
    return env
