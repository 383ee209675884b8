"""Weight formats by name, and what each costs in bits per weight (beyond the paper, chapter 8).

A format stores each kept weight as an element (:mod:`pvq.formats.elements`) times a scale, and
may drop weights (sparsity). Its cost counts everything stored, per weight of the dense tensor:

===========================  =============================================  ======================
name                         what is stored                                 bits per weight
===========================  =============================================  ======================
``int4``, ``fp8_e4m3``, …    elements, one scale per tensor                 ``v``
``int4_ch``, ``fp4_ch``, …   elements, an FP16 scale per output channel     ``v + 16/K``
``int4_g128``                elements, an FP16 scale per group of 128       ``v + 16/128``
``nf4``, ``nf4_b64``         NF4 levels; per tensor, or FP32 absmax per 64  ``4``, ``4.5``
``mxfp8_e4m3`` … ``mxint8``  OCP MX: blocks of 32, an E8M0 scale            ``v + 8/32``
``nvfp4``                    FP4 E2M1 in blocks of 16, an E4M3 scale        ``4 + 8/16``
``fp16``                     the paper's baseline                           ``16``
``int8_2:4`` (``V_N:M``)     N of every M kept, a ⌈log₂ M⌉-bit index each   ``N/M·(v + ⌈log₂ M⌉)``
``fp16_u50_bitmap``          magnitude pruning, 50 %, a presence bit each   ``(1-c)·v + 1``
``fp16_u75_csr``             magnitude pruning, 75 %, a 16-bit index each   ``(1-c)·(v + 16)``
===========================  =============================================  ======================

``v`` is the element's width and ``K`` the length of an output channel (the weights one output
sums over). One FP32 scale per tensor (and NVFP4's second, per-tensor FP32 scale) is left out of
the count: 32 bits over a whole tensor. The N:M index is NVIDIA's 2:4 metadata (2 bits per kept
value: FP16 2:4 = 9 bits per weight, INT8 2:4 = 5), generalised to ``⌈log₂ M⌉`` bits. Values
of an N:M or unstructured format are any per-tensor element format (``fp8`` means ``fp8_e4m3``,
``fp4`` means ``fp4_e2m1``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd

from .elements import element_format

__all__ = [
    "CHAPTER_FORMATS",
    "FAMILY_ORDER",
    "FORMAT_FAMILIES",
    "NORMAL_FORMATS",
    "Format",
    "check_format_names",
    "format_table",
    "parse_format",
]

#: Short names for element formats.
_ALIASES = {"fp8": "fp8_e4m3", "fp4": "fp4_e2m1", "fp6": "fp6_e2m3"}
#: The MX block formats and their elements.
_MX = {
    "mxfp8_e4m3": "fp8_e4m3",
    "mxfp8_e5m2": "fp8_e5m2",
    "mxfp6_e3m2": "fp6_e3m2",
    "mxfp6_e2m3": "fp6_e2m3",
    "mxfp4": "fp4_e2m1",
    "mxint8": "mxint8",
}
_SCALED = ("fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1", "nf4")

#: The families of names :func:`parse_format` accepts (shown when a name is refused).
FORMAT_FAMILIES: tuple[str, ...] = (
    "fp16",
    "int2..int8 (per tensor), intB_ch (per output channel), intB_gG (groups of G, e.g. int4_g128)",
    "fp8_e4m3 (fp8), fp8_e5m2, fp6_e3m2, fp6_e2m3 (fp6), fp4_e2m1 (fp4), nf4; _ch for per channel",
    "nf4_bG (NF4, FP32 absmax per block of G, e.g. nf4_b64), nf4_bG_dq (the absmax in 8 bits)",
    "mxfp8_e4m3, mxfp8_e5m2, mxfp6_e3m2, mxfp6_e2m3, mxfp4, mxint8 (OCP MX)",
    "nvfp4",
    "VALUE_N:M (N:M sparsity, e.g. fp16_2:4, int8_2:4, fp8_2:4, int4_1:4, fp4_4:8)",
    "VALUE_uPCT_bitmap, VALUE_uPCT_csr (unstructured magnitude pruning, e.g. fp16_u50_bitmap)",
)

#: The kinds of format (:attr:`Format.family`), in the order figures list them.
FAMILY_ORDER: tuple[str, ...] = ("integer", "floating point", "normal float", "block-scaled", "sparse")

#: The formats of ``normal_formats.csv`` (chapter 8), in the order of the table.
NORMAL_FORMATS: tuple[str, ...] = (
    "int4",
    "int8",
    "fp8_e4m3",
    "fp8_e5m2",
    "fp6_e3m2",
    "fp6_e2m3",
    "fp4_e2m1",
    "nf4",
    "nf4_b64",
    "mxfp4",
    "mxfp6_e2m3",
    "mxfp8_e4m3",
    "mxint8",
    "nvfp4",
    "int4_g128",
    "fp16_2:4",
    "int8_2:4",
    "fp8_2:4",
    "int4_2:4",
)


#: The formats of chapter 8's tensors and decision map (the table's, the paper's other INT-b, more sparse ones).
CHAPTER_FORMATS: tuple[str, ...] = (
    *NORMAL_FORMATS,
    "int2",
    "int3",
    "int5",
    "int6",
    "fp4_2:4",
    "int8_1:4",
    "int4_1:4",
    "fp16_u75_bitmap",
    "int8_u50_bitmap",
    "nf4_b64_dq",
)


@dataclass(frozen=True)
class Format:
    """A weight format (see the module docstring for the names).

    Attributes
    ----------
    name : str
        The name as given.
    element : str
        Element format of the stored values (:func:`pvq.formats.elements.element_format`).
    scaling : {'none', 'tensor', 'channel', 'group', 'mx', 'nvfp4', 'absmax'}
        How the scale is chosen: none (FP16 as is); the MSE-optimal scale of the tensor or of each
        output channel; ``absmax / largest level`` per group in FP16 (``group``); the OCP MX power
        of two per block (``mx``); NVFP4's E4M3 block scale (``nvfp4``); the FP32 block absmax (``absmax``).
    block : int
        Group or block length along the output channel (0: none).
    scale_bits : float
        Bits of each block scale (8.125 for double quantization: 8 bits, and 32 per 256 scales).
    keep : tuple of (int, int) or None
        ``(N, M)``: N weights kept in every M consecutive ones.
    sparsity : float
        Share of weights pruned by magnitude (unstructured).
    index : {'', 'nm', 'bitmap', 'csr'}
        How the kept positions are stored.
    """

    name: str
    element: str
    scaling: str
    block: int = 0
    scale_bits: float = 0
    keep: tuple[int, int] | None = None
    sparsity: float = 0.0
    index: str = ""

    @property
    def value_bits(self) -> int:
        """Bits of one stored element."""
        return element_format(self.element).bits

    @property
    def family(self) -> str:
        """Kind of format, for the figures' colours (one of :data:`FAMILY_ORDER`)."""
        if self.keep is not None or self.index:
            return "sparse"
        if self.block:
            return "block-scaled"
        if self.element.startswith("int"):
            return "integer"
        return "normal float" if self.element == "nf4" else "floating point"

    @property
    def nominal_bits(self) -> float:
        """Bits per weight with a per-channel scale's cost spread over an unbounded channel (its least)."""
        return self.bits_per_weight(row_length=1 << 62) if self.needs_rows else self.bits_per_weight()

    @property
    def needs_rows(self) -> bool:
        """Whether the cost depends on the output-channel length (per-channel scales)."""
        return self.scaling == "channel"

    def bits_per_weight(self, row_length: int | None = None) -> float:
        """Bits stored per weight of the dense tensor (the module docstring's table).

        Parameters
        ----------
        row_length : int, optional
            Weights per output channel ``K``; needed by the per-channel formats.
        """
        v = self.value_bits
        if self.scaling == "channel":
            if row_length is None or int(row_length) < 1:
                raise ValueError(f"{self.name}: a per-channel format needs the output-channel length (row_length)")
            v += 16 / int(row_length)
        elif self.block:
            v += self.scale_bits / self.block
        if self.keep is not None:
            n, m = self.keep
            return n / m * (v + math.ceil(math.log2(m)))
        if self.index == "bitmap":
            return (1 - self.sparsity) * v + 1
        if self.index == "csr":
            return (1 - self.sparsity) * (v + 16)
        return float(v)


