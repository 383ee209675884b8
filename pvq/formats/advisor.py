"""Which format for my weights, at my bit budget? The format table of a model and the choice per tensor.

:func:`analyze_formats` stores every layer weight of a checkpoint in every format asked for and
measures it (:func:`pvq.formats.encode.format_error`: bits per weight, SNR); this is
``formats.csv`` of ``pvq analyze --formats`` and ``tensor_formats.csv`` of chapter 8. With a
budget, :func:`best_within_budget` picks for each tensor the format of highest SNR among those
that cost at most the budget, and :func:`budget_totals` sums the model up: the average bits per
weight and the SNR averaged over tensors weighted by their number of weights, beside the SNR of
the whole model's error (``10·log10(Σ_t n_t P_t / Σ_t n_t E_t)``, power ``P`` and error ``E``).

Weights are rounded to FP16 first (the paper's baseline), as in chapter 3.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..common.cores import core_slot
from ..common.executors import make_executor
from ..core.metrics import kurtosis, snr_db_from_mse
from ..tensors.analysis import check_tensor
from ..tensors.checkpoints import Checkpoint, iter_weights, resolve
from ..tensors.readers import CheckpointError
from .catalog import Format, check_format_names
from .encode import format_errors

__all__ = [
    "FORMAT_COLUMNS",
    "analyze_formats",
    "analyze_formats_models",
    "best_within_budget",
    "budget_totals",
    "check_budget",
    "tensor_formats",
]

#: Columns of ``formats.csv`` and ``tensor_formats.csv``, one row per (model, tensor, format).
FORMAT_COLUMNS = ["model", "tensor", "numel", "kurtosis", "format", "bits_per_weight", "snr_db", "mse", "power"]


def check_budget(budget, formats: Sequence[Format]) -> float:
    """A bit budget that at least one of ``formats`` can meet, as ``float``.

    Raises
    ------
    ValueError
        For a budget that is not a positive finite number, or below every format's cost
        (the costs are listed).
    """
    try:
        b = float(budget)
    except (TypeError, ValueError):
        raise ValueError(f"budget must be a number of bits per weight, got {budget!r}") from None
    if not math.isfinite(b) or b <= 0:
        raise ValueError(f"budget must be a positive number of bits per weight, got {budget!r}")
    cheapest = min(f.nominal_bits for f in formats)
    if b < cheapest:
        costs = ", ".join(f"{f.name} {f.nominal_bits:g}" for f in formats)
        raise ValueError(f"budget {b:g} bits per weight is below every format's cost ({costs})")
    return b


def tensor_formats(w, formats: Sequence[Format], *, model: str = "", tensor: str = "", fp16: bool = True):
    """One row per format for one tensor (columns :data:`FORMAT_COLUMNS`; Pearson kurtosis), or why it is skipped.

    Returns
    -------
    rows : list of dict
    reason : str
        Empty, or why the tensor cannot be measured (:func:`pvq.tensors.analysis.check_tensor`).
    """
    shape = np.shape(w)
    values, reason = check_tensor(w, fp16=fp16)
    if reason:
        return [], reason
    values = values.reshape(shape)
    kurt = kurtosis(values)
    rows = []
    for fmt, e in zip(formats, format_errors(values, formats), strict=True):
        rows.append(
            {
                "model": model,
                "tensor": tensor,
                "numel": int(values.size),
                "kurtosis": kurt,
                "format": fmt.name,
                "bits_per_weight": e.bits_per_weight,
                "snr_db": e.snr_db,
                "mse": e.mse,
                "power": e.power,
            }
        )
    return rows, ""


def analyze_formats(
    ckpt: Checkpoint,
    formats,
    *,
    fp16: bool = True,
    progress: bool = False,
    label: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every layer weight of a checkpoint in every format (one tensor in memory at a time).

    Parameters
    ----------
    ckpt : Checkpoint
    formats : str or sequence of str or Format
        Format names (:func:`pvq.formats.catalog.check_format_names`), checked before any tensor is read.
    fp16 : bool
        Round the weights to FP16 first.
    progress : bool
    label : str, optional
        The ``model`` column (default: the checkpoint's label).

    Returns
    -------
    table, skipped : pandas.DataFrame
        Columns :data:`FORMAT_COLUMNS`; and ``model, tensor, numel, reason``.
    """
    given = formats if isinstance(formats, str) else list(formats)
    fmts = given if given and all(isinstance(f, Format) for f in given) else check_format_names(given)
    model = label or ckpt.label
    rows, skipped = [], []
    for name, w in tqdm(iter_weights(ckpt, native=True), desc=model, unit=" tensors", disable=not progress):
        got, reason = tensor_formats(w, fmts, model=model, tensor=name, fp16=fp16)
        if reason:
            skipped.append({"model": model, "tensor": name, "numel": int(np.size(w)), "reason": reason})
        rows += got
        del w
    return (
        pd.DataFrame(rows, columns=FORMAT_COLUMNS),
        pd.DataFrame(skipped, columns=["model", "tensor", "numel", "reason"]),
    )


