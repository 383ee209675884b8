"""Figure 1's data and quoted numbers against closed forms."""

import math

import pandas as pd
import pytest
from scipy import stats

from pvq.analytic.distributions import make_distribution
from pvq.analytic.errors import optimal_clip, snr_table
from pvq.analytic.figure1 import figure1_data, figure1_headlines, grid_gain_headlines, paper_value_position
from pvq.common.paper import PAPER
from pvq.core.quantization import scale_from_clip

NORMAL = make_distribution("normal")


def test_figure1_data_levels_are_the_quantizer():
    curves, levels = figure1_data(NORMAL, n_bits=3, sparsity=0.8125, points=101)
    clip = optimal_clip(NORMAL, n_bits=3).clip
    s = scale_from_clip(clip, n_bits=3)
    assert len(levels) == 8  # signed 3-bit grid
    assert levels.probability.sum() == pytest.approx(1.0, abs=1e-12)
    assert levels.spacing.iloc[0] == pytest.approx(s)
    assert levels.level.max() == pytest.approx(clip)
    assert len(curves) == 101 and curves.w.iloc[0] == pytest.approx(-4.0)
    # pruned density is absent (NaN) below the threshold τ = Φ⁻¹(1/2 + c/2)
    tau = stats.norm.ppf(0.5 + 0.8125 / 2)
    inside = curves[curves.w.abs() < tau]
    assert inside.pruned_density.isna().all()
    assert (inside[inside.w != 0].prune_weighted_error > 0).all()
    assert (curves[curves.w.abs() > tau].prune_weighted_error == 0).all()


def test_figure1_headlines_match_the_table():
    table = pd.DataFrame(snr_table(NORMAL, [2, 4, 8], grids=("signed", "symmetric")))
    h = figure1_headlines(table, NORMAL, n_bits=4, sparsity=0.75)
    int4 = table[table.n_bits == 4].set_index("grid")
    assert h["int4-quant-snr"] == int4.loc["signed", "quant_snr_db"]
    assert h["int4-quant-snr-symmetric"] == int4.loc["symmetric", "quant_snr_db"]
    assert h["int4-prune-snr"] == pytest.approx(5.585, abs=1e-3)  # the paper's ≈5.6 dB
    assert h["fig1-tau"] == pytest.approx(stats.norm.ppf(0.875), rel=1e-9)
    assert h["fig1-sparsity"] == 75.0 and h["fig1-bits"] == 4
    signed = table[table.grid == "signed"]
    assert h["min-margin"] == pytest.approx((signed.quant_snr_db - signed.prune_snr_db).min())
    assert h["paper-int4-quant"] == PAPER["normal_int4_quant_snr_db"][0]


def test_figure1_headlines_without_int4():
    table = pd.DataFrame(snr_table(NORMAL, [2, 3], grids=("signed", "symmetric")))
    h = figure1_headlines(table, NORMAL, n_bits=3, sparsity=0.8125)
    assert math.isnan(h["int4-quant-snr"]) and math.isnan(h["int4-prune-snr"])


def test_paper_value_position_both_branches():
    assert paper_value_position(19.1, (19.2, 18.9)).startswith("lies between")
    assert paper_value_position(19.14, (19.0, 19.1)).startswith("lies between")  # within the 0.05 dB tolerance
    far = paper_value_position(20.0, (19.0, 19.5))
    assert "+0.50 dB from the nearer one" in far
    assert "-0.50 dB" in paper_value_position(18.0, (18.5, 19.5))


def test_grid_gain_headlines():
    table = pd.DataFrame(
        {
            "n_bits": [2, 2, 4, 4, 8, 8],
            "grid": ["signed", "symmetric"] * 3,
            "quant_snr_db": [5.0, 4.0, 20.0, 19.5, 40.0, 39.99],
        }
    )
    h = grid_gain_headlines(table)
    assert h == {
        "grid-gain-max": 1.0,
        "grid-gain-bits": 2,
        "grid-gain-top-bits": 8,
        "grid-gain-top": pytest.approx(0.01),
    }
