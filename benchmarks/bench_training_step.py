"""Training-step cost of QAT and of gradual pruning against the plain FP32 step, side by side.

Same model, same batch (128 real Fashion-MNIST images), same optimiser (SGD, momentum 0.9):

- FP32: forward, backward, SGD step;
- QAT: the same with every conv/linear weight fake-quantized (:func:`pvq.qat.attach_qat`, INT4,
  first/last layer INT8) and the scales' own Adam step;
- pruning: the same FP32 step followed by :meth:`pvq.gradual.GradualPruner.apply` (re-zeroing
  the masked weights) and :meth:`~pvq.gradual.GradualPruner.step` (a mask update every 5 steps,
  as in the book's recipe), towards 75% sparsity.

The three are timed in interleaved rounds (so drifting machine load hits all of them alike) and
the median round is reported. Goal: QAT ≤ 1.3×, pruning ≤ 1.1× the FP32 step.

Run: ``.venv/bin/python benchmarks/bench_training_step.py [--threads N] [--rounds R]``.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from pvq.finetune.gradual import GradualPruner
from pvq.finetune.loop import training_step
from pvq.finetune.networks import TRAINABLE, build_trainable
from pvq.finetune.qat import attach_qat, scale_parameters


def _batch():
    try:
        from pvq.finetune.data import load_fashion_mnist
        from pvq.finetune.loop import prepare_images

        d = load_fashion_mnist()
        return prepare_images(d.x_train[:128], "cpu"), torch.from_numpy(d.y_train[:128])
    except FileNotFoundError:  # the timing does not depend on the pixel values
        return torch.randn(128, 1, 28, 28).contiguous(memory_format=torch.channels_last), torch.randint(0, 10, (128,))


def _stepper(model, kind):
    """The recipe's own step (:func:`pvq.training.training_step`) for one method."""
    scales = scale_parameters(model)
    ids = {id(p) for p in scales}
    opt = torch.optim.SGD([p for p in model.parameters() if id(p) not in ids], lr=0.01, momentum=0.9)
    scale_opt = torch.optim.Adam(scales, lr=1e-5) if scales else None
    pruner = GradualPruner(model, final=0.75, end_step=10_000, interval=5) if kind == "pruning" else None
    state = {"t": 0}

    def step(x, y):
        training_step(model, x, y, opt, scale_opt=scale_opt, pruner=pruner, step=state["t"])
        state["t"] += 1

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1, help="torch threads (the book's workers use 1)")
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--steps", type=int, default=5, help="steps per method per round")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    x, y = _batch()
    print(
        f"batch 128 Fashion-MNIST images, {args.threads} thread(s), median of {args.rounds} rounds x {args.steps} steps"
    )
    for arch in TRAINABLE:
        base = build_trainable(arch, seed=0).to(memory_format=torch.channels_last)
        models = {"FP32": copy.deepcopy(base), "QAT": copy.deepcopy(base), "pruning": copy.deepcopy(base)}
        attach_qat(models["QAT"], 4)
        steps = {k: _stepper(m, k) for k, m in models.items()}
        for s in steps.values():  # warm-up
            for _ in range(3):
                s(x, y)
        times = {k: [] for k in steps}
        for _ in range(args.rounds):
            for k, s in steps.items():
                t0 = time.perf_counter()
                for _ in range(args.steps):
                    s(x, y)
                times[k].append((time.perf_counter() - t0) / args.steps)
        med = {k: statistics.median(v) for k, v in times.items()}
        print(
            f"{arch:16s} FP32 {1000 * med['FP32']:6.1f} ms | QAT {1000 * med['QAT']:6.1f} ms "
            f"({med['QAT'] / med['FP32']:.2f}x, goal <= 1.3x) | pruning {1000 * med['pruning']:6.1f} ms "
            f"({med['pruning'] / med['FP32']:.2f}x, goal <= 1.1x)"
        )


if __name__ == "__main__":
    main()
