"""pytest options and parametrisation of the benchmark suites (spec/benchmarks.yaml).

Each test is one (suite, shape, port); pytest-benchmark times its interleaved rounds, and the measurement
(both sides' per-round times, peak memory, output checks) goes into the test's ``extra_info["measurement"]``
of the pytest-benchmark JSON, which ``python -m benchmarks report`` turns into Markdown, a chart and
threshold verdicts.
"""

from __future__ import annotations

import os
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may come from a model hub
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DEVICES = ("cpu", "cuda", "all")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("bert-bench", "BERT benchmarks (spec/benchmarks.yaml)")
    group.addoption("--bench-device", default="cpu", choices=DEVICES, help="suites of this device (default: cpu)")
    group.addoption(
        "--bench-impl",
        default="reference,transformers",
        help="comma-separated ports: attention suites measure each; implementation suites compare each "
        "port other than 'transformers' with transformers (default: reference,transformers)",
    )
    group.addoption(
        "--bench-smoke",
        action="store_true",
        help="tiny model, one tiny shape, two rounds: checks the machinery in seconds (numbers mean nothing)",
    )


def _impls(config: pytest.Config) -> list[str]:
    names = [n.strip() for n in config.getoption("--bench-impl").split(",") if n.strip()]
    if not names:
        raise pytest.UsageError("--bench-impl: give at least one port name")
    return names


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise ``case`` of tests marked ``bench_compare("attention"|"implementation")``."""
    marker = metafunc.definition.get_closest_marker("bench_compare")
    if marker is None or "case" not in metafunc.fixturenames:
        return
    from benchmarks.comparisons import smoke_suite
    from benchmarks.suites import load_bench_spec

    config = metafunc.config
    device = config.getoption("--bench-device")
    smoke = config.getoption("--bench-smoke")
    params = []
    for suite in load_bench_spec().suites.values():
        if suite.compare != marker.args[0] or device not in (suite.device, "all"):
            continue
        suite = smoke_suite(suite) if smoke else suite
        impls = _impls(config) if suite.compare == "attention" else [i for i in _impls(config) if i != "transformers"]
        for impl in impls:
            for shape in suite.shapes:
                case_id = f"{suite.id}-{impl}-b{shape[0]}-s{shape[1]}"
                params.append(pytest.param((suite, shape, impl), id=case_id))
    if not params:
        params = [pytest.param(None, id="no-suite", marks=pytest.mark.skip(reason=f"no {marker.args[0]} suite selected"))]
    metafunc.parametrize("case", params)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "bench_compare(kind): a benchmark parametrised over the suites of that kind")


@pytest.fixture
def model_config(request: pytest.FixtureRequest, case: Any) -> dict[str, Any]:
    """The suite's model config (HF keys), or the tiny smoke model."""
    from benchmarks.comparisons import SMOKE_MODEL
    from benchmarks.suites import load_bench_spec

    suite = case[0]
    if suite.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            pytest.skip(f"{suite.id}: needs a CUDA device; torch.cuda.is_available() is False on this machine")
    if request.config.getoption("--bench-smoke"):
        return dict(SMOKE_MODEL)
    return load_bench_spec().models[suite.model]
