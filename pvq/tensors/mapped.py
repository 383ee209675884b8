"""Giving back the memory of a tensor read through a memory-mapped checkpoint.

``torch.load(mmap=True)`` maps a whole checkpoint file into the process: a tensor's pages are read
from the file when it is first touched, and then stay resident, counted in the process's memory,
until the file is unmapped. Analysing a multi-GB checkpoint tensor by tensor would so end up
with the whole file resident. :func:`release_pages` tells the kernel (``madvise(MADV_DONTNEED)``)
that the pages of a tensor already analysed are not needed: they leave the process's resident
memory, and are read again from the file should the tensor be touched again (the mapping is
private and never written, so nothing is lost). Linux only; elsewhere nothing is done.
"""

from __future__ import annotations

import ctypes
import mmap
import sys
from pathlib import Path

__all__ = ["mapped_ranges", "release_pages"]


def mapped_ranges(path: Path) -> list[tuple[int, int]]:
    """Address ranges ``[start, end)`` where this process maps ``path`` (``/proc/self/maps``; empty elsewhere)."""
    try:
        lines = Path("/proc/self/maps").read_text().splitlines()
    except OSError:
        return []
    target = str(Path(path).resolve())
    ranges = []
    for line in lines:
        parts = line.split(maxsplit=5)
        if len(parts) == 6 and parts[5] == target:
            start, end = (int(x, 16) for x in parts[0].split("-"))
            ranges.append((start, end))
    return ranges


def release_pages(address: int, nbytes: int, ranges: list[tuple[int, int]]) -> bool:
    """Drop the pages of ``[address, address + nbytes)`` from resident memory, if they lie in ``ranges``.

    Only memory inside one of ``ranges`` (a file mapping, :func:`mapped_ranges`) is touched: advice
    on anonymous memory would discard its contents. Pages shared with a neighbouring tensor are
    dropped too, which costs nothing but a re-read.

    Returns
    -------
    bool
        Whether the kernel took the advice.
    """
    if nbytes <= 0 or not sys.platform.startswith("linux") or not hasattr(mmap, "MADV_DONTNEED"):
        return False
    start = address // mmap.PAGESIZE * mmap.PAGESIZE
    end = -(-(address + nbytes) // mmap.PAGESIZE) * mmap.PAGESIZE
    if not any(lo <= start and end <= hi for lo, hi in ranges):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    return libc.madvise(start, end - start, mmap.MADV_DONTNEED) == 0
