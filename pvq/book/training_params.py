"""Parameters of chapters 5-7 (fine-tuning, combining, representations): the one home of their defaults.

The fine-tuning recipe's settings come from :func:`pvq.finetune.recipe.recipe_defaults`. See
:mod:`pvq.book.params` for how the records are used (validation before any heavy work, the
parameters cell and ``params/full.yaml`` derived from the fields below).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..common.checks import check_count, check_list, check_positive
from ..core.pruning import check_bits, check_bits_list, check_sparsity
from ..finetune.imagenet_data import check_imagenet_arch, check_imagenet_folder
from ..finetune.networks import check_architecture
from ..finetune.recipe import pretrain_defaults, recipe_defaults
from .params import N_BITS, ChapterParams, check_profile

__all__ = ["FineTuningParams"]

_RECIPE = recipe_defaults()


@dataclass(frozen=True)
class FineTuningParams(ChapterParams):
    """Parameters of chapters 5–7 (fine-tuning, combining, representations; paper §6).

    Attributes
    ----------
    profile : {'ci', 'full'}
        Parameter profile: ``'full'`` (the book) or ``'ci'`` (fast, for tests).
    architectures : tuple of str
        Networks trained from scratch on Fashion-MNIST (``'resnet_small'``, ``'mobilenet_small'``).
    ft_bits : tuple of int
        QAT bit-widths; each is compared with pruning at ``1 - b/16``.
    seeds : tuple of int
        Fine-tuning seeds (at least one; the book uses three).
    pretrain_epochs : int
        Epochs of training from scratch.
    pretrain_images : int
        Training images per pretraining epoch (a fresh random subset each epoch; 0: the whole
        training set less the validation images).
    ft_epochs, epoch_images : int
        Fine-tuning epochs, each of ``epoch_images`` random training images (0: all 60,000).
    lr, scale_lr, weight_decay : float
        SGD learning rate when ``lr_grid`` is empty (both methods), Adam learning rate of the QAT
        scales, weight decay.
    lr_grid : tuple of float
        Learning rates tried per network and method on the validation split; each method then
        fine-tunes at its best (empty: every method at ``lr``).
    lr_bits : int
        Comparison point of the selection: QAT at INT-``lr_bits``, pruning at ``1 - lr_bits/16``,
        the combined runs at INT-``lr_bits`` and the first ``combine_sparsity``.
    validation_images : int
        Training images held out for the selection (never seen by the pretrained networks).
    ablation_bits : tuple of int
        Points where QAT also runs with every layer at INT-b (the first and last too), as pruning
        treats them (empty: no ablation).
    mask_interval : int
        Steps between pruning mask updates.
    bn_batches : int
        Batches for batch-norm re-estimation before each evaluation.
    test_images : int
        Images each accuracy is measured on: the first of the test set (or of the validation split
        in the selection); 0: all 10,000 (the ``ci`` profile measures on fewer, to save time).
    long_factors : tuple of int
        Longer fine-tuning: multiples of ``ft_epochs``.
    long_bits : tuple of int
        Comparison points of the longer fine-tuning (INT-b and its paired sparsity).
    combine_bits : tuple of int
        QAT bit-widths additionally pruned in chapter 6.
    combine_sparsity : tuple of float
        Pruning ratios applied on top of them.
    probe_points : int
        Probes evenly over each run where representations are compared with the original (0: none);
        ``probe_points // 4`` more after the last mask update and one at step 0, the network
        compressed before fine-tuning (:func:`pvq.finetune.representations.probe_steps`).
    probe_images : int
        Test images in the representation probe (a modest fixed set: a probe costs about one and a
        half training steps, ``benchmarks/bench_probe.py``).
    workers : int
        Local worker processes for the runs.
    dask_scheduler : str
        Address of a Dask scheduler (empty: local processes; ``$PVQ_DASK_SCHEDULER`` also works).
    device : {'auto', 'cpu', 'cuda'}
        ``'auto'`` trains on a CUDA GPU when one is present.
    data_folder : str
        Folder with the Fashion-MNIST IDX files (empty: the default search).
    imagenet_dir : str
        ImageNet folder (``train/<class>/``, ``val/<class>/``); empty: the ImageNet runs are skipped.
    imagenet_arch : {'mobilenet_v2', 'efficientnet_lite0'}
        Network of the ImageNet runs (from the offline pretrained weights).
    imagenet_epochs : int
        Fine-tuning epochs of the ImageNet runs (the paper: 20).
    """

    profile: str = "full"
    architectures: tuple = ("resnet_small", "mobilenet_small")
    ft_bits: tuple = N_BITS
    seeds: tuple = (0, 1, 2)
    pretrain_epochs: int = pretrain_defaults()["epochs"]
    pretrain_images: int = pretrain_defaults()["epoch_images"]
    ft_epochs: int = _RECIPE["epochs"]
    epoch_images: int = _RECIPE["epoch_images"]
    lr: float = _RECIPE["lr"]
    scale_lr: float = _RECIPE["scale_lr"]
    weight_decay: float = _RECIPE["weight_decay"]
    lr_grid: tuple = (1e-3, 3.3e-3, 1e-2, 3.3e-2, 0.1)
    lr_bits: int = 4
    validation_images: int = 10000
    ablation_bits: tuple = (2, 4)
    mask_interval: int = _RECIPE["mask_interval"]
    bn_batches: int = _RECIPE["bn_batches"]
    test_images: int = _RECIPE["test_images"]
    long_factors: tuple = (2, 4)
    long_bits: tuple = (2,)
    combine_bits: tuple = (4, 8)
    combine_sparsity: tuple = (0.5, 0.75)
    probe_points: int = 20
    probe_images: int = _RECIPE["probe_images"]
    workers: int = 2
    dask_scheduler: str = ""
    device: str = "auto"
    data_folder: str = ""
    imagenet_dir: str = ""
    imagenet_arch: str = "mobilenet_v2"
    imagenet_epochs: int = 20

    def __post_init__(self):
        check_profile(self.profile)
        archs = check_list(self.architectures, "architectures", "network names", empty=False)
        object.__setattr__(self, "architectures", tuple(check_architecture(a) for a in archs))
        object.__setattr__(self, "ft_bits", check_bits_list(self.ft_bits, "ft_bits"))
        seeds = check_list(self.seeds, "seeds", "integers >= 0", empty=False)
        object.__setattr__(self, "seeds", tuple(check_count(s, "seeds", 0) for s in seeds))
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds has repeated values: {list(self.seeds)}")
        check_count(self.pretrain_epochs, "pretrain_epochs")
        check_count(self.pretrain_images, "pretrain_images", 0)
        check_count(self.ft_epochs, "ft_epochs")
        check_count(self.epoch_images, "epoch_images", 0)
        check_count(self.test_images, "test_images", 0)
        for name in ("lr", "scale_lr"):
            check_positive(getattr(self, name), name)
        lrs = check_list(self.lr_grid, "lr_grid", "learning rates > 0 (empty: no selection)")
        grid = tuple(check_positive(v, "lr_grid") for v in lrs)
        if len(set(grid)) != len(grid):
            raise ValueError(f"lr_grid has repeated values: {list(grid)}")
        object.__setattr__(self, "lr_grid", tuple(sorted(float(v) for v in grid)))
        check_bits(self.lr_bits, name="lr_bits")
        check_count(self.validation_images, "validation_images", 0)
        if self.lr_grid and not self.validation_images:
            raise ValueError("validation_images must be > 0 when lr_grid is given (the selection needs a split)")
        ablation = check_list(self.ablation_bits, "ablation_bits", "bit-widths (empty: none)")
        object.__setattr__(self, "ablation_bits", check_bits_list(ablation, "ablation_bits") if ablation else ())
        if isinstance(self.weight_decay, bool) or not (
            isinstance(self.weight_decay, int | float) and self.weight_decay >= 0
        ):
            raise ValueError(f"weight_decay must be a number >= 0, got {self.weight_decay!r}")
        check_count(self.mask_interval, "mask_interval")
        check_count(self.bn_batches, "bn_batches")
        factors = check_list(self.long_factors, "long_factors", "integers >= 2")
        object.__setattr__(self, "long_factors", tuple(check_count(f, "long_factors", 2) for f in factors))
        object.__setattr__(self, "long_bits", check_bits_list(self.long_bits, "long_bits"))
        object.__setattr__(self, "combine_bits", check_bits_list(self.combine_bits, "combine_bits"))
        sparsities = check_list(self.combine_sparsity, "combine_sparsity", "sparsities in (0, 1)", empty=False)
        sp = tuple(check_sparsity(s, name="combine_sparsity") for s in sparsities)
        if any(s == 0 for s in sp):
            raise ValueError("combine_sparsity values must be in (0, 1): 0 is QAT alone, already in the grid")
        object.__setattr__(self, "combine_sparsity", tuple(sorted(sp)))
        check_count(self.probe_points, "probe_points", 0)
        if self.probe_points == 1:
            raise ValueError("probe_points must be 0 (none) or >= 2 (the start and the end of a run)")
        check_count(self.probe_images, "probe_images", 2)
        check_count(self.workers, "workers")
        if not isinstance(self.dask_scheduler, str):
            raise ValueError(f"dask_scheduler must be a string, got {self.dask_scheduler!r}")
        if self.device not in ("auto", "cpu", "cuda"):
            raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', got {self.device!r}")
        if not isinstance(self.data_folder, str):
            raise ValueError(f"data_folder must be a string (empty: default search), got {self.data_folder!r}")
        check_imagenet_arch(self.imagenet_arch)
        check_count(self.imagenet_epochs, "imagenet_epochs")
        if not isinstance(self.imagenet_dir, str):
            raise ValueError(f"imagenet_dir must be a string (empty: no ImageNet runs), got {self.imagenet_dir!r}")
        if self.imagenet_dir:
            check_imagenet_folder(self.imagenet_dir)  # a wrong layout stops here, before any training

    def with_probes(self):
        """This record, after checking that it records representations (``probe_points >= 2``): chapter 7."""
        if self.probe_points < 2:
            raise ValueError("this chapter needs probe_points >= 2 (checkpoints where representations are recorded)")
        return self
