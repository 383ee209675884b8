"""Model-level analysis of real weights (paper §4, Figure 3) and its summaries.

:func:`analyze_model` streams every layer weight of a checkpoint through
:func:`pvq.tensors.analysis.analyze_tensor` (:func:`pvq.tensors.model_set.analyze_models` does it
for a model set); the summary functions turn the per-tensor table into chapter 3's tables: who
wins per bit-width (beside the paper's released data), win share by kurtosis bin with a fitted
boundary, natural sparsity, and per-tensor recommendations. :func:`win_share_headlines` returns
the numbers the chapter's prose quotes, keyed by the names it glues them under.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import optimize
from tqdm import tqdm

from ..core.pruning import BITS_RULE, check_bits_list
from .analysis import TENSOR_COLUMNS, analyze_tensor
from .checkpoints import Checkpoint, iter_weights
from .released import released_by_bits

__all__ = [
    "KURTOSIS_BINS",
    "QUANT_COLUMNS",
    "WIN_SHARE_COLUMNS",
    "analyze_model",
    "describe_between",
    "kurtosis_boundary",
    "kurtosis_headlines",
    "natural_sparsity_table",
    "parse_bits",
    "recommendations",
    "snr_margins",
    "win_share_by_bits",
    "win_share_by_kurtosis",
    "win_share_headlines",
    "win_share_table",
]

KURTOSIS_BINS = (0.0, 4.0, 6.0, 10.0, 30.0, 100.0, math.inf)
#: Column of the per-tensor table holding quantization's SNR with each clipping method.
QUANT_COLUMNS = {"exact": "quant_snr_db", "paper": "quant_snr_db_paper"}
#: Columns of ``win_share.csv``.
WIN_SHARE_COLUMNS = [
    "n_bits",
    "sparsity",
    "tensors",
    "quant_wins_share",
    "median_margin_db",
    "quant_wins_share_paper_clipping",
    "paper_released_data",
]


def parse_bits(text: str, *, name: str = "bits") -> list[int]:
    """Parse ``'2-8'``, ``'4'`` or ``'2,3,8'`` into sorted bit-widths in 1..15.

    The values follow the one rule of compared bit-widths,
    :func:`pvq.core.pruning.check_bits_list` (16 bits is the FP16 baseline itself).

    Raises
    ------
    ValueError
        Naming ``name``: malformed text (a range must go upward), or a bit-width outside 1..15.
    """
    bits: set[int] = set()
    form = f"{name} must look like '2-8', '4' or '2,4,8', bit-widths being {BITS_RULE}; got {text!r}"
    try:
        for part in str(text).split(","):
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                if lo > hi:
                    raise ValueError(form)
                bits.update(range(lo, hi + 1))
            else:
                bits.add(int(part))
    except ValueError:
        raise ValueError(form) from None
    return list(check_bits_list(sorted(bits), name))


def analyze_model(
    ckpt: Checkpoint,
    n_bits,
    *,
    fp16: bool = True,
    grid: str = "signed",
    progress: bool = False,
    label: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Figure 3's numbers for every layer weight of one checkpoint.

    The tensors are read, analysed and freed one at a time (:func:`~pvq.tensors.checkpoints.iter_weights`
    with ``native=True``; :func:`~pvq.tensors.analysis.analyze_tensor` counts an FP16 tensor chunk
    by chunk), so memory holds about one tensor as stored, whatever the checkpoint's size
    (``benchmarks/bench_analyze_memory.py`` measures it).

    Returns
    -------
    tensors : pandas.DataFrame
        One row per (tensor, bit-width), columns :data:`pvq.tensors.analysis.TENSOR_COLUMNS` and
        ``natural_sparsity_minmax`` (write ``tensors[TENSOR_COLUMNS]`` for ``tensors.csv``).
    skipped : pandas.DataFrame
        Columns ``model, tensor, numel, reason`` for tensors that could not be analysed
        (non-finite values, FP16 overflow, all zeros, constant).
    """
    model = label or ckpt.label
    rows, skipped = [], []
    weights = iter_weights(ckpt, native=True)
    head = [next(weights)]  # open and check the file before any progress bar or heavy work

    def one_at_a_time():
        yield head.pop()  # popped: no reference to the first tensor stays behind
        yield from weights

    for name, w in tqdm(one_at_a_time(), desc=model, unit=" tensors", disable=not progress, leave=False):
        got, reason = analyze_tensor(w, n_bits, model=model, tensor=name, fp16=fp16, grid=grid)
        if reason:
            skipped.append({"model": model, "tensor": name, "numel": int(np.size(w)), "reason": reason})
        rows += got
        del w  # freed before the next tensor is read
    return (
        pd.DataFrame(rows, columns=[*TENSOR_COLUMNS, "natural_sparsity_minmax"]),
        pd.DataFrame(skipped, columns=["model", "tensor", "numel", "reason"]),
    )


def _wins(df: pd.DataFrame, method: str) -> pd.Series:
    return df[QUANT_COLUMNS[method]] > df["prune_snr_db"]


