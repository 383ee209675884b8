"""Every format over every offline tensor: pvq's model-set analysis against a plain loop, side by side.

- baseline: a plain loop over tensors and formats, each (tensor, format) stored on its own by
  :func:`pvq.formats.encode.format_error` in one process (each format sorts and masks the tensor
  again);
- pvq: :func:`pvq.formats.advisor.analyze_formats_models`, the formats of one tensor sharing its
  sorted values and masks (:func:`pvq.formats.encode.format_errors`), two models at a time.

Both on the same tensors (FP16-rounded) and formats (chapter 8's list). Prints both times, their
ratio, and the largest SNR difference between the two (must be 0: the same computation).

Run: ``.venv/bin/python benchmarks/bench_formats.py [MODEL ...]`` (default: every offline model).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from pvq.formats.advisor import analyze_formats_models
from pvq.formats.catalog import CHAPTER_FORMATS
from pvq.formats.encode import format_error
from pvq.tensors.analysis import check_tensor
from pvq.tensors.checkpoints import MODELS, iter_weights, resolve


def plain_loop(models: list[str]) -> dict:
    snr = {}
    for m in models:
        for name, w in iter_weights(resolve(m)):
            values, reason = check_tensor(w)
            if reason:
                continue
            values = values.reshape(np.shape(w))
            for f in CHAPTER_FORMATS:
                snr[(m, name, f)] = format_error(values, f).snr_db
    return snr


def main(models: list[str]) -> None:
    t0 = time.perf_counter()
    base = plain_loop(models)
    t1 = time.perf_counter()
    table, _ = analyze_formats_models({m: m for m in models}, CHAPTER_FORMATS, workers=2)
    t2 = time.perf_counter()
    ours = {(r.model, r.tensor, r.format): r.snr_db for r in table.itertuples()}
    assert ours.keys() == base.keys()
    diff = max(abs(ours[k] - base[k]) for k in base if np.isfinite(base[k]))
    n_tensors = len({k[:2] for k in base})
    print(f"{len(models)} models, {n_tensors} tensors x {len(CHAPTER_FORMATS)} formats")
    print(f"plain loop (one process, each format on its own): {t1 - t0:.1f} s")
    print(f"pvq (shared sorting and masks, 2 models at a time): {t2 - t1:.1f} s")
    print(f"speed ratio loop/pvq: {(t1 - t0) / (t2 - t1):.2f}x")
    print(f"largest SNR difference: {diff:.2e} dB (must be 0)")


if __name__ == "__main__":
    main(sys.argv[1:] or list(MODELS))
