"""Chapter parameters: the one home of every default, validation, and the record of a run.

**The source of every default is a field of the frozen dataclasses below** (the fine-tuning
recipe's settings come from :func:`pvq.finetune.recipe.recipe_defaults`, the per-layer study's
layers from :data:`pvq.layerwise.sweep.DEFAULT_LAYERS`, the model set from
:data:`pvq.tensors.checkpoints.MODELS`). Everything else is derived from them and checked against
them by the tests: each chapter's parameters cell (literal assignments, so that papermill can
override them) and ``params/full.yaml``; ``python -m pvq defaults --write`` rewrites both
(:mod:`pvq.book.profiles`, which also maps each chapter to its record). ``params/ci.yaml``
holds only the fast profile's overrides.

A chapter builds its record in one call, ``P = FineTuningParams.from_namespace(globals())``:
the names its parameters cell (and papermill) defined are validated, raising a
:class:`ValueError` naming the parameter and its allowed values *before* any heavy work, and the
record is displayed as the record of the run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..analytic.distributions import check_distribution_name
from ..common.checks import check_count, check_positive
from ..core.pruning import BASELINE_BITS, check_sparsity
from ..core.quantization import check_bits_list, check_grid, check_n_bits
from ..finetune.imagenet_data import check_imagenet_arch, check_imagenet_folder
from ..finetune.networks import check_architecture
from ..finetune.recipe import pretrain_defaults, recipe_defaults
from ..layerwise.sweep import DEFAULT_LAYERS
from ..tensors.checkpoints import MODELS, ONLINE_PREFIXES

__all__ = [
    "HEAVY_TAIL_FAMILIES",
    "N_BITS",
    "PROFILES",
    "ChapterParams",
    "ClaimsParams",
    "DistributionsParams",
    "FineTuningParams",
    "PerLayerParams",
    "SetupParams",
    "WeightTensorsParams",
    "check_profile",
]

PROFILES: tuple[str, ...] = ("ci", "full")
HEAVY_TAIL_FAMILIES: tuple[str, ...] = ("truncated_student_t", "student_t", "gennorm")
#: The paper's comparison points, INT-b against pruning at ``1 - b/16`` for b = 2..8.
N_BITS: tuple[int, ...] = (2, 3, 4, 5, 6, 7, 8)
_RECIPE = recipe_defaults()


def check_profile(profile: str) -> str:
    """Validate a profile name (``'ci'`` or ``'full'``)."""
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    return profile


class ChapterParams:
    """Shared construction and display of the parameter records."""

    @classmethod
    def from_namespace(cls, namespace: dict):
        """The record of the parameters defined in ``namespace`` (a chapter's ``globals()``).

        Every field found in ``namespace`` is taken (the parameters cell and papermill's injected
        values); a field the chapter does not declare keeps its default.
        """
        return cls(**{f.name: namespace[f.name] for f in dataclasses.fields(cls) if f.name in namespace})

    def to_frame(self) -> pd.DataFrame:
        """The parameters as a two-column table (the record of the run)."""
        rows = [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self)]
        return pd.DataFrame(rows, columns=["parameter", "value"]).set_index("parameter")

    def _repr_html_(self) -> str:
        return self.to_frame().to_html()


@dataclass(frozen=True)
class SetupParams(ChapterParams):
    """Parameters of chapter 1 (set-up and storage accounting).

    Attributes
    ----------
    profile : {'ci', 'full'}
    n_bits : tuple of int
        Bit-widths compared (each in 1..15, below the 16-bit FP16 baseline of the paper,
        :data:`pvq.core.pruning.BASELINE_BITS`).
    index_bits : int
        Index bits per kept weight for the index-based sparse format.
    """

    profile: str = "full"
    n_bits: tuple = N_BITS
    index_bits: int = 4

    def __post_init__(self):
        check_profile(self.profile)
        object.__setattr__(self, "n_bits", check_bits_list(self.n_bits, "n_bits", below=BASELINE_BITS))
        object.__setattr__(self, "index_bits", check_count(self.index_bits, "index_bits"))


@dataclass(frozen=True)
class DistributionsParams(ChapterParams):
    """Parameters of chapter 2 (statistical distributions, Figures 1–2).

    Attributes
    ----------
    profile : {'ci', 'full'}
    n_bits : tuple of int
        Bit-widths, each paired with sparsity ``1 - b/16``.
    grid : {'signed', 'symmetric'}
        Integer grid of the main figures (the normal table shows both).
    distribution : {'normal', 'student_t', 'truncated_student_t', 'laplace', 'gennorm', 'uniform'}
        Light-tailed distribution of Figure 1 (the paper: ``'normal'``).
    figure_n_bits, figure_sparsity : int, float
        The comparison point drawn in Figure 1's left and middle panels (paper: INT4 vs 75%).
    heavy_tail_distribution : {'truncated_student_t', 'student_t', 'gennorm'}
        Family swept over kurtosis in Figure 2.
    dof : float
        Degrees of freedom ``ν > 0`` of the truncated Student-t (the truncation is solved
        for each kurtosis).
    kurtosis_min, kurtosis_max : float
        Range of the Pearson kurtosis axis.
    n_kurtosis : int
        Number of kurtosis values (log-spaced).
    family_dofs : tuple of float
        ``ν`` of the truncated Student-t families in the sensitivity study.
    n_family_kurtosis : int
        Kurtosis values per family in the sensitivity study.
    mc_samples : int
        Monte Carlo samples for the independent check of the analytic errors.
    seed : int
        Seed of the Monte Carlo check.
    """

    profile: str = "full"
    n_bits: tuple = N_BITS
    grid: str = "signed"
    distribution: str = "normal"
    figure_n_bits: int = 4
    figure_sparsity: float = 0.75
    heavy_tail_distribution: str = "truncated_student_t"
    dof: float = 2.0
    kurtosis_min: float = 3.0
    kurtosis_max: float = 200.0
    n_kurtosis: int = 40
    family_dofs: tuple = (1.0, 2.0, 3.0)
    n_family_kurtosis: int = 12
    mc_samples: int = 1_000_000
    seed: int = 0

    def __post_init__(self):
        check_profile(self.profile)
        object.__setattr__(self, "n_bits", check_bits_list(self.n_bits, "n_bits", below=BASELINE_BITS))
        check_grid(self.grid)
        if self.grid == "symmetric" and min(self.n_bits) < 2:
            raise ValueError("grid='symmetric' needs every n_bits >= 2")
        check_distribution_name(self.distribution)
        check_n_bits(self.figure_n_bits, name="figure_n_bits")
        object.__setattr__(self, "figure_sparsity", check_sparsity(self.figure_sparsity, name="figure_sparsity"))
        if self.distribution in ("student_t", "truncated_student_t", "gennorm"):
            raise ValueError(
                f"distribution={self.distribution!r} needs shape parameters; Figure 1 takes a parameter-free family "
                "('normal', 'laplace', 'uniform'); heavy tails are swept by heavy_tail_distribution"
            )
        if self.heavy_tail_distribution not in HEAVY_TAIL_FAMILIES:
            raise ValueError(
                f"heavy_tail_distribution must be one of {HEAVY_TAIL_FAMILIES}, got {self.heavy_tail_distribution!r}"
            )
        object.__setattr__(self, "dof", check_positive(self.dof, "dof (degrees of freedom)"))
        kmin = check_positive(self.kurtosis_min, "kurtosis_min")
        kmax = check_positive(self.kurtosis_max, "kurtosis_max")
        if not 1.8 < kmin < kmax:
            raise ValueError(f"need 1.8 < kurtosis_min < kurtosis_max, got {kmin} and {kmax}")
        object.__setattr__(self, "kurtosis_min", kmin)
        object.__setattr__(self, "kurtosis_max", kmax)
        check_count(self.n_kurtosis, "n_kurtosis", 2)
        dofs = tuple(check_positive(v, "family_dofs (degrees of freedom)") for v in self.family_dofs)
        object.__setattr__(self, "family_dofs", dofs)
        check_count(self.n_family_kurtosis, "n_family_kurtosis", 2)
        check_count(self.mc_samples, "mc_samples", 1000)
        check_count(self.seed, "seed", 0)


@dataclass(frozen=True)
class WeightTensorsParams(ChapterParams):
    """Parameters of chapter 3 (real weight tensors, Figure 3).

    Attributes
    ----------
    profile : {'ci', 'full'}
    models : tuple of str
        Offline short names (:data:`pvq.tensors.checkpoints.MODELS`), checkpoint paths, or online names
        (``torchvision:<name>``, ``hf:<org>/<name>``).
    n_bits : tuple of int
        Bit-widths, each paired with sparsity ``1 - b/16`` (1..15).
    fp16 : bool
        Round weights to FP16 first (the paper's baseline).
    grid : {'signed', 'symmetric'}
    n_certify : int
        Tensors (smallest first) whose clipping optimum is proven by branch and bound, to
        measure the fast search's gap.
    """

    profile: str = "full"
    models: tuple = tuple(MODELS)
    n_bits: tuple = N_BITS
    fp16: bool = True
    grid: str = "signed"
    n_certify: int = 40

    def __post_init__(self):
        check_profile(self.profile)
        if isinstance(self.models, str) or not self.models:
            raise ValueError(f"models must be a non-empty list of model names or paths, got {self.models!r}")
        for m in self.models:
            if not isinstance(m, str):
                raise ValueError(f"models must hold strings, got {m!r}")
            if m not in MODELS and not m.startswith(ONLINE_PREFIXES) and not Path(m).exists():
                raise ValueError(
                    f"unknown model {m!r} in models; known offline models: {', '.join(MODELS)} "
                    "(or a checkpoint path, torchvision:<name>, hf:<org>/<name>)"
                )
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "n_bits", check_bits_list(self.n_bits, "n_bits", below=BASELINE_BITS))
        if not isinstance(self.fp16, bool):
            raise ValueError(f"fp16 must be True or False, got {self.fp16!r}")
        check_grid(self.grid)
        check_count(self.n_certify, "n_certify", 0)


@dataclass(frozen=True)
class PerLayerParams(ChapterParams):
    """Parameters of chapter 4 (per-layer post-training comparison, Figure 4).

    Attributes
    ----------
    profile : {'ci', 'full'}
    layers : dict of str to list of str
        Runnable model (``'mobilenet_v2'``, ``'efficientnet_lite0'``, ``'minilm_l6'``) → layer names.
    n_bits : tuple of int
    n_inputs : int
        Calibration images / text passages (≥ 8).
    chunk_size : int
        Largest number of input dimensions per problem (≥ 1).
    max_chunks : int
        Chunks studied per layer (evenly spread over the layer).
    prune_nodes, quant_nodes : int
        Node budgets of the exact pruning and quantization searches.
    scip_max_n : int
        SCIP cross-check on chunks of at most this many weights (0: none).
    workers : int
        Local worker processes.
    dask_scheduler : str
        Address of a Dask scheduler (empty: local processes; ``$PVQ_DASK_SCHEDULER`` also works).
    seed : int
    """

    profile: str = "full"
    layers: dict = dataclasses.field(default_factory=lambda: {m: tuple(v) for m, v in DEFAULT_LAYERS.items()})
    n_bits: tuple = N_BITS
    n_inputs: int = 64
    chunk_size: int = 32
    max_chunks: int = 8
    prune_nodes: int = 20_000_000
    quant_nodes: int = 200_000_000
    scip_max_n: int = 16
    workers: int = 2
    dask_scheduler: str = ""
    seed: int = 0

    def __post_init__(self):
        runnable = ("mobilenet_v2", "efficientnet_lite0", "minilm_l6")
        check_profile(self.profile)
        if not isinstance(self.layers, dict) or not self.layers:
            raise ValueError(f"layers must map model names to lists of layer names, got {self.layers!r}")
        for model, names in self.layers.items():
            if model not in runnable:
                raise ValueError(f"unknown model {model!r} in layers; runnable models: {runnable}")
            if isinstance(names, str) or not names or not all(isinstance(n, str) for n in names):
                raise ValueError(f"layers[{model!r}] must be a non-empty list of layer names, got {names!r}")
        object.__setattr__(self, "layers", {m: tuple(v) for m, v in self.layers.items()})
        object.__setattr__(self, "n_bits", check_bits_list(self.n_bits, "n_bits", below=BASELINE_BITS))
        check_count(self.n_inputs, "n_inputs", 8)
        check_count(self.chunk_size, "chunk_size", 1)
        check_count(self.max_chunks, "max_chunks", 1)
        check_count(self.prune_nodes, "prune_nodes", 1)
        check_count(self.quant_nodes, "quant_nodes", 1)
        check_count(self.scip_max_n, "scip_max_n", 0)
        check_count(self.workers, "workers", 1)
        if not isinstance(self.dask_scheduler, str):
            raise ValueError(
                f"dask_scheduler must be a string (empty for local processes), got {self.dask_scheduler!r}"
            )
        check_count(self.seed, "seed", 0)


@dataclass(frozen=True)
class FineTuningParams(ChapterParams):
    """Parameters of chapters 5–7 (fine-tuning, combining, representations; paper §6).

    Attributes
    ----------
    profile : {'ci', 'full'}
    architectures : tuple of str
        Networks trained from scratch on Fashion-MNIST (``'resnet_small'``, ``'mobilenet_small'``).
    ft_bits : tuple of int
        QAT bit-widths; each is compared with pruning at ``1 - b/16``.
    seeds : tuple of int
        Fine-tuning seeds (at least one; the book uses three).
    pretrain_epochs : int
        Epochs of training from scratch (whole training set).
    ft_epochs, epoch_images : int
        Fine-tuning epochs, each of ``epoch_images`` random training images (0: all 60,000).
    lr, scale_lr, weight_decay : float
        SGD learning rate (both methods), Adam learning rate of the QAT scales, weight decay.
    mask_interval : int
        Steps between pruning mask updates.
    bn_batches : int
        Batches for batch-norm re-estimation before each evaluation.
    long_factors : tuple of int
        Longer fine-tuning: multiples of ``ft_epochs``.
    long_bits : tuple of int
        Comparison points of the longer fine-tuning (INT-b and its paired sparsity).
    combine_bits : tuple of int
        QAT bit-widths additionally pruned in chapter 6.
    combine_sparsity : tuple of float
        Pruning ratios applied on top of them.
    probe_points : int
        Checkpoints per run where representations are compared with the original (0: none).
    probe_images : int
        Test images in the representation probe.
    workers : int
    dask_scheduler : str
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
    ft_epochs: int = _RECIPE["epochs"]
    epoch_images: int = _RECIPE["epoch_images"]
    lr: float = _RECIPE["lr"]
    scale_lr: float = _RECIPE["scale_lr"]
    weight_decay: float = _RECIPE["weight_decay"]
    mask_interval: int = _RECIPE["mask_interval"]
    bn_batches: int = _RECIPE["bn_batches"]
    long_factors: tuple = (2, 4)
    long_bits: tuple = (2, 3)
    combine_bits: tuple = (2, 4, 8)
    combine_sparsity: tuple = (0.5, 0.75)
    probe_points: int = 6
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
        if isinstance(self.architectures, str) or not self.architectures:
            raise ValueError(f"architectures must be a non-empty list, got {self.architectures!r}")
        object.__setattr__(self, "architectures", tuple(check_architecture(a) for a in self.architectures))
        object.__setattr__(self, "ft_bits", check_bits_list(self.ft_bits, "ft_bits", below=BASELINE_BITS))
        if isinstance(self.seeds, int | str) or not self.seeds:
            raise ValueError(f"seeds must be a non-empty list of integers, got {self.seeds!r}")
        object.__setattr__(self, "seeds", tuple(check_count(s, "seeds", 0) for s in self.seeds))
        if len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds has repeated values: {list(self.seeds)}")
        check_count(self.pretrain_epochs, "pretrain_epochs")
        check_count(self.ft_epochs, "ft_epochs")
        check_count(self.epoch_images, "epoch_images", 0)
        for name in ("lr", "scale_lr"):
            check_positive(getattr(self, name), name)
        if isinstance(self.weight_decay, bool) or not (
            isinstance(self.weight_decay, int | float) and self.weight_decay >= 0
        ):
            raise ValueError(f"weight_decay must be a number >= 0, got {self.weight_decay!r}")
        check_count(self.mask_interval, "mask_interval")
        check_count(self.bn_batches, "bn_batches")
        if isinstance(self.long_factors, int | str):
            raise ValueError(f"long_factors must be a list of integers >= 2, got {self.long_factors!r}")
        object.__setattr__(self, "long_factors", tuple(check_count(f, "long_factors", 2) for f in self.long_factors))
        object.__setattr__(self, "long_bits", check_bits_list(self.long_bits, "long_bits", below=BASELINE_BITS))
        object.__setattr__(
            self, "combine_bits", check_bits_list(self.combine_bits, "combine_bits", below=BASELINE_BITS)
        )
        if isinstance(self.combine_sparsity, int | float | str) or not self.combine_sparsity:
            raise ValueError(f"combine_sparsity must be a non-empty list, got {self.combine_sparsity!r}")
        sp = tuple(check_sparsity(s, name="combine_sparsity") for s in self.combine_sparsity)
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


@dataclass(frozen=True)
class ClaimsParams(ChapterParams):
    """Parameters of the Claims page: only the profile."""

    profile: str = "full"

    def __post_init__(self):
        check_profile(self.profile)
