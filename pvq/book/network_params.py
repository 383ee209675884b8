"""Parameters of chapter 9 (whole real networks after training): the one home of its defaults.

See :mod:`pvq.book.params` for how the records are used (validation before any heavy work, the
parameters cell and ``params/full.yaml`` derived from the fields below).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..common.checks import check_count, check_list
from ..core.pruning import check_bits, check_bits_list
from ..layerwise.network_study import NETWORK_FORMATS, NETWORKS, PAIRED_METHODS, network_points
from .params import N_BITS, ChapterParams, check_profile

__all__ = ["NetworksParams"]


@dataclass(frozen=True)
class NetworksParams(ChapterParams):
    """Parameters of chapter 9 (whole-network post-training compression, judged by fidelity).

    Attributes
    ----------
    profile : {'ci', 'full'}
        Parameter profile: ``'full'`` (the book) or ``'ci'`` (fast, for tests).
    networks : tuple of str
        Runnable offline networks (``'mobilenet_v2'``, ``'efficientnet_lite0'``, ``'minilm_l6'``).
    network_bits : tuple of int
        Paired points: INT-b against sparsity ``1 - b/16``.
    network_methods : tuple of str
        Methods at every paired point (:data:`pvq.layerwise.network_study.PAIRED_METHODS`).
    network_formats : tuple of str
        Methods of chapter 8's formats, each at its own bits per weight (may be empty).
    n_calibration : int
        Calibration images / text passages (≥ 4), from photos and documentation topics never evaluated.
    crops_per_photo : int
        Crops of each held-out photo the vision networks are measured on.
    n_paragraphs : int
        Held-out paragraphs the text encoder is measured on (≥ 8).
    n_boot : int
        Bootstrap resamples of every interval (≥ 100).
    diagnose_bits : int
        Bit-width at which GPTQ's loss to round-to-nearest on MiniLM is diagnosed
        (:func:`pvq.layerwise.network_study.gptq_diagnosis`, five runs); 0 skips it.
    workers : int
        Local worker processes (one network at one point each).
    dask_scheduler : str
        Address of a Dask scheduler (empty: local processes; ``$PVQ_DASK_SCHEDULER`` also works).
    seed : int
        Seed of the calibration inputs, the held-out crops and paragraphs, and the bootstrap.
    """

    profile: str = "full"
    networks: tuple = tuple(NETWORKS)
    network_bits: tuple = N_BITS
    network_methods: tuple = PAIRED_METHODS
    network_formats: tuple = NETWORK_FORMATS
    n_calibration: int = 32
    crops_per_photo: int = 4
    n_paragraphs: int = 64
    n_boot: int = 1000
    diagnose_bits: int = 8
    workers: int = 2
    dask_scheduler: str = ""
    seed: int = 0

    def __post_init__(self):
        check_profile(self.profile)
        nets = check_list(self.networks, "networks", "runnable network names", empty=False)
        for m in nets:
            if not isinstance(m, str) or m not in NETWORKS:
                raise ValueError(f"unknown network {m!r} in networks; runnable: {', '.join(NETWORKS)}")
        object.__setattr__(self, "networks", tuple(nets))
        object.__setattr__(self, "network_bits", check_bits_list(self.network_bits, "network_bits"))
        methods = check_list(self.network_methods, "network_methods", "method names", empty=False)
        formats = check_list(self.network_formats, "network_formats", "method names")
        network_points(self.network_bits, methods, formats, names=("network_methods", "network_formats"))
        object.__setattr__(self, "network_methods", tuple(methods))
        object.__setattr__(self, "network_formats", tuple(formats))
        check_count(self.n_calibration, "n_calibration", 4)
        check_count(self.crops_per_photo, "crops_per_photo", 1)
        check_count(self.n_paragraphs, "n_paragraphs", 8)
        check_count(self.n_boot, "n_boot", 100)
        if self.diagnose_bits != 0:  # 0: no diagnosis
            check_bits(self.diagnose_bits, name="diagnose_bits")
        check_count(self.workers, "workers", 1)
        if not isinstance(self.dask_scheduler, str):
            raise ValueError(
                f"dask_scheduler must be a string (empty for local processes), got {self.dask_scheduler!r}"
            )
        check_count(self.seed, "seed", 0)