def _file_size(source: str) -> int:
    """Bytes of a model's checkpoint (0 when it is not a local file or folder)."""
    try:
        path = resolve(source).path
    except (ValueError, FileNotFoundError, CheckpointError):
        return 0
    if path is None or not path.exists():
        return 0
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.is_dir() else path.stat().st_size


def _model_job(label: str, source: str, names: list[str], fp16: bool):
    """One model of :func:`analyze_formats_models`, in a worker (the checkpoint is resolved there)."""
    with core_slot():
        return analyze_formats(resolve(source), names, fp16=fp16, label=label)


def analyze_formats_models(
    models: Mapping[str, str], formats, *, fp16: bool = True, workers: int = 1, progress: bool = False
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """:func:`analyze_formats` over a set of models, ``workers`` models at a time (a process pool).

    Parameters
    ----------
    models : mapping of str to str
        ``{label: source}``: offline short names, paths or online names (:func:`pvq.tensors.checkpoints.resolve`).
    formats
        Format names, checked before any model is read.
    workers : int
        Models analysed at once (1, or a single model: in this process, no pool to start). Under a
        build's core budget each holds a slot.

    Returns
    -------
    table, skipped : pandas.DataFrame
        As :func:`analyze_formats`, models in the order given.
    """
    names = [f.name for f in check_format_names(formats)]
    if min(workers, len(models)) <= 1:
        parts = [analyze_formats(resolve(src), names, fp16=fp16, label=m) for m, src in models.items()]
    else:
        sizes = {m: _file_size(src) for m, src in models.items()}
        with make_executor(workers=workers) as pool:  # largest checkpoints first: the pool ends together
            futures = {
                m: pool.submit(_model_job, m, models[m], names, fp16)
                for m in sorted(models, key=sizes.get, reverse=True)
            }
            done = tqdm(futures.values(), desc="formats", unit=" models", disable=not progress)
            [f.result() for f in done]
            parts = [futures[m].result() for m in models]
    return (
        pd.concat([p[0] for p in parts], ignore_index=True),
        pd.concat([p[1] for p in parts], ignore_index=True),
    )


def best_within_budget(table: pd.DataFrame, budget: float) -> pd.DataFrame:
    """For each (model, tensor), the format of highest SNR costing at most ``budget`` bits per weight.

    Returns
    -------
    pandas.DataFrame
        One row per tensor, the columns of ``table``; a tensor no format fits gets ``format`` empty
        and ``snr_db`` NaN (its ``bits_per_weight`` is then NaN too).
    """
    fits = table[table.bits_per_weight <= budget + 1e-12]
    best = fits.sort_values(["snr_db", "bits_per_weight"], ascending=[False, True], kind="stable")
    best = best.drop_duplicates(["model", "tensor"])
    keys = table[["model", "tensor", "numel"]].drop_duplicates(["model", "tensor"])
    out = keys.merge(best.drop(columns="numel"), on=["model", "tensor"], how="left")
    out["format"] = out["format"].fillna("")
    return out[table.columns]


def budget_totals(best: pd.DataFrame) -> pd.DataFrame:
    """Model-level totals of :func:`best_within_budget`'s choice.

    Returns
    -------
    pandas.DataFrame
        One row per model: ``tensors``, ``weights``, ``unfitted`` (tensors no format fits),
        ``bits_per_weight`` (weight-weighted mean), ``snr_db_weighted`` (weight-weighted mean of
        the tensors' SNR) and ``snr_db_pooled`` (the SNR of the whole model's error); the fitted
        tensors only.
    """
    rows = []
    for model, g in best.groupby("model", sort=False):
        ok = g[g["format"] != ""]
        n = ok.numel.to_numpy(dtype=np.float64)
        rows.append(
            {
                "model": model,
                "tensors": len(g),
                "weights": int(g.numel.sum()),
                "unfitted": int(len(g) - len(ok)),
                "bits_per_weight": float(np.sum(n * ok.bits_per_weight) / n.sum()) if len(ok) else math.nan,
                "snr_db_weighted": float(np.sum(n * ok.snr_db) / n.sum()) if len(ok) else math.nan,
                "snr_db_pooled": float(snr_db_from_mse(np.sum(n * ok.power), np.sum(n * ok.mse)))
                if len(ok)
                else math.nan,
            }
        )
    return pd.DataFrame(rows)
