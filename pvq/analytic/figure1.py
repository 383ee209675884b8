"""Figure 1 of the paper: a light-tailed density compressed both ways (paper §3).

The data behind the figure's left and middle panels (:func:`figure1_data`) and the numbers
chapter 2 quotes about it (:func:`figure1_headlines`, :func:`grid_gain_headlines`), each computed
from the exact expected errors of :mod:`pvq.analytic.errors`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..common.paper import PAPER
from .distributions import SymmetricDistribution
from .errors import error_profile, optimal_clip, pruning_threshold, quantized_level_masses

__all__ = ["figure1_data", "figure1_headlines", "grid_gain_headlines", "paper_value_position"]


def figure1_data(
    dist: SymmetricDistribution,
    *,
    n_bits: int,
    sparsity: float,
    grid: str = "signed",
    span: float = 4.0,
    points: int = 4001,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The curves and levels of Figure 1 (left and middle panels) at one comparison point.

    Quantization uses the MSE-optimal clipping :math:`\\alpha^*` of ``dist`` at ``n_bits``;
    pruning removes the share ``sparsity`` of smallest magnitude (threshold :math:`\\tau`).

    Returns
    -------
    curves : pandas.DataFrame
        :func:`pvq.analytic.errors.error_profile` on ``points`` values of ``w`` spanning
        :math:`\\pm` ``span`` standard deviations.
    levels : pandas.DataFrame
        Columns ``level, probability, spacing``: each quantization level, its probability mass
        and the (smallest) level spacing, so that ``probability / spacing`` reads as a density.
    """
    clip = optimal_clip(dist, n_bits=n_bits, grid=grid).clip
    sd = math.sqrt(dist.second_moment)
    w = np.linspace(-span * sd, span * sd, points)
    curves = error_profile(dist, w, clip=clip, n_bits=n_bits, sparsity=sparsity, grid=grid)
    lv, pr = quantized_level_masses(dist, clip, n_bits=n_bits, grid=grid)
    return curves, pd.DataFrame({"level": lv, "probability": pr, "spacing": np.diff(lv).min()})


def paper_value_position(paper: float, ours: tuple[float, float], *, tolerance: float = 0.05) -> str:
    """Where the paper's value lies against our two conventions, as the end of a sentence.

    "lies between the two, …" when ``min(ours) - tolerance ≤ paper ≤ max(ours) + tolerance``;
    otherwise how far (dB) it lies from the nearer one.
    """
    lo, hi = sorted(ours)
    if lo - tolerance <= paper <= hi + tolerance:
        return "lies between the two, so the unstated grid or clipping search accounts for the difference"
    nearer = lo if abs(paper - lo) < abs(paper - hi) else hi
    return f"lies outside both ({paper - nearer:+.2f} dB from the nearer one), a difference we cannot attribute"


def figure1_headlines(
    table: pd.DataFrame, dist: SymmetricDistribution, *, n_bits: int, sparsity: float, grid: str = "signed"
) -> dict:
    """The numbers chapter 2 quotes about Figure 1, keyed by the names it glues them under.

    ``table`` is the SNR table of every bit-width and grid (:func:`pvq.analytic.errors.snr_table`).
    ``fig1-*``: the distribution, comparison point, :math:`\\alpha^*/\\sigma` and :math:`\\tau/\\sigma`;
    ``int4-quant-snr`` (``grid``), ``int4-quant-snr-symmetric``, ``int4-prune-snr`` (NaN without
    INT4), the paper's two values, ``paper-int4-position`` (:func:`paper_value_position`) and
    ``min-margin``, quantization's smallest SNR lead over pruning on ``grid``.
    """
    sd = math.sqrt(dist.second_moment)
    main = table[table.grid == grid]
    int4 = table[table.n_bits == 4].set_index("grid")
    nan = math.nan
    quant4 = {g: float(int4.loc[g, "quant_snr_db"]) if g in int4.index else nan for g in ("signed", "symmetric")}
    paper_q = PAPER["normal_int4_quant_snr_db"][0]
    return {
        "fig1-dist": dist.describe(),
        "fig1-bits": int(n_bits),
        "fig1-sparsity": 100 * sparsity,
        "fig1-clip": optimal_clip(dist, n_bits=n_bits, grid=grid).clip / sd,
        "fig1-tau": pruning_threshold(dist, sparsity) / sd,
        "int4-quant-snr": quant4[grid],
        "int4-quant-snr-symmetric": quant4["symmetric"],
        "int4-prune-snr": float(int4.loc[grid, "prune_snr_db"]) if grid in int4.index else nan,
        "paper-int4-quant": paper_q,
        "paper-75-prune": PAPER["normal_75pct_prune_snr_db"][0],
        "paper-int4-position": paper_value_position(paper_q, (quant4["signed"], quant4["symmetric"])),
        "min-margin": float((main.quant_snr_db - main.prune_snr_db).min()),
    }


def grid_gain_headlines(table: pd.DataFrame) -> dict:
    """How much the signed grid gains over the restricted symmetric one (dB), keyed for gluing.

    ``grid-gain-max`` at ``grid-gain-bits``, and ``grid-gain-top`` at the largest bit-width
    ``grid-gain-top-bits``; the gain is the difference of the two grids' quantization SNRs.
    """
    pivot = table.pivot(index="n_bits", columns="grid", values="quant_snr_db")
    gain = (pivot["signed"] - pivot["symmetric"]).dropna()
    return {
        "grid-gain-max": float(gain.max()),
        "grid-gain-bits": int(gain.idxmax()),
        "grid-gain-top-bits": int(gain.index.max()),
        "grid-gain-top": float(gain.loc[gain.index.max()]),
    }
