"""Where the project's files are: repository root, notebooks, results.

The repository root is found by walking up from the working directory to the folder that
holds ``_toc.yml``. ``PVQ_RESULTS_DIR`` overrides the results folder (``<root>/results``).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["RESULTS_ENV", "book_root", "notebook_sources", "results_dir", "results_root"]

RESULTS_ENV = "PVQ_RESULTS_DIR"


def book_root(start: Path | None = None) -> Path:
    """Nearest folder at or above ``start`` (default: the working directory) holding ``_toc.yml``.

    Falls back to ``start`` itself when there is none (a notebook run outside the repository).
    """
    start = Path.cwd() if start is None else Path(start)
    for folder in (start.resolve(), *start.resolve().parents):
        if (folder / "_toc.yml").is_file():
            return folder
    return start.resolve()


def results_root() -> Path:
    """Folder for result tables and figures: ``$PVQ_RESULTS_DIR`` or ``<book root>/results``."""
    env = os.environ.get(RESULTS_ENV)
    return Path(env).resolve() if env else book_root() / "results"


def results_dir(stem: str) -> Path:
    """``results/<notebook stem>/``, created if missing."""
    folder = results_root() / stem
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def notebook_sources(root: Path | None = None) -> list[Path]:
    """The chapter sources ``notebooks/NN_slug.py``, in paper order."""
    folder = book_root(root) / "notebooks"
    return sorted(p for p in folder.glob("[0-9][0-9]_*.py"))
