"""Per-layer pruning solvers (paper §5): the exact optimum against brute force, heuristics never beat it."""

import itertools

import numpy as np
import pytest

from pvq.layerwise.prune import (
    exact_prune,
    greedy_obs,
    keep_count,
    magnitude,
    prune_objective,
    scip_boxed_miqp,
    sparsegpt,
)
from pvq.layerwise.quant import factor

from .test_quant import problem


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
    with pytest.raises(ValueError, match="bound must be"):
        exact_prune(r, w, 3, bound="tight")
    assert keep_count(32, 4) == 8 and keep_count(9, 4) == 2 and keep_count(9, 8) == 4


def test_scip_cross_check_of_the_boxed_miqp():
    x, w = problem(11, 8)
    r = factor(x)
    exact = exact_prune(r, w, 3)
    scip = scip_boxed_miqp(r, w, 3)
    assert scip.proven
    assert np.count_nonzero(np.abs(scip.w_hat) > 1e-9) <= 3
    # the box can only make the problem harder; here it is inactive, as in almost every instance
    assert scip.objective >= exact.objective * (1 - 1e-6)
    assert scip.objective == pytest.approx(exact.objective, rel=1e-5)


def test_scip_stops_at_a_node_limit_the_same_way_every_time():
    x, w = problem(16, 12)
    r = factor(x)
    exact = exact_prune(r, w, 4)
    first, again = scip_boxed_miqp(r, w, 4, node_limit=1), scip_boxed_miqp(r, w, 4, node_limit=1)
    assert not first.proven  # the limit binds here (SCIP needs more than its root node)
    # a node limit is deterministic (a time limit is not): the same answer, bit for bit
    assert np.array_equal(first.w_hat, again.w_hat) and first.proven == again.proven
    assert first.objective == again.objective and first.lower_bound == again.lower_bound
    assert np.count_nonzero(np.abs(first.w_hat) > 1e-9) <= 4
    assert first.objective >= exact.objective * (1 - 1e-6)  # feasible, so never below the unboxed optimum
    with pytest.raises(ValueError, match="node_limit must be >= 1"):
        scip_boxed_miqp(r, w, 4, node_limit=0)
