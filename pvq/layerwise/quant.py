"""Per-layer quantization as an integer least-squares problem (paper §5).

For one output channel with inputs ``X`` (rows: im2col patches or tokens) and weights ``w``
(a chunk of ``n ≤ 32`` input dimensions), with scale ``s`` fixed by the per-tensor range
setting, post-training quantization is

.. math::

    \\min_{z \\in \\{q_{\\min},\\dots,q_{\\max}\\}^n} \\lVert X(w - s z) \\rVert^2
    = s^2 \\lVert R(z - t) \\rVert^2, \\qquad t = w/s,\\ R^\\top R = X^\\top X .

Every error here is evaluated in this residual form from the returned integer point.

Solvers:

- :func:`round_to_nearest`, :func:`gptq` (Frantar et al. 2022, one row), :func:`obq`
  (Frantar & Alistarh 2022, greedy order): heuristics, upper bounds;
- :func:`exact_quant`: Schnorr–Euchner sphere decoding with the integer box, started from the
  best heuristic; proves the optimum unless its node budget runs out (then ``proven=False``);
- :func:`sdp_bounds`: the paper's Park & Boyd (2018) semidefinite relaxation, with the
  integer-box cut, solved by a named cvxpy solver; the lower bound is *certified* by evaluating
  the dual function in closed form at the solver's multipliers, and randomized rounding plus a
  box-respecting 1-opt gives an upper bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numba
import numpy as np

__all__ = [
    "QuantResult",
    "blast_order",
    "exact_quant",
    "factor",
    "gptq",
    "inverse_cholesky",
    "obq",
    "quant_objective",
    "round_to_nearest",
    "sdp_bounds",
]


@dataclass(frozen=True)
class QuantResult:
    """An integer point and what is known about the optimum.

    Attributes
    ----------
    z : numpy.ndarray of int64
    objective : float
        ``||X(w - s z)||²`` of ``z``.
    lower_bound : float
        A proven lower bound on the optimum (``objective`` when proven optimal, 0 if unknown).
    proven : bool
    nodes : int
        Search nodes (sphere decoder) or 0.
    """

    z: np.ndarray
    objective: float
    lower_bound: float
    proven: bool
    nodes: int = 0


def factor(x: np.ndarray) -> np.ndarray:
    """Upper-triangular ``R`` (n×n) with ``RᵀR = XᵀX``.

    QR of ``X`` when it has at least as many rows as columns and full rank; otherwise a Cholesky
    factor of ``XᵀX + εI`` with ``ε = 10⁻¹²·max diag`` (dead or repeated input columns), which
    changes any objective by at most ``ε·||v||²``.
    """
    x = np.asarray(x, dtype=np.float64)
    m, n = x.shape
    if m >= n:
        r = np.linalg.qr(x, mode="r")
        d = np.abs(np.diag(r))
        if d.size and d.min() > 1e-10 * max(d.max(), 1e-300):
            return r * np.sign(np.diag(r))[:, None]
    g = x.T @ x
    eps = 1e-12 * max(float(np.max(np.diag(g))), 1e-300)
    return np.linalg.cholesky(g + eps * np.eye(n)).T


def quant_objective(r: np.ndarray, w: np.ndarray, scale: float, z: np.ndarray) -> float:
    """``||R(w - s z)||² = ||X(w - s z)||²`` in residual form."""
    v = r @ (np.asarray(w, dtype=np.float64) - scale * np.asarray(z, dtype=np.float64))
    return float(v @ v)


def round_to_nearest(w, scale: float, lo: int, hi: int) -> np.ndarray:
    """``clamp(round(w/s), lo, hi)``, round half to even."""
    return np.clip(np.rint(np.asarray(w, dtype=np.float64) / scale), lo, hi).astype(np.int64)


def inverse_cholesky(r: np.ndarray, *, damp: float = 0.0) -> np.ndarray:
    """Upper Cholesky factor ``U`` of ``H⁻¹`` (``UᵀU = H⁻¹``), ``H = RᵀR + damp·mean(diag)·I``.

    The factor GPTQ and SparseGPT use to spread one weight's error over the weights after it.
    """
    h = r.T @ r
    if damp:
        h = h + damp * np.mean(np.diag(h)) * np.eye(h.shape[0])
    return np.linalg.cholesky(np.linalg.inv(h)).T


def gptq(r: np.ndarray, w, scale: float, lo: int, hi: int, *, damp: float = 0.0) -> np.ndarray:
    """GPTQ for one row: quantize weights in order, pushing each rounding error onto the rest.

    With ``H = RᵀR`` (+ ``damp``·mean diag) and ``U`` the upper Cholesky factor of ``H⁻¹``:
    ``q_i = clamp(round(w_i/s))``, ``e = (w_i - s q_i)/U_ii``, ``w_{j>i} -= e·U_ij``. With no
    input correlation (diagonal ``H``) it is round-to-nearest.
    """
    w = np.array(w, dtype=np.float64)
    n = w.size
    u = inverse_cholesky(r, damp=damp)
    z = np.zeros(n, dtype=np.int64)
    for i in range(n):
        z[i] = min(max(int(np.rint(w[i] / scale)), lo), hi)
        err = (w[i] - scale * z[i]) / u[i, i]
        w[i + 1 :] -= err * u[i, i + 1 :]
    return z


def obq(r: np.ndarray, w, scale: float, lo: int, hi: int, *, damp: float = 0.0) -> np.ndarray:
    """Optimal Brain Quantizer, greedy order: quantize the weight whose rounding costs least.

    Cost of quantizing ``i`` given the rest adapts: ``(w_i - s q_i)² / [H⁻¹]_ii``; the others move
    by ``-(w_i - s q_i)/[H⁻¹]_ii · H⁻¹_{:,i}`` and ``i`` leaves ``H⁻¹`` (rank-one downdate).
    """
    w = np.array(w, dtype=np.float64)
    n = w.size
    h = r.T @ r
    if damp:
        h = h + damp * np.mean(np.diag(h)) * np.eye(n)
    hinv = np.linalg.inv(h)
    z = np.zeros(n, dtype=np.int64)
    free = np.ones(n, dtype=bool)
    for _ in range(n):
        idx = np.flatnonzero(free)
        q = np.clip(np.rint(w[idx] / scale), lo, hi)
        cost = (w[idx] - scale * q) ** 2 / np.diag(hinv)[idx]
        j = int(np.argmin(cost))
        i = int(idx[j])
        z[i] = int(q[j])
        delta = (w[i] - scale * z[i]) / hinv[i, i]
        w -= delta * hinv[:, i]
        w[i] = scale * z[i]
        hinv = hinv - np.outer(hinv[:, i], hinv[i, :]) / hinv[i, i]
        free[i] = False
    return z


@numba.njit(cache=True)
def _sphere_decode(r, t, lo, hi, z0, radius, max_nodes):  # pragma: no cover - compiled
    """Schnorr–Euchner depth-first search for min ||R(z - t)||², z in the box, from the last row up."""
    n = r.shape[0]
    best = radius
    best_z = z0.copy()
    z = np.zeros(n, dtype=np.int64)
    c = np.zeros(n)
    up = np.zeros(n, dtype=np.int64)
    dn = np.zeros(n, dtype=np.int64)
    partial = np.zeros(n + 1)
    nodes = 0
    i = n - 1
    c[i] = t[i]
    start = min(max(int(np.rint(c[i])), lo[i]), hi[i])
    z[i] = start
    up[i] = start + 1
    dn[i] = start - 1
    while True:
        nodes += 1
        if nodes > max_nodes:
            return best_z, best, nodes, False
        d = r[i, i] * (z[i] - c[i])
        cost = partial[i + 1] + d * d
        if cost < best:
            if i == 0:
                best = cost
                best_z[:] = z
                advance = True  # every other candidate at this level costs more
            else:
                partial[i] = cost
                i -= 1
                acc = 0.0
                for j in range(i + 1, n):
                    acc += r[i, j] * (z[j] - t[j])
                c[i] = t[i] - acc / r[i, i]
                start = min(max(int(np.rint(c[i])), lo[i]), hi[i])
                z[i] = start
                up[i] = start + 1
                dn[i] = start - 1
                continue
        else:
            advance = True
        # candidates at a level come in order of |z - c|, so a pruned one ends the level
        while advance:
            i += 1
            if i == n:
                return best_z, best, nodes, True
            a_ok = up[i] <= hi[i]
            b_ok = dn[i] >= lo[i]
            if not a_ok and not b_ok:
                continue
            if a_ok and (not b_ok or abs(up[i] - c[i]) <= abs(dn[i] - c[i])):
                z[i] = up[i]
                up[i] += 1
            else:
                z[i] = dn[i]
                dn[i] -= 1
            advance = False


def blast_order(h: np.ndarray) -> np.ndarray:
    """Variable order for the decoder: deepest levels first get the largest conditional precision.

    Repeatedly place last the remaining variable with the smallest ``[H_SS⁻¹]_jj`` (the largest
    diagonal of the triangular factor at that level), as in V-BLAST detection ordering.
    """
    n = h.shape[0]
    remaining = list(range(n))
    order = [0] * n
    for pos in range(n - 1, -1, -1):
        sub = np.linalg.inv(h[np.ix_(remaining, remaining)])
        k = int(np.argmin(np.diag(sub)))
        order[pos] = remaining.pop(k)
    return np.array(order)


def exact_quant(
    x: np.ndarray, w, scale: float, lo: int, hi: int, *, max_nodes: int = 200_000_000, r: np.ndarray | None = None
) -> QuantResult:
    """The exact integer optimum of ``min ||X(w - s z)||²`` over the box, by sphere decoding.

    The search radius starts at the best of round-to-nearest, GPTQ and OBQ (both with 1% damping),
    so the result is never worse than any of them; ``proven`` is False when ``max_nodes`` ran out (the point returned is
    then the best found, and ``lower_bound`` is 0).

    Parameters
    ----------
    x : numpy.ndarray, shape (m, n)
        Inputs of the chunk (ignored when ``r`` is given).
    w : numpy.ndarray, shape (n,)
    scale : float
    lo, hi : int
        Integer range (``q_min``, ``q_max``).
    max_nodes : int
        Node budget of the search.
    r : numpy.ndarray, optional
        A precomputed :func:`factor` of ``x``.
    """
    r = factor(x) if r is None else r
    w = np.asarray(w, dtype=np.float64)
    n = w.size
    # damped heuristics as starting points: they stay well defined for dead or repeated inputs
    starts = [
        round_to_nearest(w, scale, lo, hi),
        gptq(r, w, scale, lo, hi, damp=0.01),
        obq(r, w, scale, lo, hi, damp=0.01),
    ]
    objs = [quant_objective(r, w, scale, z) for z in starts]
    z0 = starts[int(np.argmin(objs))]
    order = blast_order(r.T @ r)
    rp = np.linalg.qr(r[:, order], mode="r")
    rp = rp * np.sign(np.diag(rp))[:, None]
    t = (w / scale)[order]
    lo_v = np.full(n, lo, dtype=np.int64)
    hi_v = np.full(n, hi, dtype=np.int64)
    radius = min(objs) / scale**2 * (1 + 1e-12) + 1e-300
    zp, _, nodes, proven = _sphere_decode(rp, t, lo_v, hi_v, z0[order].astype(np.int64), radius, max_nodes)
    z = np.empty(n, dtype=np.int64)
    z[order] = zp
    obj = quant_objective(r, w, scale, z)
    if obj > min(objs):  # the decoder kept the start point: use it exactly
        z, obj = z0, min(objs)
    return QuantResult(z=z, objective=obj, lower_bound=obj if proven else 0.0, proven=bool(proven), nodes=int(nodes))


def sdp_bounds(
    r: np.ndarray,
    w,
    scale: float,
    lo: int,
    hi: int,
    *,
    solver: str = "CLARABEL",
    box_cut: bool = True,
    box_aware: bool = True,
    n_samples: int | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[float, QuantResult]:
    """The paper's SDP bounds (Park & Boyd 2018) for one chunk.

    The origin is shifted to ``c = ⌊t⌋``, ``t = w/s``; with ``y = z - c`` the objective is
    ``yᵀPy + 2qᵀy + ρ`` (``P = s²RᵀR``, ``q = P(c - t)``, ``ρ = (c-t)ᵀP(c-t)``) and the relaxation

    .. math::

        \\min\\ \\mathrm{Tr}(PY) + 2q^\\top y + \\rho \\quad \\text{s.t.}\\quad
        \\begin{bmatrix} Y & y \\\\ y^\\top & 1 \\end{bmatrix} \\succeq 0,\\quad
        \\mathrm{diag}(Y) \\ge y,\\quad
        Y_{ii} - (l_i + u_i) y_i + l_i u_i \\le 0\\ \\text{(box cut)} .

    Lower bound, certified: for the solver's multipliers ``λ ≥ 0`` (of ``diag(Y) ≥ y``) and
    ``μ ≥ 0`` (box cut), the dual function ``ρ + Σ μ_i l_i u_i - ¼ bᵀA⁻¹b`` with
    ``A = P - diag(λ) + diag(μ) ≻ 0`` (checked by Cholesky, ``λ`` backed off until it holds) and
    ``b = 2q + λ - (l + u)∘μ`` is a lower bound on the integer optimum whatever the solver's
    accuracy. Upper bound: ``n_samples`` (default ``3n``) draws from ``N(y*, Y* - y*y*ᵀ)``,
    rounded, clamped to the box, then 1-opt moves inside the box; the best point. The paper's
    plain form is ``box_cut=False, box_aware=False``: no box cut, and each rounded draw gets
    1-opt moves on the unbounded integers before it is clamped to the box.

    Returns
    -------
    (lower_bound, upper) : (float, QuantResult)
    """
    import cvxpy as cp

    w = np.asarray(w, dtype=np.float64)
    n = w.size
    rng = np.random.default_rng(0) if rng is None else rng
    t = w / scale
    c = np.floor(t)
    lo_y, hi_y = lo - c, hi - c
    p = scale**2 * (r.T @ r)
    p = (p + p.T) / 2
    q = p @ (c - t)
    rho = float((c - t) @ p @ (c - t))
    big = cp.Variable((n + 1, n + 1), symmetric=True)
    ymat, yvec = big[:n, :n], big[:n, n]
    cons = [big >> 0, big[n, n] == 1, cp.diag(ymat) >= yvec]
    if box_cut:
        cons.append(cp.diag(ymat) - cp.multiply(lo_y + hi_y, yvec) + lo_y * hi_y <= 0)
    prob = cp.Problem(cp.Minimize(cp.trace(p @ ymat) + 2 * q @ yvec + rho), cons)
    prob.solve(solver=solver)
    lam = np.maximum(np.asarray(cons[2].dual_value, dtype=np.float64).reshape(-1), 0.0)
    mu = np.maximum(np.asarray(cons[3].dual_value, dtype=np.float64).reshape(-1), 0.0) if box_cut else np.zeros(n)
    lower = -math.inf
    for shrink in (0.0, 1e-9, 1e-7, 1e-5, 1e-3, 1e-2, 1e-1, 1.0):
        lam_s = lam * (1 - shrink)
        a = p - np.diag(lam_s) + np.diag(mu)
        try:
            chol = np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            continue
        b = 2 * q + lam_s - (lo_y + hi_y) * mu
        v = np.linalg.solve(chol, b)
        lower = rho + float(np.sum(mu * lo_y * hi_y)) - 0.25 * float(v @ v)
        break
    lower = max(lower, 0.0)
    ys, yv = np.asarray(ymat.value), np.asarray(yvec.value).reshape(-1)
    cov = ys - np.outer(yv, yv)
    cov = (cov + cov.T) / 2
    evals, evecs = np.linalg.eigh(cov)
    draws = yv + (rng.standard_normal((n_samples or 3 * n, n)) * np.sqrt(np.maximum(evals, 0))) @ evecs.T
    best_z, best = None, math.inf
    for y in np.vstack([np.round(yv)[None, :], draws]):
        if box_aware:
            z, obj = _one_opt(r, w, scale, np.clip(np.rint(y + c), lo, hi).astype(np.int64), lo, hi)
        else:  # the paper's order: 1-opt on the integers, then clamping to the box
            z, _ = _one_opt(r, w, scale, np.rint(y + c).astype(np.int64), -(2**62), 2**62)
            z = np.clip(z, lo, hi)
            obj = quant_objective(r, w, scale, z)
        if obj < best:
            best_z, best = z, obj
    return lower, QuantResult(z=best_z, objective=best, lower_bound=lower, proven=False)


def _one_opt(r, w, scale, z, lo, hi):
    """Greedy ±1 moves inside the box while any lowers the objective."""
    z = z.copy()
    obj = quant_objective(r, w, scale, z)
    improved = True
    while improved:
        improved = False
        for i in range(z.size):
            for step in (-1, 1):
                if lo <= z[i] + step <= hi:
                    z[i] += step
                    new = quant_objective(r, w, scale, z)
                    if new < obj - 1e-15 * obj:
                        obj, improved = new, True
                    else:
                        z[i] -= step
    return z, obj
