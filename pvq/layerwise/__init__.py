"""Per-layer post-training compression (paper §5, Figure 4): layer problems from real inputs, exact
solvers, SDP bounds, heuristics, the sweep and its tables.

Modules: :mod:`~pvq.layerwise.quant`, :mod:`~pvq.layerwise.prune`, :mod:`~pvq.layerwise.budget`,
:mod:`~pvq.layerwise.calibration`, :mod:`~pvq.layerwise.sweep`, :mod:`~pvq.layerwise.tables`,
:mod:`~pvq.layerwise.study`, and for chapter 8's formats :mod:`~pvq.layerwise.formats_layer` and
:mod:`~pvq.layerwise.format_study`. They import from lower layers only: :mod:`pvq.common` at the
bottom, then :mod:`pvq.core`, :mod:`pvq.analytic` and :mod:`pvq.tensors`, :mod:`pvq.formats`, then
:mod:`pvq.layerwise` and :mod:`pvq.finetune`, and :mod:`pvq.book` on top
(``tests/test_architecture.py`` checks it).
"""

from typing import TYPE_CHECKING

from ..common.lazy import lazy_exports

if TYPE_CHECKING:  # the re-exports; at run time each module is imported when one of its names is first used
    from .budget import PruneCurve, allocate_budget, greedy_obs_path, prune_curve
    from .calibration import IMAGE_NAMES, capture_inputs, layer_input_rows, sample_images, sample_text
    from .format_study import (
        FORMAT_METHODS,
        POOL_MIN_JOBS,
        format_layer_headlines,
        format_layer_summary,
        format_layer_table,
        format_problems,
        run_format_study,
        solve_format_chunk,
    )
    from .formats_layer import (
        LevelResult,
        exact_levels,
        exact_nm,
        gptq_levels,
        nearest_levels,
        nm_groups,
        nm_magnitude,
        sparsegpt_nm,
    )
    from .prune import (
        PruneResult,
        exact_prune,
        greedy_obs,
        keep_count,
        magnitude,
        prune_objective,
        scip_boxed_miqp,
        sparsegpt,
    )
    from .quant import (
        QuantResult,
        blast_order,
        exact_quant,
        factor,
        gptq,
        inverse_cholesky,
        obq,
        quant_objective,
        round_to_nearest,
        sdp_bounds,
    )
    from .study import (
        PROBLEM_COLUMNS,
        layer_problems,
        margin_headlines,
        problem_headlines,
        solve_problems,
        solver_headlines,
    )
    from .sweep import DEFAULT_LAYERS, SCIP_NODES, Chunk, calibrated_model, layer_chunks, run_sweep, solve_chunk
    from .tables import (
        SDP_METHODS,
        TIMED_METHODS,
        comparison_table,
        heuristic_gaps,
        layer_budget_table,
        layer_snr,
        margin_table,
        paired_gap,
        timing_table,
    )

__getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "DEFAULT_LAYERS",
    "FORMAT_METHODS",
    "IMAGE_NAMES",
    "POOL_MIN_JOBS",
    "PROBLEM_COLUMNS",
    "SCIP_NODES",
    "SDP_METHODS",
    "TIMED_METHODS",
    "Chunk",
    "LevelResult",
    "PruneCurve",
    "PruneResult",
    "QuantResult",
    "allocate_budget",
    "blast_order",
    "calibrated_model",
    "capture_inputs",
    "comparison_table",
    "exact_levels",
    "exact_nm",
    "exact_prune",
    "exact_quant",
    "factor",
    "format_layer_headlines",
    "format_layer_summary",
    "format_layer_table",
    "format_problems",
    "gptq",
    "gptq_levels",
    "greedy_obs",
    "greedy_obs_path",
    "heuristic_gaps",
    "inverse_cholesky",
    "keep_count",
    "layer_budget_table",
    "layer_chunks",
    "layer_input_rows",
    "layer_problems",
    "layer_snr",
    "magnitude",
    "margin_headlines",
    "margin_table",
    "nearest_levels",
    "nm_groups",
    "nm_magnitude",
    "obq",
    "paired_gap",
    "problem_headlines",
    "prune_curve",
    "prune_objective",
    "quant_objective",
    "round_to_nearest",
    "run_format_study",
    "run_sweep",
    "sample_images",
    "sample_text",
    "scip_boxed_miqp",
    "sdp_bounds",
    "solve_chunk",
    "solve_format_chunk",
    "solve_problems",
    "solver_headlines",
    "sparsegpt",
    "sparsegpt_nm",
    "timing_table",
]
