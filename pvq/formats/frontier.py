"""Formats compared at their true cost: sweeps, Pareto fronts, decision maps, win shares (chapter 8).

The question of chapter 8 is the paper's, widened: at a budget of ``B`` bits per weight, which
format loses the least signal? A format *dominates* another when it costs no more bits and has
no lower SNR, one of the two strictly; the *Pareto front* is the set no format dominates
(:func:`pareto_front`). The *decision map* names, for each weight distribution and budget, the
format of highest SNR among those costing at most the budget (:func:`decision_map`); on real
tensors the same choice per tensor gives each format's *win share* at each budget
(:func:`tensor_win_shares`). :func:`sparse_vs_dense` asks the paper's question of N:M and
unstructured sparsity: on how many tensors does a sparse format beat every dense format that
costs at most as many bits?
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..analytic.distributions import SymmetricDistribution
from .catalog import NORMAL_FORMATS, Format, check_format_names
from .expected import exact_format_error, has_fixed_levels, monte_carlo_error

__all__ = [
    "SWEEP_COLUMNS",
    "decision_map",
    "format_sweep",
    "front_shares",
    "pareto_front",
    "sparse_vs_dense",
    "tensor_win_shares",
]

#: Columns of a format sweep over distributions (``normal_formats.csv`` keeps the last five and ``method``).
SWEEP_COLUMNS = ["distribution", "kurtosis", "format", "bits_per_weight", "snr_db", "method", "se_db"]


def format_sweep(
    dists: Sequence[SymmetricDistribution],
    formats=NORMAL_FORMATS,
    *,
    mc_rows: int = 256,
    mc_row_length: int = 4096,
    seed: int = 0,
    progress: bool = False,
) -> pd.DataFrame:
    """Expected SNR of every format on every distribution: exact for fixed level sets, else Monte Carlo.

    Parameters
    ----------
    dists : sequence of SymmetricDistribution
    formats : str or sequence of str
        Format names (:func:`pvq.formats.catalog.check_format_names`).
    mc_rows, mc_row_length : int
        Matrix drawn for the Monte Carlo formats (:func:`pvq.formats.expected.monte_carlo_error`).
    seed : int
        Seed of the Monte Carlo draws (the same weights for every format of a distribution).
    progress : bool

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SWEEP_COLUMNS`, one row per (distribution, format).
    """
    fmts = check_format_names(formats)
    rows = []
    for dist in tqdm(list(dists), desc="formats", unit=" distributions", disable=not progress):
        for fmt in fmts:
            if has_fixed_levels(fmt):
                est = exact_format_error(dist, fmt)
            else:
                est = monte_carlo_error(dist, fmt, rows=mc_rows, row_length=mc_row_length, seed=seed)
            rows.append(
                {
                    "distribution": dist.describe(),
                    "kurtosis": dist.kurtosis,
                    "format": fmt.name,
                    "bits_per_weight": est.bits_per_weight,
                    "snr_db": est.snr_db,
                    "method": est.method,
                    "se_db": est.se_db if est.method == "monte_carlo" else np.nan,
                }
            )
    return pd.DataFrame(rows, columns=SWEEP_COLUMNS)


def pareto_front(df: pd.DataFrame, *, by: Sequence[str] = ("kurtosis",)) -> pd.DataFrame:
    """``df`` with a boolean column ``on_front``: no other row of its group dominates it.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``bits_per_weight``, ``snr_db`` and those of ``by``.
    by : sequence of str
        Columns that define a group (a distribution, a tensor); empty: one group.
    """
    out = df.copy()
    out["on_front"] = False
    groups = [g.index for _, g in out.groupby(list(by), sort=False)] if by else [out.index]
    for idx in groups:
        g = out.loc[idx]
        bits, snr = g.bits_per_weight.to_numpy(), g.snr_db.to_numpy()
        le = bits[None, :] <= bits[:, None] + 1e-12  # [i, j]: j costs no more than i
        ge = snr[None, :] >= snr[:, None]
        strict = (bits[None, :] < bits[:, None] - 1e-12) | (snr[None, :] > snr[:, None])
        dominated = np.any(le & ge & strict, axis=1)
        out.loc[idx, "on_front"] = ~dominated
    return out


def front_shares(table: pd.DataFrame) -> pd.DataFrame:
    """Share of tensors on whose own Pareto front each format lies (:func:`pareto_front` per tensor).

    Returns
    -------
    pandas.DataFrame
        Columns ``format, bits_per_weight, on_front_share``, by decreasing share (``bits_per_weight``:
        the mean over tensors, which differs between them only for per-channel formats).
    """
    fronts = pareto_front(table, by=("model", "tensor"))
    out = fronts.groupby("format", sort=False).agg(
        bits_per_weight=("bits_per_weight", "mean"), on_front_share=("on_front", "mean")
    )
    return out.reset_index().sort_values(
        ["on_front_share", "bits_per_weight"], ascending=[False, True], ignore_index=True
    )


def _best_under(df: pd.DataFrame, budget: float, keys: list[str]) -> pd.DataFrame:
    fits = df[df.bits_per_weight <= budget + 1e-12]
    best = fits.sort_values(["snr_db", "bits_per_weight"], ascending=[False, True], kind="stable")
    return best.drop_duplicates(keys)


def decision_map(df: pd.DataFrame, budgets, *, by: Sequence[str] = ("kurtosis",)) -> pd.DataFrame:
    """The winning format of each group (distribution) at each budget.

    Returns
    -------
    pandas.DataFrame
        Columns ``*by, budget, format, bits_per_weight, snr_db`` (no row where nothing fits).
    """
    parts = []
    for b in budgets:
        best = _best_under(df, float(b), list(by))
        parts.append(best[[*by, "format", "bits_per_weight", "snr_db"]].assign(budget=float(b)))
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return out[[*by, "budget", "format", "bits_per_weight", "snr_db"]].sort_values([*by, "budget"], ignore_index=True)


def tensor_win_shares(table: pd.DataFrame, budgets) -> pd.DataFrame:
    """Share of tensors each format wins at each budget (highest SNR within the budget).

    Parameters
    ----------
    table : pandas.DataFrame
        ``tensor_formats.csv``: columns ``model, tensor, format, bits_per_weight, snr_db``.

    Returns
    -------
    pandas.DataFrame
        Columns ``budget, format, tensors, share``.
    """
    n = table[["model", "tensor"]].drop_duplicates().shape[0]
    rows = []
    for b in budgets:
        best = _best_under(table, float(b), ["model", "tensor"])
        for fmt, count in best["format"].value_counts(sort=False).items():
            rows.append({"budget": float(b), "format": fmt, "tensors": int(count), "share": count / n})
    return pd.DataFrame(rows, columns=["budget", "format", "tensors", "share"])


def sparse_vs_dense(table: pd.DataFrame, formats: Sequence[Format]) -> pd.DataFrame:
    """For each sparse format, how often it beats every dense format costing no more bits.

    Parameters
    ----------
    table : pandas.DataFrame
        ``tensor_formats.csv`` (or a sweep with ``model``/``tensor`` standing for the group).
    formats : sequence of Format
        The formats of ``table`` (sparse ones have ``keep`` or ``index`` set).

    Returns
    -------
    pandas.DataFrame
        Columns ``format, bits_per_weight, tensors, wins, share, best_rival`` (``best_rival``:
        the dense format most often best at the sparse format's cost).
    """
    sparse = {f.name for f in formats if f.keep is not None or f.index}
    dense = table[~table["format"].isin(sparse)]
    rows = []
    for name in sorted(sparse):
        s = table[table["format"] == name]
        if s.empty:
            continue
        merged = s.merge(dense, on=["model", "tensor"], suffixes=("", "_dense"))
        merged = merged[merged.bits_per_weight_dense <= merged.bits_per_weight + 1e-12]
        best = merged.sort_values("snr_db_dense", ascending=False, kind="stable").drop_duplicates(["model", "tensor"])
        best = s[["model", "tensor"]].merge(best, on=["model", "tensor"], how="left")
        wins = best.snr_db_dense.isna() | (best.snr_db > best.snr_db_dense)
        rival = best.format_dense.mode()
        rows.append(
            {
                "format": name,
                "bits_per_weight": float(s.bits_per_weight.mean()),
                "tensors": len(s),
                "wins": int(wins.sum()),
                "share": float(wins.mean()),
                "best_rival": rival.iloc[0] if len(rival) else "",
            }
        )
    return pd.DataFrame(rows, columns=["format", "bits_per_weight", "tensors", "wins", "share", "best_rival"])
