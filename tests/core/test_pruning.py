import math

import numpy as np
import pytest

from pvq.core.pruning import BASELINE_BITS, check_sparsity, paired_bits, paired_sparsity, prune, prune_mask


@pytest.mark.parametrize("c", [0.0, 0.1, 0.35, 0.5, 0.875, 0.999])
def test_exact_count_with_ties(c):
    w = np.ones((7, 11))  # every magnitude ties
    mask = prune_mask(w, sparsity=c)
    assert mask.shape == w.shape
    assert (~mask).sum() == math.floor(c * w.size)


def test_prunes_smallest_magnitudes():
    rng = np.random.default_rng(1)
    w = rng.normal(size=1000)
    out = prune(w, sparsity=0.75)
    kept = out != 0
    assert kept.sum() == 250
    assert np.abs(w[kept]).min() >= np.abs(w[~kept]).max()
    np.testing.assert_array_equal(out[kept], w[kept])


def test_sparsity_zero_is_identity():
    w = np.array([[0.0, -2.0], [3.0, 1e-9]])
    np.testing.assert_array_equal(prune(w, sparsity=0.0), w)


def test_ties_broken_by_position():
    mask = prune_mask(np.array([1.0, -1.0, 1.0, 2.0]), sparsity=0.5)
    np.testing.assert_array_equal(mask, [False, False, True, True])


@pytest.mark.parametrize("bad", [1.0, -0.1, 1.5, float("nan"), "x", True, None])
def test_bad_sparsity(bad):
    with pytest.raises(ValueError, match=r"sparsity must be a number in \[0, 1\)"):
        prune(np.ones(4), sparsity=bad)


def test_nan_weights_rejected():
    with pytest.raises(ValueError, match="NaN or Inf"):
        prune_mask(np.array([1.0, np.inf]), sparsity=0.5)


@pytest.mark.parametrize(("b", "c"), [(8, 0.5), (7, 0.5625), (4, 0.75), (2, 0.875), (16, 0.0)])
def test_pairing(b, c):
    assert paired_sparsity(b) == c


@pytest.mark.parametrize("b", range(1, 17))
def test_paired_bits_inverts_paired_sparsity(b):
    assert BASELINE_BITS == 16
    assert paired_bits(paired_sparsity(b)) == b
    assert paired_bits(paired_sparsity(b, baseline_bits=32), baseline_bits=32) == b


@pytest.mark.parametrize(("c", "b"), [(0.0, 16), (0.5, 8), (0.75, 4), (0.875, 2), (0.8, 3), (0.9375, 1)])
def test_paired_bits_rounds_to_the_nearest_bit_width(c, b):
    assert paired_bits(c) == b and isinstance(paired_bits(c), int)


@pytest.mark.parametrize("bad", [1.0, -0.1, float("nan"), True, "x", None])
def test_paired_bits_and_check_sparsity_refuse_bad_sparsity(bad):
    with pytest.raises(ValueError, match=r"sparsity must be a number in \[0, 1\)"):
        paired_bits(bad)
    with pytest.raises(ValueError, match=r"figure_sparsity must be a number"):
        check_sparsity(bad, name="figure_sparsity")
    assert check_sparsity(0.25) == 0.25 and isinstance(check_sparsity(0), float)
