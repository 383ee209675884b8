"""Training from scratch and fine-tuning with quantization or pruning in the loop (paper §6).

Carries out the runs that :mod:`pvq.finetune.recipe` describes: QAT (:mod:`pvq.finetune.qat`) and
gradual pruning (:mod:`pvq.finetune.gradual`) share one loop. Batch-norm is not folded; its
statistics are re-estimated on ``bn_batches`` training batches before every evaluation
(:func:`reestimate_bn`). A non-finite loss stops the run and marks it ``diverged``. A run returns
a plain dict (its record), ready to be cached as JSON.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..core.pruning import BASELINE_BITS
from .data import ImageData, validation_split
from .gradual import GradualPruner
from .networks import build_trainable, probe_layers, weight_layers
from .qat import attach_qat, bake, clamp_scales, scale_parameters
from .recipe import FineTuneSpec, PretrainSpec, resolve_device
from .representations import PROBE_BN_BATCHES, RepresentationProbe, last_mask_update, probe_steps

__all__ = [
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
    "ArrayTask",
    "as_task",
    "evaluate",
    "finetune",
    "prepare_images",
    "pretrain",
    "reestimate_bn",
    "steps_per_epoch",
    "stored_bits",
    "training_step",
    "weight_statistics",
]

FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.2860, 0.3530


def prepare_images(x: np.ndarray, device) -> torch.Tensor:
    """Fashion-MNIST uint8 images ``(n, 1, 28, 28)`` as normalised float inputs, channels-last, on ``device``."""
    t = torch.from_numpy(x).to(device).float().div_(255.0).sub_(FASHION_MNIST_MEAN).div_(FASHION_MNIST_STD)
    return t.contiguous(memory_format=torch.channels_last)


def _batches(data: ImageData, *, batch_size: int, images: int, generator: torch.Generator, device, flip: bool):
    """Endless stream of training batches: each epoch a fresh permutation (first ``images`` of it)."""
    n = data.x_train.shape[0]
    images = n if images in (0, None) else min(images, n)
    y_all = torch.from_numpy(data.y_train)
    while True:
        order = torch.randperm(n, generator=generator)[:images]
        for i in range(0, images - batch_size + 1, batch_size):
            idx = order[i : i + batch_size].numpy()
            x = prepare_images(data.x_train[idx], device)
            if flip:
                m = (torch.rand(x.shape[0], generator=generator) < 0.5).to(device)
                x = torch.where(m[:, None, None, None], x.flip(3), x)
            yield x, y_all[idx].to(device)


class ArrayTask:
    """The fine-tuning task behind :func:`finetune`: in-memory images (Fashion-MNIST).

    Any object with the same four methods and ``n_train`` / ``n_classes`` attributes can stand in
    (:class:`pvq.finetune.imagenet_data.ImageNetTask` streams an ImageNet folder).
    """

    def __init__(self, data: ImageData):
        self.data = data
        self.n_train = data.x_train.shape[0]
        self.n_classes = data.n_classes

    def build(self, arch: str) -> nn.Module:
        """A network for this task (weights loaded separately)."""
        return build_trainable(arch, n_classes=self.n_classes)

    def train_batches(self, *, batch_size: int, images: int, generator: torch.Generator, device, flip: bool):
        """Endless stream of ``(x, y)`` training batches."""
        return _batches(self.data, batch_size=batch_size, images=images, generator=generator, device=device, flip=flip)

    def accuracy(self, model: nn.Module, *, device) -> float:
        """Top-1 test accuracy."""
        return evaluate(model, self.data.x_test, self.data.y_test, device=device)

    def probe_inputs(self, n: int, *, device) -> torch.Tensor:
        """The first ``n`` test images, prepared as network inputs."""
        return prepare_images(self.data.x_test[:n], device)


def as_task(data):
    """Wrap an :class:`~pvq.finetune.data.ImageData` into an :class:`ArrayTask`; pass a task through."""
    return ArrayTask(data) if isinstance(data, ImageData) else data


def steps_per_epoch(images: int, batch_size: int, n_train: int) -> int:
    """Optimiser steps in one epoch of ``images`` training images (0: all ``n_train``)."""
    images = n_train if images in (0, None) else min(images, n_train)
    return max(images // batch_size, 1)


@torch.no_grad()
def reestimate_bn(model: nn.Module, batches, n_batches: int) -> nn.Module:
    """Recompute every batch-norm layer's running statistics on ``n_batches`` batches.

    The running mean and variance are reset and replaced by their plain average over the
    batches (momentum ``None``), in training mode without gradients; parameters, other buffers
    and the model's mode are left as they were.
    """
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return model
    was_training = model.training
    saved = [(m, m.momentum) for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    for _ in range(n_batches):
        x, _y = next(batches)
        model(x)
    for m, mom in saved:
        m.momentum = mom
    model.train(was_training)
    return model


@torch.no_grad()
def evaluate(model: nn.Module, x: np.ndarray, y: np.ndarray, *, device, batch: int = 1000) -> float:
    """Top-1 accuracy of ``model`` (in eval mode) on uint8 images ``x`` and labels ``y``."""
    was = model.training
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch):
        pred = model(prepare_images(x[i : i + batch], device)).argmax(1).cpu()
        correct += int((pred == torch.from_numpy(y[i : i + batch])).sum())
    model.train(was)
    return correct / x.shape[0]


def _cosine(step: int, total: int, lr: float, final_ratio: float) -> float:
    return lr * (final_ratio + (1 - final_ratio) * 0.5 * (1 + math.cos(math.pi * min(step / total, 1.0))))


def pretrain(spec: PretrainSpec, data: ImageData, *, device: str = "cpu", progress=None) -> tuple[dict, dict]:
    """Train ``spec.arch`` from scratch; return ``(state_dict, info)`` with the test accuracy.

    With ``spec.holdout`` the network trains on the training set less the held-out validation
    images (:func:`pvq.finetune.data.validation_split`); the accuracy is always on the test set.
    ``progress`` (optional) is called as ``progress(step, total)``.
    """
    dev = resolve_device(device)
    train = validation_split(data, spec.holdout) if spec.holdout else data
    model = build_trainable(spec.arch, n_classes=data.n_classes, seed=spec.seed).to(dev)
    model = model.to(memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(spec.seed)
    per_epoch = steps_per_epoch(spec.epoch_images, spec.batch_size, train.x_train.shape[0])
    total = spec.epochs * per_epoch
    stream = _batches(train, batch_size=spec.batch_size, images=spec.epoch_images, generator=gen, device=dev, flip=True)
    opt = torch.optim.SGD(model.parameters(), lr=spec.lr, momentum=0.9, weight_decay=spec.weight_decay)
    t0 = time.perf_counter()
    for step in range(total):
        for g in opt.param_groups:
            g["lr"] = _cosine(step, total, spec.lr, 0.0)
        x, y = next(stream)
        loss = F.cross_entropy(model(x), y)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"pretraining {spec.arch} diverged at step {step} (loss {loss.item()})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if progress is not None:
            progress(step + 1, total)
    info = {
        "arch": spec.arch,
        "key": spec.key(),
        "accuracy": evaluate(model, data.x_test, data.y_test, device=dev),
        "train_images": train.x_train.shape[0],
        "parameters": sum(p.numel() for p in model.parameters()),
        "weights": sum(m.weight.numel() for _, m in weight_layers(model)),
        "seconds": time.perf_counter() - t0,
    }
    return {k: v.detach().cpu() for k, v in model.state_dict().items()}, info


def weight_statistics(model: nn.Module, bits: dict | None) -> dict:
    """Zeros and bits per weight of the conv/linear weights of a (baked) model, counted two ways.

    ``avg_bits`` is the paper's Figure 5 x-axis, over all layers, zeros free:
    :math:`\\sum_l b_l \\cdot \\mathrm{nnz}_l / \\sum_l n_l`, with :math:`b_l` the layer's bit-width
    (``bits``; 16 for an unquantized layer, the paper's FP16 baseline) and
    :math:`\\mathrm{nnz}_l` its non-zero weights. ``dense_bits`` counts every weight,
    :math:`\\sum_l b_l n_l / \\sum_l n_l`: a quantized model stored densely (for QAT at INT-b with
    the first and last layer at 8 bits it is a little above b).
    """
    n = nnz = bit_sum = dense_sum = 0
    for name, m in weight_layers(model):
        w = m.weight.detach()
        k = int(torch.count_nonzero(w))
        b = BASELINE_BITS if bits is None else bits[name]
        n += w.numel()
        nnz += k
        bit_sum += b * k
        dense_sum += b * w.numel()
    return {"weights": n, "zeros": 1 - nnz / n, "avg_bits": bit_sum / n, "dense_bits": dense_sum / n}


def stored_bits(method: str, stats: dict) -> float:
    """Bits per weight as Table 1 counts them (paper §1): what each model has to store.

    A model that prunes stores its non-zero weights only (the mask is free, the paper's rule):
    ``avg_bits``; a model that does not prune stores every weight: ``dense_bits``
    (:func:`weight_statistics`). Gradual pruning at :math:`c = 1 - b/16` thus stores exactly b bits
    per weight, QAT at INT-b a little more when its first and last layer stay at 8 bits.
    """
    return stats["avg_bits"] if "prune" in method else stats["dense_bits"]


def training_step(model: nn.Module, x, y, opt, *, scale_opt=None, pruner: GradualPruner | None = None, step: int = 0):
    """One step of the recipe: cross-entropy, backward, SGD (and the scales' Adam), pruning masks.

    The quantization scales are kept positive after their step; the pruned weights are re-zeroed
    after the SGD step and the masks updated for ``step + 1`` (:meth:`pvq.finetune.gradual.GradualPruner.step`).

    Returns
    -------
    torch.Tensor or None
        The loss, or ``None`` (and no update) when it is not finite.
    """
    loss = F.cross_entropy(model(x), y)
    if not torch.isfinite(loss):
        return None
    opt.zero_grad(set_to_none=True)
    if scale_opt is not None:
        scale_opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    if scale_opt is not None:
        scale_opt.step()
        clamp_scales(p for g in scale_opt.param_groups for p in g["params"])
    if pruner is not None:
        pruner.apply()
        pruner.step(step + 1)
    return loss


def _representation_probe(spec: FineTuneSpec, task, original: nn.Module, dev) -> RepresentationProbe:
    """Chapter 7's probe of a run: ``probe_images`` test images, batch-norm re-estimated on
    :data:`~pvq.finetune.representations.PROBE_BN_BATCHES` training batches from the probe's own
    generator (seed ``30000 + seed``)."""

    def batches():
        gen = torch.Generator().manual_seed(30_000 + spec.seed)
        return task.train_batches(batch_size=spec.batch_size, images=0, generator=gen, device=dev, flip=False)

    return RepresentationProbe(
        original,
        task.probe_inputs(spec.probe_images, device=dev),
        probe_layers(original),
        batches=batches,
        n_batches=PROBE_BN_BATCHES,
        reestimate=reestimate_bn,
    )


def finetune(spec: FineTuneSpec, base_state: dict, data, *, progress=None) -> dict:
    """Fine-tune the pretrained network with QAT and/or gradual pruning; return the run's record.

    With ``spec.validation`` the run trains without the held-out validation images and its
    ``accuracy`` is on them (:func:`pvq.finetune.data.validation_split`). The record also holds
    ``lr``, ``first_last_bits`` (of QAT; ``None`` for the other methods and for QAT with every
    layer at INT-b), ``validation``, ``dense_bits`` (:func:`weight_statistics`) and
    ``bits_per_weight`` (:func:`stored_bits`; NaN if diverged).

    Returns
    -------
    dict
        ``status`` ('ok' or 'diverged'), ``accuracy`` (top-1 on the test set after batch-norm
        re-estimation; NaN if diverged), ``zeros`` and ``avg_bits`` of the final weights,
        ``mask_sparsity`` (pruning), ``loss`` ([step, loss] every few steps), ``representations``
        ([{step, layer, snr_db, cka}] at the steps of :func:`pvq.finetune.representations.probe_steps`
        when ``probe_points`` > 0; step 0 is the network compressed, before fine-tuning), ``steps``,
        ``seconds``. The trained network does not depend on the probes (they have their own data).
    """
    dev = resolve_device(spec.device)
    bad = [k for k, v in base_state.items() if torch.is_floating_point(v) and not torch.isfinite(v).all()]
    if bad:
        raise ValueError(f"the starting network has NaN or infinite values in {bad[:5]}: nothing to fine-tune")
    if spec.validation:
        if not isinstance(data, ImageData):
            raise ValueError("a validation run (spec.validation > 0) needs in-memory images (ImageData)")
        data = validation_split(data, spec.validation)  # train on the rest, evaluate on the held-out images
    if spec.test_images:
        if not isinstance(data, ImageData):
            raise ValueError("test_images (a smaller evaluation set) needs in-memory images (ImageData)")
        data = dataclasses.replace(data, x_test=data.x_test[: spec.test_images], y_test=data.y_test[: spec.test_images])
    task = as_task(data)
    model = task.build(spec.base.arch)
    model.load_state_dict(base_state)
    model = model.to(dev).to(memory_format=torch.channels_last)
    probe = _representation_probe(spec, task, model, dev) if spec.probe_points else None
    gen = torch.Generator().manual_seed(10_000 + spec.seed)
    stream = task.train_batches(
        batch_size=spec.batch_size, images=spec.epoch_images, generator=gen, device=dev, flip=True
    )
    bn_gen = torch.Generator().manual_seed(20_000 + spec.seed)  # BN batches: their own stream, same for all methods
    bn_stream = task.train_batches(batch_size=spec.batch_size, images=0, generator=bn_gen, device=dev, flip=False)
    total = spec.epochs * steps_per_epoch(spec.epoch_images, spec.batch_size, task.n_train)

    bits = attach_qat(model, spec.n_bits, first_last_bits=spec.first_last_bits) if "qat" in spec.method else None
    scales = scale_parameters(model)
    scale_ids = {id(p) for p in scales}
    weights = [p for p in model.parameters() if id(p) not in scale_ids]
    opt = torch.optim.SGD(weights, lr=spec.lr, momentum=spec.momentum, weight_decay=spec.weight_decay)
    scale_opt = torch.optim.Adam(scales, lr=spec.scale_lr) if scales else None
    pruner = None
    if "prune" in spec.method:
        end = max(1, round(spec.prune_end * total))
        pruner = GradualPruner(model, final=spec.sparsity, end_step=end, interval=spec.mask_interval)
        pruner.step(0)

    checkpoints = set()
    if probe is not None:  # step 0: compressed, before fine-tuning (one-shot pruning to the target)
        checkpoints = set(
            probe_steps(total, points=spec.probe_points, mask_end=last_mask_update(total, spec.prune_end))
        )
        probe(model, 0, prune_to=spec.sparsity)

    t0 = time.perf_counter()
    status, losses = "ok", []
    every = max(1, total // 100)
    for step in range(total):
        lr = _cosine(step, total, spec.lr, spec.final_lr_ratio)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = next(stream)
        loss = training_step(model, x, y, opt, scale_opt=scale_opt, pruner=pruner, step=step)
        if loss is None:
            status = "diverged"
            losses.append([step, float("nan")])
            break
        if step % every == 0 or step == total - 1:
            losses.append([step, loss.item()])
        if step + 1 in checkpoints:
            probe(model, step + 1)
        if progress is not None:
            progress(step + 1, total)

    record = {
        "key": spec.key(),
        "arch": spec.base.arch,
        "method": spec.method,
        "label": spec.label(),
        "n_bits": spec.n_bits,
        "sparsity": spec.sparsity,
        "seed": spec.seed,
        "epochs": spec.epochs,
        "lr": spec.lr,
        "first_last_bits": spec.first_last_bits if bits is not None else None,
        "validation": spec.validation,
        "dense_bits": math.nan,
        "bits_per_weight": math.nan,
        "steps": total,
        "status": status,
        "loss": losses,
        "mask_sparsity": None if pruner is None else pruner.achieved(),
    }
    if status == "ok":
        reestimate_bn(model, bn_stream, spec.bn_batches)
        bake(model)
        record["accuracy"] = task.accuracy(model, device=dev)
        record.update(weight_statistics(model, bits))
        record["bits_per_weight"] = stored_bits(spec.method, record)
        if any(not torch.isfinite(p).all() for p in model.parameters()):
            record.update(status="diverged", accuracy=math.nan)
    else:
        record.update(accuracy=math.nan, zeros=math.nan, avg_bits=math.nan)
    record["representations"] = [] if probe is None else probe.rows
    record["seconds"] = time.perf_counter() - t0
    return record
