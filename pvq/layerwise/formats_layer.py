"""Per-layer problems for the formats beyond the paper: exact N:M pruning and exact non-uniform levels (chapter 8).

The chunks of chapter 4 (:class:`pvq.layerwise.sweep.Chunk`: one output channel's weights ``w``
over at most 32 input dimensions, and the factor ``R`` of its real inputs, ``||Xv|| = ||Rv||``),
solved for two more kinds of format.

**N:M sparsity with least-squares refit.** The chunk's weights fall into groups of ``M``
consecutive input dimensions (a chunk starts at a multiple of 32, so these are the groups of the
whole row); each group keeps ``N`` (a last, shorter group keeps ``min(N, size)``), and the kept
weights are refitted:

.. math::

    \\min_{C \\in \\mathcal{C}_{N:M}}\\ \\lVert Xw \\rVert^2 - g_C^\\top H_{CC}^{-1} g_C,
    \\qquad H = X^\\top X,\\ g = Hw .

:func:`exact_nm` is a branch and bound over the groups: with the first ``d`` groups' choices fixed,
keeping *every* weight of the other groups can only lower the residual, so the refitted residual
of that superset bounds every completion from below. Children are explored in order of their
bound, from the best of SparseGPT's N:M mask (:func:`sparsegpt_nm`) and magnitude with refit.

**A finite, non-uniform level set** (FP4 E2M1, NF4: an element format times a per-tensor scale
``s``): :func:`exact_levels` is chapter 4's Schnorr–Euchner sphere decoder
(:func:`pvq.layerwise.quant.exact_quant`) with the integer box replaced by the sorted levels
``a_1 < … < a_K``: at each depth the candidates are visited in order of their distance to the
conditional centre, walking outwards from the nearest level, so a candidate over the radius ends
the depth. It proves ``min_{z ∈ A^n} ||R(w/s - z)||²``, starting from the best of
round-to-nearest and GPTQ with the same levels (:func:`gptq_levels`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numba
import numpy as np

from .prune import PruneResult, prune_objective
from .quant import blast_order, inverse_cholesky

__all__ = [
    "LevelResult",
    "exact_levels",
    "exact_nm",
    "gptq_levels",
    "nearest_levels",
    "nm_groups",
    "nm_magnitude",
    "sparsegpt_nm",
]


def nm_groups(n: int, m: int, keep: int) -> list[tuple[int, int, int]]:
    """The groups of a chunk of ``n`` weights: ``(start, size, kept)``, ``kept = min(keep, size)``."""
    if not 1 <= keep < m:
        raise ValueError(f"N:M sparsity needs 1 <= N < M, got {keep}:{m}")
    return [(s, min(m, n - s), min(keep, n - s)) for s in range(0, n, m)]


def sparsegpt_nm(r: np.ndarray, w, keep: int, m: int, *, damp: float = 0.0) -> PruneResult:
    """SparseGPT with an N:M mask (Frantar & Alistarh 2023, §3.3): weights processed in order; when a
    group begins, its ``keep`` weights of largest ``w_i² / [U]_ii²`` (on the weights as updated so
    far) are kept, and every removed weight's error is pushed onto the later ones through the
    upper Cholesky factor ``U`` of ``H⁻¹``, as for the unstructured mask."""
    w = np.array(w, dtype=np.float64)
    w_orig = w.copy()
    u = inverse_cholesky(r, damp=damp)
    keep_mask = np.zeros(w.size, dtype=bool)
    for start, size, kept in nm_groups(w.size, m, keep):
        score = w[start : start + size] ** 2 / np.diag(u)[start : start + size] ** 2
        keep_mask[start + np.argsort(-score, kind="stable")[:kept]] = True
        for i in range(start, start + size):
            if not keep_mask[i]:
                err = w[i] / u[i, i]
                w[i + 1 :] -= err * u[i, i + 1 :]
                w[i] = 0.0
    return PruneResult(w, prune_objective(r, w_orig, w), 0.0, False)


def nm_magnitude(r: np.ndarray, w, keep: int, m: int, *, refit: bool) -> PruneResult:
    """Magnitude N:M pruning of a chunk: the ``keep`` largest ``|w|`` of each group, refitted or not."""
    w = np.asarray(w, dtype=np.float64)
    support = np.concatenate([
        start + np.argsort(-np.abs(w[start : start + size]), kind="stable")[:kept]
        for start, size, kept in nm_groups(w.size, m, keep)
    ])  # fmt: skip
    w_hat = np.zeros_like(w)
    if refit:
        h = r.T @ r
        w_hat[support] = np.linalg.solve(h[np.ix_(support, support)], (h @ w)[support])
    else:
        w_hat[support] = w[support]
    return PruneResult(w_hat, prune_objective(r, w, w_hat), 0.0, False)


@numba.njit(cache=True)
def _residual(h, g, total, support, size):  # pragma: no cover - compiled
    """``total - g_Cᵀ H_CC⁻¹ g_C`` by a Cholesky factor written out (n ≤ 64: no LAPACK call to compile).

    A column that depends on the earlier ones (a pivot below ``10⁻¹⁴`` of its diagonal) is skipped: it
    lowers the residual by nothing.
    """
    lower = np.zeros((size, size))
    y = np.zeros(size)
    explained = 0.0
    for a in range(size):
        ia = support[a]
        piv = h[ia, ia]
        for k in range(a):
            piv -= lower[a, k] * lower[a, k]
        if piv <= 1e-14 * h[ia, ia]:
            continue  # dependent column: its row of the factor stays 0
        lower[a, a] = np.sqrt(piv)
        for b in range(a + 1, size):
            ib = support[b]
            t = h[ib, ia]
            for k in range(a):
                t -= lower[b, k] * lower[a, k]
            lower[b, a] = t / lower[a, a]
        t = g[ia]
        for k in range(a):
            t -= lower[a, k] * y[k]
        y[a] = t / lower[a, a]
        explained += y[a] * y[a]
    return total - explained


@numba.njit(cache=True)
def _nm_search(h, g, total, starts, sizes, opts, n_opts, best, best_sel, max_nodes):  # pragma: no cover - compiled
    """Depth-first branch and bound over the groups' choices (see the module docstring)."""
    n_groups = starts.size
    width = opts.shape[2]
    sel = np.zeros(n_groups, dtype=np.int64)
    order = np.zeros((n_groups, opts.shape[1]), dtype=np.int64)
    bounds = np.zeros((n_groups, opts.shape[1]))
    pos = np.zeros(n_groups, dtype=np.int64)
    support = np.zeros(h.shape[0], dtype=np.int64)
    nodes = 0
    d = 0
    while True:  # bounds of depth d's options, given the choices above it
        for o in range(n_opts[d]):
            size = 0
            for e in range(n_groups):
                if e < d:
                    for j in range(width):
                        if opts[e, sel[e], j] >= 0:
                            support[size] = opts[e, sel[e], j]
                            size += 1
                elif e == d:
                    for j in range(width):
                        if opts[e, o, j] >= 0:
                            support[size] = opts[e, o, j]
                            size += 1
                else:
                    for j in range(sizes[e]):
                        support[size] = starts[e] + j
                        size += 1
            bounds[d, o] = _residual(h, g, total, support, size)
        nodes += n_opts[d]
        order[d, : n_opts[d]] = np.argsort(bounds[d, : n_opts[d]])
        pos[d] = 0
        if nodes > max_nodes:
            return best, best_sel, nodes, False
        while True:  # next option at depth d, or backtrack
            if pos[d] < n_opts[d] and bounds[d, order[d, pos[d]]] < best:
                o = order[d, pos[d]]
                pos[d] += 1
                sel[d] = o
                if d == n_groups - 1:
                    best = bounds[d, o]  # a leaf's bound is its exact residual
                    best_sel[:] = sel
                    continue
                d += 1
                break
            d -= 1  # options are in order of bound: the rest cannot beat the incumbent
            if d < 0:
                return best, best_sel, nodes, True


