import math

import numpy as np
import pytest

from pvq.pruning import paired_sparsity, prune, prune_mask


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
