"""An ImageNet folder as a fine-tuning task (paper §6), read with PIL only.

Data follow torchvision's ``ImageFolder`` conventions (:class:`ImageNetTask`):

- class index = position of the class folder in sorted order (the pretrained heads' indices
  when the folder holds the 1000 ImageNet synsets ``n01440764`` …);
- training: random resized crop (area fraction :math:`a \\sim U(0.08, 1)`, aspect ratio
  :math:`r` log-uniform in :math:`[3/4, 4/3]`, resized to ``image_size``), random horizontal flip;
- evaluation: shorter side resized to ``resize`` (bilinear, antialiased), centre crop ``image_size``;
- normalisation :math:`x = (v/255 - \\mu_c)/\\sigma_c` with the ImageNet mean
  :math:`\\mu = (0.485, 0.456, 0.406)` and standard deviation :math:`\\sigma = (0.229, 0.224, 0.225)`.

Images are decoded by ``workers`` threads, a few batches ahead of the training step. The folder's
layout is checked by :func:`check_imagenet_folder` before anything is loaded.
"""

from __future__ import annotations

import math
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn

from ..common.checks import check_count
from ..tensors.pretrained import build_model
from .data import DatasetNotFoundError

__all__ = [
    "ARCHITECTURES",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "IMAGE_SUFFIXES",
    "ImageNetTask",
    "check_imagenet_arch",
    "check_imagenet_folder",
]

#: The ImageNet architectures with offline pretrained weights that can be fine-tuned.
ARCHITECTURES: tuple[str, ...] = ("mobilenet_v2", "efficientnet_lite0")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

IMAGE_SUFFIXES = {".jpeg", ".jpg", ".png"}
_EVAL_BATCH = 100
_PREFETCH = 2  # batches decoded ahead of the one being consumed


def check_imagenet_arch(arch: str) -> str:
    """Validate an ImageNet architecture name (one of :data:`ARCHITECTURES`)."""
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown ImageNet architecture {arch!r}; choose one of {ARCHITECTURES}")
    return arch


def check_imagenet_folder(root) -> dict:
    """Check that ``root`` has the ImageNet layout and count it, before any training starts.

    Expected: ``root/train/<class>/<image>`` and ``root/val/<class>/<image>`` with the same
    class folders on both sides (``.JPEG``, ``.jpg`` or ``.png`` images).

    Returns
    -------
    dict
        ``{'classes': [...], 'train': n_train_images, 'val': n_val_images}``.

    Raises
    ------
    DatasetNotFoundError
        Naming what is missing (the folder, a split, class folders, images, or classes that
        appear on one side only).
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(
            f"ImageNet folder {root} does not exist (expected a folder with train/<class>/ and val/<class>/ images)"
        )
    counts, classes = {}, {}
    for split in ("train", "val"):
        d = root / split
        if not d.is_dir():
            raise DatasetNotFoundError(
                f"ImageNet folder {root} has no '{split}/' sub-folder (expected {split}/<class>/)"
            )
        cls = sorted(p.name for p in d.iterdir() if p.is_dir())
        if not cls:
            raise DatasetNotFoundError(
                f"{d} has no class folders: expected {split}/<class>/<image>; a flat val/ folder must first be "
                "sorted into class folders"
            )
        n = sum(1 for c in cls for p in (d / c).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if n == 0:
            raise DatasetNotFoundError(f"{d} has class folders but no .JPEG/.jpg/.png images")
        counts[split], classes[split] = n, cls
    if classes["train"] != classes["val"]:
        only = sorted(set(classes["train"]) ^ set(classes["val"]))
        raise DatasetNotFoundError(f"train/ and val/ class folders differ (e.g. {only[:5]})")
    return {"classes": classes["train"], **counts}


def _list_split(root: Path, split: str, classes: list[str]) -> list[tuple[Path, int]]:
    return [
        (p, k)
        for k, c in enumerate(classes)
        for p in sorted((root / split / c).iterdir())
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
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
    """An ImageNet folder as a fine-tuning task for :func:`pvq.finetune.loop.finetune` (paper §6).

    Parameters
    ----------
    root : str or Path
        Folder with ``train/<class>/<image>`` and ``val/<class>/<image>`` (the same class folders
        on both sides; a flat ``val/`` must first be sorted into class folders). Checked by
        :func:`pvq.finetune.imagenet_data.check_imagenet_folder` before anything else.
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
        self.image_size = check_count(image_size, "image_size")
        self.resize = check_count(resize, "resize")
        self.workers = check_count(workers, "workers")
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
        """The ImageNet network ``arch`` (:func:`pvq.tensors.pretrained.build_model`), in training mode.

        Raises
        ------
        ValueError
            An architecture not in :data:`ARCHITECTURES`, or a folder with more classes than
            the network's 1000 outputs.
        """
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
        batch_size = check_count(batch_size, "batch_size")
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
        items = self.val[: check_count(n, "n")]
        return torch.cat([x for x, _ in self._eval_batches(items, device)])
