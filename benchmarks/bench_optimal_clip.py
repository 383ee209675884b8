"""Optimal clipping for a density: pvq's exact search vs a straightforward baseline, side by side.

Baseline: every bin integrated with ``scipy.integrate.quad`` and the clipping value taken from
a 100-candidate grid (the paper code's style of search). pvq: vectorised adaptive
Gauss–Legendre and a dense bracket followed by Brent. Prints, per distribution and bit-width,
both times, their ratio and the SNR each finds (pvq's must never be lower).

Run: ``.venv/bin/python benchmarks/bench_optimal_clip.py`` (about a minute on 2 cores).
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy import integrate, stats

from pvq import from_scipy, make_distribution, optimal_clip
from pvq.core.metrics import snr_db_from_mse
from pvq.core.quantization import int_grid, scale_from_clip


def baseline_mse(dist, clip, n_bits):
    q_min, q_max = int_grid(n_bits)
    s = scale_from_clip(clip, n_bits=n_bits)
    total = 0.0
    for top in (q_max, -q_min):
        for k in range(top + 1):
            lo = max(k - 0.5, 0.0) * s
            hi = math.inf if k == top else (k + 0.5) * s
            hi = min(hi, dist.upper)
            if lo < hi:
                total += integrate.quad(lambda w, c=k * s: (w - c) ** 2 * float(dist.pdf(w)), lo, hi, limit=200)[0]
    return total


def baseline_clip(dist, n_bits, candidates=100):
    top = min(float(dist.isf(1e-9)), dist.upper)
    alphas = np.arange(1, candidates + 1) * top / candidates
    errs = [baseline_mse(dist, a, n_bits) for a in alphas]
    i = int(np.argmin(errs))
    return alphas[i], errs[i]


def main() -> None:
    cases = [
        ("normal (numerical path)", from_scipy(stats.norm())),
        ("truncated t, dof=2, r=50", make_distribution("truncated_student_t", dof=2, truncation=50)),
    ]
    bits = (2, 4, 6, 8)
    print(
        f"{'distribution':28s} {'b':>2s} {'baseline s':>10s} {'pvq s':>8s} {'ratio':>7s} "
        f"{'SNR base':>9s} {'SNR pvq':>8s}"
    )
    t_base = t_pvq = 0.0
    worst = math.inf
    for label, dist in cases:
        for b in bits:
            t0 = time.perf_counter()
            _, e_base = baseline_clip(dist, b)
            t1 = time.perf_counter()
            res = optimal_clip(dist, n_bits=b)
            t2 = time.perf_counter()
            t_base += t1 - t0
            t_pvq += t2 - t1
            snr_base = snr_db_from_mse(dist.second_moment, e_base)
            worst = min(worst, res.snr_db - snr_base)
            print(
                f"{label:28s} {b:2d} {t1 - t0:10.3f} {t2 - t1:8.3f} {(t1 - t0) / (t2 - t1):6.1f}x "
                f"{snr_base:9.3f} {res.snr_db:8.3f}"
            )
    print(
        f"total: baseline {t_base:.2f} s, pvq {t_pvq:.2f} s, speed ratio {t_base / t_pvq:.1f}x; "
        f"smallest SNR gain of pvq over the baseline {worst:+.4f} dB (must be >= 0)"
    )


if __name__ == "__main__":
    main()
