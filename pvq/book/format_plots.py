"""Figures of chapter 8 (formats beyond the paper). Each function takes tidy data and returns a Figure.

Formats are coloured by kind (:data:`pvq.formats.catalog.FAMILY_ORDER`): integer grids,
floating point, NF4, block-scaled, sparse.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.figure import Figure

from ..formats.catalog import FAMILY_ORDER, parse_format
from .theme import FIGURE_WIDTH, PALETTE, panels, themed

__all__ = ["plot_decision_map", "plot_format_fronts", "plot_layer_formats", "plot_win_shares"]

_COLORS = dict(zip(FAMILY_ORDER, PALETTE.as_hex(), strict=False))


def _family(names) -> list[str]:
    return [parse_format(n).family for n in names]


@themed
def plot_format_fronts(sweep: pd.DataFrame, *, groups: list[str]) -> Figure:
    """SNR against bits per weight for every format, one panel per distribution, the Pareto front drawn.

    Parameters
    ----------
    sweep : DataFrame
        Columns ``distribution, format, bits_per_weight, snr_db, on_front``
        (:func:`pvq.formats.frontier.pareto_front`).
    groups : list of str
        The values of ``distribution`` to draw, one panel each (panel titles).
    """
    fig, axes = panels(len(groups), height=3.6)
    for ax, group in zip(axes, groups, strict=True):
        g = sweep[sweep.distribution == group].assign(kind=lambda d: _family(d["format"]))
        sns.scatterplot(data=g, x="bits_per_weight", y="snr_db", hue="kind", hue_order=list(FAMILY_ORDER),
                        palette=_COLORS, ax=ax, s=28, legend=ax is axes[0])  # fmt: skip
        front = g[g.on_front].sort_values("bits_per_weight")
        ax.step(front.bits_per_weight, front.snr_db, where="post", color="0.3", lw=1, zorder=0)
        for r in front.itertuples():
            ax.annotate(r.format, (r.bits_per_weight, r.snr_db), fontsize=6.5, xytext=(3, -8),
                        textcoords="offset points")  # fmt: skip
        k = float(g["kurtosis"].iloc[0])
        title = "normal weights" if group.startswith("normal") else f"Student-t weights, kurtosis {k:.3g}"
        ax.set(xlabel="bits per weight (values, scales, indices)", ylabel="SNR (dB)", title=title)
        ax.grid(alpha=0.3)
    if axes[0].get_legend() is not None:
        axes[0].legend(fontsize="small", title=None, loc="lower right")
    return fig


@themed
def plot_decision_map(decision: pd.DataFrame) -> Figure:
    """The winning format at each budget (x) and kurtosis (y), as a labelled grid.

    Parameters
    ----------
    decision : DataFrame
        Columns ``kurtosis, budget, format`` (:func:`pvq.formats.frontier.decision_map`).
    """
    budgets = sorted(decision.budget.unique())
    kurt = sorted(decision["kurtosis"].unique())
    fig = Figure(figsize=(FIGURE_WIDTH, 0.42 * len(kurt) + 1.4), layout="constrained")
    ax = fig.subplots()
    cell = decision.set_index(["kurtosis", "budget"])["format"]
    kinds = list(FAMILY_ORDER)
    grid = np.full((len(kurt), len(budgets)), np.nan)
    for i, k in enumerate(kurt):
        for j, b in enumerate(budgets):
            name = cell.get((k, b))
            if isinstance(name, str):
                grid[i, j] = kinds.index(parse_format(name).family)
                ax.text(j, i, name, ha="center", va="center", fontsize=6.5)
    cmap = sns.blend_palette([_COLORS[k] for k in kinds], n_colors=len(kinds), as_cmap=False)
    ax.imshow(grid, cmap=ListedColormap(cmap), norm=BoundaryNorm(np.arange(len(kinds) + 1) - 0.5, len(kinds)),
              aspect="auto", alpha=0.35)  # fmt: skip
    ax.set_xticks(range(len(budgets)), [f"{b:g}" for b in budgets])
    ax.set_yticks(range(len(kurt)), [f"{k:.3g}" for k in kurt])
    ax.set(xlabel="budget (bits per weight)", ylabel="kurtosis (Pearson)", title="best format within the budget")
    return fig


@themed
def plot_win_shares(shares: pd.DataFrame) -> Figure:
    """Share of real tensors each format wins at each budget (stacked bars; each kind of format in shades
    of its colour).

    Parameters
    ----------
    shares : DataFrame
        Columns ``budget, format, share`` (:func:`pvq.formats.frontier.tensor_win_shares`).
    """
    pivot = shares.pivot_table(index="budget", columns="format", values="share", fill_value=0.0)
    order = sorted(pivot.columns, key=lambda n: (FAMILY_ORDER.index(parse_format(n).family), n))
    pivot = pivot[order]
    fig = Figure(figsize=(FIGURE_WIDTH, 3.8), layout="constrained")
    ax = fig.subplots()
    bottom = np.zeros(len(pivot))
    colors = []  # each kind in shades of its own colour, from light to dark
    for kind in FAMILY_ORDER:
        members = [n for n in order if parse_format(n).family == kind]
        if members:
            base = _COLORS[kind]
            shades = sns.blend_palette([sns.set_hls_values(base, l=0.8), base, sns.set_hls_values(base, l=0.25)], 5)
            colors += [shades[i] for i in np.linspace(0, 4, len(members)).round().astype(int)]
    x = np.arange(len(pivot))
    for name, color in zip(order, colors, strict=True):
        ax.bar(x, pivot[name], bottom=bottom, color=color, label=name, width=0.7, edgecolor="white", linewidth=0.4)
        bottom += pivot[name].to_numpy()
    ax.set_xticks(x, [f"{b:g}" for b in pivot.index])
    ax.set(xlabel="budget (bits per weight)", ylabel="share of tensors", ylim=(0, 1))
    ax.legend(fontsize="x-small", ncol=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


@themed
def plot_layer_formats(table: pd.DataFrame) -> Figure:
    """Each layer's SNR per format: the exact optimum (filled) and the best heuristic (hollow), one row per layer.

    Parameters
    ----------
    table : DataFrame
        Columns ``model, layer, format, method, bits_per_weight, snr_db``
        (:func:`pvq.layerwise.format_study.format_layer_table`).
    """
    layers = table[["model", "layer"]].drop_duplicates().reset_index(drop=True)
    formats = list(dict.fromkeys(table["format"]))
    colors = dict(zip(formats, sns.color_palette("colorblind", len(formats)).as_hex(), strict=True))
    fig = Figure(figsize=(FIGURE_WIDTH, 0.36 * len(layers) + 2.2), layout="constrained")
    ax = fig.subplots()
    offsets = np.linspace(-0.25, 0.25, len(formats))
    for off, fmt in zip(offsets, formats, strict=True):
        g = table[table["format"] == fmt]
        bits = g.bits_per_weight.iloc[0]
        for i, (model, layer) in enumerate(layers.itertuples(index=False)):
            rows = g[(g.model == model) & (g.layer == layer)]
            exact = rows[rows["method"] == "exact"].snr_db
            heur = rows[rows["method"] != "exact"].snr_db.max()
            if len(exact):
                ax.plot(
                    exact.iloc[0],
                    i + off,
                    "o",
                    color=colors[fmt],
                    ms=5,
                    label=f"{fmt} ({bits:g} bits)" if i == 0 else None,
                )
            if np.isfinite(heur):
                ax.plot(heur, i + off, "o", mfc="none", color=colors[fmt], ms=5)
    ax.set_yticks(range(len(layers)), [f"{m}: {layer}" for m, layer in layers.itertuples(index=False)], fontsize=7)
    ax.invert_yaxis()
    ax.set(xlabel="layer SNR (dB)", title="exact optimum (filled) and best heuristic (hollow)")
    ax.grid(alpha=0.3, axis="x")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize="small")
    return fig
