"""Execute the chapters with papermill under a profile, ready for the book build.

Each ``notebooks/NN_slug.py`` (jupytext ``py:percent``) is read, given the parameters of
``params/<profile>.yaml`` that its parameters cell declares (plus explicit overrides), and
executed by papermill with the book root as working directory. The executed notebook is
written atomically to ``book/chapters/<stem>.ipynb``; a failed one is kept under
``_build/failed/`` for inspection and never replaces a good one.

Chapters run ``jobs`` at a time, except those that share work: a notebook whose jupytext header
names a chain (``pvq: {chain: NAME}``) runs after the previous chapter of the same chain, in one
slot, so that the later ones reuse the earlier one's cached runs instead of repeating them at
the same time.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from ..common.paths import RESULTS_ENV, book_root, notebook_sources
from .params import check_profile
from .profiles import declared_parameters, profile_parameters

__all__ = [
    "NotebookRun",
    "chain_name",
    "execute_chapters",
]

log = logging.getLogger(__name__)

CLAIMS_STEM = "99_claims"


def chain_name(source: Path) -> str | None:
    """The chain a notebook belongs to (``pvq: {chain: NAME}`` in its jupytext header), or ``None``."""
    import jupytext

    meta = jupytext.read(source).metadata.get("pvq") or {}
    return meta.get("chain") if isinstance(meta, dict) else None


def _chained(plan: list) -> list[list]:
    """Group the plan into jobs: each chain's chapters in one job, in order; every other chapter alone."""
    jobs, by_chain = [], {}
    for source, params in plan:
        name = chain_name(source)
        if name is None:
            jobs.append([(source, params)])
        elif name in by_chain:
            by_chain[name].append((source, params))
        else:
            by_chain[name] = [(source, params)]
            jobs.append(by_chain[name])
    return jobs


@dataclass(frozen=True)
class NotebookRun:
    """Outcome of one executed chapter."""

    stem: str
    output: Path
    seconds: float
    parameters: dict


def _execute_one(source: Path, out_dir: Path, parameters: dict, root: Path, timeout: int) -> NotebookRun:
    import jupytext
    import papermill

    nb = jupytext.read(source)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    out = out_dir / f"{source.stem}.ipynb"
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{source.stem}.", suffix=".ipynb")
    os.close(fd)
    start = time.perf_counter()
    try:
        papermill.execute_notebook(
            nb,
            tmp,
            parameters=parameters,
            kernel_name="python3",
            cwd=str(root),
            execution_timeout=timeout,
            progress_bar=False,
            log_output=False,
        )
    except Exception as err:
        failed = root / "_build" / "failed"
        failed.mkdir(parents=True, exist_ok=True)
        shutil.move(tmp, failed / out.name)
        raise RuntimeError(
            f"notebook {source.name} failed (executed copy: {failed / out.name}): {str(err).strip()[-2000:]}"
        ) from None
    os.replace(tmp, out)
    return NotebookRun(source.stem, out, time.perf_counter() - start, parameters)


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
    runs: list[NotebookRun] = []
    previous = os.environ.get(RESULTS_ENV)
    if results_dir is not None:  # the kernels inherit the environment
        os.environ[RESULTS_ENV] = str(Path(results_dir).resolve())
    try:
        with tqdm(total=len(plan), desc=f"notebooks ({profile})", disable=not progress) as bar:

            def run_job(job):
                out = []
                for s, p in job:
                    out.append(_execute_one(s, out_dir, p, root, timeout))
                    bar.update()
                return out

            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                futures = [pool.submit(run_job, job) for job in _chained(chapters)]
                for fut in futures:
                    runs += fut.result()
            for s, p in last:
                runs.append(_execute_one(s, out_dir, p, root, timeout))
                bar.update()
    finally:
        if previous is None:
            os.environ.pop(RESULTS_ENV, None)
        else:
            os.environ[RESULTS_ENV] = previous
    return runs
