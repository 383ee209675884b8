"""The fine-tuning chapters' tables as a reader sees them (chapters 5–7).

The run tables keep every column at full precision in their CSV files (:mod:`pvq.finetune.tables`,
:mod:`pvq.finetune.fairness`, :mod:`pvq.finetune.trajectories`); the functions here only choose,
merge, round and name columns for the page: accuracies in percent with two decimals, differences
in accuracy points, SNR in dB with one or two decimals, units in the headers.
:func:`lr_selection_display` is the learning-rate search of chapters 5 and 6 as a grid; the
``*_display`` functions that return a DataFrame give text cells, shown with
:func:`pvq.book.tables.page_table`. The plain run tables are shown with
:func:`pvq.book.tables.readable`.
"""

from __future__ import annotations

import re

import pandas as pd

from .tables import page_table

__all__ = [
    "METHOD_NAMES",
    "combining_wins_display",
    "lr_selection_display",
    "natural_display",
    "shapes_display",
]

#: How the page names each method of the run table.
METHOD_NAMES = {"qat": "QAT", "prune": "pruning", "qat+prune": "QAT + pruning", "fp32": "FP32"}


def _pct(v: float, digits: int = 2) -> str:
    return "" if pd.isna(v) else f"{100 * v:.{digits}f}"


def lr_selection_display(selection: pd.DataFrame):
    """The learning-rate search (:func:`pvq.finetune.fairness.choose_learning_rates`) as a small grid.

    Validation accuracy (%) per network and method (rows) and learning rate (columns, every rate
    some row tried, the grid's and those tried beyond it); each row's chosen rate is in bold, a
    rate a row did not try is empty.

    Parameters
    ----------
    selection : pandas.DataFrame
        ``arch, method, lr, val_accuracy, chosen``.

    Returns
    -------
    pandas.io.formats.style.Styler
    """
    t = selection.assign(method=selection.method.map(lambda m: METHOD_NAMES.get(m, m)))
    grid = t.pivot_table(index=["arch", "method"], columns="lr", values="val_accuracy", sort=False)
    grid = grid.reindex(columns=sorted(grid.columns))
    chosen = t[t.chosen.astype(bool)].set_index(["arch", "method"]).lr
    bold = pd.DataFrame(
        [["font-weight: bold" if chosen.get(i) == lr else "" for lr in grid.columns] for i in grid.index],
        index=grid.index, columns=grid.columns,
    )  # fmt: skip
    grid.index.names, grid.columns.name = ["network", "method"], "validation accuracy (%) at learning rate"
    styler = grid.style.format(_pct, na_rep="").format_index("{:g}", axis="columns")
    return page_table(styler.apply(lambda _: bold.to_numpy(), axis=None), index=True)


def natural_display(natural: pd.DataFrame) -> pd.DataFrame:
    """Figure 5's crosses (:func:`pvq.finetune.tables.natural_sparsity`) for the page.

    Returns
    -------
    pandas.DataFrame
        ``network, QAT bits, zeros (%)`` (one decimal), ``average bits per weight`` (two decimals),
        ``test accuracy (%)`` (two decimals).
    """
    return pd.DataFrame(
        {
            "network": natural.arch.to_numpy(),
            "QAT bits": [f"INT{int(b)}" for b in natural.n_bits],
            "zeros (%)": [_pct(v, 1) for v in natural.zeros],
            "average bits per weight": [f"{v:.2f}" for v in natural.avg_bits],
            "test accuracy (%)": [_pct(v) for v in natural.accuracy_mean],
        }
    )


def combining_wins_display(wins: pd.DataFrame, *, z: float = 2.0) -> pd.DataFrame:
    """:func:`pvq.finetune.tables.combining_wins` for the page: each combined model against the methods alone.

    The lead is :math:`a - r` in accuracy points with its standard error over seeds (``'+0.12 ± 0.05'``);
    ``ahead of both`` reads it as :func:`pvq.book.training_verdicts.check_c9` does: ``'yes, by > 2 SE'``
    when the lead exceeds ``z`` standard errors, ``'yes'`` when it is positive, ``'no'``, or ``'none'``
    when no single-method model has as few bits (nothing to compare with).

    Returns
    -------
    pandas.DataFrame
        ``network, combined model, bits per weight, accuracy (%), best QAT alone (%), best pruning alone
        (%), lead (points), ahead of both``.
    """
    ahead = []
    for r in wins.itertuples():
        if pd.isna(r.beats_both_alone):
            ahead.append("none")
        elif not bool(r.beats_both_alone):
            ahead.append("no")
        else:
            ahead.append(f"yes, by > {z:g} SE" if r.margin > z * r.margin_se else "yes")

    def lead(m, se):
        if pd.isna(m):
            return "none"
        return f"{100 * m:+.2f}" + ("" if pd.isna(se) else f" ± {100 * se:.2f}")

    return pd.DataFrame(
        {
            "network": wins.arch.to_numpy(),
            "combined model": wins.label.to_numpy(),
            "bits per weight": [f"{v:.2f}" for v in wins.avg_bits],
            "accuracy (%)": [_pct(v) for v in wins.accuracy_mean],
            "best QAT alone (%)": [_pct(v) or "none" for v in wins.best_other_quantized],
            "best pruning alone (%)": [_pct(v) or "none" for v in wins.best_other_pruned],
            "lead (points)": [lead(m, se) for m, se in zip(wins.margin, wins.margin_se, strict=True)],
            "ahead of both": ahead,
        }
    )


def _short_shape(text: str) -> str:
    """``'drifts away (5 of 5 layers)'`` → ``'drifts away (5/5)'``."""
    return re.sub(r"\((\d+) of (\d+) layers\)", r"(\1/\2)", text)


def shapes_display(per_point: pd.DataFrame) -> pd.DataFrame:
    """:func:`pvq.finetune.trajectories.shapes_per_point` for the page: one row per run kind and length.

    The SNR at step 0 (the network compressed, before fine-tuning) and at the end in dB with one
    decimal, ``climb`` (end − lowest) and ``drift`` (end − step 0) in dB with two; the lowest SNR
    and the final CKA are left to the CSV. The shapes keep their layer counts (``'returns (3/5)'``).

    Returns
    -------
    pandas.DataFrame
        ``network, run, epochs, SNR step 0 (dB), SNR end (dB), climb (dB), drift (dB), SNR shape,
        CKA shape``.
    """

    def db(v, fmt):
        return "" if pd.isna(v) else format(v, fmt)

    return pd.DataFrame(
        {
            "network": per_point.arch.to_numpy(),
            "run": per_point.label.to_numpy(),
            "epochs": [str(int(e)) for e in per_point.epochs],
            "SNR step 0 (dB)": [db(v, ".1f") for v in per_point.snr_compressed],
            "SNR end (dB)": [db(v, ".1f") for v in per_point.snr_end],
            "climb (dB)": [db(v, "+.2f") for v in per_point.climb_db],
            "drift (dB)": [db(v, "+.2f") for v in per_point.drift_db],
            "SNR shape": [_short_shape(s) for s in per_point["shape"]],
            "CKA shape": [_short_shape(s) for s in per_point["cka_shape"]],
        }
    )
