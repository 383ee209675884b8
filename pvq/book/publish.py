"""Writing a chapter's results: atomic CSV tables, figures and glued values.

Every table behind a figure or a claim is written to ``results/<stem>/<name>.csv`` and
every figure to ``results/<stem>/<name>.png`` through a temporary file and an atomic
rename, so an interrupted run never leaves a half-written result behind.

Result tables are deterministic: two builds of the same profile write byte-identical CSVs.
Wall-clock times are not, so they never enter a result table: a column named ``seconds`` or
ending in ``_seconds`` (:func:`is_wall_clock`) is split off into a **timing file**
``<name>_timings.csv`` beside it (:func:`save_table`), and a table whose name ends in
``timings`` is a timing file as a whole (:func:`is_timing_file`). :func:`result_differences`
compares the result tables of two results folders, timing files left out.
"""

from __future__ import annotations

import filecmp
import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from ..common.files import atomic_write
from ..common.paths import results_dir, results_root
from .claims import verdict_table
from .theme import figure_dpi

__all__ = [
    "TIMINGS_SUFFIX",
    "Chapter",
    "glue",
    "glue_values",
    "is_timing_file",
    "is_wall_clock",
    "publish_figure",
    "publish_verdicts",
    "read_chapter_table",
    "result_differences",
    "save_figure",
    "save_table",
]

#: What ends the name of a timing file, such as ``chunks_timings.csv`` (wall-clock times, which
#: differ from build to build).
TIMINGS_SUFFIX = "_timings"


def is_wall_clock(column) -> bool:
    """Whether a table column holds wall-clock times: its name is ``seconds`` or ends in ``_seconds``."""
    return isinstance(column, str) and (column == "seconds" or column.endswith("_seconds"))


def is_timing_file(path) -> bool:
    """Whether a file holds wall-clock times: its name without suffix ends in ``timings``.

    ``chunks_timings.csv``, ``solve_timings.csv`` and ``timings.csv`` are timing files;
    ``chunks.csv`` is a result table. Two builds may differ in their timing files only.
    """
    return Path(path).stem.endswith(TIMINGS_SUFFIX.lstrip("_"))


def save_table(df: pd.DataFrame, stem: str, name: str) -> Path:
    """Write ``df`` to ``results/<stem>/<name>.csv`` atomically; return the path.

    A result table holds only what a rebuild reproduces byte for byte. When ``df`` has
    wall-clock columns (:func:`is_wall_clock`) and ``name`` is not a timing file's
    (:func:`is_timing_file`), ``<name>.csv`` gets every other column and the whole table, the
    wall-clock columns included, goes to ``<name>_timings.csv`` (the same rows in the same
    order, so either file reads alone).
    """
    folder = results_dir(stem)
    wall = [c for c in df.columns if is_wall_clock(c)]
    if wall and not is_timing_file(name):
        atomic_write(folder / f"{name}{TIMINGS_SUFFIX}.csv", lambda p: df.to_csv(p, index=False))
        df = df.drop(columns=wall)
    return atomic_write(folder / f"{name}.csv", lambda p: df.to_csv(p, index=False))


def _first_difference(a: Path, b: Path) -> int:
    """1-based number of the first line where two files differ (line endings included)."""
    lines_a, lines_b = a.read_bytes().splitlines(keepends=True), b.read_bytes().splitlines(keepends=True)
    same = (i for i, (x, y) in enumerate(zip(lines_a, lines_b, strict=False)) if x != y)
    return next(same, min(len(lines_a), len(lines_b))) + 1


def result_differences(a, b) -> list[str]:
    """The result tables that differ between two results folders, compared byte for byte.

    Every ``*.csv`` under ``a`` and ``b`` (recursively) is compared, except timing files
    (:func:`is_timing_file`: wall-clock times differ from run to run by nature). Two builds of
    the same profile should give an empty list.

    Returns
    -------
    list of str
        One line per differing table, in path order: ``'<relative path>: only in <a or b>'``, or
        ``'<relative path>: line <i> differs'`` (the first differing line, 1-based; a table that
        is a prefix of the other differs at the line after its end).

    Raises
    ------
    ValueError
        If ``a`` or ``b`` is not a folder.
    """
    a, b = Path(a), Path(b)
    for name, folder in (("a", a), ("b", b)):
        if not folder.is_dir():
            raise ValueError(f"{name} must be a results folder, got {str(folder)!r} (no such folder)")

    def tables(folder: Path) -> set[str]:
        return {p.relative_to(folder).as_posix() for p in folder.rglob("*.csv") if not is_timing_file(p)}

    in_a, in_b = tables(a), tables(b)
    out = []
    for rel in sorted(in_a | in_b):
        if rel not in in_b:
            out.append(f"{rel}: only in {a}")
        elif rel not in in_a:
            out.append(f"{rel}: only in {b}")
        elif not filecmp.cmp(a / rel, b / rel, shallow=False):
            out.append(f"{rel}: line {_first_difference(a / rel, b / rel)} differs")
    return out


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


def read_chapter_table(stem: str, name: str) -> pd.DataFrame | None:
    """Another chapter's result table ``results/<stem>/<name>.csv``, or ``None`` when that chapter has not
    written it in this results folder (the reading chapter says so on its page instead of failing).

    A chapter that reads one names ``stem`` in its header's ``after`` list, so that the runner
    executes it after ``stem`` (:func:`pvq.book.runner.chapters_before`), and the file enters its
    execution key as an input (:mod:`pvq.book.freshness`).
    """
    path = results_root() / stem / f"{name}.csv"
    return pd.read_csv(path) if path.is_file() else None


class Chapter:
    """What one chapter publishes, under ``results/<stem>/``: tables, figures, glued values, verdicts.

    A thin binding of :func:`save_table`, :func:`publish_figure`, :func:`glue_values` and
    :func:`publish_verdicts` to the chapter's stem, so that a chapter cell names only what it
    publishes. Each method returns what it was given (a table for display, say).
    """

    def __init__(self, stem: str):
        self.stem = stem

    def table(self, name: str, df: pd.DataFrame) -> pd.DataFrame:
        """Write ``df`` as ``results/<stem>/<name>.csv`` (wall-clock columns apart: :func:`save_table`); return it."""
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
