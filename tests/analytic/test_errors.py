import math

import numpy as np
import pytest
from scipy import integrate, stats

from pvq.analytic.distributions import from_scipy, make_distribution
from pvq.analytic.errors import (
    adaptive_gauss_legendre,
    bin_errors,
    normal_bin_errors,
    optimal_clip,
    prune_mse,
    prune_snr_db,
    pruning_threshold,
    quant_mse,
    quantized_level_masses,
    snr_table,
)
from pvq.core.quantization import quantize, scale_from_clip

NORMAL = make_distribution("normal")

# Reference values for N(0,1), optimal clipping: the project digest, derived independently
# (b: clip/σ, signed-grid SNR, restricted-symmetric-grid SNR, pruning SNR at 1 - b/16).
DIGEST_NORMAL = {
    2: (1.048, 8.256, 7.208, 3.031),
    3: (1.805, 13.911, 13.292, 4.303),
    4: (2.370, 19.258, 18.898, 5.585),
    5: (2.832, 24.527, 24.326, 6.912),
    6: (3.230, 29.818, 29.709, 8.314),
    7: (3.584, 35.163, 35.106, 9.821),
    8: (3.907, 40.570, 40.540, 11.468),
}


def test_normal_table_matches_digest_within_001_db():
    rows = snr_table(NORMAL, range(2, 9), grids=("signed", "symmetric"))
    assert sorted((r["n_bits"], r["grid"]) for r in rows) == sorted(
        (b, g) for b in range(2, 9) for g in ("signed", "symmetric")
    )
    for r in rows:
        clip, signed, symmetric, prune = DIGEST_NORMAL[r["n_bits"]]
        expected = signed if r["grid"] == "signed" else symmetric
        assert r["quant_snr_db"] == pytest.approx(expected, abs=0.01)
        assert r["prune_snr_db"] == pytest.approx(prune, abs=0.01)
        if r["grid"] == "signed":
            assert r["clip"] == pytest.approx(clip, abs=0.002)


def test_normal_closed_form_against_quadrature():
    rng = np.random.default_rng(5)
    for _ in range(30):
        a, width, c = rng.uniform(0, 3), rng.uniform(0.01, 2), rng.uniform(-1, 4)
        exact = integrate.quad(lambda w, c=c: (w - c) ** 2 * stats.norm.pdf(w), a, a + width, epsabs=0, epsrel=1e-13)[0]
        assert normal_bin_errors(a, a + width, c)[0] == pytest.approx(exact, rel=1e-10)
    tail = integrate.quad(lambda w: (w - 2.5) ** 2 * stats.norm.pdf(w), 2.0, np.inf, epsabs=0, epsrel=1e-13)[0]
    assert normal_bin_errors(2.0, np.inf, 2.5)[0] == pytest.approx(tail, rel=1e-10)


def test_pruning_closed_form():
    for c in (0.1, 0.5, 0.75, 0.875):
        t = stats.norm.ppf(0.5 + c / 2)
        expected = (2 * stats.norm.cdf(t) - 1) - 2 * t * stats.norm.pdf(t)
        assert prune_mse(NORMAL, c) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("grid", ["signed", "symmetric"])
@pytest.mark.parametrize("b", [2, 3, 4, 6, 8])
def test_closed_form_equals_numerical_integration(b, grid):
    generic = from_scipy(stats.norm())  # same density, integrated numerically
    for clip in (0.8, 2.0, 4.5):
        assert quant_mse(generic, clip, n_bits=b, grid=grid) == pytest.approx(
            quant_mse(NORMAL, clip, n_bits=b, grid=grid), rel=1e-8
        )
    assert prune_mse(generic, 1 - b / 16) == pytest.approx(prune_mse(NORMAL, 1 - b / 16), rel=1e-9)


@pytest.mark.parametrize(
    "dist",
    [NORMAL, make_distribution("truncated_student_t", dof=2, truncation=50), make_distribution("laplace")],
    ids=lambda d: d.describe(),
)
@pytest.mark.parametrize("b", [2, 4, 8])
def test_monte_carlo_within_four_standard_errors(dist, b):
    n = 1_000_000
    x = dist.sample(n, rng=np.random.default_rng(100 + b))
    clip = optimal_clip(dist, n_bits=b).clip
    eq = (x - quantize(x, n_bits=b, clip=clip)) ** 2
    assert abs(eq.mean() - quant_mse(dist, clip, n_bits=b)) < 4 * eq.std() / math.sqrt(n)
    c = 1 - b / 16
    ep = np.where(np.abs(x) < pruning_threshold(dist, c), x**2, 0.0)
    assert abs(ep.mean() - prune_mse(dist, c)) < 4 * ep.std() / math.sqrt(n)


def test_uniform_density_limit():
    # Uniform weights on a grid that spans them exactly: the error is s²/12, the rounding limit.
    u = make_distribution("uniform")
    for b in (3, 6, 10):
        s = scale_from_clip(1.0, n_bits=b)
        assert quant_mse(u, 1.0, n_bits=b) == pytest.approx(s**2 / 12, rel=1e-9)
    # a smooth density with negligible clipping tends to the same limit
    for b in (10, 12):
        s = scale_from_clip(8.0, n_bits=b)
        assert quant_mse(NORMAL, 8.0, n_bits=b) == pytest.approx(s**2 / 12, rel=1e-6)


