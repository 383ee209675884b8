"""Fine-tuning the ImageNet models with QAT or gradual pruning: the paper's §6 set-up (documented, not run in CI).

The paper's Table 1 and Figure 5 fine-tune ImageNet-pretrained networks for 20 epochs with either
quantization in the loop (INT4 weights, :mod:`pvq.qat`) or gradual magnitude pruning to 75%
sparsity (:mod:`pvq.gradual`). This module runs the same :func:`pvq.training.finetune` loop as the
Fashion-MNIST chapters on an ImageNet folder, starting from the offline pretrained weights of
:mod:`pvq.weights` (``mobilenet_v2``: torchvision's ``IMAGENET1K_V1`` file; ``efficientnet_lite0``),
with the hyperparameters of the paper's repository (:data:`PAPER_RECIPES`).

Data (:class:`ImageNetTask`) follow torchvision's ``ImageFolder`` conventions with PIL only:

- class index = position of the class folder in sorted order (the pretrained heads' indices
  when the folder holds the 1000 ImageNet synsets ``n01440764`` …);
- training: random resized crop (area fraction :math:`a \\sim U(0.08, 1)`, aspect ratio
  :math:`r` log-uniform in :math:`[3/4, 4/3]`, resized to ``image_size``), random horizontal flip;
- evaluation: shorter side resized to ``resize`` (bilinear, antialiased), centre crop ``image_size``;
- normalisation :math:`x = (v/255 - \\mu_c)/\\sigma_c` with the ImageNet mean
  :math:`\\mu = (0.485, 0.456, 0.406)` and standard deviation :math:`\\sigma = (0.229, 0.224, 0.225)`.

Images are decoded by ``workers`` threads, a few batches ahead of the training step.

Typical use (a GPU and the ImageNet folder ``/data/imagenet`` with ``train/`` and ``val/``)::

    python -m pvq imagenet /data/imagenet --arch mobilenet_v2 --method qat --bits 4 --out int4.json
    python -m pvq imagenet /data/imagenet --arch mobilenet_v2 --method prune --sparsity 0.75
"""

from __future__ import annotations

import json
import math
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from .data import _IMAGE_SUFFIXES, check_imagenet_folder
from .training import PAPER_RECIPE, FineTuneSpec, PretrainedBase, finetune, resolve_device, steps_per_epoch

__all__ = [
    "ARCHITECTURES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "PAPER_RECIPES",
    "ImageNetTask",
    "check_imagenet_arch",
    "imagenet_base_state",
    "imagenet_spec",
    "run_imagenet",
]

#: The ImageNet architectures with offline pretrained weights that can be fine-tuned.
ARCHITECTURES: tuple[str, ...] = ("mobilenet_v2", "efficientnet_lite0")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Source: the paper's repository, github.com/Qualcomm-AI-research/pruning-vs-quantization, README
# ("ImageNet experiments": the `main.py train-compressed` commands and the table of batch size, weight
# decay and learning rates). LR_cosine (the final learning rate) is always 1e-2 · LR; QAT: weight-only,
# per-tensor, MSE range initialisation, scales trained by a separate Adam optimiser (lr 1e-5); pruning:
# zhu_gupta, s_i = 0, s_f = 0.75, from epoch 0 to epoch 15 of 20. The mask interval (50 steps) and the 50
# batch-norm re-estimation batches complete the recipe; the shared values are pvq.training.PAPER_RECIPE.
_COMMON = {k: v for k, (v, _source) in PAPER_RECIPE.items()}
#: The paper repository's ImageNet hyperparameters for each architecture, namely ``lr_prune`` (75%
#: pruning), ``lr_qat`` (INT4 QAT), ``batch_size``, ``weight_decay`` and the settings shared by both methods.
PAPER_RECIPES: dict[str, dict] = {
    "mobilenet_v2": {"lr_prune": 3.3e-4, "lr_qat": 3.3e-4, "batch_size": 128, "weight_decay": 5e-5, **_COMMON},
    "efficientnet_lite0": {"lr_prune": 3.3e-4, "lr_qat": 3.3e-3, "batch_size": 128, "weight_decay": 5e-5, **_COMMON},
}

