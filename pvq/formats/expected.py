"""Expected error of each format on a symmetric weight density: exact where it can be (chapter 8).

A format with a fixed level set ``{s·e_j}`` (one scale per tensor: ``int4``, ``fp8_e4m3``,
``nf4``, …) rounds ``w`` to the nearest level, so its expected error is a sum of bin integrals
with the bin edges at the midpoints between levels, as for the paper's integer grid (§3):

.. math::

    E(s) = \\sum_j \\int_{m_{j-1}}^{m_j} (w - s e_j)^2 p(w)\\, dw,
    \\qquad m_j = s\\,\\frac{e_j + e_{j+1}}{2},\\; m_{-1} = -∞,\\; m_J = ∞ .

Floating-point levels are not evenly spaced, and the level sets need not be symmetric (NF4 has 8
positive levels and 7 negative ones, the integer grid one more negative level); a bin on the
negative side is folded onto the positive one by the symmetry of ``p``, so every integral is one
of :func:`pvq.analytic.errors.bin_errors` (closed form for the normal density, adaptive
Gauss–Legendre otherwise). The scale is optimised over its whole range: ``E(s)`` is evaluated on
a geometric grid of the largest level ``s·e_max`` from ``σ/4`` to beyond the density's
``1 - 10⁻¹⁵`` quantile at 32 points per octave, and a bounded Brent search refines the three best
local minima of the grid (the error of a floating-point format ripples with period about one
octave of ``s``, so it has many local minima).

Formats whose scales or masks depend on the weights of a block (MX, NVFP4, NF4 blocks, integer
groups, N:M sparsity) have no such fixed level set: their error is estimated by Monte Carlo
(:func:`monte_carlo_error`) with a standard error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from ..analytic.distributions import SymmetricDistribution
from ..analytic.errors import bin_errors
from ..core.metrics import snr_db_from_mse
from .catalog import Format, parse_format
from .elements import ElementFormat, element_format
from .encode import quantize_weights
from .scales import scan_minima

__all__ = [
    "FormatEstimate",
    "exact_format_error",
    "has_fixed_levels",
    "level_set_mse",
    "monte_carlo_error",
    "optimal_level_set_scale",
]

_PER_OCTAVE = 32
_STARTS = 3
_BATCH_BINS = 16384


@dataclass(frozen=True)
class FormatEstimate:
    """Expected error of a format on a density.

    Attributes
    ----------
    format : str
    bits_per_weight : float
    snr_db : float
    method : {'exact', 'monte_carlo'}
    se_db : float
        Standard error of ``snr_db`` (0 for ``exact``).
    scale : float
        The optimal per-tensor scale (``nan`` for block formats).
    mse : float
    """

    format: str
    bits_per_weight: float
    snr_db: float
    method: str
    se_db: float
    scale: float
    mse: float


def has_fixed_levels(fmt: Format) -> bool:
    """Whether the format is one level set times one scale (its expected error is exact)."""
    return fmt.scaling in ("tensor", "channel", "none") and fmt.keep is None and not fmt.index


def _bins(levels: np.ndarray, scale: float):
    """The bins of a level set on the positive half-line: ``(lo, hi, centre)``, negatives folded."""
    e = levels * scale
    mids = (e[1:] + e[:-1]) / 2
    lo = np.concatenate([[-math.inf], mids])
    hi = np.concatenate([mids, [math.inf]])
    # the part of each bin on [0, ∞) as is; the part on (-∞, 0] mirrored: ∫_a^b (w-c)²p = ∫_{-b}^{-a} (u+c)²p
    pos = hi > 0
    neg = lo < 0
    plo, phi, pc = np.maximum(lo[pos], 0.0), hi[pos], e[pos]
    nlo, nhi, nc = np.maximum(-hi[neg], 0.0), -lo[neg], -e[neg]
    return np.concatenate([plo, nlo]), np.concatenate([phi, nhi]), np.concatenate([pc, nc])


def level_set_mse(dist: SymmetricDistribution, levels, scales, *, rtol: float = 1e-10) -> np.ndarray:
    """``E(s)`` of the module docstring for each scale: exact expected squared error of nearest-level rounding.

    Parameters
    ----------
    dist : SymmetricDistribution
    levels : array_like
        Element levels, ascending.
    scales : array_like
        Positive scales.

    Returns
    -------
    numpy.ndarray
        One expected squared error per scale.
    """
    levels = np.asarray(levels, dtype=np.float64)
    scales = np.atleast_1d(np.asarray(scales, dtype=np.float64))
    per = len(levels) + 2
    step = max(1, _BATCH_BINS // per)
    out = np.empty(len(scales))
    for start in range(0, len(scales), step):
        parts = [_bins(levels, s) for s in scales[start : start + step]]
        sizes = [len(p[0]) for p in parts]
        lo, hi, c = (np.concatenate([p[i] for p in parts]) for i in range(3))
        groups = np.repeat(np.arange(len(parts)), sizes)
        errors = bin_errors(dist, lo, hi, c, rtol=rtol, groups=groups)
        out[start : start + len(parts)] = np.bincount(groups, weights=errors, minlength=len(parts))
    return out


def optimal_level_set_scale(dist: SymmetricDistribution, element: ElementFormat) -> tuple[float, float]:
    """The scale minimising ``E(s)`` over its whole range (see the module docstring).

    Returns
    -------
    (scale, mse) : (float, float)
    """
    levels = element.levels
    sigma = math.sqrt(dist.second_moment)
    top_hi = max(4.0 * sigma, min(float(dist.isf(1e-15)), 2.0 * dist.upper)) * 2.0
    octaves = math.log2(top_hi / (0.25 * sigma))
    tops = 0.25 * sigma * np.exp2(np.linspace(0.0, octaves, math.ceil(octaves * _PER_OCTAVE) + 1))
    scales = tops / levels[-1]
    mse = level_set_mse(dist, levels, scales)
    starts = scan_minima(mse, _STARTS)
    best = (float(scales[starts[0]]), float(mse[starts[0]]))
    for i in starts:
        a, b = scales[max(i - 1, 0)], scales[min(i + 1, len(scales) - 1)]
        res = optimize.minimize_scalar(
            lambda s: float(level_set_mse(dist, levels, [s])[0]),
            bounds=(a, b),
            method="bounded",
            options={"xatol": 1e-10 * scales[i], "maxiter": 200},
        )
        if res.fun < best[1]:
            best = (float(res.x), float(res.fun))
    return best


def exact_format_error(dist: SymmetricDistribution, fmt: Format | str) -> FormatEstimate:
    """Exact expected error of a fixed-level format at its optimal scale (FP16: no scale)."""
    fmt = parse_format(fmt) if isinstance(fmt, str) else fmt
    if not has_fixed_levels(fmt):
        raise ValueError(f"{fmt.name} has data-dependent scales or masks: use monte_carlo_error")
    element = element_format(fmt.element)
    if fmt.scaling == "none":
        scale, mse = 1.0, float(level_set_mse(dist, element.levels, [1.0])[0])
    else:
        scale, mse = optimal_level_set_scale(dist, element)
    return FormatEstimate(
        format=fmt.name,
        bits_per_weight=fmt.nominal_bits,
        snr_db=float(snr_db_from_mse(dist.second_moment, mse)),
        method="exact",
        se_db=0.0,
        scale=scale,
        mse=mse,
    )


def monte_carlo_error(
    dist: SymmetricDistribution, fmt: Format | str, *, rows: int = 256, row_length: int = 4096, seed: int = 0
) -> FormatEstimate:
    """Monte Carlo estimate of a format's expected error on ``rows × row_length`` weights drawn from ``dist``.

    The squared errors are averaged per row (rows are independent); the SNR's standard error
    follows from the rows' spread by the delta method, ``se_dB = (10/ln 10)·se(mse)/mse``.

    Parameters
    ----------
    rows, row_length : int
        The sampled matrix (output channels × their length); blocks lie along rows.
    seed : int
        Seed of the weights drawn.
    """
    fmt = parse_format(fmt) if isinstance(fmt, str) else fmt
    if rows < 2 or row_length < 1:
        raise ValueError(f"monte_carlo_error needs rows >= 2 and row_length >= 1, got {rows} x {row_length}")
    w = dist.sample(rows * row_length, rng=np.random.default_rng(seed)).reshape(rows, row_length)
    per_row = np.mean((w - quantize_weights(w, fmt)) ** 2, axis=1)
    mse = float(per_row.mean())
    se = float(per_row.std(ddof=1) / math.sqrt(rows))
    return FormatEstimate(
        format=fmt.name,
        bits_per_weight=fmt.bits_per_weight(row_length),
        snr_db=float(snr_db_from_mse(dist.second_moment, mse)),
        method="monte_carlo",
        se_db=10.0 / math.log(10.0) * se / mse if mse > 0 else 0.0,
        scale=math.nan,
        mse=mse,
    )
