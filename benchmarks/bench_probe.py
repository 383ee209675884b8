"""Cost of one representation probe (chapter 7) against one training step, side by side.

A probe (:class:`pvq.finetune.representations.RepresentationProbe`) copies the network, re-estimates
its batch-norm statistics on ``n_bn`` training batches of 128 images, runs the fixed probe images
through it and compares every probed layer with the original (activation SNR, linear CKA). It is
timed on a QAT network (INT4; the copy of its fake quantizers is the dearest case) against the
recipe's QAT training step on the same batch, in interleaved rounds, median reported, for the
book's probe (128 images, batch-norm from ``PROBE_BN_BATCHES`` = 2 batches) and a cheaper one (1 batch). The
last column is what probing adds to a run of the full profile: ``probes × probe / (steps × step)``
with the probe steps of :func:`pvq.finetune.representations.probe_steps` (20 points, a run of 200
steps, the mask fixed at 150). Goal: probing adds ≤ 25% to a base-length run (the longer runs
have as many probes, so over the whole grid it adds about half that).

Run: ``.venv/bin/python benchmarks/bench_probe.py [--threads N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from pvq.finetune.loop import reestimate_bn, training_step
from pvq.finetune.networks import TRAINABLE, build_trainable, probe_layers
from pvq.finetune.qat import attach_qat, scale_parameters
from pvq.finetune.representations import PROBE_BN_BATCHES, RepresentationProbe, probe_steps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the book's workers use 1)")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 1, 28, 28, generator=g).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (128,), generator=g)
    images = torch.randn(256, 1, 28, 28, generator=g).contiguous(memory_format=torch.channels_last)
    n_probes = len(probe_steps(200, points=20, mask_end=150))
    print(f"{args.threads} thread(s), median of {args.rounds} rounds; a full-profile run: 200 steps, {n_probes} probes")
    for arch in TRAINABLE:
        original = build_trainable(arch, seed=0).to(memory_format=torch.channels_last)
        model = copy.deepcopy(original)
        attach_qat(model, 4)
        scales = scale_parameters(model)
        ids = {id(p) for p in scales}
        opt = torch.optim.SGD([p for p in model.parameters() if id(p) not in ids], lr=0.01, momentum=0.9)
        scale_opt = torch.optim.Adam(scales, lr=1e-5)
        layers = probe_layers(original)
        probes = {}
        for name, n_img, n_bn in (("full", 128, PROBE_BN_BATCHES), ("ci", 128, 1)):
            batches = lambda n_bn=n_bn: iter([(x, y)] * n_bn)  # noqa: E731
            probes[name] = RepresentationProbe(
                original, images[:n_img], layers, batches=batches, n_batches=n_bn, reestimate=reestimate_bn
            )
        times = {k: [] for k in ("step", *probes)}
        for _ in range(args.rounds):
            t0 = time.perf_counter()
            for _ in range(5):
                training_step(model, x, y, opt, scale_opt=scale_opt)
            times["step"].append((time.perf_counter() - t0) / 5)
            for name, probe in probes.items():
                t0 = time.perf_counter()
                probe(model, 1)
                times[name].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        share = n_probes * med["full"] / (200 * med["step"])
        print(
            f"{arch:16s} step {1000 * med['step']:6.1f} ms | probe full {1000 * med['full']:6.0f} ms "
            f"({med['full'] / med['step']:.1f} steps) | probe 1 batch {1000 * med['ci']:6.0f} ms "
            f"({med['ci'] / med['step']:.1f} steps) | probing adds {share:.0%} to a full-profile run (goal <= 25%)"
        )


if __name__ == "__main__":
    main()
