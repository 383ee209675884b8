"""Execute the chapters with papermill under a profile, ready for the book build.

Each ``notebooks/NN_slug.py`` (jupytext ``py:percent``) is read, given the parameters of
``params/<profile>.yaml`` that its parameters cell declares (plus explicit overrides), and
executed by papermill with the book root as working directory. The executed notebook is
written atomically to ``book/chapters/<stem>.ipynb``; a failed one is kept under
``_build/failed/`` for inspection and never replaces a good one.

Chapters run ``jobs`` at a time, except those that share work: a notebook whose jupytext header
names a chain (``pvq: {chain: NAME}``) runs after the previous chapter of the same chain, in one
slot, so that the later ones reuse the earlier one's cached runs instead of repeating them at
the same time. Chains start first: they are the longest path of a build. A chapter that reads
other chapters' result tables names them (``pvq: {after: [STEM, ...]}``) and starts only when
those chapters of the same run are done (executed, reused or failed). The chapters side by
side share one core budget (:func:`pvq.common.cores.core_budget`: their training runs and chunk
solves hold a slot each, as many slots as the machine has cores), and each executed chapter's
time goes to ``<results>/build_timings.csv`` (:mod:`pvq.book.timings`).

Only what changed is executed again: before its turn, each chapter's recorded execution key
(:mod:`pvq.book.freshness`: parameters, code cells, library, packages, the files it read, its
results) is compared with the present; the chapter is executed, reused, or (prose-only edits) its
page is rebuilt without a kernel. ``force=True`` executes everything.

The build is quiet and says what it does: each chapter logs a line (logger ``pvq.book.runner``)
when it starts (and why), is reused, or ends, with the time since the start of the run. A
kernel's own stdout and stderr (ipykernel's start-up notice about TCP transport, the
"KeyboardInterrupt caught in kernel" that the kernel manager's interrupt-before-shutdown causes)
go to a log file instead of the terminal; a failed chapter raises
:class:`~pvq.book.failures.ChapterFailed` whose message
(:func:`~pvq.book.failures.failure_message`) names the chapter, the cell, the exception and the
partially executed notebook, and quotes the kernel log's other lines, if any.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
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
from ..common.files import atomic_write
from ..common.inputs import INPUTS_ENV, read_input_log
from ..common.locks import build_lock
from ..common.paths import RESULTS_ENV, book_root, notebook_sources, results_root
from .failures import ChapterFailed, failure_message
from .freshness import (
    EXECUTION_META,
    BuildContext,
    execution_key,
    file_digest,
    recorded_key,
    recorded_profile,
    refresh_prose,
    stale_reasons,
)
from .pages import hide_parameter_cells, mark_profile
from .params import check_profile
from .profiles import check_plan, declared_parameters, profile_parameters
from .timings import TIMINGS_FILE, record_build_timings

__all__ = ["NotebookRun", "chain_name", "chapters_before", "execute_chapters", "profiles_in"]

log = logging.getLogger(__name__)

CLAIMS_STEM = "99_claims"


def _header(source: Path) -> dict:
    """The ``pvq`` entry of a notebook's jupytext header (empty when it has none)."""
    import jupytext

    meta = jupytext.read(source).metadata.get("pvq") or {}
    return meta if isinstance(meta, dict) else {}


def chain_name(source: Path) -> str | None:
    """The chain a notebook belongs to (``pvq: {chain: NAME}`` in its jupytext header), or ``None``."""
    return _header(source).get("chain")


def chapters_before(source: Path) -> tuple[str, ...]:
    """The chapters whose results a notebook reads (``pvq: {after: [STEM, ...]}``): it runs after them."""
    after = _header(source).get("after") or []
    return tuple(after) if isinstance(after, list) else (str(after),)


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