_EVAL_BATCH = 100
_PREFETCH = 2  # batches decoded ahead of the one being consumed


def check_imagenet_arch(arch: str) -> str:
    """Validate an ImageNet architecture name (one of :data:`ARCHITECTURES`)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown ImageNet architecture {arch!r}; choose one of {ARCHITECTURES}")
    return arch


def _positive_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
    return value


def _list_split(root: Path, split: str, classes: list[str]) -> list[tuple[Path, int]]:
    return [
        (p, k)
        for k, c in enumerate(classes)
        for p in sorted((root / split / c).iterdir())
        if p.suffix.lower() in _IMAGE_SUFFIXES and p.is_file()
    ]


def _open_rgb(path: Path) -> Image.Image:
    with Image.open(path) as img:
        return img.convert("RGB")


def _random_resized_crop(img: Image.Image, size: int, rng: np.random.Generator) -> Image.Image:
    """torchvision's ``RandomResizedCrop(size, scale=(0.08, 1), ratio=(3/4, 4/3))`` with PIL."""
    w, h = img.size
    area = w * h
    log_ratio = (math.log(3 / 4), math.log(4 / 3))
    for _ in range(10):
        target = area * rng.uniform(0.08, 1.0)
        ratio = math.exp(rng.uniform(*log_ratio))
        cw, ch = round(math.sqrt(target * ratio)), round(math.sqrt(target / ratio))
        if 0 < cw <= w and 0 < ch <= h:
            top, left = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            break
    else:  # fall back to the central crop with the ratio clamped to [3/4, 4/3]
        if w / h < 3 / 4:
            cw, ch = w, round(w / (3 / 4))
        elif w / h > 4 / 3:
            cw, ch = round(h * 4 / 3), h
        else:
            cw, ch = w, h
        top, left = (h - ch) // 2, (w - cw) // 2
    return img.resize((size, size), Image.Resampling.BILINEAR, box=(left, top, left + cw, top + ch))


def _resize_center_crop(img: Image.Image, resize: int, size: int) -> Image.Image:
    """torchvision's ``Resize(resize)`` (shorter side) then ``CenterCrop(size)`` with PIL."""
    w, h = img.size
    if w <= h:
        nw, nh = resize, int(resize * h / w)
    else:
        nw, nh = int(resize * w / h), resize
    img = img.resize((nw, nh), Image.Resampling.BILINEAR)
    top, left = round((nh - size) / 2), round((nw - size) / 2)
    return img.crop((left, top, left + size, top + size))


def _prefetched(pool: ThreadPoolExecutor, jobs, depth: int):
    """Yield ``(results, extra)`` for each ``(fn, [args...], extra)`` of ``jobs``, ``depth`` batches ahead."""
    pending: deque = deque()

    def submit() -> bool:
        job = next(jobs, None)
        if job is None:
            return False
        fn, args, extra = job
        pending.append(([pool.submit(fn, *a) for a in args], extra))
        return True

    for _ in range(depth):
        if not submit():
            break
    while pending:
        futures, extra = pending.popleft()
        submit()
        yield [f.result() for f in futures], extra


