"""Chapter 7's tables: the representation trajectories of the runs and their shapes (paper §6, claim C7).

Every probed run has a trajectory per probed layer: its activation SNR and linear CKA against the
original network at the steps of :func:`pvq.finetune.representations.probe_steps`, step 0 being the
network *compressed, before fine-tuning*. :func:`trajectory_shape` reads the shape of one trajectory
with one rule for every method and both measures (CKA through its distance in dB,
:func:`cka_distance_db`), and :func:`representation_shapes` applies it to every run kind, length and
layer, the table :func:`pvq.book.training_verdicts.check_c7` judges.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pandas as pd

from .cache import representation_table
from .recipe import FineTuneSpec
from .representations import last_mask_update

__all__ = [
    "MIN_CHANGE_DB",
    "SHAPES",
    "TRAJECTORY_COLUMNS",
    "cka_distance_db",
    "probes_table",
    "representation_shapes",
    "representation_summary",
    "shape_shares",
    "shapes_per_point",
    "trajectory_shape",
    "trajectory_table",
]

#: Smallest change (dB) that the shape rule counts as a move (:func:`trajectory_shape`): 0.5 dB is an
#: 11% change of the error energy, above the seed-to-seed spread of the probes' end points.
MIN_CHANGE_DB = 0.5

#: The shapes :func:`trajectory_shape` tells apart, and the one it gives when there is too little to read.
SHAPES = ("returns", "drifts away", "settles", "too few probes")

#: Columns of ``results/07_representations/trajectories.csv`` (:func:`trajectory_table`).
TRAJECTORY_COLUMNS = ["arch", "method", "label", "seed", "epochs", "step", "progress", "layer", "snr_db", "cka"]


def cka_distance_db(cka):
    """Linear CKA as a distance in dB, :math:`-10\\log_{10}(1 - \\mathrm{CKA})` (inf when CKA = 1).

    It grows as CKA nears 1, as the SNR does as the activations near the original's, so that the
    shape rule reads both measures with the same tolerance in dB.
    """
    c = np.asarray(cka, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return -10 * np.log10(np.clip(1 - c, 0, None))


def probes_table(records: list[dict]) -> pd.DataFrame:
    """The representation probes of the runs that finished (diverged runs left out), one row per
    (run, probe step, layer) (:func:`pvq.finetune.cache.representation_table`), with
    ``progress = step / steps``."""
    t = representation_table([r for r in records if r["status"] == "ok"])
    if len(t):
        t["progress"] = t.step / t.steps
    return t


def trajectory_table(probes: pd.DataFrame) -> pd.DataFrame:
    """The trajectories as written to ``trajectories.csv``: :data:`TRAJECTORY_COLUMNS`, one row per
    (run, step, layer); step 0 is the network compressed, before fine-tuning."""
    return probes[TRAJECTORY_COLUMNS].sort_values(["arch", "method", "label", "epochs", "seed", "step"], kind="stable")


def representation_summary(probes: pd.DataFrame) -> pd.DataFrame:
    """Mean over seeds and layers of activation SNR and CKA against the original, per probe step
    (an infinite SNR, a network identical to the original, is left out of the mean)."""
    t = probes.replace([np.inf, -np.inf], np.nan)
    keys = ["arch", "method", "label", "n_bits", "sparsity", "epochs", "step", "steps"]
    t = t.fillna({"n_bits": 0})
    g = t.groupby(keys, dropna=False).agg(snr_db=("snr_db", "mean"), cka=("cka", "mean")).reset_index()
    g["progress"] = g.step / g.steps
    return g


def trajectory_shape(steps, values, *, min_change_db: float = MIN_CHANGE_DB) -> dict:
    """The shape of one trajectory (values in dB: SNR, or CKA as :func:`cka_distance_db`), one rule for all.

    With :math:`v_0` the value at step 0 (compressed, before fine-tuning), :math:`v_T` at the end and
    :math:`v_\\min` the lowest value during fine-tuning (steps :math:`\\ge 1`, at ``lowest_step``):

    * ``climb_db`` :math:`= v_T - v_\\min \\ge 0`, how far the network came back toward the original
      from its lowest point;
    * ``drift_db`` :math:`= v_T - v_0`, where it ends against the compressed network it started from;
    * ``shape``: ``'returns'`` when ``climb_db`` ≥ ``min_change_db`` (it dips and climbs back);
      otherwise ``'drifts away'`` when ``drift_db`` ≤ −``min_change_db`` (it ends at its lowest,
      further from the original than the compressed network was); otherwise ``'settles'``;
      ``'too few probes'`` with fewer than two steps after step 0.

    Pruning is expected (paper §6) to dip while it sparsifies and climb back: ``'returns'``; QAT to
    start high and drift away: ``'drifts away'``.
    """
    s = np.asarray(steps)
    v = np.asarray(values, dtype=np.float64)
    if s.shape != v.shape or s.ndim != 1:
        raise ValueError(f"steps and values must be two 1-d arrays of one length, got {s.shape} and {v.shape}")
    if len(s) == 0 or s[0] != 0 or np.any(np.diff(s) <= 0):
        raise ValueError("steps must be increasing and start at 0 (the network compressed, before fine-tuning)")
    out = {"start": v[0], "lowest": math.nan, "lowest_step": math.nan, "end": v[-1]}
    out.update(climb_db=math.nan, drift_db=math.nan, shape="too few probes")
    if len(s) < 3:
        return out
    i = 1 + int(np.argmin(v[1:]))
    out.update(lowest=v[i], lowest_step=int(s[i]), climb_db=v[-1] - v[i])
    out["drift_db"] = v[-1] - v[0] if np.isfinite(v[0]) else -math.inf
    if out["climb_db"] >= min_change_db:
        out["shape"] = "returns"
    elif out["drift_db"] <= -min_change_db:
        out["shape"] = "drifts away"
    else:
        out["shape"] = "settles"
    return out


def representation_shapes(
    probes: pd.DataFrame, *, min_change_db: float = MIN_CHANGE_DB, prune_end: float = FineTuneSpec.prune_end
) -> pd.DataFrame:
    """Per run kind, length and layer: the shape of the SNR and of the CKA trajectory (mean over seeds).

    :func:`trajectory_shape` of the SNR (``snr_compressed``, ``snr_lowest``, ``lowest_progress``,
    ``snr_end``, ``climb_db``, ``drift_db``, ``shape``) and of the CKA distance in dB
    (``cka_climb_db``, ``cka_drift_db``, ``cka_shape``; ``cka_end`` as CKA), the same rule for every
    method. ``after_probes`` counts the probe steps after the last mask update
    (:func:`pvq.finetune.representations.last_mask_update` at ``prune_end``, the recipe's by default).
    """
    keys = ["arch", "method", "label", "n_bits", "sparsity", "epochs", "layer"]
    t = probes.fillna({"n_bits": 0})
    rows = []
    for key, g in t.groupby(keys, sort=False):
        m = g.groupby("step")[["snr_db", "cka"]].mean()
        steps = int(g.steps.iloc[0])
        snr = trajectory_shape(m.index, m.snr_db, min_change_db=min_change_db)
        cka = trajectory_shape(m.index, cka_distance_db(m.cka), min_change_db=min_change_db)
        rows.append(
            {
                **dict(zip(keys, key, strict=True)),
                "snr_compressed": snr["start"],
                "snr_lowest": snr["lowest"],
                "lowest_progress": snr["lowest_step"] / steps,
                "snr_end": snr["end"],
                "climb_db": snr["climb_db"],
                "drift_db": snr["drift_db"],
                "shape": snr["shape"],
                "cka_end": float(m.cka.iloc[-1]),
                "cka_climb_db": cka["climb_db"],
                "cka_drift_db": cka["drift_db"],
                "cka_shape": cka["shape"],
                "after_probes": int((m.index > last_mask_update(steps, prune_end)).sum()),
            }
        )
    return pd.DataFrame(rows)


def shape_shares(shapes: pd.DataFrame, column: str = "shape") -> dict[str, float]:
    """Share of the rows of ``shapes`` with each shape of :data:`SHAPES` in ``column`` (``'shape'`` or
    ``'cka_shape'``); every shape is a key, 0 when absent, NaN for an empty table."""
    n = len(shapes)
    return {k: float((shapes[column] == k).sum() / n) if n else math.nan for k in SHAPES}


def _majority(shapes: pd.Series) -> str:
    (shape, n), *_ = Counter(shapes).most_common(1)
    return f"{shape} ({n} of {len(shapes)} layers)"


def shapes_per_point(shapes: pd.DataFrame) -> pd.DataFrame:
    """:func:`representation_shapes` over the probed layers: one row per run kind and length.

    The numbers are plain means over layers; ``shape`` and ``cka_shape`` the most common shape with
    its count, e.g. ``'drifts away (5 of 5 layers)'``.

    Returns
    -------
    pandas.DataFrame
        ``arch, method, label, epochs, snr_compressed, snr_lowest, snr_end, climb_db, drift_db,
        cka_end, shape, cka_shape``, in the order the kinds first appear.
    """
    by = ["arch", "method", "label", "epochs"]
    cols = ["snr_compressed", "snr_lowest", "snr_end", "climb_db", "drift_db", "cka_end"]
    t = shapes.replace([np.inf, -np.inf], np.nan).groupby(by, sort=False)
    out = t[cols].mean()
    out["shape"] = t["shape"].agg(_majority)
    out["cka_shape"] = t["cka_shape"].agg(_majority)
    return out.reset_index()