def exact_nm(r: np.ndarray, w, keep: int, m: int, *, max_nodes: int = 5_000_000) -> PruneResult:
    """The exact N:M pruning optimum of a chunk with least-squares refit (see the module docstring).

    Parameters
    ----------
    r : numpy.ndarray, shape (n, n)
        Factor of the chunk's inputs (:func:`pvq.layerwise.quant.factor`).
    w : numpy.ndarray, shape (n,)
    keep, m : int
        ``N`` and ``M``.
    max_nodes : int
        Bounds evaluated before the search stops unproven (the best mask found is returned).

    Returns
    -------
    PruneResult
        ``lower_bound`` equals ``objective`` when ``proven``, else 0.
    """
    w = np.asarray(w, dtype=np.float64)
    groups = nm_groups(w.size, m, keep)
    h = r.T @ r
    g = h @ w
    total = float(w @ g)
    starts = np.array([s for s, _, _ in groups], dtype=np.int64)
    sizes = np.array([z for _, z, _ in groups], dtype=np.int64)
    choices = [list(itertools.combinations(range(s, s + z), k)) for s, z, k in groups]
    opts = np.full((len(groups), max(len(c) for c in choices), keep), -1, dtype=np.int64)
    for e, c in enumerate(choices):
        for o, subset in enumerate(c):
            opts[e, o, : len(subset)] = subset
    n_opts = np.array([len(c) for c in choices], dtype=np.int64)
    starts_found = [sparsegpt_nm(r, w, keep, m, damp=0.01), nm_magnitude(r, w, keep, m, refit=True)]
    start = min(starts_found, key=lambda p: p.objective)
    kept = start.w_hat != 0
    best_sel = np.zeros(len(groups), dtype=np.int64)
    for e, c in enumerate(choices):  # the start's mask as choices (a refitted zero keeps its slot)
        mine = tuple(i for i in range(starts[e], starts[e] + sizes[e]) if kept[i])
        best_sel[e] = c.index(mine) if mine in c else 0
    radius = start.objective * (1 + 1e-12) + 1e-300
    best, sel, nodes, proven = _nm_search(h, g, total, starts, sizes, opts, n_opts, radius, best_sel, max_nodes)
    if best >= radius:  # nothing better than the start: keep it exactly
        return PruneResult(start.w_hat, start.objective, start.objective if proven else 0.0, bool(proven), int(nodes))
    support = np.array([i for e in range(len(groups)) for i in opts[e, sel[e]] if i >= 0])
    w_hat = np.zeros_like(w)
    w_hat[support] = np.linalg.solve(h[np.ix_(support, support)], g[support])
    obj = prune_objective(r, w, w_hat)
    return PruneResult(w_hat, obj, obj if proven else 0.0, bool(proven), int(nodes))


