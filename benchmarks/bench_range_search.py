"""Range setting on real weights: the paper's 100-candidate grid vs pvq's search, side by side.

On the MobileNetV2 ImageNet weights (all 53 conv/linear tensors, FP16-rounded) at 2..8 bits:

- baseline: the paper code's method, quantizing the tensor with each of the 100 candidates
  ``α_k = k·(max|w| + 0.5)/100`` and keeping the best (:func:`pvq.tensors.paper_clip`);
- pvq: :func:`pvq.tensors.optimal_clip_tensor`, sorting included.

Tensors are streamed one at a time. Prints both times, their ratio (goal: pvq ≥ 10× faster) and
the worst MSE ratio pvq/grid (must be ≤ 1 on every tensor).

Run: ``.venv/bin/python benchmarks/bench_range_search.py [MODEL]`` (default mobilenet_v2).
"""

from __future__ import annotations

import sys
import time

from pvq.tensors.analysis import check_tensor
from pvq.tensors.checkpoints import iter_weights, resolve
from pvq.tensors.clipping import SortedWeights, optimal_clip_tensor, paper_clip, quantization_mse

BITS = range(2, 9)


def main(model: str = "mobilenet_v2") -> None:
    t_grid = t_pvq = 0.0
    worst = 0.0
    gains = []
    n_tensors = 0
    for _, w in iter_weights(resolve(model)):
        values, _ = check_tensor(w)
        if values is None:
            continue
        n_tensors += 1
        t0 = time.perf_counter()
        grid = [paper_clip(values, n_bits=b) for b in BITS]
        t1 = time.perf_counter()
        sw = SortedWeights.build(values)
        ours = [optimal_clip_tensor(sw, n_bits=b) for b in BITS]
        t2 = time.perf_counter()
        t_grid += t1 - t0
        t_pvq += t2 - t1
        for b, (_, g_mse), (clip, _) in zip(BITS, grid, ours, strict=True):
            mse = quantization_mse(values, clip, b, "signed")  # checked by direct quantization
            worst = max(worst, mse / g_mse)
            gains.append(g_mse / mse)
    import numpy as np

    gain_db = 10 * np.log10(np.array(gains))
    print(f"{model}: {n_tensors} tensors x {len(BITS)} bit-widths")
    print(f"paper grid (100 candidates): {t_grid:.2f} s")
    print(f"pvq search (sort included):  {t_pvq:.2f} s")
    print(f"speed ratio grid/pvq: {t_grid / t_pvq:.1f}x (goal >= 10x)")
    print(f"worst MSE ratio pvq/grid: {worst:.6f} (must be <= 1)")
    print(f"SNR gain over the grid: mean {gain_db.mean():.3f} dB, max {gain_db.max():.3f} dB")


if __name__ == "__main__":
    main(*sys.argv[1:2])
