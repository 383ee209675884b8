"""The paper's own per-tensor data, shipped with pvq, and the book's numbers checked against it (paper §4).

The paper's repository released its Figure 3 data for 45 torchvision models
(``pvq/tensors/released/``: the table, its licence and provenance). :func:`load_released` reads it
with the column names of ``tensors.csv`` (:data:`pvq.tensors.analysis.TENSOR_COLUMNS`), so that the
book's own recomputation and the paper's numbers can be put side by side
(:func:`compare_with_released`) and aggregated the same way (:func:`natural_sparsity_by_source`).
"""

from __future__ import annotations

from importlib import resources

import numpy as np
import pandas as pd

from ..core.pruning import paired_sparsity

__all__ = [
    "AGGREGATIONS",
    "COMPARED",
    "RELEASED_COLUMNS",
    "compare_with_released",
    "load_released",
    "natural_sparsity_by_source",
]

#: Columns of :func:`load_released`.
RELEASED_COLUMNS = [
    "model",
    "tensor",
    "n_bits",
    "sparsity",
    "kurtosis",
    "excess_kurtosis",
    "quant_snr_db_paper",
    "quant_mse",
    "natural_sparsity",
    "prune_snr_db",
    "prune_mse",
    "prune_snr_db_corrected",
    "prune_mse_corrected",
]
#: Quantities :func:`compare_with_released` puts side by side (columns of both tables).
COMPARED = ("quant_snr_db_paper", "prune_snr_db", "prune_snr_db_corrected", "natural_sparsity", "excess_kurtosis")
#: Ways of averaging a per-tensor quantity over a model set (:func:`natural_sparsity_by_source`).
AGGREGATIONS = ("mean_over_tensors", "median", "mean_of_model_means", "weighted_by_weights")


def load_released(path=None) -> pd.DataFrame:
    """The paper's released per-tensor table: one row per (model, tensor, bit-width).

    Parameters
    ----------
    path : str or Path, optional
        A ``weights_sqnr.csv.gz`` written by ``tools/vendor_released.py`` (default: the copy
        shipped in ``pvq/tensors/released/``).

    Returns
    -------
    pandas.DataFrame
        :data:`RELEASED_COLUMNS`. ``sparsity`` is the paired pruning ratio ``1 - b/16`` and
        ``kurtosis`` the Pearson kurtosis, ``excess_kurtosis + 3``; quantization uses the paper's
        100-candidate clipping grid (``quant_snr_db_paper``, the column of that name in
        ``tensors.csv``). The files carry no weight counts.
    """
    if path is None:
        path = resources.files(__package__).joinpath("released", "weights_sqnr.csv.gz")
    with resources.as_file(path) if not isinstance(path, str) else _plain(path) as f:
        table = pd.read_csv(f)
    table["sparsity"] = [paired_sparsity(b) for b in table.n_bits]
    table["kurtosis"] = table.excess_kurtosis + 3.0
    return table[RELEASED_COLUMNS]


class _plain:
    """A path as a context manager (the counterpart of :func:`importlib.resources.as_file`)."""

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        return False


def compare_with_released(ours: pd.DataFrame, released: pd.DataFrame, *, model: str) -> pd.DataFrame:
    """Tensor by tensor, the book's numbers for ``model`` beside the paper's released ones.

    Tensors are matched by name (``features.0.0.weight`` here is ``features.0.0`` in the release)
    and bit-width; for each quantity ``q`` of :data:`COMPARED` the table has ``q_ours``,
    ``q_released`` and ``q_diff = q_ours - q_released``.

    Raises
    ------
    ValueError
        When ``model`` is missing from either table or no tensor matches.
    """
    mine = ours[ours.model == model].assign(tensor=lambda t: t.tensor.str.removesuffix(".weight"))
    theirs = released[released.model == model]
    if mine.empty or theirs.empty:
        raise ValueError(f"model {model!r} is missing from {'our table' if mine.empty else 'the released data'}")
    cols = ["tensor", "n_bits", *COMPARED]
    both = mine[cols].merge(theirs[cols], on=["tensor", "n_bits"], suffixes=("_ours", "_released"))
    if both.empty:
        raise ValueError(f"no tensor of {model!r} matches the released names")
    for q in COMPARED:
        both[f"{q}_diff"] = both[f"{q}_ours"] - both[f"{q}_released"]
    return both.sort_values(["n_bits", "tensor"]).reset_index(drop=True)


def natural_sparsity_by_source(tables: dict[str, pd.DataFrame], *, n_bits=(8, 4, 2)) -> pd.DataFrame:
    """The share of weights quantization rounds to zero, averaged four ways, per source and bit-width.

    For each source (e.g. ``'released'``, ``'offline'``) and bit-width: ``mean_over_tensors`` (every
    tensor counts once: the paper's aggregation), ``median`` over tensors, ``mean_of_model_means``
    (every model counts once) and ``weighted_by_weights`` (every weight counts once:
    :math:`\\sum_t z_t n_t / \\sum_t n_t`, only where the table has a ``numel`` column, NaN
    otherwise; the released files carry no weight counts).

    Returns
    -------
    pandas.DataFrame
        Columns ``source, n_bits, aggregation, value`` (a fraction).
    """
    rows = []
    for source, table in tables.items():
        for b in n_bits:
            t = table[table.n_bits == b]
            if t.empty:
                continue
            z = t.natural_sparsity
            weighted = float(np.average(z, weights=t.numel)) if "numel" in t else float("nan")
            values = (z.mean(), z.median(), t.groupby("model").natural_sparsity.mean().mean(), weighted)
            rows += [
                {"source": source, "n_bits": int(b), "aggregation": a, "value": float(v)}
                for a, v in zip(AGGREGATIONS, values, strict=True)
            ]
    return pd.DataFrame(rows, columns=["source", "n_bits", "aggregation", "value"])
