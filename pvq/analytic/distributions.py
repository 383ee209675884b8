"""Symmetric weight distributions for the analytic comparison (paper §3).

A :class:`SymmetricDistribution` wraps a continuous ``scipy.stats`` distribution that is
symmetric about 0, optionally truncated to ``[-r, r]`` and renormalised:

.. math::

    p_r(w) = \\frac{p(w)\\,\\mathbf 1\\{|w| \\le r\\}}{2F(r) - 1}.

The heavy-tailed family of Figure 2 is the Student-t with ``ν`` degrees of freedom
(density ∝ ``(1 + w²/ν)^{-(ν+1)/2}``), truncated at ``±r``. Its Pearson kurtosis grows
from 1.8 (``r → 0``, uniform limit) without bound as ``r → ∞`` when ``ν ≤ 4``; untruncated,
``ν > 4`` gives ``3 + 6/(ν - 4)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from scipy import integrate, optimize, special, stats

__all__ = [
    "DISTRIBUTIONS",
    "SymmetricDistribution",
    "check_distribution_name",
    "distribution_for_kurtosis",
    "dof_for_kurtosis",
    "from_scipy",
    "gennorm_kurtosis",
    "make_distribution",
    "truncation_for_kurtosis",
]

DISTRIBUTIONS: tuple[str, ...] = (
    "normal",
    "student_t",
    "truncated_student_t",
    "laplace",
    "gennorm",
    "uniform",
)


def integrate_wide(f, a: float, b: float, *, epsrel: float = 1e-12, epsabs: float = 0.0) -> float:
    """``∫_a^b f`` for ``0 ≤ a < b ≤ ∞`` by adaptive quadrature on geometric pieces.

    Splitting at ``a·10^k`` (or ``10^k``) keeps each piece within a few decades, so heavy
    tails and wide truncations are integrated to the requested accuracy.
    """
    if not b > a:
        return 0.0
    start = max(a, 1e-3)
    cuts = [a]
    edge = start * 10.0
    while edge < b and len(cuts) < 12:
        if edge > a:
            cuts.append(edge)
        edge *= 10.0
    total = 0.0
    for lo, hi in zip(cuts, [*cuts[1:], b], strict=True):
        # a far piece only needs accuracy relative to what has been summed already
        tol = max(epsabs, epsrel * abs(total))
        val, _ = integrate.quad(f, lo, hi, epsrel=epsrel, epsabs=tol, limit=200)
        total += val
    return total


@dataclass(frozen=True, eq=False)
class SymmetricDistribution:
    """A zero-mean symmetric density, optionally truncated to ``[-truncation, truncation]``.

    Parameters
    ----------
    name : str
        Family name (``'normal'``, ``'truncated_student_t'``, … or ``'scipy:<name>'``).
    base : scipy.stats frozen continuous distribution
        Symmetric about 0.
    truncation : float
        Truncation point ``r > 0``; ``inf`` for none.
    params : tuple of (str, float)
        Parameters for display and tables (e.g. ``(('dof', 2.0), ('truncation', 50.0))``).
    """

    name: str
    base: object = field(repr=False)
    truncation: float = math.inf
    params: tuple = ()
    kernel: object = field(default=None, repr=False)

    @cached_property
    def _tail(self) -> float:
        """``P_base(W > r)``, 0 without truncation."""
        return 0.0 if math.isinf(self.truncation) else float(self.base.sf(self.truncation))

    @cached_property
    def _norm(self) -> float:
        """Normaliser ``2F(r) - 1``."""
        return 1.0 - 2.0 * self._tail

    @property
    def upper(self) -> float:
        """Upper end of the support."""
        return min(self.truncation, float(self.base.support()[1]))

    @property
    def is_standard_normal_family(self) -> bool:
        """True for an untruncated normal (closed forms apply)."""
        return self.name == "normal" and math.isinf(self.truncation)

    def pdf(self, w):
        """Density ``p(w)``."""
        w = np.asarray(w, dtype=np.float64)
        dens = self.kernel(w) if self.kernel is not None else self.base.pdf(w)
        return np.where(np.abs(w) <= self.truncation, dens / self._norm, 0.0)

    def sf(self, w):
        """Survival function ``P(W > w)`` for ``w ≥ 0``."""
        w = np.minimum(np.asarray(w, dtype=np.float64), self.truncation)
        return (self.base.sf(w) - self._tail) / self._norm

    def cdf(self, w):
        """Cumulative distribution ``P(W ≤ w)``."""
        w = np.asarray(w, dtype=np.float64)
        return np.where(w >= 0, 1.0 - self.sf(np.abs(w)), self.sf(np.abs(w)))

    def isf(self, q):
        """Inverse survival function: the ``w ≥ 0`` with ``P(W > w) = q`` for ``q ≤ 1/2``."""
        q = np.asarray(q, dtype=np.float64)
        return self.base.isf(self._tail + q * self._norm)

    def ppf(self, p):
        """Quantile function ``F⁻¹(p)``."""
        p = np.asarray(p, dtype=np.float64)
        upper = self.isf(np.minimum(1.0 - p, 0.5))
        lower = -self.isf(np.minimum(p, 0.5))
        return np.where(p >= 0.5, upper, lower)

    def abs_moment(self, k: int) -> float:
        """``E[|W|^k]`` (``inf`` where it diverges)."""
        if math.isinf(self.truncation) and k % 2 == 0:
            m = float(self.base.moment(k))
            return m if np.isfinite(m) else math.inf
        return 2.0 * integrate_wide(lambda x: x**k * float(self.pdf(x)), 0.0, self.upper)

    @cached_property
    def second_moment(self) -> float:
        """``E[W²]`` (the variance, the mean being 0)."""
        return self.abs_moment(2)

    @cached_property
    def kurtosis(self) -> float:
        """Pearson kurtosis ``E[W⁴] / E[W²]²`` (Gaussian = 3)."""
        return self.abs_moment(4) / self.second_moment**2

    def sample(self, size: int, *, rng: np.random.Generator) -> np.ndarray:
        """Draw ``size`` samples by inverse-CDF sampling (accurate in the tails)."""
        mag = self.isf(rng.uniform(0.0, 0.5, size=size))
        return np.where(rng.uniform(size=size) < 0.5, -mag, mag)

    def describe(self) -> str:
        """Short label such as ``'truncated_student_t(dof=2, truncation=50)'``."""
        inner = ", ".join(f"{k}={v:g}" for k, v in self.params)
        return f"{self.name}({inner})"


def check_distribution_name(name: str) -> str:
    """Validate a distribution family name."""
    if name not in DISTRIBUTIONS:
        raise ValueError(f"distribution must be one of {DISTRIBUTIONS}, got {name!r}")
    return name


def _positive(value, what: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a positive number, got {value!r}") from None
    if not v > 0 or math.isnan(v):
        raise ValueError(f"{what} must be a positive number, got {value!r}")
    return v


def make_distribution(
    name: str,
    *,
    dof: float | None = None,
    truncation: float | None = None,
    shape: float | None = None,
    scale: float = 1.0,
) -> SymmetricDistribution:
    """Build a symmetric distribution by family name.

    Parameters
    ----------
    name : {'normal', 'student_t', 'truncated_student_t', 'laplace', 'gennorm', 'uniform'}
        Family. ``'uniform'`` is on ``[-scale, scale]``.
    dof : float, optional
        Degrees of freedom ``ν > 0`` of the Student-t families (required there).
    truncation : float, optional
        Truncation point ``r > 0`` (required for ``'truncated_student_t'``, optional for the
        others).
    shape : float, optional
        Shape ``β > 0`` of the generalized normal (density ∝ ``exp(-|w|^β)``; required).
    scale : float
        Scale parameter (standard deviation for the normal).

    Raises
    ------
    ValueError
        Unknown family, missing or non-positive parameter, or an untruncated Student-t with
        ``ν ≤ 2`` (infinite variance, so no SNR).
    """
    check_distribution_name(name)
    scale = _positive(scale, "scale")
    r = math.inf if truncation is None else _positive(truncation, "truncation")
    params: list[tuple[str, float]] = []
    if name in ("student_t", "truncated_student_t"):
        if dof is None:
            raise ValueError(f"{name} needs dof (degrees of freedom > 0)")
        nu = _positive(dof, "dof (degrees of freedom)")
        params.append(("dof", nu))
        if name == "truncated_student_t" and math.isinf(r):
            raise ValueError("truncated_student_t needs a finite truncation > 0")
        if math.isinf(r) and nu <= 2:
            raise ValueError(
                f"student_t with dof={nu:g} <= 2 has infinite variance; "
                "use truncated_student_t with a finite truncation"
            )
        base = stats.t(df=nu, scale=scale)
        # 1/(√ν·B(1/2, ν/2)): betaln stays accurate for very large ν, a difference of lgammas does not
        log_c = -0.5 * math.log(nu) - float(special.betaln(0.5, nu / 2)) - math.log(scale)

        def kernel(w):
            return np.exp(log_c - (nu + 1) / 2 * np.log1p((w / scale) ** 2 / nu))
    elif name == "gennorm":
        if shape is None:
            raise ValueError("gennorm needs shape (beta > 0)")
        beta = _positive(shape, "shape (beta)")
        params.append(("shape", beta))
        base = stats.gennorm(beta, scale=scale)
        log_c = math.log(beta / (2 * scale)) - math.lgamma(1 / beta)

        def kernel(w):
            return np.exp(log_c - np.abs(w / scale) ** beta)
    elif name == "normal":
        base = stats.norm(scale=scale)

        def kernel(w):
            return np.exp(-0.5 * (w / scale) ** 2) / (scale * math.sqrt(2 * math.pi))
    elif name == "laplace":
        base = stats.laplace(scale=scale)

        def kernel(w):
            return np.exp(-np.abs(w) / scale) / (2 * scale)
    else:
        base = stats.uniform(loc=-scale, scale=2 * scale)

        def kernel(w):
            return np.where(np.abs(w) <= scale, 0.5 / scale, 0.0)

    if scale != 1.0:
        params.append(("scale", scale))
    if not math.isinf(r):
        params.append(("truncation", r))
    return SymmetricDistribution(name=name, base=base, truncation=r, params=tuple(params), kernel=kernel)


def from_scipy(frozen, *, truncation: float | None = None, name: str | None = None) -> SymmetricDistribution:
    """Wrap any frozen continuous ``scipy.stats`` distribution symmetric about 0.

    Raises
    ------
    ValueError
        If the distribution is not continuous, not symmetric about 0, or has no finite
        variance (and no truncation).
    """
    if not isinstance(getattr(frozen, "dist", None), stats.rv_continuous):
        raise ValueError("from_scipy needs a frozen continuous scipy.stats distribution")
    probes = frozen.ppf([0.6, 0.75, 0.9, 0.99])
    if not np.allclose(frozen.cdf(-probes) + frozen.cdf(probes), 1.0, atol=1e-9):
        raise ValueError(f"scipy distribution {frozen.dist.name!r} is not symmetric about 0")
    r = math.inf if truncation is None else _positive(truncation, "truncation")
    dist = SymmetricDistribution(
        name=name or f"scipy:{frozen.dist.name}",
        base=frozen,
        truncation=r,
        params=(() if math.isinf(r) else (("truncation", r),)),
    )
    if not np.isfinite(dist.second_moment):
        raise ValueError("the distribution has infinite variance: give a finite truncation")
    return dist


def dof_for_kurtosis(kurtosis: float) -> float:
    """Degrees of freedom of the untruncated Student-t with Pearson kurtosis ``κ > 3``.

    ``κ = 3 + 6/(ν - 4)``, so ``ν = 4 + 6/(κ - 3)``.
    """
    k = float(kurtosis)
    if not k > 3:
        raise ValueError(f"an untruncated Student-t has kurtosis > 3, got {kurtosis!r}")
    return 4.0 + 6.0 / (k - 3.0)


def truncation_for_kurtosis(dof: float, kurtosis: float) -> float:
    """Truncation ``r`` giving a Student-t(``ν``) truncated at ``±r`` the Pearson kurtosis ``κ``.

    The kurtosis increases monotonically in ``r`` from 1.8 (uniform limit); for ``ν > 4`` it
    is bounded by ``3 + 6/(ν - 4)``.
    """
    nu = _positive(dof, "dof (degrees of freedom)")
    target = float(kurtosis)
    limit = 3.0 + 6.0 / (nu - 4.0) if nu > 4 else math.inf
    if not 1.8 < target < limit:
        raise ValueError(
            f"kurtosis {target:g} is out of reach for a truncated Student-t with dof={nu:g} "
            f"(reachable: 1.8 < kurtosis < {limit:g})"
        )

    def gap(log_r: float) -> float:
        dist = make_distribution("truncated_student_t", dof=nu, truncation=math.exp(log_r))
        return math.log(dist.kurtosis) - math.log(target)

    lo, hi = math.log(1e-2), math.log(10.0)
    while gap(hi) < 0:
        hi += math.log(10.0)
        if hi > math.log(1e12):
            raise ValueError(f"kurtosis {target:g} needs a truncation beyond 1e12")
    return math.exp(optimize.brentq(gap, lo, hi, xtol=1e-12, rtol=1e-12))


def gennorm_kurtosis(shape: float) -> float:
    """Pearson kurtosis ``Γ(5/β)Γ(1/β)/Γ(3/β)²`` of the generalized normal with shape ``β``."""
    b = _positive(shape, "shape (beta)")
    return math.exp(math.lgamma(5 / b) + math.lgamma(1 / b) - 2 * math.lgamma(3 / b))


def distribution_for_kurtosis(family: str, kurtosis: float, *, dof: float = 2.0) -> SymmetricDistribution:
    """A member of ``family`` with Pearson kurtosis ``κ`` (unit scale).

    - ``'truncated_student_t'``: Student-t(``dof``) truncated at the ``r`` solving the kurtosis
      (:func:`truncation_for_kurtosis`);
    - ``'student_t'``: untruncated, ``ν = 4 + 6/(κ - 3)`` (``κ ≤ 3`` gives the normal limit only
      at ``κ = 3``);
    - ``'gennorm'``: the shape ``β`` solving ``Γ(5/β)Γ(1/β)/Γ(3/β)² = κ`` (``β = 2`` is normal).
    """
    k = float(kurtosis)
    if family == "truncated_student_t":
        return make_distribution(family, dof=dof, truncation=truncation_for_kurtosis(dof, k))
    if family == "student_t":
        if k == 3.0:
            return make_distribution("normal")
        return make_distribution(family, dof=dof_for_kurtosis(k))
    if family == "gennorm":
        if not 1.8 < k < gennorm_kurtosis(0.05):
            raise ValueError(
                f"kurtosis {k:g} is out of reach for gennorm (1.8 < kurtosis < {gennorm_kurtosis(0.05):.3g})"
            )
        log_beta = optimize.brentq(
            lambda lb: math.log(gennorm_kurtosis(math.exp(lb))) - math.log(k), math.log(0.05), math.log(1e3), xtol=1e-13
        )
        return make_distribution(family, shape=math.exp(log_beta))
    raise ValueError(f"family must be one of ('truncated_student_t', 'student_t', 'gennorm'), got {family!r}")
