"""Independent checks of the expected errors (chapter 2): closed forms, numerical integration, Monte Carlo.

The book's Figures 1–2 rest on :mod:`pvq.analytic.errors`. Two checks are run by the build every
time, not only by the tests:

- :func:`closed_form_check`: the normal closed forms against the general adaptive integrator
  applied to the same density (``scipy.stats.norm`` wrapped by
  :func:`pvq.analytic.distributions.from_scipy`);
- :func:`monte_carlo_check`: weights drawn from each density, quantized with
  :func:`pvq.core.quantization.quantize` at the MSE-optimal clipping and pruned at the threshold
  :math:`\\tau`, the sample mean squared errors compared with the exact values in standard errors
  of the mean (:math:`z = (\\hat e - e) / (\\hat\\sigma / \\sqrt{n})`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from ..core.pruning import paired_sparsity
from ..core.quantization import quantize
from .distributions import SymmetricDistribution, from_scipy
from .errors import optimal_clip, prune_mse, pruning_threshold, quant_mse

__all__ = ["CLOSED_FORM_COLUMNS", "MONTE_CARLO_COLUMNS", "check_headlines", "closed_form_check", "monte_carlo_check"]

#: Columns of :func:`closed_form_check`.
CLOSED_FORM_COLUMNS = ["n_bits", "quant_rel_diff", "prune_rel_diff"]
#: Columns of :func:`monte_carlo_check`.
MONTE_CARLO_COLUMNS = [
    "distribution",
    "n_bits",
    "quant_mse",
    "quant_mse_mc",
    "quant_z",
    "prune_mse",
    "prune_mse_mc",
    "prune_z",
]


def closed_form_check(dist: SymmetricDistribution, table: pd.DataFrame, *, grid: str = "signed") -> pd.DataFrame:
    """Relative difference between the normal closed forms and numerical integration of the same density.

    Parameters
    ----------
    dist : SymmetricDistribution
        The density of ``table``; only the standard normal has closed forms (otherwise the
        result is empty).
    table : pandas.DataFrame
        :func:`pvq.analytic.errors.snr_table` rows (``clip`` in standard deviations).

    Returns
    -------
    pandas.DataFrame
        :data:`CLOSED_FORM_COLUMNS`: ``|E_generic / E_closed - 1|`` for quantization at each row's
        clipping and for pruning at its sparsity, one row per bit-width of ``grid``.
    """
    if not dist.is_standard_normal_family:
        return pd.DataFrame(columns=CLOSED_FORM_COLUMNS)
    generic = from_scipy(stats.norm())
    sd = math.sqrt(dist.second_moment)
    rows = []
    for r in table[table.grid == grid].itertuples():
        clip = r.clip * sd
        q = quant_mse(generic, clip, n_bits=r.n_bits, grid=grid) / quant_mse(dist, clip, n_bits=r.n_bits, grid=grid)
        p = prune_mse(generic, r.sparsity) / prune_mse(dist, r.sparsity)
        rows.append({"n_bits": r.n_bits, "quant_rel_diff": abs(q - 1), "prune_rel_diff": abs(p - 1)})
    return pd.DataFrame(rows, columns=CLOSED_FORM_COLUMNS)


def monte_carlo_check(dists, n_bits, *, grid: str = "signed", samples: int = 1_000_000, seed: int = 0) -> pd.DataFrame:
    """Monte Carlo estimates of both errors beside their exact values, for each density and bit-width.

    Parameters
    ----------
    dists : sequence of (str, SymmetricDistribution)
        Labelled densities, checked in order with one random generator seeded by ``seed``.
    n_bits : sequence of int
        Bit-widths, each paired with pruning at ``1 - b/16``.
    samples : int
        Weights drawn per (density, bit-width).

    Returns
    -------
    pandas.DataFrame
        :data:`MONTE_CARLO_COLUMNS`: exact MSE, sample MSE and ``z`` (difference in standard
        errors of the sample mean) for quantization and pruning.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for label, d in dists:
        for b in n_bits:
            res = optimal_clip(d, n_bits=b, grid=grid)
            x = d.sample(samples, rng=rng)
            eq = (x - quantize(x, n_bits=b, clip=res.clip, grid=grid)) ** 2
            c = paired_sparsity(b)
            ep = np.where(np.abs(x) < pruning_threshold(d, c), x**2, 0.0)
            mp = prune_mse(d, c)
            rows.append(
                {
                    "distribution": label,
                    "n_bits": b,
                    "quant_mse": res.mse,
                    "quant_mse_mc": eq.mean(),
                    "quant_z": (eq.mean() - res.mse) / (eq.std() / np.sqrt(x.size)),
                    "prune_mse": mp,
                    "prune_mse_mc": ep.mean(),
                    "prune_z": (ep.mean() - mp) / (ep.std() / np.sqrt(x.size)),
                }
            )
    return pd.DataFrame(rows, columns=MONTE_CARLO_COLUMNS)


def check_headlines(closed: pd.DataFrame, mc: pd.DataFrame, *, samples: int) -> dict:
    """``closed-form-max-rel`` (NaN without closed forms), ``mc-max-z`` and ``mc-samples``, for gluing."""
    rel = closed[["quant_rel_diff", "prune_rel_diff"]].to_numpy(dtype=float)
    return {
        "closed-form-max-rel": float(rel.max()) if rel.size else math.nan,
        "mc-max-z": float(mc[["quant_z", "prune_z"]].abs().to_numpy().max()),
        "mc-samples": int(samples),
    }
