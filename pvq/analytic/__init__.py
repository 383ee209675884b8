"""Weights as distributions (paper §3, Figures 1–2): symmetric densities, exact expected errors, heavy
tails.

Modules: :mod:`~pvq.analytic.distributions`, :mod:`~pvq.analytic.errors`,
:mod:`~pvq.analytic.figure1`, :mod:`~pvq.analytic.heavy_tails`, :mod:`~pvq.analytic.checks`,
:mod:`~pvq.analytic.accounting`. They import from lower layers only: :mod:`pvq.common` at the
bottom, then :mod:`pvq.core`, :mod:`pvq.analytic` and :mod:`pvq.tensors`, then :mod:`pvq.formats`,
then :mod:`pvq.layerwise` and :mod:`pvq.finetune`, and :mod:`pvq.book` on top
(``tests/test_architecture.py`` checks it).
"""

from typing import TYPE_CHECKING

from ..common.lazy import lazy_exports

if TYPE_CHECKING:  # the re-exports; at run time each module is imported when one of its names is first used
    from .accounting import STORAGE_COLUMNS, storage_comparison, storage_headlines
    from .checks import CLOSED_FORM_COLUMNS, MONTE_CARLO_COLUMNS, check_headlines, closed_form_check, monte_carlo_check
    from .distributions import (
        DISTRIBUTIONS,
        SymmetricDistribution,
        check_distribution_name,
        distribution_for_kurtosis,
        dof_for_kurtosis,
        from_scipy,
        gennorm_kurtosis,
        make_distribution,
        truncation_for_kurtosis,
    )
    from .errors import (
        ClipResult,
        adaptive_gauss_legendre,
        bin_errors,
        error_profile,
        normal_bin_errors,
        optimal_clip,
        prune_mse,
        prune_snr_db,
        pruning_threshold,
        quant_mse,
        quantized_level_masses,
        snr_table,
    )
    from .figure1 import figure1_data, figure1_headlines, grid_gain_headlines, paper_value_position
    from .heavy_tails import (
        crossover_bits,
        family_crossover,
        family_sweep,
        heavy_tail_headlines,
        kurtosis_grid,
        kurtosis_sweep,
        pruning_win_bits_by_family,
        pruning_win_onset,
        reachable_kurtosis,
        tail_families,
    )

__getattr__, __dir__ = lazy_exports(__name__, __file__)

__all__ = [
    "CLOSED_FORM_COLUMNS",
    "DISTRIBUTIONS",
    "MONTE_CARLO_COLUMNS",
    "STORAGE_COLUMNS",
    "ClipResult",
    "SymmetricDistribution",
    "adaptive_gauss_legendre",
    "bin_errors",
    "check_distribution_name",
    "check_headlines",
    "closed_form_check",
    "crossover_bits",
    "distribution_for_kurtosis",
    "dof_for_kurtosis",
    "error_profile",
    "family_crossover",
    "family_sweep",
    "figure1_data",
    "figure1_headlines",
    "from_scipy",
    "gennorm_kurtosis",
    "grid_gain_headlines",
    "heavy_tail_headlines",
    "kurtosis_grid",
    "kurtosis_sweep",
    "make_distribution",
    "monte_carlo_check",
    "normal_bin_errors",
    "optimal_clip",
    "paper_value_position",
    "prune_mse",
    "prune_snr_db",
    "pruning_threshold",
    "pruning_win_bits_by_family",
    "pruning_win_onset",
    "quant_mse",
    "quantized_level_masses",
    "reachable_kurtosis",
    "snr_table",
    "storage_comparison",
    "storage_headlines",
    "tail_families",
    "truncation_for_kurtosis",
]
