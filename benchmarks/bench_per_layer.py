"""Per-layer solvers on real chunks: exact solvers vs the paper's SDP, side by side.

Real chunk problems of n = 9 (MobileNetV2 depthwise 3×3), 16 and 32 input dimensions
(EfficientNet-Lite0 and MobileNetV2 pointwise convolutions), at INT2, INT4 and INT8. For each:
the median time per chunk of the exact quantization solver (sphere decoding), the paper's SDP
bounds (cvxpy + Clarabel) and the exact pruning solver, the ratio SDP / exact quantization
(goal ≥ 10×), and the share of chunks whose optimum was proven (goal ≥ 99% at n ≤ 32).

Then exact pruning before and after issue 10: the old search (``exact_prune(bound='max')``) run
once per comparison point INT2..INT8 against one :func:`pvq.layerwise.budget.prune_curve` per
chunk (every ``k = 0..n`` at once, which the chapter now needs for the layer budget), the
total time per chunk and the ratio old / new (side by side, same chunks, same process).

Run: ``.venv/bin/python benchmarks/bench_per_layer.py [CHUNKS_PER_SIZE]`` (default 8).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from pvq.core.quantization import int_grid
from pvq.layerwise.budget import prune_curve
from pvq.layerwise.prune import exact_prune, keep_count
from pvq.layerwise.quant import exact_quant, sdp_bounds
from pvq.layerwise.sweep import layer_chunks

SOURCES = {
    9: ("mobilenet_v2", "features.8.conv.1.0", 32),
    16: ("efficientnet_lite0", "_blocks.5._project_conv", 16),
    32: ("mobilenet_v2", "features.11.conv.0.0", 32),
}
BITS = (2, 4, 8)


def main(per_size: int = 8) -> None:
    print(f"{'n':>3} {'bits':>4} {'exact quant s':>13} {'SDP s':>8} {'ratio':>7} {'exact prune s':>13} "
          f"{'quant proven':>12} {'prune proven':>12}")  # fmt: skip
    for n, (model, layer, size) in SOURCES.items():
        chunks, _ = layer_chunks(model, layer, n_bits=BITS, n_inputs=64, chunk_size=size, max_chunks=per_size * 3)
        chunks = [c for c in chunks if c.w.size == n][:per_size]
        for b in BITS:
            lo, hi = int_grid(b)
            tq, ts, tp, pq, pp = [], [], [], [], []
            for c in chunks:
                s = dict(c.scales)[b]
                t0 = time.perf_counter()
                q = exact_quant(None, c.w, s, lo, hi, r=c.r)
                t1 = time.perf_counter()
                sdp_bounds(c.r, c.w, s, lo, hi)
                t2 = time.perf_counter()
                p = exact_prune(c.r, c.w, keep_count(n, b))
                t3 = time.perf_counter()
                tq.append(t1 - t0)
                ts.append(t2 - t1)
                tp.append(t3 - t2)
                pq.append(q.proven)
                pp.append(p.proven)
            mq, ms, mp = np.median(tq), np.median(ts), np.median(tp)
            print(
                f"{n:3d} {b:4d} {mq:13.4f} {ms:8.3f} {ms / mq:6.0f}x {mp:13.4f} {np.mean(pq):12.0%} {np.mean(pp):12.0%}"
            )


def before_after(per_size: int = 8) -> None:
    """Old per-point exact pruning (7 points) against one exact curve per chunk: seconds per chunk."""
    print(f"\n{'n':>3} {'old: 7 points s':>15} {'new: whole curve s':>18} {'ratio':>7} {'same optimum':>12}")
    for n, (model, layer, size) in SOURCES.items():
        chunks, _ = layer_chunks(model, layer, n_bits=BITS, n_inputs=64, chunk_size=size, max_chunks=per_size * 3)
        chunks = [c for c in chunks if c.w.size == n][:per_size]
        old_t, new_t, same = [], [], True
        for c in chunks:
            t0 = time.perf_counter()
            old = [exact_prune(c.r, c.w, keep_count(n, b), bound="max").objective for b in range(2, 9)]
            t1 = time.perf_counter()
            curve = prune_curve(c.r, c.w)
            t2 = time.perf_counter()
            new = [curve.errors[keep_count(n, b)] for b in range(2, 9)]
            same &= bool(np.allclose(old, new, rtol=1e-9, atol=1e-15))
            old_t.append(t1 - t0)
            new_t.append(t2 - t1)
        print(f"{n:3d} {np.median(old_t):15.3f} {np.median(new_t):18.3f} "
              f"{np.median(old_t) / np.median(new_t):6.1f}x {same!s:>12}")  # fmt: skip


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
    before_after(*(int(a) for a in sys.argv[1:2]))
