"""The ci-profile book, built once per test run in a temporary copy of the book sources.

Its chapters, results and HTML are shared by the end-to-end tests (``test_chapters.py``) and are
the reference an interrupted build must reproduce byte for byte (``test_rebuilds.py``).
"""

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pvq.book.runner import execute_chapters
from pvq.common.locks import build_lock

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


def _build(root: Path) -> dict:
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


@pytest.fixture(scope="session")
def book(tmp_path_factory):
    """The ci book, built once per test run: by this process, or by the first pytest worker that asks.

    Under pytest-xdist every worker has its own session; the first to ask builds the book in the
    run's shared temporary folder while holding a lock, the others wait and read what it left
    (:func:`pvq.common.locks.build_lock` across processes).
    """
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return _build(copy_sources(tmp_path_factory.mktemp("book")))
    shared = tmp_path_factory.getbasetemp().parent
    record = shared / "book.pickle"
    with build_lock(shared / "book.lock"):
        if not record.exists():
            built = _build(copy_sources(shared / "book"))
            record.write_bytes(pickle.dumps(built))
    return pickle.loads(record.read_bytes())
