"""Natural sparsity: the exact zeros quantization leaves in a real tensor (paper §4 and §7, claim C8).

Quantization maps every weight with ``|w| ≤ s/2`` to the level 0, so a quantized tensor is
already partly sparse: its *natural sparsity* ``z`` (:func:`pvq.tensors.clipping.natural_sparsity`).
The paper's text quotes ≈13% at INT8 and ≈35% at INT4 (:data:`pvq.common.paper.PAPER`). This
module compares the book's tensors with those values under two range settings (the paper's
clipping grid and the min–max range ``α = max|w|``), gives the zero-bin share of a density with
its MSE-optimal clipping as a reference, and the *corrected* pruning comparison of the paper's
code, which lets pruning keep only ``(1 - z)·b/16`` of the weights (chapter 3).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from ..common.paper import PAPER, paper_values
from ..core.quantization import scale_from_clip
from .released import released_by_bits
from .summaries import describe_between, natural_sparsity_table

__all__ = [
    "NATURAL_SPARSITY_COLUMNS",
    "corrected_pruning_table",
    "natural_sparsity_comparison",
    "natural_sparsity_headlines",
    "zero_bin_share",
]

#: Columns of ``natural_sparsity.csv`` (the last only when the reference model was analysed).
NATURAL_SPARSITY_COLUMNS = [
    "n_bits",
    "natural_sparsity_mean",
    "natural_sparsity_median",
    "minmax_range",
    "paper_text",
    "paper_released_data",
    "mobilenet_v2_only",
]


def natural_sparsity_comparison(
    tensors: pd.DataFrame,
    *,
    reference_model: str = "mobilenet_v2",
    paper_text: Mapping[int, float] | None = None,
    released: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Share of exact zeros per bit-width: ours under two range settings, the paper's, one model's.

    Per bit-width ``b``, the mean over tensors of the share of weights with ``|w| ≤ s/2``:

    - ``natural_sparsity_mean`` / ``_median``: with the paper's clipping grid
      (:func:`pvq.tensors.summaries.natural_sparsity_table`);
    - ``minmax_range``: mean with ``α = max|w|``, i.e. ``s = max|w| / q_max`` (no clipping);
    - ``paper_text``: the paper's ≈13% (INT8) and ≈35% (INT4), NaN elsewhere;
    - ``paper_released_data``: mean in the paper's released per-tensor data, NaN where absent;
    - ``mobilenet_v2_only``: the mean over ``reference_model``'s tensors alone (the one model of the
      paper's set available offline); the column is left out when that model was not analysed.

    Parameters
    ----------
    tensors : pandas.DataFrame
        :func:`pvq.tensors.model_set.analyze_models`' table (columns ``model, n_bits,
        natural_sparsity, natural_sparsity_minmax``).
    reference_model : str
        Model whose tensors alone fill the last column.
    paper_text : mapping of int to float, optional
        ``{n_bits: share}`` the paper's text states (default: INT8 and INT4 from :data:`~pvq.common.paper.PAPER`).
    released : pandas.DataFrame, optional
        The released per-tensor table (:func:`pvq.tensors.released.load_released`; default: the
        shipped release), averaged over tensors (:func:`pvq.tensors.released.released_by_bits`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`NATURAL_SPARSITY_COLUMNS`, one row per bit-width (ascending).
    """
    if paper_text is None:
        paper_text = {8: PAPER["natural_sparsity_int8"][0], 4: PAPER["natural_sparsity_int4"][0]}
    out = natural_sparsity_table(tensors)
    out["minmax_range"] = tensors.groupby("n_bits").natural_sparsity_minmax.mean().to_numpy()
    out["paper_text"] = out.n_bits.map(paper_text)
    out["paper_released_data"] = out.n_bits.map(released_by_bits(released).natural_sparsity)
    reference = tensors[tensors.model == reference_model]
    if len(reference):
        out["mobilenet_v2_only"] = natural_sparsity_table(reference).natural_sparsity_mean.to_numpy()
    return out


