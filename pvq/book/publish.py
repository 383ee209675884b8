"""Writing a chapter's results: atomic CSV tables, figures and glued values.

Every table behind a figure or a claim is written to ``results/<stem>/<name>.csv`` and
every figure to ``results/<stem>/<name>.png`` through a temporary file and an atomic
rename, so an interrupted run never leaves a half-written result behind.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..common.files import atomic_write
from ..common.paths import results_dir
from .claims import verdict_table
from .theme import figure_dpi

__all__ = ["Chapter", "glue", "glue_values", "publish_figure", "publish_verdicts", "save_figure", "save_table"]


def save_table(df: pd.DataFrame, stem: str, name: str) -> Path:
    """Write ``df`` to ``results/<stem>/<name>.csv`` atomically; return the path."""
    return atomic_write(results_dir(stem) / f"{name}.csv", lambda p: df.to_csv(p, index=False))


def save_figure(fig, stem: str, name: str, *, dpi: int | None = None) -> Path:
    """Save a matplotlib figure to ``results/<stem>/<name>.png`` atomically; return the path.

    The default resolution puts at least :data:`pvq.book.theme.MIN_PIXELS` pixels across the
    figure (:func:`pvq.book.theme.figure_dpi`), twice the widest text column of the book.
    """
    dpi = dpi or figure_dpi(fig.get_figwidth())
    return atomic_write(
        results_dir(stem) / f"{name}.png", lambda p: fig.savefig(p, dpi=dpi, bbox_inches="tight", format="png")
    )


def glue(name: str, value, *, display: bool = False) -> None:
    """Glue a value into the book (``myst_nb.glue``).

    Numpy scalars become Python numbers (for ``{glue:text}`` formats); a ``str`` is glued as
    Markdown, to be shown with ``{glue:md}`` (``{glue:text}`` would show its quotes).
    """
    from IPython.display import Markdown
    from myst_nb import glue as _glue

    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    _glue(name, Markdown(value) if isinstance(value, str) else value, display=display)


def publish_figure(fig, stem: str, name: str) -> None:
    """Save ``fig`` as ``results/<stem>/<name>.png`` and glue that very image under ``name``.

    The book shows the saved file, so the figure on the page and the downloadable one are
    the same bytes. ``name`` should be the paper's figure label in kebab case (``fig-…``).
    """
    from IPython.display import Image

    path = save_figure(fig, stem, name)
    glue(name, Image(filename=str(path)), display=False)


def glue_values(values: Mapping[str, object]) -> None:
    """Glue every ``name: value`` of ``values`` (:func:`glue`): a chapter's computed prose numbers."""
    for name, value in values.items():
        glue(name, value)


def publish_verdicts(stem: str, verdicts) -> pd.DataFrame:
    """Write a chapter's verdicts to ``results/<stem>/claims.csv`` and glue them; return the table.

    For the first verdict on claim ``Cn``, ``cn-verdict`` and ``cn-evidence`` are glued as
    Markdown (the chapter's closing list shows them); a verdict on a named part (scope other than
    ``'all'``) is also glued as ``cn-<scope>-verdict`` and ``cn-<scope>-evidence``, the scope
    lower-cased with every run of other characters turned into ``-`` (``'released data'`` gives
    ``c3-released-data-verdict``), so that a chapter can check one claim on several parts. The
    Claims page reads the CSV.
    """
    table = verdict_table(verdicts)
    save_table(table, stem, "claims")
    seen = set()
    for v in verdicts:
        names = [] if v.claim in seen else [v.claim.lower()]
        seen.add(v.claim)
        if v.scope != "all":
            names.append(f"{v.claim.lower()}-{re.sub('[^a-z0-9]+', '-', v.scope.lower()).strip('-')}")
        for name in names:
            glue(f"{name}-verdict", v.verdict)
            glue(f"{name}-evidence", v.evidence)
    return table


class Chapter:
    """What one chapter publishes, under ``results/<stem>/``: tables, figures, glued values, verdicts.

    A thin binding of :func:`save_table`, :func:`publish_figure`, :func:`glue_values` and
    :func:`publish_verdicts` to the chapter's stem, so that a chapter cell names only what it
    publishes. Each method returns what it was given (a table for display, say).
    """

    def __init__(self, stem: str):
        self.stem = stem

    def table(self, name: str, df: pd.DataFrame) -> pd.DataFrame:
        """Write ``df`` as ``results/<stem>/<name>.csv``; return it."""
        save_table(df, self.stem, name)
        return df

    def figure(self, name: str, fig) -> None:
        """Save ``fig`` as ``results/<stem>/<name>.png`` and glue it under ``name``."""
        publish_figure(fig, self.stem, name)

    def glue(self, values: Mapping[str, object] | None = None, /, **more) -> None:
        """Glue computed values under their names (a mapping, keywords, or both)."""
        glue_values({**(values or {}), **more})

    def verdicts(self, *verdicts) -> pd.DataFrame:
        """Write and glue the chapter's verdicts (:func:`publish_verdicts`); return their table."""
        return publish_verdicts(self.stem, verdicts)