def win_share_by_bits(df: pd.DataFrame, *, method: str = "exact") -> pd.DataFrame:
    """Share of tensors where quantization beats pruning, per bit-width.

    Returns
    -------
    pandas.DataFrame
        Columns ``n_bits, sparsity, tensors, quant_wins_share, median_margin_db``.
    """
    d = df.assign(win=_wins(df, method), margin=df[QUANT_COLUMNS[method]] - df["prune_snr_db"])
    out = d.groupby("n_bits").agg(
        sparsity=("sparsity", "first"),
        tensors=("win", "size"),
        quant_wins_share=("win", "mean"),
        median_margin_db=("margin", "median"),
    )
    return out.reset_index()


def win_share_table(df: pd.DataFrame, *, released: pd.DataFrame | None = None) -> pd.DataFrame:
    """Who wins per bit-width, with pvq's clipping, with the paper's, and in the paper's released data.

    The share of tensors where quantization wins, ``mean(SNR_Q > SNR_P)``, with the MSE-optimal
    clipping and with the paper's 100-candidate grid (:func:`win_share_by_bits` with
    ``method='exact'`` and ``'paper'``), beside the same share in the per-tensor data the paper's
    repository released (paper §4, Figure 3; NaN at a bit-width it does not cover).

    Parameters
    ----------
    df : pandas.DataFrame
        Per-tensor table (columns ``n_bits, sparsity, quant_snr_db, quant_snr_db_paper,
        prune_snr_db``).
    released : pandas.DataFrame, optional
        The released per-tensor table (:func:`pvq.tensors.released.load_released`; default: the
        shipped release). Its share leaves out the tensors where pruning is lossless
        (:func:`pvq.tensors.released.released_by_bits`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`WIN_SHARE_COLUMNS`, one row per bit-width (ascending).
    """
    out = win_share_by_bits(df)
    out["quant_wins_share_paper_clipping"] = win_share_by_bits(df, method="paper").quant_wins_share.to_numpy()
    out["paper_released_data"] = out.n_bits.map(released_by_bits(released).quant_wins_share_finite)
    return out[WIN_SHARE_COLUMNS]


def win_share_headlines(wins: pd.DataFrame) -> dict:
    """The win shares chapter 3 quotes (in %), keyed by the names it glues them under.

    From :func:`win_share_table`: ``lowest-bits`` (the smallest bit-width), ``lowest-share`` and
    ``lowest-paper-share`` (quantization's share there, ours and in the paper's released data;
    NaN where that has none) and ``min-share`` (our smallest share at any bit-width).
    """
    lowest = wins.sort_values("n_bits").iloc[0]
    return {
        "lowest-bits": int(lowest.n_bits),
        "lowest-share": 100 * float(lowest.quant_wins_share),
        "lowest-paper-share": 100 * float(lowest.paper_released_data),
        "min-share": 100 * float(wins.quant_wins_share.min()),
    }


def snr_margins(df: pd.DataFrame, *, quant_col: str = "quant_snr_db", source: str = "") -> pd.DataFrame:
    """Quantization's SNR lead over pruning, per tensor and bit-width, in dB (chapter 3, Figure 3.1).

    ``margin_db`` :math:`= \\mathrm{SNR}_Q - \\mathrm{SNR}_P`, positive where quantization wins
    (paper §4, Figure 3). A row without a finite margin is left out: pruning is lossless, with an
    infinite SNR, on a tensor that already holds as many exact zeros as it must remove (the
    paper's released data has such rows).

    Parameters
    ----------
    df : pandas.DataFrame
        Per-tensor table, columns ``model, tensor, n_bits, sparsity, prune_snr_db`` and
        ``quant_col``: ``tensors.csv`` or :func:`pvq.tensors.released.load_released`.
    quant_col : str
        Quantization's SNR column (:data:`QUANT_COLUMNS`: pvq's clipping or the paper's grid).
    source : str
        Label stored in a ``source`` column, to stack several tables.

    Returns
    -------
    pandas.DataFrame
        Columns ``source, model, tensor, n_bits, sparsity, margin_db``.
    """
    margin = (df[quant_col] - df["prune_snr_db"]).to_numpy(dtype=float)
    keep = np.isfinite(margin)
    out = df.loc[keep, ["model", "tensor", "n_bits", "sparsity"]].assign(margin_db=margin[keep])
    out.insert(0, "source", source)
    return out.reset_index(drop=True)


