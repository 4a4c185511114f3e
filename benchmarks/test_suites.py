"""The benchmark suites of spec/benchmarks.yaml (run with ``python -m benchmarks run``, see docs/benchmarks.md).

Every test measures one (suite, shape, port): output checks against an untimed eager run of the reference,
peak memory, then interleaved timed rounds driven by pytest-benchmark's ``pedantic`` (one round = one step
of each side). Thresholds are evaluated afterwards from the JSON, by ``python -m benchmarks report``.
"""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.comparisons import environment, measure_comparison


@pytest.mark.bench_compare("attention")
def test_sdpa_vs_eager(case: Any, model_config: dict[str, Any], benchmark: Any, request: pytest.FixtureRequest) -> None:
    _measure(case, model_config, benchmark, request)


@pytest.mark.bench_compare("implementation")
def test_port_vs_transformers(
    case: Any, model_config: dict[str, Any], benchmark: Any, request: pytest.FixtureRequest
) -> None:
    _measure(case, model_config, benchmark, request)


def _measure(case: Any, model_config: dict[str, Any], benchmark: Any, request: pytest.FixtureRequest) -> None:
    suite, shape, impl = case
    benchmark.group = suite.id

    def runner(one_round: Any, rounds: int) -> None:
        benchmark.pedantic(one_round, rounds=rounds, iterations=1, warmup_rounds=0)

    measurement = measure_comparison(suite, shape, impl, model_config, runner=runner)
    benchmark.extra_info["measurement"] = measurement.to_dict()
    benchmark.extra_info["environment"] = environment(suite)
    benchmark.extra_info["smoke"] = bool(request.config.getoption("--bench-smoke"))
    benchmark.extra_info["model"] = dict(model_config)
