"""Per-layer quantization solvers (paper §5): the exact optimum against brute force, bounds bracket it."""

import itertools

import numpy as np
import pytest

from pvq.layerwise.quant import exact_quant, factor, gptq, obq, quant_objective, round_to_nearest, sdp_bounds


def problem(seed, n, m=60, correlated=True):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, n))
    if correlated:
        x = np.maximum(x @ rng.normal(size=(n, n)), 0.0)  # ReLU-like, correlated inputs
    return x, rng.normal(size=n) * 0.3


def brute_quant(r, w, s, lo, hi):
    return min(quant_objective(r, w, s, np.array(z)) for z in itertools.product(range(lo, hi + 1), repeat=w.size))


@pytest.mark.parametrize("seed", range(16))
def test_quantization_solvers_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 7))
    b = int(rng.integers(2, 4))
    lo, hi = -(2 ** (b - 1)), 2 ** (b - 1) - 1
    x, w = problem(seed, n)
    s = float(np.abs(w).max() / hi * rng.uniform(0.5, 1.3))  # some weights clipped
    r = factor(x)
    opt = brute_quant(r, w, s, lo, hi)
    res = exact_quant(x, w, s, lo, hi)
    assert res.proven and res.objective == pytest.approx(opt, rel=1e-9, abs=1e-12)
    assert lo <= res.z.min() and res.z.max() <= hi
    lower, upper = sdp_bounds(r, w, s, lo, hi)
    assert lower <= opt * (1 + 1e-9) + 1e-12  # certified, whatever the solver's tolerance
    assert upper.objective >= opt * (1 - 1e-9) and lo <= upper.z.min() and upper.z.max() <= hi
    for z in (round_to_nearest(w, s, lo, hi), gptq(r, w, s, lo, hi), obq(r, w, s, lo, hi)):
        assert quant_objective(r, w, s, z) >= opt * (1 - 1e-9)


def test_residual_form_equals_the_layer_error():
    x, w = problem(3, 8)
    r = factor(x)
    z = round_to_nearest(w, 0.1, -4, 3)
    assert quant_objective(r, w, 0.1, z) == pytest.approx(np.sum((x @ (w - 0.1 * z)) ** 2), rel=1e-10)


def test_gptq_without_correlation_is_round_to_nearest():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 6)) @ np.diag(rng.uniform(0.5, 3, 6))
    x = np.linalg.qr(x)[0] * rng.uniform(0.5, 3, 6)  # orthogonal columns: H is diagonal
    w = rng.normal(size=6)
    np.testing.assert_array_equal(gptq(factor(x), w, 0.2, -8, 7), round_to_nearest(w, 0.2, -8, 7))


def test_quantization_edge_cases():
    x, w = problem(5, 6)
    x[:, 2] = 0.0  # a dead input: XᵀX is rank-deficient
    res = exact_quant(x, w, 0.1, -2, 1)
    assert res.proven and res.objective == pytest.approx(brute_quant(factor(x), w, 0.1, -2, 1), rel=1e-6, abs=1e-9)
    zero = exact_quant(x, np.zeros(6), 0.1, -2, 1)
    assert zero.objective == 0.0 and not zero.z.any()
    wide = exact_quant(np.random.default_rng(1).normal(size=(3, 6)), w, 0.1, -2, 1)  # fewer rows than inputs
    assert wide.proven