@dataclass(frozen=True)
class LevelResult:
    """A chunk rounded to a finite level set and what is known about the optimum.

    Attributes
    ----------
    z : numpy.ndarray
        The levels chosen (in units of the scale).
    objective : float
        ``||X(w - s z)||²``.
    lower_bound : float
        ``objective`` when proven optimal, else 0.
    proven : bool
    nodes : int
    """

    z: np.ndarray
    objective: float
    lower_bound: float
    proven: bool
    nodes: int = 0


def nearest_levels(t, levels: np.ndarray) -> np.ndarray:
    """The level nearest to each value of ``t`` (a tie to the lower one)."""
    levels = np.asarray(levels, dtype=np.float64)
    mids = (levels[1:] + levels[:-1]) / 2
    return levels[np.searchsorted(mids, np.asarray(t, dtype=np.float64), side="left")]


def gptq_levels(r: np.ndarray, w, scale: float, levels: np.ndarray, *, damp: float = 0.0) -> np.ndarray:
    """GPTQ with a finite level set: each weight in order to its nearest level, the error pushed onto the rest."""
    w = np.array(w, dtype=np.float64)
    u = inverse_cholesky(r, damp=damp)
    z = np.zeros(w.size)
    for i in range(w.size):
        z[i] = nearest_levels(w[i] / scale, levels)
        err = (w[i] - scale * z[i]) / u[i, i]
        w[i + 1 :] -= err * u[i, i + 1 :]
    return z


