"""bert_conformance.tolerance: the Tolerance type, spec lookup, and assert_close's checks and messages."""

from __future__ import annotations

import re

import numpy as np
import pytest
import yaml

from bert_conformance.tolerance import Tolerance, assert_close, recording, tolerance_for

TOL = Tolerance(atol=1e-6, rtol=1e-4)


def test_tolerance_is_keyword_only_and_validated():
    with pytest.raises(TypeError):
        Tolerance(1e-6, 1e-4)  # positional: atol and rtol could be swapped
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="atol"):
            Tolerance(atol=bad, rtol=0.0)
    with pytest.raises(TypeError, match="rtol"):
        Tolerance(atol=0.0, rtol="1e-4")


@pytest.mark.parametrize("dtype", ["float64", "float32", "float16", "bfloat16"])
def test_tolerance_for_reads_spec_yaml(dtype):
    """Independent check: the values equal the YAML file's own entries."""
    from importlib.resources import files

    import bert_conformance.specdata as specdata

    raw = yaml.safe_load(files(specdata).joinpath("tolerances.yaml").read_text())
    for kind, entry in raw["dtypes"][dtype].items():
        assert tolerance_for(dtype, kind) == Tolerance(atol=entry["atol"], rtol=entry["rtol"])


def test_tolerance_for_rejects_unknown_names():
    with pytest.raises(ValueError, match="unknown dtype 'fp32'"):
        tolerance_for("fp32", "outputs")
    with pytest.raises(KeyError, match="float32.nope"):
        tolerance_for("float32", "nope")


def test_equal_arrays_pass_and_are_recorded():
    x = np.linspace(-1, 1, 12, dtype=np.float32).reshape(3, 4)
    with recording() as seen:
        result = assert_close(x, x.astype(np.float64), TOL, what="h", dtype="float32")
    assert seen == [result] and result.passed and result.max_abs == 0.0 and result.size == 12


def test_rule_is_atol_plus_rtol_times_expected():
    expected = np.array([1000.0, 0.0])
    just_inside = expected + np.array([1e-6 + 1e-4 * 1000.0, 1e-6]) * 0.999
    assert assert_close(just_inside, expected, TOL, what="x").worst == pytest.approx(0.999)
    just_outside = expected + np.array([0.0, 1e-6 * 1.001])
    with pytest.raises(AssertionError, match="1 of 2 elements"):
        assert_close(just_outside, expected, TOL, what="x")


def test_failure_message_is_self_contained():
    expected = np.zeros((2, 3, 4))
    actual = expected.copy()
    actual[1, 2, 3] = 0.5
    actual[0, 1, 0] = -0.25
    with pytest.raises(AssertionError) as info:
        assert_close(actual, expected, TOL, what="last_hidden_state")
    text = str(info.value)
    assert (
        "last_hidden_state (float64): 2 of 24 elements (8.33%) differ beyond atol=1e-06, rtol=0.0001" in text
    )
    assert "max abs error 0.5 at (1, 2, 3)" in text
    assert "(0, 1, 0): -0.25 vs 0.0" in text and "(1, 2, 3): 0.5 vs 0.0" in text


def test_type_dtype_and_shape_are_checked_first():
    torch = pytest.importorskip("torch")
    expected = np.zeros((2, 3))
    with pytest.raises(AssertionError, match=r"expected a numpy.ndarray, got torch.Tensor .*numpy only"):
        assert_close(torch.zeros(2, 3), expected, TOL, what="out")
    with pytest.raises(AssertionError, match="out: dtype float64, expected float32"):
        assert_close(expected, expected, TOL, what="out", dtype="float32")
    with pytest.raises(AssertionError, match=re.escape("out: shape [3, 2], expected [2, 3]")):
        assert_close(np.zeros((3, 2)), expected, TOL, what="out")


def test_nan_in_actual_fails_even_with_loose_tolerance():
    expected = np.ones(4)
    actual = expected.copy()
    actual[2] = np.nan
    with pytest.raises(AssertionError, match="1 NaN in the port's output"):
        assert_close(actual, expected, Tolerance(atol=1e9, rtol=1e9), what="x")


def test_expected_nan_needs_nan_ok():
    expected = np.array([np.nan, 1.0])
    with pytest.raises(AssertionError, match="expected NaN not matched"):
        assert_close(np.array([np.nan, 1.0]), expected, TOL, what="loss")
    assert assert_close(np.array([np.nan, 1.0]), expected, TOL, what="loss", nan_ok=True).passed
    with pytest.raises(AssertionError, match="expected NaN not matched"):
        assert_close(np.array([0.0, 1.0]), expected, TOL, what="loss", nan_ok=True)


def test_inf_is_a_mismatch_unless_both_equal():
    assert_close(np.array([-np.inf, 1.0]), np.array([-np.inf, 1.0]), TOL, what="x")
    with pytest.raises(AssertionError, match="Inf in the port's output"):
        assert_close(np.array([np.inf, 1.0]), np.array([1.0, 1.0]), TOL, what="x")


def test_zero_dim_loss():
    assert_close(np.array(2.0, dtype=np.float32), np.array(2.0), TOL, what="loss", dtype="float32")
    with pytest.raises(AssertionError, match=r"\(0,\): 3.0 vs 2.0"):
        assert_close(np.array(3.0), np.array(2.0), TOL, what="loss")


def test_bfloat16_means_float32_holding_bfloat16_values():
    ok = np.array([1.0, 1.5, -2.25], dtype=np.float32)
    assert_close(ok, ok.astype(np.float64), TOL, what="x", dtype="bfloat16")
    with pytest.raises(AssertionError, match="not bfloat16-representable"):
        assert_close(np.array([1.1], dtype=np.float32), np.array([1.1]), TOL, what="x", dtype="bfloat16")


def test_only_specified_entries_are_compared_and_located_in_the_outputs_own_coordinates():
    expected = np.zeros((2, 3, 4))
    actual = expected.copy()
    actual[1, 2, 3] = 1.0  # attended: a mismatch
    actual[0, 2, 0] = 5.0  # a padded query position: unspecified, never compared
    attended = np.array([[1, 1, 0], [1, 1, 1]], bool)[..., None]
    with pytest.raises(AssertionError) as failure:
        assert_close(actual, expected, tolerance_for("float64", "outputs"), what="x", specified=attended)
    message = str(failure.value)
    assert "1 of 20 elements" in message and "max abs error 1 at (1, 2, 3)" in message
    assert "(1, 2, 3): 1.0 vs 0.0" in message and "(0, 2, 0)" not in message
    actual[1, 2, 3] = 0.0
    assert assert_close(actual, expected, tolerance_for("float64", "outputs"), what="x", specified=attended).size == 20
