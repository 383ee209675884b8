"""The run grids of chapters 5–7, built from their parameters (paper §6 at CPU scale).

* :func:`table1_specs`: QAT at every INT-b and gradual pruning at its paired sparsity
  ``1 - b/16``, every architecture and seed (Table 1; the representation probes of chapter 7
  are recorded in the same runs).
* :func:`control_specs`: the FP32 networks fine-tuned with the same recipe (no compression).
* :func:`longer_specs`: the same at the ``long_bits`` points with ``ft_epochs × factor`` epochs.
* :func:`combine_specs`: QAT models additionally pruned (Figure 5).
* :func:`ablation_specs`: QAT with every layer at INT-b, the first and last too, as pruning
  treats them (the first/last-layer ablation of chapter 5).
* :func:`lr_selection_specs`: each learning rate of ``lr_grid`` per network and method, trained
  on the training images less a validation split and evaluated on that split.
* :func:`recipe_spec`: the recipe every run shares, as one run's spec (chapter 5's recipe table).

:func:`execute` trains the FP32 baselines, selects each method's learning rate
(:func:`select_learning_rates`) and then runs every spec at its method's rate, through one
executor, with the shared cache of :mod:`pvq.finetune.cache`.

``p`` is the chapters' parameter record (:class:`pvq.book.training_params.FineTuningParams`), or any object
with the same attributes: this module reads it and never imports the book layer.
"""

from __future__ import annotations

import dataclasses
import os
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from ..common.executors import DASK_ENV, make_executor
from ..core.pruning import paired_sparsity
from .cache import cached_fashion_mnist, default_cache_dir, ensure_pretrained, run_grid
from .data import ImageData
from .fairness import MAX_GRID_EXTENSIONS, choose_learning_rates, chosen_learning_rates, grid_extensions
from .recipe import FineTuneSpec, PretrainSpec

__all__ = [
    "ablation_specs",
    "base_spec",
    "combine_specs",
    "control_specs",
    "execute",
    "fine_tuning_data",
    "longer_specs",
    "lr_method",
    "lr_selection_specs",
    "recipe_spec",
    "run_spec",
    "select_learning_rates",
    "table1_specs",
    "with_learning_rates",
]


def base_spec(p, arch: str) -> PretrainSpec:
    """The FP32 baseline of ``arch``: trained once (seed 0), the validation images left out."""
    return PretrainSpec(
        arch, seed=0, epochs=p.pretrain_epochs, holdout=p.validation_images, epoch_images=p.pretrain_images
    )