def natural_sparsity_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean and median share of exact zeros after quantization, per bit-width."""
    out = df.groupby("n_bits").natural_sparsity.agg(["mean", "median"]).reset_index()
    return out.rename(columns={"mean": "natural_sparsity_mean", "median": "natural_sparsity_median"})


def win_share_by_kurtosis(df: pd.DataFrame, *, method: str = "exact", bins=KURTOSIS_BINS) -> pd.DataFrame:
    """Share of tensors where *pruning* wins, per bit-width and kurtosis bin.

    Returns
    -------
    pandas.DataFrame
        Columns ``n_bits, kurtosis_bin, tensors, prune_wins_share``.
    """
    d = df.assign(prune_wins=~_wins(df, method), kurtosis_bin=pd.cut(df["kurtosis"], list(bins), right=False))
    out = d.groupby(["n_bits", "kurtosis_bin"], observed=True).agg(
        tensors=("prune_wins", "size"), prune_wins_share=("prune_wins", "mean")
    )
    out = out.reset_index()
    out["kurtosis_bin"] = out["kurtosis_bin"].astype(str)
    return out


def kurtosis_boundary(df: pd.DataFrame, *, method: str = "exact") -> pd.DataFrame:
    """Per bit-width, a logistic fit of P(pruning wins) against log kurtosis.

    ``P = 1 / (1 + exp(-(a + c·log κ)))`` by maximum likelihood; the boundary is the kurtosis
    where ``P = 1/2``, ``κ* = exp(-a/c)``. ``nan`` when one method wins every tensor (no
    boundary inside the data) or the fit has no positive slope. Tensors whose kurtosis is not a
    finite positive number (where ``log κ`` is undefined) are left out of the fit.

    Returns
    -------
    pandas.DataFrame
        Columns ``n_bits, boundary_kurtosis, slope, tensors``.
    """
    rows = []
    k = df["kurtosis"]
    for b, g in df[np.isfinite(k) & (k > 0)].groupby("n_bits"):
        y = (~_wins(g, method)).to_numpy(dtype=float)
        x = np.log(g["kurtosis"].to_numpy())
        boundary = slope = math.nan
        if 0 < y.sum() < y.size:

            def nll(p, x=x, y=y):
                z = p[0] + p[1] * x
                return float(np.sum(np.logaddexp(0, z) - y * z))

            res = optimize.minimize(nll, x0=[0.0, 1.0], method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-10})
            a, c = res.x
            if c > 0:
                boundary, slope = math.exp(-a / c), float(c)
        rows.append({"n_bits": int(b), "boundary_kurtosis": boundary, "slope": slope, "tensors": len(g)})
    return pd.DataFrame(rows)


def kurtosis_headlines(by_kurtosis: pd.DataFrame, boundary: pd.DataFrame, *, prefix: str, n_bits: int = 2) -> dict:
    """Where pruning wins by kurtosis at one bit-width, in the numbers chapter 3 quotes.

    From :func:`win_share_by_kurtosis` and :func:`kurtosis_boundary`: ``<prefix>-boundary-<b>``
    (the fitted even-odds kurtosis at ``n_bits``), ``<prefix>-light-<b>`` and
    ``<prefix>-heavy-<b>`` (pruning's win share in %, in the lowest kurtosis bin and in the bin
    starting at 30), NaN where a table has no such row.
    """
    t = by_kurtosis[by_kurtosis.n_bits == n_bits]
    left = np.array([float(str(b)[1:].split(",")[0]) for b in t.kurtosis_bin])  # "[30.0, 100.0)" -> 30
    share = t.prune_wins_share.to_numpy()
    at = boundary.set_index("n_bits").boundary_kurtosis
    return {
        f"{prefix}-boundary-{n_bits}": float(at.get(n_bits, math.nan)),
        f"{prefix}-light-{n_bits}": 100 * float(share[left.argmin()]) if len(t) else math.nan,
        f"{prefix}-heavy-{n_bits}": 100 * float(share[left == 30.0][0]) if (left == 30.0).any() else math.nan,
    }


def recommendations(df: pd.DataFrame, *, method: str = "exact") -> pd.DataFrame:
    """Per tensor and compression point: quantize or prune, and by how many dB.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, tensor, n_bits, sparsity, recommendation, margin_db`` (margin of the
        recommended method over the other).
    """
    q = df[QUANT_COLUMNS[method]]
    diff = q - df["prune_snr_db"]
    return pd.DataFrame(
        {
            "model": df["model"],
            "tensor": df["tensor"],
            "n_bits": df["n_bits"],
            "sparsity": df["sparsity"],
            "recommendation": np.where(diff >= 0, "quantize", "prune"),
            "margin_db": diff.abs(),
        }
    )


def describe_between(reference: dict, low: pd.Series, high: pd.Series, *, what: str = "the paper's value") -> str:
    """One sentence per bit-width saying where a reference value lies against two conventions.

    Parameters
    ----------
    reference : dict
        ``{n_bits: value}``.
    low, high : pandas.Series
        The two conventions' values indexed by ``n_bits``.
    """
    parts = []
    for b, ref in sorted(reference.items(), reverse=True):
        if b not in low.index or b not in high.index:
            continue
        lo, hi = sorted([float(low[b]), float(high[b])])
        if lo <= ref <= hi:
            where = "between the two"
        elif ref < lo:
            where = "below both"
        else:
            where = "above both"
        parts.append(f"INT{b}: {what} {ref:.1%} lies {where} ({lo:.1%} and {hi:.1%})")
    return "; ".join(parts)
