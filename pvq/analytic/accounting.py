"""What equal storage costs pruning on a density, once its sparse format is paid for (paper §1, §7).

The paper pairs INT-b with pruning at ``1 - b/16`` as if the positions of the kept weights were
free. :func:`storage_comparison` asks, for each sparse format of :mod:`pvq.core.storage`, which
sparsity pruning must reach to store no more than INT-b, and what that does to its expected SNR
on a density, beside quantization's SNR with the MSE-optimal clipping (chapter 1).
"""

from __future__ import annotations

import math

import pandas as pd

from ..core.pruning import BASELINE_BITS, paired_sparsity
from ..core.storage import FORMATS, bits_per_weight, equivalent_sparsity
from .distributions import SymmetricDistribution
from .errors import optimal_clip, prune_snr_db

__all__ = ["STORAGE_COLUMNS", "storage_comparison", "storage_headlines"]

#: Columns of ``storage.csv``.
STORAGE_COLUMNS = ["n_bits", "format", "equivalent_sparsity", "bits_per_weight", "quant_snr_db", "prune_snr_db"]


def storage_comparison(
    dist: SymmetricDistribution,
    n_bits,
    *,
    value_bits: int = BASELINE_BITS,
    index_bits: int = 4,
    formats=FORMATS,
) -> pd.DataFrame:
    """Per bit-width and sparse format: the sparsity of equal storage and both methods' SNR on ``dist``.

    For INT-b and a format with ``v = value_bits`` bits per kept value, the equivalent sparsity
    ``c`` solves ``bits_per_weight(c) = b`` (:func:`pvq.core.storage.equivalent_sparsity`; NaN
    when no sparsity below 1 fits). ``prune_snr_db`` is the expected SNR of pruning ``dist`` at
    ``c`` and ``quant_snr_db`` that of INT-b with the MSE-optimal clipping.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`STORAGE_COLUMNS`, one row per (bit-width, format).
    """
    rows = []
    for b in n_bits:
        quant = optimal_clip(dist, n_bits=b).snr_db
        for fmt in formats:
            c = equivalent_sparsity(b, value_bits=value_bits, fmt=fmt, index_bits=index_bits)
            fits = not math.isnan(c)
            rows.append(
                {
                    "n_bits": int(b),
                    "format": fmt,
                    "equivalent_sparsity": c,
                    "bits_per_weight": bits_per_weight(c, value_bits=value_bits, fmt=fmt, index_bits=index_bits)
                    if fits
                    else math.nan,
                    "quant_snr_db": quant,
                    "prune_snr_db": prune_snr_db(dist, c) if fits else math.nan,
                }
            )
    return pd.DataFrame(rows, columns=STORAGE_COLUMNS)


def storage_headlines(storage: pd.DataFrame, *, n_bits: int = 4) -> dict:
    """The numbers chapter 1 quotes at INT-``n_bits``, keyed by the names it glues them under.

    ``int4-sparsity`` (the paper's pairing, %), ``int4-mask-sparsity`` (with a bitmask, %),
    ``int4-ideal-prune-snr`` / ``int4-mask-prune-snr`` (pruning's SNR at each, dB) and
    ``int4-quant-snr`` (INT-b's SNR, dB); the ``4`` in the names is ``n_bits``. Empty when
    ``storage`` has no row at ``n_bits``.
    """
    at = storage[storage.n_bits == n_bits].set_index("format")
    if not len(at):
        return {}
    key = f"int{n_bits}"
    return {
        f"{key}-sparsity": 100 * paired_sparsity(n_bits),
        f"{key}-mask-sparsity": 100 * float(at.loc["bitmask", "equivalent_sparsity"]),
        f"{key}-ideal-prune-snr": float(at.loc["ideal", "prune_snr_db"]),
        f"{key}-mask-prune-snr": float(at.loc["bitmask", "prune_snr_db"]),
        f"{key}-quant-snr": float(at.loc["ideal", "quant_snr_db"]),
    }
