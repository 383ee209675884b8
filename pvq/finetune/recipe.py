"""A fine-tuning run, described: the recipe shared by QAT and gradual pruning (paper §6).

One recipe for both methods, as in the paper's repository: the same epochs, data order, optimiser
(SGD with momentum, cosine learning rate from ``lr`` to ``final_lr_ratio · lr``) and weight decay;
QAT adds a separate Adam optimiser for the quantization scales, pruning a Zhu–Gupta mask schedule.

A run is a :class:`FineTuneSpec` (frozen, with a stable :meth:`~FineTuneSpec.key` that hashes every
field changing the result), so runs can be cached as JSON and executed in other processes
(:mod:`pvq.finetune.cache`); :mod:`pvq.finetune.loop` carries them out. The defaults of
:class:`FineTuneSpec` are the home of the recipe's defaults: the chapters' parameter record
(:class:`pvq.book.training_params.FineTuningParams`) takes its recipe defaults from here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import ClassVar

import torch

from ..common.checks import check_count, check_positive
from ..core.pruning import BITS_RULE, check_bits, check_sparsity
from ..core.quantization import check_n_bits
from .networks import check_architecture

__all__ = [
    "METHODS",
    "FineTuneSpec",
    "PretrainSpec",
    "PretrainedBase",
    "pretrain_defaults",
    "recipe_defaults",
    "resolve_device",
    "spec_digest",
]

METHODS: tuple[str, ...] = ("qat", "prune", "qat+prune", "fp32")  # 'fp32': the uncompressed control


def resolve_device(device: str) -> torch.device:
    """``'cpu'``, ``'cuda'`` (error if none) or ``'auto'`` (CUDA when present, else CPU)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for, but no CUDA GPU is available; use 'cpu' or 'auto'")
        return torch.device(device)
    raise ValueError(f"device must be 'cpu', 'cuda' or 'auto', got {device!r}")


def spec_digest(fields: dict) -> str:
    """Stable 16-hex-digit hash of a JSON-able mapping (the cache keys)."""
    return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:16]


def _key_fields(obj) -> dict:
    """A spec's fields as its cache key hashes them (nested specs alike).

    ``device`` is left out (it does not change a result), and so is each field of the class's
    ``ADDED_LATER`` while it is 0, its neutral value: runs cached before the field existed keep
    their keys.
    """
    fields = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if f.name == "device" or (f.name in getattr(obj, "ADDED_LATER", ()) and not value):
            continue
        fields[f.name] = _key_fields(value) if dataclasses.is_dataclass(value) else value
    return fields


def _key(obj) -> str:
    return spec_digest(_key_fields(obj))


@dataclass(frozen=True)
class PretrainSpec:
    """Training a network from scratch (the FP32 baseline every fine-tuning run starts from).

    SGD (momentum 0.9), cosine learning rate from ``lr`` to 0, random horizontal flips,
    ``epochs`` passes over the training set less the ``holdout`` validation images
    (:func:`pvq.finetune.data.validation_split`), which the network therefore never sees, so that
    a learning rate selected on them is selected on unseen images. ``epoch_images`` > 0 makes
    each epoch a fresh random subset of that many images (the ``ci`` profile); 0, every image,
    keeps the cache key runs had before the field existed.
    """

    arch: str
    seed: int = 0
    epochs: int = 6
    batch_size: int = 128
    lr: float = 0.1
    weight_decay: float = 5e-4
    holdout: int = 0
    epoch_images: int = 0

    ADDED_LATER: ClassVar[tuple[str, ...]] = ("epoch_images",)  # left out of the key while 0

    def __post_init__(self):
        check_architecture(self.arch)
        check_count(self.seed, "seed", 0)
        check_count(self.holdout, "holdout", 0)
        check_count(self.epoch_images, "pretraining epoch_images", 0)
        check_count(self.epochs, "pretraining epochs")
        check_count(self.batch_size, "batch_size")
        check_positive(self.lr, "lr")

    def key(self) -> str:
        """Stable hash of every field (the cache key)."""
        return f"{self.arch}-{_key(self)}"


@dataclass(frozen=True)
class PretrainedBase:
    """A network pretrained elsewhere and fine-tuned as it is (the ImageNet models of paper §6).

    Unlike :class:`PretrainSpec` it describes no training: the weights come from ``source``
    (e.g. the package file of an offline model, :mod:`pvq.finetune.imagenet`), which is part of the
    cache key, so other weights give other runs.

    Attributes
    ----------
    arch : str
        Architecture name, passed to the task's ``build`` (which validates it).
    source : str
        Where the weights come from.
    """

    arch: str
    source: str

    def __post_init__(self):
        for name in ("arch", "source"):
            v = getattr(self, name)
            if not isinstance(v, str) or not v:
                raise ValueError(f"pretrained base {name} must be a non-empty string, got {v!r}")

    def key(self) -> str:
        """Stable hash of both fields."""
        return f"{self.arch}-{_key(self)}"


