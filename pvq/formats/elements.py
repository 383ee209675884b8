"""Element formats: the finite sets of values one stored weight can take (beyond the paper, chapter 8).

Every format of :mod:`pvq.formats.catalog` stores each kept weight as an *element* times a scale.
The element formats are

- ``int{b}``: the paper's signed integer grid ``{-2^(b-1), …, 2^(b-1) - 1}`` (§2);
- the OCP floating-point element types ``fp8_e4m3`` (the ``fn`` variant: no infinities, largest
  value 448), ``fp8_e5m2`` (largest 57,344), ``fp6_e3m2`` (28), ``fp6_e2m3`` (7.5) and ``fp4_e2m1``
  (6), and ``fp16`` (IEEE half precision, the paper's baseline): their values are read from
  `ml_dtypes <https://github.com/jax-ml/ml_dtypes>`_ (every bit pattern converted, NaN and
  infinities dropped), and rounding is ml_dtypes' cast (round to nearest, ties to even) after
  saturating at the largest finite value;
- ``nf4``: QLoRA's 4-bit NormalFloat (Dettmers et al. 2023), the 16 values
  ``Φ⁻¹(q_i)`` normalised to ``[-1, 1]``: 8 positive quantiles ``q_i`` evenly spaced from
  ``δ = 0.9677083`` down to ½ (½ excluded), 7 negative ones from ``δ`` down to ½, and an exact 0;
- ``mxint8``: the OCP Microscaling INT8 element, ``k·2⁻⁶`` for ``k ∈ {-127, …, 127}`` (symmetric,
  as the reference implementation clamps to ``±127/64``).

An element format is a sorted array of levels (``-0.0`` folded into ``0.0``); rounding maps each
value to its nearest level, saturating at the ends. ``emax`` is the exponent of the largest power
of two below the largest positive value (``⌊log₂ max⌋``), the anchor of the MX shared scale
(OCP MX v1.0).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import ml_dtypes
import numpy as np

__all__ = [
    "ELEMENT_FORMATS",
    "NF4_OFFSET",
    "ElementFormat",
    "element_format",
    "nf4_levels",
    "round_e4m3",
    "round_e8m0",
    "round_to_element",
]

#: QLoRA's outermost quantile for NF4 (bitsandbytes ``create_normal_map(offset=0.9677083)``).
NF4_OFFSET = 0.9677083

#: The ml_dtypes type of each floating-point element format, and its width in bits.
_FLOAT_TYPES = {
    "fp16": (np.float16, 16),
    "fp8_e4m3": (ml_dtypes.float8_e4m3fn, 8),
    "fp8_e5m2": (ml_dtypes.float8_e5m2, 8),
    "fp6_e3m2": (ml_dtypes.float6_e3m2fn, 6),
    "fp6_e2m3": (ml_dtypes.float6_e2m3fn, 6),
    "fp4_e2m1": (ml_dtypes.float4_e2m1fn, 4),
}
#: Every element format name (``int2`` … ``int8`` stand for the family ``int{b}``, b = 2..16).
ELEMENT_FORMATS: tuple[str, ...] = (
    *(f"int{b}" for b in range(2, 9)),
    *_FLOAT_TYPES,
    "nf4",
    "mxint8",
)


@dataclass(frozen=True, eq=False)
class ElementFormat:
    """One element format: its levels and how values are rounded to them.

    Attributes
    ----------
    name : str
    bits : int
        Bits per stored element.
    levels : numpy.ndarray
        The finite values, ascending, float64.
    kind : {'int', 'float', 'table'}
        Integer grid, ml_dtypes floating-point type, or a table of levels (NF4).
    """

    name: str
    bits: int
    levels: np.ndarray
    kind: str

    @property
    def max(self) -> float:
        """Largest magnitude held."""
        return float(max(-self.levels[0], self.levels[-1]))

    @property
    def emax(self) -> int:
        """``⌊log₂ v⌋`` of the largest positive value ``v``: the MX scale's anchor (OCP MX)."""
        return math.floor(math.log2(self.levels[-1]))

    def round(self, x) -> np.ndarray:
        """Nearest level of each value (ties to even for the float types), saturating at the ends."""
        return round_to_element(x, self)


