"""The build-time checks of the expected errors: they pass on correct errors and flag wrong ones."""

import math

import numpy as np
import pandas as pd
import pytest

from pvq.analytic.checks import check_headlines, closed_form_check, monte_carlo_check
from pvq.analytic.distributions import make_distribution
from pvq.analytic.errors import optimal_clip, prune_mse, snr_table

NORMAL = make_distribution("normal")


def test_closed_forms_agree_with_integration():
    table = pd.DataFrame(snr_table(NORMAL, [2, 4, 8]))
    closed = closed_form_check(NORMAL, table)
    assert list(closed.n_bits) == [2, 4, 8]
    assert closed[["quant_rel_diff", "prune_rel_diff"]].to_numpy().max() < 1e-8


def test_closed_form_check_is_empty_without_closed_forms():
    laplace = make_distribution("laplace")
    assert closed_form_check(laplace, pd.DataFrame(snr_table(laplace, [4]))).empty


def test_monte_carlo_agrees_and_is_seeded():
    heavy = make_distribution("truncated_student_t", dof=2.0, truncation=50.0)
    dists = [("normal", NORMAL), ("heavy", heavy)]
    mc = monte_carlo_check(dists, [2, 4], samples=200_000, seed=3)
    assert list(mc.distribution) == ["normal", "normal", "heavy", "heavy"]
    assert mc.quant_mse.iloc[1] == pytest.approx(optimal_clip(NORMAL, n_bits=4).mse)
    assert mc.prune_mse.iloc[1] == pytest.approx(prune_mse(NORMAL, 0.75))
    assert mc[["quant_z", "prune_z"]].abs().to_numpy().max() < 5  # independent draws: |z| > 5 has p < 1e-6
    again = monte_carlo_check(dists, [2, 4], samples=200_000, seed=3)
    pd.testing.assert_frame_equal(mc, again)


def test_monte_carlo_flags_a_wrong_exact_value():
    mc = monte_carlo_check([("normal", NORMAL)], [4], samples=200_000, seed=0)
    # a 10% error in the exact MSE is far outside the Monte Carlo noise at this sample size
    se = (mc.quant_mse_mc - mc.quant_mse) / mc.quant_z
    z_wrong = (mc.quant_mse_mc - 1.10 * mc.quant_mse) / se
    assert abs(float(z_wrong.iloc[0])) > 5


def test_check_headlines():
    closed = pd.DataFrame({"n_bits": [4], "quant_rel_diff": [1e-12], "prune_rel_diff": [3e-11]})
    mc = pd.DataFrame({"quant_z": [0.5, -2.5], "prune_z": [1.0, 0.1]})
    h = check_headlines(closed, mc, samples=1000)
    assert h == {"closed-form-max-rel": 3e-11, "mc-max-z": 2.5, "mc-samples": 1000}
    empty = pd.DataFrame(columns=["n_bits", "quant_rel_diff", "prune_rel_diff"])
    assert math.isnan(check_headlines(empty, mc, samples=1)["closed-form-max-rel"])
    assert np.isfinite(check_headlines(closed, mc, samples=1)["mc-max-z"])
