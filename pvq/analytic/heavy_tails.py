"""Heavy-tailed weights: pruning vs quantization as the kurtosis grows (paper §3, Figure 2).

The sweep builds one distribution per kurtosis value (:func:`pvq.analytic.distributions.distribution_for_kurtosis`),
computes the MSE-optimal quantization SNR and the paired pruning SNR at every bit-width,
and summarises where each method wins.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..core.pruning import paired_sparsity
from .distributions import distribution_for_kurtosis, gennorm_kurtosis
from .errors import optimal_clip, prune_snr_db

__all__ = [
    "crossover_bits",
    "family_crossover",
    "family_sweep",
    "heavy_tail_headlines",
    "kurtosis_grid",
    "kurtosis_sweep",
    "pruning_win_bits_by_family",
    "pruning_win_onset",
    "reachable_kurtosis",
    "tail_families",
]


def kurtosis_sweep(
    family: str,
    kurtosis_values,
    n_bits,
    *,
    dof: float = 2.0,
    grid: str = "signed",
    progress: bool = False,
) -> pd.DataFrame:
    """Quantization and paired pruning SNR for a family swept over kurtosis.

    Parameters
    ----------
    family : {'truncated_student_t', 'student_t', 'gennorm'}
    kurtosis_values : sequence of float
        Pearson kurtosis of each distribution.
    n_bits : sequence of int
        Bit-widths ``b``, paired with sparsity ``1 - b/16``.
    dof : float
        Degrees of freedom of the truncated Student-t.
    grid : {'signed', 'symmetric'}
    progress : bool
        Show a progress bar.

    Returns
    -------
    pandas.DataFrame
        Columns ``distribution, dof, truncation, shape, kurtosis, n_bits, sparsity,
        quant_snr_db, prune_snr_db`` (``truncation`` is ``inf`` when untruncated; ``dof`` and
        ``shape`` are ``nan`` where they do not apply). ``kurtosis`` is recomputed from the
        built distribution.
    """
    rows = []
    for k in tqdm(list(kurtosis_values), desc=f"{family} kurtosis sweep", disable=not progress):
        dist = distribution_for_kurtosis(family, k, dof=dof)
        p = dict(dist.params)
        for b in n_bits:
            c = paired_sparsity(b)
            rows.append(
                {
                    "distribution": dist.name,
                    "dof": p.get("dof", math.nan),
                    "truncation": dist.truncation,
                    "shape": p.get("shape", math.nan),
                    "kurtosis": dist.kurtosis,
                    "n_bits": int(b),
                    "sparsity": c,
                    "quant_snr_db": optimal_clip(dist, n_bits=b, grid=grid).snr_db,
                    "prune_snr_db": prune_snr_db(dist, c),
                }
            )
    return pd.DataFrame(rows)


def crossover_bits(sweep: pd.DataFrame) -> pd.DataFrame:
    """Per kurtosis value, the largest bit-width at which pruning beats quantization.

    Returns
    -------
    pandas.DataFrame
        Columns ``kurtosis, max_prune_win_bits`` (0 where quantization wins at every
        bit-width of the sweep).
    """
    wins = sweep.assign(prune_wins=sweep.prune_snr_db > sweep.quant_snr_db)
    out = (
        wins.groupby("kurtosis", sort=True)
        .apply(lambda g: int(g.loc[g.prune_wins, "n_bits"].max()) if g.prune_wins.any() else 0, include_groups=False)
        .rename("max_prune_win_bits")
        .reset_index()
    )
    return out


def pruning_win_onset(sweep: pd.DataFrame) -> pd.DataFrame:
    """Per bit-width, the smallest kurtosis of the sweep at which pruning wins.

    Linear interpolation in ``log κ`` of the SNR difference between the last losing and the
    first winning sweep point gives ``onset_kurtosis``; ``nan`` where pruning never wins.

    Returns
    -------
    pandas.DataFrame
        Columns ``n_bits, sparsity, onset_kurtosis, first_win_kurtosis``.
    """
    rows = []
    for b, g in sweep.sort_values("kurtosis").groupby("n_bits"):
        diff = (g.prune_snr_db - g.quant_snr_db).to_numpy()
        kurt = g["kurtosis"].to_numpy()
        win = np.flatnonzero(diff > 0)
        onset = first = math.nan
        if win.size:
            i = win[0]
            first = kurt[i]
            onset = first
            if i > 0:
                x0, x1 = math.log(kurt[i - 1]), math.log(kurt[i])
                onset = math.exp(x0 + (x1 - x0) * (-diff[i - 1]) / (diff[i] - diff[i - 1]))
        rows.append(
            {"n_bits": int(b), "sparsity": g.sparsity.iloc[0], "onset_kurtosis": onset, "first_win_kurtosis": first}
        )
    return pd.DataFrame(rows)


def reachable_kurtosis(family: str, *, dof: float = 2.0) -> tuple[float, float]:
    """Open interval of Pearson kurtosis a family can reach (see ``distribution_for_kurtosis``)."""
    if family == "truncated_student_t":
        return 1.8, (3.0 + 6.0 / (dof - 4.0) if dof > 4 else math.inf)
    if family == "student_t":
        return 3.0, math.inf
    if family == "gennorm":
        return 1.8, gennorm_kurtosis(0.05)
    raise ValueError(f"family must be one of ('truncated_student_t', 'student_t', 'gennorm'), got {family!r}")


def family_sweep(
    families,
    *,
    kurtosis_min: float,
    kurtosis_max: float,
    n_kurtosis: int,
    n_bits,
    grid: str = "signed",
    progress: bool = False,
) -> pd.DataFrame:
    """:func:`kurtosis_sweep` for several families over the same kurtosis range.

    Parameters
    ----------
    families : sequence of (str, str, float)
        ``(label, family, dof)`` triples.
    kurtosis_min, kurtosis_max : float
        Range of the log-spaced kurtosis grid, clipped to what each family can reach.
    n_kurtosis : int
        Grid size per family.

    Returns
    -------
    pandas.DataFrame
        The sweeps stacked, with a ``family`` column holding the label.
    """
    parts = []
    for label, family, dof in families:
        lo, hi = reachable_kurtosis(family, dof=dof)
        k_lo = max(kurtosis_min, lo if family != "student_t" else 3.0)
        k_hi = min(kurtosis_max, 0.999 * hi)
        if not k_lo < k_hi:
            raise ValueError(f"{label}: no kurtosis in [{kurtosis_min}, {kurtosis_max}] is reachable")
        grid_k = np.geomspace(k_lo, k_hi, n_kurtosis)
        parts.append(kurtosis_sweep(family, grid_k, n_bits, dof=dof, grid=grid, progress=progress).assign(family=label))
    return pd.concat(parts, ignore_index=True)


def kurtosis_grid(kurtosis_min: float, kurtosis_max: float, n: int, *, family: str = "truncated_student_t"):
    """``n`` log-spaced Pearson kurtosis values from ``kurtosis_min`` to ``kurtosis_max`` (Figure 2's x axis).

    For the untruncated Student-t, which cannot be lighter-tailed than a normal, values below 3
    are dropped.
    """
    grid = np.geomspace(kurtosis_min, kurtosis_max, n)
    return grid[grid >= 3.0] if family == "student_t" else grid


def tail_families(dofs) -> list[tuple[str, str, float]]:
    """The tail models of chapter 2's sensitivity study, as :func:`family_sweep` takes them.

    A truncated Student-t for each ``dof`` in ``dofs``, the untruncated Student-t (whose ``dof``
    is solved from the kurtosis: ``ν = 4 + 6/(κ - 3)``) and the generalized normal
    :math:`\\propto e^{-|w|^\\beta}`.
    """
    families = [(f"truncated t, dof={d:g}", "truncated_student_t", d) for d in dofs]
    return [*families, ("student t (untruncated)", "student_t", 5.0), ("generalized normal", "gennorm", 2.0)]


def family_crossover(sweeps: pd.DataFrame) -> pd.DataFrame:
    """:func:`crossover_bits` of each family of a :func:`family_sweep`, stacked with a ``family`` column."""
    return pd.concat(
        [crossover_bits(g).assign(family=label) for label, g in sweeps.groupby("family", sort=False)],
        ignore_index=True,
    )


def heavy_tail_headlines(sweep: pd.DataFrame, crossover: pd.DataFrame) -> dict:
    """The numbers chapter 2 quotes about Figure 2 and the tail families, keyed for gluing.

    ``ht-prune-span`` / ``ht-quant-span``: the largest range (max - min over the kurtosis sweep,
    at one bit-width) of pruning's and of quantization's SNR, in dB; ``untruncated-t-max-bits``:
    the largest bit-width at which pruning wins for the untruncated Student-t (0: never).
    """
    span = sweep.groupby("n_bits")[["prune_snr_db", "quant_snr_db"]].agg(lambda s: s.max() - s.min())
    t = crossover[crossover.family == "student t (untruncated)"].max_prune_win_bits
    return {
        "ht-prune-span": float(span.prune_snr_db.max()),
        "ht-quant-span": float(span.quant_snr_db.max()),
        "untruncated-t-max-bits": int(t.max()) if len(t) else 0,
    }


def pruning_win_bits_by_family(crossover: pd.DataFrame) -> pd.Series:
    """Per tail family (in sweep order), the largest bit-width at which pruning wins anywhere in the sweep."""
    return crossover.groupby("family", sort=False).max_prune_win_bits.max().rename("pruning wins up to (bits)")
