"""Workload and sessions on a tiny BERT: real ports, real torch, no timing asserted."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/ is not installed

from benchmarks import workload  # noqa: E402
from benchmarks.comparisons import SMOKE_MODEL, measure_comparison, smoke_suite, torch_threads  # noqa: E402
from benchmarks.harness import check_outputs  # noqa: E402
from benchmarks.sessions import TorchSession, open_session  # noqa: E402
from benchmarks.suites import load_bench_spec  # noqa: E402

pytest.importorskip("transformers", reason="transformers not installed (the 'transformers' extra)")
CONFIG = workload.full_config(SMOKE_MODEL)
GRADS = workload.checked_parameters(CONFIG)


def session(port: str, attention: str, *, train: bool) -> Any:
    inputs = workload.make_inputs(CONFIG, 2, 8, train=train)
    return open_session(port, CONFIG, workload.random_state_dict(CONFIG), inputs, train=train, dtype="float32",
                        device="cpu", attention=attention, grad_names=GRADS)


def test_random_weights_have_hfs_keys_and_shapes_and_are_reproducible() -> None:
    import transformers

    hf = transformers.BertForMaskedLM(transformers.BertConfig.from_dict(CONFIG)).state_dict()
    sd = workload.random_state_dict(CONFIG, seed=0)
    assert set(sd) == set(hf) - set(workload.TIED_TARGETS)
    assert all(sd[k].shape == tuple(hf[k].shape) and sd[k].dtype == np.float32 for k in sd)
    again = workload.random_state_dict(CONFIG, seed=0)
    assert all(np.array_equal(sd[k], again[k]) for k in sd)
    other = workload.random_state_dict(CONFIG, seed=1)
    assert not np.array_equal(sd["bert.embeddings.word_embeddings.weight"], other["bert.embeddings.word_embeddings.weight"])
    w = sd["bert.encoder.layer.0.attention.self.query.weight"]
    assert abs(float(w.std()) - CONFIG["initializer_range"]) < 0.003  # N(0, initializer_range)
    assert np.all(sd["bert.encoder.layer.0.output.LayerNorm.weight"] == 1.0)


def test_inputs_label_about_15_percent_and_ignore_the_rest() -> None:
    inputs = workload.make_inputs(CONFIG, 16, 64, train=True)
    labels, ids = inputs["labels"], inputs["input_ids"]
    labelled = labels != -100
    assert np.all(labels[labelled] == ids[labelled]) and np.all(labelled[:, 0])
    assert 0.12 < labelled.mean() < 0.20
    assert np.all(inputs["attention_mask"] == 1) and ids.max() < CONFIG["vocab_size"]
    assert "labels" not in workload.make_inputs(CONFIG, 2, 8, train=False)
    with pytest.raises(ValueError, match="max_position_embeddings"):
        workload.make_inputs(CONFIG, 1, CONFIG["max_position_embeddings"] + 1, train=False)


@pytest.mark.parametrize("port", ["reference", "transformers"])
def test_training_session_checks_deterministically_and_steps_with_dropout(port: str) -> None:
    s = session(port, "sdpa", train=True)
    first, second = s.check(), s.check()
    assert set(first) == {"loss", "logits", *(f"grad.{n}" for n in GRADS)}
    assert all(np.array_equal(first[k], second[k]) for k in first)  # dropout off: deterministic
    s.step()
    stepped = s.outputs()
    assert not np.array_equal(stepped["logits"], first["logits"])  # the timed step trains with dropout
    assert s.peak_memory_bytes() > 0
    s.close()


def test_eager_and_sdpa_of_both_ports_agree_with_the_reference_eager() -> None:
    baseline = session("reference", "eager", train=True).check()
    for port in ("reference", "transformers"):
        for attention in ("eager", "sdpa"):
            records = check_outputs(session(port, attention, train=True).check(), baseline, dtype="float32",
                                    what=f"{port} {attention}")
            assert len(records) == len(baseline)


def test_training_peak_exceeds_inference_peak() -> None:
    train, infer = session("reference", "sdpa", train=True), session("reference", "sdpa", train=False)
    assert train.peak_memory_bytes() > infer.peak_memory_bytes()  # gradients and saved activations


class PortWithSession:
    """A non-torch port claiming the benchmark feature (returns canned numpy outputs)."""

    def __init__(self, claim: bool) -> None:
        self.claim = claim

    def capabilities(self) -> dict[str, Any]:
        return {"name": "fake", "version": "0", "heads": ["BertModel", "BertForMaskedLM"], "dtypes": ["float32"],
                "devices": ["cpu"], "attention": ["eager", "sdpa"], "features": ["benchmark"] if self.claim else []}

    def load_model(self, head: str, config: dict, state_dict: dict, *, dtype: str, device: str, attention: str) -> Any:
        port = self

        class Model:
            def forward(self, inputs: dict, **options: Any) -> dict:
                return {}

            def benchmark_session(self, inputs: dict, *, train: bool, grad_names: tuple) -> Any:
                port.asked = (train, grad_names)
                return TorchSession.__new__(TorchSession)  # has every method of the protocol

        return Model()


claiming = PortWithSession(claim=True)
not_claiming = PortWithSession(claim=False)


def test_a_port_is_benchmarked_through_its_benchmark_session() -> None:
    s = open_session(f"{__name__}:claiming", CONFIG, {}, {}, train=True, dtype="float32", device="cpu",
                     attention="sdpa", grad_names=GRADS)
    assert isinstance(s, TorchSession) and claiming.asked == (True, GRADS)


def test_a_port_must_claim_the_benchmark_feature() -> None:
    with pytest.raises(ValueError, match="does not claim the 'benchmark' feature"):
        open_session(f"{__name__}:not_claiming", CONFIG, {}, {}, train=False, dtype="float32", device="cpu",
                     attention="sdpa")


class BarePort(PortWithSession):
    """Claims the feature but its model has no benchmark_session()."""

    def load_model(self, *args: Any, **kwargs: Any) -> Any:
        return type("Model", (), {"forward": lambda self, inputs, **options: {}})()


bare = BarePort(claim=True)


def test_a_port_without_benchmark_session_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="cannot be benchmarked: its model has no benchmark_session"):
        open_session(f"{__name__}:bare", CONFIG, {}, {}, train=False, dtype="float32", device="cpu",
                     attention="sdpa")


def test_measure_comparison_end_to_end_on_the_smoke_suite() -> None:
    suite = smoke_suite(load_bench_spec().suites["bench.suite.cpu.implementation_inference"])
    m = measure_comparison(suite, suite.shapes[0], "reference", SMOKE_MODEL)
    assert (m.a.name, m.b.name) == ("transformers", "reference")
    assert len(m.a.times_s) == len(m.b.times_s) == suite.rounds
    assert m.a.peak_bytes and m.b.peak_bytes and all(c["mismatches"] == 0 for c in m.checks)
    assert len(m.checks) == 4  # logits of both sides, before and after timing


def test_torch_threads_are_set_while_measuring_and_restored() -> None:
    import torch

    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before
    with torch_threads(None):
        assert torch.get_num_threads() == before
