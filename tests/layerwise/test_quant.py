"""Per-layer solvers (paper §5): exact optima against brute force, bounds bracket the optimum."""

import itertools

import numpy as np
import pytest

from pvq.layer_prune import (
    exact_prune,
    greedy_obs,
    keep_count,
    magnitude,
    prune_objective,
    scip_boxed_miqp,
    sparsegpt,
)
from pvq.layer_quant import exact_quant, factor, gptq, obq, quant_objective, round_to_nearest, sdp_bounds


def problem(seed, n, m=60, correlated=True):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, n))
    if correlated:
        x = np.maximum(x @ rng.normal(size=(n, n)), 0.0)  # ReLU-like, correlated inputs
    return x, rng.normal(size=n) * 0.3


def brute_quant(r, w, s, lo, hi):
    return min(quant_objective(r, w, s, np.array(z)) for z in itertools.product(range(lo, hi + 1), repeat=w.size))


def brute_prune(r, w, k):
    h = r.T @ r
    best = np.inf
    for support in itertools.combinations(range(w.size), k):
        c = np.array(support, dtype=int)
        w_hat = np.zeros_like(w)
        if c.size:
            w_hat[c] = np.linalg.solve(h[np.ix_(c, c)], (h @ w)[c])
        best = min(best, prune_objective(r, w, w_hat))
    return best


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


@pytest.mark.parametrize("seed", range(16))
def test_pruning_solvers_against_brute_force(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(2, 9))
    k = int(rng.integers(0, n + 1))
    x, w = problem(100 + seed, n)
    r = factor(x)
    opt = brute_prune(r, w, k)
    res = exact_prune(r, w, k)
    assert res.proven and res.objective == pytest.approx(opt, rel=1e-9, abs=1e-12)
    for heur in (
        magnitude(r, w, k, refit=False),
        magnitude(r, w, k, refit=True),
        sparsegpt(r, w, k),
        greedy_obs(r, w, k),
    ):
        assert np.count_nonzero(heur.w_hat) <= k
        assert heur.objective >= opt * (1 - 1e-9) - 1e-12


def test_pruning_edge_cases():
    x, w = problem(7, 6)
    r = factor(x)
    assert exact_prune(r, w, 6).objective == 0.0  # k = n keeps everything
    none = exact_prune(r, w, 0)
    assert none.objective == pytest.approx(np.sum((x @ w) ** 2)) and not none.w_hat.any()
    assert exact_prune(r, np.zeros(6), 3).objective == 0.0
    x[:, 1] = 0.0
    res = exact_prune(factor(x), w, 3)
    assert res.proven and res.objective == pytest.approx(brute_prune(factor(x), w, 3), rel=1e-6, abs=1e-9)
    assert keep_count(32, 4) == 8 and keep_count(9, 4) == 2 and keep_count(9, 8) == 4


def test_scip_cross_check_of_the_boxed_miqp():
    x, w = problem(11, 8)
    r = factor(x)
    exact = exact_prune(r, w, 3)
    scip = scip_boxed_miqp(r, w, 3, time_limit=30)
    assert scip.proven
    assert np.count_nonzero(np.abs(scip.w_hat) > 1e-9) <= 3
    # the box can only make the problem harder; here it is inactive, as in almost every instance
    assert scip.objective >= exact.objective * (1 - 1e-6)
    assert scip.objective == pytest.approx(exact.objective, rel=1e-5)
