"""A build killed at any point, run again, gives the results of an uninterrupted one, byte for byte.

A second copy of the book is built with ``python -m pvq build --profile ci`` (what ``make book``
runs) and killed with SIGKILL, its whole process group at once, at three points: in the middle of
a training run (chapter 5), in the middle of the per-layer sweep (chapter 4), in the middle of
the Sphinx build. The fourth run completes, while a fifth, started beside it in the same checkout,
waits for it and then finds nothing to do. The result tables must equal those of the session's
uninterrupted build (``conftest.book``) byte for byte (the timing files aside): that is both the
kill-safety and the determinism of the chapters the kills interrupt (chapter 4's per-layer sweep,
the fine-tuning chain 5–7: processes, threads and caches, where nondeterminism would hide). The
other chapters start executed, copied from the session's build (``_bystanders``): the runner
reuses them, as it reuses any chapter whose inputs did not change. The caches start as a user's
would after an earlier build with some work left to do (``_seed_caches``): the session's training
runs and per-layer chunks are there, except the pretrained networks, the runs of one seed and one
chunk of each layer, which are computed again here and must come out the same (the determinism
of training is also checked directly, in a worker and in-process, by tests/finetune/test_cache.py).
Then one sentence of prose is edited: only that page is rebuilt, without a kernel.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import nbformat
import pytest

from pvq.book.build import HTML_INCOMPLETE
from pvq.book.freshness import recorded_key
from pvq.book.publish import result_differences

from ..conftest import ROOT
from .conftest import copy_sources

pytestmark = pytest.mark.slow

BUILD = [sys.executable, "-m", "pvq", "build", "--profile", "ci", "--no-progress"]


class Build:
    """``python -m pvq build`` in its own process group, its output read line by line as it comes."""

    def __init__(self, root):
        self.lines: list[str] = []
        self.ended = False
        self.seen = threading.Condition()
        self.proc = subprocess.Popen(BUILD, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stdout:
            with self.seen:
                self.lines.append(line)
                self.seen.notify_all()
        with self.seen:  # the output ended (the build is exiting): a waiter stops waiting at once
            self.ended = True
            self.seen.notify_all()

    def wait_for(self, pattern: str, timeout: float = 600) -> None:
        """Block until a line matches ``pattern``; fail if the build ends or the time runs out first."""
        with self.seen:
            ok = self.seen.wait_for(lambda: any(re.search(pattern, ln) for ln in self.lines) or self.ended, timeout)
        assert ok and any(re.search(pattern, ln) for ln in self.lines), (pattern, self.output()[-3000:])

    def kill(self) -> None:
        """SIGKILL the build and everything in its process group (Sphinx, the runner's threads)."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.reader.join(10)
        time.sleep(2)  # the kernels notice their parent is gone (ipykernel polls it every second)

    def finish(self, timeout: float = 900) -> int:
        rc = self.proc.wait(timeout)
        self.reader.join(10)
        return rc

    def output(self) -> str:
        return "".join(self.lines)


def _killed_at(root, pattern: str, delay: float) -> str:
    build = Build(root)
    build.wait_for(pattern)
    time.sleep(delay)
    build.kill()
    return build.output()


def _bystanders(book) -> list[str]:
    """The chapters of the session's book that no kill of this test lands in (the Claims page reads them all)."""
    killed = ("04_per_layer", "05_fine_tuning", "06_combining", "07_representations", "99_claims")
    return [nb.stem for nb in sorted((book["root"] / "book" / "chapters").glob("*.ipynb")) if nb.stem not in killed]


def _seed_caches(book, root) -> tuple[int, int]:
    """Copy the session's training cache and chunk cache, less what this test computes again; return
    how many fine-tuning runs and chunks are left to compute."""
    cache = root / "results" / "training-cache"
    shutil.copytree(book["root"] / "results" / "training-cache", cache)
    shutil.rmtree(cache / "pretrained")  # chapter 5 trains its FP32 networks first: the first kill lands there
    runs = [p for p in (cache / "finetune").glob("*.json") if json.loads(p.read_text())["seed"] == 1]
    for path in runs:
        path.unlink()
    chunks = root / "results" / "04_per_layer" / "cache"
    shutil.copytree(book["root"] / "results" / "04_per_layer" / "cache", chunks)
    by_layer = {}
    for path in sorted(chunks.glob("*.json")):
        by_layer.setdefault(json.loads(path.read_text())["rows"][0]["layer"], path)
    for path in by_layer.values():
        path.unlink()
    return len(runs), len(by_layer)


def test_a_killed_build_runs_again_to_the_same_results(request, tmp_path):
    book = request.getfixturevalue("book")
    root = copy_sources(tmp_path / "book")
    (root / "book" / "chapters").mkdir()
    for stem in _bystanders(book):  # executed, with their results: reused by every run below
        shutil.copy2(book["root"] / "book" / "chapters" / f"{stem}.ipynb", root / "book" / "chapters" / f"{stem}.ipynb")
        shutil.copytree(book["root"] / "results" / stem, root / "results" / stem)
    runs, chunks = _seed_caches(book, root)
    assert runs >= 4 and chunks >= 2
    # 1. mid training run: chapter 5 trains its FP32 networks first, then the runs of seed 1
    out = _killed_at(root, r"05_fine_tuning started", 10)
    assert "05_fine_tuning done" not in out
    # 2. mid per-layer sweep
    out = _killed_at(root, r"04_per_layer started", 12)
    assert "04_per_layer done" not in out
    # 3. mid Sphinx build (every chapter done)
    out = _killed_at(root, r"Running Jupyter-Book", 6)
    assert (root / "_build" / HTML_INCOMPLETE).exists()
    # 4. a complete run, and 5. a second build in the same checkout at the same time: it waits
    last = Build(root)
    last.wait_for(r"\[\d\d:\d\d\] ")  # holding the lock
    beside = Build(root)
    assert last.finish() == 0, last.output()[-3000:]
    assert beside.finish() == 0, beside.output()[-3000:]
    assert "another build is running in this checkout (pid " in beside.output()
    assert "every page rewritten" in last.output()  # the killed Sphinx build is not trusted
    n = len(list((root / "notebooks").glob("[0-9][0-9]_*.py")))
    assert re.search(rf"{n} chapters: 0 executed, {n} reused; HTML built \(changed pages rewritten\)", beside.output())
    assert not (root / "_build" / HTML_INCOMPLETE).exists()

    assert all(f"{stem} reused" in out for stem in _bystanders(book))  # they were never executed here
    # the same results as the uninterrupted build, byte for byte; no leftovers
    assert result_differences(book["root"] / "results", root / "results") == []
    assert not list((root / "book" / "chapters").glob(".*")) and not list((root / "results").rglob(".*.tmp"))
    for nb in (root / "book" / "chapters").glob("*.ipynb"):
        assert recorded_key(nbformat.read(nb, as_version=4))["profile"] == "ci", nb.name

    # a prose edit: that page alone is rebuilt, without a kernel
    source = root / "notebooks" / "02_distributions.py"
    text = source.read_text()
    assert "# *Paper §3, Figures 1 and 2.* Before looking at any network" in text
    source.write_text(text.replace("Before looking at any network", "Before it looks at any network"))
    done = subprocess.run(BUILD, cwd=root, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"{n} chapters: 0 executed, {n - 1} reused, 1 page(s) rebuilt from new prose" in done.stdout
    assert "02_distributions reused, page rebuilt: only its prose changed" in done.stderr
    page = (root / "_build" / "html" / "book" / "chapters" / "02_distributions.html").read_text()
    assert "Before it looks at any network" in page


def test_the_book_states_each_chapters_profile(book):
    html = book["root"] / "_build" / "html" / "book" / "chapters"
    for stem in [p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py")]:
        page = (html / f"{stem}.html").read_text()
        assert "Executed with the <code class" in page and "ci</span></code> profile" in page, stem
