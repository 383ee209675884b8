import numpy as np
import pytest

from pvq.core.quantization import int_grid, quantize, quantize_int, scale_from_clip


@pytest.mark.parametrize(
    ("b", "signed", "symmetric"),
    [(2, (-2, 1), (-1, 1)), (3, (-4, 3), (-3, 3)), (4, (-8, 7), (-7, 7)), (8, (-128, 127), (-127, 127))],
)
def test_int_grid(b, signed, symmetric):
    assert int_grid(b, "signed") == signed
    assert int_grid(b, "symmetric") == symmetric


def test_one_bit():
    assert int_grid(1) == (-1, 0)
    assert scale_from_clip(0.7, n_bits=1) == 0.7  # 2^(b-1)-1 = 0: the scale is the clip itself
    np.testing.assert_array_equal(quantize([-1.0, -0.2, 0.2, 5.0], n_bits=1, clip=0.7), [-0.7, 0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"symmetric.*n_bits >= 2"):
        int_grid(1, "symmetric")


@pytest.mark.parametrize("grid", ["signed", "symmetric"])
@pytest.mark.parametrize("b", [2, 3, 4, 8])
def test_grid_points_are_fixed_points(b, grid):
    q_min, q_max = int_grid(b, grid)
    s = scale_from_clip(1.3, n_bits=b, grid=grid)
    w = np.arange(q_min, q_max + 1) * s
    np.testing.assert_allclose(quantize(w, n_bits=b, clip=1.3, grid=grid), w, rtol=0, atol=1e-15)
    assert s * q_max == pytest.approx(1.3)


@pytest.mark.parametrize("b", [2, 4, 7])
def test_idempotent_and_bounded(b):
    rng = np.random.default_rng(0)
    w = rng.standard_t(3, size=5000)
    once = quantize(w, n_bits=b, clip=2.0)
    np.testing.assert_array_equal(quantize(once, n_bits=b, clip=2.0), once)
    q_min, q_max = int_grid(b)
    s = scale_from_clip(2.0, n_bits=b)
    assert once.max() <= q_max * s + 1e-12 and once.min() >= q_min * s - 1e-12
    # every value lands on the nearest level of the clamped range
    inside = (w > (q_min - 0.5) * s) & (w < (q_max + 0.5) * s)
    assert np.all(np.abs(w[inside] - once[inside]) <= s / 2 + 1e-12)


def test_round_half_to_even():
    codes, s = quantize_int(np.array([0.5, 1.5, 2.5, -0.5, -1.5]), n_bits=4, clip=7.0)
    assert s == 1.0
    np.testing.assert_array_equal(codes, [0, 2, 2, 0, -2])


def test_clipping_uses_the_extra_negative_level():
    codes, _ = quantize_int(np.array([100.0, -100.0]), n_bits=3, clip=3.0)
    np.testing.assert_array_equal(codes, [3, -4])
    codes, _ = quantize_int(np.array([100.0, -100.0]), n_bits=3, clip=3.0, grid="symmetric")
    np.testing.assert_array_equal(codes, [3, -3])


@pytest.mark.parametrize("bad", [0, 17, -3, 2.5, True, "4", None])
def test_bad_bit_width(bad):
    with pytest.raises(ValueError, match=r"n_bits must be an integer in 1\.\.16"):
        quantize([1.0], n_bits=bad, clip=1.0)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_clip(bad):
    with pytest.raises(ValueError, match="clip must be a positive finite number"):
        quantize([1.0], n_bits=4, clip=bad)


def test_nan_weights_rejected():
    with pytest.raises(ValueError, match="NaN or Inf"):
        quantize([1.0, np.nan], n_bits=4, clip=1.0)


def test_unknown_grid():
    with pytest.raises(ValueError, match="grid must be one of"):
        int_grid(4, "asymmetric")