def nf4_levels(offset: float = NF4_OFFSET) -> np.ndarray:
    """The 16 NF4 levels (see module docstring), ascending, float64.

    Parameters
    ----------
    offset : float
        The outermost quantile ``δ`` (QLoRA: 0.9677083, the mean of ``1 - 1/(2·15)`` and
        ``1 - 1/(2·16)``).
    """
    from scipy import stats  # here: importing the catalog (a chapter's parameters) stays light

    positive = stats.norm.ppf(np.linspace(offset, 0.5, 9)[:-1])
    negative = -stats.norm.ppf(np.linspace(offset, 0.5, 8)[:-1])
    levels = np.sort(np.concatenate([positive, negative, [0.0]]))
    return levels / np.max(np.abs(levels))


@functools.cache
def element_format(name: str) -> ElementFormat:
    """The element format called ``name`` (see :data:`ELEMENT_FORMATS`; ``int{b}`` for b = 2..16).

    Raises
    ------
    ValueError
        For an unknown name, with the list of known ones.
    """
    if name in _FLOAT_TYPES:
        dtype, bits = _FLOAT_TYPES[name]
        codes = np.arange(2**bits, dtype=np.uint16 if bits == 16 else np.uint8)
        values = codes.view(dtype).astype(np.float64)
        levels = np.unique(values[np.isfinite(values)] + 0.0)
        return ElementFormat(name, bits, levels, "float")
    if name == "nf4":
        return ElementFormat(name, 4, nf4_levels(), "table")
    if name == "mxint8":
        return ElementFormat(name, 8, np.arange(-127, 128, dtype=np.float64) * 2.0**-6, "int")
    if name.startswith("int") and name[3:].isdigit() and 2 <= int(name[3:]) <= 16:
        b = int(name[3:])
        return ElementFormat(name, b, np.arange(-(2 ** (b - 1)), 2 ** (b - 1), dtype=np.float64), "int")
    known = ", ".join(f for f in ELEMENT_FORMATS if not f.startswith("int")) + ", int2..int16"
    raise ValueError(f"unknown element format {name!r}; known: {known}")


def round_to_element(x, fmt: ElementFormat | str) -> np.ndarray:
    """Round each value to the nearest level of ``fmt``, saturating at the largest magnitude.

    Floating-point formats use ml_dtypes' conversion (round to nearest, ties to even) after
    clipping to ``[-max, max]`` (ml_dtypes turns an overflow into NaN, the ``fn`` types having no
    infinity); integer grids round half to even; a table of levels (NF4) rounds to the nearest
    level, a tie going to the lower one.

    Parameters
    ----------
    x : array_like
        Values in units of the scale (any shape).
    fmt : ElementFormat or str

    Returns
    -------
    numpy.ndarray of float64
        The rounded values, same shape as ``x``.
    """
    fmt = element_format(fmt) if isinstance(fmt, str) else fmt
    x = np.asarray(x, dtype=np.float64)
    lo, hi = fmt.levels[0], fmt.levels[-1]
    if fmt.kind == "float":
        dtype = _FLOAT_TYPES[fmt.name][0]
        return np.clip(x, lo, hi).astype(dtype).astype(np.float64)
    if fmt.kind == "int":
        step = fmt.levels[1] - fmt.levels[0]
        return np.clip(np.rint(x / step) * step, lo, hi)
    mids = (fmt.levels[1:] + fmt.levels[:-1]) / 2
    return fmt.levels[np.searchsorted(mids, x, side="left")]


def round_e8m0(x) -> np.ndarray:
    """The power of two ``2^⌊log₂ x⌋`` (OCP E8M0 scale, exponent clamped to ``[-127, 127]``); 1 where ``x ≤ 0``."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore"):
        e = np.floor(np.log2(np.where(x > 0, x, 1.0)))
    return np.exp2(np.clip(e, -127, 127))


def round_e4m3(x) -> np.ndarray:
    """Round positive scales to FP8 E4M3 (ties to even, saturating at 448; NVFP4's block scale)."""
    return round_to_element(x, "fp8_e4m3")
