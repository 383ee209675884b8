"""Figures of the fine-tuning chapters (5–7): Table 1 plotted, longer fine-tuning, Figure 5, representations.

Built like :mod:`pvq.book.plots` (no ``pyplot`` state, the book's theme, the text column's width).
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator

from ..core.pruning import BASELINE_BITS, paired_bits, paired_sparsity
from ..finetune.trajectories import MIN_CHANGE_DB
from .theme import FIGURE_WIDTH, PRUNE_COLOR, QUANT_COLOR, panels, themed

__all__ = [
    "plot_combining",
    "plot_longer",
    "plot_representation_shapes",
    "plot_representations",
    "plot_seed_spread",
    "plot_table1",
]


@contextmanager
def _fixed_jitter(seed: int = 0):
    """Seed numpy's global generator, which seaborn's strip-plot jitter draws from, then restore it.

    Unseeded, a fresh kernel draws different jitter on every build and the figure's file changes.
    """
    state = np.random.get_state()  # noqa: NPY002 (seaborn draws from the legacy global generator)
    np.random.seed(seed)  # noqa: NPY002
    try:
        yield
    finally:
        np.random.set_state(state)  # noqa: NPY002


def _legend_below(fig: Figure, axes, ncol: int = 2) -> None:
    """One legend for every panel, below them (off the data): each label once, in order of first appearance."""
    entries: dict = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    fig.legend(list(entries.values()), list(entries), loc="outside lower center", ncol=ncol)


def _both_methods(ax, x_qat, x_prune, t: pd.DataFrame, *, labels: tuple[str, str], ms: float | None = None) -> None:
    """QAT (blue circles) and pruning (red squares) accuracy in %, ± one standard deviation over seeds."""
    for x, method, fmt, color, label in ((x_qat, "qat", "o-", QUANT_COLOR, labels[0]),
                                         (x_prune, "prune", "s-", PRUNE_COLOR, labels[1])):  # fmt: skip
        ax.errorbar(x, 100 * t[f"accuracy_mean_{method}"], 100 * t[f"accuracy_std_{method}"].fillna(0), fmt=fmt,
                    color=color, ms=ms, capsize=2, label=label)  # fmt: skip


@themed
def plot_table1(
    t1: pd.DataFrame, baselines: pd.DataFrame | None = None, ablation: pd.DataFrame | None = None
) -> Figure:
    """Table 1 as a figure: test accuracy against the measured bits per weight, QAT vs pruning, per architecture.

    Each point sits at the bits per weight its model stores (``bits_qat``, ``bits_prune`` of
    :func:`pvq.finetune.tables.table1`; the nominal b when a table lacks them); ``ablation``
    (the same table with ``all_layers=True``) adds QAT with every layer at INT-b as open circles.
    Error bars are ± one standard deviation over seeds; the dashed line is the FP32 baseline.
    One legend for all panels sits below them.
    """
    archs = list(dict.fromkeys(t1.arch))
    fig, axes = panels(len(archs), height=3.8)

    def bits(t, method):
        return t[f"bits_{method}"].to_numpy() if f"bits_{method}" in t else t.n_bits.to_numpy(float)

    for ax, arch in zip(axes, archs, strict=True):
        t = t1[(t1.arch == arch) & (t1.epochs == t1.epochs.min())].sort_values("n_bits")
        labels = ("QAT (INT-b, first/last 8 bits)", f"gradual pruning (1 - b/{BASELINE_BITS})")
        _both_methods(ax, bits(t, "qat"), bits(t, "prune"), t, ms=4, labels=labels)
        if ablation is not None and len(a := ablation[ablation.arch == arch]):
            a = a[a.epochs == a.epochs.min()].sort_values("n_bits")
            ax.errorbar(bits(a, "qat"), 100 * a.accuracy_mean_qat, 100 * a.accuracy_std_qat.fillna(0), fmt="o",
                        mfc="none", color=QUANT_COLOR, ms=6, capsize=2, label="QAT, every layer INT-b")  # fmt: skip
        if baselines is not None and arch in set(baselines.arch):
            ax.axhline(100 * float(baselines[baselines.arch == arch].accuracy.iloc[0]), ls="--", color="0.4",
                       lw=1, label="FP32 baseline")  # fmt: skip
        x = t.n_bits.to_numpy()
        ax.set_xticks(x, [f"{b}\n{paired_sparsity(b):.0%}" for b in x])
        ax.set_title(arch)
        ax.set_xlabel("measured bits per weight\n(below: sparsity of the paired pruning)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("Fashion-MNIST test accuracy (%)")
    _legend_below(fig, axes)
    return fig


@themed
def plot_longer(longer: pd.DataFrame) -> Figure:
    """Longer fine-tuning: accuracy against the epochs multiple, per architecture and point.

    One panel per (architecture, point), QAT at INT-b (blue circles) and pruning at ``1 - b/16``
    (red squares), ± one standard deviation over seeds; one legend for all, below the panels.
    """
    keys = list(dict.fromkeys(zip(longer.arch, longer.n_bits, strict=True)))
    fig, axes = panels(len(keys), height=3.0)
    for ax, (arch, b) in zip(axes, keys, strict=True):
        t = longer[(longer.arch == arch) & (longer.n_bits == b)].sort_values("factor")
        _both_methods(ax, t.factor, t.factor, t, labels=("QAT at INT-b", f"gradual pruning at 1 - b/{BASELINE_BITS}"))
        ax.set_xscale("log", base=2)
        ax.set_xticks(t.factor, [f"{f:g}×" for f in t.factor])
        ax.minorticks_off()
        ax.set_title(f"{arch}, INT{b} vs {paired_sparsity(b):.2%}")
        ax.set_xlabel("fine-tuning length (× the base)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test accuracy (%)")
    _legend_below(fig, axes)
    return fig


@themed
def plot_seed_spread(seeds: pd.DataFrame) -> Figure:
    """Every seed's test accuracy, QAT beside pruning at each comparison point, one panel per architecture.

    A seaborn strip plot of :func:`pvq.finetune.tables.seed_runs`: each dot is one fine-tuning run
    (one seed), QAT (blue) left of pruning (red) at each point INT-b ↔ ``1 - b/16``, jittered
    sideways so that equal accuracies stay apart; a short bar marks each group's mean (Table 1's
    number). The panels are stacked, each the text column's width.
    """
    archs = list(dict.fromkeys(seeds.arch))
    fig, axes = panels(len(archs), height=2.7, cols=1)
    hue = {"QAT": QUANT_COLOR, "pruning": PRUNE_COLOR}
    offsets = {"QAT": -0.2, "pruning": 0.2}  # where seaborn's dodge puts two hue levels
    for ax, arch in zip(axes, archs, strict=True):
        t = seeds[seeds.arch == arch].assign(percent=lambda d: 100 * d.accuracy)
        points = sorted(t.n_bits.unique())
        with _fixed_jitter():
            sns.stripplot(data=t, x="n_bits", y="percent", hue="method", order=points, hue_order=list(hue),
                          palette=hue, dodge=True, jitter=0.12, size=5, alpha=0.8, legend=False, ax=ax)  # fmt: skip
        means = t.groupby(["n_bits", "method"]).percent.mean()
        for (b, method), m in means.items():
            x = points.index(b) + offsets[method]
            ax.hlines(m, x - 0.16, x + 0.16, color=hue[method], lw=2.2)
        ax.set_xticks(range(len(points)), [f"INT{b}\n{paired_sparsity(b):.2%}" for b in points])
        ax.set_title(arch)
        ax.set_xlabel("")
        ax.set_ylabel("test accuracy (%)")
    axes[-1].set_xlabel("comparison point: QAT's INT-b, pruning's share of weights removed")
    handles = [Line2D([], [], ls="none", marker="o", color=c, label=f"{m}, one seed") for m, c in hue.items()]
    handles.append(Line2D([], [], color="0.3", lw=2.2, label="mean over seeds"))
    fig.legend(handles=handles, loc="outside lower center", ncol=3)
    return fig


@themed
def plot_combining(front: pd.DataFrame) -> Figure:
    """Figure 5: accuracy against average bits per weight.

    Quantized models with only their natural sparsity are crosses, pruned FP16 models
    squares, and each base bit-width's combined models a line from its quantized model. The bits
    axis is logarithmic with plain-number ticks (1, 1.5, 2, 3, 4, …); one legend below the panels serves them all.
    """
    archs = list(dict.fromkeys(front.arch))
    fig, axes = panels(len(archs), height=3.4)
    for ax, arch in zip(axes, archs, strict=True):
        t = front[front.arch == arch]
        q = t[t.kind == "quantized"].sort_values("avg_bits")
        p = t[t.kind == "pruned"].sort_values("avg_bits")
        # the crosses above the combined lines that start at them
        ax.plot(q.avg_bits, 100 * q.accuracy_mean, "x", color=QUANT_COLOR, ms=7, mew=2, zorder=3,
                label="quantized (natural sparsity only)")  # fmt: skip
        ax.plot(p.avg_bits, 100 * p.accuracy_mean, "s--", color=PRUNE_COLOR, ms=4, lw=1, label="pruned (FP16)")
        c = t[t.kind == "combined"]
        markers = "o^vD<>"
        for i, (b, g) in enumerate(c.groupby("n_bits")):
            g = g.sort_values("avg_bits")
            base = q[q.n_bits == b]
            xs = np.concatenate([base.avg_bits, g.avg_bits])
            ys = 100 * np.concatenate([base.accuracy_mean, g.accuracy_mean])
            ax.plot(xs, ys, markers[i % len(markers)] + "-", color=colormaps["viridis"](i / max(1, c.n_bits.nunique())),
                    ms=5, lw=1, label=f"INT{int(b)} + pruning")  # fmt: skip
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(LogLocator(base=2, subs=(1.0, 1.5)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.set_xlabel("average bits per weight")
        ax.set_title(arch)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("test accuracy (%)")
    handles, labels = _unique_entries(axes)
    fig.legend(handles, labels, loc="outside lower center", ncol=min(len(labels), 2), frameon=False)
    return fig


def _unique_entries(axes) -> tuple[list, list[str]]:
    """The legend entries of all ``axes``, each label once, in the order they first appear."""
    entries: dict[str, object] = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    return list(entries.values()), list(entries)


def _point_bits(method: str, g: pd.DataFrame) -> int:
    """The comparison point of a run kind: its bits for QAT, the paired bits of its sparsity for pruning."""
    return int(g.n_bits.iloc[0]) if method == "qat" else paired_bits(g.sparsity.iloc[0])


#: Panel title and legend title of each method in :func:`plot_representations`.
_METHOD_NAMES = {"qat": ("QAT", "QAT"), "prune": ("pruning", "pruning (share removed)")}


@themed
def plot_representations(summary: pd.DataFrame, *, metric: str = "snr_db", by_method: bool = True) -> Figure:
    """Representation similarity to the original network over fine-tuning, QAT vs pruning, per point.

    One row of panels per architecture; with ``by_method`` (the default) QAT and pruning each get
    their own column, a shared y axis per row, and a legend below their column; otherwise both
    share one full-width panel per architecture. Within a method, darker is more compressed
    (fewer bits, or the larger pruned share). The FP32 control (method ``'fp32'``: fine-tuned
    without compression), when present, is the black line in every panel: what fine-tuning alone
    does to the representations. Step 0, the network compressed before fine-tuning, is an open
    marker at 0, apart from the line of the fine-tuning itself; the dotted line is where the
    pruning mask is fixed (the recipe's 75%).
    """
    archs = list(dict.fromkeys(summary.arch))
    methods = [m for m in ("qat", "prune") if (summary.method == m).any()]
    columns = [[m] for m in methods] if by_method and len(methods) > 1 else [methods]
    fig = Figure(figsize=(FIGURE_WIDTH, (2.7 if len(columns) > 1 else 2.5) * len(archs) + 1.0), layout="constrained")
    axes = fig.subplots(len(archs), len(columns), squeeze=False, sharex=True, sharey="row")
    for row, arch in enumerate(archs):
        t = summary[summary.arch == arch]
        for col, shown in enumerate(columns):
            ax = axes[row, col]
            for method in shown:
                groups = t[t.method == method].groupby("label", sort=False)
                kinds = sorted(groups, key=lambda kv, m=method: _point_bits(m, kv[1]))
                color = QUANT_COLOR if method == "qat" else PRUNE_COLOR
                shades = sns.light_palette(color, len(kinds) + 2, reverse=True)[: len(kinds)]  # fewest bits darkest
                for (label, g), shade in zip(kinds, shades, strict=True):
                    g = g.sort_values("progress")
                    g0, g = g[g.step == 0], g[g.step > 0]
                    name = label.removesuffix(" pruning") if len(columns) > 1 else label
                    ax.plot(g.progress, g[metric], "o-" if method == "qat" else "s--", color=shade, ms=3, lw=1.2,
                            label=name)  # fmt: skip
                    ax.plot(g0.progress, g0[metric], "o" if method == "qat" else "s", mfc="none", color=shade, ms=6)
            control = t[(t.method == "fp32") & (t.step > 0)].sort_values("progress")
            if len(control):
                ax.plot(control.progress, control[metric], "k.-", lw=1.5, ms=4, label="FP32 control")
            ax.axvline(0.75, color="0.5", lw=0.8, ls=":")
            ax.set_title(f"{arch}: {_METHOD_NAMES[shown[0]][0]}" if len(shown) == 1 else arch)
            ax.grid(alpha=0.3)
        axes[row, 0].set_ylabel({"snr_db": "activation SNR (dB)", "cka": "linear CKA"}[metric])
    for col, shown in enumerate(columns):
        ax = axes[-1, col]
        ax.set_xlabel("fraction of fine-tuning")
        title = _METHOD_NAMES[shown[0]][1] if len(shown) == 1 else None
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.32), ncol=3 if len(columns) > 1 else 4, title=title,
                  frameon=False, handlelength=1.8, columnspacing=1.0)  # fmt: skip
    return fig


#: Order and names of the run kinds in :func:`plot_representation_shapes`.
_SHAPE_METHODS = {"qat": "QAT", "prune": "pruning", "fp32": "FP32 control"}


@themed
def plot_representation_shapes(shapes: pd.DataFrame, *, min_change_db: float = MIN_CHANGE_DB) -> Figure:
    """How far each trajectory climbs back and where it ends, per method: box and strip plots (seaborn).

    ``shapes`` is :func:`pvq.finetune.trajectories.representation_shapes`, one row per (network,
    point, length, layer). Left: ``climb_db`` :math:`= v_T - v_\\min`, the climb back from the
    lowest point; a trajectory *returns* above the dashed line at ``min_change_db``. Right:
    ``drift_db`` :math:`= v_T - v_0`, the end against the network compressed before fine-tuning;
    it *drifts away* below the dashed line at ``-min_change_db``. Each dot is one trajectory
    (infinite values, such as the control's drift from an identical network, are left out).
    """
    kinds = [m for m in _SHAPE_METHODS if (shapes.method == m).any()]
    colors = {"qat": QUANT_COLOR, "prune": PRUNE_COLOR, "fp32": "0.35"}
    fig, axes = panels(2, height=3.2)
    panels_ = (("climb_db", "climb back from the lowest point (dB)", min_change_db),
               ("drift_db", "end − step 0 (dB)", -min_change_db))  # fmt: skip
    for ax, (column, ylabel, line) in zip(axes, panels_, strict=True):
        t = shapes[shapes.method.isin(kinds)].replace([np.inf, -np.inf], np.nan).dropna(subset=[column])
        t = t.assign(kind=t.method.map(_SHAPE_METHODS))
        order = [_SHAPE_METHODS[m] for m in kinds]
        palette = {_SHAPE_METHODS[m]: colors[m] for m in kinds}
        with warnings.catch_warnings():  # seaborn 0.13 passes matplotlib 3.11 the deprecated ``vert``
            warnings.filterwarnings("ignore", message=".*vert: bool was deprecated", category=DeprecationWarning)
            sns.boxplot(data=t, x="kind", y=column, hue="kind", order=order, hue_order=order, palette=palette, ax=ax,
                        showfliers=False, width=0.55, boxprops={"alpha": 0.35}, legend=False)  # fmt: skip
        with _fixed_jitter():
            sns.stripplot(data=t, x="kind", y=column, hue="kind", order=order, hue_order=order, palette=palette,
                          ax=ax, size=3.5, jitter=0.2, alpha=0.8, legend=False)  # fmt: skip
        ax.axhline(line, color="0.3", ls="--", lw=1)
        ax.set_xlabel("")
        ax.set_ylabel(ylabel)
        ax.set_title({"climb_db": "returns above the line", "drift_db": "drifts away below the line"}[column])
    return fig
