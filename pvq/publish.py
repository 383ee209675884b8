"""Writing a chapter's results: atomic CSV tables, figures and glued values.

Every table behind a figure or a claim is written to ``results/<stem>/<name>.csv`` and
every figure to ``results/<stem>/<name>.png`` through a temporary file and an atomic
rename, so an interrupted run never leaves a half-written result behind.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from .paths import results_dir

__all__ = ["atomic_write", "glue", "publish_figure", "save_figure", "save_table"]


def atomic_write(path: Path, write) -> Path:
    """Call ``write(tmp_path)`` then atomically rename the file to ``path``.

    On any error the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(tmp))
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; a result file gets the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def save_table(df: pd.DataFrame, stem: str, name: str) -> Path:
    """Write ``df`` to ``results/<stem>/<name>.csv`` atomically; return the path."""
    return atomic_write(results_dir(stem) / f"{name}.csv", lambda p: df.to_csv(p, index=False))


def save_figure(fig, stem: str, name: str, *, dpi: int = 150) -> Path:
    """Save a matplotlib figure to ``results/<stem>/<name>.png`` atomically; return the path."""
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
