"""The operators and their accounting (paper §1–2): integer quantization, magnitude pruning, error
metrics, storage cost.

Modules: :mod:`~pvq.core.quantization`, :mod:`~pvq.core.pruning`, :mod:`~pvq.core.metrics`,
:mod:`~pvq.core.storage`. They import from lower layers only: :mod:`pvq.common` at the bottom, then
:mod:`pvq.core`, :mod:`pvq.analytic` and :mod:`pvq.tensors`, then :mod:`pvq.formats`, then
:mod:`pvq.layerwise` and :mod:`pvq.finetune`, and :mod:`pvq.book` on top
(``tests/test_architecture.py`` checks it).
"""

from typing import TYPE_CHECKING

from ..common.lazy import lazy_exports

if TYPE_CHECKING:  # the re-exports; at run time each module is imported when one of its names is first used
    from .metrics import kurtosis, snr_db, snr_db_from_mse
    from .pruning import (
        BASELINE_BITS,
        BITS_RULE,
        check_bits,
        check_bits_list,
        check_sparsity,
        paired_bits,
        paired_sparsity,
        pairing_table,
        prune,
        prune_mask,
    )
    from .quantization import (
        GRIDS,
        Grid,
        check_n_bits,
        grid_table,
        int_grid,
        quantize,
        quantize_int,
        scale_from_clip,
    )
    from .storage import FORMATS, SparseFormat, binary_entropy, bits_per_weight, equivalent_sparsity

__getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "BASELINE_BITS",
    "BITS_RULE",
    "FORMATS",
    "GRIDS",
    "Grid",
    "SparseFormat",
    "binary_entropy",
    "bits_per_weight",
    "check_bits",
    "check_bits_list",
    "check_n_bits",
    "check_sparsity",
    "equivalent_sparsity",
    "grid_table",
    "int_grid",
    "kurtosis",
    "paired_bits",
    "paired_sparsity",
    "pairing_table",
    "prune",
    "prune_mask",
    "quantize",
    "quantize_int",
    "scale_from_clip",
    "snr_db",
    "snr_db_from_mse",
]
