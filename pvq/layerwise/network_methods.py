"""Chapter 9's per-layer methods on a whole layer at once: what :func:`pvq.layerwise.network.compress_network` applies.

Each method takes a layer's FP16-rounded weights as ``(groups, rows, n)`` (the output channels of each
convolution group; ``n`` the flattened kernel) and, where it uses data, the Gram matrix ``H = XᵀX`` of
each group's inputs, and returns the compressed weights (:func:`solve_layer`). Quantization: per-tensor
INT-b with the MSE-optimal scale, by rounding or by GPTQ; pruning: ``⌊numel·b/16⌋`` weights kept by one
mask per tensor, by magnitude, by magnitude with a least-squares refit of each row's kept weights, or by
SparseGPT; and chapter 8's formats. GPTQ and SparseGPT share one elimination loop:
column by column, each column's error pushed onto the later ones through the upper Cholesky factor of the
damped ``H⁻¹``, with lazy updates in blocks of :data:`BLOCK` columns (Frantar et al. 2023; Frantar &
Alistarh 2023).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from ..core.quantization import int_grid
from ..formats.catalog import parse_format
from ..formats.elements import element_format
from ..formats.encode import quantize_weights
from ..formats.scales import optimal_level_scale
from ..formats.sparsity import nm_mask
from ..tensors.clipping import SortedWeights, optimal_clip_tensor
from .formats_layer import nearest_levels

__all__ = ["BLOCK", "DAMP", "METHODS", "NetworkMethod", "solve_layer"]

#: Relative damping of ``H`` for GPTQ and SparseGPT (their papers' 1% of the mean diagonal).
DAMP = 0.01


@dataclass(frozen=True)
class NetworkMethod:
    """One way of compressing every layer.

    Attributes
    ----------
    name : str
        As in the result tables (``'GPTQ'``, ``'SparseGPT'`` …).
    side : {'quantization', 'pruning'}
    needs_data : bool
        Whether the layer's Gram matrix ``H`` is used (otherwise no calibration pass is made).
    fmt : str or None
        A format of chapter 8 (``'fp4_e2m1'``, ``'nf4_b64'``, ``'mxfp4'``, ``'fp16_2:4'``) instead of the paired
        INT-b / sparsity point.
    """

    name: str
    side: str
    needs_data: bool
    fmt: str | None = None


#: The methods of chapter 9, by key.
METHODS: dict[str, NetworkMethod] = {
    "rtn": NetworkMethod("round-to-nearest", "quantization", False),
    "gptq": NetworkMethod("GPTQ", "quantization", True),
    "magnitude": NetworkMethod("magnitude", "pruning", False),
    "magnitude_ls": NetworkMethod("magnitude + LS refit", "pruning", True),
    "sparsegpt": NetworkMethod("SparseGPT", "pruning", True),
    "fp4_rtn": NetworkMethod("FP4 E2M1, round-to-nearest", "quantization", False, "fp4_e2m1"),
    "fp4_gptq": NetworkMethod("FP4 E2M1, GPTQ", "quantization", True, "fp4_e2m1"),
    "nf4_b64": NetworkMethod("NF4, blocks of 64", "quantization", False, "nf4_b64"),
    "mxfp4": NetworkMethod("MXFP4", "quantization", False, "mxfp4"),
    "two_four_magnitude": NetworkMethod("2:4, magnitude", "pruning", False, "fp16_2:4"),
    "two_four_sparsegpt": NetworkMethod("2:4, SparseGPT", "pruning", True, "fp16_2:4"),
}


def _damped_inverse_factor(h: np.ndarray) -> np.ndarray:
    """Upper Cholesky factor ``U`` of ``(H + λI)⁻¹`` per group (``UᵀU = (H + λI)⁻¹``), ``λ = DAMP·mean diag``.

    With ``P`` the order-reversing permutation and ``L`` the lower Cholesky factor of ``P(H + λI)P``,
    ``U = P L⁻¹ P``: upper triangular with a positive diagonal, hence the Cholesky factor, at the cost of
    one factorisation and one triangular inverse (no general inverse).
    """
    n = h.shape[-1]
    lam = DAMP * np.maximum(np.mean(np.diagonal(h, axis1=1, axis2=2), axis=1), 1e-12)
    flipped = (h + lam[:, None, None] * np.eye(n))[:, ::-1, ::-1]
    low = np.linalg.cholesky(flipped)
    if n <= 64:
        inv = np.linalg.inv(low)
    else:
        inv = np.stack([linalg.solve_triangular(g, np.eye(n), lower=True) for g in low])
    return np.ascontiguousarray(inv[:, ::-1, ::-1])


#: Columns per block of the lazy updates of GPTQ and SparseGPT. Within a block each column's error is pushed onto
#: the block's later columns; the block's errors reach the columns after it in one matrix product.
BLOCK = 128


def _eliminate(w: np.ndarray, u: np.ndarray, step: Callable) -> np.ndarray:
    """Column-by-column compression with error feedback, in blocks of :data:`BLOCK` columns.

    ``step(i, column)`` returns column ``i``'s compressed values; its error ``(w_i − q_i)/U_ii`` moves the
    later columns by ``−err·U_i,j`` (GPTQ's update; SparseGPT's when ``q_i`` is 0 or ``w_i``). The work
    is done on the transpose, so that a column is contiguous in memory.
    """
    wt = np.ascontiguousarray(w.transpose(0, 2, 1))  # (groups, n, rows)
    out = np.empty_like(wt)
    n = wt.shape[1]
    for b0 in range(0, n, BLOCK):
        b1 = min(b0 + BLOCK, n)
        errs = np.empty((wt.shape[0], b1 - b0, wt.shape[2]))
        for i in range(b0, b1):
            q = step(i, wt[:, i, :])
            out[:, i, :] = q
            err = (wt[:, i, :] - q) / u[:, i, i][:, None]
            errs[:, i - b0, :] = err
            wt[:, i + 1 : b1, :] -= u[:, i, i + 1 : b1, None] * err[:, None, :]
        if b1 < n:
            wt[:, b1:, :] -= u[:, b0:b1, b1:].transpose(0, 2, 1) @ errs
    return out.transpose(0, 2, 1)


def _gptq(w: np.ndarray, h: np.ndarray, rounder: Callable) -> np.ndarray:
    """GPTQ over a layer ``w`` (groups, rows, n): quantize column by column, pushing each column's rounding
    error onto the later columns through ``U`` (upper Cholesky of the damped ``H⁻¹``)."""
    return _eliminate(w, _damped_inverse_factor(h), lambda _i, col: rounder(col))


def _sparsegpt(w: np.ndarray, h: np.ndarray, keep: np.ndarray | None, k: int | None = None, nm=None) -> np.ndarray:
    """SparseGPT over a layer: the mask keeps the largest ``w²/U_ii²`` (``k`` of the tensor, or N:M per row),
    then columns are pruned in order, each removed weight's error pushed onto the later columns."""
    u = _damped_inverse_factor(h)
    if keep is None:
        score = w**2 / (np.diagonal(u, axis1=1, axis2=2)[:, None, :] ** 2)
        if nm is not None:
            keep = nm_mask(score.reshape(-1, score.shape[-1]), *nm).reshape(score.shape)
        else:
            keep = _top_k_mask(score, k)
    return _eliminate(w, u, lambda i, col: np.where(keep[:, :, i], col, 0.0))


