"""A fair fine-tuning comparison: learning rates chosen per method, and what the runs cost (paper §6).

The paper tunes the learning rate of each method and network separately (e.g. ResNet-50: 3.3e-2
for pruning, 1e-5 for QAT; :data:`pvq.common.paper.PAPER_RECIPE`). This book does the same on a
validation split carved out of the training images (:func:`pvq.finetune.data.validation_split`;
the test images are never used to choose anything): every learning rate of a small grid is tried
once per network and method (:func:`pvq.finetune.grids.lr_selection_specs`), and
:func:`choose_learning_rates` keeps the one with the best validation accuracy. A best rate at
the edge of the grid is no optimum: :func:`grid_extensions` names the next rate beyond it, and
the selection tries it (up to :data:`MAX_GRID_EXTENSIONS` more rates per network and method).

:func:`step_costs` and :func:`length_projection` read the cost of the runs from their own
records (seconds against optimiser steps), so that a chapter can state from measured numbers why
its runs are as long as they are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "MAX_GRID_EXTENSIONS",
    "SELECTION_COLUMNS",
    "choose_learning_rates",
    "chosen_learning_rates",
    "grid_extensions",
    "length_projection",
    "step_costs",
]

#: Columns of the learning-rate selection table (``results/05_fine_tuning/lr_selection.csv``).
SELECTION_COLUMNS = ["arch", "method", "lr", "val_accuracy", "chosen"]

#: Rounds of :func:`grid_extensions` a selection makes at most (each adds one rate per network and method).
MAX_GRID_EXTENSIONS = 2


def choose_learning_rates(runs: pd.DataFrame) -> pd.DataFrame:
    """The selection table: every tried learning rate with its validation accuracy, the best one marked.

    Per (network, method) the chosen learning rate maximises the validation accuracy (the
    ``accuracy`` of a run with ``validation > 0``, :class:`pvq.finetune.recipe.FineTuneSpec`);
    ties go to the smaller learning rate, the gentler change. A diverged run has NaN accuracy and
    is never chosen; when every rate of a (network, method) diverged, none is.

    Parameters
    ----------
    runs : pandas.DataFrame
        The selection runs (:func:`pvq.finetune.cache.run_grid`): ``arch, method, lr, status, accuracy``.
        Several seeds of one rate are averaged.

    Returns
    -------
    pandas.DataFrame
        :data:`SELECTION_COLUMNS`, by network and method (in order of appearance), then rate.
    """
    if runs.empty:
        return pd.DataFrame(columns=SELECTION_COLUMNS)
    t = runs.assign(val=runs.accuracy.where(runs.status == "ok"))
    g = t.groupby(["arch", "method", "lr"], sort=False).val.mean().rename("val_accuracy").reset_index()
    order = {m: i for i, m in enumerate(dict.fromkeys(runs.method))}
    arch_order = {a: i for i, a in enumerate(dict.fromkeys(runs.arch))}
    g = g.assign(_a=g.arch.map(arch_order), _m=g.method.map(order)).sort_values(["_a", "_m", "lr"])
    g = g.drop(columns=["_a", "_m"]).reset_index(drop=True)
    best = g.groupby(["arch", "method"], sort=False).val_accuracy.transform("max")
    first = g[g.val_accuracy == best].groupby(["arch", "method"], sort=False).head(1).index  # the smallest rate
    g["chosen"] = g.index.isin(first)
    return g[SELECTION_COLUMNS]


def chosen_learning_rates(selection: pd.DataFrame) -> dict[tuple[str, str], float]:
    """``{(network, method): learning rate}`` from :func:`choose_learning_rates`.

    Raises
    ------
    ValueError
        If some (network, method) has no chosen rate (every rate of the grid diverged): the
        message names it and says to add smaller rates to ``lr_grid``.
    """
    out = {(r.arch, r.method): float(r.lr) for r in selection[selection.chosen.astype(bool)].itertuples()}
    missing = sorted({(a, m) for a, m in zip(selection.arch, selection.method, strict=True)} - set(out))
    if missing:
        raise ValueError(f"every learning rate of the grid diverged for {missing}: add smaller values to lr_grid")
    return out


def grid_extensions(selection: pd.DataFrame, grid) -> dict[tuple[str, str], float]:
    """The next learning rate to try for every (network, method) whose best rate is at an edge of those tried.

    The step is the grid's mean geometric step :math:`s = (\\max/\\min)^{1/(m-1)}` over its
    ``m`` rates, and the next rate is the edge rate times :math:`s` (best at the largest) or over
    :math:`s` (best at the smallest), rounded to two significant digits. A grid of fewer than three
    rates is a coarse check, not a search, and is never extended; nor is a (network, method)
    whose rates all diverged.

    Parameters
    ----------
    selection : pandas.DataFrame
        :func:`choose_learning_rates`'s table (the rates tried so far).
    grid : sequence of float
        The selection grid (``lr_grid``).

    Returns
    -------
    dict
        ``{(network, method): rate}``, empty when every best rate is inside the rates tried.
    """
    grid = sorted(float(v) for v in grid)
    if len(grid) < 3 or selection.empty:
        return {}
    step = (grid[-1] / grid[0]) ** (1.0 / (len(grid) - 1))
    out = {}
    for (arch, method), g in selection.groupby(["arch", "method"], sort=False):
        chosen = g.lr[g.chosen.astype(bool)]
        if chosen.empty:
            continue
        best, tried = float(chosen.iloc[0]), g.lr.astype(float)
        if best == tried.max():
            nxt = best * step
        elif best == tried.min():
            nxt = best / step
        else:
            continue
        nxt = float(f"{nxt:.2g}")
        if not np.isclose(tried, nxt).any():
            out[(arch, method)] = nxt
    return out


def step_costs(runs: pd.DataFrame) -> pd.DataFrame:
    """Measured cost of a run per network: seconds ≈ ``fixed`` + ``per_step`` × optimiser steps.

    A least-squares line through the finished runs' ``seconds`` against their ``steps`` (the
    fixed part is the batch-norm re-estimation, the evaluation and the set-up); with a single run
    length the line cannot be fitted and ``per_step`` is the median of seconds per step, ``fixed``
    0. The seconds are those the runs took in their worker process, as recorded.

    Returns
    -------
    pandas.DataFrame
        ``arch, per_step, fixed, n_runs`` (seconds), one row per network in order of appearance.
    """
    rows = []
    ok = runs[(runs.status == "ok") & runs.seconds.notna()]
    for arch, g in ok.groupby("arch", sort=False):
        steps, secs = g.steps.to_numpy(float), g.seconds.to_numpy(float)
        if np.unique(steps).size >= 2:
            per_step, fixed = np.polyfit(steps, secs, 1)
            if per_step <= 0 or fixed < 0:  # noisy timings: fall back to the plain ratio
                per_step, fixed = float(np.median(secs / steps)), 0.0
        else:
            per_step, fixed = float(np.median(secs / steps)), 0.0
        rows.append({"arch": arch, "per_step": float(per_step), "fixed": float(fixed), "n_runs": len(g)})
    return pd.DataFrame(rows, columns=["arch", "per_step", "fixed", "n_runs"])


def length_projection(runs: pd.DataFrame, costs: pd.DataFrame, *, steps_per_pass: int, base_steps: int) -> dict:
    """What the runs cost, and what they would cost with every run ``steps_per_pass / base_steps`` times longer.

    Each run of ``steps`` steps becomes ``steps · steps_per_pass / base_steps`` steps (the base
    length becomes one whole pass over the training images, a longer run keeps its multiple), at
    its network's measured ``fixed + per_step · steps`` (:func:`step_costs`).

    Returns
    -------
    dict
        ``seconds`` (recorded, all runs), ``modelled`` (the cost model at the actual lengths) and
        ``whole_pass`` (the cost model at whole-pass lengths), in seconds.
    """
    c = costs.set_index("arch")
    t = runs[runs.arch.isin(c.index)]
    fixed, per_step = c.fixed.reindex(t.arch).to_numpy(), c.per_step.reindex(t.arch).to_numpy()
    steps = t.steps.to_numpy(float)
    return {
        "seconds": float(runs.seconds.sum()),
        "modelled": float((fixed + per_step * steps).sum()),
        "whole_pass": float((fixed + per_step * steps * steps_per_pass / base_steps).sum()),
    }
