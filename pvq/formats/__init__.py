"""Beyond the paper: the weight formats it left out, at their true cost in bits (chapter 8).

Element formats (integer grids, OCP FP8/FP6/FP4, NF4), the formats built from them with their bits
per weight (per tensor, per channel, groups, OCP MX, NVFP4, NF4 blocks, N:M and unstructured
sparsity), how a tensor is stored in each, their exact or Monte Carlo expected error on a weight
density, and the choice of a format per tensor at a bit budget.

Modules: :mod:`~pvq.formats.elements`, :mod:`~pvq.formats.catalog`, :mod:`~pvq.formats.scales`,
:mod:`~pvq.formats.sparsity`, :mod:`~pvq.formats.encode`, :mod:`~pvq.formats.expected`,
:mod:`~pvq.formats.frontier`, :mod:`~pvq.formats.advisor`. They import from :mod:`pvq.common`,
:mod:`pvq.core`, :mod:`pvq.analytic` and :mod:`pvq.tensors`, and are used by :mod:`pvq.layerwise`
and :mod:`pvq.book` (``tests/test_architecture.py`` checks the layers)."""

from typing import TYPE_CHECKING

from ..common.lazy import lazy_exports

if TYPE_CHECKING:  # the re-exports; at run time each module is imported when one of its names is first used
    from .advisor import (
        FORMAT_COLUMNS,
        analyze_formats,
        analyze_formats_models,
        best_within_budget,
        budget_totals,
        check_budget,
        tensor_formats,
    )
    from .catalog import (
        CHAPTER_FORMATS,
        FAMILY_ORDER,
        FORMAT_FAMILIES,
        NORMAL_FORMATS,
        Format,
        check_format_names,
        format_table,
        parse_format,
    )
    from .elements import (
        ELEMENT_FORMATS,
        NF4_OFFSET,
        ElementFormat,
        element_format,
        nf4_levels,
        round_e4m3,
        round_e8m0,
        round_to_element,
    )
    from .encode import FormatError, format_error, format_errors, keep_mask, quantize_weights
    from .expected import (
        FormatEstimate,
        exact_format_error,
        has_fixed_levels,
        level_set_mse,
        monte_carlo_error,
        optimal_level_set_scale,
    )
    from .frontier import (
        SWEEP_COLUMNS,
        decision_map,
        format_sweep,
        front_shares,
        pareto_front,
        sparse_vs_dense,
        tensor_win_shares,
    )
    from .scales import block_scales, level_mse_sorted, optimal_level_scale, scan_minima
    from .sparsity import as_rows, magnitude_threshold, nm_mask

__getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "CHAPTER_FORMATS",
    "ELEMENT_FORMATS",
    "FAMILY_ORDER",
    "FORMAT_COLUMNS",
    "FORMAT_FAMILIES",
    "NF4_OFFSET",
    "NORMAL_FORMATS",
    "SWEEP_COLUMNS",
    "ElementFormat",
    "Format",
    "FormatError",
    "FormatEstimate",
    "analyze_formats",
    "analyze_formats_models",
    "as_rows",
    "best_within_budget",
    "block_scales",
    "budget_totals",
    "check_budget",
    "check_format_names",
    "decision_map",
    "element_format",
    "exact_format_error",
    "format_error",
    "format_errors",
    "format_sweep",
    "format_table",
    "front_shares",
    "has_fixed_levels",
    "keep_mask",
    "level_mse_sorted",
    "level_set_mse",
    "magnitude_threshold",
    "monte_carlo_error",
    "nf4_levels",
    "nm_mask",
    "optimal_level_scale",
    "optimal_level_set_scale",
    "pareto_front",
    "parse_format",
    "quantize_weights",
    "round_e4m3",
    "round_e8m0",
    "round_to_element",
    "scan_minima",
    "sparse_vs_dense",
    "tensor_formats",
    "tensor_win_shares",
]
