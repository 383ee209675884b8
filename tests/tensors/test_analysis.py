"""Figure 3's numbers for one tensor: the row of ``tensors.csv`` and the degenerate tensors skipped."""

import math
import tracemalloc

import numpy as np
import pytest
from scipy import stats

from pvq.core.metrics import kurtosis
from pvq.core.pruning import prune
from pvq.core.quantization import quantize_int
from pvq.tensors.analysis import TENSOR_COLUMNS, analyze_tensor, check_tensor, prepare_tensor
from pvq.tensors.clipping import SortedWeights

from .test_clipping import heavy


def test_minmax_natural_sparsity_counts_exact_zeros():
    v = heavy(6, 2000)
    rows, reason = analyze_tensor(v, [2, 4, 8], fp16=False)
    assert reason == "" and [r["n_bits"] for r in rows] == [2, 4, 8]  # the loop below is not empty
    for r in rows:
        codes, _ = quantize_int(v, n_bits=r["n_bits"], clip=float(np.abs(v).max()))
        assert r["natural_sparsity_minmax"] == pytest.approx(np.mean(codes == 0), abs=1e-12)


def test_analyze_tensor_rows():
    w = np.random.default_rng(0).laplace(size=(16, 8, 3, 3)).astype(np.float32)
    rows, reason = analyze_tensor(w, [2, 4, 8], model="m", tensor="t")
    assert reason == "" and [r["n_bits"] for r in rows] == [2, 4, 8]
    assert list(rows[0]) == [*TENSOR_COLUMNS, "natural_sparsity_minmax"]
    v = w.astype(np.float16).astype(np.float64).ravel()
    assert rows[0]["kurtosis"] == pytest.approx(stats.kurtosis(v, fisher=False), rel=1e-10)
    assert rows[0]["excess_kurtosis"] == pytest.approx(kurtosis(v, excess=True), rel=1e-10)
    for r in rows:
        assert r["quant_snr_db"] >= r["quant_snr_db_paper"] - 1e-9
        assert r["sparsity"] == 1 - r["n_bits"] / 16
        assert r["prune_snr_db_corrected"] <= r["prune_snr_db"] + 1e-12  # less budget, never better
        assert 0 <= r["natural_sparsity"] <= 1
        assert 0 <= r["natural_sparsity_minmax"] <= 1
    t = 10 * math.log10(np.mean(v**2) / np.mean((v - prune(v, sparsity=0.875)) ** 2))
    assert rows[0]["prune_snr_db"] == pytest.approx(t, rel=1e-9)


@pytest.mark.parametrize(
    ("w", "reason"),
    [
        (np.zeros((3, 3)), "all zeros"),
        (np.full((3, 3), 0.5), "constant tensor"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), "NaN or Inf"),
        (np.array([[1.0, np.inf], [0.0, 1.0]]), "NaN or Inf"),
        (np.array([[1e6, 1.0], [0.0, 1.0]]), "FP16 range"),
    ],
)
def test_degenerate_tensors_are_reported_not_crashed(w, reason):
    rows, why = analyze_tensor(w, [4])
    assert rows == [] and reason in why


def test_fp16_switch():
    w = np.array([[1e6, 1.0], [0.5, -2.0]])
    rows, why = analyze_tensor(w, [4], fp16=False)
    assert why == "" and len(rows) == 1


@pytest.mark.parametrize("fp16", [True, False])
@pytest.mark.parametrize(
    "w",
    [
        heavy(2, 3000),
        heavy(3, 3000).astype(np.float32),
        heavy(4, 3000).astype(np.float16),
        np.zeros((3, 3)),
        np.full((3, 3), 0.5),
        np.array([1e-9, -1e-9, 0.0]),  # all zeros once rounded to FP16
        np.array([[1.0, np.nan], [0.0, 1.0]]),
        np.array([[1e6, 1.0], [0.0, 1.0]]),
        np.zeros((0, 4)),
    ],
)
def test_prepare_tensor_equals_check_then_build(w, fp16):
    values, reason = check_tensor(w, fp16=fp16)
    sw, why = prepare_tensor(w, fp16=fp16)
    assert why == reason and (sw is None) == (values is None)
    if sw is not None:
        ref = SortedWeights.build(values)
        for field in ("sorted", "cum", "p1", "p2", "magnitudes", "cum_by_magnitude", "sq_by_magnitude"):
            np.testing.assert_array_equal(getattr(sw, field), getattr(ref, field))


def test_prepare_tensor_makes_no_copy_of_a_large_tensor():
    """An FP32 tensor of 4M weights (16 MB) is checked, rounded and counted in a few MB of scratch."""
    w = np.random.default_rng(0).standard_t(4, size=(2048, 2048)).astype(np.float32)
    tracemalloc.start()
    try:
        sw, why = prepare_tensor(w)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert why == "" and sw.n == w.size
    assert peak < w.nbytes / 2  # a float64 copy alone would be 2 x w.nbytes (check_tensor then build: 2.75x)
