"""Store a weight tensor in a format and read it back: the error each format makes (chapter 8).

:func:`quantize_weights` returns what a format reconstructs, ``Q(w)``, for any format of
:mod:`pvq.formats.catalog`, in four steps:

1. the tensor as output channels, ``W`` of shape ``(rows, K)`` (:func:`pvq.formats.sparsity.as_rows`);
2. the kept weights: all, the N:M mask, or exact magnitude pruning (:mod:`pvq.formats.sparsity`);
3. their scales: none (FP16), the MSE-optimal scale of the kept weights of the tensor or of each
   row (:func:`pvq.formats.scales.optimal_level_scale`), or a block rule over consecutive weights
   of a row, the last block of a row padded with zeros (:func:`pvq.formats.scales.block_scales`);
4. each kept weight rounded to its element format in units of its scale
   (:func:`pvq.formats.elements.round_to_element`); pruned weights are exactly 0.

:func:`format_error` measures ``mse = mean (w - Q(w))²`` and the signal-to-noise ratio
``10·log10(Σ w² / Σ (w - Q(w))²)`` together with the format's bits per weight.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.metrics import snr_db_from_mse
from ..tensors.clipping import SortedWeights
from .catalog import Format, parse_format
from .elements import element_format, round_to_element
from .scales import block_scales, optimal_level_scale
from .sparsity import as_rows, nm_mask

__all__ = ["FormatError", "format_error", "format_errors", "keep_mask", "quantize_weights"]

#: Vectors longer than this are counted over the FP16 patterns
#: (:class:`~pvq.tensors.clipping.SortedWeights`), shorter ones sorted.
_COUNT_FROM = 1 << 16


@dataclass(frozen=True)
class FormatError:
    """A tensor stored in one format.

    Attributes
    ----------
    format : str
    bits_per_weight : float
    mse : float
        Mean squared error over all weights of the tensor.
    power : float
        Mean ``w²``.
    snr_db : float
        ``10·log10(power / mse)`` (``inf`` for an exact format).
    kept : float
        Share of weights kept.
    """

    format: str
    bits_per_weight: float
    mse: float
    power: float
    snr_db: float
    kept: float


def keep_mask(w, fmt: Format) -> np.ndarray:
    """Which weights of the matrix ``w`` (rows, K) the format keeps (all of them for a dense format)."""
    w = np.asarray(w, dtype=np.float64)
    if fmt.keep is not None:
        return nm_mask(w, *fmt.keep)
    mask = np.ones(w.shape, dtype=bool)
    if fmt.index in ("bitmap", "csr"):
        n_prune = math.floor(fmt.sparsity * w.size)
        if n_prune:  # the n_prune smallest |w|, ties pruned in row-major order (a stable sort's choice, in O(n))
            mags = np.abs(w).reshape(-1)
            tau = np.partition(mags, n_prune - 1)[n_prune - 1]
            below = mags < tau
            flat = mask.reshape(-1)
            flat[below] = False
            flat[np.flatnonzero(mags == tau)[: n_prune - int(below.sum())]] = False
    return mask


class _Tensor:
    """One tensor as output channels, with what several formats share: masks and sorted kept values."""

    def __init__(self, w: np.ndarray):
        self.m = as_rows(w)
        self._masks: dict = {}
        self._sorted: dict = {}

    def mask(self, fmt: Format) -> np.ndarray | None:
        key = (fmt.keep, fmt.sparsity, bool(fmt.index))
        if key == (None, 0.0, False):
            return None
        if key not in self._masks:
            self._masks[key] = keep_mask(self.m, fmt)
        return self._masks[key]

    def sorted_values(self, fmt: Format, values: np.ndarray) -> SortedWeights:
        key = (fmt.keep, fmt.sparsity, bool(fmt.index))
        if key not in self._sorted:
            self._sorted[key] = SortedWeights.build(values, count=values.size > _COUNT_FROM)
        return self._sorted[key]


def _scaled(values: np.ndarray, fmt: Format, sw: SortedWeights | None = None) -> np.ndarray:
    """Per-tensor (or FP16) rounding of a vector of kept weights."""
    if fmt.scaling == "none":
        return values.astype(np.float16).astype(np.float64)
    element = element_format(fmt.element)
    sw = sw if sw is not None else SortedWeights.build(values, count=values.size > _COUNT_FROM)
    scale, _ = optimal_level_scale(sw, element)
    return scale * round_to_element(values / scale, element)


def _blocked(w: np.ndarray, fmt: Format) -> np.ndarray:
    """Block rule: scales from each block's largest magnitude, elements rounded in units of them."""
    element = element_format(fmt.element)
    rows, k = w.shape
    pad = (-k) % fmt.block
    padded = np.concatenate([w, np.zeros((rows, pad))], axis=1) if pad else w
    blocks = padded.reshape(rows, -1, fmt.block)
    amax = np.abs(blocks).max(axis=2)
    scales = block_scales(amax, element, fmt.scaling, tensor_amax=float(amax.max(initial=0.0)))[:, :, None]
    out = scales * round_to_element(blocks / scales, element)
    return out.reshape(rows, -1)[:, :k]


