"""The paper's released per-tensor data, and the book's MobileNetV2 numbers checked against it."""

import math

import numpy as np
import pandas as pd
import pytest

from pvq.tensors.checkpoints import resolve
from pvq.tensors.released import (
    AGGREGATIONS,
    COMPARED,
    RELEASED_COLUMNS,
    compare_with_released,
    cross_check,
    cross_check_summary,
    finite_points,
    kurtosis_points,
    load_released,
    natural_sparsity_by_source,
    released_headlines,
    released_win_share,
)
from pvq.tensors.summaries import analyze_model


@pytest.fixture(scope="module")
def released():
    return load_released()


def test_the_release_is_complete(released):
    assert list(released.columns) == RELEASED_COLUMNS
    assert released.model.nunique() == 45
    assert released.groupby("n_bits").size().to_dict() == {b: 2704 for b in range(2, 9)}
    assert (released.sparsity == 1 - released.n_bits / 16).all()
    assert np.allclose(released["kurtosis"], released.excess_kurtosis + 3.0, rtol=1e-12, atol=0)  # Pearson = excess + 3
    assert not released.duplicated(["model", "tensor", "n_bits"]).any()


def test_the_papers_natural_sparsity_is_the_mean_over_tensors(released):
    """The paper's '≈13% at INT8, ≈35% at INT4' is the unweighted mean over all released tensors."""
    t = natural_sparsity_by_source({"released": released}, n_bits=(8, 4)).set_index(["n_bits", "aggregation"]).value
    assert t[(8, "mean_over_tensors")] == pytest.approx(0.126, abs=5e-4)
    assert t[(4, "mean_over_tensors")] == pytest.approx(0.352, abs=5e-4)
    assert t[(8, "median")] == pytest.approx(0.059, abs=5e-4)
    assert t[(8, "mean_of_model_means")] == pytest.approx(0.103, abs=5e-4)
    assert math.isnan(t[(8, "weighted_by_weights")])  # the release has no weight counts


def test_natural_sparsity_by_source_by_hand():
    table = pd.DataFrame(
        {
            "model": ["a", "a", "b"],
            "n_bits": [4, 4, 4],
            "natural_sparsity": [0.1, 0.3, 0.8],
            "numel": [100, 300, 100],
        }
    )
    got = natural_sparsity_by_source({"offline": table}, n_bits=(4, 8))
    assert list(got.aggregation) == list(AGGREGATIONS) and set(got.n_bits) == {4}
    v = got.set_index("aggregation").value
    assert v["mean_over_tensors"] == pytest.approx(0.4)
    assert v["median"] == pytest.approx(0.3)
    assert v["mean_of_model_means"] == pytest.approx((0.2 + 0.8) / 2)
    assert v["weighted_by_weights"] == pytest.approx((10 + 90 + 80) / 500)


def test_compare_refuses_a_missing_model(released):
    with pytest.raises(ValueError, match="missing"):
        compare_with_released(released.assign(model="x"), released, model="resnet18")


def test_mobilenet_v2_matches_the_release_tensor_by_tensor(released):
    """The book recomputes the paper's MobileNetV2 numbers: 53 tensors × 7 bit-widths, within these tolerances.

    Measured: 0.003 dB, 0.003 dB, 0.16 dB, 0.010 and 0.05 (FP16 rounding and float32 sums differ).
    """
    ours, skipped = analyze_model(resolve("mobilenet_v2"), range(2, 9), label="mobilenet_v2")
    both = compare_with_released(ours, released, model="mobilenet_v2")
    assert len(both) == 53 * 7 and skipped.empty
    worst = {q: float(both[f"{q}_diff"].abs().max()) for q in COMPARED}
    tolerance = {
        "quant_snr_db_paper": 0.01,  # dB
        "prune_snr_db": 0.01,  # dB
        "prune_snr_db_corrected": 0.25,  # dB: the kept count rounds (1 - z)·b/16·n, z itself within 0.01
        "natural_sparsity": 0.015,
        "excess_kurtosis": 0.1,
    }
    assert all(worst[q] <= tolerance[q] for q in COMPARED), worst


def test_released_win_share_two_ways(released):
    w = released_win_share(released).set_index("n_bits")
    # the shares usually quoted from the release leave out tensors where pruning is lossless
    assert w.quant_wins_share_finite[8] == pytest.approx(0.982, abs=5e-4)
    assert w.quant_wins_share_finite[2] == pytest.approx(0.741, abs=5e-4)
    assert (w.quant_wins_share <= w.quant_wins_share_finite).all() and (w.lossless_pruning > 0).all()
    by_hand = pd.DataFrame(
        {"n_bits": [4] * 4, "quant_snr_db_paper": [10.0, 10.0, 10.0, 10.0], "prune_snr_db": [5.0, 12.0, np.inf, 9.0]}
    )
    row = released_win_share(by_hand).iloc[0]
    assert (row.tensors, row.lossless_pruning) == (4, 1)
    assert row.quant_wins_share == 0.5 and row.quant_wins_share_finite == pytest.approx(2 / 3)


def test_finite_points_and_cross_check_summary():
    t = pd.DataFrame(
        {"quant_snr_db_paper": [1.0, 2.0, 3.0], "prune_snr_db": [1.0, np.inf, 2.0], "kurtosis": [3.0, 3.0, np.inf]}
    )
    assert len(finite_points(t)) == 1
    both = pd.DataFrame({"tensor": ["a", "b"], "n_bits": [2, 4], **{f"{q}_diff": [0.1, -0.3] for q in COMPARED}})
    s = cross_check_summary(both).set_index("quantity")
    assert list(s.index) == list(COMPARED)
    assert s.max_abs_diff.tolist() == [0.3] * 5 and s.median_abs_diff.tolist() == [pytest.approx(0.2)] * 5
    assert (s.worst_tensor == "b").all() and (s.worst_n_bits == 4).all()


def test_cross_check_empty_without_the_model(released):
    ours = pd.DataFrame({"model": ["other"], "tensor": ["x.weight"], "n_bits": [4]})
    both, summary = cross_check(ours, released, model="mobilenet_v2")
    assert both.empty and summary.empty and {"tensor", "quant_snr_db_paper_diff"} <= set(both.columns)


def test_released_headlines(released):
    wins = released_win_share(released)
    h = released_headlines(released, wins)
    assert h["released-lossless"] == int(wins.lossless_pruning.sum())
    assert h["released-points"] == len(finite_points(released)) < len(released)
    assert h["released-share-finite-8"] == pytest.approx(98.2, abs=0.05)
    assert h["released-share-2"] < h["released-share-finite-2"]
    # the release records an impossible kurtosis (Pearson 0 or infinite) for 151 tensors
    assert (h["released-bad-kurtosis"], h["released-bad-kurtosis-tensors"]) == (1057, 151)


def test_kurtosis_points_leave_out_impossible_kurtosis(released):
    k = kurtosis_points(released)["kurtosis"]
    assert (k >= 1.0).all() and np.isfinite(k).all()
    assert len(finite_points(released)) - len(k) == int((finite_points(released)["kurtosis"] < 1.0).sum())


def test_load_released_from_a_given_file(tmp_path, released):
    path = tmp_path / "small.csv.gz"
    raw = released.head(3).drop(columns=["sparsity", "kurtosis"])
    raw.to_csv(path, index=False)
    again = load_released(path)
    pd.testing.assert_frame_equal(again, released.head(3))
    assert load_released(str(path)).shape == (3, len(RELEASED_COLUMNS))
