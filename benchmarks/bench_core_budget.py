"""Two chapters side by side with and without the shared core budget, from empty caches.

Baseline: ``PVQ_CORE_SLOTS=off`` (each chapter's two pool workers and their BLAS and torch
threads compete for the cores, as before the budget). Budget: the runner's default, one slot
per core shared by both chapters (:mod:`pvq.common.cores`). Each round runs chapters 4 and 5
of the ``ci`` profile side by side (``--jobs 2``, the Claims page after them) once each way, the
two ways alternating, each in a fresh results folder (no cached training run or chunk). Prints
per run the wall time, the CPU time of every process the build started (kernels and workers),
and the chapters' own times from the build's time record (:mod:`pvq.book.timings`), then the
median ratios budget / baseline. On a machine shared with other work the times are noisy: run
several rounds and read the medians.

Run: ``.venv/bin/python benchmarks/bench_core_budget.py --rounds 2`` (10–20 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from pvq.book.timings import TIMINGS_FILE, build_timing_headlines, summarize_build_timings
from pvq.common.cores import SLOTS_ENV
from pvq.common.paths import book_root


def build(results: Path, budget: bool, chapters: list[str]) -> dict:
    """One side-by-side run of ``chapters`` into ``results``: wall, CPU, per-chapter seconds."""
    env = {k: v for k, v in os.environ.items() if k != SLOTS_ENV}
    if not budget:
        env[SLOTS_ENV] = "off"
    env["PYTHONPATH"] = str(book_root())
    cmd = [sys.executable, "-m", "pvq", "run-notebooks", "--profile", "ci", "--only", *chapters, "--jobs", "2",
           "--results", str(results), "--out", str(results / "chapters"), "--no-progress"]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=book_root(), check=True, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    table = pd.read_csv(results / TIMINGS_FILE)
    seconds = summarize_build_timings(table).set_index("stem").seconds.to_dict()
    return {"wall": wall, "cpu": cpu, "cores": build_timing_headlines(table)["cores"], **seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--only", nargs="+", default=["04", "05"], help="chapters run side by side")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="pvq-bench-cores-") as tmp:
        for r in range(args.rounds):
            for budget in (False, True) if r % 2 == 0 else (True, False):
                got = build(Path(tmp) / f"{r}-{budget}", budget, args.only)
                rows.append({"round": r + 1, "budget": budget, **got})
                print(
                    f"round {r + 1} {'budget  ' if budget else 'baseline'} ({got['cores']} slots): "
                    f"wall {got['wall']:6.1f} s, CPU {got['cpu']:6.1f} s; "
                    + ", ".join(f"{k} {v:.0f} s" for k, v in got.items() if k[:2].isdigit()),
                    flush=True,
                )
    t = pd.DataFrame(rows)
    for what in ("wall", "cpu", *[c for c in t.columns if c[:2].isdigit()]):
        ratio = statistics.median(t[t.budget][what]) / statistics.median(t[~t.budget][what])
        print(f"median {what:>16s}: budget / baseline = {ratio:.2f}")


if __name__ == "__main__":
    main()