class ImageNetTask:
    """An ImageNet folder as a fine-tuning task for :func:`pvq.training.finetune` (paper §6).

    Parameters
    ----------
    root : str or Path
        Folder with ``train/<class>/<image>`` and ``val/<class>/<image>`` (the same class folders
        on both sides; a flat ``val/`` must first be sorted into class folders). Checked by
        :func:`pvq.data.check_imagenet_folder` before anything else.
    image_size : int
        Side of the square network input (224 in the paper).
    resize : int
        Shorter side of a validation image before the centre crop (256 in the paper).
    workers : int
        Threads decoding and transforming images (PIL), overlapping with the training step.

    Raises
    ------
    DatasetNotFoundError
        A missing folder, split, class folders or images, or different classes in train/ and val/.
    ValueError
        A non-positive size or worker count, or ``resize < image_size``.
    """

    def __init__(self, root, *, image_size: int = 224, resize: int = 256, workers: int = 4):
        info = check_imagenet_folder(root)
        self.image_size = _positive_int(image_size, "image_size")
        self.resize = _positive_int(resize, "resize")
        self.workers = _positive_int(workers, "workers")
        if resize < image_size:
            raise ValueError(f"resize ({resize}) must be >= image_size ({image_size}) for the centre crop")
        self.root = Path(root)
        self.classes: list[str] = info["classes"]
        self.train = _list_split(self.root, "train", self.classes)
        self.val = _list_split(self.root, "val", self.classes)
        self.n_train, self.n_val, self.n_classes = len(self.train), len(self.val), len(self.classes)
        self._pool: ThreadPoolExecutor | None = None
        self._mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        self._std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)

    # -- plumbing -------------------------------------------------------------------------------
    @property
    def pool(self) -> ThreadPoolExecutor:
        """The decoding threads (started on first use)."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="pvq-imagenet")
        return self._pool

    def close(self) -> None:
        """Stop the decoding threads (pending decodes are dropped); the task can still be used."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return (
            f"ImageNetTask({str(self.root)!r}, classes={self.n_classes}, train={self.n_train}, val={self.n_val}, "
            f"image_size={self.image_size}, resize={self.resize})"
        )

    def _train_image(self, path: Path, seed: int, flip: bool) -> np.ndarray:
        rng = np.random.default_rng(seed)
        img = _random_resized_crop(_open_rgb(path), self.image_size, rng)
        if flip and rng.uniform() < 0.5:
            img = img.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        return np.asarray(img, dtype=np.uint8)

    def _eval_image(self, path: Path) -> np.ndarray:
        return np.asarray(_resize_center_crop(_open_rgb(path), self.resize, self.image_size), dtype=np.uint8)

    def _to_tensor(self, images: list[np.ndarray], device) -> torch.Tensor:
        """uint8 ``(n, H, W, 3)`` → normalised float ``(n, 3, H, W)`` in channels-last memory on ``device``."""
        x = torch.from_numpy(np.stack(images)).to(device).permute(0, 3, 1, 2).float().div_(255.0)
        x = x.sub_(self._mean.to(x.device)).div_(self._std.to(x.device))
        return x.contiguous(memory_format=torch.channels_last)

    # -- the task interface ---------------------------------------------------------------------
    def build(self, arch: str) -> nn.Module:
        """The ImageNet network ``arch`` (:func:`pvq.architectures.build_model`), in training mode.

        Raises
        ------
        ValueError
            An architecture not in :data:`ARCHITECTURES`, or a folder with more classes than
            the network's 1000 outputs.
        """
        from .architectures import build_model

        model = build_model(check_imagenet_arch(arch))
        outputs = [m for m in model.modules() if isinstance(m, nn.Linear)][-1].out_features
        if self.n_classes > outputs:
            raise ValueError(f"{self.root} has {self.n_classes} classes, more than the {outputs} outputs of {arch}")
        return model.train()

    def train_batches(self, *, batch_size: int, images: int, generator: torch.Generator, device, flip: bool):
        """Endless stream of augmented training batches ``(x, y)``.

        Each epoch is a fresh permutation of the training images drawn from ``generator``, of
        which the first ``images`` are used (0: all) in batches of ``batch_size`` (a last partial
        batch is dropped). Every image gets a random resized crop; ``flip`` adds the random
        horizontal flip. The augmentation of each image is drawn from a seed taken from
        ``generator``, so the stream does not depend on thread scheduling.

        Raises
        ------
        ValueError
            Fewer images per epoch than ``batch_size``.
        """
        batch_size = _positive_int(batch_size, "batch_size")
        images = self.n_train if images in (0, None) else min(images, self.n_train)
        if images < batch_size:
            raise ValueError(f"{images} training images per epoch cannot fill a batch of {batch_size}")
        return self._train_stream(batch_size, images, generator, device, flip)

    def _train_stream(self, batch_size: int, images: int, generator: torch.Generator, device, flip: bool):
        def jobs():
            while True:
                order = torch.randperm(self.n_train, generator=generator)[:images]
                for i in range(0, images - batch_size + 1, batch_size):
                    idx = order[i : i + batch_size].tolist()
                    seeds = torch.randint(0, 2**62, (len(idx),), generator=generator).tolist()
                    args = [(self.train[j][0], s, flip) for j, s in zip(idx, seeds, strict=True)]
                    yield self._train_image, args, [self.train[j][1] for j in idx]

        for arrays, labels in _prefetched(self.pool, jobs(), _PREFETCH):
            yield self._to_tensor(arrays, device), torch.tensor(labels, device=device)

    def _eval_batches(self, items: list[tuple[Path, int]], device, batch: int = _EVAL_BATCH):
        jobs = (
            (self._eval_image, [(p,) for p, _ in items[i : i + batch]], [k for _, k in items[i : i + batch]])
            for i in range(0, len(items), batch)
        )
        for arrays, labels in _prefetched(self.pool, jobs, _PREFETCH):
            yield self._to_tensor(arrays, device), torch.tensor(labels)

    @torch.no_grad()
    def accuracy(self, model: nn.Module, *, device) -> float:
        """Top-1 accuracy on the whole validation split (evaluation transform, eval mode, batches of 100)."""
        was = model.training
        model.eval()
        correct = 0
        try:
            for x, y in self._eval_batches(self.val, device):
                correct += int((model(x).argmax(1).cpu() == y).sum())
        finally:
            model.train(was)
        return correct / self.n_val

    def probe_inputs(self, n: int, *, device) -> torch.Tensor:
        """The first ``n`` validation images (sorted order), with the evaluation transform."""
        items = self.val[: _positive_int(n, "n")]
        return torch.cat([x for x, _ in self._eval_batches(items, device)])


