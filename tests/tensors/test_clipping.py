"""Clipping searches on real tensors: the paper's candidate grid, the fast optimum, the certified optimum."""

import numpy as np
import pytest

from pvq.core.pruning import prune
from pvq.core.quantization import int_grid, quantize, quantize_int
from pvq.tensors.analysis import check_tensor
from pvq.tensors.clipping import (  # the private helpers are this module's own, tested here
    SortedWeights,
    _mse_many,
    _paper_choice,
    certified_clip_tensor,
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


def test_fp16_radix_sort_matches_numpy():
    v = heavy(9, 10_000)
    v[:5] = [0.0, -0.0, 1e-7, -1e-7, 65504.0]
    v = check_tensor(v)[0]
    np.testing.assert_array_equal(SortedWeights.build(v).sorted, np.sort(v))
