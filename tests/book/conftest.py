"""The ci-profile book, built once per session in a temporary copy of the book sources.

Its chapters, results and HTML are shared by the end-to-end tests (``test_chapters.py``) and are
the reference an interrupted build must reproduce byte for byte (``test_rebuilds.py``).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pvq.book.runner import execute_chapters

from ..conftest import ROOT

#: What a book needs besides the library: its configuration, pages, chapters and profiles.
SOURCES = ["_config.yml", "_toc.yml", "_static", "book", "notebooks", "params"]


def copy_sources(root: Path, names=SOURCES) -> Path:
    """Copy the book's sources (not executed chapters, not caches) into ``root``, keeping modification times."""
    root.mkdir(parents=True, exist_ok=True)
    for name in names:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / name, ignore=shutil.ignore_patterns("chapters", "__pycache__"))
        else:
            shutil.copy2(src, root / name)
    return root


@pytest.fixture(scope="session")
def book(tmp_path_factory):
    root = copy_sources(tmp_path_factory.mktemp("book"))
    previous = os.environ.get("PVQ_RESULTS_DIR")
    runs = execute_chapters("ci", root=root, results_dir=root / "results", progress=False)
    assert os.environ.get("PVQ_RESULTS_DIR") == previous  # the runner restores the environment
    build = subprocess.run(
        [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root), "-W", "-n", "--keep-going"],
        capture_output=True,
        text=True,
        timeout=900,
    )
    return {"root": root, "runs": runs, "build": build}