def _weights_source(arch: str) -> str:
    from .weights import MODELS

    m = MODELS[arch]
    return f"{m.package}/{m.relpath}"


def imagenet_base_state(arch: str) -> dict:
    """The offline ImageNet-pretrained state dict of ``arch``, with the keys of ``build_model(arch)``.

    Read from the model's package file (:data:`pvq.weights.MODELS`) as
    :func:`pvq.architectures.build_model` does.

    Raises
    ------
    ValueError
        An architecture not in :data:`ARCHITECTURES`.
    FileNotFoundError
        The package holding the weights is not installed (``requirements-assets.txt``).
    """
    from .weights import resolve

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
        An unknown architecture or method, a bit-width outside 1..16, a sparsity outside [0, 1),
        or a combination the method does not take (checked by :class:`~pvq.training.FineTuneSpec`).
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
    layout (:class:`ImageNetTask`). Then :func:`pvq.training.finetune` runs from
    :func:`imagenet_base_state`.

    Parameters
    ----------
    out : str or Path, optional
        JSON file the record is written to (atomically, :func:`pvq.publish.atomic_write`).
    progress : bool
        Show a progress bar over the optimiser steps.
    workers : int
        Image decoding threads of the :class:`ImageNetTask`.

    Returns
    -------
    dict
        The record of :func:`~pvq.training.finetune` (``status``, ``accuracy`` = top-1 on val,
        ``zeros``, ``avg_bits``, ``loss`` …) plus ``data_root``, ``n_train``, ``n_val``,
        ``n_classes`` and ``weights`` (the source of the pretrained weights).

    Raises
    ------
    ValueError
        Invalid arguments (see :func:`imagenet_spec`), an unavailable device, or ``out`` naming a folder.
    DatasetNotFoundError
        A folder without the ImageNet layout (see :func:`pvq.data.check_imagenet_folder`).
    """
    from tqdm.auto import tqdm

    from .publish import atomic_write

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
