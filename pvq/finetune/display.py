"""Chapter 5's tables as a reader sees them: headers with units, numbers rounded, within the text column.

The tables of :mod:`pvq.finetune.tables` and :mod:`pvq.finetune.fairness` keep every digit (their
CSV files are the data); the functions here only name, round and arrange columns for the page
(Table 1 itself: :func:`pvq.finetune.tables.table1_display`). Each returns a pandas ``Styler`` with
the ``dataframe`` class, so the book's style sheet wraps its cells within the text column.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

__all__ = ["COLUMN_HEADERS", "HEADER_STYLE", "lr_display", "readable", "shown"]

#: The headers' cell style, words kept whole (the book's style sheet lets a cell break anywhere
#: so that long layer names fit; a header of short words needs no such break).
HEADER_STYLE = [{"selector": "thead th", "props": "overflow-wrap: normal;"}]


def _percent(v: float) -> str:
    return f"{100 * v:.2f}"


def _points(v: float) -> str:
    return f"{100 * v:+.2f}"


#: Header (with its unit) and number format of each column chapter 5 shows (:func:`readable`).
COLUMN_HEADERS: dict = {
    "arch": ("network", "{}"),
    "n_bits": ("b (bits)", "{:.0f}"),
    "factor": ("length", "{:g}×"),
    "parameters": ("parameters", "{:,}"),
    "weights": ("weights", "{:,}"),
    "accuracy": ("test accuracy (%)", _percent),
    "accuracy_mean_qat": ("QAT accuracy (%)", _percent),
    "accuracy_mean_prune": ("pruning accuracy (%)", _percent),
    "bits_qat": ("QAT bits per weight", "{:.2f}"),
    "bits_prune": ("pruning bits per weight", "{:.2f}"),
    "gap": ("QAT lead (points)", _points),
    "gain_qat": ("QAT gain (points)", _points),
    "gain_prune": ("pruning gain (points)", _points),
    "seconds": ("time (s)", "{:.0f}"),
    "per_step": ("per step (ms)", lambda v: f"{1000 * v:.1f}"),
    "fixed": ("per run (s)", "{:.1f}"),
    "n_runs": ("runs", "{:.0f}"),
}


def readable(table: pd.DataFrame, columns: Sequence[str] | None = None):
    """``table`` (or its ``columns``) for a reader: headers with units, numbers rounded, no index.

    Each column named in :data:`COLUMN_HEADERS` gets its header and format (accuracies as
    percentages, gaps and gains in points, bits per weight to 2 decimals); other columns keep
    their name, and their floating-point values show 4 significant digits. The values themselves
    are unchanged (the CSV keeps every digit).

    Returns
    -------
    pandas.io.formats.style.Styler
    """
    t = table if columns is None else table[list(columns)]
    known = {c: COLUMN_HEADERS[c] for c in t.columns if c in COLUMN_HEADERS}
    floats = {c: "{:.4g}" for c in t.select_dtypes("float").columns}
    styler = t.style.format({**floats, **{c: fmt for c, (_, fmt) in known.items()}}, na_rep="")
    styler = styler.format_index(lambda c: known[c][0] if c in known else c, axis="columns")
    return shown(styler.hide(axis="index"))


def shown(table):
    """A table (DataFrame or Styler) with the book's ``dataframe`` class and whole words in its headers.

    For tables already made for a reader, such as :func:`pvq.finetune.tables.table1_display`.

    Returns
    -------
    pandas.io.formats.style.Styler
    """
    styler = table.style if isinstance(table, pd.DataFrame) else table
    return styler.set_table_styles(HEADER_STYLE, overwrite=False).set_table_attributes('class="dataframe"')


def lr_display(selection: pd.DataFrame):
    """The learning-rate selection as a small grid: validation accuracy (%) per network and method (rows) and rate.

    From :func:`pvq.finetune.fairness.choose_learning_rates` (``arch, method, lr, val_accuracy,
    chosen``); each row's chosen rate is in bold, a rate a row did not try is empty.

    Returns
    -------
    pandas.io.formats.style.Styler
    """
    names = {"qat": "QAT", "prune": "pruning"}
    t = selection.assign(method=selection.method.map(lambda m: names.get(m, m)))
    grid = t.pivot_table(index=["arch", "method"], columns="lr", values="val_accuracy", sort=False)
    grid = grid.reindex(columns=sorted(grid.columns))
    chosen = t[t.chosen.astype(bool)].set_index(["arch", "method"]).lr
    bold = pd.DataFrame(
        [["font-weight: bold" if chosen.get(i) == lr else "" for lr in grid.columns] for i in grid.index],
        index=grid.index, columns=grid.columns,
    )  # fmt: skip
    grid.index.names, grid.columns.name = ["network", "method"], "validation accuracy (%) at learning rate"
    styler = grid.style.format(_percent, na_rep="").format_index("{:g}", axis="columns")
    return shown(styler.apply(lambda _: bold.to_numpy(), axis=None))
