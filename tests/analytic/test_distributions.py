import math

import numpy as np
import pytest
from scipy import integrate, stats

from pvq.analytic.distributions import (
    DISTRIBUTIONS,
    distribution_for_kurtosis,
    dof_for_kurtosis,
    from_scipy,
    gennorm_kurtosis,
    integrate_wide,
    make_distribution,
    truncation_for_kurtosis,
)

FAMILIES = [
    make_distribution("normal", scale=1.7),
    make_distribution("student_t", dof=5),
    make_distribution("truncated_student_t", dof=2, truncation=30),
    make_distribution("truncated_student_t", dof=1, truncation=500),
    make_distribution("laplace"),
    make_distribution("gennorm", shape=0.6),
    make_distribution("uniform", scale=2.0),
    make_distribution("normal", truncation=1.5),
]


@pytest.mark.parametrize("dist", FAMILIES, ids=lambda d: d.describe())
def test_density_integrates_to_one_and_cdf_ppf_agree(dist):
    mass = 2 * integrate_wide(lambda x: float(dist.pdf(x)), 0.0, dist.upper)
    assert mass == pytest.approx(1.0, abs=1e-9)
    p = np.array([0.01, 0.2, 0.5, 0.77, 0.999])
    np.testing.assert_allclose(dist.cdf(dist.ppf(p)), p, rtol=1e-9, atol=1e-12)
    assert dist.sf(0.0) == pytest.approx(0.5)


@pytest.mark.parametrize(
    "dist",
    [
        make_distribution("normal", scale=1.7),
        make_distribution("student_t", dof=5),
        make_distribution("laplace"),
        make_distribution("gennorm", shape=0.6),
        make_distribution("uniform", scale=2.0),
        make_distribution("student_t", dof=3e12),
    ],
    ids=lambda d: d.describe(),
)
def test_fast_kernel_equals_scipy(dist):
    x = np.linspace(-6, 6, 101)
    np.testing.assert_allclose(dist.pdf(x), dist.base.pdf(x), rtol=1e-9, atol=1e-300)


def test_moments_against_closed_forms():
    assert make_distribution("student_t", dof=7).kurtosis == pytest.approx(3 + 6 / 3, rel=1e-10)
    assert make_distribution("laplace").kurtosis == pytest.approx(6.0, rel=1e-10)
    assert make_distribution("uniform").kurtosis == pytest.approx(1.8, rel=1e-10)
    assert make_distribution("gennorm", shape=0.5).kurtosis == pytest.approx(gennorm_kurtosis(0.5), rel=1e-8)
    t = make_distribution("truncated_student_t", dof=2, truncation=20)
    m2 = integrate.quad(lambda x: x**2 * stats.t.pdf(x, 2), -20, 20, limit=200)[0] / (1 - 2 * stats.t.sf(20, 2))
    assert t.second_moment == pytest.approx(m2, rel=1e-9)


def test_sampling_matches_the_density():
    dist = make_distribution("truncated_student_t", dof=2, truncation=20)
    x = dist.sample(400_000, rng=np.random.default_rng(4))
    assert np.abs(x).max() <= 20
    assert stats.kstest(x, dist.cdf).pvalue > 1e-3
    assert np.mean(x**2) == pytest.approx(dist.second_moment, rel=0.03)


@pytest.mark.parametrize("target", [3.0, 17.0, 58.0, 160.0])
def test_truncation_for_kurtosis(target):
    r = truncation_for_kurtosis(2.0, target)
    assert make_distribution("truncated_student_t", dof=2, truncation=r).kurtosis == pytest.approx(target, rel=1e-9)


def test_kurtosis_solvers_reach_their_targets():
    assert dof_for_kurtosis(9.0) == pytest.approx(5.0)
    for fam in ("truncated_student_t", "student_t", "gennorm"):
        assert distribution_for_kurtosis(fam, 25.0, dof=2.0).kurtosis == pytest.approx(25.0, rel=1e-7)
    assert distribution_for_kurtosis("student_t", 3.0).name == "normal"
    with pytest.raises(ValueError, match="out of reach"):
        truncation_for_kurtosis(6.0, 10.0)  # ν = 6 is bounded by kurtosis 6
    with pytest.raises(ValueError, match="family must be one of"):
        distribution_for_kurtosis("laplace", 6.0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "cauchy"}, "distribution must be one of"),
        ({"name": "student_t"}, "needs dof"),
        ({"name": "student_t", "dof": 0}, "dof .* must be a positive number"),
        ({"name": "student_t", "dof": -2}, "dof .* must be a positive number"),
        ({"name": "student_t", "dof": 2}, "infinite variance"),
        ({"name": "truncated_student_t", "dof": 2}, "needs a finite truncation"),
        ({"name": "truncated_student_t", "dof": 2, "truncation": -1}, "truncation must be a positive number"),
        ({"name": "gennorm"}, "needs shape"),
        ({"name": "normal", "scale": 0}, "scale must be a positive number"),
    ],
)
def test_bad_parameters(kwargs, message):
    name = kwargs.pop("name")
    with pytest.raises(ValueError, match=message):
        make_distribution(name, **kwargs)


def test_from_scipy():
    d = from_scipy(stats.logistic())
    assert d.second_moment == pytest.approx(math.pi**2 / 3, rel=1e-9)
    with pytest.raises(ValueError, match="not symmetric"):
        from_scipy(stats.gamma(2.0))
    with pytest.raises(ValueError, match="frozen continuous"):
        from_scipy(stats.norm)
    with pytest.raises(ValueError, match="infinite variance"):
        from_scipy(stats.cauchy())
    assert from_scipy(stats.cauchy(), truncation=10).kurtosis > 3


def test_names_listed():
    assert set(DISTRIBUTIONS) == {"normal", "student_t", "truncated_student_t", "laplace", "gennorm", "uniform"}
