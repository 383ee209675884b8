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

__all__ = ["FormatError", "format_error", "keep_mask", "quantize_weights"]

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
        order = np.argsort(np.abs(w).reshape(-1), kind="stable")[:n_prune]
        mask.reshape(-1)[order] = False
    return mask


def _scaled(values: np.ndarray, fmt: Format) -> np.ndarray:
    """Per-tensor (or FP16) rounding of a vector of kept weights."""
    if fmt.scaling == "none":
        return values.astype(np.float16).astype(np.float64)
    element = element_format(fmt.element)
    scale, _ = optimal_level_scale(SortedWeights.build(values, count=values.size > _COUNT_FROM), element)
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
    m = as_rows(w)
    if fmt.block:
        return _blocked(m, fmt).reshape(w.shape)
    out = np.zeros_like(m)
    if fmt.scaling == "channel":  # the per-tensor search on each output channel
        element = element_format(fmt.element)
        for r, row in enumerate(m):
            scale, _ = optimal_level_scale(SortedWeights.build(row, count=row.size > _COUNT_FROM), element)
            out[r] = scale * round_to_element(row / scale, element)
        return out.reshape(w.shape)
    mask = keep_mask(m, fmt)
    out[mask] = _scaled(m[mask], fmt)
    return out.reshape(w.shape)


def format_error(w, fmt: Format | str) -> FormatError:
    """Error and cost of storing ``w`` in ``fmt``.

    Returns
    -------
    FormatError
        Bits per weight count the channel length of ``w`` for per-channel formats.
    """
    fmt = parse_format(fmt) if isinstance(fmt, str) else fmt
    w = np.asarray(w, dtype=np.float64)
    q = quantize_weights(w, fmt)
    mse = float(np.mean((w - q) ** 2))
    power = float(np.mean(w * w))
    return FormatError(
        format=fmt.name,
        bits_per_weight=fmt.bits_per_weight(as_rows(w).shape[1]),
        mse=mse,
        power=power,
        snr_db=snr_db_from_mse(power, mse),
        kept=float(np.count_nonzero(keep_mask(as_rows(w), fmt)) / w.size) if fmt.keep or fmt.index else 1.0,
    )
