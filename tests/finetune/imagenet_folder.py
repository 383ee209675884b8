"""A tiny ImageNet-layout folder for the ImageNet tests, and ways to break it."""

import shutil

import numpy as np
from PIL import Image

from pvq.finetune.imagenet_data import IMAGENET_MEAN, IMAGENET_STD

CLASSES = ("n01", "n02")  # class 0: red channel >= 150, class 1: red channel <= 100


def _colour(rng, k):
    red = rng.integers(150, 256) if k == 0 else rng.integers(0, 101)
    return (int(red), int(rng.integers(0, 256)), int(rng.integers(0, 256)))


def make_folder(root, *, n_train=6, n_val=2, seed=0):
    """Solid-colour images of varied sizes, PNG and JPEG, in train/<class>/ and val/<class>/."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        for k, c in enumerate(CLASSES):
            d = root / split / c
            d.mkdir(parents=True)
            for i in range(n):
                size = (int(rng.integers(40, 64)), int(rng.integers(40, 64)))
                img = Image.new("RGB", size, _colour(rng, k))
                if i % 2:
                    img.save(d / f"img{i}.JPEG", quality=100)
                else:
                    img.save(d / f"img{i}.png")
    return root


def break_folder(root, how):
    """The folder with one defect: ``missing``, ``no val``, ``flat val``, ``other classes``, ``no images``."""
    if how == "missing":
        return root / "nowhere"
    if how == "no val":
        shutil.rmtree(root / "val")
    elif how == "flat val":
        for f in (root / "val").rglob("*.png"):
            f.rename(root / "val" / f"{f.parent.name}_{f.name}")
        for c in CLASSES:
            shutil.rmtree(root / "val" / c)
    elif how == "other classes":
        (root / "val" / CLASSES[1]).rename(root / "val" / "n99")
    elif how == "no images":
        for f in (root / "train").rglob("*.*"):
            f.rename(f.with_suffix(".txt"))
    else:
        raise ValueError(how)
    return root


def red(x):
    """Red channel values (0–255) back from normalised inputs."""
    return (x[:, 0] * IMAGENET_STD[0] + IMAGENET_MEAN[0]) * 255
