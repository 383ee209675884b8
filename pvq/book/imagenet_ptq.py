"""Chapter 9's post-training compression evaluated on ImageNet accuracy, for a user who has ImageNet.

``python -m pvq imagenet ROOT --arch mobilenet_v2 --method gptq --bits 4`` compresses the offline
pretrained network with chapter 9's sequential scheme (:func:`pvq.layerwise.network.compress_network`,
the same rule for the first layer and the classifier, the batch-norm re-estimation) on
``--calibration`` ImageNet training images (random resized crops), then measures top-1 accuracy
on the validation folder, beside the FP32 network's. Nothing is fine-tuned; the fine-tuning
methods (``qat``, ``prune``) are :mod:`pvq.finetune.imagenet`.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import torch

from ..common.files import atomic_write
from ..core.pruning import check_bits, check_sparsity
from ..finetune.imagenet_data import ImageNetTask
from ..layerwise.network import compress_network
from ..layerwise.network_methods import METHODS

__all__ = ["POST_TRAINING_METHODS", "imagenet_command", "run_imagenet_post_training"]

#: Post-training methods of chapter 9 the ImageNet path accepts (``--method``).
POST_TRAINING_METHODS = tuple(METHODS)


def run_imagenet_post_training(root, arch: str, method: str, n_bits: int | None, *, n_calibration: int = 32,
                               seed: int = 0, out: Path | None = None, workers: int = 4, image_size: int = 224,
                               resize: int = 256) -> dict:  # fmt: skip
    """Compress ``arch`` after training with ``method`` at ``n_bits`` and measure top-1 on ImageNet's validation set.

    Returns
    -------
    dict
        ``arch, method, n_bits, fp32_accuracy, accuracy, n_val, n_calibration, seconds`` (written as
        JSON to ``out`` when given, atomically).

    Raises
    ------
    ValueError
        An unknown method, a paired method without ``n_bits``, or a folder that cannot give a
        calibration batch (before any network is compressed).
    """
    if method not in METHODS:
        raise ValueError(f"unknown post-training method {method!r}; known: {', '.join(METHODS)}")
    if METHODS[method].fmt is None and n_bits is None:
        raise ValueError(f"{METHODS[method].name} needs --bits (INT-b, or sparsity 1 - b/16 for pruning)")
    started = time.perf_counter()
    with ImageNetTask(root, workers=workers, image_size=image_size, resize=resize) as task:
        gen = torch.Generator().manual_seed(seed)
        x, _ = next(iter(task.train_batches(batch_size=n_calibration, images=n_calibration, generator=gen,
                                            device="cpu", flip=True)))  # fmt: skip
        model = task.build(arch).eval()
        fp32 = task.accuracy(model, device="cpu")
        compress_network(arch, model, (x.contiguous(),), None, method, 16 if n_bits is None else n_bits)
        acc = task.accuracy(model, device="cpu")
        record = {"arch": arch, "method": method, "n_bits": n_bits, "fp32_accuracy": fp32, "accuracy": acc,
                  "n_val": task.n_val, "n_calibration": n_calibration}  # fmt: skip
    record["seconds"] = time.perf_counter() - started
    if out is not None:
        atomic_write(Path(out), lambda p: p.write_text(json.dumps(record, indent=1)))
    return record


def imagenet_command(args) -> int:
    """``python -m pvq imagenet``: fine-tuning (:func:`pvq.finetune.imagenet.run_imagenet`) or post-training
    (:func:`run_imagenet_post_training`); a bad argument or folder is one line on stderr and status 2."""
    from ..finetune.imagenet import run_imagenet

    try:
        if args.bits is not None:  # the options' own names in the message
            check_bits(args.bits, name="--bits")
        check_sparsity(args.sparsity, name="--sparsity")
        if args.method in POST_TRAINING_METHODS:
            r = run_imagenet_post_training(args.root, args.arch, args.method, args.bits, seed=args.seed, out=args.out,
                                           workers=args.workers)  # fmt: skip
            print(f"{r['arch']} {r['method']} {r['n_bits']}: top-1 {r['accuracy']:.2%}, FP32 {r['fp32_accuracy']:.2%}")
            return 0
        record = run_imagenet(
            args.root,
            args.arch,
            args.method,
            n_bits=args.bits,
            sparsity=args.sparsity,
            seed=args.seed,
            epochs=args.epochs,
            device=args.device,
            out=args.out,
            progress=not args.no_progress,
            workers=args.workers,
        )
    except (ValueError, FileNotFoundError) as err:  # DatasetNotFoundError is a FileNotFoundError
        print(f"pvq imagenet: error: {err}", file=sys.stderr)
        return 2
    print(
        f"{record['arch']} {record['label']}: {record['status']}, top-1 {record['accuracy']:.2%} on "
        f"{record['n_val']} val images, {record['zeros']:.1%} zeros, {record['avg_bits']:.2f} bits/weight, "
        f"{record['steps']} steps in {record['seconds']:.0f} s"
    )
    if args.out:
        print(f"written to {args.out}")
    return 0
