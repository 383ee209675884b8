"""Running grids of training runs: cached, resumable, in local processes or on a Dask cluster.

Chapters 5–7 share one cache folder (``results/training-cache`` by default): a pretrained
network is stored as ``pretrained/<key>.pt`` with ``<key>.json`` beside it, a fine-tuning run as
``finetune/<key>.json``; keys hash every setting that changes the result
(:meth:`pvq.finetune.recipe.FineTuneSpec.key`), every file is written atomically, and a corrupt entry
is recomputed. An interrupted build therefore resumes where it stopped, and a chapter reuses
the runs another chapter already made. Jobs go through :func:`pvq.common.executors.make_executor`
(a spawn process pool, or the executor of a Dask cluster); under a build's core budget each run
holds a slot while it trains (:func:`pvq.common.cores.core_slot`), a run found in the cache none.
"""

from __future__ import annotations

import dataclasses
import json
import math
from concurrent.futures import Executor
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from ..common.cores import core_slot
from ..common.files import atomic_write, read_json
from ..common.paths import results_root
from .data import ImageData, load_fashion_mnist
from .loop import finetune, pretrain
from .recipe import PretrainSpec

__all__ = [
    "RUN_COLUMNS",
    "TRAINING_THREADS",
    "cached_fashion_mnist",
    "default_cache_dir",
    "ensure_pretrained",
    "load_pretrained",
    "representation_table",
    "run_grid",
    "summarize_runs",
]

#: Columns of the run table of :func:`run_grid`.
RUN_COLUMNS = [
    "key",
    "arch",
    "method",
    "label",
    "n_bits",
    "sparsity",
    "seed",
    "epochs",
    "lr",
    "first_last_bits",
    "validation",
    "steps",
    "status",
    "accuracy",
    "zeros",
    "avg_bits",
    "dense_bits",
    "bits_per_weight",
    "seconds",
]

#: Torch threads of every training run, in a worker or in this process. A run's weights depend
#: on it (a sum split over two threads rounds differently from one), so it is fixed rather than
#: sized to the machine: the same run gives the same result on every build and every machine.
TRAINING_THREADS = 1

_DATA: dict[str, ImageData] = {}


def default_cache_dir() -> Path:
    """``<results>/training-cache``."""
    return results_root() / "training-cache"


def cached_fashion_mnist(folder: str | None = None) -> ImageData:
    """Fashion-MNIST from ``folder`` (default search when ``None``), read once per process.

    Raises the loader's :class:`~pvq.finetune.data.DatasetNotFoundError` for a missing or corrupt
    set, so a grid can call it before starting any worker.
    """
    key = folder or ""
    if key not in _DATA:
        _DATA[key] = load_fashion_mnist(folder)
    return _DATA[key]


def _spec_json(spec) -> str:
    return json.dumps(dataclasses.asdict(spec), sort_keys=True)


def load_pretrained(spec: PretrainSpec, cache_dir: Path) -> tuple[dict, dict] | None:
    """The cached ``(state_dict, info)`` of ``spec``, or ``None`` if absent or unreadable."""
    folder = Path(cache_dir) / "pretrained"
    info = read_json(folder / f"{spec.key()}.json")
    if not isinstance(info, dict) or "accuracy" not in info:
        return None
    try:
        state = torch.load(folder / f"{spec.key()}.pt", map_location="cpu", weights_only=True)
    except Exception:
        return None
    return state, info


def _save_state(state: dict, path: Path) -> None:
    """``torch.save`` through a file object: the archive's inner folder is then always ``archive``,
    not the temporary file's random name, so the same network gives the same bytes."""
    with open(path, "wb") as f:
        torch.save(state, f)


def _pretrain_job(args) -> dict:
    spec, cache_dir, data_folder, device, threads = args
    if threads:
        torch.set_num_threads(threads)
    cached = load_pretrained(spec, cache_dir)
    if cached is not None:
        return cached[1]
    with core_slot():  # under a build's core budget: one slot, one thread (a cache hit needs none)
        state, info = pretrain(spec, cached_fashion_mnist(data_folder), device=device)
    folder = Path(cache_dir) / "pretrained"
    atomic_write(folder / f"{spec.key()}.pt", lambda p: _save_state(state, p))
    info["spec"] = json.loads(_spec_json(spec))
    atomic_write(folder / f"{spec.key()}.json", lambda p: p.write_text(json.dumps(info, indent=1)))
    return info


@contextmanager
def _keep_threads():
    """Restore this process's torch thread count after jobs run in it at :data:`TRAINING_THREADS`."""
    previous = torch.get_num_threads()
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def ensure_pretrained(
    specs,
    *,
    cache_dir: Path,
    executor: Executor | None = None,
    data_folder: str | None = None,
    device: str = "cpu",
) -> pd.DataFrame:
    """Train (or load from the cache) every FP32 baseline in ``specs``; one row per network.

    Each trains on :data:`TRAINING_THREADS` torch threads, wherever it runs (:func:`run_grid`).
    """
    specs = list(dict.fromkeys(specs))
    rows = {s: loaded[1] for s in specs if (loaded := load_pretrained(s, cache_dir)) is not None}
    jobs = [(s, str(cache_dir), data_folder, device, TRAINING_THREADS) for s in specs if s not in rows]
    with _keep_threads():  # only networks not cached go to the executor: all cached, no worker starts
        run = executor.map if executor is not None and jobs else map
        trained = list(run(_pretrain_job, jobs))
    rows.update({job[0]: info for job, info in zip(jobs, trained, strict=True)})
    return pd.DataFrame([{k: v for k, v in rows[s].items() if k != "spec"} for s in specs])


