"""The paper's own per-tensor data, shipped with pvq, and the book's numbers checked against it (paper §4).

The paper's repository released its Figure 3 data for 45 torchvision models
(``pvq/tensors/released/``: the table, its licence and provenance). :func:`load_released` reads it
with the column names of ``tensors.csv`` (:data:`pvq.tensors.analysis.TENSOR_COLUMNS`), so that the
book's own recomputation and the paper's numbers can be put side by side
(:func:`compare_with_released`) and aggregated the same way (:func:`natural_sparsity_by_source`).
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from ..core.pruning import paired_sparsity

__all__ = [
    "AGGREGATIONS",
    "COMPARED",
    "RELEASED_COLUMNS",
    "compare_with_released",
    "cross_check",
    "cross_check_summary",
    "finite_points",
    "kurtosis_points",
    "load_released",
    "natural_sparsity_by_source",
    "released_by_bits",
    "released_headlines",
    "released_win_share",
]

#: Columns of :func:`load_released`.
RELEASED_COLUMNS = [
    "model",
    "tensor",
    "n_bits",
    "sparsity",
    "kurtosis",
    "excess_kurtosis",
    "quant_snr_db_paper",
    "quant_mse",
    "natural_sparsity",
    "prune_snr_db",
    "prune_mse",
    "prune_snr_db_corrected",
    "prune_mse_corrected",
]
#: Quantities :func:`compare_with_released` puts side by side (columns of both tables).
COMPARED = ("quant_snr_db_paper", "prune_snr_db", "prune_snr_db_corrected", "natural_sparsity", "excess_kurtosis")
#: Ways of averaging a per-tensor quantity over a model set (:func:`natural_sparsity_by_source`).
AGGREGATIONS = ("mean_over_tensors", "median", "mean_of_model_means", "weighted_by_weights")


def load_released(path=None) -> pd.DataFrame:
    """The paper's released per-tensor table: one row per (model, tensor, bit-width).

    Parameters
    ----------
    path : str or Path, optional
        A ``weights_sqnr.csv.gz`` written by ``tools/vendor_released.py`` (default: the copy
        shipped in ``pvq/tensors/released/``).

    Returns
    -------
    pandas.DataFrame
        :data:`RELEASED_COLUMNS`. ``sparsity`` is the paired pruning ratio ``1 - b/16`` and
        ``kurtosis`` the Pearson kurtosis, ``excess_kurtosis + 3``; quantization uses the paper's
        100-candidate clipping grid (``quant_snr_db_paper``, the column of that name in
        ``tensors.csv``). The files carry no weight counts.
    """
    if path is None:
        with resources.as_file(resources.files(__package__) / "released" / "weights_sqnr.csv.gz") as shipped:
            table = pd.read_csv(shipped)
    else:
        table = pd.read_csv(path)
    table["sparsity"] = [paired_sparsity(b) for b in table.n_bits]
    table["kurtosis"] = table.excess_kurtosis + 3.0
    return table[RELEASED_COLUMNS]


def compare_with_released(ours: pd.DataFrame, released: pd.DataFrame, *, model: str) -> pd.DataFrame:
    """Tensor by tensor, the book's numbers for ``model`` beside the paper's released ones.

    Tensors are matched by name (``features.0.0.weight`` here is ``features.0.0`` in the release)
    and bit-width; for each quantity ``q`` of :data:`COMPARED` the table has ``q_ours``,
    ``q_released`` and ``q_diff = q_ours - q_released``.

    Raises
    ------
    ValueError
        When ``model`` is missing from either table or no tensor matches.
    """
    mine = ours[ours.model == model].assign(tensor=lambda t: t.tensor.str.removesuffix(".weight"))
    theirs = released[released.model == model]
    if mine.empty or theirs.empty:
        raise ValueError(f"model {model!r} is missing from {'our table' if mine.empty else 'the released data'}")
    cols = ["tensor", "n_bits", *COMPARED]
    both = mine[cols].merge(theirs[cols], on=["tensor", "n_bits"], suffixes=("_ours", "_released"))
    if both.empty:
        raise ValueError(f"no tensor of {model!r} matches the released names")
    for q in COMPARED:
        both[f"{q}_diff"] = both[f"{q}_ours"] - both[f"{q}_released"]
    return both.sort_values(["n_bits", "tensor"]).reset_index(drop=True)


def natural_sparsity_by_source(tables: dict[str, pd.DataFrame], *, n_bits=(8, 4, 2)) -> pd.DataFrame:
    """The share of weights quantization rounds to zero, averaged four ways, per source and bit-width.

    For each source (e.g. ``'released'``, ``'offline'``) and bit-width: ``mean_over_tensors`` (every
    tensor counts once: the paper's aggregation), ``median`` over tensors, ``mean_of_model_means``
    (every model counts once) and ``weighted_by_weights`` (every weight counts once:
    :math:`\\sum_t z_t n_t / \\sum_t n_t`, only where the table has a ``numel`` column, NaN
    otherwise; the released files carry no weight counts).

    Returns
    -------
    pandas.DataFrame
        Columns ``source, n_bits, aggregation, value`` (a fraction).
    """
    rows = []
    for source, table in tables.items():
        for b in n_bits:
            t = table[table.n_bits == b]
            if t.empty:
                continue
            z = t.natural_sparsity
            weighted = float(np.average(z, weights=t.numel)) if "numel" in t else float("nan")
            values = (z.mean(), z.median(), t.groupby("model").natural_sparsity.mean().mean(), weighted)
            rows += [
                {"source": source, "n_bits": int(b), "aggregation": a, "value": float(v)}
                for a, v in zip(AGGREGATIONS, values, strict=True)
            ]
    return pd.DataFrame(rows, columns=["source", "n_bits", "aggregation", "value"])


def released_win_share(released: pd.DataFrame) -> pd.DataFrame:
    """Per bit-width, the share of the paper's tensors where quantization beats pruning, counted two ways.

    Where a tensor already holds more exact zeros than pruning removes, pruning is lossless and its
    SNR is infinite (``lossless_pruning`` counts them). ``quant_wins_share_finite`` leaves those
    tensors out (the shares usually quoted from these files: 74.1% at INT2 to 98.2% at INT8);
    ``quant_wins_share`` keeps them, as pruning wins, so every tensor counts once.

    Returns
    -------
    pandas.DataFrame
        Columns ``n_bits, tensors, lossless_pruning, quant_wins_share, quant_wins_share_finite``.
    """
    t = released.assign(
        win=released.quant_snr_db_paper > released.prune_snr_db, lossless=np.isinf(released.prune_snr_db)
    )
    rows = []
    for b, g in t.groupby("n_bits"):
        finite = g[~g.lossless]
        rows.append(
            {
                "n_bits": int(b),
                "tensors": len(g),
                "lossless_pruning": int(g.lossless.sum()),
                "quant_wins_share": float(g.win.mean()),
                "quant_wins_share_finite": float(finite.win.mean()),
            }
        )
    return pd.DataFrame(rows)


def released_by_bits(released: pd.DataFrame | None = None) -> pd.DataFrame:
    """The two per-bit-width numbers other tables set beside ours, computed from the released data.

    ``quant_wins_share_finite`` (quantization's win share, lossless-pruning tensors left out:
    :func:`released_win_share`) and ``natural_sparsity`` (the mean over tensors of the share
    rounded to zero, the paper's aggregation: :func:`natural_sparsity_by_source`).

    Parameters
    ----------
    released : pandas.DataFrame, optional
        :func:`load_released`'s table (default: the shipped release).

    Returns
    -------
    pandas.DataFrame
        Indexed by ``n_bits`` (ascending), columns ``quant_wins_share_finite, natural_sparsity``.
    """
    if released is None:
        released = load_released()
    wins = released_win_share(released).set_index("n_bits").quant_wins_share_finite
    zeros = released.groupby("n_bits").natural_sparsity.mean()
    return pd.DataFrame({"quant_wins_share_finite": wins, "natural_sparsity": zeros}).sort_index()


def finite_points(table: pd.DataFrame, quant_col: str = "quant_snr_db_paper") -> pd.DataFrame:
    """The rows a Figure 3 plot can place: finite quantization and pruning SNR and finite kurtosis."""
    ok = np.isfinite(table[quant_col]) & np.isfinite(table.prune_snr_db) & np.isfinite(table["kurtosis"])
    return table[ok]


def kurtosis_points(table: pd.DataFrame, quant_col: str = "quant_snr_db_paper") -> pd.DataFrame:
    """The rows a who-wins-by-kurtosis plot can place: :func:`finite_points` with a possible kurtosis.

    Pearson's kurtosis :math:`E[(w-\\mu)^4]/\\sigma^4` is at least 1 for any distribution. The
    released files hold tensors whose recorded excess kurtosis is exactly -3 (Pearson 0: a fourth
    moment of zero, as when the accumulation underflows or overflows in half precision) or
    infinite; those values are artefacts of the release, not properties of the weights, and are
    left out here (:func:`released_headlines` counts them).
    """
    t = finite_points(table, quant_col)
    return t[t["kurtosis"] >= 1.0]


def cross_check_summary(both: pd.DataFrame) -> pd.DataFrame:
    """Largest and median absolute difference of each compared quantity (:func:`compare_with_released`).

    Returns
    -------
    pandas.DataFrame
        One row per quantity of :data:`COMPARED`: ``quantity, max_abs_diff, median_abs_diff, worst_tensor,
        worst_n_bits``.
    """
    rows = []
    for q in COMPARED:
        d = both[f"{q}_diff"].abs()
        worst = both.loc[d.idxmax()]
        rows.append(
            {
                "quantity": q,
                "max_abs_diff": float(d.max()),
                "median_abs_diff": float(d.median()),
                "worst_tensor": worst.tensor,
                "worst_n_bits": int(worst.n_bits),
            }
        )
    return pd.DataFrame(rows)


def cross_check(ours: pd.DataFrame, released: pd.DataFrame, *, model: str = "mobilenet_v2"):
    """:func:`compare_with_released` and its :func:`cross_check_summary`, or two empty tables when ``ours``
    does not hold ``model`` (a chapter run on other models).
    """
    if model not in set(ours.model):
        cols = ["tensor", "n_bits"] + [f"{q}_{side}" for q in COMPARED for side in ("ours", "released", "diff")]
        empty = pd.DataFrame(columns=cols)
        return empty, pd.DataFrame(
            columns=["quantity", "max_abs_diff", "median_abs_diff", "worst_tensor", "worst_n_bits"]
        )
    both = compare_with_released(ours, released, model=model)
    return both, cross_check_summary(both)


def released_headlines(released: pd.DataFrame, wins: pd.DataFrame) -> dict:
    """The numbers chapter 3 quotes about the released data, keyed by the names it glues them under.

    ``released-points`` (tensor × bit-width points Figure 3 can place, :func:`finite_points`),
    ``released-lossless`` (points where pruning is lossless), ``released-bad-kurtosis`` and
    ``released-bad-kurtosis-tensors`` (points and distinct tensors whose recorded kurtosis is
    impossible, below 1 or infinite: :func:`kurtosis_points`), and quantization's win share in %
    at INT2 and INT8, with those points left out (``released-share-finite-2/8``) and counted as
    pruning wins (``released-share-2/8``), from :func:`released_win_share`.
    """
    w = wins.set_index("n_bits")
    k = released["kurtosis"]
    bad = released[~(np.isfinite(k) & (k >= 1.0))]
    out = {
        "released-points": len(finite_points(released)),
        "released-lossless": int(w.lossless_pruning.sum()),
        "released-bad-kurtosis": len(bad),
        "released-bad-kurtosis-tensors": len(bad.drop_duplicates(["model", "tensor"])),
    }
    for b in (2, 8):
        out[f"released-share-finite-{b}"] = 100 * float(w.quant_wins_share_finite.get(b, np.nan))
        out[f"released-share-{b}"] = 100 * float(w.quant_wins_share.get(b, np.nan))
    return out
