"""Tables of chapters 5–7 from the run records: the recipe, Table 1, longer fine-tuning, Figure 5 (chapter 7's
representation tables are in :mod:`pvq.finetune.trajectories`).

All functions are pure: they take the run table of :func:`pvq.finetune.cache.run_grid` (one row per
run), the run records, or the tables built from them, and return tidy DataFrames. Accuracies are
fractions; ``_mean``/``_std`` are over seeds, diverged runs excluded and counted
(:func:`pvq.finetune.cache.summarize_runs`). The book shows them with
:func:`pvq.book.tables.readable` (Table 1's text cells: :func:`table1_display`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..common.paper import PAPER_RECIPE
from ..core.pruning import paired_bits, paired_sparsity
from .cache import summarize_runs
from .loop import steps_per_epoch

__all__ = [
    "TABLE1_COLUMNS",
    "at_length",
    "combine_points",
    "combining_wins",
    "figure5",
    "format_accuracy",
    "longer_table",
    "natural_sparsity",
    "pareto_front",
    "recipe_table",
    "seed_runs",
    "table1",
    "table1_display",
]


def recipe_table(spec, data) -> pd.DataFrame:
    """The fine-tuning recipe of this book beside the paper's (:data:`pvq.common.paper.PAPER_RECIPE`).

    One row per setting of the paper's recipe. The length is shown as
    ``epochs × images per epoch (total optimiser steps)``, with
    :math:`\\text{steps} = \\text{epochs} \\cdot \\lfloor \\text{images} / \\text{batch} \\rfloor`
    (:func:`pvq.finetune.loop.steps_per_epoch`; ``epoch_images = 0`` means the whole training set),
    the mask interval in steps; other settings as they are. Paper §6 (the repository's ImageNet recipe).

    Parameters
    ----------
    spec : pvq.finetune.recipe.FineTuneSpec
        One run of the chapter's grid (every run shares these settings).
    data : pvq.finetune.data.ImageData
        The training data (its size fixes the images per epoch when ``epoch_images`` is 0).

    Returns
    -------
    pandas.DataFrame
        ``setting, paper, this book, source``; the values as text (``'{:g}'`` for numbers).
    """
    n_train = len(data.y_train)
    images = spec.epoch_images or n_train
    steps = spec.epochs * steps_per_epoch(spec.epoch_images, spec.batch_size, n_train)
    ours = {
        "epochs": f"{spec.epochs} × {images:,} images ({steps} steps)",
        "mask_interval": f"{spec.mask_interval} steps",
    }
    rows = []
    for setting, (value, source) in PAPER_RECIPE.items():
        mine = ours.get(setting, getattr(spec, setting))
        rows.append(
            {
                "setting": setting,
                "paper": f"{value:g}",
                "this book": f"{mine:g}" if isinstance(mine, float) else str(mine),
                "source": source,
            }
        )
    return pd.DataFrame(rows)


def format_accuracy(mean: float, std: float, n_ok: int, n_runs: int) -> str:
    """``'91.23 ± 0.10'`` (percent), with diverged runs said: ``'90.1 ± 0.2 (1 of 3 diverged)'``."""
    if n_ok == 0:
        return f"diverged ({n_runs} of {n_runs})"
    text = f"{100 * mean:.2f}" + ("" if n_ok < 2 or math.isnan(std) else f" ± {100 * std:.2f}")
    return text if n_ok == n_runs else f"{text} ({n_runs - n_ok} of {n_runs} diverged)"


def _qat_kind(runs: pd.DataFrame, *, all_layers: bool) -> pd.DataFrame:
    """The runs without the other kind of QAT: the recipe's (first/last layer at 8 bits) or the all-layer ablation.

    A QAT run with a missing ``first_last_bits`` has every layer at INT-b; a table without the
    column holds the recipe's runs only.
    """
    if "first_last_bits" not in runs:
        return runs if not all_layers else runs[~runs.method.str.contains("qat")]
    ablation = runs.method.str.contains("qat") & runs.first_last_bits.isna()
    return runs[ablation | ~runs.method.str.contains("qat")] if all_layers else runs[~ablation]


def _paired(summary: pd.DataFrame) -> pd.DataFrame:
    """QAT and pruning side by side at each INT-b ↔ 1 - b/16 point."""
    q = summary[summary.method == "qat"].copy()
    p = summary[summary.method == "prune"].copy()
    q["point"] = q.n_bits.astype(int)
    p["point"] = [paired_bits(s) for s in p.sparsity]
    keep = ["arch", "epochs", "point", "accuracy_mean", "accuracy_std", "n_ok", "n_runs", "avg_bits"]
    keep += ["bits_per_weight", "lr"]
    t = q[keep].merge(p[keep], on=["arch", "epochs", "point"], suffixes=("_qat", "_prune"))
    t = t.rename(columns={"bits_per_weight_qat": "bits_qat", "bits_per_weight_prune": "bits_prune"})
    t["gap"] = t.accuracy_mean_qat - t.accuracy_mean_prune
    # standard error of the difference of two means over seeds (NaN with one seed)
    t["gap_se"] = np.sqrt(t.accuracy_std_qat**2 / t.n_ok_qat + t.accuracy_std_prune**2 / t.n_ok_prune)
    return t


def table1(runs: pd.DataFrame, *, epochs: int | None = None, all_layers: bool = False) -> pd.DataFrame:
    """Table 1: per architecture and point, QAT and pruning accuracy (mean, std over seeds) and the gap.

    QAT at INT-b is paired with pruning at :math:`c = 1 - b/16`
    (:func:`pvq.core.pruning.paired_bits`); the gap is QAT's lead,
    :math:`\\bar a_\\mathrm{QAT} - \\bar a_\\mathrm{prune}`, and ``gap_se`` the standard error of that
    difference of two means over seeds, :math:`\\sqrt{s_q^2/n_q + s_p^2/n_p}` (NaN with one seed).
    Paper §6, Table 1.

    Parameters
    ----------
    runs : pandas.DataFrame
        The run table (``arch, method, n_bits, sparsity, epochs, seed, status, accuracy, avg_bits, …``).
    epochs : int, optional
        Keep only the runs of this fine-tuning length (default: every length, one row each).
    all_layers : bool
        False: QAT as the recipe has it, first and last layer at 8 bits. True: the ablation, QAT
        with every layer at INT-b (:func:`pvq.finetune.grids.ablation_specs`), beside the same
        pruning runs; only the points that have such runs.

    Returns
    -------
    pandas.DataFrame
        ``arch, epochs, n_bits, accuracy_mean_qat, accuracy_std_qat, n_ok_qat, n_runs_qat, avg_bits_qat,
        bits_qat, lr_qat, …_prune, gap, gap_se, sparsity``. ``bits_qat`` / ``bits_prune`` are the
        measured bits per weight each model stores (:func:`pvq.finetune.loop.stored_bits`: every
        weight of the QAT model, its first and last layer at 8 bits unless ``all_layers``; the
        non-zeros of the pruned one at 16 bits), ``avg_bits_qat`` QAT's with its natural zeros
        free (Figure 5's count), ``lr_*`` the learning rates. Sorted by architecture, length, then
        bits from the highest.
    """
    t = _paired(summarize_runs(_qat_kind(runs, all_layers=all_layers))).rename(columns={"point": "n_bits"})
    t["sparsity"] = [paired_sparsity(b) for b in t.n_bits]
    t = t.drop(columns=["avg_bits_prune"])
    if epochs is not None:
        t = t[t.epochs == epochs]
    return t.sort_values(["arch", "epochs", "n_bits"], ascending=[True, True, False]).reset_index(drop=True)


#: Table 1's columns as the book shows them (:func:`table1_display`), with their units.
TABLE1_COLUMNS = (
    "QAT accuracy (%)",
    "QAT bits per weight",
    "pruning accuracy (%)",
    "pruning bits per weight",
    "QAT lead (points)",
)


def table1_display(t1: pd.DataFrame, baselines: pd.DataFrame, runs: pd.DataFrame) -> pd.DataFrame:
    """Table 1 as the book shows it: one row per network and comparison point, five columns.

    The columns (:data:`TABLE1_COLUMNS`) are QAT's and pruning's test accuracy (``'mean ± std'``
    in percent, :func:`format_accuracy`), each followed by the measured bits per weight its model
    stores (``bits_qat``, ``bits_prune``, 2 decimals), and QAT's lead in points, ``100 · gap``.
    Each network's rows start with the FP32 network before fine-tuning (``baselines``) and the
    control, the same network fine-tuned with the same recipe and no compression (``runs`` of
    method ``'fp32'``); both in the QAT column. The networks are stacked rather than set side by
    side, so the table keeps five columns however many networks it holds (the text column's
    width). Paper §6, Table 1.

    Parameters
    ----------
    t1 : pandas.DataFrame
        :func:`table1` of one fine-tuning length.
    baselines : pandas.DataFrame
        ``arch, accuracy``: the FP32 networks (:func:`pvq.finetune.grids.execute`).
    runs : pandas.DataFrame
        The run table; its ``'fp32'`` runs give the control row (empty cells without them).

    Returns
    -------
    pandas.DataFrame
        Text cells, indexed by ``(network, point)``: ``'FP32 baseline'``, ``'FP32, same
        fine-tuning'``, then ``'INT4 / 75.00%'``, … in the order of ``t1``.
    """
    base = baselines.set_index("arch").accuracy
    control = summarize_runs(runs[runs.method == "fp32"]).set_index("arch")
    rows: dict[tuple[str, str], list[str]] = {}
    for arch in dict.fromkeys(t1.arch):
        blank = [""] * len(TABLE1_COLUMNS)
        rows[(arch, "FP32 baseline")] = blank.copy()
        rows[(arch, "FP32, same fine-tuning")] = blank.copy()
        if arch in base.index:
            rows[(arch, "FP32 baseline")][0] = f"{100 * float(base[arch]):.2f}"
        if arch in control.index:
            c = control.loc[arch]
            rows[(arch, "FP32, same fine-tuning")][0] = format_accuracy(
                c.accuracy_mean, c.accuracy_std, c.n_ok, c.n_runs
            )
        for r in t1[t1.arch == arch].itertuples():
            bits = [getattr(r, f"bits_{m}", math.nan) for m in ("qat", "prune")]
            rows[(arch, f"INT{r.n_bits} / {r.sparsity:.2%}")] = [
                format_accuracy(r.accuracy_mean_qat, r.accuracy_std_qat, r.n_ok_qat, r.n_runs_qat),
                "" if pd.isna(bits[0]) else f"{bits[0]:.2f}",
                format_accuracy(r.accuracy_mean_prune, r.accuracy_std_prune, r.n_ok_prune, r.n_runs_prune),
                "" if pd.isna(bits[1]) else f"{bits[1]:.2f}",
                f"{100 * r.gap:+.2f}",
            ]
    index = pd.MultiIndex.from_tuples(list(rows), names=["network", "point"])
    return pd.DataFrame(list(rows.values()), index=index, columns=list(TABLE1_COLUMNS))


def seed_runs(runs: pd.DataFrame, *, epochs: int | None = None) -> pd.DataFrame:
    """Every seed's run behind Table 1: one row per QAT or pruning run at a comparison point.

    The recipe's QAT (first and last layer at 8 bits; not the all-layer ablation) at INT-b and
    gradual pruning at :math:`c = 1 - b/16`, both placed at the point ``n_bits`` = b
    (:func:`pvq.core.pruning.paired_bits`). Diverged runs have no accuracy and are left out. The
    spread these rows show is what :func:`table1`'s standard deviations summarise. Paper §6, Table 1.

    Parameters
    ----------
    runs : pandas.DataFrame
        The run table (``arch, method, n_bits, sparsity, epochs, seed, status, accuracy, …``).
    epochs : int, optional
        Keep only the runs of this fine-tuning length (default: the shortest, Table 1's).

    Returns
    -------
    pandas.DataFrame
        ``arch, n_bits, sparsity, method`` (``'QAT'`` or ``'pruning'``), ``seed, accuracy``
        (a fraction), sorted by network (in order of appearance), bits from the fewest, method (QAT
        first), seed.
    """
    t = _qat_kind(runs, all_layers=False)
    t = t[(t.epochs == (t.epochs.min() if epochs is None else epochs)) & (t.status == "ok")]
    t = t[t.method.isin(["qat", "prune"])].dropna(subset=["accuracy"])
    qat = t.method == "qat"
    bits = [int(b) if q else paired_bits(s) for q, b, s in zip(qat, t.n_bits, t.sparsity, strict=True)]
    out = pd.DataFrame({
        "arch": t.arch.to_numpy(), "n_bits": bits, "sparsity": [paired_sparsity(b) for b in bits],
        "method": np.where(qat, "QAT", "pruning"), "seed": t.seed.to_numpy(), "accuracy": t.accuracy.to_numpy(float),
    })  # fmt: skip
    order = {a: i for i, a in enumerate(dict.fromkeys(out.arch))}
    out = out.assign(_a=out.arch.map(order)).sort_values(["_a", "n_bits", "method", "seed"])
    return out.drop(columns="_a").reset_index(drop=True)


def longer_table(runs: pd.DataFrame, base_epochs: int) -> pd.DataFrame:
    """Longer fine-tuning: at each (arch, point), the accuracies and the gap per epochs multiple.

    Adds ``factor = epochs / base_epochs`` and, per method, the gain over the base length
    (``gain_qat``, ``gain_prune``, in accuracy points as fractions).
    """
    t = table1(runs)
    t["factor"] = t.epochs / base_epochs
    base = t[t.factor == 1].set_index(["arch", "n_bits"])
    t = t[t.n_bits.isin(t[t.factor > 1].n_bits.unique())].copy()
    idx = list(zip(t.arch, t.n_bits, strict=True))
    t["gain_qat"] = t.accuracy_mean_qat.to_numpy() - base.loc[idx, "accuracy_mean_qat"].to_numpy()
    t["gain_prune"] = t.accuracy_mean_prune.to_numpy() - base.loc[idx, "accuracy_mean_prune"].to_numpy()
    return t.sort_values(["arch", "n_bits", "factor"]).reset_index(drop=True)


def combine_points(runs: pd.DataFrame) -> pd.DataFrame:
    """Figure 5's points: accuracy against average bits per weight, per model kind.

    ``kind`` is ``'quantized'`` (QAT alone: only its natural sparsity, the crosses of the
    paper's figure), ``'pruned'`` (pruning alone, FP16 baseline: 16 × density) or ``'combined'``
    (QAT then pruned). ``avg_bits`` is measured on the final weights (zeros cost nothing).
    """
    s = summarize_runs(_qat_kind(runs[runs.epochs == runs.epochs.min()], all_layers=False))
    kind = {"qat": "quantized", "prune": "pruned", "qat+prune": "combined"}
    s = s[s.method.isin(kind)].copy()
    s["kind"] = s.method.map(kind)
    cols = ["arch", "kind", "label", "n_bits", "sparsity", "avg_bits", "zeros", "accuracy_mean", "accuracy_std"]
    return s[[*cols, "n_ok", "n_runs"]].sort_values(["arch", "kind", "avg_bits"]).reset_index(drop=True)


def pareto_front(points: pd.DataFrame) -> pd.DataFrame:
    """Points not dominated within their architecture (no other point has fewer or equal bits and higher accuracy).

    Adds a boolean ``on_front`` and, for each point, ``best_other_quantized`` /
    ``best_other_pruned``: the best accuracy that QAT alone / pruning alone reach at no more
    average bits (NaN when none does).
    """
    out = []
    for _, g in points.groupby("arch", sort=False):
        g = g.copy()
        acc, bits = g.accuracy_mean.to_numpy(), g.avg_bits.to_numpy()
        g["on_front"] = [not np.any((bits <= b) & (acc > a)) for a, b in zip(acc, bits, strict=True)]
        for kind in ("quantized", "pruned"):
            k = g[g.kind == kind]
            g[f"best_other_{kind}"] = [
                float(k.accuracy_mean[k.avg_bits <= b].max()) if (k.avg_bits <= b).any() else math.nan for b in bits
            ]
        out.append(g)
    return pd.concat(out, ignore_index=True)


def figure5(runs: pd.DataFrame) -> pd.DataFrame:
    """Figure 5's table: :func:`combine_points` with the columns of :func:`pareto_front` (paper §6, Figure 5)."""
    return pareto_front(combine_points(runs))


def combining_wins(front: pd.DataFrame) -> pd.DataFrame:
    """Where a combined model beats both methods alone at no more average bits per weight, and by how much.

    For a combined model with average bits :math:`\\bar b` and accuracy :math:`a`, its rival is the
    most accurate single-method model (QAT alone or pruning alone, same network) with no more bits,
    accuracy :math:`r = \\max(\\text{best\\_other\\_quantized}, \\text{best\\_other\\_pruned})`;
    ``beats_both_alone`` is :math:`a > r`, ``margin`` is :math:`a - r` and ``margin_se`` the standard
    error of that difference over seeds, :math:`\\sqrt{s_a^2/n_a + s_r^2/n_r}` (NaN with fewer than two
    seeds on either side). All three are missing when no single-method model has that few bits, so that
    there is nothing to compare with. The claim check :func:`pvq.book.training_verdicts.check_c9` reads these
    very columns. Paper §6, Figure 5.

    Parameters
    ----------
    front : pandas.DataFrame
        :func:`figure5` (or :func:`pareto_front`), with ``accuracy_std`` and ``n_ok``.

    Returns
    -------
    pandas.DataFrame
        The combined models: ``arch, label, avg_bits, accuracy_mean, best_other_quantized,
        best_other_pruned, beats_both_alone`` (nullable boolean), ``margin``, ``margin_se``.
    """
    c = front[front.kind == "combined"]
    single = front[front.kind.isin(["quantized", "pruned"])]
    cols = ["arch", "label", "avg_bits", "accuracy_mean", "best_other_quantized", "best_other_pruned"]
    out = c[cols].reset_index(drop=True)
    beats, margin, margin_se = [], [], []
    for r in c.itertuples():
        rivals = single[(single.arch == r.arch) & (single.avg_bits <= r.avg_bits)]
        if rivals.empty:
            beats.append(pd.NA)
            margin.append(math.nan)
            margin_se.append(math.nan)
            continue
        best = rivals.loc[rivals.accuracy_mean.idxmax()]
        beats.append(bool(r.accuracy_mean > best.accuracy_mean))
        margin.append(float(r.accuracy_mean - best.accuracy_mean))
        enough = min(r.n_ok, best.n_ok) >= 2
        margin_se.append(
            math.sqrt(r.accuracy_std**2 / r.n_ok + best.accuracy_std**2 / best.n_ok) if enough else math.nan
        )
    out["beats_both_alone"] = pd.array(beats, dtype="boolean")
    out["margin"] = margin
    out["margin_se"] = margin_se
    return out


def natural_sparsity(front: pd.DataFrame) -> pd.DataFrame:
    """The QAT models alone (Figure 5's crosses): their share of exact zeros and average bits.

    ``zeros`` is the share of weights that round to level 0 after fine-tuning (all layers), the
    *natural* sparsity of paper §7; ``avg_bits`` counts only non-zeros, :math:`\\bar b = \\sum_l b_l
    \\mathrm{nnz}_l / \\sum_l n_l`.

    Returns
    -------
    pandas.DataFrame
        ``arch, n_bits, zeros, avg_bits, accuracy_mean``, one row per network and bit-width.
    """
    q = front[front.kind == "quantized"]
    return q[["arch", "n_bits", "zeros", "avg_bits", "accuracy_mean"]].reset_index(drop=True)


def at_length(table: pd.DataFrame, epochs: int | None = None) -> pd.DataFrame:
    """The rows of ``table`` at one fine-tuning length: ``epochs``, or the longest when ``None``."""
    return table[table.epochs == (table.epochs.max() if epochs is None else epochs)]
