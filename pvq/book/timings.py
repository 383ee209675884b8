"""Where a build's time goes: one row per chapter of each run, kept across builds, and its summary.

After each run of the chapters the runner appends one row per chapter (executed, or reused at 0 s) to
``<results>/build_timings.csv`` (:data:`TIMINGS_FILE`): when the chapter started (seconds after
the build started), how long it took, and the build's profile, its number of chapters run at
once (``jobs``), its core budget (``cores``: slots of :mod:`pvq.common.cores`, 0 without one)
and the cores of the machine. The file holds timings and machine facts only, so the result
tables stay deterministic; :func:`summarize_build_timings` and :func:`build_timing_headlines`
read one build back (the latest, or that of a profile).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import pandas as pd

from ..common.cores import available_cores
from ..common.files import atomic_write

__all__ = [
    "TIMINGS_FILE",
    "TIMING_COLUMNS",
    "build_timing_headlines",
    "record_build_timings",
    "summarize_build_timings",
]

#: Name of the time record in the results folder.
TIMINGS_FILE = "build_timings.csv"

#: The columns of the time record (one row per chapter and build).
TIMING_COLUMNS = ["build", "stem", "status", "started", "seconds", "profile", "jobs", "cores", "machine_cores"]


def record_build_timings(runs, path: Path, *, started: float, profile: str, jobs: int, cores: int) -> pd.DataFrame:
    """Append one row per run to the time record at ``path`` (written atomically); return the rows added.

    Parameters
    ----------
    runs : iterable
        The chapters of the run: objects with ``stem``, ``seconds``, ``action`` (``executed``,
        ``reused``, ``refreshed``; ``executed`` when absent) and ``started`` (seconds since
        the epoch when the chapter started; NaN if unknown), e.g.
        :class:`pvq.book.runner.NotebookRun`.
    path : Path
        The record (:data:`TIMINGS_FILE` in the results folder). An unreadable record, or one
        with other columns, is started again.
    started : float
        When the build started, in seconds since the epoch; its UTC time names the build.
    profile, jobs, cores
        The build's profile, chapters run at once and core slots (0: no core budget).
    """
    build = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started))
    rows = pd.DataFrame(
        [
            {
                "build": build,
                "stem": r.stem,
                "status": getattr(r, "action", "executed"),
                "started": round(r.started - started, 1) if math.isfinite(r.started) else math.nan,
                "seconds": round(r.seconds, 1),
                "profile": profile,
                "jobs": jobs,
                "cores": cores,
                "machine_cores": available_cores(),
            }
            for r in runs
        ],
        columns=TIMING_COLUMNS,
    )
    path = Path(path)
    try:
        old = pd.read_csv(path)
        old = old if list(old.columns) == TIMING_COLUMNS else None
    except (OSError, ValueError):  # absent, empty or corrupt: a new record
        old = None
    table = rows if old is None or old.empty else pd.concat([old, rows], ignore_index=True)
    atomic_write(path, lambda p: table.to_csv(p, index=False))
    return rows


def _one_build(table: pd.DataFrame, build: str | None, profile: str | None) -> pd.DataFrame:
    """The rows of ``build``, or of the latest build (of ``profile`` when given)."""
    if profile is not None:
        table = table[table.profile == profile]
    if build is None and not table.empty:
        build = table.build.max()  # ISO UTC times sort as text
    rows = table[table.build == build]
    if rows.empty:
        wanted = " ".join(x for x in (build and f"{build!r}", profile and f"of profile {profile!r}") if x)
        raise ValueError(f"the time record holds no build {wanted}".rstrip())
    return rows


def summarize_build_timings(
    table: pd.DataFrame,
    *,
    build: str | None = None,
    profile: str | None = None,
) -> pd.DataFrame:
    """One build's chapters in the order they started: when, how long, and their share of the time.

    Parameters
    ----------
    table : pandas.DataFrame
        The time record (:data:`TIMING_COLUMNS`).
    build : str, optional
        The build (its ``build`` value); default the latest one.
    profile : str, optional
        Only builds of this profile (the latest ``full`` build, say).

    Returns
    -------
    pandas.DataFrame
        ``stem``, ``started``, ``seconds``, ``ended`` (seconds after the build started) and
        ``share``: the chapter's % of the chapters' summed time (what the chapter costs, whatever
        ran beside it).

    Raises
    ------
    ValueError
        When the record holds no such build.
    """
    rows = _one_build(table, build, profile).sort_values(["started", "stem"], kind="stable")
    out = rows[["stem", "started", "seconds"]].reset_index(drop=True)
    out["ended"] = out.started + out.seconds
    total = out.seconds.sum()
    out["share"] = 100 * out.seconds / total if total > 0 else math.nan
    return out


def build_timing_headlines(table: pd.DataFrame, *, build: str | None = None, profile: str | None = None) -> dict:
    """The numbers a page quotes about one build (default: the latest), keyed by glue-style names.

    ``build``, ``profile``, ``jobs``, ``cores`` (core slots, 0: none), ``machine-cores``;
    ``wall-minutes`` (from the build's start to its last chapter's end), ``chapter-minutes`` (the
    chapters' summed time), ``overlap`` (their ratio: how many chapters ran at once on average)
    and ``longest`` / ``longest-minutes`` / ``longest-share`` (the chapter that took longest, its
    minutes and its % of the summed time).
    """
    rows = _one_build(table, build, profile)
    summary = summarize_build_timings(rows)
    wall = float(summary.ended.max()) if summary.ended.notna().any() else math.nan
    total = float(summary.seconds.sum())
    longest = summary.loc[summary.seconds.idxmax()]
    first = rows.iloc[0]
    return {
        "build": str(first.build),
        "profile": str(first.profile),
        "jobs": int(first.jobs),
        "cores": int(first.cores),
        "machine-cores": int(first.machine_cores),
        "wall-minutes": wall / 60,
        "chapter-minutes": total / 60,
        "overlap": total / wall if wall > 0 else math.nan,
        "longest": str(longest.stem),
        "longest-minutes": float(longest.seconds) / 60,
        "longest-share": float(longest.share),
    }
