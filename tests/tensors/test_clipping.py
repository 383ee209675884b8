"""Clipping searches on real tensors: the paper's candidate grid, the fast optimum, the certified optimum."""

import numpy as np
import pytest

import pvq.tensors.clipping as clipping
from pvq.core.pruning import prune
from pvq.core.quantization import int_grid, quantize, quantize_int
from pvq.tensors.analysis import check_tensor
from pvq.tensors.clipping import (  # the private helpers are this module's own, tested here
    SortedWeights,
    _mse_many,
    _paper_choice,
    certified_clip_tensor,
    fp16_counts,
    natural_sparsity,
    optimal_clip_tensor,
    paper_clip,
    prune_mse_sorted,
    quantization_mse,
)


def heavy(seed, n):
    rng = np.random.default_rng(seed)
    return check_tensor(rng.standard_t(3, size=n) * rng.uniform(0.002, 0.3))[0]


@pytest.mark.parametrize("seed", range(12))
def test_search_never_worse_than_the_paper_grid(seed):
    v = heavy(seed, int(np.random.default_rng(seed).integers(100, 20_000)))
    sw = SortedWeights.build(v)
    for b in (2, 3, 4, 6, 8):
        p_clip, p_mse = paper_clip(v, n_bits=b)
        fast_clip, fast_mse = _paper_choice(sw, b, "signed")
        assert fast_clip == p_clip and fast_mse == pytest.approx(p_mse, rel=1e-9)
        clip, mse = optimal_clip_tensor(sw, n_bits=b)
        assert quantization_mse(v, clip, b, "signed") <= p_mse  # checked by direct quantization
        assert mse == pytest.approx(quantization_mse(v, clip, b, "signed"), rel=1e-8)


def test_fast_evaluation_equals_direct_quantization():
    v = heavy(1, 5000)
    sw = SortedWeights.build(v)
    clips = np.array([0.01, 0.3, 1.0, 2.5]) * sw.max_abs
    for grid in ("signed", "symmetric"):
        for b in (2, 5, 8):
            fast = _mse_many(sw, clips, b, grid)
            direct = [np.mean((v - quantize(v, n_bits=b, clip=c, grid=grid)) ** 2) for c in clips]
            np.testing.assert_allclose(fast, direct, rtol=1e-9)


def test_on_grid_weights_have_zero_error():
    s = 0.0625  # a power of two: exact in FP16
    v = check_tensor(np.arange(-8, 8) * s)[0]
    sw = SortedWeights.build(v)
    clip, mse = optimal_clip_tensor(sw, n_bits=4)
    assert mse == pytest.approx(0.0, abs=1e-15)
    np.testing.assert_allclose(quantize(v, n_bits=4, clip=clip), v, atol=1e-12)


@pytest.mark.parametrize("b", [2, 3, 4])
def test_certified_optimum_brackets(b):
    v = heavy(3, 400)
    sw = SortedWeights.build(v)
    clip, best, proven = certified_clip_tensor(sw, n_bits=b, rtol=1e-9)
    assert proven
    _, fast = optimal_clip_tensor(sw, n_bits=b)
    assert best <= fast * (1 + 1e-12)
    q_max = int_grid(b)[1]
    scan = _mse_many(sw, np.linspace(1e-6, 2, 100_000) * sw.max_abs, b, "signed").min()
    assert best <= scan * (1 + 1e-9)  # no point of a fine scan beats the proven optimum
    assert best == pytest.approx(quantization_mse(v, clip, b, "signed"), rel=1e-8)
    assert clip / q_max > 0


def test_fast_search_is_close_to_the_proven_optimum():
    gaps = []
    for seed in range(8):
        sw = SortedWeights.build(heavy(seed, 1500))
        for b in (2, 3, 4):
            _, fast = optimal_clip_tensor(sw, n_bits=b)
            _, best, proven = certified_clip_tensor(sw, n_bits=b)
            assert proven
            gaps.append(fast / best)
    assert max(gaps) < 1.01  # within 0.05 dB


def test_pruning_count_exact_with_ties():
    v = check_tensor(np.array([1.0, -1.0, 1.0, 2.0, 0.5, -0.5, 0.5, 3.0]))[0]
    sw = SortedWeights.build(v)
    for c in (0.0, 0.25, 0.3, 0.5, 0.875):
        direct = np.mean((v - prune(v, sparsity=c)) ** 2)
        assert prune_mse_sorted(sw, c) == pytest.approx(direct, abs=1e-15)


def test_natural_sparsity_counts_exact_zeros():
    v = heavy(5, 3000)
    sw = SortedWeights.build(v)
    for b in (2, 4, 8):
        clip = paper_clip(v, n_bits=b)[0]
        codes, _ = quantize_int(v, n_bits=b, clip=clip)
        assert natural_sparsity(sw, clip, n_bits=b) == pytest.approx(np.mean(codes == 0), abs=1e-12)


def test_fp16_counts_expand_to_the_sorted_tensor():
    v = heavy(9, 10_000)
    v[:5] = [0.0, -0.0, 1e-7, -1e-7, 65504.0]
    v = check_tensor(v)[0]
    sw = SortedWeights.build(v)
    assert sw.n == v.size and np.all(np.diff(sw.sorted) > 0)  # distinct, ascending; -0.0 and 0.0 are one value
    np.testing.assert_array_equal(np.repeat(sw.sorted, sw.counts), np.sort(v))
    np.testing.assert_allclose(sw.p2[1:], np.cumsum(np.sort(v) ** 2)[sw.cum[1:] - 1], rtol=1e-12)
    mags = np.sort(np.abs(v))
    np.testing.assert_array_equal(np.repeat(sw.magnitudes, np.diff(sw.cum_by_magnitude)), mags)
    np.testing.assert_allclose(sw.sq_by_magnitude[1:], np.cumsum(mags**2)[sw.cum_by_magnitude[1:] - 1], rtol=1e-12)
    assert sw.kurtosis() == pytest.approx(np.mean((v - v.mean()) ** 4) / np.var(v) ** 2, rel=1e-10)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_same_sorted_weights_from_any_precision_and_from_chunks(dtype, monkeypatch):
    v = check_tensor(heavy(4, 5000))[0]  # FP16 values
    ref = SortedWeights.build(np.sort(v)[::-1].copy())  # the counting path does not need sorted input
    monkeypatch.setattr(clipping, "_CHUNK", 777)  # several chunks, the last one partial
    for got in (SortedWeights.build(v.astype(dtype)), SortedWeights.from_fp16_counts(fp16_counts(v.astype(dtype)))):
        for field in ("sorted", "cum", "p1", "p2", "magnitudes", "cum_by_magnitude", "sq_by_magnitude"):
            np.testing.assert_array_equal(getattr(got, field), getattr(ref, field))


def test_non_fp16_values_are_sorted_with_ties_merged():
    v = np.array([0.1, -0.3, 0.1, 1 / 3, -0.3, 0.7, 0.0, -0.0])
    sw = SortedWeights.build(v)
    np.testing.assert_array_equal(sw.sorted, [-0.3, 0.0, 0.1, 1 / 3, 0.7])
    np.testing.assert_array_equal(sw.counts, [2, 2, 2, 1, 1])
    for c in (0.0, 0.25, 0.5, 0.6, 0.875):
        assert prune_mse_sorted(sw, c) == pytest.approx(np.mean((v - prune(v, sparsity=c)) ** 2), abs=1e-15)


def test_fp16_counts_refuse_overflow():
    with pytest.raises(ValueError, match="finite FP16"):
        SortedWeights.from_fp16_counts(fp16_counts(np.array([1.0, 1e6])))
