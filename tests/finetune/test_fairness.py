"""Learning-rate selection and the measured cost of runs, on hand-made run tables with known answers."""

import math

import pandas as pd
import pytest

from pvq.finetune.fairness import (
    SELECTION_COLUMNS,
    choose_learning_rates,
    chosen_learning_rates,
    grid_extensions,
    length_projection,
    step_costs,
)


def sel_run(arch, method, lr, acc, status="ok", seed=0):
    return {"arch": arch, "method": method, "lr": lr, "accuracy": acc, "status": status, "seed": seed}


def test_each_method_gets_its_best_validation_rate():
    runs = pd.DataFrame(
        [
            sel_run("b", "qat", 0.01, 0.80),
            sel_run("b", "qat", 0.001, 0.85),
            sel_run("b", "prune", 0.001, 0.70),
            sel_run("b", "prune", 0.01, 0.78),
            sel_run("a", "qat", 0.01, 0.60),
            sel_run("a", "qat", 0.1, math.nan, status="diverged"),
        ]
    )
    s = choose_learning_rates(runs)
    assert s.columns.tolist() == SELECTION_COLUMNS
    # networks and methods in order of appearance, rates ascending
    assert list(zip(s.arch, s.method, s.lr, strict=True)) == [
        ("b", "qat", 0.001), ("b", "qat", 0.01), ("b", "prune", 0.001), ("b", "prune", 0.01),
        ("a", "qat", 0.01), ("a", "qat", 0.1),
    ]  # fmt: skip
    assert s.chosen.tolist() == [True, False, False, True, True, False]  # a diverged rate is never chosen
    assert math.isnan(s.val_accuracy.iloc[-1])
    assert chosen_learning_rates(s) == {("b", "qat"): 0.001, ("b", "prune"): 0.01, ("a", "qat"): 0.01}


def test_ties_go_to_the_smaller_rate_and_seeds_are_averaged():
    runs = pd.DataFrame(
        [
            sel_run("a", "prune", 0.03, 0.80),
            sel_run("a", "prune", 0.01, 0.78, seed=0),
            sel_run("a", "prune", 0.01, 0.82, seed=1),  # mean 0.80: tied with 0.03
        ]
    )
    s = choose_learning_rates(runs)
    assert s.val_accuracy.tolist() == pytest.approx([0.80, 0.80])
    assert s.chosen.tolist() == [True, False] and s.lr.tolist() == [0.01, 0.03]


def test_all_diverged_names_the_method_and_empty_runs_give_an_empty_table():
    runs = pd.DataFrame([sel_run("a", "qat", 0.1, math.nan, "diverged"), sel_run("a", "prune", 0.1, 0.5)])
    s = choose_learning_rates(runs)
    assert s.chosen.tolist() == [False, True]
    with pytest.raises(ValueError, match=r"\('a', 'qat'\).*smaller values to lr_grid"):
        chosen_learning_rates(s)
    empty = choose_learning_rates(pd.DataFrame())
    assert empty.empty and empty.columns.tolist() == SELECTION_COLUMNS and chosen_learning_rates(empty) == {}


def timed(arch, steps, seconds, status="ok"):
    return {"arch": arch, "steps": steps, "seconds": seconds, "status": status}


def test_step_costs_fit_the_line_through_the_runs():
    # resnet: 2 s + 0.03 s/step exactly; mobile: one length only, the median ratio; a diverged run left out
    runs = pd.DataFrame(
        [timed("res", s, 2 + 0.03 * s) for s in (100, 200, 400)]
        + [timed("mob", 100, 5.0), timed("mob", 100, 6.0), timed("mob", 100, 7.0), timed("mob", 300, 99, "diverged")]
    )
    c = step_costs(runs).set_index("arch")
    assert c.loc["res", "per_step"] == pytest.approx(0.03) and c.loc["res", "fixed"] == pytest.approx(2.0)
    assert c.loc["mob", "per_step"] == pytest.approx(0.06) and c.loc["mob", "fixed"] == 0.0
    assert c.n_runs.tolist() == [3, 3]
    # noisy timings that give a negative fixed part fall back to the plain ratio
    noisy = step_costs(pd.DataFrame([timed("x", 100, 1.0), timed("x", 200, 4.0)])).iloc[0]
    assert noisy.fixed == 0.0 and noisy.per_step == pytest.approx(0.015)


def test_length_projection_scales_every_run():
    runs = pd.DataFrame([timed("res", 100, 5.5), timed("res", 200, 8.0)])
    costs = pd.DataFrame({"arch": ["res"], "per_step": [0.03], "fixed": [2.0]})
    pr = length_projection(runs, costs, steps_per_pass=400, base_steps=100)
    assert pr["seconds"] == pytest.approx(13.5)
    assert pr["modelled"] == pytest.approx((2 + 3) + (2 + 6))
    assert pr["whole_pass"] == pytest.approx((2 + 12) + (2 + 24))  # each run four times longer


def test_grid_extensions_step_beyond_the_end_that_won():
    grid = [0.001, 0.0033, 0.01, 0.033, 0.1]
    rows = [("a", "prune", lr, lr, False) for lr in grid] + [("a", "qat", lr, -lr, False) for lr in grid]
    rows += [("a", "mid", lr, -abs(lr - 0.01), False) for lr in grid]
    sel = choose_learning_rates(
        pd.DataFrame([dict(zip(["arch", "method", "lr", "accuracy", "x"], r, strict=True), status="ok") for r in rows])
    )
    # mean geometric step of the grid: 100 ** (1/4) = 3.16; two significant digits
    assert grid_extensions(sel, grid) == {("a", "prune"): 0.32, ("a", "qat"): 0.00032}
    assert grid_extensions(sel, grid[:2]) == {}  # two rates: a coarse check, never extended
    diverged = sel.assign(val_accuracy=math.nan, chosen=False)
    assert grid_extensions(diverged, grid) == {}
