"""Training data for the fine-tuning chapters: Fashion-MNIST from IDX files.

Fashion-MNIST (Xiao et al. 2017; 60,000 training and 10,000 test images, 28×28 grey, ten
classes, MIT licence) is the task the book fine-tunes on: the paper's ImageNet runs need a GPU
for days (paper §6). The four IDX files are looked up, in order, in ``$PVQ_FASHION_MNIST``, the
Debian package ``dataset-fashion-mnist`` (``/usr/share/datasets/fashion-mnist``, installed by
``make``) and ``~/.cache/pvq/fashion-mnist``; :func:`download_fashion_mnist` fetches the original
files into the cache for users with a network.

:func:`validation_split` carves a seeded validation set out of the training images (the
learning-rate selection of chapter 5); the test set is never part of it.

ImageNet folders are read by :mod:`pvq.finetune.imagenet_data`.
"""

from __future__ import annotations

import gzip
import os
import struct
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..common.files import atomic_write

__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_ENV",
    "FASHION_MNIST_FILES",
    "VALIDATION_SEED",
    "DatasetNotFoundError",
    "ImageData",
    "download_fashion_mnist",
    "fashion_mnist_dirs",
    "load_fashion_mnist",
    "read_idx",
    "validation_split",
]

FASHION_MNIST_ENV = "PVQ_FASHION_MNIST"
FASHION_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
FASHION_MNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
#: Seed of the permutation that picks the validation images (:func:`validation_split`).
VALIDATION_SEED = 0
# IDX type codes (LeCun's format): 0x08 unsigned byte, 0x09 signed byte, 0x0B short, 0x0C int,
# 0x0D float, 0x0E double; all stored big-endian.
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class DatasetNotFoundError(FileNotFoundError):
    """A data set is missing or incomplete; the message says how to get it."""


def read_idx(path) -> np.ndarray:
    """Read one IDX file (gzip-compressed or not: told by its first bytes) into an array.

    The header is two zero bytes, a type code, the number of dimensions ``d``, then ``d``
    big-endian 32-bit sizes; the data follow in C order.

    Raises
    ------
    ValueError
        If the header is malformed or the file is shorter or longer than the header says.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":  # gzip magic
            raw = gzip.decompress(raw)
    except (OSError, EOFError) as exc:  # truncated gzip stream, bad CRC, ...
        raise ValueError(f"{path}: not a readable IDX file ({exc})") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(f"{path}: IDX data has {len(raw) - header} bytes, header {shape} says {expected}")
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))


def fashion_mnist_dirs() -> list[Path]:
    """Folders searched for the Fashion-MNIST IDX files, in order."""
    dirs = []
    if os.environ.get(FASHION_MNIST_ENV):
        dirs.append(Path(os.environ[FASHION_MNIST_ENV]))
    dirs += [Path("/usr/share/datasets/fashion-mnist"), Path.home() / ".cache" / "pvq" / "fashion-mnist"]
    return dirs


@dataclass(frozen=True)
class ImageData:
    """An in-memory image classification data set.

    Attributes
    ----------
    x_train, x_test : numpy.ndarray
        ``uint8`` images, shape ``(n, 1, 28, 28)``.
    y_train, y_test : numpy.ndarray
        ``int64`` labels in ``0 .. n_classes-1``.
    source : str
        Folder the files came from.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    @property
    def n_classes(self) -> int:
        """Number of classes."""
        return int(self.y_train.max()) + 1


def _missing_message(searched: list[Path]) -> str:
    where = ", ".join(str(d) for d in searched)
    return (
        "Fashion-MNIST not found (looked in: "
        f"{where}). Get it with one of: 'sudo apt-get install dataset-fashion-mnist' (Debian/Ubuntu; "
        "'make' does this when run as root); 'python -c \"import pvq.finetune.data as d; d.download_fashion_mnist()\"' "
        f"(needs a network); or put the four files {sorted(FASHION_MNIST_FILES.values())} in a folder "
        f"named by ${FASHION_MNIST_ENV}."
    )


def load_fashion_mnist(folder=None) -> ImageData:
    """Load Fashion-MNIST from ``folder`` or the first folder of :func:`fashion_mnist_dirs` holding it.

    Raises
    ------
    DatasetNotFoundError
        If no folder holds all four files (the message says how to get them).
    ValueError
        If a file is corrupt or the images and labels disagree.
    """
    searched = [Path(folder)] if folder is not None else fashion_mnist_dirs()
    for d in searched:
        files = {k: d / v for k, v in FASHION_MNIST_FILES.items()}
        if all(p.is_file() for p in files.values()):
            break
    else:
        raise DatasetNotFoundError(_missing_message(searched))
    arrays = {k: read_idx(p) for k, p in files.items()}
    for split in ("train", "test"):
        x, y = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise ValueError(f"{d}: {split} images {x.shape} and labels {y.shape} do not match")
        if y.size and (y.min() < 0 or y.max() > 9):
            raise ValueError(f"{d}: {split} labels outside 0..9")
    return ImageData(
        x_train=arrays["train_images"][:, None].astype(np.uint8),
        y_train=arrays["train_labels"].astype(np.int64),
        x_test=arrays["test_images"][:, None].astype(np.uint8),
        y_test=arrays["test_labels"].astype(np.int64),
        source=str(d),
    )


def validation_split(data: ImageData, n: int, *, seed: int = VALIDATION_SEED) -> ImageData:
    """Hold out ``n`` training images as a validation set: train on the rest, "test" on them.

    The validation images are the first ``n`` of a permutation of the training indices drawn with
    ``numpy.random.default_rng(seed)``, so the split is the same in every process and build. The
    returned set's training part is the remaining ``N - n`` training images (in their original
    order) and its test part the ``n`` validation images; the real test images are not in it at
    all, so that whatever is selected on it never sees them.

    Parameters
    ----------
    data : ImageData
        The full set (e.g. :func:`load_fashion_mnist`).
    n : int
        Validation images, ``1 <= n < N`` (``N`` training images).
    seed : int
        Seed of the permutation.

    Returns
    -------
    ImageData
        ``x_train, y_train``: the training images left; ``x_test, y_test``: the validation images;
        ``source`` names the split.
    """
    total = data.x_train.shape[0]
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or not 1 <= n < total:
        raise ValueError(f"validation images must be an integer in [1, {total - 1}], got {n!r}")
    held = np.random.default_rng(seed).permutation(total)[:n]
    keep = np.ones(total, dtype=bool)
    keep[held] = False
    held.sort()
    return ImageData(
        x_train=data.x_train[keep],
        y_train=data.y_train[keep],
        x_test=data.x_train[held],
        y_test=data.y_train[held],
        source=f"{data.source} (training images; {n} held out for validation, seed {seed})",
    )


def download_fashion_mnist(folder=None, *, url: str = FASHION_MNIST_URL) -> Path:  # pragma: no cover - network
    """Download the four original Fashion-MNIST files into ``folder`` (default ``~/.cache/pvq/fashion-mnist``).

    Each file is written atomically and checked by :func:`read_idx`; files already present
    are kept.
    """
    folder = Path(folder) if folder is not None else Path.home() / ".cache" / "pvq" / "fashion-mnist"
    for name in FASHION_MNIST_FILES.values():
        target = folder / name
        if target.is_file():
            continue

        def fetch(tmp, name=name):
            with urllib.request.urlopen(url + name, timeout=60) as r:
                tmp.write_bytes(r.read())
            read_idx(tmp)  # a corrupt download raises here and never replaces anything

        atomic_write(target, fetch)
    return folder
