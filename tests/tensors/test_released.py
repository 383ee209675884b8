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
    load_released,
    natural_sparsity_by_source,
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
