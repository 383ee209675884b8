"""Figures of the book. Each function takes tidy data and returns a matplotlib Figure.

No global ``pyplot`` state is touched: figures are built with
:class:`matplotlib.figure.Figure` directly, so they never leak or show by themselves. Every
figure is drawn in the book's theme (:func:`pvq.book.theme.themed`) at the width of the text
column (:data:`pvq.book.theme.FIGURE_WIDTH`); panels that do not fit side by side are stacked.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib import colormaps
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from ..core.pruning import BASELINE_BITS, paired_sparsity
from .theme import FIGURE_WIDTH, PALETTE, PRUNE_COLOR, QUANT_COLOR, themed

__all__ = [
    "plot_crossover",
    "plot_heavy_tail",
    "plot_normal_comparison",
    "plot_per_layer",
    "plot_snr_margin",
    "plot_storage",
    "plot_tensor_snr",
    "plot_win_vs_kurtosis",
]

W = FIGURE_WIDTH


@themed
def plot_normal_comparison(
    curves: pd.DataFrame,
    levels: pd.DataFrame,
    snr: pd.DataFrame,
    *,
    n_bits: int,
    sparsity: float,
    spike: float | None = None,
) -> Figure:
    """Figure 1: densities after quantization and pruning, weighted error, SNR vs compression.

    Parameters
    ----------
    curves : DataFrame
        Columns ``w, density, pruned_density, quant_weighted_error, prune_weighted_error``.
    levels : DataFrame
        Columns ``level, probability, spacing``: the quantizer's levels and their masses.
    snr : DataFrame
        Columns ``n_bits, sparsity, quant_snr_db, prune_snr_db`` (one grid).
    n_bits, sparsity : int, float
        The comparison point of the top panels (the paper's left and middle panels).
    spike : float, optional
        Probability mass that pruning moves to 0 (drawn as an arrow); by default ``sparsity``.
    """
    spike = sparsity if spike is None else spike
    fig = Figure(figsize=(W, 6.4), layout="constrained")
    panels = fig.subplot_mosaic([["d", "e"], ["s", "s"]])
    ax_d, ax_e, ax_s = panels["d"], panels["e"], panels["s"]
    ax_d.plot(curves.w, curves.density, color="0.5", lw=1.2, label="original density")
    ax_d.vlines(
        levels.level,
        0,
        levels.probability / levels.spacing,
        color=QUANT_COLOR,
        lw=2,
        label=f"INT{n_bits} (left: mass / level spacing)",
    )
    ax_d.plot(curves.w, curves.pruned_density, color=PRUNE_COLOR, lw=1.5, label=f"{sparsity:.0%} pruning")
    top = float(curves.density.max()) * 1.6
    ax_d.vlines([0.0], 0, top, color=PRUNE_COLOR, lw=2.5)
    ax_d.annotate(
        f"pruned:\nmass {spike:.2f}\nat 0",
        xy=(0, top * 0.93),
        xytext=(0.62, 0.62),
        textcoords="axes fraction",
        color=PRUNE_COLOR,
        arrowprops={"arrowstyle": "->", "color": PRUNE_COLOR},
    )
    ax_d.set(ylim=(0, top), xlabel="w", ylabel="density", title="distributions after compression")
    ax_e.plot(curves.w, curves.quant_weighted_error, color=QUANT_COLOR)
    ax_e.plot(curves.w, curves.prune_weighted_error, color=PRUNE_COLOR)
    ax_e.set(xlabel="w", ylabel="(w - F(w))² p(w)", title="squared error weighted by density", yscale="log")
    ax_e.set_ylim(bottom=max(1e-6, float(curves.quant_weighted_error[curves.quant_weighted_error > 0].min())))
    fig.legend(*ax_d.get_legend_handles_labels(), loc="outside upper center", ncol=3)
    x = [paired_sparsity(b) for b in snr.n_bits]
    ax_s.plot(x, snr.quant_snr_db, "o-", color=QUANT_COLOR, label="quantization")
    ax_s.plot(x, snr.prune_snr_db, "s-", color=PRUNE_COLOR, label="pruning")
    for b, xx, q in zip(snr.n_bits, x, snr.quant_snr_db, strict=True):
        ax_s.annotate(f"INT{b}", (xx, q), textcoords="offset points", xytext=(4, 4))
    ax_s.set(xlabel=f"compression (pruned share 1 - b/{BASELINE_BITS})", ylabel="SNR (dB)", title="SNR vs compression")
    ax_s.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax_s.legend()
    ax_s.grid(alpha=0.3)
    return fig


@themed
def plot_heavy_tail(sweep: pd.DataFrame, *, title: str = "") -> Figure:
    """Figure 2: pruning SNR and quantization SNR vs kurtosis, and who wins where.

    Parameters
    ----------
    sweep : DataFrame
        Columns ``kurtosis, n_bits, sparsity, quant_snr_db, prune_snr_db``.
    """
    fig = Figure(figsize=(W, 7.2), layout="constrained")
    panels = fig.subplot_mosaic([["p", "q"], ["l", "l"], ["m", "m"]], height_ratios=[1, 0.22, 1])
    ax_p, ax_q, ax_m, ax_l = panels["p"], panels["q"], panels["m"], panels["l"]
    bits = sorted(sweep.n_bits.unique())
    cmap = colormaps["viridis"]
    for i, b in enumerate(bits):
        g = sweep[sweep.n_bits == b].sort_values("kurtosis")
        color = cmap(i / max(len(bits) - 1, 1))
        ax_p.plot(g["kurtosis"], g.prune_snr_db, color=color, label=f"INT{b} / {g.sparsity.iloc[0]:.2%}")
        ax_q.plot(g["kurtosis"], g.quant_snr_db, color=color)
    for ax, what in ((ax_p, "pruning"), (ax_q, "quantization")):
        ax.set(xscale="log", xlabel="kurtosis (Pearson)", ylabel="SNR (dB)", title=f"{what} SNR")
        ax.grid(alpha=0.3)
    ax_l.axis("off")
    ax_l.legend(*ax_p.get_legend_handles_labels(), loc="center", ncol=4, fontsize="small", handlelength=1.5,
                columnspacing=1.0, title=f"comparison point: INT-b / pruning 1 - b/{BASELINE_BITS}")  # fmt: skip
    pivot = sweep.pivot_table(index="n_bits", columns="kurtosis", values="quant_snr_db") - sweep.pivot_table(
        index="n_bits", columns="kurtosis", values="prune_snr_db"
    )
    k = pivot.columns.to_numpy()
    b = pivot.index.to_numpy()
    lim = float(np.nanmax(np.abs(pivot.to_numpy())))
    mesh = ax_m.pcolormesh(k, b, pivot.to_numpy(), cmap="RdBu", norm=TwoSlopeNorm(0, -lim, lim), shading="nearest")
    if len(b) > 1 and len(k) > 1:
        ax_m.contour(k, b, pivot.to_numpy(), levels=[0], colors="k", linewidths=1.5)
    fig.colorbar(mesh, ax=ax_m, label="quantization − pruning SNR (dB)")
    ax_m.set(
        xscale="log",
        xlabel="kurtosis (Pearson)",
        ylabel=f"bits b (pruning 1 - b/{BASELINE_BITS})",
        title="blue: quantization wins, red: pruning wins",
    )
    ax_m.set_yticks(b)
    if title:
        fig.suptitle(title)
    return fig


@themed
def plot_crossover(crossover: pd.DataFrame) -> Figure:
    """Largest bit-width at which pruning wins, vs kurtosis, one line per distribution family.

    Parameters
    ----------
    crossover : DataFrame
        Columns ``family, kurtosis, max_prune_win_bits``.
    """
    fig = Figure(figsize=(W, 4), layout="constrained")
    ax = fig.subplots()
    for fam, g in crossover.groupby("family", sort=False):
        g = g.sort_values("kurtosis")
        ax.step(g["kurtosis"], g.max_prune_win_bits, where="mid", marker="o", ms=3, label=fam)
    ax.set(
        xscale="log",
        xlabel="kurtosis (Pearson)",
        ylabel="pruning wins up to b bits (0: never)",
        title="where pruning starts to win depends on the tail family",
    )
    ax.grid(alpha=0.3)
    ax.legend()
    return fig


@themed
def plot_storage(table: pd.DataFrame) -> Figure:
    """Sparsity needed to match INT-b storage under each sparse format.

    Parameters
    ----------
    table : DataFrame
        Columns ``n_bits, format, equivalent_sparsity``.
    """
    fig = Figure(figsize=(W, 4), layout="constrained")
    ax = fig.subplots()
    for fmt, g in table.groupby("format", sort=False):
        ax.plot(g.n_bits, g.equivalent_sparsity, "o-", label=fmt)
    ax.set(
        xlabel="INT-b storage budget (bits per weight)",
        ylabel="sparsity needed",
        title="equal-storage sparsity by sparse format",
    )
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.grid(alpha=0.3)
    ax.legend(title="format")
    return fig


@themed
def plot_tensor_snr(df: pd.DataFrame, *, quant_col: str = "quant_snr_db", title: str = "") -> Figure:
    """Figure 3 left: pruning SNR against quantization SNR, one point per tensor and bit-width.

    Parameters
    ----------
    df : DataFrame
        Columns ``n_bits, sparsity, prune_snr_db`` and ``quant_col``.
    """
    fig = Figure(figsize=(W, 6.2), layout="constrained")
    ax = fig.subplots()
    bits = sorted(df.n_bits.unique(), reverse=True)
    cmap = colormaps["viridis"]
    for i, b in enumerate(bits):
        g = df[df.n_bits == b]
        ax.scatter(g[quant_col], g.prune_snr_db, s=7, alpha=0.6, color=cmap(i / max(len(bits) - 1, 1)),
                   label=f"INT{b} vs {g.sparsity.iloc[0]:.2%}")  # fmt: skip
    hi = float(np.nanmax([df[quant_col].max(), df.prune_snr_db.max(), 1.0])) * 1.05
    ax.plot([0, hi], [0, hi], color="k", lw=1)
    box = {"fc": "white", "ec": "none", "alpha": 0.85}
    ax.text(hi * 0.98, hi * 0.85, "y = x", ha="right", va="top", zorder=5, bbox=box)
    ax.set(xlim=(0, hi), ylim=(0, hi), xlabel="quantization SNR (dB)", ylabel="pruning SNR (dB)",
           title=title or "every tensor: above the line, pruning wins")  # fmt: skip
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=4, markerscale=2)
    ax.grid(alpha=0.3)
    return fig


@themed
def plot_win_vs_kurtosis(df: pd.DataFrame, boundary: pd.DataFrame, *, quant_col: str = "quant_snr_db") -> Figure:
    """Figure 3 right: which method wins against the tensor's kurtosis, per bit-width.

    Each tensor is a point at (kurtosis, bit-width), red where pruning wins; the black marks
    are the fitted boundaries (kurtosis where pruning's win probability is 1/2).

    Parameters
    ----------
    df : DataFrame
        Columns ``kurtosis, n_bits, prune_snr_db`` and ``quant_col``.
    boundary : DataFrame
        Columns ``n_bits, boundary_kurtosis`` (:func:`pvq.tensors.summaries.kurtosis_boundary`).
    """
    fig = Figure(figsize=(W, 4.8), layout="constrained")
    ax = fig.subplots()
    rng = np.random.default_rng(0)
    jitter = rng.uniform(-0.28, 0.28, len(df))
    prune = (df.prune_snr_db > df[quant_col]).to_numpy()
    y = df.n_bits.to_numpy() + jitter
    ax.scatter(df["kurtosis"][~prune], y[~prune], s=5, alpha=0.35, color=QUANT_COLOR, label="quantization wins")
    ax.scatter(df["kurtosis"][prune], y[prune], s=9, alpha=0.8, color=PRUNE_COLOR, label="pruning wins")
    ok = boundary.dropna(subset=["boundary_kurtosis"])
    ax.scatter(ok.boundary_kurtosis, ok.n_bits, marker="|", s=400, color="k", lw=2, label="fitted boundary")
    ax.set(xscale="log", xlabel="tensor kurtosis (Pearson)", ylabel=f"bits b (pruning 1 - b/{BASELINE_BITS})",
           title="who wins, by tensor kurtosis")  # fmt: skip
    ax.set_yticks(sorted(df.n_bits.unique()))
    handles = [Line2D([], [], ls="none", marker="o", ms=5, alpha=0.6, color=QUANT_COLOR, label="quantization wins"),
               Line2D([], [], ls="none", marker="o", ms=6, color=PRUNE_COLOR, label="pruning wins"),
               Line2D([], [], ls="none", marker="|", ms=14, mew=2, color="k", label="fitted boundary")]  # fmt: skip
    fig.legend(handles=handles, loc="outside lower center", ncol=3)
    ax.grid(alpha=0.3, axis="x")
    return fig


#: Colours of the sources of Figure 3.1 (this book's models, then the paper's released data).
_SOURCE_COLORS = (PALETTE.as_hex()[2], PALETTE.as_hex()[7])


@themed
def plot_snr_margin(margins: pd.DataFrame) -> Figure:
    """Figure 3.1: over tensors, how far quantization's SNR is ahead of pruning's, per bit-width.

    One violin per comparison point (INT-b against pruning ``1 - b/16``), split in two halves
    when two sources are compared (the first on the left); inside, the median (dashed) and the
    other quartiles (dotted); the violins are cut at the extreme tensors. Below the zero line
    pruning wins.

    Parameters
    ----------
    margins : DataFrame
        Columns ``source, n_bits, sparsity, margin_db`` (:func:`pvq.tensors.summaries.snr_margins`
        of each source, stacked); one or two sources.
    """
    sources = list(dict.fromkeys(margins.source))
    if not 1 <= len(sources) <= len(_SOURCE_COLORS):
        raise ValueError(f"one or two sources can be drawn, got {sources}")
    colors = dict(zip(sources, _SOURCE_COLORS, strict=False))
    bits = sorted(margins.n_bits.unique())
    fig = Figure(figsize=(W, 4.6), layout="constrained")
    ax = fig.subplots()
    sns.violinplot(data=margins, x="n_bits", y="margin_db", hue="source", order=bits, hue_order=sources,
                   palette=colors, split=len(sources) == 2, inner="quart", cut=0, density_norm="width",
                   linewidth=0.8, legend=False, ax=ax)  # fmt: skip
    ax.axhline(0.0, color=PRUNE_COLOR, lw=1.5, zorder=0.9)
    sparsity = margins.groupby("n_bits").sparsity.first()
    ax.set_xticks(range(len(bits)), [f"INT{b}\n{sparsity[b]:.2%}" for b in bits])
    ax.set(xlabel=f"comparison point: INT-b against pruning 1 - b/{BASELINE_BITS}",
           ylabel="quantization − pruning SNR (dB)",
           title="quantization's lead over pruning, tensor by tensor")  # fmt: skip
    handles = [Patch(facecolor=colors[s], edgecolor="0.2", label=s) for s in sources]
    handles.append(Line2D([], [], color=PRUNE_COLOR, lw=1.5, label="tie (pruning wins below)"))
    ax.legend(handles=handles, loc="upper left")
    return fig


@themed
def plot_per_layer(table: pd.DataFrame) -> Figure:
    """Figure 4: per layer and comparison point, the SDP bounds and the exact optima of both prunings.

    Each panel is a layer and x is the comparison point (INT-b vs ``1 - b/16``). Two blue bars
    span quantization's SDP bounds (randomized rounding to the certified SDP lower bound): the
    paper's plain relaxation (thin, pale) and the strengthened one (box cut and box-aware
    1-opt, wide). The blue dot is the exact quantization optimum, the red dot the exact pruning
    optimum of the paper's per-chunk form (hollow where a chunk's optimum was not proven), the
    red diamond the layer-budget form, small markers the heuristics (GPTQ, magnitude + refit).

    Parameters
    ----------
    table : DataFrame
        :func:`pvq.layerwise.tables.comparison_table`, one row per (model, layer, n_bits).
    """
    layers = list(dict.fromkeys(zip(table.model, table.layer, strict=True)))
    cols = min(3, len(layers))
    rows = math.ceil(len(layers) / cols)
    fig = Figure(figsize=(W, 2.5 * rows + 1.0), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    bars = (("quant_sdp_paper", -0.2, 2, 0.25, "quant. SDP bounds, paper's plain"),
            ("quant_sdp", -0.12, 5, 0.35, "quant. SDP bounds, strengthened"))  # fmt: skip
    for ax, (model, layer) in zip(axes, layers, strict=False):
        t = table[(table.model == model) & (table.layer == layer)].sort_values("n_bits")
        x = t.n_bits.to_numpy()
        for name, dx, lw, alpha, label in bars:
            if f"{name}_lower_db" in t:
                top = np.minimum(t[f"{name}_upper_db"].to_numpy(), t.quant_exact_db.to_numpy() + 30)
                ax.vlines(x + dx, t[f"{name}_lower_db"], top, color=QUANT_COLOR, lw=lw, alpha=alpha, label=label)
        ax.plot(x - 0.12, t.quant_exact_db, "o", color=QUANT_COLOR, ms=5, label="quant. exact")
        proven = t.prune_exact_proven.to_numpy() >= 1
        ax.plot(x[proven] + 0.12, t.prune_exact_db[proven], "o", color=PRUNE_COLOR, ms=5,
                label="prune exact, per chunk")  # fmt: skip
        ax.plot(x[~proven] + 0.12, t.prune_exact_db[~proven], "o", mfc="none", color=PRUNE_COLOR, ms=5,
                label="prune best found")  # fmt: skip
        if "prune_layer_db" in t:
            ax.plot(x + 0.2, t.prune_layer_db, "D", color=PRUNE_COLOR, ms=4, label="prune exact, layer budget")
        if "quant_GPTQ_db" in t:
            ax.plot(x - 0.12, t["quant_GPTQ_db"], "_", color=QUANT_COLOR, ms=9, label="GPTQ")
        if "prune_magnitude + refit_db" in t:
            ax.plot(x + 0.12, t["prune_magnitude + refit_db"], "_", color=PRUNE_COLOR, ms=9, label="magnitude + refit")
        lines = [""]  # the layer's name broken after dots, so that a long name stays above its own panel
        for part in layer.replace(".", ".\n").split("\n"):
            lines[-1:] = [lines[-1] + part] if len(lines[-1] + part) <= 26 else [lines[-1], part]
        ax.set_title("\n".join([model, *filter(None, lines)]), fontsize="medium")
        ax.set_xticks(x, [f"{b}b" for b in x])
        ax.grid(alpha=0.3)
    for ax in axes[len(layers) :]:
        ax.set_visible(False)
    for ax in axes[: len(layers) : cols]:
        ax.set_ylabel("layer SNR (dB)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=3)
    return fig
