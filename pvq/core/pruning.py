"""Unstructured magnitude pruning (paper §2).

Per tensor, exactly ``⌊c·n⌋`` entries of smallest ``|w|`` over the flattened tensor are
set to zero, ``c`` being the sparsity. The analytic counterpart for a symmetric density
prunes every value with ``|w| < τ``, ``τ = F⁻¹(1/2 + c/2)``
(see :func:`pvq.analytic.errors.prune_mse`).

The paper pairs INT-b quantization with sparsity ``c = 1 - b/16`` against an FP16 baseline
(:func:`paired_sparsity`). A bit-width compared with pruning is therefore an integer in
``1..15`` (:func:`check_bits`, the one rule of every chapter parameter and command-line option
that names comparison points): 16 bits is the baseline itself, paired with 0% sparsity.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .quantization import check_n_bits

__all__ = [
    "BASELINE_BITS",
    "BITS_RULE",
    "check_bits",
    "check_bits_list",
    "check_sparsity",
    "paired_bits",
    "paired_sparsity",
    "pairing_table",
    "prune",
    "prune_mask",
]

#: Bits per weight of the uncompressed baseline (FP16), the paper's reference for every pairing.
BASELINE_BITS = 16

#: What a bit-width compared with pruning may be, as every refusal of one says.
BITS_RULE = f"integers in 1..{BASELINE_BITS - 1} (below the {BASELINE_BITS}-bit FP16 baseline)"


def check_bits(n_bits, *, name: str = "n_bits") -> int:
    """A bit-width ``b`` compared with pruning at ``1 - b/16``: an integer in ``1..15``, returned as ``int``.

    The one rule for the comparison points of the chapters' parameters, ``pvq analyze --bits``
    and ``pvq imagenet --bits``. The quantizer itself (:func:`pvq.core.quantization.check_n_bits`)
    also takes 16 bits, but INT16 is as large as the FP16 baseline: its paired sparsity is 0.

    Raises
    ------
    ValueError
        Naming ``name``, the value, and the accepted range.
    """
    if isinstance(n_bits, bool) or not isinstance(n_bits, int | np.integer) or not 1 <= n_bits < BASELINE_BITS:
        raise ValueError(f"{name} must be one of the {BITS_RULE}, got {n_bits!r}")
    return int(n_bits)


def check_bits_list(values, name: str = "n_bits") -> tuple[int, ...]:
    """Sorted, distinct bit-widths, each accepted by :func:`check_bits` (``1..15``).

    Raises
    ------
    ValueError
        Naming ``name`` and the accepted values: not a list (text, a mapping or a single number),
        empty, a value out of range, or repeated values.
    """
    if isinstance(values, str | bytes | dict) or not hasattr(values, "__iter__"):
        raise ValueError(f"{name} must be a list of bit-widths, {BITS_RULE}, e.g. [2, 4, 8]; got {values!r}")
    values = list(values)
    if not values:
        raise ValueError(f"{name} must hold at least one bit-width ({BITS_RULE}), got []")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or not 1 <= v < BASELINE_BITS:
            raise ValueError(f"{name} must hold {BITS_RULE}, got {v!r} in {values!r}")
    out = tuple(int(v) for v in values)
    if len(set(out)) != len(out):
        raise ValueError(f"{name} must hold distinct bit-widths, got {list(out)}")
    return tuple(sorted(out))


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
