"""Execute the chapters with papermill under a profile, ready for the book build.

Each ``notebooks/NN_slug.py`` (jupytext ``py:percent``) is read, given the parameters of
``params/<profile>.yaml`` that its parameters cell declares (plus explicit overrides), and
executed by papermill with the book root as working directory. The executed notebook is
written atomically to ``book/chapters/<stem>.ipynb``; a failed one is kept under
``_build/failed/`` for inspection and never replaces a good one.

Chapters run ``jobs`` at a time, except those that share work: a notebook whose jupytext header
names a chain (``pvq: {chain: NAME}``) runs after the previous chapter of the same chain, in one
slot, so that the later ones reuse the earlier one's cached runs instead of repeating them at
the same time. Chains start first: they are the longest path of a build. The chapters side by
side share one core budget (:func:`pvq.common.cores.core_budget`: their training runs and chunk
solves hold a slot each, as many slots as the machine has cores), and each executed chapter's
time goes to ``<results>/build_timings.csv`` (:mod:`pvq.book.timings`).

The build is quiet and says what it does: each chapter logs a line (logger ``pvq.book.runner``)
when it starts and when it ends, with the time since the start of the run and its own duration.
A kernel's own stdout and stderr (ipykernel's start-up notice about TCP transport, the
"KeyboardInterrupt caught in kernel" that the kernel manager's interrupt-before-shutdown causes)
go to a log file instead of the terminal; a failed chapter raises :class:`ChapterFailed` whose
message (:func:`failure_message`) names the chapter, the cell, the exception and the partially
executed notebook, and quotes the kernel log's other lines, if any.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tqdm import tqdm

from ..common.cores import core_budget
from ..common.paths import RESULTS_ENV, book_root, notebook_sources
from .pages import hide_parameter_cells
from .params import check_profile
from .profiles import declared_parameters, profile_parameters
from .timings import TIMINGS_FILE, record_build_timings

__all__ = [
    "BENIGN_KERNEL_LINES",
    "ChapterFailed",
    "NotebookRun",
    "chain_name",
    "execute_chapters",
    "failure_message",
    "kernel_log_lines",
]

log = logging.getLogger(__name__)

CLAIMS_STEM = "99_claims"


def chain_name(source: Path) -> str | None:
    """The chain a notebook belongs to (``pvq: {chain: NAME}`` in its jupytext header), or ``None``."""
    import jupytext

    meta = jupytext.read(source).metadata.get("pvq") or {}
    return meta.get("chain") if isinstance(meta, dict) else None


def _chained(plan: list) -> list[list]:
    """Group the plan into jobs: each chain's chapters in one job, in order; every other chapter alone.

    The chains come first (in order of their first chapter), then the other chapters in order: a
    chain is the build's longest path (chapters 5–7 train every network of the book), so it starts
    at once and the short chapters fill the other slots beside it.
    """
    alone, by_chain = [], {}
    for source, params in plan:
        name = chain_name(source)
        if name is None:
            alone.append([(source, params)])
        else:
            by_chain.setdefault(name, []).append((source, params))
    return list(by_chain.values()) + alone


@dataclass(frozen=True)
class NotebookRun:
    """Outcome of one executed chapter."""

    stem: str
    output: Path
    seconds: float
    parameters: dict
    started: float = math.nan  # seconds since the epoch


#: What every kernel writes to its own stderr and that says nothing about the chapter, namely the
#: transport notice at start-up and the interrupt that the kernel manager sends before shutting a
#: kernel down. Any other line of the kernel's log is shown when the chapter fails.
BENIGN_KERNEL_LINES = (
    "Kernel is running over TCP without encryption",
    "KeyboardInterrupt caught in kernel",
)

#: Tag papermill gives the two marker cells it inserts into a failed notebook.
_ERROR_MARKER = "papermill-error-cell-tag"


@cache
def _kernel_manager_class():
    """A kernel manager whose kernel writes its stdout and stderr to ``log_path``, not the terminal."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import Unicode

    class LoggedKernelManager(AsyncKernelManager):
        log_path = Unicode("", help="file receiving the kernel process's own stdout and stderr").tag(config=True)

        async def _async_launch_kernel(self, kernel_cmd, **kw):  # the documented override point
            if not self.log_path:
                return await super()._async_launch_kernel(kernel_cmd, **kw)
            with open(self.log_path, "ab") as sink:  # the kernel keeps its own copy of the descriptor
                return await super()._async_launch_kernel(kernel_cmd, **{**kw, "stdout": sink, "stderr": sink})

    return LoggedKernelManager


