"""Unstructured magnitude pruning (paper §2).

Per tensor, exactly ``⌊c·n⌋`` entries of smallest ``|w|`` over the flattened tensor are
set to zero, ``c`` being the sparsity. The analytic counterpart for a symmetric density
prunes every value with ``|w| < τ``, ``τ = F⁻¹(1/2 + c/2)``
(see :func:`pvq.analytic.errors.prune_mse`).

The paper pairs INT-b quantization with sparsity ``c = 1 - b/16`` against an FP16 baseline
(:func:`paired_sparsity`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .quantization import check_n_bits

__all__ = ["BASELINE_BITS", "check_sparsity", "paired_bits", "paired_sparsity", "pairing_table", "prune", "prune_mask"]

#: Bits per weight of the uncompressed baseline (FP16), the paper's reference for every pairing.
BASELINE_BITS = 16


def check_sparsity(sparsity, *, name: str = "sparsity") -> float:
    """Validate a sparsity ``c ∈ [0, 1)`` and return it as ``float``."""
    try:
        c = float(sparsity)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [0, 1), got {sparsity!r}") from None
    if isinstance(sparsity, bool) or not (0.0 <= c < 1.0):
        raise ValueError(f"{name} must be a number in [0, 1), got {sparsity!r}")
    return c


def paired_sparsity(n_bits: int, *, baseline_bits: int = BASELINE_BITS) -> float:
    """Sparsity with the same storage as INT-b: ``c = 1 - b/B``, ``B`` = 16 bits for FP16 (paper §1).

    Mask, index and scale storage are ignored, as in the paper (this favours pruning).
    """
    b = check_n_bits(n_bits)
    if b > baseline_bits:
        raise ValueError(f"n_bits={b} exceeds the baseline of {baseline_bits} bits")
    return 1.0 - b / baseline_bits


def paired_bits(sparsity: float, *, baseline_bits: int = BASELINE_BITS) -> int:
    """The bit-width paired with a pruning ratio: ``b = round(B·(1 - c))``, the inverse of :func:`paired_sparsity`.

    Used to put a pruning run beside the QAT run of the same comparison point.
    """
    c = check_sparsity(sparsity)
    return round(baseline_bits * (1.0 - c))


def pairing_table(n_bits, *, baseline_bits: int = BASELINE_BITS) -> pd.DataFrame:
    """The paper's comparison points: INT-b against pruning at ``1 - b/B`` of equal ideal storage.

    Returns
    -------
    pandas.DataFrame
        One row per bit-width: ``n_bits``, ``sparsity`` (:func:`paired_sparsity`),
        ``compression_ratio = B/b`` and ``bits_per_weight = b`` (mask and scales not counted).
    """
    bits = [int(b) for b in n_bits]
    return pd.DataFrame(
        {
            "n_bits": bits,
            "sparsity": [paired_sparsity(b, baseline_bits=baseline_bits) for b in bits],
            "compression_ratio": [baseline_bits / b for b in bits],
            "bits_per_weight": bits,
        }
    )


def prune_mask(w, *, sparsity: float) -> np.ndarray:
    """Boolean keep-mask zeroing exactly ``⌊c·n⌋`` entries of smallest magnitude.

    Ties in ``|w|`` are broken by position (earlier entries are pruned first), so the count
    is exact whatever the values.

    Parameters
    ----------
    w : array_like
        Weights, any shape.
    sparsity : float
        Share ``c ∈ [0, 1)`` of entries to remove.

    Returns
    -------
    numpy.ndarray of bool
        ``True`` where the weight is kept; same shape as ``w``.
    """
    c = check_sparsity(sparsity)
    w = np.asarray(w)
    flat = np.abs(w.reshape(-1))
    if flat.size and not np.all(np.isfinite(flat)):
        raise ValueError("w contains NaN or Inf values")
    k = math.floor(c * flat.size)
    keep = np.ones(flat.size, dtype=bool)
    if k:
        keep[np.argsort(flat, kind="stable")[:k]] = False
    return keep.reshape(w.shape)


def prune(w, *, sparsity: float) -> np.ndarray:
    """Magnitude-pruned copy of ``w`` with exactly ``⌊c·n⌋`` zeroed entries (paper §2)."""
    w = np.asarray(w, dtype=np.float64)
    return np.where(prune_mask(w, sparsity=sparsity), w, 0.0)
