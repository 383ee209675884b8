"""The run grids of chapters 5–7, built from their parameters (paper §6 at CPU scale).

* :func:`table1_specs`: QAT at every INT-b and gradual pruning at its paired sparsity
  ``1 - b/16``, every architecture and seed (Table 1; the representation probes of chapter 7
  are recorded in the same runs).
* :func:`control_specs`: the FP32 networks fine-tuned with the same recipe (no compression).
* :func:`longer_specs`: the same at the ``long_bits`` points with ``ft_epochs × factor`` epochs.
* :func:`combine_specs`: QAT models additionally pruned (Figure 5).
* :func:`recipe_spec`: the recipe every run shares, as one run's spec (chapter 5's recipe table).

:func:`execute` trains the FP32 baselines and then every run through one executor, with the
shared cache of :mod:`pvq.finetune.cache`.

``p`` is the chapters' parameter record (:class:`pvq.book.training_params.FineTuningParams`), or any object
with the same attributes: this module reads it and never imports the book layer.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from ..common.executors import DASK_ENV, make_executor
from ..core.pruning import paired_sparsity
from .cache import cached_fashion_mnist, default_cache_dir, ensure_pretrained, run_grid
from .data import ImageData
from .recipe import FineTuneSpec, PretrainSpec

__all__ = [
    "base_spec",
    "combine_specs",
    "control_specs",
    "execute",
    "fine_tuning_data",
    "longer_specs",
    "recipe_spec",
    "run_spec",
    "table1_specs",
]


def base_spec(p, arch: str) -> PretrainSpec:
    """The FP32 baseline of ``arch`` (trained once, seed 0; the fine-tuning seeds vary)."""
    return PretrainSpec(arch, seed=0, epochs=p.pretrain_epochs)


def run_spec(p, arch: str, method: str, *, n_bits=None, sparsity=0.0, seed=0, factor=1):
    """One fine-tuning run with the chapter's shared recipe."""
    return FineTuneSpec(
        base_spec(p, arch),
        method,
        n_bits=n_bits,
        sparsity=sparsity,
        seed=seed,
        epochs=p.ft_epochs * factor,
        epoch_images=p.epoch_images,
        lr=p.lr,
        scale_lr=p.scale_lr,
        weight_decay=p.weight_decay,
        mask_interval=p.mask_interval,
        bn_batches=p.bn_batches,
        probe_points=p.probe_points if method != "qat+prune" else 0,
        probe_images=p.probe_images,
        device=p.device,
    )


def recipe_spec(p) -> FineTuneSpec:
    """The recipe every run of the grids shares, as the spec of one run (QAT of the first architecture).

    Only the method and its compression point differ between runs; the length, data, optimiser,
    schedules and evaluation settings of this spec are those of every run.
    """
    return run_spec(p, p.architectures[0], "qat", n_bits=p.ft_bits[0])


def fine_tuning_data(p) -> ImageData:
    """The Fashion-MNIST set the runs train and test on (``p.data_folder``, or the default search).

    Read once per process (:func:`pvq.finetune.cache.cached_fashion_mnist`); a missing or corrupt
    set raises :class:`~pvq.finetune.data.DatasetNotFoundError` or :class:`ValueError` here.
    """
    return cached_fashion_mnist(p.data_folder or None)


def table1_specs(p) -> list[FineTuneSpec]:
    """QAT at each ``ft_bits`` and pruning at each paired sparsity, per architecture and seed."""
    return [
        spec
        for arch in p.architectures
        for b in p.ft_bits
        for seed in p.seeds
        for spec in (
            run_spec(p, arch, "qat", n_bits=b, seed=seed),
            run_spec(p, arch, "prune", sparsity=paired_sparsity(b), seed=seed),
        )
    ]


def control_specs(p) -> list[FineTuneSpec]:
    """The uncompressed control: each FP32 network fine-tuned with the same recipe, per seed.

    It separates what fine-tuning itself does (to accuracy and to the representations) from
    what the compression does.
    """
    return [run_spec(p, arch, "fp32", seed=seed) for arch in p.architectures for seed in p.seeds]


def longer_specs(p) -> list[FineTuneSpec]:
    """The longer fine-tuning runs (``long_factors × ft_epochs``) at the ``long_bits`` points."""
    return [
        spec
        for arch in p.architectures
        for f in p.long_factors
        for b in p.long_bits
        for seed in p.seeds
        for spec in (
            run_spec(p, arch, "qat", n_bits=b, seed=seed, factor=f),
            run_spec(p, arch, "prune", sparsity=paired_sparsity(b), seed=seed, factor=f),
        )
    ]


def combine_specs(p) -> list[FineTuneSpec]:
    """QAT at each ``combine_bits`` with gradual pruning at each ``combine_sparsity`` on top."""
    return [
        run_spec(p, arch, "qat+prune", n_bits=b, sparsity=s, seed=seed)
        for arch in p.architectures
        for b in p.combine_bits
        for s in p.combine_sparsity
        for seed in p.seeds
    ]


def execute(
    p, specs, *, cache_dir: Path | None = None, progress: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """Train the baselines the specs need, then run every spec (cached); return (baselines, runs, records).

    Runs go to ``p.workers`` local processes, or to the Dask cluster ``p.dask_scheduler`` /
    ``$PVQ_DASK_SCHEDULER``; with one worker and no cluster they run in this process.
    """
    specs = list(specs)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = p.data_folder or None
    fine_tuning_data(p)  # a missing or corrupt data set fails here, before any worker starts (in-process runs reuse it)
    bases = list(dict.fromkeys(s.base for s in specs))
    in_process = p.workers == 1 and not (p.dask_scheduler or os.environ.get(DASK_ENV))
    executor = None if in_process else make_executor(p.dask_scheduler or None, workers=p.workers)
    try:
        baselines = ensure_pretrained(
            bases, cache_dir=cache_dir, executor=executor, data_folder=folder, device=p.device
        )
        table, records = run_grid(specs, cache_dir=cache_dir, executor=executor, data_folder=folder, progress=progress)
    finally:
        if executor is not None and hasattr(executor, "shutdown"):
            executor.shutdown()
    return baselines, table, records
