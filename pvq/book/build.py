"""The whole book in one command (``make book``, ``python -m pvq build``): chapters, then HTML.

:func:`build_book` holds the checkout's build lock (:func:`pvq.common.locks.build_lock`) while it
executes the chapters that need it (:func:`pvq.book.runner.execute_chapters`) and runs the strict
Sphinx build (``jupyter-book build . -W -n --keep-going``), so that two builds in one checkout
never write the same files at once: the second waits, saying for whom.

Sphinx rebuilds only the pages whose executed notebook changed. A Sphinx build that was
interrupted (killed, or failed) may leave HTML files newer than their sources yet incomplete, which
Sphinx would then take as up to date: a marker file (:data:`HTML_INCOMPLETE`) exists while a build
runs and is removed when it succeeds; finding it, the next build rewrites every page (``--all``).
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ..common.locks import build_lock
from ..common.paths import book_root
from .runner import NotebookRun, execute_chapters

__all__ = ["HTML_INCOMPLETE", "BookBuild", "build_book", "sphinx_command"]

#: Exists (under ``_build/``) while the HTML build runs; left behind by an interrupted one.
HTML_INCOMPLETE = ".html-incomplete"


@dataclass(frozen=True)
class BookBuild:
    """What :func:`build_book` did: the chapter runs, whether every page was rewritten, the time."""

    runs: list[NotebookRun]
    rewrote_all: bool
    seconds: float
    html: Path


def sphinx_command(root: Path, *, rewrite_all: bool = False, quiet: bool = True) -> list[str]:
    """The strict ``jupyter-book build`` command line for the book at ``root``."""
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root), "-W", "-n", "--keep-going"]
    return command + (["-q"] if quiet else []) + (["--all"] if rewrite_all else [])


def build_book(profile: str = "full", *, root: Path | None = None, force: bool = False, jobs: int = 2,
               progress: bool = True, waiting=None) -> BookBuild:  # fmt: skip
    """Execute the chapters that need it under ``profile``, then build the HTML book (strict).

    Parameters
    ----------
    profile : {'ci', 'full'}
        Parameter profile of the chapters.
    root : Path, optional
        The book root (default: found from the working directory).
    force : bool
        Execute every chapter again, and rewrite every page.
    jobs : int
        Chapters executed at once.
    progress : bool
        Show the chapters' progress bar.
    waiting : callable, optional
        Called with the holder's description when another build holds the lock.

    Raises
    ------
    pvq.book.failures.ChapterFailed
        A chapter failed (the HTML is not built).
    RuntimeError
        The Sphinx build failed (its messages were printed as it ran).
    """
    root = book_root(root)
    start = time.perf_counter()
    with build_lock(root / "_build" / "pvq-build.lock", waiting=waiting):
        runs = execute_chapters(profile, root=root, jobs=jobs, progress=progress, force=force)
        marker = root / "_build" / HTML_INCOMPLETE
        rewrite_all = force or marker.exists()
        marker.touch()
        done = subprocess.run(sphinx_command(root, rewrite_all=rewrite_all), cwd=root)
        if done.returncode != 0:
            raise RuntimeError(f"the HTML build failed (exit status {done.returncode}); its messages are above")
        marker.unlink()
    return BookBuild(runs, rewrite_all, time.perf_counter() - start, root / "_build" / "html" / "index.html")
