"""pvq: pruning vs quantization, the executable edition of Kuzmin et al. (NeurIPS 2023).

The public API re-exports the functions the book's chapters call.
"""

from typing import TYPE_CHECKING

from .common.inputs import watch_inputs
from .common.lazy import lazy_exports

if TYPE_CHECKING:  # the re-exports; at run time each module is imported when one of its names is first used
    from .analytic.distributions import (
        DISTRIBUTIONS,
        SymmetricDistribution,
        distribution_for_kurtosis,
        from_scipy,
        make_distribution,
        truncation_for_kurtosis,
    )
    from .analytic.errors import (
        ClipResult,
        error_profile,
        optimal_clip,
        prune_mse,
        prune_snr_db,
        pruning_threshold,
        quant_mse,
        quantized_level_masses,
        snr_table,
    )
    from .core.metrics import kurtosis, snr_db, snr_db_from_mse
    from .core.pruning import paired_sparsity, prune, prune_mask
    from .core.quantization import int_grid, quantize, quantize_int, scale_from_clip
    from .tensors.checkpoints import MODELS, iter_weights, resolve

__getattr__, __dir__ = lazy_exports(__name__, __file__)

__version__ = "0.1.0"

watch_inputs()  # records what a chapter reads when the book runner asks ($PVQ_INPUTS_LOG); else nothing

__all__ = [
    "DISTRIBUTIONS",
    "MODELS",
    "ClipResult",
    "SymmetricDistribution",
    "distribution_for_kurtosis",
    "error_profile",
    "from_scipy",
    "int_grid",
    "iter_weights",
    "kurtosis",
    "make_distribution",
    "optimal_clip",
    "paired_sparsity",
    "prune",
    "prune_mask",
    "prune_mse",
    "prune_snr_db",
    "pruning_threshold",
    "quant_mse",
    "quantize",
    "quantize_int",
    "quantized_level_masses",
    "resolve",
    "scale_from_clip",
    "snr_db",
    "snr_db_from_mse",
    "snr_table",
    "truncation_for_kurtosis",
]