def _prerequisites(jobs: list[list]) -> dict[str, threading.Event]:
    """An event per planned chapter, set when it is done; refuses an ``after`` that could never be met.

    The jobs start in queue order (chains first, then the other chapters), so a chapter queued
    before the waiting one has started, or is next in its own chain, when the waiting one's turn
    comes, and itself waits only on chapters queued before it: no wait can deadlock. A chapter named
    in ``after`` that is queued after the waiting one is refused.
    """
    order = [source.stem for job in jobs for source, _ in job]
    for source, _ in (entry for job in jobs for entry in job):
        late = [s for s in chapters_before(source) if s in order and order.index(s) > order.index(source.stem)]
        if late:
            raise ValueError(
                f"{source.name} names {', '.join(late)} in its `after` list, but it is queued after "
                f"{source.stem} (chains first, then the other chapters in order): it would wait forever"
            )
    return {stem: threading.Event() for stem in order}


@dataclass(frozen=True)
class NotebookRun:
    """Outcome of one executed chapter."""

    stem: str
    output: Path
    seconds: float
    parameters: dict
    #: ``executed`` (a kernel ran it), ``reused`` (nothing it depends on changed) or ``refreshed``
    #: (only its prose changed: the page was rebuilt from the new source with the recorded outputs).
    action: str = "executed"
    #: Why it was executed (:func:`pvq.book.freshness.stale_reasons`); empty when reused.
    reasons: tuple = ()
    started: float = math.nan  # seconds since the epoch


@cache
def _kernel_manager_class():
    """A kernel manager whose kernel writes its stdout and stderr to ``log_path``, not the terminal."""
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import Dict, Unicode

    class LoggedKernelManager(AsyncKernelManager):
        log_path = Unicode("", help="file receiving the kernel process's own stdout and stderr").tag(config=True)
        extra_env = Dict({}, help="environment variables added for this kernel only").tag(config=True)

        async def _async_launch_kernel(self, kernel_cmd, **kw):  # the documented override point
            if self.extra_env:  # per kernel: chapters run side by side in threads of one process
                kw["env"] = {**(kw.get("env") or os.environ), **self.extra_env}
            if not self.log_path:
                return await super()._async_launch_kernel(kernel_cmd, **kw)
            with open(self.log_path, "ab") as sink:  # the kernel keeps its own copy of the descriptor
                return await super()._async_launch_kernel(kernel_cmd, **{**kw, "stdout": sink, "stderr": sink})

    return LoggedKernelManager


def _finish(nb, profile: str) -> None:
    """What every executed or refreshed page gets: parameter cells hidden, the profile stated."""
    hide_parameter_cells(nb)  # the page shows a parameter table instead
    mark_profile(nb, profile)


def _save(nb, path: Path) -> None:
    import nbformat

    atomic_write(path, lambda p: nbformat.write(nb, p))


def _decide(source: Path, parameters: dict, ctx: BuildContext, profile: str, force: bool):
    """``(action, reasons, executed notebook)``: execute, reuse, or refresh the prose only."""
    import jupytext
    import nbformat

    out = ctx.out_dir / f"{source.stem}.ipynb"
    if force:
        return "execute", ["--force"], None
    try:
        executed = nbformat.read(out, as_version=4) if out.exists() else None
    except Exception:  # unreadable: executed again
        executed = None
    key = recorded_key(executed) if executed is not None else None
    src = jupytext.read(source)
    reasons = stale_reasons(key, ctx, source.stem, profile, parameters, src)
    if reasons:
        return "execute", reasons, None
    if key["source"] == file_digest(source):
        return "reuse", [], executed
    refreshed = refresh_prose(executed, src)
    refreshed.metadata[EXECUTION_META] = {**key, "source": file_digest(source)}
    _finish(refreshed, profile)
    return "refresh", [], refreshed