def zero_bin_share(density, clip) -> float:
    """Share of a density's mass that INT-b with a given clipping sets to zero.

    With ``s = α/q_max`` (:func:`pvq.core.quantization.scale_from_clip`) the zero bin is
    ``|w| ≤ s/2``, of probability ``P(|w| ≤ s/2) = 1 - 2·P(w > s/2)`` for a symmetric density.

    Parameters
    ----------
    density : SymmetricDistribution
        A symmetric density (:func:`pvq.analytic.distributions.make_distribution`); only its
        survival function ``sf`` is used.
    clip : ClipResult
        The clipping value ``α`` with its bit-width and grid, e.g. the MSE-optimal one of
        :func:`pvq.analytic.errors.optimal_clip`.

    Returns
    -------
    float
        The share, in ``[0, 1]``.
    """
    scale = scale_from_clip(clip.clip, n_bits=clip.n_bits, grid=clip.grid)
    return 1.0 - 2.0 * float(density.sf(scale / 2))


def natural_sparsity_headlines(
    natural: pd.DataFrame,
    *,
    density,
    clip,
    n_bits: Iterable[int] = (8, 4, 2),
) -> dict:
    """The natural-sparsity numbers chapter 3 quotes (in %), keyed by the names it glues them under.

    For each ``b`` of ``n_bits``: ``ns-<b>`` (mean share of zeros with the paper's clipping),
    ``ns-minmax-<b>`` (with the min–max range) and ``ns-paper-<b>`` (the paper's released data),
    NaN where a table has no value; ``ns-position``, one sentence per released bit-width saying
    where the paper's value lies against our two conventions
    (:func:`pvq.tensors.summaries.describe_between`); ``<name>-zero-share-<b>``, the zero-bin share
    of a reference density with a given clipping (:func:`zero_bin_share`; the chapter passes the
    normal's MSE-optimal INT8 clipping, hence ``normal-zero-share-8``); and the paper's text,
    ``paper-natural-sparsity-int8`` / ``-int4`` (fractions, :func:`pvq.common.paper.paper_values`).

    Parameters
    ----------
    natural : pandas.DataFrame
        :func:`natural_sparsity_comparison`'s table.
    density : SymmetricDistribution
        The reference density (its ``name`` starts the glue name).
    clip : ClipResult
        Its clipping (with bit-width and grid), e.g. :func:`pvq.analytic.errors.optimal_clip`.
    n_bits : iterable of int
        Bit-widths quoted.
    """
    n_bits = list(n_bits)
    ns = natural.set_index("n_bits")
    released = ns.paper_released_data.reindex(n_bits).dropna()
    nan = float("nan")
    out = {}
    for b in n_bits:
        out[f"ns-{b}"] = 100 * float(ns.natural_sparsity_mean.get(b, nan))
        out[f"ns-minmax-{b}"] = 100 * float(ns.minmax_range.get(b, nan))
        out[f"ns-paper-{b}"] = 100 * float(released.get(b, nan))
    out["ns-position"] = describe_between(
        released, ns.natural_sparsity_mean, ns.minmax_range, what="the paper's released value"
    )
    out[f"{density.name}-zero-share-{clip.n_bits}"] = 100 * zero_bin_share(density, clip)
    return out | paper_values("natural_sparsity_int8", "natural_sparsity_int4")


def corrected_pruning_table(tensors: pd.DataFrame) -> pd.DataFrame:
    """Who wins per bit-width when pruning must also match the quantized tensor's own zeros.

    Plain comparison: quantization wins a tensor when ``SNR_Q > SNR_P(1 - b/16)``. The paper's code
    also records a *corrected* pruning SNR that keeps only ``(1 - z)·b/16`` of the weights, ``z``
    being the tensor's natural sparsity (``prune_snr_db_corrected`` of
    :func:`pvq.tensors.analysis.analyze_tensor`). Both columns are shares of tensors where
    quantization's SNR is strictly higher (a tie counts for neither).

    Parameters
    ----------
    tensors : pandas.DataFrame
        Per-tensor table (columns ``n_bits, quant_snr_db, prune_snr_db, prune_snr_db_corrected``).

    Returns
    -------
    pandas.DataFrame
        Columns ``n_bits``, ``quantization wins (plain pruning)``, ``quantization wins (corrected
        pruning)``, one row per bit-width (ascending).
    """
    wins = tensors.assign(
        plain=tensors.prune_snr_db < tensors.quant_snr_db,
        corrected=tensors.prune_snr_db_corrected < tensors.quant_snr_db,
    )
    out = wins.groupby("n_bits")[["plain", "corrected"]].mean()
    out.columns = ["quantization wins (plain pruning)", "quantization wins (corrected pruning)"]
    return out.reset_index()
