"""The layer-budget form of per-layer pruning (paper §5, issue 10): exact curves and their allocation.

The paper prunes every chunk to ``⌊n·b/16⌋`` kept weights. At ``n = 9`` (a depthwise 3×3
kernel) that rounds away 11–41% of the budget at odd bit-widths, and no budget can move from
a chunk that needs few weights to one that needs many. The *layer-budget* form keeps the same
total ``K_b = Σ_c ⌊n_c·b/16⌋`` over a layer's studied chunks and spends it where it lowers the
summed error most:

.. math::

    \\min_{k_c \\in \\{0..n_c\\},\\ \\sum_c k_c \\le K_b}\\ \\sum_c e_c(k_c),

with ``e_c(k)`` the exact best-subset error of chunk ``c`` keeping ``k`` weights (least-squares
refit). :func:`prune_curve` computes the whole curve ``e_c(0..n)`` in one branch and bound
(every node of the removal tree is a feasible support of its own size, as in Furnival &
Wilson's "leaps and bounds"), and :func:`allocate_budget` solves the allocation exactly by
dynamic programming over chunks (the curves need not be convex, so greedy marginal
allocation is not enough).

The bound at a node with support ``C``, free weights ``F`` and ``m`` removals still to make:
removing a set ``S ⊂ F`` costs ``β_Sᵀ (M_SS)⁻¹ β_S`` (``M = H_CC⁻¹``, ``β = M g_C``), at least
the largest single-removal cost ``Δ_j = β_j²/M_jj`` in ``S`` (the old bound of
:func:`pvq.layerwise.prune.exact_prune` with ``bound='max'``), and at least ``Σ_{j∈S} Δ_j / λ``
where ``λ ≥ λ_max`` of the correlation matrix of ``M_SS``; ``λ`` comes from Gershgorin's
circles over ``F`` with at most ``m - 1`` off-diagonal terms per row.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

__all__ = ["PruneCurve", "allocate_budget", "greedy_obs_path", "prune_curve"]


@dataclass(frozen=True)
class PruneCurve:
    """The exact best-subset error of one chunk for every number of kept weights.

    Attributes
    ----------
    errors : numpy.ndarray
        Shape ``(n + 1,)``; ``errors[k]``: least ``||X(w - ŵ)||²`` with at most ``k`` non-zeros (non-increasing).
    supports : numpy.ndarray
        Boolean, shape ``(n + 1, n)``: row ``k`` is a support attaining ``errors[k]``.
    proven : bool
        False when the node budget ran out (``errors`` are then the best found).
    nodes : int
    """

    errors: np.ndarray
    supports: np.ndarray
    proven: bool
    nodes: int = 0


def greedy_obs_path(r: np.ndarray, w) -> tuple[np.ndarray, np.ndarray]:
    """Greedy backward elimination (Optimal Brain Surgeon) for every ``k`` in one pass.

    Returns ``(errors, supports)`` shaped as in :class:`PruneCurve`: from the full support,
    repeatedly remove the weight whose removal (with refit) costs least.
    """
    w = np.asarray(w, dtype=np.float64)
    n = w.size
    h = r.T @ r
    g = h @ w
    total = float(w @ g)
    errors = np.empty(n + 1)
    supports = np.zeros((n + 1, n), dtype=bool)
    support = np.arange(n)
    while True:
        k = support.size
        supports[k, support] = True
        if k == 0:
            errors[0] = total
            break
        hinv = np.linalg.inv(h[np.ix_(support, support)])
        gc = g[support]
        errors[k] = max(total - float(gc @ hinv @ gc), 0.0)
        beta = hinv @ gc
        support = np.delete(support, int(np.argmin(beta**2 / np.diag(hinv))))
    return errors, supports


def prune_curve(r: np.ndarray, w, *, max_nodes: int = 50_000_000) -> PruneCurve:
    """Exact best-subset pruning errors of one chunk for every ``k = 0..n`` (least-squares refit).

    One branch and bound over "remove j" / "keep j" decisions (module docstring), incumbents
    started from :func:`greedy_obs_path`; each node's support updates the incumbent of its size,
    and a node is cut when no size it can still reach can beat that size's incumbent.

    Parameters
    ----------
    r : numpy.ndarray, shape (n, n)
        Triangular factor of the chunk's inputs (``RᵀR = XᵀX``), as in
        :func:`pvq.layerwise.quant.factor`.
    w : numpy.ndarray, shape (n,)
    max_nodes : int
        Node budget; when it runs out ``proven`` is False.
    """
    w = np.asarray(w, dtype=np.float64)
    if r.ndim != 2 or r.shape != (w.size, w.size):
        raise ValueError(f"r must be square with the size of w ({w.size}), got shape {r.shape}")
    if max_nodes < 1:
        raise ValueError(f"max_nodes must be >= 1, got {max_nodes}")
    errors, supports = greedy_obs_path(r, w)
    n = w.size
    if n <= 1 or not np.any(w):
        return PruneCurve(errors if np.any(w) else np.zeros(n + 1), supports, True, 0)
    h = r.T @ r
    g = h @ w
    hinv = np.linalg.inv(h)
    root = max(float(w @ g) - float(g @ hinv @ g), 0.0)
    errors[n] = root
    _, sup, nodes, proven = _curve_search(hinv, g, root, errors.copy(), supports.copy(), max_nodes)
    # evaluate every support by its own refit, exactly as the other solvers are scored
    out = np.empty(n + 1)
    for k in range(n + 1):
        c = np.flatnonzero(sup[k])
        w_hat = np.zeros(n)
        if c.size:
            w_hat[c] = np.linalg.solve(h[np.ix_(c, c)], g[c])
        v = r @ (w - w_hat)
        out[k] = float(v @ v)
    return PruneCurve(np.minimum.accumulate(out), sup, bool(proven), int(nodes))


@numba.njit(cache=True)
def _curve_search(hinv0, g, res0, best, best_sup, max_nodes):  # pragma: no cover - compiled
    """Leaps-and-bounds search; explicit stack of (support, fixed, H_CC⁻¹, res), all sizes at once."""
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
    rad_sum = np.empty(n)
    rad_top = np.empty(n)
    hs[0] = hinv0
    sup[0, :] = True
    res[0] = res0
    nodes = 0
    d = 0
    while d >= 0:
        if stage[d] == 0:
            nodes += 1
            if nodes > max_nodes:
                return best, best_sup, nodes, False
            count = 0
            nfixed = 0
            for a in range(n):
                if sup[d, a]:
                    count += 1
                    if fix[d, a]:
                        nfixed += 1
            if res[d] < best[count]:
                best[count] = res[d]
                best_sup[count, :] = sup[d]
            nfree = count - nfixed
            if nfree == 0:
                d -= 1
                continue
            vals = np.empty(nfree)
            idx = np.empty(nfree, dtype=np.int64)
            t = 0
            for a in range(n):
                if sup[d, a] and not fix[d, a]:
                    acc = 0.0
                    for b in range(n):
                        if sup[d, b]:
                            acc += hs[d, a, b] * g[b]
                    delta[a] = acc * acc / hs[d, a, a]
                    vals[t] = delta[a]
                    idx[t] = a
                    isd[t] = 1.0 / math.sqrt(hs[d, a, a])
                    t += 1
            order = np.argsort(vals)
            rad_done = False
            needed = False
            cum = 0.0
            for m in range(1, nfree + 1):  # m removals reach size count - m
                cum += vals[order[m - 1]]
                target = best[count - m] * (1 - 1e-12)
                bound = vals[order[m - 1]]
                if res[d] + bound < target and m > 1:
                    if not rad_done:
                        for s in range(nfree):
                            a = idx[s]
                            tot = 0.0
                            top = 0.0
                            for u in range(nfree):
                                if u != s:
                                    v = abs(hs[d, a, idx[u]]) * isd[u]
                                    tot += v
                                    if v > top:
                                        top = v
                            rad_sum[s] = tot * isd[s]
                            rad_top[s] = top * isd[s]
                        rad_done = True
                    lmax = 0.0
                    for s in range(nfree):
                        rad = 1.0 + min(rad_sum[s], (m - 1) * rad_top[s])
                        if rad > lmax:
                            lmax = rad
                    bound = max(bound, cum / min(lmax, float(m)))
                if res[d] + bound < target:
                    needed = True
                    break
            if not needed:
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
            c = d + 1  # second child: keep j for good (same support, already recorded)
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


def allocate_budget(curves, total: int) -> tuple[float, np.ndarray]:
    """Spend ``total`` kept weights over chunks so that the summed error is least: exact DP.

    ``F_c(K) = min_{0 ≤ k ≤ min(n_c, K)} F_{c-1}(K - k) + e_c(k)`` over chunks ``c`` in order;
    the allocation is read back from the arg-minima. Exact for any curves, convex or not
    (``O(K·Σ n_c)``).

    Parameters
    ----------
    curves : sequence of numpy.ndarray
        ``curves[c][k]``: error of chunk ``c`` keeping ``k`` weights, ``k = 0..n_c``.
    total : int
        Kept weights to share (``≥ 0``); more than ``Σ n_c`` keeps everything.

    Returns
    -------
    (error, kept) : (float, numpy.ndarray of int)
        The least summed error and the kept count of each chunk (``Σ kept ≤ total``).
    """
    curves = [np.asarray(c, dtype=np.float64) for c in curves]
    if not curves or any(c.ndim != 1 or c.size < 1 for c in curves):
        raise ValueError("curves must be a non-empty sequence of non-empty 1-d arrays")
    if int(total) != total or total < 0:
        raise ValueError(f"total must be a non-negative integer, got {total!r}")
    total = int(min(total, sum(c.size - 1 for c in curves)))
    f = np.full(total + 1, 0.0)  # F_0(K) = 0: no chunk, no error, whatever is left unspent
    choice = np.zeros((len(curves), total + 1), dtype=np.int64)
    for i, e in enumerate(curves):
        new = np.full(total + 1, np.inf)
        for k in range(min(e.size - 1, total) + 1):
            cand = np.full(total + 1, np.inf)
            cand[k:] = f[: total + 1 - k] + e[k]
            better = cand < new
            new[better] = cand[better]
            choice[i, better] = k
        f = new
    kept = np.zeros(len(curves), dtype=np.int64)
    left = total
    for i in range(len(curves) - 1, -1, -1):
        kept[i] = choice[i, left]
        left -= kept[i]
    return float(f[total]), kept