def _execute_one(source: Path, ctx: BuildContext, parameters: dict, profile: str, timeout: int) -> NotebookRun:
    import jupytext
    import nbformat
    import papermill
    from traitlets.config import Config

    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    out, root = ctx.out_dir / f"{source.stem}.ipynb", ctx.root
    fd, tmp = tempfile.mkstemp(dir=ctx.out_dir, prefix=f".{source.stem}.", suffix=".ipynb")
    os.close(fd)
    fd, klog = tempfile.mkstemp(prefix=f"pvq-{source.stem}-", suffix=".kernel.log")
    os.close(fd)
    fd, inputs = tempfile.mkstemp(prefix=f"pvq-{source.stem}-", suffix=".inputs")
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
            config=Config({manager.__name__: {"log_path": klog, "extra_env": {INPUTS_ENV: inputs}}}),
        )
        executed = nbformat.read(tmp, as_version=4)
        _finish(executed, profile)
        key = execution_key(ctx, source.stem, profile, parameters, executed, source, read_input_log(inputs))
        executed.metadata[EXECUTION_META] = key
        nbformat.write(executed, tmp)
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
        Path(inputs).unlink(missing_ok=True)
    os.replace(tmp, out)  # the notebook and its key, at once
    return NotebookRun(source.stem, out, time.perf_counter() - start, parameters, started=wall)


def profiles_in(out_dir: Path, stems=None) -> dict[str, list[str]]:
    """The profiles the executed chapters in ``out_dir`` were executed with: ``{profile: [stems]}``.

    ``stems`` limits it to those chapters (default: every ``.ipynb``); a notebook without a key
    counts under ``"unknown"``. More than one entry means a book built from ``out_dir`` mixes profiles.
    """
    found: dict[str, list[str]] = {}
    for path in sorted(Path(out_dir).glob("[0-9][0-9]_*.ipynb")):
        if stems is None or path.stem in stems:
            found.setdefault(recorded_profile(path) or "unknown", []).append(path.stem)
    return found


