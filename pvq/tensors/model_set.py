"""A set of trained models as one study (paper §4, chapter 3): resolve, analyse, describe.

:func:`resolve_models` locates every model before any work, so that a missing one stops the
study at once; :func:`analyze_models` runs :func:`pvq.tensors.summaries.analyze_model` over the
set and stacks the per-tensor tables; :func:`model_table` and :func:`win_share_by_model` describe
the set one model per row; :func:`tensor_headlines` returns its size, keyed by the names chapter
3 glues it under.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from .checkpoints import MODELS, Checkpoint, resolve
from .summaries import QUANT_COLUMNS, analyze_model

__all__ = ["analyze_models", "model_table", "resolve_models", "tensor_headlines", "win_share_by_model"]


def resolve_models(models: Iterable[str]) -> dict[str, Checkpoint]:
    """Resolve every model of a set before any work: ``{name: checkpoint}``, in the given order.

    Parameters
    ----------
    models : iterable of str
        Offline short names (:data:`pvq.tensors.checkpoints.MODELS`), checkpoint paths, or online
        names (:func:`pvq.tensors.checkpoints.resolve`).

    Raises
    ------
    ValueError, FileNotFoundError
        An unknown name or a missing file, raised before any model is analysed.
    """
    return {m: resolve(m) for m in models}


def analyze_models(
    checkpoints: Mapping[str, Checkpoint],
    n_bits,
    *,
    fp16: bool = True,
    grid: str = "signed",
    progress: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Figure 3's numbers for every layer weight of every model (:func:`~pvq.tensors.summaries.analyze_model`, stacked).

    Parameters
    ----------
    checkpoints : mapping of str to Checkpoint
        ``{label: checkpoint}`` (:func:`resolve_models`); the label fills the ``model`` column.
    n_bits : sequence of int
        Bit-widths, each compared with pruning at ``1 - b/16``.
    fp16, grid, progress
        As in :func:`~pvq.tensors.summaries.analyze_model`.

    Returns
    -------
    tensors, skipped : pandas.DataFrame
        The two tables of :func:`~pvq.tensors.summaries.analyze_model`, models in the order of
        ``checkpoints``.
    """
    parts = [
        analyze_model(ckpt, n_bits, fp16=fp16, grid=grid, progress=progress, label=m) for m, ckpt in checkpoints.items()
    ]
    return (
        pd.concat([t for t, _ in parts], ignore_index=True),
        pd.concat([sk for _, sk in parts], ignore_index=True),
    )


def model_table(tensors: pd.DataFrame, *, models=MODELS) -> pd.DataFrame:
    """One row per model of the per-tensor table: its size, what it is, how peaked its tensors are.

    Parameters
    ----------
    tensors : pandas.DataFrame
        :func:`analyze_models`' table (columns ``model, tensor, numel, kurtosis``; one row per
        tensor and bit-width).
    models : mapping of str to Model
        Where the descriptions come from; a model not in it is described by its name.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``model`` (first-seen order), columns ``tensors`` (distinct tensors),
        ``weights`` (their total size), ``description``, ``median kurtosis`` and ``max kurtosis``
        (Pearson, over the model's tensors).
    """
    per_tensor = tensors.drop_duplicates(["model", "tensor"])
    out = per_tensor.groupby("model", sort=False).agg(
        tensors=("tensor", "size"),
        weights=("numel", "sum"),
        median_kurtosis=("kurtosis", "median"),
        max_kurtosis=("kurtosis", "max"),
    )
    out.insert(2, "description", [models[m].description if m in models else m for m in out.index])
    return out.rename(columns={"median_kurtosis": "median kurtosis", "max_kurtosis": "max kurtosis"})


def tensor_headlines(tensors: pd.DataFrame, skipped: pd.DataFrame) -> dict:
    """The size of the analysed set, keyed by the names chapter 3 glues it under.

    ``n-tensors`` (distinct ``(model, tensor)`` pairs), ``n-models``, ``n-weights`` (total size of
    those tensors) and ``n-skipped`` (rows of ``skipped``: tensors that could not be analysed).
    """
    per_tensor = tensors.drop_duplicates(["model", "tensor"])
    return {
        "n-tensors": len(per_tensor),
        "n-models": int(per_tensor.model.nunique()),
        "n-weights": int(per_tensor.numel.sum()),
        "n-skipped": len(skipped),
    }


def win_share_by_model(df: pd.DataFrame, *, method: str = "exact") -> pd.DataFrame:
    """Share of each model's tensors where quantization wins, per bit-width.

    Returns
    -------
    pandas.DataFrame
        Column ``model`` (first-seen order), then one column per bit-width (named by the integer)
        holding ``mean(SNR_Q > SNR_P)`` over the model's tensors.
    """
    wide = df.assign(win=df[QUANT_COLUMNS[method]] > df["prune_snr_db"]).pivot_table(
        index="model", columns="n_bits", values="win", aggfunc="mean", sort=False
    )
    return wide.reset_index()