def test_six_db_per_bit():
    u = make_distribution("uniform")
    snr = [optimal_clip(u, n_bits=b).snr_db for b in (12, 13, 14)]
    np.testing.assert_allclose(np.diff(snr), 20 * math.log10(2), atol=0.005)
    normal = [optimal_clip(NORMAL, n_bits=b).snr_db for b in (12, 13, 14, 15)]
    steps = np.diff(normal)  # slightly below 6.02: the optimal clip grows like sqrt(log) with b
    assert np.all((steps > 5.5) & (steps < 20 * math.log10(2)))
    assert np.all(np.diff(steps) > 0)


def test_pruning_edges():
    assert prune_mse(NORMAL, 0.0) == 0.0
    assert prune_snr_db(NORMAL, 0.0) == math.inf
    errs = [prune_mse(NORMAL, c) for c in np.linspace(0, 0.99, 12)]
    assert np.all(np.diff(errs) > 0)
    with pytest.raises(ValueError, match="sparsity"):
        prune_mse(NORMAL, 1.0)


@pytest.mark.parametrize(
    "dist",
    [NORMAL, make_distribution("truncated_student_t", dof=2, truncation=100), make_distribution("gennorm", shape=0.5)],
    ids=lambda d: d.describe(),
)
@pytest.mark.parametrize("b", [2, 5])
def test_optimal_clip_beats_a_dense_grid(dist, b):
    res = optimal_clip(dist, n_bits=b)
    sigma = math.sqrt(dist.second_moment)
    grid = np.linspace(0.05 * sigma, min(dist.upper, 12 * sigma), 1500)
    best_grid = min(quant_mse(dist, a, n_bits=b) for a in grid)
    assert res.mse <= best_grid * (1 + 1e-9)
    for f in (0.999, 1.001):
        assert quant_mse(dist, res.clip * f, n_bits=b) >= res.mse * (1 - 1e-12)


@pytest.mark.parametrize(
    ("truncation", "prune_wins"),
    [(20.0, {2, 3}), (50.0, {2, 3, 4, 5}), (100.0, {2, 3, 4, 5, 6})],
)
def test_heavy_tail_illustration(truncation, prune_wins):
    dist = make_distribution("truncated_student_t", dof=2, truncation=truncation)
    rows = snr_table(dist, range(2, 9))
    assert {r["n_bits"] for r in rows if r["prune_snr_db"] > r["quant_snr_db"]} == prune_wins


def test_untruncated_student_t_quantization_always_wins():
    rows = snr_table(make_distribution("student_t", dof=4.5), range(2, 9))
    assert all(r["quant_snr_db"] > r["prune_snr_db"] for r in rows)


def test_adaptive_integration_handles_a_cusp():
    gn = make_distribution("gennorm", shape=0.5)
    exact = integrate.quad(lambda w: w**2 * gn.base.pdf(w), 0, 0.3, epsabs=0, epsrel=1e-13)[0]
    assert bin_errors(gn, 0.0, 0.3, 0.0)[0] == pytest.approx(exact, rel=1e-9)
    val = adaptive_gauss_legendre(lambda x, own: np.sqrt(x), np.array([0.0]), np.array([1.0]))
    assert val[0] == pytest.approx(2 / 3, rel=1e-9)


def test_groups_integrate_bit_for_bit_as_separate_calls():
    """One vectorised pass over several groups gives exactly (==) what a call per group gives,
    although each group's tolerance depends on its own sum (optimal_clip's bracket relies on it)."""
    f = lambda x, own: np.sqrt(x) * np.cos(3 * x)  # noqa: E731
    los = [np.array([0.0, 1.0, 2.5]), np.array([0.0]), np.array([0.5, 4.0])]
    his = [np.array([1.0, 2.5, 9.0]), np.array([1e-3]), np.array([4.0, 40.0])]
    together = adaptive_gauss_legendre(f, np.concatenate(los), np.concatenate(his), groups=[0, 0, 0, 7, 2, 2])
    alone = np.concatenate([adaptive_gauss_legendre(f, lo, hi) for lo, hi in zip(los, his, strict=True)])
    assert together.tolist() == alone.tolist()
    # bins of several clipping values of a truncated t: finite bins, a bin cut by the truncation, dead bins
    t2 = make_distribution("truncated_student_t", dof=2.0, truncation=5.0)
    k = np.arange(8.0)
    calls = [((k - 0.5).clip(0) * s, np.r_[(k[:-1] + 0.5) * s, math.inf], k * s) for s in (0.1, 0.6, 1.3)]
    one = bin_errors(t2, *(np.concatenate(parts) for parts in zip(*calls, strict=True)), groups=np.repeat([0, 1, 2], 8))
    assert one.tolist() == np.concatenate([bin_errors(t2, *c) for c in calls]).tolist()
    assert (one[16:] == 0).tolist() == ((k - 0.5) * 1.3 >= 5).tolist() == [False] * 5 + [True] * 3  # dead past 5


def test_level_masses_sum_to_one():
    levels, probs = quantized_level_masses(NORMAL, 2.37, n_bits=4)
    assert probs.sum() == pytest.approx(1.0, abs=1e-12)
    assert len(levels) == 16 and levels[-1] == pytest.approx(2.37)
