"""What chapters 6 and 7 show a reader first: their tables rounded and named for the page, and the
headline numbers of their opening boxes.

The CSV files keep every column at full precision (:mod:`pvq.finetune.tables`,
:mod:`pvq.finetune.trajectories`); the ``*_display`` functions only choose, merge, round and name
columns for the page, as text cells, so that a table fits the book's text column: accuracies in
percent with two decimals, differences in accuracy points, SNR in dB with one or two decimals,
units in the headers. :func:`page_table` shows one without its index. The ``*_box`` functions
return the numbers a chapter's "In short" box glues, each computed from the table its claim check
reads.
"""

from __future__ import annotations

import math
import re

import pandas as pd

from .tables import combining_wins
from .trajectories import SHAPES

__all__ = [
    "METHOD_NAMES",
    "combining_box",
    "combining_wins_display",
    "lr_selection_display",
    "natural_display",
    "page_table",
    "representation_box",
    "shapes_display",
]

#: How the page names each method of the run table.
METHOD_NAMES = {"qat": "QAT", "prune": "pruning", "qat+prune": "QAT + pruning", "fp32": "FP32"}


def _pct(v: float, digits: int = 2) -> str:
    return "" if pd.isna(v) else f"{100 * v:.{digits}f}"


def page_table(table: pd.DataFrame):
    """``table`` as the page shows it: index hidden, the book's compact table style (class ``dataframe``).

    The class ``whole-words`` keeps the book's stylesheet from breaking a word across lines
    (``resnet_small``, ``accuracy``): the cells wrap at spaces only, which these tables leave
    narrower than the text column. Returns a :class:`pandas.io.formats.style.Styler`; the cells
    are shown as they are.
    """
    return table.style.hide(axis="index").set_table_attributes('class="dataframe whole-words"')


def lr_selection_display(selection: pd.DataFrame) -> pd.DataFrame:
    """The learning-rate search (:func:`pvq.finetune.fairness.choose_learning_rates`) for the page.

    Returns
    -------
    pandas.DataFrame
        ``network, method, learning rate, validation accuracy (%), chosen`` (``'✓'`` on the rate chosen).
    """
    return pd.DataFrame(
        {
            "network": selection.arch.to_numpy(),
            "method": [METHOD_NAMES.get(m, m) for m in selection.method],
            "learning rate": [f"{v:g}" for v in selection.lr],
            "validation accuracy (%)": [_pct(v) for v in selection.val_accuracy],
            "chosen": ["✓" if bool(c) else "" for c in selection.chosen],
        }
    )


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


def combining_box(front: pd.DataFrame, *, z: float = 2.0) -> dict:
    """Chapter 6's headline numbers, from the table C9 is judged on (:func:`pvq.finetune.tables.combining_wins`).

    Returns
    -------
    dict
        ``c9-n-rivalled`` (combined models with a single-method rival at no more bits),
        ``c9-n-ahead`` (of those, the ones ahead of both methods alone), ``c9-n-clear`` (ahead by more
        than ``z`` standard errors) and ``c9-closest`` (Markdown: the combined model with the largest
        lead, and that lead in points).
    """
    wins = combining_wins(front)
    rivalled = wins[wins.beats_both_alone.notna().to_numpy()]
    ahead = rivalled[rivalled.beats_both_alone.to_numpy(dtype=bool)]
    clear = ahead[(ahead.margin > z * ahead.margin_se).to_numpy()]
    if rivalled.empty:
        closest = "no combined model has a single-method rival with as few bits in this grid"
    else:
        r = rivalled.loc[rivalled.margin.idxmax()]
        se = "" if math.isnan(r.margin_se) else f" ± {100 * r.margin_se:.2f}"
        word = "best" if r.margin > 0 else "closest"
        closest = (
            f"the {word} is {r.arch} {r.label} at {r.avg_bits:.2f} bits per weight, "
            f"{100 * r.margin:+.2f}{se} points against the best single-method model with no more bits"
        )
    return {
        "c9-n-rivalled": len(rivalled),
        "c9-n-ahead": len(ahead),
        "c9-n-clear": len(clear),
        "c9-closest": closest,
    }


def representation_box(shapes: pd.DataFrame) -> dict:
    """Chapter 7's headline numbers, from the table C7 is judged on.

    The table is :func:`pvq.finetune.trajectories.representation_shapes`.

    Over the readable SNR trajectories (shape not ``'too few probes'``) of each method: the share
    that *returns* and the median climb back from the lowest point (dB), and the median end against
    step 0 (dB), the network compressed before fine-tuning. NaN for a method without trajectories.

    Returns
    -------
    dict
        ``c7-prune-returns``, ``c7-qat-returns`` (fractions), ``c7-prune-climb``, ``c7-qat-climb``,
        ``c7-prune-drift``, ``c7-qat-drift`` (dB).
    """
    readable = shapes[shapes["shape"] != SHAPES[-1]]
    out = {}
    for method in ("prune", "qat"):
        t = readable[readable.method == method]
        n = len(t)
        out[f"c7-{method}-returns"] = float((t["shape"] == "returns").mean()) if n else math.nan
        out[f"c7-{method}-climb"] = float(t.climb_db.median()) if n else math.nan
        out[f"c7-{method}-drift"] = float(t.drift_db.median()) if n else math.nan
    return out
