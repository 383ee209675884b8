"""The layer-budget form (paper §5, issue 10): exact curves against brute force, the exact allocation."""

import itertools

import numpy as np
import pytest

from pvq.layerwise.budget import allocate_budget, greedy_obs_path, prune_curve
from pvq.layerwise.prune import exact_prune, keep_count
from pvq.layerwise.quant import factor

from .test_prune import brute_prune
from .test_quant import problem


@pytest.mark.parametrize("seed", range(10))
def test_curve_equals_enumeration_of_every_subset(seed):
    n = 3 + seed % 6
    x, w = problem(300 + seed, n)
    r = factor(x)
    curve = prune_curve(r, w)
    want = np.array([brute_prune(r, w, k) for k in range(n + 1)])
    assert curve.proven and curve.errors == pytest.approx(want, rel=1e-9, abs=1e-12)
    assert [int(s.sum()) for s in curve.supports] == list(range(n + 1))
    greedy, _ = greedy_obs_path(r, w)
    assert (greedy >= want * (1 - 1e-9) - 1e-12).all() and greedy[0] == pytest.approx(want[0])


def test_curve_on_real_chunks_matches_the_per_k_search_with_both_bounds(small_chunks):
    """The faster bound (``'sum'``) and the old one (``'max'``) find the same optimum as the curve."""
    chunks, _ = small_chunks
    for c in chunks[:4]:
        curve = prune_curve(c.r, c.w)
        for b in (2, 3, 4, 8):
            k = keep_count(c.w.size, b)
            new, old = exact_prune(c.r, c.w, k, bound="sum"), exact_prune(c.r, c.w, k, bound="max")
            assert new.proven and old.proven and new.nodes <= old.nodes
            assert new.objective == pytest.approx(old.objective, rel=1e-9, abs=1e-15)
            assert curve.errors[k] == pytest.approx(old.objective, rel=1e-9, abs=1e-15)


def test_curve_of_a_32_weight_chunk_against_the_old_search():
    x, w = problem(5, 32)
    r = factor(x)
    curve = prune_curve(r, w)
    for k in (4, 14, 20):  # k = 8 took the old search 3.4 million nodes (10-18 s) for no further check
        old = exact_prune(r, w, k, bound="max")
        assert curve.proven and old.proven and curve.errors[k] == pytest.approx(old.objective, rel=1e-9)


def test_curve_edge_cases_and_bad_input():
    x, w = problem(7, 5)
    r = factor(x)
    assert (prune_curve(r, np.zeros(5)).errors == 0).all()
    one = prune_curve(r[:1, :1], w[:1])
    assert one.errors[1] == 0 and one.errors[0] == pytest.approx(float((r[:1, :1] @ w[:1]) @ (r[:1, :1] @ w[:1])))
    with pytest.raises(ValueError, match="r must be square"):
        prune_curve(r[:3], w)
    with pytest.raises(ValueError, match="max_nodes"):
        prune_curve(r, w, max_nodes=0)
    assert not prune_curve(*problem_factor(32), max_nodes=50).proven


def problem_factor(n):
    x, w = problem(11, n)
    return factor(x), w


def brute_allocate(curves, total):
    best = np.inf
    for ks in itertools.product(*[range(len(c)) for c in curves]):
        if sum(ks) <= total:
            best = min(best, sum(c[k] for c, k in zip(curves, ks, strict=True)))
    return best


@pytest.mark.parametrize("seed", range(12))
def test_allocation_equals_brute_force_even_on_non_convex_curves(seed):
    rng = np.random.default_rng(seed)
    curves = []
    for _ in range(int(rng.integers(1, 5))):
        n = int(rng.integers(1, 6))
        curves.append(np.sort(rng.exponential(size=n + 1))[::-1])  # non-increasing, not convex in general
    total = int(rng.integers(0, sum(len(c) for c in curves) + 2))
    err, kept = allocate_budget(curves, total)
    assert err == pytest.approx(brute_allocate(curves, total), rel=1e-12)
    assert kept.sum() <= total and all(0 <= k < len(c) for c, k in zip(curves, kept, strict=True))
    assert err == pytest.approx(sum(c[k] for c, k in zip(curves, kept, strict=True)), rel=1e-12)


def test_allocation_moves_budget_where_greedy_marginal_gains_fail():
    # chunk A gains nothing from its first weight and everything from its second (not convex)
    a, b = np.array([10.0, 10.0, 0.0]), np.array([6.0, 5.0, 4.5])
    err, kept = allocate_budget([a, b], 2)
    assert err == 6.0 and kept.tolist() == [2, 0]
    with pytest.raises(ValueError, match="total"):
        allocate_budget([a], -1)
    with pytest.raises(ValueError, match="curves"):
        allocate_budget([], 2)