def run_spec(
    p, arch: str, method: str, *, n_bits=None, sparsity=0.0, seed=0, factor=1, lr=None, first_last_bits=8, validation=0
):
    """One fine-tuning run with the chapter's shared recipe (at ``lr``, default ``p.lr``)."""
    return FineTuneSpec(
        base_spec(p, arch),
        method,
        n_bits=n_bits,
        sparsity=sparsity,
        seed=seed,
        epochs=p.ft_epochs * factor,
        epoch_images=p.epoch_images,
        lr=p.lr if lr is None else lr,
        first_last_bits=first_last_bits,
        validation=validation,
        scale_lr=p.scale_lr,
        weight_decay=p.weight_decay,
        mask_interval=p.mask_interval,
        bn_batches=p.bn_batches,
        test_images=p.test_images,
        probe_points=p.probe_points if method != "qat+prune" and not validation else 0,
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


def ablation_specs(p) -> list[FineTuneSpec]:
    """QAT at each ``ablation_bits`` with every layer at INT-b (``first_last_bits=None``), per architecture and seed.

    Gradual pruning cuts the first and last layer like every other, while the recipe's QAT keeps
    them at 8 bits; these runs treat them alike, so that QAT stores exactly b bits per weight,
    as pruning at :math:`1 - b/16` does. Their pruning partners are Table 1's runs. Nothing is probed.
    """
    return [
        dataclasses.replace(run_spec(p, arch, "qat", n_bits=b, seed=seed, first_last_bits=None), probe_points=0)
        for arch in p.architectures
        for b in p.ablation_bits
        for seed in p.seeds
    ]


def lr_method(method: str) -> str:
    """The method whose selected learning rate a run uses: its own, and QAT's for the FP32 control.

    The control is QAT without the quantization, so it shares QAT's rate (chapter 7 compares the two).
    """
    return "qat" if method == "fp32" else method


def _selection_point(p, method: str) -> dict:
    if method == "qat":
        return {"n_bits": p.lr_bits}
    if method == "prune":
        return {"sparsity": paired_sparsity(p.lr_bits)}
    if method == "qat+prune":
        return {"n_bits": p.lr_bits, "sparsity": p.combine_sparsity[0]}
    raise ValueError(f"no learning rate is selected for method {method!r}")


def lr_selection_specs(p, methods=("qat", "prune")) -> list[FineTuneSpec]:
    """One run per network, method and rate of ``p.lr_grid``: trained without the validation images, scored on them.

    The point is INT-``lr_bits`` for QAT, its paired sparsity for pruning, INT-``lr_bits`` with the
    first ``combine_sparsity`` for the combined runs; the seed is the first of ``p.seeds``; the
    recipe is the chapter's, except that ``p.validation_images`` training images are held out and
    scored (:func:`pvq.finetune.data.validation_split`) and nothing is probed.
    """
    return [
        run_spec(p, arch, m, seed=p.seeds[0], lr=lr, validation=p.validation_images, **_selection_point(p, m))
        for arch in p.architectures
        for m in methods
        for lr in p.lr_grid
    ]


def with_learning_rates(specs, chosen: dict) -> list[FineTuneSpec]:
    """The specs, each at the learning rate chosen for its network and method (:func:`lr_method`).

    ``chosen`` is :func:`pvq.finetune.fairness.chosen_learning_rates`; a spec whose
    (network, method) is not in it is an error (ValueError), never silently left at another rate.
    """
    out = []
    for s in specs:
        key = (s.base.arch, lr_method(s.method))
        if key not in chosen:
            raise ValueError(f"no learning rate was selected for {key}")
        out.append(dataclasses.replace(s, lr=chosen[key]))
    return out


@contextmanager
def _executor(p):
    """``p.workers`` local processes or the Dask cluster; ``None`` (this process) with one worker and no cluster."""
    in_process = p.workers == 1 and not (p.dask_scheduler or os.environ.get(DASK_ENV))
    executor = None if in_process else make_executor(p.dask_scheduler or None, workers=p.workers)
    try:
        yield executor
    finally:
        if executor is not None and hasattr(executor, "shutdown"):
            executor.shutdown()


def _select(p, methods, *, cache_dir, executor, progress) -> pd.DataFrame:
    specs = lr_selection_specs(p, methods)
    if not specs:
        return choose_learning_rates(pd.DataFrame())
    folder = p.data_folder or None
    bases = list(dict.fromkeys(s.base for s in specs))
    ensure_pretrained(bases, cache_dir=cache_dir, executor=executor, data_folder=folder, device=p.device)
    table, _ = run_grid(specs, cache_dir=cache_dir, executor=executor, data_folder=folder, progress=progress)
    for _ in range(MAX_GRID_EXTENSIONS):  # at most one more rate per network and method a round
        more = grid_extensions(choose_learning_rates(table), p.lr_grid)
        if not more:
            break
        extra = [
            run_spec(p, a, m, seed=p.seeds[0], lr=lr, validation=p.validation_images, **_selection_point(p, m))
            for (a, m), lr in more.items()
        ]
        added, _ = run_grid(extra, cache_dir=cache_dir, executor=executor, data_folder=folder, progress=progress)
        table = pd.concat([table, added], ignore_index=True)
    return choose_learning_rates(table)


def select_learning_rates(
    p, methods=("qat", "prune"), *, cache_dir: Path | None = None, progress: bool = True
) -> pd.DataFrame:
    """Run (or read from the cache) the selection runs of :func:`lr_selection_specs`; return the selection table.

    The table is :func:`pvq.finetune.fairness.choose_learning_rates`'s: ``arch, method, lr,
    val_accuracy, chosen``; empty when ``p.lr_grid`` is.
    """
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    fine_tuning_data(p)
    with _executor(p) as executor:
        return _select(p, methods, cache_dir=cache_dir, executor=executor, progress=progress)


def execute(
    p, specs, *, cache_dir: Path | None = None, progress: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame, list[dict]]:
    """Train the baselines the specs need, select the learning rates, then run every spec (cached).

    With a non-empty ``p.lr_grid`` every spec runs at the learning rate selected for its network
    and method (:func:`select_learning_rates`, :func:`with_learning_rates`; the specs' own ``lr``
    is replaced), else at its own. Runs go to ``p.workers`` local processes, or to the Dask
    cluster ``p.dask_scheduler`` / ``$PVQ_DASK_SCHEDULER``; with one worker and no cluster they
    run in this process.

    Returns
    -------
    (baselines, runs, records)
        The FP32 networks, the run table and the run records (:func:`pvq.finetune.cache.run_grid`).
    """
    specs = list(specs)
    cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    folder = p.data_folder or None
    fine_tuning_data(p)  # a missing or corrupt data set fails here, before any worker starts (in-process runs reuse it)
    bases = list(dict.fromkeys(s.base for s in specs))
    with _executor(p) as executor:
        baselines = ensure_pretrained(
            bases, cache_dir=cache_dir, executor=executor, data_folder=folder, device=p.device
        )
        if p.lr_grid:
            methods = tuple(dict.fromkeys(lr_method(s.method) for s in specs))
            selection = _select(p, methods, cache_dir=cache_dir, executor=executor, progress=progress)
            specs = with_learning_rates(specs, chosen_learning_rates(selection))
        table, records = run_grid(specs, cache_dir=cache_dir, executor=executor, data_folder=folder, progress=progress)
    return baselines, table, records
