"""The book's tables as a reader sees them: rounded to what they support, units in the headers.

A chapter writes each table in full to its CSV (:class:`pvq.book.publish.Chapter`) and displays
:func:`readable` of it: every column formatted by what it holds and named for a reader, by one
registry for the whole book (:data:`TABLE_HEADERS`, :data:`TABLE_FORMATS`, so a column name means
one header and one format in every chapter). SNRs and margins are shown in dB with two decimals,
shares of tensors in percent with one decimal, sparsities with two (81.25%), kurtosis with three
significant digits, accuracies in percent and their differences in points with two decimals.
:func:`page_table` gives any table (a DataFrame, or a Styler such as one of
:mod:`pvq.book.training_tables`) the book's table class; :func:`percent_table` shows a pivot whose
cells are all shares, :func:`snr_by_grid` the expected SNRs of chapter 2 with one column per grid,
:func:`clipping_gain_display` chapter 3's gains of the clipping search and :func:`margin_display`
chapter 4's margins per layer. Nothing here changes a value: the CSVs keep every digit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import pandas as pd

from ..core.pruning import BASELINE_BITS

__all__ = [
    "CLIPPING_GAIN_HEADERS",
    "SHARE_COLUMNS",
    "TABLE_CLASS",
    "TABLE_FORMATS",
    "TABLE_HEADERS",
    "clipping_gain_display",
    "column_format",
    "margin_display",
    "page_table",
    "percent_table",
    "readable",
    "snr_by_grid",
]

#: How a column (or a ``quantity`` cell) of the book's tables is headed on the page.
TABLE_HEADERS: Mapping[str, str] = {
    "n_bits": "bits",
    "compression_ratio": "compression",
    "bits_per_weight": "bits per weight",
    "quant_snr_db": "quantization SNR (dB)",
    "quant_snr_db_paper": "quantization SNR, paper's clipping (dB)",
    "prune_snr_db": "pruning SNR (dB)",
    "prune_snr_db_corrected": "corrected pruning SNR (dB)",
    "natural_sparsity": "natural sparsity (fraction)",
    "excess_kurtosis": "excess kurtosis",
    "kurtosis_bin": "kurtosis",
    "onset_kurtosis": "pruning wins from kurtosis",
    "first_win_kurtosis": "first swept kurtosis where pruning wins",
    "quant_mse": "quantization MSE",
    "quant_z": "quantization z (SE)",
    "prune_mse": "pruning MSE",
    "prune_z": "pruning z (SE)",
    "quant_wins_share": "quantization wins",
    "median_margin_db": "median lead of quantization (dB)",
    "quant_wins_share_paper_clipping": "quantization wins, paper's clipping",
    "paper_released_data": "paper's released data",
    "lossless_pruning": "pruning lossless",
    "quant_wins_share_finite": "quantization wins, lossless left out",
    "natural_sparsity_mean": "mean",
    "natural_sparsity_median": "median",
    "minmax_range": "min–max range",
    "paper_text": "paper's text",
    "mobilenet_v2_only": "MobileNetV2 only",
    "max_abs_diff": "largest |difference|",
    "median_abs_diff": "median |difference|",
    "worst_tensor": "largest at tensor",
    "worst_n_bits": "at bits",
    "proven": "proven optimal",
    "mean_over_tensors": "mean over tensors",
    "mean_of_model_means": "mean of model means",
    "weighted_by_weights": "weighted by weights",
    "max_gap_db": "largest gap (dB)",
    # chapter 8: formats beyond the paper (pvq.formats, pvq.layerwise.format_study)
    "snr_db": "SNR (dB)",
    "se_db": "standard error (dB)",
    "mean_snr_db": "mean SNR (dB)",
    "min_snr_db": "lowest (dB)",
    "max_snr_db": "highest (dB)",
    "proven_share": "proven optimal",
    "best_rival": "best dense rival",
    # chapter 4: the per-layer problems, solve times and gaps (pvq.layerwise.tables)
    "rows": "rows of X",
    "channels": "output channels",
    "dead_channels": "dead channels",
    "chunks_total": "chunks",
    "chunk_dims": "chunk sizes n",
    "chunks_studied": "chunks studied",
    "n": "chunk size n",
    "median_seconds": "median time per chunk (ms)",
    "median_gap_db": "median gap (dB)",
    # chapters 5–7: the fine-tuning runs (pvq.finetune.tables, pvq.finetune.fairness)
    "arch": "network",
    "factor": "length",
    "parameters": "parameters",
    "weights": "weights",
    "accuracy": "test accuracy (%)",
    "accuracy_mean_qat": "QAT accuracy (%)",
    "accuracy_mean_prune": "pruning accuracy (%)",
    "bits_qat": "QAT bits per weight",
    "bits_prune": "pruning bits per weight",
    "gap": "QAT lead (points)",
    "gain_qat": "QAT gain (points)",
    "gain_prune": "pruning gain (points)",
    "seconds": "time (s)",
    "per_step": "per step (ms)",
    "fixed": "per run (s)",
    "n_runs": "runs",
}

#: HTML classes of the tables shown, pandas' own for a DataFrame's table (the book's CSS keeps such
#: tables compact, within the text column) and ``readable`` (their cells break between words only).
TABLE_CLASS = "dataframe readable"


def _percent(v: float) -> str:
    """An accuracy (a fraction) in percent with two decimals, ``0.91234`` → ``'91.23'``."""
    return f"{100 * v:.2f}"


def _points(v: float) -> str:
    return f"{100 * v:+.2f}"


def _milliseconds(v: float) -> str:
    return f"{1000 * v:,.1f}"


def _significant(v: float, digits: int = 3, most: int = 4) -> str:
    """``v`` to ``digits`` significant digits in plain decimals, at most ``most`` of them.

    7.2766 → 7.28, 0.5 → 0.500, 0.00314 → 0.0031, 1e-8 → 0.0000 (below what the table resolves).
    """
    if not math.isfinite(v):
        return f"{v}"
    decimals = most if v == 0 else min(most, max(0, digits - 1 - math.floor(math.log10(abs(v)))))
    return f"{v:.{decimals}f}"


#: Headers of :func:`pvq.tensors.clip_audit.clipping_gain_table`'s columns (gains of pvq's clipping, dB).
CLIPPING_GAIN_HEADERS: Mapping[str, str] = {
    "n_bits": "bits",
    "mean": "mean gain (dB)",
    "median": "median gain (dB)",
    "max": "largest gain (dB)",
}

#: Formats fixed by column name (the others follow :func:`column_format`'s rules): a format string
#: or a function of the value.
TABLE_FORMATS: Mapping[str, str | Callable[[float], str]] = {
    "compression_ratio": "{:.2f}×",
    "clip": "{:.3f}",
    "quant_mse": "{:.4g}",
    "prune_mse": "{:.4g}",
    "quant_z": "{:+.2f}",
    "prune_z": "{:+.2f}",
    "max_abs_diff": _significant,
    "median_abs_diff": _significant,
    "max_gap_db": _significant,
    "chunk_dims": "{}",
    "n": "{:.0f}",
    "median_seconds": _milliseconds,
    "median_gap_db": _significant,
    "factor": "{:g}×",
    "accuracy": _percent,
    "accuracy_mean_qat": _percent,
    "accuracy_mean_prune": _percent,
    "bits_qat": "{:.2f}",
    "bits_prune": "{:.2f}",
    "gap": _points,
    "gain_qat": _points,
    "gain_prune": _points,
    "seconds": "{:.0f}",
    "per_step": _milliseconds,
    "fixed": "{:.1f}",
    "n_runs": "{:.0f}",
}

#: Columns holding a share (a fraction shown in percent) whose name does not say so.
SHARE_COLUMNS = frozenset({"paper_released_data", "paper_text", "minmax_range", "mobilenet_v2_only", "proven"})


def column_format(name, values: pd.Series) -> str | Callable[[float], str] | None:
    """The display format of a column, from its name and values (``None``: shown as it is).

    In order: a format fixed in :data:`TABLE_FORMATS`; ``n_bits`` as floats without decimals;
    text, booleans and integer ``n_bits`` as they are; ``*_db`` and ``… (dB)`` with two decimals,
    clipping values ``α* …`` with three;
    ``sparsity`` in percent with two decimals (the paired sparsities 1 − b/16 need them); other
    sparsities and shares (floats named ``*share*``, ``*wins*``, :data:`SHARE_COLUMNS`) in percent
    with one; kurtosis
    with three significant digits; other integers with thousands separators and other floats
    with three significant digits.
    """
    name = str(name)
    if name in TABLE_FORMATS:
        return TABLE_FORMATS[name]
    if name == "n_bits" and pd.api.types.is_float_dtype(values):
        return "{:.0f}"
    if name == "n_bits" or not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return None
    if name.endswith(("_db", "(dB)")):
        return "{:.2f}"
    if name.startswith("α*"):
        return "{:.3f}"
    share = "share" in name or "sparsity" in name or "wins" in name or name in SHARE_COLUMNS
    if share and pd.api.types.is_float_dtype(values):
        return "{:.2%}" if name == "sparsity" else "{:.1%}"
    if "kurtosis" in name:
        return "{:.3g}"
    return "{:,d}" if pd.api.types.is_integer_dtype(values) else "{:.3g}"


def _header(name):
    return TABLE_HEADERS.get(name, name) if isinstance(name, str) else name


def page_table(table, *, index: bool = False, break_cells: bool = False):
    """A table (DataFrame or Styler) as the page shows it: the book's table class, the index hidden unless ``index``.

    The class :data:`TABLE_CLASS` keeps the table compact and its cells whole between words
    (``resnet_small``, ``87.50%``, the headers' words). ``break_cells`` lets the body cells break
    anywhere instead, for tables whose cells hold long names (chapter 4's layer names); the headers
    keep their words whole. The cells are shown as they are.

    Returns
    -------
    pandas.io.formats.style.Styler
    """
    styler = table.style if isinstance(table, pd.DataFrame) else table
    styler = styler.set_table_attributes(f'class="{TABLE_CLASS}"')
    if break_cells:
        styler = styler.set_table_styles([{"selector": "td", "props": "overflow-wrap: anywhere;"}], overwrite=False)
    return styler if index else styler.hide(axis="index")


def readable(
    table: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    index: bool = False,
    na_rep: str = "—",
    break_cells: bool = False,
):
    """``table`` (or its ``columns``) for the page: formatted by :func:`column_format`, headed by :data:`TABLE_HEADERS`.

    A ``quantity`` column's cells (names of compared columns) are headed the same way. The
    index is hidden unless ``index`` (its names are headed too); missing values show ``na_rep``;
    ``break_cells`` as in :func:`page_table`.

    Returns
    -------
    pandas.io.formats.style.Styler
        The values themselves are unchanged; the table has the class :data:`TABLE_CLASS`.
    """
    t = table if columns is None else table[list(columns)]
    formats = {_header(c): column_format(c, t[c]) for c in t.columns}
    shown = t.rename(columns=_header)
    if "quantity" in shown.columns:
        shown = shown.assign(quantity=shown["quantity"].map(_header))
    shown.index = shown.index.set_names([_header(n) for n in shown.index.names])
    styler = shown.style.format({c: f for c, f in formats.items() if f}, na_rep=na_rep)
    return page_table(styler, index=index, break_cells=break_cells)


def percent_table(table: pd.DataFrame, *, digits: int = 1, na_rep: str = "—"):
    """A pivot of shares for the page: every cell in percent with ``digits`` decimals, the index shown.

    The axis names and text column labels are headed by :data:`TABLE_HEADERS`; columns that are
    bit-widths (axis name ``n_bits``) read ``INT2``, ``INT3``…

    Returns
    -------
    pandas.io.formats.style.Styler
    """
    shown = table.copy()
    if shown.columns.name == "n_bits":
        shown.columns = pd.Index([f"INT{b}" for b in shown.columns], name="bits")
    else:
        shown = shown.rename(columns=_header)
        shown.columns = shown.columns.set_names([_header(n) for n in shown.columns.names])
    shown.index = shown.index.set_names([_header(n) for n in shown.index.names])
    return page_table(shown.style.format(f"{{:.{digits}%}}", na_rep=na_rep), index=True)


def snr_by_grid(table: pd.DataFrame) -> pd.DataFrame:
    """Chapter 2's expected SNRs with one column per grid: clipping and quantization SNR, pruning once.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns ``n_bits, sparsity, grid, clip, quant_snr_db, prune_snr_db``
        (:func:`pvq.analytic.errors.snr_table`), each comparison point under several grids;
        pruning does not depend on the grid.

    Returns
    -------
    pandas.DataFrame
        One row per comparison point: ``n_bits, sparsity``, then ``α* (<grid>)`` (the clipping
        value in standard deviations) and ``quantization SNR, <grid> (dB)`` per grid, and
        ``pruning SNR (dB)``.
    """
    keys = ["n_bits", "sparsity"]
    wide = table.pivot(index=keys, columns="grid", values=["clip", "quant_snr_db"])
    grids = list(dict.fromkeys(table.grid))
    out = pd.DataFrame(index=wide.index)
    for g in grids:
        out[f"α* ({g})"] = wide[("clip", g)]
    for g in grids:
        out[f"quantization SNR, {g} (dB)"] = wide[("quant_snr_db", g)]
    out["pruning SNR (dB)"] = table.groupby(keys).prune_snr_db.first()
    return out.reset_index()


def clipping_gain_display(gain: pd.DataFrame):
    """Chapter 3's clipping-gain table for the page: the gains in dB (two decimals), verdict flips counted.

    Parameters
    ----------
    gain : pandas.DataFrame
        :func:`pvq.tensors.clip_audit.clipping_gain_table` (columns ``n_bits, mean, median, max,
        verdict flips``), headed by :data:`CLIPPING_GAIN_HEADERS`.

    Returns
    -------
    pandas.io.formats.style.Styler
    """
    return readable(gain.rename(columns=CLIPPING_GAIN_HEADERS))


def margin_display(margins: pd.DataFrame):
    """Chapter 4's margins (:func:`pvq.layerwise.tables.margin_table`) for the page: ``INT-b`` columns, dB signed.

    One column per point, ``INT2``, ``INT3``…, margins in dB to one decimal with their sign. The
    unit and the pairing with pruning are said in the table's caption, so the columns stay
    narrow; numbers never break across lines (long layer names wrap instead).

    Returns
    -------
    pandas.io.formats.style.Styler
        Rows ``(model, layer)``, columns ``INT2``, ``INT3``, ….
    """
    t = margins.copy()
    t.columns = [f"INT{int(b)}" for b in margins.columns]
    # a layer name may wrap after any dot (encoder.layer.2.attention.output.dense): a zero-width space there
    t.index = t.index.map(
        lambda key: tuple(str(k).replace(".", ".\u200b") for k in key) if isinstance(key, tuple) else key
    )
    styler = t.style.format("{:+.1f}", na_rep="").set_caption(
        f"SNR margin (dB) of quantization at INT-b over pruning at 1 - b/{BASELINE_BITS}"
    )
    styler = styler.set_table_styles([{"selector": "td", "props": "white-space: nowrap;"}])
    return page_table(styler, index=True)