def _refuse(name: str, why: str = "") -> ValueError:
    return ValueError(f"unknown format {name!r}{why}; known formats: {'; '.join(FORMAT_FAMILIES)}")


def _value_format(name: str, value: str) -> str:
    """The element of a per-tensor value format named inside a sparse format."""
    value = _ALIASES.get(value, value)
    if value == "fp16" or value in _SCALED or re.fullmatch(r"int([2-8])", value):
        return value
    raise _refuse(name, f" (values {value!r}: use fp16, int2..int8 or {', '.join(_SCALED)})")


def parse_format(name: str) -> Format:
    """The :class:`Format` a name stands for (see the module docstring).

    Raises
    ------
    ValueError
        For a name outside :data:`FORMAT_FAMILIES`, listing them.
    """
    if not isinstance(name, str) or not name.strip():
        raise _refuse(str(name))
    key = name.strip().lower()
    if m := re.fullmatch(r"(.+)_(\d+):(\d+)", key):
        n, mm = int(m[2]), int(m[3])
        if not 1 <= n < mm or mm > 64:
            raise _refuse(name, f" (N:M needs 1 <= N < M <= 64, got {n}:{mm})")
        value = _value_format(name, m[1])
        return Format(name, value, "none" if value == "fp16" else "tensor", keep=(n, mm), index="nm")
    if m := re.fullmatch(r"(.+)_u(\d+)_(bitmap|csr)", key):
        pct = int(m[2])
        if not 1 <= pct <= 99:
            raise _refuse(name, f" (sparsity must be 1..99 percent, got {pct})")
        value = _value_format(name, m[1])
        return Format(name, value, "none" if value == "fp16" else "tensor", sparsity=pct / 100, index=m[3])
    if key == "fp16":
        return Format(name, "fp16", "none")
    if key == "nvfp4":
        return Format(name, "fp4_e2m1", "nvfp4", block=16, scale_bits=8)
    if key in _MX:
        return Format(name, _MX[key], "mx", block=32, scale_bits=8)
    if m := re.fullmatch(r"int([2-8])(_ch|_g(\d+))?", key):
        if m[3] is not None:
            group = int(m[3])
            if group < 2:
                raise _refuse(name, f" (a group holds at least 2 weights, got {group})")
            return Format(name, f"int{m[1]}", "group", block=group, scale_bits=16)
        return Format(name, f"int{m[1]}", "channel" if m[2] else "tensor")
    if m := re.fullmatch(r"nf4_b(\d+)(_dq)?", key):
        block = int(m[1])
        if block < 2:
            raise _refuse(name, f" (a block holds at least 2 weights, got {block})")
        if m[2]:  # QLoRA's double quantization: 8-bit scales, one FP32 scale per 256 of them
            return Format(name, "nf4", "absmax_dq", block=block, scale_bits=8 + 32 / 256)
        return Format(name, "nf4", "absmax", block=block, scale_bits=32)
    base, channel = (key[:-3], True) if key.endswith("_ch") else (key, False)
    base = _ALIASES.get(base, base)
    if base in _SCALED:
        return Format(name, base, "channel" if channel else "tensor")
    raise _refuse(name)


