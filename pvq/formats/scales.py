"""Scales of the weight formats: the MSE-optimal one of a tensor, and the block rules (chapter 8).

A per-tensor (or per-channel) format stores ``s·e`` with ``e`` an element level; its scale is
chosen to minimise the squared error of the weights, ``Σ (w - s·round(w/s))²``, over the whole
range of scales. That error is not unimodal in ``s`` for floating-point levels (their spacing
doubles every octave, so the error ripples with period about one octave of ``s``), so the search
scans the largest level ``s·e_max`` over ``[2⁻⁶, 2³]·max|w|`` at 32 points per octave (a largest
level beyond ``max|w|`` moves where the floating-point steps fall), then runs alternating
minimisation (assign every weight to its level, then the least-squares scale ``Σ e·w / Σ e²`` for
that assignment) from the three best local minima of the scan, and polishes the best with a
bounded Brent search over ±1/32 octave (the error is continuous and piecewise quadratic in ``s``).
Each evaluation costs one binary search per level edge on the sorted weights
(:class:`pvq.tensors.clipping.SortedWeights`), whatever the tensor's size. Per-channel formats run
the same search on every output channel (about 1 ms per channel at 4 bits, 3 ms at 8).

Block formats take their scale from a rule instead, from the block's largest magnitude
``a = max|w|`` (OCP MX v1.0; NVIDIA NVFP4; QLoRA NF4):

- MX: ``2^(⌊log₂ a⌋ - e)`` with ``e`` the element's ``emax`` (an E8M0 power of two);
- NVFP4: ``g · E4M3(a / (6 g))``, with the tensor's second scale ``g = max|W| / (448·6)`` in FP32,
  so that the block scales use E4M3's range;
- integer groups: ``FP16(a / q_max)``; NF4 blocks: ``a`` in FP32, or with QLoRA's double
  quantization (``nf4_b64_dq``) the absmaxes themselves in 8 bits.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from ..tensors.clipping import SortedWeights
from .elements import ElementFormat, round_e4m3, round_e8m0

__all__ = [
    "block_scales",
    "level_mse_sorted",
    "optimal_level_scale",
    "scan_minima",
]

_PER_OCTAVE = 32
_OCTAVES = (-6.0, 3.0)
_STARTS = 3


def _bin_sums(sw: SortedWeights, levels: np.ndarray, scales: np.ndarray):
    """Per scale and level: count, Σw, Σw² of the weights nearest to that level."""
    mids = (levels[1:] + levels[:-1]) / 2
    idx = np.searchsorted(sw.sorted, mids[:, None] * scales[None, :], side="left").T
    m = sw.sorted.size
    full = np.concatenate([np.zeros((len(scales), 1), dtype=np.int64), idx, np.full((len(scales), 1), m)], axis=1)
    return np.diff(sw.cum[full], axis=1).astype(np.float64), np.diff(sw.p1[full], axis=1), np.diff(sw.p2[full], axis=1)


def level_mse_sorted(sw: SortedWeights, levels, scales) -> np.ndarray:
    """``(1/n) Σ_i (w_i - s·e(w_i))²`` for each scale ``s``, ``e(w)`` the level nearest to ``w/s``.

    Parameters
    ----------
    sw : SortedWeights
        The tensor.
    levels : array_like
        The element levels, ascending.
    scales : array_like
        Positive scales.

    Returns
    -------
    numpy.ndarray
        One mean squared error per scale.
    """
    levels = np.asarray(levels, dtype=np.float64)
    scales = np.atleast_1d(np.asarray(scales, dtype=np.float64))
    s0, s1, s2 = _bin_sums(sw, levels, scales)
    c = levels[None, :] * scales[:, None]
    return np.maximum((s2 - 2 * c * s1 + c * c * s0).sum(axis=1), 0.0) / sw.n


def scan_minima(values, count: int) -> np.ndarray:
    """Indices of the ``count`` lowest local minima of a scan (ends included), lowest first.

    The starts of the refinements after a scan of an error that is not unimodal in the scale.
    """
    v = np.asarray(values, dtype=np.float64)
    inner = np.r_[True, v[1:] <= v[:-1]] & np.r_[v[:-1] <= v[1:], True]
    found = np.flatnonzero(inner)
    return found[np.argsort(v[found], kind="stable")[:count]]


def _lloyd(sw: SortedWeights, levels: np.ndarray, scale: float, max_iter: int = 50) -> float:
    """Alternate assignment and least-squares scale to a fixed point (neither step raises the MSE)."""
    for _ in range(max_iter):
        s0, s1, _ = _bin_sums(sw, levels, np.array([scale]))
        num, den = float(np.sum(levels * s1[0])), float(np.sum(levels * levels * s0[0]))
        if den <= 0 or num <= 0:
            return scale
        new = num / den
        if abs(new - scale) <= 1e-12 * scale:
            return new
        scale = new
    return scale


def optimal_level_scale(sw: SortedWeights, element: ElementFormat) -> tuple[float, float]:
    """MSE-optimal scale of one tensor for an element format (see the module docstring).

    Returns
    -------
    (scale, mse) : (float, float)
        The scale and the mean squared error it gives; ``(1.0, 0.0)`` for an all-zero tensor.
    """
    levels = element.levels
    top = sw.max_abs
    if top == 0:
        return 1.0, 0.0
    n = int((_OCTAVES[1] - _OCTAVES[0]) * _PER_OCTAVE) + 1
    scales = top * np.exp2(np.linspace(*_OCTAVES, n)) / levels[-1]
    mse = level_mse_sorted(sw, levels, scales)
    starts = scan_minima(mse, _STARTS)
    best = (float(scales[starts[0]]), float(mse[starts[0]]))
    for i in starts:
        s = _lloyd(sw, levels, float(scales[i]))
        e = float(level_mse_sorted(sw, levels, [s])[0])
        if e < best[1]:
            best = (s, e)
    s = best[0]
    res = optimize.minimize_scalar(
        lambda x: float(level_mse_sorted(sw, levels, [x])[0]),
        bounds=(s * 2.0 ** (-1 / 32), s * 2.0 ** (1 / 32)),
        method="bounded",
        options={"xatol": 1e-12 * s},
    )
    return (float(res.x), float(res.fun)) if res.fun < best[1] else best


def _double_quantized(a: np.ndarray) -> np.ndarray:
    """QLoRA's double quantization of the block absmaxes ``a``: centred on their mean, then in runs
    of 256 (in order) scaled by the run's largest magnitude and rounded to FP8 E4M3 (bitsandbytes
    uses its own 8-bit "dynamic" code; E4M3 stands in for it); the mean and each run's scale in FP32."""
    flat = a.reshape(-1)
    mean = float(np.float32(flat.mean())) if flat.size else 0.0
    c = flat - mean
    out = np.empty_like(c)
    for i in range(0, c.size, 256):
        run = c[i : i + 256]
        g = float(np.float32(np.abs(run).max() / 448.0)) if run.size else 0.0
        out[i : i + 256] = round_e4m3(run / g) * g if g > 0 else run
    return (out + mean).reshape(a.shape)