def _encode(t: _Tensor, fmt: Format) -> np.ndarray:
    """``Q(W)`` of the matrix ``t.m``."""
    m = t.m
    if fmt.block:
        return _blocked(m, fmt)
    out = np.zeros_like(m)
    if fmt.scaling == "channel":  # the per-tensor search on each output channel
        element = element_format(fmt.element)
        for r, row in enumerate(m):
            scale, _ = optimal_level_scale(SortedWeights.build(row, count=row.size > _COUNT_FROM), element)
            out[r] = scale * round_to_element(row / scale, element)
        return out
    mask = t.mask(fmt)
    if mask is None:
        return _scaled(m, fmt, None if fmt.scaling == "none" else t.sorted_values(fmt, m))
    kept = m[mask]
    out[mask] = _scaled(kept, fmt, None if fmt.scaling == "none" else t.sorted_values(fmt, kept))
    return out


def _mse(t: _Tensor, fmt: Format) -> float:
    """Mean squared error of the format on the tensor. A per-tensor scale's search already holds the error of
    the weights it scales (:func:`~pvq.formats.scales.optimal_level_scale`, from the sorted values: no pass
    over the tensor); pruned weights add their squares. Other formats are encoded and compared."""
    if fmt.block or fmt.scaling != "tensor":
        return float(np.mean((t.m - _encode(t, fmt)) ** 2))
    element = element_format(fmt.element)
    mask = t.mask(fmt)
    if mask is None:
        return optimal_level_scale(t.sorted_values(fmt, t.m), element)[1]
    kept = t.m[mask]
    _, mse_kept = optimal_level_scale(t.sorted_values(fmt, kept), element)
    pruned = t.m[~mask]
    return float((np.sum(pruned * pruned) + mse_kept * kept.size) / t.m.size)


def quantize_weights(w, fmt: Format | str) -> np.ndarray:
    """``Q(w)``: the tensor as the format reconstructs it (see the module docstring).

    Parameters
    ----------
    w : array_like
        A weight tensor, output channels along the first axis.
    fmt : Format or str

    Returns
    -------
    numpy.ndarray of float64
        Same shape as ``w``.
    """
    fmt = parse_format(fmt) if isinstance(fmt, str) else fmt
    w = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError("the weights contain NaN or Inf values")
    return _encode(_Tensor(w), fmt).reshape(w.shape)


def format_errors(w, formats) -> list[FormatError]:
    """:func:`format_error` for several formats of one tensor, sharing its masks and sorted values."""
    fmts = [parse_format(f) if isinstance(f, str) else f for f in formats]
    w = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError("the weights contain NaN or Inf values")
    t = _Tensor(w)
    power = float(np.mean(t.m * t.m))
    out = []
    for fmt in fmts:
        mse = _mse(t, fmt)
        mask = t.mask(fmt)
        out.append(
            FormatError(
                format=fmt.name,
                bits_per_weight=fmt.bits_per_weight(t.m.shape[1]),
                mse=mse,
                power=power,
                snr_db=snr_db_from_mse(power, mse),
                kept=1.0 if mask is None else float(np.count_nonzero(mask) / mask.size),
            )
        )
    return out


def format_error(w, fmt: Format | str) -> FormatError:
    """Error and cost of storing ``w`` in ``fmt`` (bits per weight count the channel length of ``w``
    for per-channel formats)."""
    return format_errors(w, [fmt])[0]