def kernel_log_lines(text: str) -> list[str]:
    """The lines of a kernel's own log that matter: all but :data:`BENIGN_KERNEL_LINES` and blanks."""
    return [ln for ln in text.splitlines() if ln.strip() and not any(b in ln for b in BENIGN_KERNEL_LINES)]


def _failed_cell(nb) -> tuple[int, object] | None:
    """The failed cell of a partially executed notebook and its number in the chapter source (from 1).

    The cell with an error output, or else the last one papermill started (a timeout or a dead
    kernel leaves no error output). Papermill's marker cells and its injected parameters cell are
    not chapter cells and are not counted.
    """
    cells = [c for c in nb.cells if _ERROR_MARKER not in c.metadata.get("tags", [])]
    numbered, n = [], 0
    for c in cells:
        if "injected-parameters" not in c.metadata.get("tags", []):
            n += 1
        numbered.append((n, c))
    for n, c in numbered:
        if any(o.get("output_type") == "error" for o in c.get("outputs", [])):
            return n, c
    started = [(n, c) for n, c in numbered if c.metadata.get("papermill", {}).get("status", "pending") != "pending"]
    return started[-1] if started else None


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_CELL_FRAME = re.compile(r"Cell In\s*\[\d*\], line (\d+)")  # IPython's traceback frame of a cell


def _cell_location(number: int, cell, source: Path | None, traceback: list[str]) -> tuple[str, str | None]:
    """Where a failed cell is (number, source line, tags, first line) and the line that raised.

    The cell's line comes from finding its first line in ``source`` (when it occurs there once);
    the raising line from the cell's frame in IPython's traceback ("Cell In[3], line 22"), given
    as a line of ``source`` when the cell's own line is known.
    """
    text = cell.source.splitlines()
    first = next((k for k, ln in enumerate(text) if ln.strip()), None)
    details, start = [], None
    if source is not None and first is not None and source.exists():
        hits = [i for i, ln in enumerate(source.read_text().splitlines(), 1) if ln == text[first]]
        start = hits[0] - first if len(hits) == 1 else None  # the .py line of the cell's line 1
    if start is not None:
        details.append(f"line {start + first}")
    tags = [t for t in cell.metadata.get("tags", []) if t != _ERROR_MARKER]
    if tags:
        details.append(f"tags: {', '.join(tags)}")
    where = f"in cell {number}" + (f" of {_shown(source)}" if source is not None else "")
    opening = text[first].strip() if first is not None else "(empty)"
    where += (f" ({', '.join(details)})" if details else "") + f": {opening}"
    frames = [m for entry in traceback if (m := _CELL_FRAME.search(_ANSI.sub("", entry)))]
    if not frames or not 1 <= int(frames[0].group(1)) <= len(text):
        return where, None
    line = int(frames[0].group(1))  # the top-level statement of the cell that raised
    at = f"line {start + line - 1}" if start is not None else f"line {line} of the cell"
    return where, f"{at}: {text[line - 1].strip()}"


