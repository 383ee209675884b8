"""Fine-tuning the ImageNet models with QAT or gradual pruning: the paper's §6 set-up (documented, not run in CI).

The paper's Table 1 and Figure 5 fine-tune ImageNet-pretrained networks for 20 epochs with either
quantization in the loop (INT4 weights, :mod:`pvq.finetune.qat`) or gradual magnitude pruning to 75%
sparsity (:mod:`pvq.finetune.gradual`). This module runs the same :func:`pvq.finetune.loop.finetune` loop as the
Fashion-MNIST chapters on an ImageNet folder, starting from the offline pretrained weights of
:mod:`pvq.tensors.checkpoints` (``mobilenet_v2``: torchvision's ``IMAGENET1K_V1`` file; ``efficientnet_lite0``),
with the hyperparameters of the paper's repository (:data:`PAPER_RECIPES`).

The data side (the folder check, crops, prefetching) is :mod:`pvq.finetune.imagenet_data`.

Typical use (a GPU and the ImageNet folder ``/data/imagenet`` with ``train/`` and ``val/``)::

    python -m pvq imagenet /data/imagenet --arch mobilenet_v2 --method qat --bits 4 --out int4.json
    python -m pvq imagenet /data/imagenet --arch mobilenet_v2 --method prune --sparsity 0.75
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import torch
from tqdm.auto import tqdm

from ..common.files import atomic_write, read_json
from ..common.paper import PAPER, PAPER_RECIPE
from ..core.pruning import paired_sparsity
from ..tensors.checkpoints import MODELS, resolve
from .imagenet_data import ImageNetTask, check_imagenet_arch
from .loop import finetune, steps_per_epoch
from .recipe import FineTuneSpec, PretrainedBase, resolve_device

__all__ = [
    "PAPER_RECIPES",
    "cached_imagenet_run",
    "imagenet_base_state",
    "imagenet_spec",
    "imagenet_table",
    "run_imagenet",
]

# Source: the paper's repository, github.com/Qualcomm-AI-research/pruning-vs-quantization, README
# ("ImageNet experiments": the `main.py train-compressed` commands and the table of batch size, weight
# decay and learning rates). LR_cosine (the final learning rate) is always 1e-2 · LR; QAT: weight-only,
# per-tensor, MSE range initialisation, scales trained by a separate Adam optimiser (lr 1e-5); pruning:
# zhu_gupta, s_i = 0, s_f = 0.75, from epoch 0 to epoch 15 of 20. The mask interval (50 steps) and the 50
# batch-norm re-estimation batches complete the recipe; the shared values are pvq.common.paper.PAPER_RECIPE.
_COMMON = {k: v for k, (v, _source) in PAPER_RECIPE.items()}
#: The paper repository's ImageNet hyperparameters for each architecture, namely ``lr_prune`` (75%
#: pruning), ``lr_qat`` (INT4 QAT), ``batch_size``, ``weight_decay`` and the settings shared by both methods.
PAPER_RECIPES: dict[str, dict] = {
    "mobilenet_v2": {"lr_prune": 3.3e-4, "lr_qat": 3.3e-4, "batch_size": 128, "weight_decay": 5e-5, **_COMMON},
    "efficientnet_lite0": {"lr_prune": 3.3e-4, "lr_qat": 3.3e-3, "batch_size": 128, "weight_decay": 5e-5, **_COMMON},
}


def _weights_source(arch: str) -> str:
    m = MODELS[arch]
    return f"{m.package}/{m.relpath}"


def imagenet_base_state(arch: str) -> dict:
    """The offline ImageNet-pretrained state dict of ``arch``, with the keys of ``build_model(arch)``.

    Read from the model's package file (:data:`pvq.tensors.checkpoints.MODELS`) as
    :func:`pvq.tensors.pretrained.build_model` does.

    Raises
    ------
    ValueError
        An architecture not in :data:`~pvq.finetune.imagenet_data.ARCHITECTURES`.
    FileNotFoundError
        The package holding the weights is not installed (``requirements-assets.txt``).
    """
    check_imagenet_arch(arch)
    return torch.load(resolve(arch).path, map_location="cpu", weights_only=True)


def imagenet_spec(
    arch: str,
    method: str,
    *,
    n_bits: int | None = None,
    sparsity: float = 0.0,
    seed: int = 0,
    epochs: int = 20,
    device: str = "auto",
) -> FineTuneSpec:
    """The paper's ImageNet fine-tuning run of ``arch`` with ``method`` (:data:`PAPER_RECIPES`, paper §6).

    SGD with momentum 0.9, batch 128, weight decay :math:`5\\cdot10^{-5}`, ``epochs`` passes over
    the whole training set, cosine learning rate

    .. math:: \\eta_t = \\eta\\left(0.01 + 0.99 \\cdot \\tfrac12\\left(1 + \\cos \\tfrac{\\pi t}{T}\\right)\\right)

    with :math:`\\eta` = ``lr_prune`` for pruning and ``lr_qat`` for QAT (and for ``'qat+prune'``,
    which the paper does not run on ImageNet); QAT scales by Adam at :math:`10^{-5}`, first and
    last layer at 8 bits; the pruning mask updated every 50 steps and at its target after 75% of
    the steps (epoch 15 of 20); batch-norm statistics re-estimated on 50 training batches before
    evaluation. The paper reports INT4 and 75% pruning; other bit-widths and sparsities reuse the
    same recipe.

    Raises
    ------
    ValueError
        An unknown architecture or method, a bit-width outside 1..15 (:func:`~pvq.core.pruning.check_bits`),
        a sparsity outside [0, 1), or a combination the method does not take
        (checked by :class:`~pvq.finetune.recipe.FineTuneSpec`).
    """
    recipe = PAPER_RECIPES[check_imagenet_arch(arch)]
    return FineTuneSpec(
        base=PretrainedBase(arch, _weights_source(arch)),
        method=method,
        n_bits=n_bits,
        sparsity=sparsity,
        seed=seed,
        epochs=epochs,
        epoch_images=0,
        batch_size=recipe["batch_size"],
        lr=recipe["lr_prune"] if method == "prune" else recipe["lr_qat"],
        momentum=recipe["momentum"],
        weight_decay=recipe["weight_decay"],
        final_lr_ratio=recipe["final_lr_ratio"],
        scale_lr=recipe["scale_lr"],
        first_last_bits=recipe["first_last_bits"],
        mask_interval=recipe["mask_interval"],
        prune_end=recipe["prune_end"],
        bn_batches=recipe["bn_batches"],
        probe_points=0,
        device=device,
    )


def run_imagenet(
    root,
    arch: str,
    method: str,
    *,
    n_bits: int | None = None,
    sparsity: float = 0.0,
    seed: int = 0,
    epochs: int = 20,
    device: str = "auto",
    out=None,
    progress: bool = True,
    workers: int = 4,
) -> dict:
    """Fine-tune ``arch`` on the ImageNet folder ``root`` with the paper's recipe; return the run's record.

    Everything is checked before the weights or any image are loaded: the architecture, method,
    bit-width and sparsity (:func:`imagenet_spec`), the device, the output path and the folder
    layout (:class:`~pvq.finetune.imagenet_data.ImageNetTask`). Then :func:`pvq.finetune.loop.finetune` runs from
    :func:`imagenet_base_state`.

    Parameters
    ----------
    out : str or Path, optional
        JSON file the record is written to (atomically, :func:`pvq.common.files.atomic_write`).
    progress : bool
        Show a progress bar over the optimiser steps.
    workers : int
        Image decoding threads of the :class:`~pvq.finetune.imagenet_data.ImageNetTask`.

    Returns
    -------
    dict
        The record of :func:`~pvq.finetune.loop.finetune` (``status``, ``accuracy`` = top-1 on val,
        ``zeros``, ``avg_bits``, ``loss`` …) plus ``data_root``, ``n_train``, ``n_val``,
        ``n_classes`` and ``weights`` (the source of the pretrained weights).

    Raises
    ------
    ValueError
        Invalid arguments (see :func:`imagenet_spec`), an unavailable device, or ``out`` naming a folder.
    DatasetNotFoundError
        A folder without the ImageNet layout (see :func:`pvq.finetune.imagenet_data.check_imagenet_folder`).
    """
    spec = imagenet_spec(arch, method, n_bits=n_bits, sparsity=sparsity, seed=seed, epochs=epochs, device=device)
    resolve_device(spec.device)
    if out is not None and Path(out).is_dir():
        raise ValueError(f"--out {out} is a folder; give a JSON file name")
    task = ImageNetTask(root, workers=workers)
    total = spec.epochs * steps_per_epoch(spec.epoch_images, spec.batch_size, task.n_train)
    if task.n_train < spec.batch_size:
        raise ValueError(f"{root} has {task.n_train} training images, fewer than one batch of {spec.batch_size}")
    state = imagenet_base_state(arch)
    try:
        with tqdm(total=total, desc=f"{arch} {spec.label()}", unit="step", disable=not progress) as bar:
            record = finetune(spec, state, task, progress=lambda step, _total: bar.update(step - bar.n))
    finally:
        task.close()
    record.update(
        data_root=str(task.root),
        n_train=task.n_train,
        n_val=task.n_val,
        n_classes=task.n_classes,
        weights=spec.base.source,
    )
    if out is not None:
        atomic_write(Path(out), lambda p: p.write_text(json.dumps(record, indent=2)))
    return record


def cached_imagenet_run(
    root, arch: str, method: str, *, folder, epochs: int = 20, device: str = "auto", **point
) -> dict:
    """The record of one ImageNet run: read from ``folder`` when it finished before, else run now.

    The record lives in ``folder/imagenet-<key>.json``, ``<key>`` being the run's
    :meth:`~pvq.finetune.recipe.FineTuneSpec.key`; a file whose ``key`` differs (or an unreadable
    one) is run again (:func:`run_imagenet`, which writes it). ``point`` is ``n_bits=…`` or
    ``sparsity=…``.
    """
    spec = imagenet_spec(arch, method, epochs=epochs, device=device, **point)
    path = Path(folder) / f"imagenet-{spec.key()}.json"
    record = read_json(path)
    if isinstance(record, dict) and record.get("key") == spec.key():
        return record
    return run_imagenet(root, arch, method, epochs=epochs, device=device, out=path, **point)


def imagenet_table(p, *, folder, n_bits: int = 4) -> pd.DataFrame:
    """Paper §6 on ImageNet: INT-b QAT and gradual pruning at the paired sparsity, beside the paper's cells.

    Each run is :func:`cached_imagenet_run` (so a finished run is read, not repeated); the paired
    sparsity is :math:`c = 1 - b/16` (:func:`pvq.core.pruning.paired_sparsity`). The paper's rows
    are its one recovered Table 1 cell, ResNet-50 at INT4 and 75% pruning
    (:data:`pvq.common.paper.PAPER`).

    Parameters
    ----------
    p : pvq.book.training_params.FineTuningParams
        Or any object with ``imagenet_dir`` (the folder with ``train/<class>/`` and
        ``val/<class>/``), ``imagenet_arch``, ``imagenet_epochs`` and ``device``.
    folder : str or Path
        Where the run records are kept.
    n_bits : int
        The comparison point (the paper's: INT4 against 75% pruning).

    Returns
    -------
    pandas.DataFrame
        ``network, method, status, top-1`` (a fraction): the two runs, then the paper's two cells.
    """
    rows = []
    for method, point in (("qat", {"n_bits": n_bits}), ("prune", {"sparsity": paired_sparsity(n_bits)})):
        kw = {"folder": folder, "epochs": p.imagenet_epochs, "device": p.device, **point}
        record = cached_imagenet_run(p.imagenet_dir, p.imagenet_arch, method, **kw)
        label = imagenet_spec(p.imagenet_arch, method, epochs=p.imagenet_epochs, **point).label()
        rows.append(
            {"network": p.imagenet_arch, "method": label, "status": record["status"], "top-1": record["accuracy"]}
        )
    for label, name in (("INT4", "resnet50_int4_top1"), ("75% pruning", "resnet50_prune75_top1")):
        rows.append({"network": "ResNet-50 (paper)", "method": label, "status": "paper", "top-1": PAPER[name][0]})
    return pd.DataFrame(rows)
