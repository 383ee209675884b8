"""Per-layer pruning as a best-subset least-squares problem (paper §5).

For one output channel with inputs ``X`` and weights ``w`` (a chunk of ``n`` input dimensions),
pruning to at most ``k`` non-zeros with the kept weights refitted is

.. math::

    \\min_{|C| \\le k}\\ \\min_{\\hat w_C} \\lVert X w - X_C \\hat w_C \\rVert^2
    = \\lVert Xw \\rVert^2 - g_C^\\top H_{CC}^{-1} g_C, \\qquad H = X^\\top X,\\ g = Hw .

The paper's MIQP also bounds the refitted weights by ``-c·m⊙l ≤ ŵ ≤ c·m⊙u`` (``c = 2``); the
solvers here drop that box, which can only lower the optimum, and :func:`scip_boxed_miqp` solves
the paper's boxed form as an independent cross-check (the tests compare the two).

Solvers: :func:`magnitude` (no refit and with refit, the paper's baseline), :func:`sparsegpt`
(Frantar & Alistarh 2023, one row), :func:`greedy_obs` (Optimal Brain Surgeon, one weight at a
time with refit), and :func:`exact_prune`, a branch and bound over the support whose bound is
``res(C) +`` the ``m``-th smallest single-removal cost ``Δ_j = β_j²/[H_CC⁻¹]_jj`` among the
free weights (``m`` removals still to make): removing any set costs at least as much as removing
its most expensive member.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

from .quant import inverse_cholesky

__all__ = [
    "PruneResult",
    "exact_prune",
    "greedy_obs",
    "keep_count",
    "magnitude",
    "prune_objective",
    "scip_boxed_miqp",
    "sparsegpt",
]


@dataclass(frozen=True)
class PruneResult:
    """A pruned (and possibly refitted) chunk and what is known about the optimum."""

    w_hat: np.ndarray
    objective: float
    lower_bound: float
    proven: bool
    nodes: int = 0


def keep_count(n: int, n_bits: int, *, baseline_bits: int = 16) -> int:
    """Weights kept in a chunk of ``n`` at the pairing of INT-b: ``⌊n·b/16⌋`` (paper: Σm ≤ n·b/16)."""
    return math.floor(n * n_bits / baseline_bits)


def prune_objective(r: np.ndarray, w, w_hat) -> float:
    """``||X(w - ŵ)||² = ||R(w - ŵ)||²`` in residual form."""
    v = r @ (np.asarray(w, dtype=np.float64) - np.asarray(w_hat, dtype=np.float64))
    return float(v @ v)


def _refit(h: np.ndarray, w: np.ndarray, support: np.ndarray) -> np.ndarray:
    """Least-squares weights on ``support``: ``ŵ_C = H_CC⁻¹ (Hw)_C``, zero elsewhere."""
    out = np.zeros_like(w)
    if support.size:
        out[support] = np.linalg.solve(h[np.ix_(support, support)], (h @ w)[support])
    return out


def magnitude(r: np.ndarray, w, k: int, *, refit: bool) -> PruneResult:
    """Keep the ``k`` largest ``|w|``; with ``refit`` the kept weights are re-solved by least squares."""
    w = np.asarray(w, dtype=np.float64)
    support = np.sort(np.argsort(-np.abs(w), kind="stable")[:k])
    w_hat = _refit(r.T @ r, w, support) if refit else np.where(np.isin(np.arange(w.size), support), w, 0.0)
    return PruneResult(w_hat, prune_objective(r, w, w_hat), 0.0, False)


def sparsegpt(r: np.ndarray, w, k: int, *, damp: float = 0.0) -> PruneResult:
    """SparseGPT for one row: mask by ``w_i² / [H⁻¹]_ii²`` (keep the ``k`` largest), then prune in
    order, pushing each removed weight's error onto the later ones through the Cholesky factor of
    ``H⁻¹`` (as GPTQ does for rounding)."""
    w = np.array(w, dtype=np.float64)
    n = w.size
    u = inverse_cholesky(r, damp=damp)
    score = w**2 / np.diag(u) ** 2
    keep = np.zeros(n, dtype=bool)
    keep[np.argsort(-score, kind="stable")[:k]] = True
    w_orig = w.copy()
    for i in range(n):
        if not keep[i]:
            err = w[i] / u[i, i]
            w[i + 1 :] -= err * u[i, i + 1 :]
            w[i] = 0.0
    return PruneResult(w, prune_objective(r, w_orig, w), 0.0, False)


def _removal_costs(hinv: np.ndarray, beta: np.ndarray) -> np.ndarray:
    return beta**2 / np.diag(hinv)


def greedy_obs(r: np.ndarray, w, k: int) -> PruneResult:
    """Optimal Brain Surgeon, greedily: remove the weight whose removal (with refit) costs least."""
    w = np.asarray(w, dtype=np.float64)
    h = r.T @ r
    support = np.arange(w.size)
    while support.size > k:
        hinv = np.linalg.inv(h[np.ix_(support, support)])
        beta = hinv @ (h @ w)[support]
        support = np.delete(support, int(np.argmin(_removal_costs(hinv, beta))))
    w_hat = _refit(h, w, support)
    return PruneResult(w_hat, prune_objective(r, w, w_hat), 0.0, False)


def exact_prune(r: np.ndarray, w, k: int, *, max_nodes: int = 20_000_000, bound: str = "sum") -> PruneResult:
    """Exact best-subset pruning with least-squares refit, by branch and bound.

    Depth-first over "remove j" / "keep j" decisions, removals of the cheapest weight first; the
    inverse ``H_CC⁻¹`` is downdated by a rank-one step on each removal. The incumbent starts at
    the best of greedy OBS, SparseGPT and magnitude with refit. ``proven`` is False when
    ``max_nodes`` ran out. ``bound='max'`` is the module docstring's bound alone (the old
    search); ``bound='sum'`` (default) adds the stronger ``Σ Δ_j / λ`` bound of
    :mod:`pvq.layerwise.budget` (the same optimum, 5–20× faster at ``n = 32``).
    """
    if bound not in ("sum", "max"):
        raise ValueError(f"bound must be 'sum' or 'max', got {bound!r}")
    w = np.asarray(w, dtype=np.float64)
    n = w.size
    h = r.T @ r
    g = h @ w
    total = float(w @ g)  # ||Xw||²
    starts = [greedy_obs(r, w, k), sparsegpt(r, w, k, damp=0.01), magnitude(r, w, k, refit=True)]
    incumbent = min(starts, key=lambda s: s.objective)
    best = incumbent.objective
    best_support = np.flatnonzero(incumbent.w_hat)
    if k >= n:
        w_hat = w.copy()
        return PruneResult(w_hat, 0.0, 0.0, True)
    if k <= 0:
        return PruneResult(np.zeros(n), total, total, True)
    hinv = np.linalg.inv(h)
    root = total - float(g @ hinv @ g)
    start = np.zeros(n, dtype=np.bool_)
    start[best_support] = True
    best, support, nodes, proven = _branch_and_bound(hinv, g, max(root, 0.0), k, best, start, max_nodes,
                                                     bound == "sum")  # fmt: skip
    w_hat = _refit(h, w, np.flatnonzero(support))
    obj = prune_objective(r, w, w_hat)
    return PruneResult(w_hat, obj, obj if proven else 0.0, bool(proven), int(nodes))


@numba.njit(cache=True)
def _branch_and_bound(hinv0, g, res0, k, best0, support0, max_nodes, use_sum):  # pragma: no cover - compiled
    """Depth-first branch and bound over supports; an explicit stack of (support, fixed, H_CC⁻¹, res)."""
    n = g.size
    depth = 2 * n + 2
    hs = np.empty((depth, n, n))
    sup = np.zeros((depth, n), dtype=np.bool_)
    fix = np.zeros((depth, n), dtype=np.bool_)
    res = np.empty(depth)
    stage = np.zeros(depth, dtype=np.int64)
    chosen = np.zeros(depth, dtype=np.int64)
    delta = np.empty(n)
    isd = np.empty(n)
    hs[0] = hinv0
    sup[0, :] = True
    res[0] = res0
    best = best0
    best_sup = support0.copy()
    nodes = 0
    d = 0
    while d >= 0:
        if stage[d] == 0:
            nodes += 1
            if nodes > max_nodes:
                return best, best_sup, nodes, False
            count = 0
            for a in range(n):
                if sup[d, a]:
                    count += 1
            m = count - k
            if m == 0:
                if res[d] < best:
                    best = res[d]
                    best_sup[:] = sup[d]
                d -= 1
                continue
            nfree = 0
            for a in range(n):
                if sup[d, a]:
                    acc = 0.0
                    for b in range(n):
                        if sup[d, b]:
                            acc += hs[d, a, b] * g[b]
                    delta[a] = acc * acc / hs[d, a, a]
                    if not fix[d, a]:
                        nfree += 1
            if nfree < m:
                d -= 1
                continue
            vals = np.empty(nfree)
            idx = np.empty(nfree, dtype=np.int64)
            t = 0
            for a in range(n):
                if sup[d, a] and not fix[d, a]:
                    vals[t] = delta[a]
                    idx[t] = a
                    t += 1
            order = np.argsort(vals)
            bound = vals[order[m - 1]]
            if use_sum and m > 1 and res[d] + bound < best * (1 - 1e-12):
                # Σ of the m smallest Δ over the largest Gershgorin radius of m free weights
                acc = 0.0
                for t in range(m):
                    acc += vals[order[t]]
                for t in range(nfree):
                    isd[t] = 1.0 / math.sqrt(hs[d, idx[t], idx[t]])
                lmax = 0.0
                for t in range(nfree):
                    a = idx[t]
                    tot = 0.0
                    top = 0.0
                    for u in range(nfree):
                        if u != t:
                            v = abs(hs[d, a, idx[u]]) * isd[u]
                            tot += v
                            if v > top:
                                top = v
                    rad = 1.0 + min(tot, (m - 1) * top) * isd[t]
                    if rad > lmax:
                        lmax = rad
                        if lmax >= m:
                            break
                bound = max(bound, acc / min(lmax, float(m)))
            if res[d] + bound >= best * (1 - 1e-12):
                d -= 1
                continue
            j = idx[order[0]]
            chosen[d] = j
            stage[d] = 1
            c = d + 1  # first child: remove j, rank-one downdate of the inverse
            sup[c, :] = sup[d]
            sup[c, j] = False
            fix[c, :] = fix[d]
            hjj = hs[d, j, j]
            for a in range(n):
                if sup[c, a]:
                    for b in range(n):
                        if sup[c, b]:
                            hs[c, a, b] = hs[d, a, b] - hs[d, a, j] * hs[d, j, b] / hjj
            res[c] = res[d] + delta[j]
            stage[c] = 0
            d = c
        elif stage[d] == 1:
            stage[d] = 2
            c = d + 1  # second child: keep j for good
            sup[c, :] = sup[d]
            fix[c, :] = fix[d]
            fix[c, chosen[d]] = True
            hs[c] = hs[d]
            res[c] = res[d]
            stage[c] = 0
            d = c
        else:
            d -= 1
    return best, best_sup, nodes, True


def scip_boxed_miqp(
    r: np.ndarray, w, k: int, *, box: float = 2.0, node_limit: int = 20_000, time_limit: float | None = None
) -> PruneResult:
    """The paper's boxed MIQP solved by SCIP (PySCIPOpt): an independent cross-check.

    ``min ||R(w - ŵ)||²`` s.t. ``Σ m ≤ k``, ``-box·m_i·l ≤ ŵ_i ≤ box·m_i·u`` with ``l = -min w``,
    ``u = max w`` (so ``ŵ_i = 0`` when ``m_i = 0``). ``proven`` is SCIP's optimality status.

    SCIP stops after ``node_limit`` branch-and-bound nodes: a node limit gives the same result
    on every run and machine (SCIP's sequential search is deterministic), whereas a
    ``time_limit`` (seconds, none by default) makes ``proven`` and the objective depend on how
    fast and how busy the machine is when it binds.
    """
    from pyscipopt import Model, quicksum

    if node_limit < 1:
        raise ValueError(f"node_limit must be >= 1, got {node_limit}")
    w = np.asarray(w, dtype=np.float64)
    n = w.size
    lo_b, hi_b = box * max(-float(w.min()), 0.0), box * max(float(w.max()), 0.0)
    model = Model()
    model.hideOutput()
    model.setParam("limits/nodes", int(node_limit))
    if time_limit is not None:
        model.setParam("limits/time", float(time_limit))
    what = [model.addVar(lb=-lo_b, ub=hi_b, name=f"w{i}") for i in range(n)]
    mask = [model.addVar(vtype="B", name=f"m{i}") for i in range(n)]
    for i in range(n):
        model.addCons(what[i] <= hi_b * mask[i])
        model.addCons(what[i] >= -lo_b * mask[i])
    model.addCons(quicksum(mask) <= k)
    resid = [model.addVar(lb=None, name=f"e{i}") for i in range(n)]
    for i in range(n):
        model.addCons(resid[i] == quicksum(float(r[i, j]) * (float(w[j]) - what[j]) for j in range(i, n)))
    obj = model.addVar(lb=0, name="obj")
    model.addCons(obj >= quicksum(e * e for e in resid))
    model.setObjective(obj, "minimize")
    model.optimize()
    w_hat = np.array([model.getVal(v) for v in what])
    value = prune_objective(r, w, w_hat)
    proven = model.getStatus() == "optimal"
    return PruneResult(w_hat, value, float(model.getDualbound()) if proven else 0.0, proven)
