"""Storage cost of pruned and quantized tensors (paper §1, §7).

The paper pairs INT-b with sparsity ``c = 1 - b/16`` and ignores what a sparse format
must store besides the kept values. Per weight of the dense tensor, a format costs

- ``ideal`` (the paper's accounting): ``(1 - c)·v``,
- ``bitmask``: ``(1 - c)·v + 1`` (one presence bit per weight),
- ``index``: ``(1 - c)·(v + i)`` (``i`` index bits per kept weight, e.g. relative/CSR indices),
- ``entropy``: ``(1 - c)·v + H(c)``, ``H(c) = -c log₂ c - (1-c) log₂(1-c)``: the least any
  lossless code of a random mask can spend, a lower bound for every mask format,

with ``v`` the bits of each kept value (16 for the FP16 baseline). At equal storage with
INT-b, a format therefore needs a higher sparsity than ``1 - b/16``
(:func:`equivalent_sparsity`).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
from scipy import optimize

from .pruning import check_sparsity
from .quantization import check_n_bits

__all__ = ["FORMATS", "SparseFormat", "binary_entropy", "bits_per_weight", "equivalent_sparsity"]

SparseFormat = Literal["ideal", "bitmask", "index", "entropy"]
FORMATS: tuple[str, ...] = ("ideal", "bitmask", "index", "entropy")


def binary_entropy(c) -> np.ndarray | float:
    """``H(c) = -c log₂ c - (1-c) log₂(1-c)`` in bits, with ``H(0) = H(1) = 0``."""
    c = np.asarray(c, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(np.where(c > 0, c * np.log2(c), 0.0) + np.where(c < 1, (1 - c) * np.log2(1 - c), 0.0))
    return float(h) if h.ndim == 0 else h


def _check_format(fmt: str, index_bits: int | None) -> None:
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "index" and (index_bits is None or int(index_bits) < 1):
        raise ValueError(f"format='index' needs index_bits >= 1, got {index_bits!r}")


def bits_per_weight(
    sparsity: float, *, value_bits: int = 16, fmt: SparseFormat = "ideal", index_bits: int | None = None
) -> float:
    """Average storage in bits per weight of a pruned tensor (see module docstring).

    Parameters
    ----------
    sparsity : float
        Share ``c ∈ [0, 1)`` of zeroed weights.
    value_bits : int
        Bits of each kept value ``v``.
    fmt : {'ideal', 'bitmask', 'index', 'entropy'}
        Sparse format.
    index_bits : int, optional
        Index bits per kept weight (``fmt='index'`` only).
    """
    c = check_sparsity(sparsity)
    v = check_n_bits(value_bits, name="value_bits")
    _check_format(fmt, index_bits)
    kept = 1.0 - c
    if fmt == "ideal":
        return kept * v
    if fmt == "bitmask":
        return kept * v + 1.0
    if fmt == "index":
        return kept * (v + int(index_bits))
    return kept * v + binary_entropy(c)


def equivalent_sparsity(
    n_bits: int, *, value_bits: int = 16, fmt: SparseFormat = "ideal", index_bits: int | None = None
) -> float:
    """Sparsity at which a pruned tensor costs ``n_bits`` per weight in format ``fmt``.

    ``ideal``: ``1 - b/v``; ``bitmask``: ``1 - (b-1)/v``; ``index``: ``1 - b/(v+i)``;
    ``entropy``: the root of ``(1-c)·v + H(c) = b`` above ``c = 1/(1 + 2^v)`` (where the cost
    decreases in ``c``). Returns ``nan`` when no sparsity below 1 fits the budget.
    """
    b = check_n_bits(n_bits)
    v = check_n_bits(value_bits, name="value_bits")
    _check_format(fmt, index_bits)
    if fmt == "ideal":
        c = 1.0 - b / v
    elif fmt == "bitmask":
        c = 1.0 - (b - 1) / v
    elif fmt == "index":
        c = 1.0 - b / (v + int(index_bits))
    else:
        lo = 1.0 / (1.0 + 2.0**v)

        def excess(x: float) -> float:
            return (1 - x) * v + float(binary_entropy(x)) - b

        if excess(lo) <= 0:
            return lo
        c = optimize.brentq(excess, lo, 1.0 - 1e-15, xtol=1e-14)
    return c if 0.0 <= c < 1.0 else math.nan
