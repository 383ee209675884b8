"""The book's one look: seaborn's theme, the two methods' colours, and figure sizes for the page.

A figure is drawn at :data:`FIGURE_WIDTH` inches, the width of the book's text column at the
size it is shown (the theme's column is 688 px in a 1280 px window, 790 px in a 1920 px one, so one inch
of figure is about one inch on screen and a 10 pt label reads as 10 pt), and saved with at least
:data:`MIN_PIXELS` pixels across (:func:`figure_dpi`): twice the widest column, sharp on a
high-density screen. Panels that do not fit side by side at that width are stacked.

:func:`themed` draws a plotting function's figure inside seaborn's theme
(:data:`STYLE`, :data:`CONTEXT`) without touching the global matplotlib state, so a figure
looks the same whether a chapter, a test or a user's script draws it.
"""

from __future__ import annotations

import functools
import math

import matplotlib as mpl
import numpy as np
import seaborn as sns
from cycler import cycler
from matplotlib.figure import Figure

__all__ = [
    "CONTEXT",
    "FIGURE_WIDTH",
    "MIN_PIXELS",
    "PALETTE",
    "PRUNE_COLOR",
    "QUANT_COLOR",
    "STYLE",
    "figure_dpi",
    "panels",
    "themed",
]

#: Width of every figure of the book, in inches (the text column).
FIGURE_WIDTH = 7.0

#: Fewest pixels across a saved figure (twice the theme's text column in a 1920 px window, 790 px).
MIN_PIXELS: int = 1600

#: seaborn axes style of the book.
STYLE = "whitegrid"

#: seaborn plotting context of the book (font sizes for a figure shown at its own size).
CONTEXT = "paper"

#: The book's palette (seaborn "colorblind"; quantization first, pruning fourth).
PALETTE = sns.color_palette("colorblind")

QUANT_COLOR = PALETTE.as_hex()[0]
PRUNE_COLOR = PALETTE.as_hex()[3]


def figure_dpi(width_inches: float) -> int:
    """Resolution that puts at least :data:`MIN_PIXELS` pixels across a figure ``width_inches`` wide (≥ 100)."""
    if not width_inches > 0:
        raise ValueError(f"figure width must be > 0 inches, got {width_inches!r}")
    return max(100, math.ceil(MIN_PIXELS / width_inches))


def themed(plot):
    """Decorator: build the figure inside the book's seaborn style, context and palette.

    The theme applies while the figure's artists are created (``rc_context``); nothing global
    changes.
    """

    @functools.wraps(plot)
    def wrapper(*args, **kwargs):
        rc = {**sns.axes_style(STYLE), **sns.plotting_context(CONTEXT, font_scale=1.15)}
        rc["axes.prop_cycle"] = cycler(color=PALETTE.as_hex())
        with mpl.rc_context(rc):
            return plot(*args, **kwargs)

    return wrapper


def panels(n: int, *, height: float, cols: int = 2):
    """A :data:`FIGURE_WIDTH`-wide figure of ``n`` panels, at most ``cols`` side by side, rows ``height`` inches high.

    Returns ``(figure, axes)`` with the ``n`` axes in reading order; the grid's spare cells are hidden.
    """
    cols = max(1, min(cols, n))
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(FIGURE_WIDTH, height * rows), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]
