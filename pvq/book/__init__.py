"""The book's layer (top): chapter parameters and profiles, the claims and their verdicts, plots,
publishing, the notebook runner and the command line (``pvq.book.cli``).

Modules: :mod:`~pvq.book.params`, :mod:`~pvq.book.layer_params`, :mod:`~pvq.book.training_params`,
:mod:`~pvq.book.profiles`, :mod:`~pvq.book.claims`, :mod:`~pvq.book.verdicts`,
:mod:`~pvq.book.training_verdicts`, :mod:`~pvq.book.plots`, :mod:`~pvq.book.publish`,
:mod:`~pvq.book.runner`, :mod:`~pvq.book.pdf` (the book as one PDF). They import from lower layers
only: :mod:`pvq.common` at the bottom, then :mod:`pvq.core`, :mod:`pvq.analytic` and
:mod:`pvq.tensors`, then :mod:`pvq.layerwise` and :mod:`pvq.finetune`, and :mod:`pvq.book` on top
(``tests/test_architecture.py`` checks it).
"""

from .claims import CLAIMS, VERDICTS, Claim, Verdict, claims_markdown, collect_claims, verdict_table
from .layer_params import PerLayerParams
from .params import (
    HEAVY_TAIL_FAMILIES,
    N_BITS,
    PROFILES,
    ChapterParams,
    ClaimsParams,
    DistributionsParams,
    SetupParams,
    WeightTensorsParams,
    check_profile,
)
from .pdf import CHROMIUM_ARGS, PDF_NAME, build_pdf, find_chromium, placeholder_pdf, print_pdf, ship_pdf
from .plots import (
    PRUNE_COLOR,
    QUANT_COLOR,
    plot_combining,
    plot_crossover,
    plot_heavy_tail,
    plot_longer,
    plot_normal_comparison,
    plot_per_layer,
    plot_representations,
    plot_storage,
    plot_table1,
    plot_tensor_snr,
    plot_win_vs_kurtosis,
)
from .profiles import (
    CHAPTER_PARAMS,
    chapter_defaults,
    declared_parameters,
    load_profile,
    profile_parameters,
    render_full_profile,
    render_parameters_cell,
    stale_defaults,
    write_defaults,
)
from .publish import Chapter, glue, glue_values, publish_figure, publish_verdicts, save_figure, save_table
from .runner import NotebookRun, chain_name, execute_chapters
from .training_params import FineTuningParams
from .training_verdicts import EARLIER_FINE_TUNING_VERDICTS, against_earlier, check_c5, check_c6, check_c7, check_c9
from .verdicts import check_c1, check_c2, check_c3, check_c4, check_c8_mask_cost, check_c8_natural_sparsity

__all__ = [
    "CHAPTER_PARAMS",
    "CHROMIUM_ARGS",
    "CLAIMS",
    "EARLIER_FINE_TUNING_VERDICTS",
    "HEAVY_TAIL_FAMILIES",
    "N_BITS",
    "PDF_NAME",
    "PROFILES",
    "PRUNE_COLOR",
    "QUANT_COLOR",
    "VERDICTS",
    "Chapter",
    "ChapterParams",
    "Claim",
    "ClaimsParams",
    "DistributionsParams",
    "FineTuningParams",
    "NotebookRun",
    "PerLayerParams",
    "SetupParams",
    "Verdict",
    "WeightTensorsParams",
    "against_earlier",
    "build_pdf",
    "chain_name",
    "chapter_defaults",
    "check_c1",
    "check_c2",
    "check_c3",
    "check_c4",
    "check_c5",
    "check_c6",
    "check_c7",
    "check_c8_mask_cost",
    "check_c8_natural_sparsity",
    "check_c9",
    "check_profile",
    "claims_markdown",
    "collect_claims",
    "declared_parameters",
    "execute_chapters",
    "find_chromium",
    "glue",
    "glue_values",
    "load_profile",
    "placeholder_pdf",
    "plot_combining",
    "plot_crossover",
    "plot_heavy_tail",
    "plot_longer",
    "plot_normal_comparison",
    "plot_per_layer",
    "plot_representations",
    "plot_storage",
    "plot_table1",
    "plot_tensor_snr",
    "plot_win_vs_kurtosis",
    "print_pdf",
    "profile_parameters",
    "publish_figure",
    "publish_verdicts",
    "render_full_profile",
    "render_parameters_cell",
    "save_figure",
    "save_table",
    "ship_pdf",
    "stale_defaults",
    "verdict_table",
    "write_defaults",
]
