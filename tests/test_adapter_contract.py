"""bert_conformance.adapter: capabilities validation, finding a port, and the numpy-only boundary checks."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from bert_conformance.adapter import (
    Capabilities,
    CapabilitiesError,
    ImplementationError,
    Port,
    load_implementation,
)

GOOD = {
    "name": "toy",
    "version": "1.0",
    "heads": ["BertModel"],
    "dtypes": ["float32"],
    "devices": ["cpu"],
    "attention": ["eager"],
    "features": [],
}


def test_capabilities_round_trip_in_canonical_order():
    caps = Capabilities.from_dict(
        {**GOOD, "dtypes": ["float32", "float64"], "features": ["cache", "decoder"]}
    )
    assert caps.dtypes == ("float64", "float32") and caps.features == ("decoder", "cache", "float64")
    assert Capabilities.from_dict(caps.to_dict()) == caps
    assert caps.missing_core() == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dtypes": ["fp32"]}, "unknown dtypes ['fp32']; known: float64, float32, float16, bfloat16"),
        ({"heads": ["BertForEverything"]}, "unknown heads ['BertForEverything']"),
        ({"features": ["flash"]}, "unknown features ['flash']"),
        ({"devices": "cpu"}, "'devices' must be a list of names"),
        ({"version": ""}, "'version' must be a non-empty string"),
        ({"colour": "blue"}, "unknown key(s) ['colour']"),
    ],
)
def test_capabilities_errors_name_the_key(change, message):
    with pytest.raises(CapabilitiesError) as info:
        Capabilities.from_dict({**GOOD, **change}, source="toy: capabilities()")
    assert str(info.value).startswith("toy: capabilities(): ") and message in str(info.value)


def test_float64_dtype_and_feature_are_one_claim():
    assert Capabilities.from_dict({**GOOD, "features": ["float64"]}).dtypes == ("float64", "float32")
    assert (
        Capabilities.from_dict({**GOOD, "dtypes": ["float64", "float32"]}).unclaimed(feature="float64") == []
    )


def test_capabilities_not_a_dict():
    with pytest.raises(CapabilitiesError, match="must return a dict, got list"):
        Capabilities.from_dict([GOOD])


def test_unclaimed_and_missing_core():
    caps = Capabilities.from_dict({**GOOD, "heads": ["BertForMaskedLM"]})
    assert caps.missing_core() == ["head BertModel"]
    assert caps.unclaimed(head="BertForMaskedLM", dtype="float16", feature="cache") == [
        "dtype float16",
        "feature cache",
    ]
    with pytest.raises(ValueError, match="unknown requirement 'colour'"):
        caps.unclaimed(colour="blue")


def test_unknown_implementation_lists_the_choices():
    with pytest.raises(
        ImplementationError, match="unknown implementation 'nope': use one of .*onnx.*reference"
    ):
        load_implementation("nope")


def test_module_attribute_errors():
    with pytest.raises(ImplementationError, match="cannot import 'no_such_module_xyz'"):
        load_implementation("no_such_module_xyz:port")
    with pytest.raises(ImplementationError, match="has no attribute 'missing'"):
        load_implementation("bert_conformance.adapter:missing")
    with pytest.raises(ImplementationError, match="has no capabilities\\(\\) method"):
        load_implementation("bert_conformance.adapter:DEVICES")


def test_missing_optional_extra_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "bert_conformance.adapters.hf", None)  # as if transformers were absent
    with pytest.raises(ImplementationError, match=r"pip install 'bert-conformance\[transformers\]'"):
        load_implementation("transformers")


class _Toy:
    def __init__(self, caps=GOOD, outputs=None):
        self.caps, self.outputs = caps, outputs

    def capabilities(self):
        if isinstance(self.caps, Exception):
            raise self.caps
        return self.caps

    def load_model(self, head, config, state_dict, *, dtype, device, attention):
        outputs = self.outputs

        class Model:
            def forward(self, inputs, **options):
                return outputs

        return Model()


def test_a_raising_capabilities_is_kept_not_raised():
    port = Port("toy", "x:y", _Toy(caps=RuntimeError("boom")))
    assert port.capabilities_error == "RuntimeError: boom"
    assert port.capabilities.missing_core() == ["head BertModel", "dtype float32", "device cpu"]


def _forward(outputs, dtype="float32"):
    port = Port("toy", "x:y", _Toy(outputs=outputs))
    return port.load_model("BertModel", {}, {}, dtype=dtype).forward({})


def test_checked_model_accepts_numpy_lists_none_and_opaque_cache():
    out = {
        "last_hidden_state": np.zeros((1, 2, 3), np.float32),
        "hidden_states": [np.zeros(1, np.float32), None],
        "pooler_output": None,
        "cache": object(),
    }
    assert _forward(out).keys() == out.keys()


def test_checked_model_rejects_framework_types_wrong_dtype_and_non_dicts():
    torch = pytest.importorskip("torch")
    with pytest.raises(
        AssertionError, match="output 'last_hidden_state': expected a numpy.ndarray, got torch.Tensor"
    ):
        _forward({"last_hidden_state": torch.zeros(2)})
    with pytest.raises(AssertionError, match=r"output 'hidden_states'\[1\]: dtype float64, expected float32"):
        _forward({"hidden_states": [np.zeros(1, np.float32), np.zeros(1)]})
    with pytest.raises(
        AssertionError, match="BertModel.forward returned tuple; expected a dict of numpy arrays"
    ):
        _forward((np.zeros(1, np.float32),))


def test_half_precision_loss_may_be_float32():
    assert _forward({"loss": np.array(1.0, np.float32)}, dtype="float16")["loss"].dtype == np.float32
    with pytest.raises(AssertionError, match="dtype float64, expected float16"):
        _forward({"loss": np.array(1.0)}, dtype="float16")
