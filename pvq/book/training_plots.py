"""Figures of the fine-tuning chapters (5–7): Table 1 plotted, longer fine-tuning, Figure 5, representations.

Built like :mod:`pvq.book.plots` (no ``pyplot`` state, the book's theme, the text column's width).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from ..core.pruning import BASELINE_BITS, paired_bits, paired_sparsity
from .theme import PRUNE_COLOR, QUANT_COLOR, panels, themed

__all__ = ["plot_combining", "plot_longer", "plot_representations", "plot_seed_spread", "plot_table1"]


def _legend_below(fig: Figure, axes, ncol: int = 2) -> None:
    """One legend for every panel, below them (off the data): each label once, in order of first appearance."""
    entries: dict = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    fig.legend(list(entries.values()), list(entries), loc="outside lower center", ncol=ncol)


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
        ax.errorbar(bits(t, "qat"), 100 * t.accuracy_mean_qat, 100 * t.accuracy_std_qat.fillna(0), fmt="o-",
                    color=QUANT_COLOR, ms=4, capsize=2, label="QAT (INT-b, first/last 8 bits)")  # fmt: skip
        ax.errorbar(bits(t, "prune"), 100 * t.accuracy_mean_prune, 100 * t.accuracy_std_prune.fillna(0), fmt="s-",
                    color=PRUNE_COLOR, ms=4, capsize=2, label=f"gradual pruning (1 - b/{BASELINE_BITS})")  # fmt: skip
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
        ax.errorbar(t.factor, 100 * t.accuracy_mean_qat, 100 * t.accuracy_std_qat.fillna(0), fmt="o-",
                    color=QUANT_COLOR, capsize=2, label="QAT at INT-b")  # fmt: skip
        ax.errorbar(t.factor, 100 * t.accuracy_mean_prune, 100 * t.accuracy_std_prune.fillna(0), fmt="s-",
                    color=PRUNE_COLOR, capsize=2, label=f"gradual pruning at 1 - b/{BASELINE_BITS}")  # fmt: skip
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
        sns.stripplot(data=t, x="n_bits", y="percent", hue="method", order=points, hue_order=list(hue), palette=hue,
                      dodge=True, jitter=0.12, size=5, alpha=0.8, legend=False, ax=ax)  # fmt: skip
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

    Quantized models with only their natural sparsity are crosses, pruned FP16 models red
    squares, and each base bit-width's combined models a line from its quantized model.
    """
    archs = list(dict.fromkeys(front.arch))
    fig, axes = panels(len(archs), height=3.8)
    for ax, arch in zip(axes, archs, strict=True):
        t = front[front.arch == arch]
        q = t[t.kind == "quantized"].sort_values("avg_bits")
        p = t[t.kind == "pruned"].sort_values("avg_bits")
        ax.plot(q.avg_bits, 100 * q.accuracy_mean, "x", color=QUANT_COLOR, ms=7, mew=2,
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
        ax.set_xlabel("average bits per weight (non-zeros × bit-width)")
        ax.set_title(arch)
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("test accuracy (%)")
    axes[0].legend()
    return fig


@themed
def plot_representations(summary: pd.DataFrame, *, metric: str = "snr_db") -> Figure:
    """Representation similarity to the original network over fine-tuning, QAT vs pruning, per point.

    The FP32 control (method ``'fp32'``: fine-tuned without compression), when present, is the
    black line: what fine-tuning alone does to the representations. Step 0, the network compressed
    before fine-tuning, is an open marker at 0, apart from the line of the fine-tuning itself.
    """
    keys = list(dict.fromkeys(summary.arch))
    fig, axes = panels(len(keys), height=3.6)
    for ax, arch in zip(axes, keys, strict=True):
        t = summary[summary.arch == arch]
        for (method, label), g in t.groupby(["method", "label"], sort=False):
            g = g.sort_values("progress")
            g0, g = g[g.step == 0], g[g.step > 0]
            if method == "fp32":
                ax.plot(g.progress, g[metric], "k.-", lw=1.5, ms=4, label=label)
                continue
            b = int(g.n_bits.iloc[0]) if method == "qat" else paired_bits(g.sparsity.iloc[0])
            shade = max(0.35 + 0.65 * (8 - b) / 6, 0.2)  # darker for fewer bits; floored for b > 8
            color = QUANT_COLOR if method == "qat" else PRUNE_COLOR
            ax.plot(g.progress, g[metric], "o-" if method == "qat" else "s--", color=color, alpha=min(shade, 1.0),
                    ms=3, lw=1, label=label)  # fmt: skip
            ax.plot(g0.progress, g0[metric], "o" if method == "qat" else "s", mfc="none", color=color, ms=6)
        ax.axvline(0.75, color="0.5", lw=0.8, ls=":")
        ax.set_xlabel("fraction of fine-tuning (open: compressed, before; dotted: mask fixed)")
        ax.set_title(arch)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel({"snr_db": "activation SNR vs original (dB)", "cka": "linear CKA vs original"}[metric])
    axes[-1].legend(ncol=2)
    return fig