@dataclass(frozen=True)
class FineTuneSpec:
    """One fine-tuning run: a method at one compression point, one seed, one recipe.

    Attributes
    ----------
    base : PretrainSpec or PretrainedBase
        The FP32 network fine-tuned: one trained from scratch here (Fashion-MNIST), or one
        pretrained elsewhere (ImageNet, :mod:`pvq.finetune.imagenet`).
    method : {'qat', 'prune', 'qat+prune'}
    n_bits : int or None
        Bit-width of QAT (``None`` for pruning alone).
    sparsity : float
        Target sparsity of pruning (0 for QAT alone).
    seed : int
        Seed of the fine-tuning data order.
    epochs : int
        Fine-tuning epochs of ``epoch_images`` images each.
    epoch_images : int
        Training images per epoch (a fresh random subset each epoch; 0: the whole set).
    lr, momentum, weight_decay, final_lr_ratio, batch_size :
        SGD recipe shared by both methods.
    scale_lr : float
        Adam learning rate of the quantization scales.
    first_last_bits : int or None
        Bit-width of the first and last layer under QAT (``None``: the same as every other layer,
        the ablation where QAT and pruning treat those layers alike).
    validation : int
        0: train on the whole training set and evaluate on the test set. ``n > 0``: train on the
        training set less ``n`` held-out images and evaluate on those
        (:func:`pvq.finetune.data.validation_split`; the learning-rate selection). Unlike the
        other fields it does not describe a method, and :meth:`label` ignores it.
    mask_interval : int
        Steps between pruning mask updates (:math:`\\Delta t`).
    prune_end : float
        Fraction of the run at which the target sparsity is reached.
    bn_batches : int
        Training batches for the batch-norm re-estimation before evaluation.
    test_images : int
        Images the accuracy is measured on: the first ``test_images`` of the evaluation set (the
        test set, or a validation run's held-out images); 0: all of them. A smaller set trades
        precision for time (the ``ci`` profile); 0 leaves the cache key as it was before the field.
    probe_points : int
        Checkpoints at which representations are compared with the original (0: none).
    probe_images : int
        Test images in the probe batch.
    device : str
        ``'cpu'``, ``'cuda'`` or ``'auto'`` (not part of the cache key).
    """

    base: PretrainSpec | PretrainedBase
    method: str
    n_bits: int | None = None
    sparsity: float = 0.0
    seed: int = 0
    epochs: int = 1
    epoch_images: int = 30000
    batch_size: int = 128
    lr: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 5e-5
    final_lr_ratio: float = 0.01
    scale_lr: float = 1e-5
    first_last_bits: int | None = 8
    validation: int = 0
    mask_interval: int = 5
    prune_end: float = 0.75
    bn_batches: int = 50
    test_images: int = 0
    probe_points: int = 0
    probe_images: int = 128
    device: str = dataclasses.field(default="cpu", compare=False)

    ADDED_LATER: ClassVar[tuple[str, ...]] = ("test_images",)  # left out of the key while 0

    def __post_init__(self):
        if not isinstance(self.base, PretrainSpec | PretrainedBase):
            raise ValueError(f"base must be a PretrainSpec or a PretrainedBase, got {type(self.base).__name__}")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        quantized = "qat" in self.method
        if quantized and self.n_bits is None:
            raise ValueError(f"method {self.method!r} needs n_bits (--bits), one of the {BITS_RULE}")
        if quantized:
            check_bits(self.n_bits, name="n_bits")
        elif self.n_bits is not None:
            raise ValueError(f"method {self.method!r} takes no n_bits, got {self.n_bits!r}")
        s = check_sparsity(self.sparsity)
        if "prune" in self.method and s <= 0:
            raise ValueError(f"method {self.method!r} needs a sparsity in (0, 1), got {self.sparsity!r}")
        if self.method == "qat" and s:
            raise ValueError("method 'qat' takes no sparsity; use 'qat+prune'")
        if self.method == "fp32" and s:
            raise ValueError("method 'fp32' (the uncompressed control) takes no sparsity")
        if self.first_last_bits is not None:
            check_n_bits(self.first_last_bits, name="first_last_bits")
        for name in ("epochs", "batch_size", "mask_interval", "bn_batches", "probe_images"):
            check_count(getattr(self, name), name)
        for name in ("epoch_images", "probe_points", "seed", "validation", "test_images"):
            check_count(getattr(self, name), name, 0)
        for name in ("lr", "scale_lr", "final_lr_ratio"):
            check_positive(getattr(self, name), name)
        if self.probe_points and 0 < self.test_images < self.probe_images:
            n = self.probe_images
            raise ValueError(f"test_images ({self.test_images}) must hold the {n} probe images, or be 0")
        if not 0 < self.prune_end <= 1:
            raise ValueError(f"prune_end must be in (0, 1], got {self.prune_end!r}")

    def key(self) -> str:
        """Stable hash of every field that changes the result (the cache key)."""
        return f"{self.base.arch}-{self.method}-{_key(self)}"

    def label(self) -> str:
        """Short description, e.g. ``'INT4'``, ``'75% pruning'``, ``'INT4 + 50% pruning'``.

        QAT with every layer at INT-b (``first_last_bits=None``, the ablation) is ``'INT4, all layers'``.
        """
        if self.method == "fp32":
            return "FP32 fine-tuned"
        parts = []
        if self.n_bits is not None:
            parts.append(f"INT{self.n_bits}" + (", all layers" if self.first_last_bits is None else ""))
        if self.sparsity:
            parts.append(f"{self.sparsity:.2%}".replace(".00%", "%") + " pruning")
        return " + ".join(parts)


def pretrain_defaults() -> dict:
    """The default value of every setting of :class:`PretrainSpec` (``arch`` excluded)."""
    return {f.name: f.default for f in dataclasses.fields(PretrainSpec) if f.default is not dataclasses.MISSING}


def recipe_defaults() -> dict:
    """The default value of every recipe setting of :class:`FineTuneSpec` (``base``, ``method`` excluded)."""
    return {
        f.name: f.default
        for f in dataclasses.fields(FineTuneSpec)
        if f.default is not dataclasses.MISSING and f.name not in ("n_bits", "sparsity", "seed")
    }