def _shown(path: Path) -> str:
    """``path`` relative to the working directory when it lies below it (as a reader typed it)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def failure_message(stem: str, error: BaseException, notebook: Path | None, source: Path | None = None,
                    kernel_log: Path | None = None) -> str:  # fmt: skip
    """One message for a failed chapter: the chapter, the cell, the error, where to look.

    Parameters
    ----------
    stem : str
        The chapter (``02_distributions``).
    error : BaseException
        What papermill raised (a cell's exception, a timeout, a dead kernel, ...).
    notebook : Path, optional
        The partially executed notebook; the failed cell is read from it.
    source : Path, optional
        The chapter's ``.py`` source, to give the failed cell's line when its first line is unique.
    kernel_log : Path, optional
        The kernel's own stdout and stderr. Its lines other than :data:`BENIGN_KERNEL_LINES` are
        quoted (the last 20) when the error is not an exception raised in a cell nor a timeout (a
        dead kernel may have said why there); otherwise only the log's path is given.
    """
    import nbformat

    nb = None
    if notebook is not None and notebook.exists():
        try:
            nb = nbformat.read(notebook, as_version=4)
        except Exception:  # an unreadable partial notebook still gets a message
            nb = None
    found = _failed_cell(nb) if nb is not None else None
    cell_error = hasattr(error, "ename")  # papermill's error for an exception raised in a cell
    if cell_error:
        ename, evalue = error.ename, str(error.evalue).strip()
    else:  # a timeout, a dead kernel, a kernel that did not start: the first line says which
        ename, evalue = type(error).__name__, (str(error).strip().splitlines() or [""])[0]
    where, raised = "before its first cell ran", None
    if found is not None:
        number, cell = found
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors and cell_error:
            ename, evalue = errors[0].get("ename", ename), str(errors[0].get("evalue", "")).strip()
        where, raised = _cell_location(number, cell, source, errors[0].get("traceback", []) if errors else [])
    evalue = (evalue if len(evalue) <= 1500 else evalue[:1500] + " ...").replace("\n", "\n    ")
    msg = [f"chapter {stem} failed {where}", f"  {ename}: {evalue}" if evalue else f"  {ename}"]
    if raised:
        msg.append(f"  raised at {raised}")
    if notebook is not None:
        msg.append(f"  partially executed notebook: {_shown(notebook)}")
    if kernel_log is not None and kernel_log.exists():
        extra = kernel_log_lines(kernel_log.read_text(errors="replace"))
        if extra and (cell_error or isinstance(error, TimeoutError)):  # the kernel was fine
            msg.append(f"  kernel log: {_shown(kernel_log)}")
        elif extra:  # the kernel itself may be what failed
            msg.append(f"  kernel log ({_shown(kernel_log)}), last lines:")
            msg += [f"    {ln}" for ln in extra[-20:]]
    return "\n".join(msg)


class ChapterFailed(RuntimeError):
    """A chapter failed; the message is :func:`failure_message`'s."""


def _execute_one(source: Path, out_dir: Path, parameters: dict, root: Path, timeout: int) -> NotebookRun:
    import jupytext
    import nbformat
    import papermill
    from traitlets.config import Config

    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    out = out_dir / f"{source.stem}.ipynb"
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{source.stem}.", suffix=".ipynb")
    os.close(fd)
    fd, klog = tempfile.mkstemp(prefix=f"pvq-{source.stem}-", suffix=".kernel.log")
    os.close(fd)
    manager = _kernel_manager_class()
    start, wall = time.perf_counter(), time.time()
    try:
        papermill.execute_notebook(
            nb,
            tmp,
            parameters=parameters,
            kernel_name="python3",
            # the kernel starts in the book root; papermill's cwd= would chdir the whole process,
            # which races between the threads that run chapters side by side
            resources={"metadata": {"path": str(root)}},
            execution_timeout=timeout,
            progress_bar=False,
            log_output=False,
            kernel_manager_class=manager,
            config=Config({manager.__name__: {"log_path": klog}}),
        )
    except Exception as err:
        failed = root / "_build" / "failed"
        failed.mkdir(parents=True, exist_ok=True)
        shutil.move(tmp, failed / out.name)
        shutil.move(klog, failed / f"{source.stem}.kernel.log")
        message = failure_message(source.stem, err, failed / out.name, source, failed / f"{source.stem}.kernel.log")
        raise ChapterFailed(message) from None
    except BaseException:  # the whole run interrupted: leave no half-written notebook behind
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        Path(klog).unlink(missing_ok=True)
    executed = nbformat.read(tmp, as_version=4)
    if hide_parameter_cells(executed):  # the page shows a parameter table instead
        nbformat.write(executed, tmp)
    os.replace(tmp, out)
    return NotebookRun(source.stem, out, time.perf_counter() - start, parameters, wall)


def execute_chapters(
    profile: str = "full",
    *,
    root: Path | None = None,
    out_dir: Path | None = None,
    results_dir: Path | None = None,
    only: list[str] | None = None,
    overrides: dict | None = None,
    jobs: int = 2,
    timeout: int = 3600,
    progress: bool = True,
) -> list[NotebookRun]:
    """Execute the chapters (the Claims page last) and return what ran.

    Parameters
    ----------
    profile : {'ci', 'full'}
        Parameter profile (``params/<profile>.yaml``).
    root : Path, optional
        Book root holding ``notebooks/``, ``params/`` and ``_toc.yml`` (default: found from
        the working directory).
    out_dir : Path, optional
        Where executed notebooks go (default ``<root>/book/chapters``).
    results_dir : Path, optional
        Results folder handed to the notebooks through ``PVQ_RESULTS_DIR``.
    only : list of str, optional
        Stems (or numeric prefixes such as ``'02'``) to run; the Claims page always runs.
    overrides : dict, optional
        Parameter values; a name no chapter declares is an error.
    jobs : int
        Chapters (or chains of chapters, :func:`chain_name`) executed at once.
    timeout : int
        Per-cell timeout in seconds.
    progress : bool
        Show a progress bar.

    Raises
    ------
    ChapterFailed
        After the other chapters ran, when any chapter failed: one :func:`failure_message` per
        failed chapter (the Claims page and the rest of a failed chapter's chain are skipped).
    """
    check_profile(profile)
    root = book_root(root)
    out_dir = Path(out_dir) if out_dir else root / "book" / "chapters"
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = notebook_sources(root)
    if not sources:
        raise FileNotFoundError(f"no notebooks/NN_*.py under {root}")
    known = set().union(*(declared_parameters(s) for s in sources))
    unknown = sorted(set(overrides or {}) - known)
    if unknown:
        raise ValueError(f"unknown parameter(s) {unknown}; the chapters declare {sorted(known)}")
    if only:
        stems = {s.stem for s in sources}
        picked = {s.stem for s in sources for o in only if s.stem == o or s.stem.split("_")[0] == o}
        missing = [o for o in only if not any(o in (st, st.split("_")[0]) for st in stems)]
        if missing:
            raise ValueError(f"unknown chapter(s) {missing}; available: {sorted(stems)}")
        sources = [s for s in sources if s.stem in picked or s.stem == CLAIMS_STEM]
    plan = [(s, profile_parameters(s, profile, root, overrides)) for s in sources]
    chapters = [p for p in plan if p[0].stem != CLAIMS_STEM]
    last = [p for p in plan if p[0].stem == CLAIMS_STEM]
    previous, started = os.environ.get(RESULTS_ENV), time.time()
    if results_dir is not None:  # the kernels inherit the environment
        os.environ[RESULTS_ENV] = str(Path(results_dir).resolve())
    try:
        with tqdm(total=len(plan), desc=f"notebooks ({profile})", disable=None if progress else True) as bar, \
                core_budget() as budget:  # fmt: skip
            runs, failures = _run_plan(chapters, last, out_dir, root, timeout, jobs, bar)
    finally:
        if previous is None:
            os.environ.pop(RESULTS_ENV, None)
        else:
            os.environ[RESULTS_ENV] = previous
    _record_timings(runs, results_dir, root, started=started, profile=profile, jobs=jobs, budget=budget)
    if failures:
        skipped = len(plan) - len(runs) - len(failures)
        tally = f"{len(failures)} of {len(plan)} notebooks failed, {len(runs)} ran, {skipped} skipped"
        raise ChapterFailed("\n\n".join(failures) + f"\n{tally}.")
    return runs


def _record_timings(runs, results_dir, root: Path, *, started: float, profile: str, jobs: int, budget) -> None:
    """Append the chapters' times to ``<results>/build_timings.csv`` (:mod:`pvq.book.timings`)."""
    folder = Path(results_dir or os.environ.get(RESULTS_ENV) or root / "results")
    try:
        record_build_timings(runs, folder / TIMINGS_FILE, started=started, profile=profile, jobs=jobs,
                             cores=budget.count if budget else 0)  # fmt: skip
    except OSError as err:  # a time record never fails a build
        log.warning("could not record the chapters' times in %s: %s", folder, err)


def _clock(t0: float) -> str:
    s = int(time.perf_counter() - t0)
    return f"[{s // 60:02d}:{s % 60:02d}]"


def _run_plan(chapters: list, last: list, out_dir: Path, root: Path, timeout: int, jobs: int, bar):
    """Run the chapters (chains in order, the rest ``jobs`` at a time), then ``last`` if none failed.

    Each chapter logs a line when it starts and when it ends, with the time since the start of
    the run and its own duration. A failure stops its chain (the later chapters would redo its
    work) but not the other chapters; the Claims page, which reads every chapter, runs only when
    none failed. Returns the runs and the failure messages.
    """
    t0 = time.perf_counter()
    runs: list[NotebookRun] = []
    failures: list[str] = []

    def one(source, params) -> bool:
        log.info("%s %s started", _clock(t0), source.stem)
        thread = threading.current_thread()
        name, thread.name = thread.name, source.stem  # papermill's own log records name the chapter
        try:
            run = _execute_one(source, out_dir, params, root, timeout)
        except ChapterFailed as err:
            failures.append(str(err))
            reason = str(err).splitlines()[1].strip()
            log.error("%s %s FAILED: %s (details at the end)", _clock(t0), source.stem, reason[:200])
            return False
        finally:
            thread.name = name
            bar.update()
        runs.append(run)
        log.info("%s %s done in %.1f s", _clock(t0), source.stem, run.seconds)
        return True

    def run_job(job):
        for k, (source, params) in enumerate(job):
            if not one(source, params):
                for skipped, _ in job[k + 1 :]:
                    log.warning("%s %s skipped: %s failed before it", _clock(t0), skipped.stem, source.stem)
                    bar.update()
                return

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for fut in [pool.submit(run_job, job) for job in _chained(chapters)]:
            fut.result()
    for source, params in last:
        if failures:
            log.warning("%s %s skipped: it reads every chapter and %d failed", _clock(t0), source.stem, len(failures))
            bar.update()
        else:
            one(source, params)
    order = {s.stem: i for i, (s, _) in enumerate(chapters + last)}
    return sorted(runs, key=lambda r: order[r.stem]), failures
