"""Clipping search on a real weight tensor: the paper's 100-candidate grid, pvq's optimum, and a proof.

The paper picks the clipping value of a tensor among the 100 candidates
``α_k = k·(max|w| + 0.5)/100`` by the smallest MSE (:func:`paper_clip`); pvq finds the MSE-optimal
value (:func:`optimal_clip_tensor`: a dense scan, then alternating minimisation, assigning each
weight to its level and then the best scale for that assignment, to a fixed point), never worse
than the paper's grid by construction; :func:`certified_clip_tensor` proves the global optimum by
branch and bound over the scale (paper §4, used by chapter 3).

The MSE of many clipping values is evaluated at once from the sorted weights and prefix sums:
the weights falling in each quantization bin are a contiguous run of the sorted array, so
``Σ_bin (w - k s)² = S₂ - 2ks S₁ + k²s² S₀`` costs one binary search per bin edge instead of a
pass over the tensor. The sorted array is kept as distinct values with counts
(:class:`SortedWeights`): an FP16 tensor has at most 63,488 of them, so the memory and the cost
of the searches do not grow with the tensor (a 45-million-weight LLM matrix is counted chunk by
chunk, :func:`fp16_counts`, never copied to float64).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..core.quantization import Grid, int_grid, quantize_int

__all__ = [
    "FP16_NONFINITE",
    "SortedWeights",
    "all_finite",
    "certified_clip_tensor",
    "clip_search",
    "fp16_counts",
    "natural_sparsity",
    "optimal_clip_tensor",
    "paper_clip",
    "paper_clip_candidates",
    "prune_mse_sorted",
    "quantization_mse",
]


@dataclass(frozen=True)
class SortedWeights:
    """A tensor reduced to what every error evaluation needs: its distinct values, counts and prefix sums.

    A tensor of FP16 values (the paper's baseline) has at most 63,488 distinct finite values
    whatever its size, so it is held as a histogram (:func:`fp16_counts`, built chunk by chunk
    without a float64 copy of the tensor): the memory of the analysis does not grow with the
    tensor. Every sum over the weights is a sum over the distinct values weighted by their counts.

    Attributes
    ----------
    sorted : numpy.ndarray
        The distinct values, ascending (float64, length ``m``; ``-0.0`` and ``0.0`` are one value).
    cum : numpy.ndarray
        Prefix counts with a leading 0 (int64, length ``m + 1``): ``cum[j]`` weights are below
        ``sorted[j]``, so ``cum[np.searchsorted(sorted, x)]`` counts the weights below ``x``.
    p1, p2 : numpy.ndarray
        Prefix sums of ``count·v`` and ``count·v²`` with a leading 0 (length ``m + 1``).
    magnitudes : numpy.ndarray
        The distinct ``|w|``, ascending.
    cum_by_magnitude, sq_by_magnitude : numpy.ndarray
        Prefix counts and prefix sums of ``count·w²`` in order of increasing ``|w|`` (leading 0).
    """

    sorted: np.ndarray
    cum: np.ndarray
    p1: np.ndarray
    p2: np.ndarray
    magnitudes: np.ndarray
    cum_by_magnitude: np.ndarray
    sq_by_magnitude: np.ndarray

    @classmethod
    def build(cls, w, *, count: bool = True) -> SortedWeights:
        """From the weights (flattened); FP16-exact values are counted, others sorted.

        ``count=False`` sorts always: faster for short vectors (an output channel), whose
        histogram over the 65,536 FP16 patterns would be mostly empty.
        """
        w = np.asarray(w).reshape(-1)
        if count and w.dtype == np.float16:
            return cls.from_fp16_counts(fp16_counts(w))
        w = np.asarray(w, dtype=np.float64)
        with np.errstate(over="ignore"):
            exact = count and np.array_equal(w.astype(np.float16), w)
        if exact:
            return cls.from_fp16_counts(fp16_counts(w))
        s = np.sort(w)
        starts = np.flatnonzero(np.concatenate([[True], s[1:] != s[:-1]]))
        return cls._from_distinct(s[starts], np.diff(np.append(starts, s.size)))

    @classmethod
    def from_fp16_counts(cls, counts: np.ndarray) -> SortedWeights:
        """From a histogram over the 65,536 FP16 bit patterns (:func:`fp16_counts`; no NaN or Inf)."""
        counts = np.asarray(counts, dtype=np.int64)
        if counts.shape != (65536,) or counts[FP16_NONFINITE].any():
            raise ValueError("counts must be a histogram of 65536 finite FP16 bit patterns")
        return cls._from_distinct(_FP16_VALUES[_FP16_ORDER], counts[_FP16_ORDER])

    @classmethod
    def _from_distinct(cls, values: np.ndarray, counts: np.ndarray) -> SortedWeights:
        """From ascending values and their counts (equal neighbours and empty counts merged away)."""
        keep = counts > 0
        values, counts = values[keep] + 0.0, counts[keep]  # + 0.0: -0.0 becomes 0.0
        starts = np.flatnonzero(np.concatenate([[True], values[1:] != values[:-1]]))
        u, c = values[starts], np.add.reduceat(counts, starts) if values.size else counts
        zero = np.zeros(1)
        # magnitudes: two sorted runs (negatives reversed, positives) to merge
        split = int(np.searchsorted(u, 0.0))
        mags = np.concatenate([-u[:split][::-1], u[split:]])
        mc = np.concatenate([c[:split][::-1], c[split:]])
        order = np.argsort(mags, kind="stable")
        mags, mc = mags[order], mc[order]
        starts = np.flatnonzero(np.concatenate([[True], mags[1:] != mags[:-1]]))
        mags, mc = mags[starts], np.add.reduceat(mc, starts) if mags.size else mc
        return cls(
            sorted=u,
            cum=np.concatenate([[0], np.cumsum(c)]).astype(np.int64),
            p1=np.concatenate([zero, np.cumsum(u * c)]),
            p2=np.concatenate([zero, np.cumsum(u * u * c)]),
            magnitudes=mags,
            cum_by_magnitude=np.concatenate([[0], np.cumsum(mc)]).astype(np.int64),
            sq_by_magnitude=np.concatenate([zero, np.cumsum(mags * mags * mc)]),
        )

    @property
    def n(self) -> int:
        """Number of weights."""
        return int(self.cum[-1])

    @property
    def counts(self) -> np.ndarray:
        """How many weights take each distinct value."""
        return np.diff(self.cum)

    @property
    def power(self) -> float:
        """``E[w²]``."""
        return float(self.p2[-1] / self.n)

    @property
    def max_abs(self) -> float:
        return float(max(-self.sorted[0], self.sorted[-1]))

    def kurtosis(self) -> float:
        """``E[(w - E w)⁴] / E[(w - E w)²]²`` (not excess)."""
        c = self.counts
        d = self.sorted - self.p1[-1] / self.n
        m2 = float(np.sum(c * d * d)) / self.n
        return float(np.sum(c * d**4)) / self.n / m2**2


#: Values of the 65,536 FP16 bit patterns (as ``uint16``), as float64.
_FP16_VALUES = np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float64)
#: Mask of the FP16 bit patterns of NaN and ±Inf (exponent bits all set), to index :func:`fp16_counts`.
FP16_NONFINITE = ~np.isfinite(_FP16_VALUES)
#: The finite bit patterns in ascending order of value.
_FP16_ORDER = np.flatnonzero(~FP16_NONFINITE)[np.argsort(_FP16_VALUES[~FP16_NONFINITE], kind="stable")]
#: Values converted and counted at a time by :func:`fp16_counts` (a few MB of scratch memory).
_CHUNK = 1 << 18


def all_finite(w) -> bool:
    """Whether every value of ``w`` is finite, checked one chunk at a time (no tensor-sized mask)."""
    w = np.asarray(w).reshape(-1)
    return all(bool(np.isfinite(w[i : i + _CHUNK]).all()) for i in range(0, w.size, _CHUNK))


def fp16_counts(w) -> np.ndarray:
    """Histogram of ``w`` rounded to FP16, over the 65,536 bit patterns, one chunk at a time.

    No copy of the whole tensor is made (the rounding and counting work on chunks of
    2¹⁸ values), so a tensor memory-mapped from a checkpoint is counted in a few MB.
    Values beyond the FP16 range land on the patterns of ±Inf (``SortedWeights`` refuses them).
    """
    w = np.asarray(w).reshape(-1)
    counts = np.zeros(65536, dtype=np.int64)
    for i in range(0, w.size, _CHUNK):
        with np.errstate(over="ignore"):
            part = w[i : i + _CHUNK].astype(np.float16)
        counts += np.bincount(part.view(np.uint16), minlength=65536)
    return counts


def _bin_sums(sw: SortedWeights, clips: np.ndarray, n_bits: int, grid: Grid):
    """Per clip and level: count, Σw, Σw² of the weights that quantize to that level."""
    q_min, q_max = int_grid(n_bits, grid)
    scales = clips / max(q_max, 1)
    levels = np.arange(q_min, q_max + 1, dtype=np.float64)
    edges = (levels[:-1] + 0.5)[None, :] * scales[:, None]
    # round half to even puts a weight exactly on an edge in either neighbour; its error is the same
    # level-major order keeps the queries nearly sorted: binary searches stay in cache
    idx = np.searchsorted(sw.sorted, edges.T, side="left").T
    m = sw.sorted.size
    full = np.concatenate([np.zeros((len(clips), 1), dtype=np.int64), idx, np.full((len(clips), 1), m)], axis=1)
    s0 = np.diff(sw.cum[full], axis=1).astype(np.float64)
    s1 = np.diff(sw.p1[full], axis=1)
    s2 = np.diff(sw.p2[full], axis=1)
    return levels, scales, s0, s1, s2


def _mse_many(sw: SortedWeights, clips: np.ndarray, n_bits: int, grid: Grid) -> np.ndarray:
    levels, scales, s0, s1, s2 = _bin_sums(sw, clips, n_bits, grid)
    ks = levels[None, :] * scales[:, None]
    err = s2 - 2 * ks * s1 + ks * ks * s0
    return np.maximum(err.sum(axis=1), 0.0) / sw.n


def quantization_mse(w: np.ndarray, clip: float, n_bits: int, grid: Grid = "signed") -> float:
    """MSE of quantizing ``w`` at ``clip`` by direct quantization: :math:`\\tfrac1n \\sum_i (w_i - Q(w_i))^2`.

    The reference the fast prefix-sum evaluation is checked against.
    """
    codes, s = quantize_int(w, n_bits=n_bits, clip=clip, grid=grid)
    return float(np.mean((w - codes * s) ** 2))


def paper_clip_candidates(max_abs: float, n_candidates: int = 100) -> np.ndarray:
    """The paper code's clipping candidates ``α_k = k·(max|w| + 0.5)/n``, ``k = 1..n``."""
    return np.arange(1, n_candidates + 1) * (max_abs + 0.5) / n_candidates


def paper_clip(w, *, n_bits: int, grid: Grid = "signed", n_candidates: int = 100) -> tuple[float, float]:
    """The paper's range setting, done as the paper's code does it: quantize with every candidate.

    Returns
    -------
    (clip, mse) : (float, float)
    """
    w = np.asarray(w, dtype=np.float64).reshape(-1)
    best = (math.nan, math.inf)
    for a in paper_clip_candidates(float(np.abs(w).max()), n_candidates):
        mse = quantization_mse(w, a, n_bits, grid)
        if mse < best[1]:
            best = (float(a), mse)
    return best


def _direct_mse(sw: SortedWeights, clip: float, n_bits: int, grid: Grid) -> float:
    """:func:`quantization_mse` of the whole tensor, by quantizing each distinct value once."""
    codes, s = quantize_int(sw.sorted, n_bits=n_bits, clip=clip, grid=grid)
    err = sw.sorted - codes * s
    return float(np.sum(sw.counts * err * err) / sw.n)


def _paper_choice(sw: SortedWeights, n_bits: int, grid: Grid, n_candidates: int = 100, estimates=None):
    """The paper's candidate and its MSE, found with the fast evaluation.

    Candidates whose estimate is within 1e-7 of the best (far above the estimate's rounding
    error, ~1e-10) are re-evaluated exactly and the smallest clip wins ties, so the choice
    equals :func:`paper_clip`'s.
    """
    cands = paper_clip_candidates(sw.max_abs, n_candidates)
    est = _mse_many(sw, cands, n_bits, grid) if estimates is None else estimates
    close = np.flatnonzero(est <= est.min() * (1 + 1e-7) + 1e-300)
    if close.size == 1:
        return float(cands[close[0]]), float(est[close[0]])
    direct = [_direct_mse(sw, cands[i], n_bits, grid) for i in close]
    j = int(np.argmin(direct))
    return float(cands[close[j]]), float(direct[j])


def _lloyd(sw: SortedWeights, clip: float, n_bits: int, grid: Grid, max_iter: int = 30) -> float:
    """Alternate: assign weights to levels for the scale, then the best scale for the assignment.

    Neither step can increase the MSE, so the iteration stops at a fixed point: a scale that is
    least-squares optimal for the levels it induces.
    """
    _, q_max = int_grid(n_bits, grid)
    denom = max(q_max, 1)
    for _ in range(max_iter):
        levels, _, s0, s1, _ = _bin_sums(sw, np.array([clip]), n_bits, grid)
        num = float(np.sum(levels * s1[0]))
        den = float(np.sum(levels * levels * s0[0]))
        if den <= 0 or num <= 0:
            return clip
        new = num / den * denom
        if abs(new - clip) <= 1e-12 * clip:
            return new
        clip = new
    return clip


def optimal_clip_tensor(
    sw: SortedWeights,
    *,
    n_bits: int,
    grid: Grid = "signed",
    n_scan: int = 150,
    budget: float = 15.0,
    lloyd: bool = True,
) -> tuple[float, float]:
    """MSE-optimal clipping value for one tensor, never worse than the paper's grid.

    See :func:`clip_search`, which also returns the paper's choice found on the way.

    Returns
    -------
    (clip, mse) : (float, float)
    """
    _, _, clip, mse = clip_search(sw, n_bits=n_bits, grid=grid, n_scan=n_scan, budget=budget, lloyd=lloyd)
    return clip, mse


def clip_search(
    sw: SortedWeights,
    *,
    n_bits: int,
    grid: Grid = "signed",
    n_scan: int = 150,
    budget: float = 15.0,
    lloyd: bool = True,
) -> tuple[float, float, float, float]:
    """The paper's clipping choice and the MSE-optimal one, from one shared evaluation.

    1. The paper's 100 candidates (:func:`paper_clip_candidates`) and a coarse scan of
       ``n_scan`` geometrically spaced values from ``max|w|/10⁴`` to ``max|w| + 0.5``.
    2. A fine linear scan around the best coarse value (± two coarse steps); its size is set so
       that the whole search costs about ``budget`` passes over the tensor (each evaluation
       costs one binary search per level).
    3. From the best point, alternating minimisation (levels for the scale, then the
       least-squares scale ``s = Σ k_i w_i / Σ k_i²`` for those levels) to a fixed point.
    4. If the result does not beat the paper's choice by more than the evaluation's rounding
       error, the paper's choice is returned: the MSE is never larger than the grid's.

    The empirical MSE is piecewise quadratic in the scale and, for FP16-rounded weights at
    high bit-widths, rugged (the grid resonates with the FP16 spacing), so this search is not
    certified: :func:`certified_clip_tensor` proves the global optimum. The tests require the
    search to be within 1% of the proven optimum at 2–4 bits on random heavy-tailed tensors, and
    chapter 3 reports the gap on real tensors.

    Returns
    -------
    (paper_clip, paper_mse, clip, mse) : (float, float, float, float)
    """
    q_min, q_max = int_grid(n_bits, grid)
    paper = paper_clip_candidates(sw.max_abs)
    coarse = np.geomspace(sw.max_abs * 1e-4, sw.max_abs + 0.5, n_scan)
    est = _mse_many(sw, np.concatenate([paper, coarse]), n_bits, grid)
    p_clip, p_mse = _paper_choice(sw, n_bits, grid, estimates=est[: paper.size])
    i = int(np.argmin(est[paper.size :]))
    lo, hi = coarse[max(i - 2, 0)], coarse[min(i + 2, n_scan - 1)]
    n_fine = int(np.clip(budget * sw.n / ((q_max - q_min + 1) * max(math.log2(sw.n), 1.0)), 100, 4000))
    fine = np.linspace(lo, hi, n_fine)
    fine_est = _mse_many(sw, fine, n_bits, grid)
    j = int(np.argmin(fine_est))
    clip, mse = float(fine[j]), float(fine_est[j])
    if lloyd:
        c2 = _lloyd(sw, clip, n_bits, grid)
        m2 = float(_mse_many(sw, np.array([c2]), n_bits, grid)[0])
        if m2 < mse:
            clip, mse = c2, m2
    if mse >= p_mse * (1 - 1e-6):
        return p_clip, p_mse, p_clip, p_mse
    return p_clip, p_mse, clip, mse


def _lower_bounds(sw: SortedWeights, s_lo: np.ndarray, s_hi: np.ndarray, n_bits: int, grid: Grid) -> np.ndarray:
    """Lower bound of ``n·MSE(s)`` over each scale interval ``[s_lo, s_hi]``.

    Every weight is at least as far from the grid as from the union of the intervals
    ``[k·s_lo, k·s_hi]`` that level ``k`` sweeps; inside the gaps between consecutive intervals a
    weight is charged its distance to the nearer end, beyond the outer levels its distance to
    the outermost reach. The sums come from the prefix sums in one binary search per gap end.
    """
    q_min, q_max = int_grid(n_bits, grid)
    m = len(s_lo)
    kp = np.arange(0, q_max)
    kn = np.arange(q_min + 1, 1)
    a = np.concatenate([kp[None, :] * s_hi[:, None], (kn[None, :] - 1) * s_lo[:, None]], axis=1)
    b = np.concatenate([(kp[None, :] + 1) * s_lo[:, None], kn[None, :] * s_hi[:, None]], axis=1)
    b = np.maximum(a, b)  # overlapping sweeps leave no gap
    mid = (a + b) / 2
    top, bottom = (q_max * s_hi)[:, None], (q_min * s_hi)[:, None]
    lo = np.concatenate([a, mid, top, np.full((m, 1), -np.inf)], axis=1)
    hi = np.concatenate([mid, b, np.full((m, 1), np.inf), bottom], axis=1)
    anchor = np.concatenate([a, b, top, bottom], axis=1)
    i0 = np.searchsorted(sw.sorted, lo, side="right")
    i1 = np.searchsorted(sw.sorted, hi, side="right")
    s0 = (sw.cum[i1] - sw.cum[i0]).astype(np.float64)
    err = (sw.p2[i1] - sw.p2[i0]) - 2 * anchor * (sw.p1[i1] - sw.p1[i0]) + anchor**2 * s0
    return np.maximum(err, 0.0).sum(axis=1)


def certified_clip_tensor(
    sw: SortedWeights, *, n_bits: int, grid: Grid = "signed", rtol: float = 1e-6, max_nodes: int = 500_000
) -> tuple[float, float, bool]:
    """Globally MSE-optimal clipping value, proven by branch and bound over the scale.

    Intervals of the scale ``s ∈ [max|w|·10⁻⁶, 2·max|w|] / q_max`` are split in halves; an
    interval is dropped once its lower bound (``_lower_bounds``) is within ``rtol`` of the
    best MSE found (:func:`optimal_clip_tensor` to start, then interval midpoints). Slow at high
    bit-widths; used to measure how close the fast search comes.

    Returns
    -------
    (clip, mse, proven) : (float, float, bool)
        ``proven`` is False when ``max_nodes`` ran out first; the values are then the best found.
    """
    _, q_max = int_grid(n_bits, grid)
    den = max(q_max, 1)
    clip, mse = optimal_clip_tensor(sw, n_bits=n_bits, grid=grid)
    best = mse * sw.n
    s_lo = np.array([sw.max_abs * 1e-6 / den])
    s_hi = np.array([2 * sw.max_abs / den])
    nodes = 0
    while s_lo.size:
        keep = _lower_bounds(sw, s_lo, s_hi, n_bits, grid) < best * (1 - rtol)
        nodes += s_lo.size
        s_lo, s_hi = s_lo[keep], s_hi[keep]
        if not s_lo.size:
            break
        if nodes > max_nodes:
            return clip, best / sw.n, False
        mid = (s_lo + s_hi) / 2
        ub = _mse_many(sw, mid * den, n_bits, grid) * sw.n
        i = int(np.argmin(ub))
        if ub[i] < best:
            best, clip = float(ub[i]), float(mid[i] * den)
        s_lo, s_hi = np.concatenate([s_lo, mid]), np.concatenate([mid, s_hi])
    return clip, best / sw.n, True


def natural_sparsity(sw: SortedWeights, clip: float, *, n_bits: int, grid: Grid = "signed") -> float:
    """Share of weights that quantize to exactly 0: ``|w| ≤ s/2`` (round half to even)."""
    _, q_max = int_grid(n_bits, grid)
    half = clip / max(q_max, 1) / 2
    inside = sw.cum[np.searchsorted(sw.sorted, half, side="right")] - sw.cum[np.searchsorted(sw.sorted, -half)]
    return float(inside / sw.n)


def prune_mse_sorted(sw: SortedWeights, sparsity: float) -> float:
    """MSE of removing exactly ``⌊c·n⌋`` smallest-magnitude weights."""
    k = math.floor(sparsity * sw.n)
    j = int(np.searchsorted(sw.cum_by_magnitude, k, side="right")) - 1  # whole groups of equal |w| removed
    rest = (k - sw.cum_by_magnitude[j]) * sw.magnitudes[j] ** 2 if j < sw.magnitudes.size else 0.0
    return float((sw.sq_by_magnitude[j] + rest) / sw.n)
