"""Expected quantization and pruning errors for a symmetric density (paper §3).

For a density ``p`` symmetric about 0 and a grid of levels ``k·s``, the expected
quantization error splits into bins whose edges lie at the midpoints ``(k ± 1/2)s``; the
two outer bins extend to ``±∞`` and so carry the clipping error:

.. math::

    E_Q(s) = \\sum_k \\int_{\\text{bin } k} (w - k s)^2 p(w)\\, dw .

By symmetry the negative half equals a positive half whose top level is ``|q_min|·s``, so
``E_Q = H(s, q_max) + H(s, |q_min|)`` with ``H(s, K) = Σ_{k=0}^{K} ∫_{bin k ∩ [0,∞)}``.
Pruning at sparsity ``c`` removes ``|w| < τ``, ``τ = F⁻¹(1/2 + c/2)``:

.. math::

    E_P = \\int_{-τ}^{τ} w^2 p(w)\\, dw .

For the normal density the bin integrals have the closed form (``φ``, ``Φ`` standard
normal pdf and cdf)

.. math::

    \\int_a^b (w - c)^2 φ(w)\\, dw = (1 + c^2)(Φ(b) - Φ(a)) + (a - 2c)φ(a) - (b - 2c)φ(b),

and ``E_P/σ² = (2Φ(t) - 1) - 2tφ(t)`` with ``t = Φ⁻¹(1/2 + c/2)``. Any other density is
integrated numerically: vectorised adaptive Gauss–Legendre on every bin (bisection until
the rule on the halves agrees with the rule on the whole), infinite bins mapped onto a
finite interval. The MSE-optimal clipping value comes from a dense geometric bracket followed
by a bounded Brent search (:func:`optimal_clip`).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ..core.metrics import snr_db_from_mse
from ..core.pruning import check_sparsity, paired_sparsity
from ..core.quantization import Grid, check_grid, int_grid, quantize, scale_from_clip
from .distributions import SymmetricDistribution

__all__ = [
    "ClipResult",
    "adaptive_gauss_legendre",
    "bin_errors",
    "error_profile",
    "normal_bin_errors",
    "optimal_clip",
    "prune_mse",
    "prune_snr_db",
    "pruning_threshold",
    "quant_mse",
    "quantized_level_masses",
    "snr_table",
]

RTOL = 1e-10
_GL = np.polynomial.legendre.leggauss(20)
_MAX_INTERVALS = 200_000
_BATCH_BINS = 8192  # bins integrated in one pass by optimal_clip's bracket (memory stays small)


def normal_bin_errors(lo, hi, centers):
    """Closed form ``∫_lo^hi (w - c)² φ(w) dw`` for the standard normal, ``0 ≤ lo < hi ≤ ∞``.

    Parameters
    ----------
    lo, hi, centers : array_like
        Bin edges (``hi`` may be ``inf``) and reconstruction levels, broadcast together.

    Returns
    -------
    numpy.ndarray
        One integral per bin.
    """
    lo, hi, c = np.broadcast_arrays(*(np.atleast_1d(np.asarray(v, dtype=np.float64)) for v in (lo, hi, centers)))
    mass = stats.norm.sf(lo) - stats.norm.sf(hi)  # Φ(b) - Φ(a), accurate in the upper tail
    edge_lo = (lo - 2 * c) * stats.norm.pdf(lo)
    finite = np.isfinite(hi)
    edge_hi = np.zeros_like(hi)
    edge_hi[finite] = (hi[finite] - 2 * c[finite]) * stats.norm.pdf(hi[finite])
    return np.maximum((1 + c**2) * mass + edge_lo - edge_hi, 0.0)


def _gauss_legendre(f, lo, hi, owners):
    nodes, weights = _GL
    half = (hi - lo)[:, None] / 2
    mid = (hi + lo)[:, None] / 2
    return np.sum(weights * f(mid + half * nodes, owners), axis=1) * half[:, 0]


def adaptive_gauss_legendre(f, lo, hi, *, rtol: float = RTOL, max_depth: int = 40, groups=None) -> np.ndarray:
    """Vectorised adaptive Gauss–Legendre integration of many integrals at once.

    Each interval is bisected until the 20-node rule on the halves agrees with the rule on
    the whole to within its share of ``rtol`` times the total (or its own ``rtol``).

    Parameters
    ----------
    f : callable
        ``f(x, owners)`` with ``x`` of shape ``(m, nodes)`` and ``owners`` of shape ``(m,)``
        (the index of the integral each row belongs to); returns values shaped like ``x``.
    lo, hi : numpy.ndarray
        Finite limits, one pair per integral.
    rtol : float
        Relative tolerance of the sum of all integrals (of each group's sum with ``groups``).
    groups : array_like of int, optional
        A label per integral, equal labels adjacent: each group is integrated exactly (bit for
        bit) as a separate call on its integrals would, in one vectorised pass.

    Returns
    -------
    numpy.ndarray
        One value per integral.
    """
    n = len(lo)
    result = np.zeros(n)
    owners = np.arange(n)
    a, b = lo.astype(np.float64), hi.astype(np.float64)
    coarse = _gauss_legendre(f, a, b, owners)
    label = np.zeros(n, dtype=np.intp) if groups is None else np.asarray(groups)
    starts = np.flatnonzero(np.r_[True, label[1:] != label[:-1]]) if n else np.zeros(0, dtype=np.intp)
    group = np.cumsum(np.r_[True, label[1:] != label[:-1]]) - 1 if n else label
    floor = np.empty(n)
    for s, e in zip(starts, [*starts[1:], n], strict=True):
        floor[s:e] = rtol * max(np.abs(coarse[s:e]).sum(), np.finfo(float).tiny) / (e - s)
    tol = floor + rtol * np.abs(coarse)
    for depth in range(max_depth):
        mid = (a + b) / 2
        left = _gauss_legendre(f, a, mid, owners)
        right = _gauss_legendre(f, mid, b, owners)
        fine = left + right
        # an interval whose two rules agree to rounding error cannot do better by splitting
        done = np.abs(fine - coarse) <= np.maximum(tol, 64 * np.finfo(float).eps * np.abs(fine))
        if not done.all():
            live = np.bincount(group[owners], minlength=len(starts))  # each group's intervals
            stop = np.bincount(group[owners], weights=~done, minlength=len(starts)) > 0
            stop &= (depth == max_depth - 1) | (2 * live > _MAX_INTERVALS)
            if stop.any():
                msg = "adaptive integration hit its size limit; accuracy not reached"
                warnings.warn(msg, RuntimeWarning, stacklevel=2)
                done |= stop[group[owners]]
        np.add.at(result, owners[done], fine[done])
        if done.all():
            return result
        k = ~done
        owners = np.concatenate([owners[k], owners[k]])
        a, b = np.concatenate([a[k], mid[k]]), np.concatenate([mid[k], b[k]])
        coarse = np.concatenate([left[k], right[k]])
        tol = np.concatenate([tol[k], tol[k]]) / 2
    return result


def bin_errors(dist: SymmetricDistribution, lo, hi, centers, *, rtol: float = RTOL, groups=None) -> np.ndarray:
    """``∫_lo^hi (w - c)² p(w) dw`` for each bin on the positive half-line.

    Closed form for an untruncated normal; otherwise vectorised adaptive Gauss–Legendre
    (:func:`adaptive_gauss_legendre`), with ``w = lo + L·u/(1-u)`` (``L = max(lo, σ)``) mapping an infinite bin
    onto ``u ∈ [0, 1)``.

    Parameters
    ----------
    dist : SymmetricDistribution
    lo, hi : array_like
        Bin edges with ``0 ≤ lo < hi ≤ ∞``; parts beyond the support contribute nothing.
    centers : array_like
        Reconstruction level of each bin.
    rtol : float
        Target relative accuracy of the sum over bins.
    groups : array_like of int, optional
        A label per bin, equal labels adjacent: each group's bins get exactly what a separate
        call on them would give (see :func:`adaptive_gauss_legendre`).
    """
    lo, hi, c = (np.array(v, dtype=np.float64, ndmin=1) for v in np.broadcast_arrays(lo, hi, centers))
    if dist.is_standard_normal_family:
        sigma = float(dist.base.std())
        return sigma**2 * normal_bin_errors(lo / sigma, hi / sigma, c / sigma)
    hi = np.minimum(hi, dist.upper)
    out = np.zeros_like(lo)
    live = lo < hi
    finite = np.flatnonzero(live & np.isfinite(hi))
    if finite.size:
        cf = c[finite]

        def direct(w, own):
            return (w - cf[own][:, None]) ** 2 * dist.pdf(w)

        part = None if groups is None else np.asarray(groups)[finite]
        out[finite] = adaptive_gauss_legendre(direct, lo[finite], hi[finite], rtol=rtol, groups=part)
    infinite = np.flatnonzero(live & ~np.isfinite(hi))
    if infinite.size:
        ci, li = c[infinite], lo[infinite]
        # w = lo + L·u/(1-u) with L ≥ lo puts the bulk of the tail near u = 1/2
        span = np.maximum(li, math.sqrt(dist.second_moment))

        def mapped(u, own):
            w = li[own][:, None] + span[own][:, None] * u / (1.0 - u)
            return (w - ci[own][:, None]) ** 2 * dist.pdf(w) * span[own][:, None] / (1.0 - u) ** 2

        zeros, ones = np.zeros(infinite.size), np.ones(infinite.size)
        part = None if groups is None else np.asarray(groups)[infinite]
        out[infinite] = adaptive_gauss_legendre(mapped, zeros, ones, rtol=rtol, groups=part)
    return out


def _half_error(dist: SymmetricDistribution, scale: float, top: int, rtol: float) -> float:
    """Error on ``[0, ∞)`` against the levels ``0, s, …, top·s``."""
    k = np.arange(top + 1, dtype=np.float64)
    lo = np.maximum(k - 0.5, 0.0) * scale
    hi = (k + 0.5) * scale
    hi[-1] = math.inf
    return float(np.sum(bin_errors(dist, lo, hi, k * scale, rtol=rtol)))


def _quant_mse_many(dist: SymmetricDistribution, clips, *, n_bits: int, grid: Grid, rtol: float) -> np.ndarray:
    """``[quant_mse(dist, a, ...) for a in clips]``, bit for bit, in vectorised passes of ≤ _BATCH_BINS bins."""
    q_min, q_max = int_grid(n_bits, grid)
    step = max(1, _BATCH_BINS // (q_max - q_min + 2))  # bins of one clip: both halves
    if len(clips) > step:
        parts = [clips[i : i + step] for i in range(0, len(clips), step)]
        return np.concatenate([_quant_mse_many(dist, c, n_bits=n_bits, grid=grid, rtol=rtol) for c in parts])
    lo, hi, centers, sizes = [], [], [], []
    for a in clips:  # the bins of _half_error for each half of each clip, one group each
        s = scale_from_clip(a, n_bits=n_bits, grid=grid)
        for top in (q_max, -q_min):
            k = np.arange(top + 1, dtype=np.float64)
            lo.append(np.maximum(k - 0.5, 0.0) * s)
            hi.append((k + 0.5) * s)
            hi[-1][-1] = math.inf
            centers.append(k * s)
            sizes.append(top + 1)
    groups = np.repeat(np.arange(len(sizes)), sizes)
    errors = bin_errors(dist, np.concatenate(lo), np.concatenate(hi), np.concatenate(centers), rtol=rtol, groups=groups)
    ends = np.cumsum(sizes)
    halves = [float(np.sum(errors[e - n : e])) for n, e in zip(sizes, ends, strict=True)]
    return np.array([halves[i] + halves[i + 1] for i in range(0, len(halves), 2)])


def quant_mse(
    dist: SymmetricDistribution, clip: float, *, n_bits: int, grid: Grid = "signed", rtol: float = RTOL
) -> float:
    """Expected quantization error ``E_Q`` at clipping value ``clip`` (paper §3, eq. for E_Q).

    Parameters
    ----------
    dist : SymmetricDistribution
        Weight density.
    clip : float
        Clipping value ``α``; the scale is ``α / (2^(b-1) - 1)``.
    n_bits : int
        Bit-width ``b``.
    grid : {'signed', 'symmetric'}
        Integer grid (see :func:`pvq.core.quantization.int_grid`).
    rtol : float
        Relative accuracy of the numerical integration.

    Returns
    -------
    float
        ``E[(W - Q(W))²]``.
    """
    q_min, q_max = int_grid(n_bits, grid)
    s = scale_from_clip(clip, n_bits=n_bits, grid=grid)
    return _half_error(dist, s, q_max, rtol) + _half_error(dist, s, -q_min, rtol)


@dataclass(frozen=True)
class ClipResult:
    """MSE-optimal clipping for one distribution and grid.

    Attributes
    ----------
    clip : float
        Optimal clipping value ``α*``.
    mse : float
        ``E_Q(α*)``.
    snr_db : float
        ``10·log10(E[W²] / E_Q(α*))``.
    n_bits : int
    grid : str
    """

    clip: float
    mse: float
    snr_db: float
    n_bits: int
    grid: str


def optimal_clip(
    dist: SymmetricDistribution,
    *,
    n_bits: int,
    grid: Grid = "signed",
    n_bracket: int = 121,
    rtol: float = RTOL,
) -> ClipResult:
    """MSE-optimal clipping value ``α* = argmin_α E_Q(α)`` (paper §3).

    ``E_Q`` is evaluated on ``n_bracket`` geometrically spaced values of ``α`` from
    ``0.02·σ`` to the ``1 - 10⁻¹⁵`` quantile (or the support's end); the best one and its
    neighbours bracket a bounded Brent search to relative precision ``1e-10``. If the best
    value sits at the top of the range, the range is extended.

    Returns
    -------
    ClipResult
    """
    check_grid(grid)
    int_grid(n_bits, grid)
    sigma = math.sqrt(dist.second_moment)
    lo = 0.02 * sigma
    hi = min(float(dist.isf(1e-15)), 2.0 * dist.upper)
    hi = max(hi, 4.0 * sigma)

    def mse(a: float) -> float:
        return quant_mse(dist, a, n_bits=n_bits, grid=grid, rtol=rtol)

    for _ in range(8):
        alphas = np.geomspace(lo, hi, n_bracket)
        values = _quant_mse_many(dist, alphas, n_bits=n_bits, grid=grid, rtol=rtol)  # = [mse(a) for a in alphas]
        i = int(np.argmin(values))
        if i < n_bracket - 1:
            break
        lo, hi = alphas[-2], hi * 100.0
    else:  # pragma: no cover - defensive
        warnings.warn("optimal clip search hit the top of its range", RuntimeWarning, stacklevel=2)
    a_lo = alphas[max(i - 1, 0)]
    a_hi = alphas[min(i + 1, n_bracket - 1)]
    res = optimize.minimize_scalar(
        mse, bounds=(a_lo, a_hi), method="bounded", options={"xatol": 1e-10 * alphas[i], "maxiter": 500}
    )
    clip, best = (float(res.x), float(res.fun)) if res.fun <= values[i] else (float(alphas[i]), float(values[i]))
    return ClipResult(
        clip=clip, mse=best, snr_db=snr_db_from_mse(dist.second_moment, best), n_bits=int(n_bits), grid=grid
    )


def pruning_threshold(dist: SymmetricDistribution, sparsity: float) -> float:
    """Magnitude threshold ``τ = F⁻¹(1/2 + c/2)`` removing a share ``c`` of the mass."""
    c = check_sparsity(sparsity)
    return 0.0 if c == 0 else float(dist.isf((1.0 - c) / 2.0))


def prune_mse(dist: SymmetricDistribution, sparsity: float, *, rtol: float = RTOL) -> float:
    """Expected pruning error ``E_P = ∫_{-τ}^{τ} w² p(w) dw`` (paper §3)."""
    tau = pruning_threshold(dist, sparsity)
    if tau == 0:
        return 0.0
    return 2.0 * float(bin_errors(dist, 0.0, tau, 0.0, rtol=rtol)[0])


def prune_snr_db(dist: SymmetricDistribution, sparsity: float) -> float:
    """``10·log10(E[W²] / E_P)``; ``+inf`` at sparsity 0."""
    return snr_db_from_mse(dist.second_moment, prune_mse(dist, sparsity))


def quantized_level_masses(dist: SymmetricDistribution, clip: float, *, n_bits: int, grid: Grid = "signed"):
    """Levels ``k·s`` of the quantizer and the probability ``P(Q(W) = k·s)`` of each.

    Returns
    -------
    levels, probabilities : numpy.ndarray
        Sorted levels and their masses (summing to 1).
    """
    q_min, q_max = int_grid(n_bits, grid)
    s = scale_from_clip(clip, n_bits=n_bits, grid=grid)
    k = np.arange(q_min, q_max + 1, dtype=np.float64)
    upper = np.where(k == q_max, np.inf, (k + 0.5) * s)
    lower = np.where(k == q_min, -np.inf, (k - 0.5) * s)
    probs = dist.cdf(upper) - dist.cdf(lower)
    return k * s, probs


def snr_table(dist: SymmetricDistribution, n_bits, *, grids=("signed",), baseline_bits: int = 16):
    """Quantization vs paired pruning SNR for each bit-width and grid.

    Each INT-b point is paired with sparsity ``1 - b/baseline_bits`` (paper §1).

    Returns
    -------
    list of dict
        Rows with keys ``n_bits, sparsity, grid, clip, quant_snr_db, prune_snr_db``; ``clip``
        in units of the distribution's standard deviation.
    """
    sigma = math.sqrt(dist.second_moment)
    rows = []
    for b in n_bits:
        c = paired_sparsity(b, baseline_bits=baseline_bits)
        p_snr = prune_snr_db(dist, c)
        for g in grids:
            res = optimal_clip(dist, n_bits=b, grid=g)
            rows.append(
                {
                    "n_bits": int(b),
                    "sparsity": c,
                    "grid": g,
                    "clip": res.clip / sigma,
                    "quant_snr_db": res.snr_db,
                    "prune_snr_db": p_snr,
                }
            )
    return rows


def error_profile(dist: SymmetricDistribution, w, *, clip: float, n_bits: int, sparsity: float, grid: Grid = "signed"):
    """Pointwise view of both errors (Figure 1, left and middle).

    Returns
    -------
    pandas.DataFrame
        Columns ``w, density, pruned_density, quant_weighted_error, prune_weighted_error``:
        ``p(w)``, the continuous part of the pruned density (``p(w)`` where ``|w| ≥ τ``), and
        ``(w - F(w))² p(w)`` for the quantizer and for pruning.
    """
    w = np.asarray(w, dtype=np.float64)
    p = dist.pdf(w)
    tau = pruning_threshold(dist, sparsity)
    kept = np.abs(w) >= tau
    return pd.DataFrame(
        {
            "w": w,
            "density": p,
            "pruned_density": np.where(kept, p, np.nan),
            "quant_weighted_error": (w - quantize(w, n_bits=n_bits, clip=clip, grid=grid)) ** 2 * p,
            "prune_weighted_error": np.where(kept, 0.0, w**2) * p,
        }
    )