def _cached_run(spec, cache_dir) -> dict | None:
    """The cached record of a fine-tuning run, or ``None`` when absent or unreadable."""
    cached = read_json(Path(cache_dir) / "finetune" / f"{spec.key()}.json")
    return cached if isinstance(cached, dict) and cached.get("key") == spec.key() and "status" in cached else None


def _finetune_job(args) -> dict:
    spec, cache_dir, data_folder, threads = args
    path = Path(cache_dir) / "finetune" / f"{spec.key()}.json"
    cached = _cached_run(spec, cache_dir)
    if cached is not None:
        return cached
    if threads:
        torch.set_num_threads(threads)
    loaded = load_pretrained(spec.base, cache_dir)
    if loaded is None:
        raise FileNotFoundError(f"pretrained network {spec.base.key()} missing from {cache_dir}; run ensure_pretrained")
    with core_slot():  # under a build's core budget: one slot, one thread (a cache hit needs none)
        record = finetune(spec, loaded[0], cached_fashion_mnist(data_folder))
    record["base_accuracy"] = loaded[1]["accuracy"]
    record["spec"] = json.loads(_spec_json(spec))
    atomic_write(path, lambda p: p.write_text(json.dumps(record)))
    return record


def run_grid(
    specs,
    *,
    cache_dir: Path,
    executor: Executor | None = None,
    data_folder: str | None = None,
    progress: bool = False,
) -> tuple[pd.DataFrame, list[dict]]:
    """Fine-tune every spec (their pretrained networks must be cached); return the runs.

    The runs start longest first (most epochs) and come back in the order of ``specs``. Each
    trains on :data:`TRAINING_THREADS` torch threads, in a worker or in this process (whose thread
    count is restored afterwards), so that its result does not depend on where it ran.

    Returns
    -------
    (table, records) : (pandas.DataFrame, list of dict)
        One row per run with :data:`RUN_COLUMNS` plus ``base_accuracy``, and the full records
        (loss curves, representation probes). Diverged runs are rows with
        ``status == 'diverged'`` and NaN accuracy: never dropped.
    """
    specs = list(dict.fromkeys(specs))
    records = [_cached_run(s, cache_dir) for s in specs]  # read here: all cached, no worker starts
    # longest runs first, so that no worker is left with a long run while the others wait
    order = sorted((i for i, r in enumerate(records) if r is None), key=lambda i: -specs[i].epochs)
    jobs = [(specs[i], str(cache_dir), data_folder, TRAINING_THREADS) for i in order]
    with _keep_threads():
        run = executor.map if executor is not None and jobs else map  # all cached: no worker starts
        results = run(_finetune_job, jobs)
        done = list(tqdm(results, total=len(jobs), desc="fine-tuning runs", disable=not progress))
    for i, record in zip(order, done, strict=True):
        records[i] = record
    table = pd.DataFrame([{c: r.get(c, math.nan) for c in [*RUN_COLUMNS, "base_accuracy"]} for r in records])
    return table, records


def summarize_runs(table: pd.DataFrame, by=("arch", "method", "label", "n_bits", "sparsity", "epochs")) -> pd.DataFrame:
    """Mean and standard deviation of the accuracy over seeds, per setting.

    Diverged runs are counted in ``n_diverged`` and left out of the mean and std (``n_ok`` says
    how many runs the mean is over); a setting where every run diverged has NaN accuracy.
    ``avg_bits``, ``bits_per_weight`` and ``zeros`` are means over seeds, ``lr`` the setting's
    learning rate (NaN for tables without the column).
    """
    by = list(by)
    t = table.copy()
    for c in ("n_bits", "sparsity"):
        t[c] = t[c].fillna(0)
    for c in ("lr", "bits_per_weight"):
        if c not in t:
            t[c] = math.nan
    ok = t["status"] == "ok"
    g = t.groupby(by, dropna=False)
    out = g.agg(
        n_runs=("seed", "size"),
        avg_bits=("avg_bits", "mean"),
        bits_per_weight=("bits_per_weight", "mean"),
        zeros=("zeros", "mean"),
        lr=("lr", "first"),
    ).reset_index()
    stats = t[ok].groupby(by, dropna=False)["accuracy"].agg(["mean", "std", "size"]).reset_index()
    stats = stats.rename(columns={"mean": "accuracy_mean", "std": "accuracy_std", "size": "n_ok"})
    out = out.merge(stats, on=by, how="left")
    out["n_ok"] = out["n_ok"].fillna(0).astype(int)
    out["n_diverged"] = out["n_runs"] - out["n_ok"]
    return out


def representation_table(records: list[dict]) -> pd.DataFrame:
    """Long table of the representation probes: one row per (run, checkpoint, layer)."""
    rows = []
    for r in records:
        for p in r.get("representations") or []:
            rows.append(
                {
                    "arch": r["arch"],
                    "method": r["method"],
                    "label": r["label"],
                    "n_bits": r["n_bits"],
                    "sparsity": r["sparsity"],
                    "seed": r["seed"],
                    "epochs": r["epochs"],
                    "steps": r["steps"],
                    **p,
                }
            )
    return pd.DataFrame(rows)
