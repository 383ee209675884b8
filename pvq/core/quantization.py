"""Uniform symmetric integer quantization (paper §2).

The quantizer of the paper's code: per tensor, zero-point 0, signed integer grid
``q ∈ {-2^(b-1), …, 2^(b-1)-1}`` and scale ``s = α / (2^(b-1) - 1)`` where ``α`` is the
clipping value, so that the largest positive level equals ``α``:

.. math::

    Q(w) = s \\cdot \\operatorname{clamp}\\big(\\lfloor w/s \\rceil,\\; q_{\\min},\\; q_{\\max}\\big),

with round-half-to-even. The *restricted symmetric* grid drops the extra negative level:
``q ∈ {-(2^(b-1)-1), …, 2^(b-1)-1}``.

At 1 bit the signed grid is ``{-1, 0}``; its scale is taken as ``s = α`` (the denominator
``2^(b-1) - 1`` would be 0), and the symmetric grid, which holds only ``{0}``, is refused.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "GRIDS",
    "Grid",
    "check_n_bits",
    "grid_table",
    "int_grid",
    "quantize",
    "quantize_int",
    "scale_from_clip",
]

Grid = Literal["signed", "symmetric"]
GRIDS: tuple[str, ...] = ("signed", "symmetric")

MIN_BITS = 1
MAX_BITS = 16


def check_n_bits(n_bits, *, name: str = "n_bits") -> int:
    """Validate a bit-width and return it as ``int``.

    Raises
    ------
    ValueError
        If ``n_bits`` is not an integer in ``1..16``.
    """
    if isinstance(n_bits, bool) or not isinstance(n_bits, int | np.integer):
        raise ValueError(f"{name} must be an integer in {MIN_BITS}..{MAX_BITS}, got {n_bits!r}")
    if not MIN_BITS <= int(n_bits) <= MAX_BITS:
        raise ValueError(f"{name} must be an integer in {MIN_BITS}..{MAX_BITS}, got {n_bits!r}")
    return int(n_bits)


def check_grid(grid: str) -> str:
    """Validate a grid name (``'signed'`` or ``'symmetric'``)."""
    if grid not in GRIDS:
        raise ValueError(f"grid must be one of {GRIDS}, got {grid!r}")
    return grid


def int_grid(n_bits: int, grid: Grid = "signed") -> tuple[int, int]:
    """Integer range ``(q_min, q_max)`` of a ``n_bits`` grid.

    Parameters
    ----------
    n_bits : int
        Bit-width ``b`` in ``1..16``.
    grid : {'signed', 'symmetric'}
        ``'signed'``: ``[-2^(b-1), 2^(b-1) - 1]`` (the paper's code, default);
        ``'symmetric'``: ``[-(2^(b-1) - 1), 2^(b-1) - 1]`` (needs ``b ≥ 2``).

    Returns
    -------
    (int, int)
        The smallest and largest integer level.
    """
    b = check_n_bits(n_bits)
    check_grid(grid)
    q_max = 2 ** (b - 1) - 1
    if grid == "signed":
        return -(2 ** (b - 1)), q_max
    if q_max == 0:
        raise ValueError("grid='symmetric' needs n_bits >= 2: at 1 bit its only level is 0")
    return -q_max, q_max


def scale_from_clip(clip: float, *, n_bits: int, grid: Grid = "signed") -> float:
    """Scale ``s = α / (2^(b-1) - 1)`` for clipping value ``α`` (``s = α`` at 1 bit)."""
    _, q_max = int_grid(n_bits, grid)
    clip = float(clip)
    if not np.isfinite(clip) or clip <= 0:
        raise ValueError(f"clip must be a positive finite number, got {clip!r}")
    return clip / max(q_max, 1)


def quantize_int(w, *, n_bits: int, clip: float, grid: Grid = "signed"):
    """Integer codes ``clamp(round_half_even(w / s), q_min, q_max)`` and the scale ``s``.

    Parameters
    ----------
    w : array_like
        Values to quantize (any shape).
    n_bits, clip, grid
        As in :func:`quantize`.

    Returns
    -------
    codes : numpy.ndarray of int64
        Same shape as ``w``.
    scale : float
    """
    q_min, q_max = int_grid(n_bits, grid)
    s = scale_from_clip(clip, n_bits=n_bits, grid=grid)
    w = np.asarray(w, dtype=np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError("w contains NaN or Inf values")
    codes = np.clip(np.rint(w / s), q_min, q_max).astype(np.int64)
    return codes, s


def quantize(w, *, n_bits: int, clip: float, grid: Grid = "signed") -> np.ndarray:
    """Quantize and dequantize: ``Q(w) = s·clamp(round(w/s), q_min, q_max)`` (paper §2).

    Parameters
    ----------
    w : array_like
        Values to quantize (any shape).
    n_bits : int
        Bit-width ``b`` in ``1..16``.
    clip : float
        Clipping value ``α > 0``; the largest positive level equals ``α``.
    grid : {'signed', 'symmetric'}
        Integer grid, see :func:`int_grid`.

    Returns
    -------
    numpy.ndarray of float64
        The quantized values, same shape as ``w``.
    """
    codes, s = quantize_int(w, n_bits=n_bits, clip=clip, grid=grid)
    return codes * s


def grid_table(n_bits, grids=GRIDS) -> pd.DataFrame:
    """The integer levels of every grid at every bit-width (chapter 1's table).

    Returns
    -------
    pandas.DataFrame
        One row per ``(n_bits, grid)``: ``q_min``, ``q_max`` and ``levels = q_max - q_min + 1``;
        the symmetric grid at 1 bit, which has no non-zero level, is left out.
    """
    rows = []
    for b in n_bits:
        for g in grids:
            if g == "symmetric" and check_n_bits(b) == 1:
                continue
            q_min, q_max = int_grid(b, g)
            rows.append({"n_bits": int(b), "grid": g, "q_min": q_min, "q_max": q_max, "levels": q_max - q_min + 1})
    return pd.DataFrame(rows, columns=["n_bits", "grid", "q_min", "q_max", "levels"])
