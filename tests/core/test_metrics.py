import numpy as np
import pytest
from scipy import stats

from pvq.core.metrics import kurtosis, snr_db, snr_db_from_mse


def test_kurtosis_matches_scipy():
    rng = np.random.default_rng(2)
    x = rng.standard_t(5, size=20000)
    assert kurtosis(x) == pytest.approx(stats.kurtosis(x, fisher=False, bias=True), rel=1e-12)
    assert kurtosis(x, excess=True) == pytest.approx(stats.kurtosis(x, fisher=True, bias=True), rel=1e-12)


def test_kurtosis_of_normal_sample_is_three():
    x = np.random.default_rng(3).normal(size=400_000)
    assert kurtosis(x) == pytest.approx(3.0, abs=0.03)  # standard error of the estimate ≈ 0.008


@pytest.mark.parametrize("bad", [np.ones(5), np.array([]), np.array([1.0, np.nan])])
def test_kurtosis_undefined(bad):
    with pytest.raises(ValueError):
        kurtosis(bad)


def test_snr():
    w = np.array([3.0, -4.0])
    assert snr_db(w, w) == np.inf
    assert snr_db(w, np.zeros(2)) == pytest.approx(0.0)
    assert snr_db(w, w * 0.9) == pytest.approx(20.0)
    assert snr_db_from_mse(1.0, 0.01) == pytest.approx(20.0)
    with pytest.raises(ValueError, match="shapes differ"):
        snr_db(w, w[:1])
    with pytest.raises(ValueError, match="signal power must be positive"):
        snr_db_from_mse(0.0, 1.0)