def _top_k_mask(score: np.ndarray, k: int) -> np.ndarray:
    """``True`` on the ``k`` largest scores of the whole array (ties: the earlier one)."""
    flat = score.reshape(-1)
    keep = np.zeros(flat.size, dtype=bool)
    keep[np.argsort(-flat, kind="stable")[:k]] = True
    return keep.reshape(score.shape)


def _refit(w: np.ndarray, h: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Least squares on each row's kept weights: ``ŵ_S = H_SS⁻¹ (H w)_S`` (damped ``H``), zero elsewhere."""
    n = h.shape[-1]
    lam = DAMP * np.maximum(np.mean(np.diagonal(h, axis1=1, axis2=2), axis=1), 1e-12)
    out = np.zeros_like(w)
    for g in range(w.shape[0]):
        hg = h[g] + lam[g] * np.eye(n)
        hw = w[g] @ hg  # (rows, n): (H w)ᵀ per row
        for r in range(w.shape[1]):
            s = np.flatnonzero(keep[g, r])
            if s.size:
                out[g, r, s] = np.linalg.solve(hg[np.ix_(s, s)], hw[r, s])
    return out


def solve_layer(method: str, w: np.ndarray, h: np.ndarray | None, n_bits: int, *, grid: str = "signed") -> np.ndarray:
    """One layer's compressed weights.

    Parameters
    ----------
    method : str
        A key of :data:`METHODS`.
    w : numpy.ndarray
        The layer's weights as ``(groups, rows, n)`` (rows: output channels of a group; ``n``: the
        flattened kernel), FP16-rounded.
    h : numpy.ndarray or None
        ``H`` per group, ``(groups, n, n)`` (:func:`pvq.layerwise.network.layer_gram`); ``None`` for the
        methods without data.
    n_bits : int
        The paired point: INT-b, or keep ``⌊numel·b/16⌋`` weights of the tensor.

    Returns
    -------
    numpy.ndarray
        ``ŵ``, shaped like ``w``.
    """
    spec = METHODS[method]
    if spec.needs_data and h is None:
        raise ValueError(f"{spec.name} needs the layer's Gram matrix")
    if spec.fmt is None and spec.side == "quantization":
        lo, hi = int_grid(n_bits, grid)
        scale = optimal_clip_tensor(SortedWeights.build(w.reshape(-1)), n_bits=n_bits, grid=grid)[0] / max(hi, 1)

        def rounder(v):
            return scale * np.clip(np.rint(v / scale), lo, hi)

        return rounder(w) if method == "rtn" else _gptq(w, h, rounder)
    if spec.fmt is None:
        k = math.floor(w.size * n_bits / 16)
        if method == "sparsegpt":
            return _sparsegpt(w, h, None, k)
        keep = _top_k_mask(np.abs(w), k)
        return np.where(keep, w, 0.0) if method == "magnitude" else _refit(w, h, keep)
    if method in ("nf4_b64", "mxfp4", "fp4_rtn"):
        return quantize_weights(w.reshape(-1, w.shape[-1]), spec.fmt).reshape(w.shape)
    if method == "fp4_gptq":
        element = element_format("fp4_e2m1")
        scale, _ = optimal_level_scale(SortedWeights.build(w.reshape(-1)), element)
        levels = element.levels
        return _gptq(w, h, lambda v: scale * nearest_levels(v / scale, levels))
    fmt = parse_format(spec.fmt)
    n, m = fmt.keep
    if method == "two_four_magnitude":
        keep = nm_mask(w.reshape(-1, w.shape[-1]), n, m).reshape(w.shape)
        return np.where(keep, w, 0.0)
    return _sparsegpt(w, h, None, nm=(n, m))