_SCALE_TEXT = {
    "none": "none (FP16 values)",
    "tensor": "one per tensor, MSE-optimal",
    "channel": "FP16 per output channel, MSE-optimal",
    "group": "FP16 absmax per group",
    "mx": "E8M0 power of two per block",
    "nvfp4": "E4M3 per block (+ FP32 per tensor)",
    "absmax": "FP32 absmax per block",
    "absmax_dq": "absmax per block in FP8 E4M3, FP32 per 256 blocks",
}


def format_table(formats, *, row_length: int = 1024) -> pd.DataFrame:
    """What each format stores and its bits per weight (chapter 8's first table).

    Parameters
    ----------
    formats : str or sequence of str
        Format names.
    row_length : int
        Output-channel length at which per-channel formats are costed.

    Returns
    -------
    pandas.DataFrame
        Columns ``format, kind, element, scale, block, kept, bits_per_weight``.
    """
    rows = []
    for f in check_format_names(formats):
        kept = f"{f.keep[0]} of {f.keep[1]}" if f.keep else (f"{1 - f.sparsity:.0%}, {f.index}" if f.index else "all")
        rows.append(
            {
                "format": f.name,
                "kind": f.family,
                "element": f.element,
                "scale": _SCALE_TEXT[f.scaling],
                "block": f.block or "",
                "kept": kept,
                "bits_per_weight": f.bits_per_weight(row_length),
            }
        )
    return pd.DataFrame(rows)


def check_format_names(names) -> list[Format]:
    """Parse a comma-separated string or a sequence of format names; refuse unknown or repeated ones.

    Returns
    -------
    list of Format
        In the order given.
    """
    items = [n.strip() for n in names.split(",")] if isinstance(names, str) else [str(n).strip() for n in names]
    items = [n for n in items if n]
    if not items:
        raise ValueError(f"no format given; known formats: {'; '.join(FORMAT_FAMILIES)}")
    seen = [n for i, n in enumerate(items) if n in items[:i]]
    if seen:
        raise ValueError(f"format {seen[0]!r} given twice")
    return [parse_format(n) for n in items]
