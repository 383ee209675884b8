"""Chapter 7's tables: trajectories, their shapes by one rule for both methods, the per-point summary."""

import math

import numpy as np
import pandas as pd
import pytest

from pvq.finetune.trajectories import (
    SHAPES,
    TRAJECTORY_COLUMNS,
    cka_distance_db,
    probes_table,
    representation_shapes,
    representation_summary,
    shape_shares,
    shapes_per_point,
    trajectory_shape,
    trajectory_table,
)


def probes(method, label, snrs, *, layers=("a", "b"), steps=100, bits=None, sparsity=0.0, seed=0):
    """One run's probes: ``snrs[0]`` at step 0 (compressed, before fine-tuning), the rest evenly to ``steps``."""
    rows = []
    n = len(snrs)
    for i, s in enumerate(snrs):
        for layer in layers:
            rows.append({"arch": "net", "method": method, "label": label, "n_bits": bits, "sparsity": sparsity,
                         "seed": seed, "epochs": 2, "steps": steps, "step": round(i * steps / (n - 1)),
                         "layer": layer, "snr_db": s, "cka": 1 - 10 ** (-s / 10)})  # fmt: skip
    return rows


def test_cka_distance_db():
    assert cka_distance_db([0.9, 0.99, 0.0]).tolist() == pytest.approx([10, 20, 0])
    assert cka_distance_db(1.0) == math.inf


@pytest.mark.parametrize(
    ("values", "shape", "climb", "drift"),
    [
        ([5, 30, 12, 6, 7, 8], "returns", 2, 3),  # pruning as the paper tells it: a dip, then a climb back
        ([20, 19, 18, 17, 16.8, 16.6], "drifts away", 0, -3.4),  # QAT as the paper tells it
        ([5, 30, 12, 6, 6.2, 6.3], "settles", 0.3, 1.3),  # dips, climbs 0.3 dB only: no return, no drift
        ([20, 20.2, 19.9, 19.8, 19.7, 19.9], "settles", 0.2, -0.1),
        ([math.inf, 30, 25, 24, 24.4, 24], "drifts away", 0.0, -math.inf),  # a control: identical at step 0
    ],
)
def test_trajectory_shape_one_rule(values, shape, climb, drift):
    r = trajectory_shape([0, 1, 2, 3, 4, 5], values)
    assert r["shape"] == shape and r["climb_db"] == pytest.approx(climb) and r["drift_db"] == pytest.approx(drift)
    assert r["start"] == values[0] and r["end"] == values[-1]


def test_trajectory_shape_tolerance_edges_and_bad_input():
    assert trajectory_shape([0, 1, 2], [5, 4, 4.5])["shape"] == "returns"  # climb exactly 0.5 dB counts
    assert trajectory_shape([0, 1, 2], [5, 4, 4.3], min_change_db=0.6)["shape"] == "drifts away"
    assert trajectory_shape([0, 1, 2], [5, 5.2, 5.1], min_change_db=0.6)["shape"] == "settles"
    r = trajectory_shape([0, 10], [5, 4])
    assert r["shape"] == "too few probes" and math.isnan(r["climb_db"])
    # the lowest point is looked for during fine-tuning only: step 0 is not a dip
    assert trajectory_shape([0, 1, 2, 3], [1, 9, 8, 7])["lowest_step"] == 3
    with pytest.raises(ValueError, match="start at 0"):
        trajectory_shape([1, 2, 3], [1, 2, 3])
    with pytest.raises(ValueError, match="one length"):
        trajectory_shape([0, 1, 2], [1, 2])


def test_representation_shapes_mean_over_seeds_then_one_rule_for_both():
    # pruning: one-shot 5 dB, then 30 at the first probe, worst at 0.6, back up 3 dB by the end (seed mean)
    p = probes("prune", "75% pruning", [5, 30, 12, 6, 7, 9], sparsity=0.75)
    p += probes("prune", "75% pruning", [5, 30, 12, 6, 7, 9], sparsity=0.75, seed=1)
    q = probes("qat", "INT4", [15, 14, 13, 12, 12, 11], bits=4)
    control = probes("fp32", "FP32 fine-tuned", [math.inf, 30, 28, 27, 26, 25])
    t = representation_shapes(pd.DataFrame(p + q + control)).set_index(["method", "layer"])
    assert t.loc[("prune", "a"), "shape"] == "returns" and t.loc[("prune", "a"), "climb_db"] == pytest.approx(3)
    assert t.loc[("prune", "a"), "drift_db"] == pytest.approx(4) and t.loc[("prune", "a"), "lowest_progress"] == 0.6
    assert t.loc[("qat", "b"), "shape"] == "drifts away" and t.loc[("qat", "b"), "drift_db"] == pytest.approx(-4)
    assert t.loc[("fp32", "a"), "shape"] == "drifts away"
    # CKA = 1 - 10^(-SNR/10): its distance in dB is the SNR itself, so the same shapes
    assert (t.cka_shape == t["shape"]).all() and t.cka_climb_db.tolist() == pytest.approx(t.climb_db.tolist())
    # steps 0, 20, …, 100 of 100, last mask update at 75: two probes after it
    assert (t.after_probes == 2).all()
    assert shape_shares(t.reset_index()) == pytest.approx(
        {"returns": 2 / 6, "drifts away": 4 / 6, "settles": 0, "too few probes": 0}
    )
    assert set(SHAPES) == set(shape_shares(t.iloc[:0]))


def test_shapes_per_point_averages_the_layers_in_order():
    p = probes("prune", "75% pruning", [5, 30, 12, 6, 7, 9], sparsity=0.75)
    q = probes("qat", "INT4", [15, 14, 13, 12, 12, 11], bits=4)
    q += [dict(r, layer="c", snr_db=r["snr_db"] + 1, cka=1 - 10 ** (-(r["snr_db"] + 1) / 10)) for r in q[::2]]
    t = shapes_per_point(representation_shapes(pd.DataFrame(p + q)))
    assert t.method.tolist() == ["prune", "qat"]  # order of first appearance
    assert t.iloc[1].snr_end == pytest.approx((11 + 11 + 12) / 3) and t.iloc[1].climb_db == 0
    assert t.iloc[0]["shape"] == "returns (2 of 2 layers)" and t.iloc[1]["shape"] == "drifts away (3 of 3 layers)"


def test_probes_and_trajectory_tables():
    probe = [{"step": 0, "layer": "a", "snr_db": 9.0, "cka": 0.9}, {"step": 5, "layer": "a", "snr_db": 8.0, "cka": 0.8}]
    rec = {"arch": "net", "method": "qat", "label": "INT4", "n_bits": 4, "sparsity": 0.0, "seed": 0, "epochs": 2,
           "steps": 10, "status": "ok", "representations": probe}  # fmt: skip
    bad = {**rec, "seed": 1, "status": "diverged"}
    t = probes_table([rec, bad])
    assert len(t) == 2 and t.seed.tolist() == [0, 0] and t.progress.tolist() == [0.0, 0.5]
    traj = trajectory_table(t)
    assert traj.columns.tolist() == TRAJECTORY_COLUMNS and traj.step.tolist() == [0, 5]
    s = representation_summary(pd.DataFrame(probes("fp32", "FP32", [np.inf, 20, 10])))
    assert s.progress.max() == 1.0 and s[s.step == 0].snr_db.isna().all()  # inf → left out of the mean
    assert s[s.step == 100].snr_db.tolist() == [10]
