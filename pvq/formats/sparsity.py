"""Which weights a sparse format keeps: N:M semi-structured and unstructured magnitude masks (chapter 8).

N:M sparsity keeps the ``N`` largest ``|w|`` of every ``M`` consecutive weights of an output
channel (the reduction dimension of the matrix product, as NVIDIA's 2:4 sparse tensor cores
require); a channel whose length is not a multiple of ``M`` is padded with zeros, which are
dropped first. Ties keep the earlier weight. Unstructured magnitude pruning removes exactly
``⌊c·n⌋`` weights of smallest ``|w|`` over the whole tensor (paper §2), ties removing the earlier
weights in row-major order.
"""

from __future__ import annotations

import numpy as np

__all__ = ["as_rows", "magnitude_threshold", "nm_mask"]


def as_rows(w) -> np.ndarray:
    """A weight tensor as a matrix of output channels: ``(shape[0], -1)``; a vector is one row."""
    w = np.asarray(w)
    if w.ndim == 0:
        raise ValueError("a weight tensor needs at least one dimension")
    return w.reshape(1, -1) if w.ndim == 1 else w.reshape(w.shape[0], -1)


def nm_mask(w, n: int, m: int) -> np.ndarray:
    """Boolean mask keeping the ``n`` largest ``|w|`` of every ``m`` consecutive weights of each row.

    Parameters
    ----------
    w : array_like
        Weights as output channels, a matrix of rows × K (see :func:`as_rows`).
    n, m : int
        Kept and group size, ``1 ≤ n < m``.

    Returns
    -------
    numpy.ndarray of bool
        Shaped like ``w``: ``True`` where a weight is kept: ``min(n, g)`` per group of ``g`` real weights.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2:
        raise ValueError(f"nm_mask needs a matrix (rows, K), got shape {w.shape}")
    n, m = int(n), int(m)
    if not 1 <= n < m:
        raise ValueError(f"N:M sparsity needs 1 <= N < M, got {n}:{m}")
    rows, k = w.shape
    pad = (-k) % m
    mag = np.abs(w)
    if pad:
        mag = np.concatenate([mag, np.full((rows, pad), -1.0)], axis=1)
    groups = mag.reshape(rows, -1, m)
    order = np.argsort(-groups, axis=2, kind="stable")
    keep = np.zeros(groups.shape, dtype=bool)
    np.put_along_axis(keep, order[:, :, :n], True, axis=2)
    return keep.reshape(rows, -1)[:, :k]


def magnitude_threshold(magnitudes_sorted: np.ndarray, counts_cum: np.ndarray, n_prune: int) -> tuple[float, int]:
    """Threshold of exact magnitude pruning from a histogram of ``|w|``.

    Parameters
    ----------
    magnitudes_sorted : numpy.ndarray
        Distinct ``|w|``, ascending.
    counts_cum : numpy.ndarray
        Prefix counts with a leading 0 (``counts_cum[j]`` weights have ``|w| <`` ``magnitudes_sorted[j]``).
    n_prune : int
        How many weights to remove.

    Returns
    -------
    (tau, ties) : (float, int)
        Every ``|w| < tau`` is pruned, and the first ``ties`` weights with ``|w| == tau``
        (``tau = inf``, ``ties = 0`` when nothing is kept; ``tau = 0``, ``ties = 0`` when nothing is pruned).
    """
    n_prune = int(n_prune)
    total = int(counts_cum[-1])
    if n_prune <= 0:
        return 0.0, 0
    if n_prune >= total:
        return float("inf"), 0
    j = int(np.searchsorted(counts_cum, n_prune, side="right")) - 1  # counts_cum[j] <= n_prune < counts_cum[j+1]
    return float(magnitudes_sorted[j]), n_prune - int(counts_cum[j])