@numba.njit(cache=True)
def _level_decode(r, t, levels, z0, radius, max_nodes):  # pragma: no cover - compiled
    """Schnorr–Euchner search for min ||R(z - t)||² with z in the sorted level set, from the last row up."""
    n = r.shape[0]
    k = levels.size
    best = radius
    best_z = z0.copy()
    z = np.zeros(n)
    c = np.zeros(n)
    up = np.zeros(n, dtype=np.int64)  # next level index above / below the ones tried at each depth
    dn = np.zeros(n, dtype=np.int64)
    partial = np.zeros(n + 1)
    nodes = 0
    i = n - 1
    c[i] = t[i]
    j = min(max(np.searchsorted(levels, c[i]), 0), k - 1)
    if j > 0 and abs(levels[j - 1] - c[i]) <= abs(levels[j] - c[i]):
        j -= 1
    z[i] = levels[j]
    up[i], dn[i] = j + 1, j - 1
    while True:
        nodes += 1
        if nodes > max_nodes:
            return best_z, best, nodes, False
        d = r[i, i] * (z[i] - c[i])
        cost = partial[i + 1] + d * d
        advance = True
        if cost < best:
            if i == 0:
                best = cost
                best_z[:] = z
            else:
                partial[i] = cost
                i -= 1
                acc = 0.0
                for q in range(i + 1, n):
                    acc += r[i, q] * (z[q] - t[q])
                c[i] = t[i] - acc / r[i, i]
                j = min(max(np.searchsorted(levels, c[i]), 0), k - 1)
                if j > 0 and abs(levels[j - 1] - c[i]) <= abs(levels[j] - c[i]):
                    j -= 1
                z[i] = levels[j]
                up[i], dn[i] = j + 1, j - 1
                advance = False
        while advance:  # candidates come in order of |a - c|: one over the radius ends the depth
            i += 1
            if i == n:
                return best_z, best, nodes, True
            a_ok = up[i] < k
            b_ok = dn[i] >= 0
            if not a_ok and not b_ok:
                continue
            if a_ok and (not b_ok or abs(levels[up[i]] - c[i]) <= abs(levels[dn[i]] - c[i])):
                z[i] = levels[up[i]]
                up[i] += 1
            else:
                z[i] = levels[dn[i]]
                dn[i] -= 1
            advance = False


def exact_levels(r: np.ndarray, w, scale: float, levels, *, max_nodes: int = 50_000_000) -> LevelResult:
    """The exact optimum of ``min_{z ∈ A^n} ||X(w - s z)||²`` over a sorted level set ``A`` (module docstring).

    Parameters
    ----------
    r : numpy.ndarray, shape (n, n)
        Factor of the chunk's inputs.
    w : numpy.ndarray, shape (n,)
    scale : float
        The per-tensor scale ``s``.
    levels : array_like
        The element levels, ascending (e.g. :func:`pvq.formats.elements.element_format` ``.levels``).
    max_nodes : int
        Node budget (unproven beyond it: the best point found is returned).
    """
    w = np.asarray(w, dtype=np.float64)
    levels = np.asarray(levels, dtype=np.float64)
    if levels.ndim != 1 or levels.size < 2 or np.any(np.diff(levels) <= 0):
        raise ValueError("levels must be at least two distinct values, ascending")

    def obj(z):
        v = r @ (w - scale * z)
        return float(v @ v)

    starts = [nearest_levels(w / scale, levels), gptq_levels(r, w, scale, levels, damp=0.01)]
    objs = [obj(z) for z in starts]
    z0 = starts[int(np.argmin(objs))]
    order = blast_order(r.T @ r)
    rp = np.linalg.qr(r[:, order], mode="r")
    rp = rp * np.sign(np.diag(rp))[:, None]
    t = (w / scale)[order]
    radius = min(objs) / scale**2 * (1 + 1e-12) + 1e-300
    zp, _, nodes, proven = _level_decode(rp, t, levels, z0[order].copy(), radius, max_nodes)
    z = np.empty(w.size)
    z[order] = zp
    best = obj(z)
    if best > min(objs):
        z, best = z0, min(objs)
    return LevelResult(z=z, objective=best, lower_bound=best if proven else 0.0, proven=bool(proven), nodes=int(nodes))