def block_scales(amax, element: ElementFormat, rule: str, *, tensor_amax: float | None = None) -> np.ndarray:
    """Scale of each block from its largest magnitude ``amax`` (see the module docstring).

    Parameters
    ----------
    amax : array_like
        Largest ``|w|`` of each block.
    element : ElementFormat
    rule : {'mx', 'nvfp4', 'group', 'absmax', 'absmax_dq'}
    tensor_amax : float, optional
        Largest ``|w|`` of the tensor (NVFP4's second-level scale).

    Returns
    -------
    numpy.ndarray
        Positive scales (1 for an all-zero block: its elements are 0 whatever the scale).
    """
    a = np.asarray(amax, dtype=np.float64)
    zero = a <= 0
    if rule == "mx":
        s = round_e8m0(a) * 2.0 ** (-element.emax)
    elif rule == "nvfp4":
        g = np.float32((tensor_amax if tensor_amax is not None else float(a.max(initial=0))) / (448.0 * 6.0))
        g = float(g) if g > 0 else 1.0
        s = round_e4m3(a / (6.0 * g)) * g
        zero |= s <= 0
    elif rule == "group":
        s = (a / element.levels[-1]).astype(np.float16).astype(np.float64)
        zero |= s <= 0
    elif rule == "absmax":
        s = a.astype(np.float32).astype(np.float64)
    elif rule == "absmax_dq":
        s = _double_quantized(a.astype(np.float32).astype(np.float64))
        zero |= s <= 0
    else:
        raise ValueError(f"rule must be one of mx, nvfp4, group, absmax, absmax_dq; got {rule!r}")
    return np.where(zero, 1.0, s)