def _clean_leftovers(out_dir: Path, results: Path) -> int:
    """Remove the temporary files a killed run left (half-written notebooks and results); return how many.

    Called with the build lock held, so no other run is writing them.
    """
    stale = list(Path(out_dir).glob(".*.ipynb"))
    if Path(results).is_dir():
        stale += [p for p in Path(results).rglob(".*.tmp") if p.is_file()]
    for p in stale:
        p.unlink(missing_ok=True)
    return len(stale)


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
    force: bool = False,
) -> list[NotebookRun]:
    """Execute the chapters that need it (the Claims page last) and return what ran or was reused.

    A chapter is executed only when something it depends on changed since its executed notebook
    was made (:mod:`pvq.book.freshness`); when only its prose changed, its page is rebuilt from
    the new source with the recorded outputs, without a kernel. Each chapter logs what was done
    and why. The run holds the book's build lock (:func:`pvq.common.locks.build_lock`: a second
    run in the same checkout waits), and first removes the temporary files a killed run left.

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
    force : bool
        Execute every chapter, whatever their recorded executions say.

    Raises
    ------
    ChapterFailed
        After the other chapters ran, when any chapter failed: one :func:`~pvq.book.failures.failure_message` per
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
        close = [m for u in unknown for m in difflib.get_close_matches(u, known, n=1)]
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ValueError(f"unknown parameter(s) {unknown}{hint}; the chapters declare {sorted(known)}")
    if only:
        stems = {s.stem for s in sources}
        picked = {s.stem for s in sources for o in only if s.stem == o or s.stem.split("_")[0] == o}
        missing = [o for o in only if not any(o in (st, st.split("_")[0]) for st in stems)]
        if missing:
            raise ValueError(f"unknown chapter(s) {missing}; available: {sorted(stems)}")
        sources = [s for s in sources if s.stem in picked or s.stem == CLAIMS_STEM]
    plan = [(s, profile_parameters(s, profile, root, overrides)) for s in sources]
    check_plan(plan, root=root)  # the chapters' own validators, before any kernel starts
    chapters = [p for p in plan if p[0].stem != CLAIMS_STEM]
    last = [p for p in plan if p[0].stem == CLAIMS_STEM]
    previous, started = os.environ.get(RESULTS_ENV), time.time()
    if results_dir is not None:  # the kernels inherit the environment
        os.environ[RESULTS_ENV] = str(Path(results_dir).resolve())
    try:
        with build_lock(root / "_build" / "pvq-build.lock", waiting=_waiting):
            ctx = BuildContext(root=root, results=results_root(), out_dir=out_dir)
            if removed := _clean_leftovers(out_dir, ctx.results):
                log.info("removed %d temporary file(s) an interrupted run left", removed)
            with tqdm(total=len(plan), desc=f"notebooks ({profile})", disable=None if progress else True) as bar, \
                    core_budget() as budget:  # fmt: skip
                runs, failures = _run_plan(chapters, last, ctx, profile, timeout, jobs, force, bar)
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
    mixed = profiles_in(out_dir)
    if len(mixed) > 1:
        log.warning("%s now holds chapters of different profiles (%s): a book built from it mixes them",
                    out_dir, "; ".join(f"{p}: {', '.join(st)}" for p, st in sorted(mixed.items())))  # fmt: skip
    return runs


def _waiting(holder: str) -> None:
    log.warning("another build is running in this checkout (%s); waiting for it to finish", holder)


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


def _run_plan(chapters: list, last: list, ctx: BuildContext, profile: str, timeout: int, jobs: int, force: bool,
              bar):  # fmt: skip
    """Run the chapters (chains in order, the rest ``jobs`` at a time), then ``last`` if none failed.

    Each chapter is first checked (``_decide``, just before its turn: the Claims page reads
    the others' results) and executed, reused or refreshed; each logs a line saying which and
    why, with the time since the start of the run. A failure stops its chain (the later chapters
    would redo its work) but not the other chapters; the Claims page, which reads every chapter,
    runs only when none failed. Returns the runs and the failure messages.
    """
    t0 = time.perf_counter()
    runs: list[NotebookRun] = []
    failures: list[str] = []

    def one(source, params) -> bool:
        thread = threading.current_thread()
        name, thread.name = thread.name, source.stem  # papermill's own log records name the chapter
        try:
            action, reasons, nb = _decide(source, params, ctx, profile, force)
            out = ctx.out_dir / f"{source.stem}.ipynb"
            if action == "reuse":
                log.info("%s %s reused: nothing it depends on changed", _clock(t0), source.stem)
                runs.append(NotebookRun(source.stem, out, 0.0, params, "reused"))
                return True
            if action == "refresh":
                _save(nb, out)
                log.info("%s %s reused, page rebuilt: only its prose changed", _clock(t0), source.stem)
                runs.append(NotebookRun(source.stem, out, 0.0, params, "refreshed"))
                return True
            log.info("%s %s started: %s", _clock(t0), source.stem, "; ".join(reasons))
            run = _execute_one(source, ctx, params, profile, timeout)
        except ChapterFailed as err:
            failures.append(str(err))
            reason = str(err).splitlines()[1].strip()
            log.error("%s %s FAILED: %s (details at the end)", _clock(t0), source.stem, reason[:200])
            return False
        finally:
            thread.name = name
            bar.update()
        runs.append(NotebookRun(run.stem, run.output, run.seconds, params, "executed", tuple(reasons), run.started))
        log.info("%s %s done in %.1f s", _clock(t0), source.stem, run.seconds)
        return True

    jobs_in_order = _chained(chapters)
    finished = _prerequisites(jobs_in_order)

    def run_job(job):
        for k, (source, params) in enumerate(job):
            for stem in chapters_before(source):
                if stem in finished:
                    finished[stem].wait()
            try:
                ok = one(source, params)
            finally:
                finished[source.stem].set()
            if not ok:
                for skipped, _ in job[k + 1 :]:
                    log.warning("%s %s skipped: %s failed before it", _clock(t0), skipped.stem, source.stem)
                    finished[skipped.stem].set()
                    bar.update()
                return

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for fut in [pool.submit(run_job, job) for job in jobs_in_order]:
            fut.result()
    for source, params in last:
        if failures:
            log.warning("%s %s skipped: it reads every chapter and %d failed", _clock(t0), source.stem, len(failures))
            bar.update()
        else:
            one(source, params)
    order = {s.stem: i for i, (s, _) in enumerate(chapters + last)}
    return sorted(runs, key=lambda r: order[r.stem]), failures
