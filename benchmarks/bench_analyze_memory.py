"""Peak memory of ``pvq analyze`` on a multi-GB checkpoint, against the largest tensor and the interpreter.

Writes a synthetic safetensors file shaped like a large language model (a 32000 × 4096 token
embedding, then transformer blocks of a 4096-wide model: q/k/v/o projections 4096 × 4096 and an
MLP of 11008 × 4096, 11008 × 4096, 4096 × 11008, with their norms; FP16, heavy-tailed values) of
at least ``--size-gb`` GB, tensor by tensor so the writer never holds it (``--format pt``: a torch
zip file instead, which pvq memory-maps), to a temporary folder that is deleted afterwards. Then,
each in its own process, timed and with its peak resident memory (``ru_maxrss`` of that child,
from ``os.wait4``):

- **baseline**: an interpreter that imports what ``python -m pvq`` imports (pvq's command line,
  torch, pandas, matplotlib) and exits;
- **pvq analyze**: ``python -m pvq analyze FILE --bits 4 --out TMP --no-progress``;
- optionally (``--compare-with DIR``) the same command with another pvq source tree first on
  ``PYTHONPATH``, e.g. the code before issue 12 (``git archive 5a1d55a pvq | tar -x -C DIR``),
  side by side.

Goal: ``peak - baseline <= 3 × the largest analysed tensor as stored`` (the embedding is not a
layer weight and is never read). Peak resident memory counts file pages a process has mapped,
so the result also shows whether a reader memory-maps the file.

Run: ``nice .venv/bin/python benchmarks/bench_analyze_memory.py [--size-gb 2] [--compare-with DIR]``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WIDTH, MLP, VOCAB = 4096, 11008, 32000
BLOCK = {
    "self_attn.q_proj.weight": (WIDTH, WIDTH),
    "self_attn.k_proj.weight": (WIDTH, WIDTH),
    "self_attn.v_proj.weight": (WIDTH, WIDTH),
    "self_attn.o_proj.weight": (WIDTH, WIDTH),
    "mlp.gate_proj.weight": (MLP, WIDTH),
    "mlp.up_proj.weight": (MLP, WIDTH),
    "mlp.down_proj.weight": (WIDTH, MLP),
    "input_layernorm.weight": (WIDTH,),
    "post_attention_layernorm.weight": (WIDTH,),
}
IMPORTS = "import pvq.book.cli, torch, pandas, matplotlib.pyplot"


def llm_shapes(size_gb: float) -> dict[str, tuple[int, ...]]:
    """Tensor names and shapes: the embedding, then as many blocks as it takes to reach ``size_gb`` in FP16."""
    shapes = {"model.embed_tokens.weight": (VOCAB, WIDTH)}
    per_block = 2 * sum(math.prod(s) for s in BLOCK.values())
    blocks = max(1, math.ceil((size_gb * 1e9 - 2 * VOCAB * WIDTH) / per_block))
    for i in range(blocks):
        shapes.update({f"model.layers.{i}.{k}": s for k, s in BLOCK.items()})
    return shapes


def synthetic(shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """FP16 weights of a ``shape`` layer: Gaussian at ``1/sqrt(fan_in)``, every 997th value 12x (heavy tails)."""
    part = rng.standard_normal(math.prod(shape), dtype=np.float32) / math.sqrt(shape[-1])
    part[::997] *= 12
    return part.astype(np.float16).reshape(shape)


def write_checkpoint(path: Path, shapes: dict[str, tuple[int, ...]], seed: int = 0) -> None:
    """A safetensors file written one tensor at a time, or a torch zip file (``.pt``: held whole, then saved)."""
    rng = np.random.default_rng(seed)
    if path.suffix == ".pt":
        import torch

        torch.save({name: torch.from_numpy(synthetic(shape, rng)) for name, shape in shapes.items()}, path)
        return
    header, offset = {}, 0
    for name, shape in shapes.items():
        nbytes = 2 * math.prod(shape)
        header[name] = {"dtype": "F16", "shape": list(shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as f:
        f.write(len(blob).to_bytes(8, "little") + blob)
        for shape in shapes.values():
            f.write(synthetic(shape, rng).astype("<f2").tobytes())


def run_child(cmd: list[str], pythonpath: str, cwd: Path) -> tuple[float, float, int]:
    """``(peak resident MiB, seconds, exit status)`` of one child process.

    Run in ``cwd`` (not the repository: ``python -m`` puts the working folder before ``PYTHONPATH``).
    """
    env = {**os.environ, "PYTHONPATH": pythonpath, "OMP_NUM_THREADS": "1"}
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace").strip()
    proc.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    if code:
        print(f"  exit status {code}: {err.splitlines()[-1] if err else ''}")
    return usage.ru_maxrss / 1024, seconds, code  # ru_maxrss is in KiB on Linux


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-gb", type=float, default=2.0, help="size of the synthetic checkpoint (default 2)")
    ap.add_argument("--compare-with", type=Path, help="another pvq source tree to run side by side")
    ap.add_argument("--tmp", type=Path, help="folder for the temporary checkpoint (default: the system's)")
    ap.add_argument("--format", choices=["safetensors", "pt"], default="safetensors",
                    help="safetensors (default) or a torch zip file (pvq memory-maps it)")  # fmt: skip
    ap.add_argument("--write", type=Path, help=argparse.SUPPRESS)  # internal: only write the checkpoint
    args = ap.parse_args()
    here = str(Path(__file__).resolve().parents[1])
    shapes = llm_shapes(args.size_gb)
    if args.write:
        write_checkpoint(args.write, shapes)
        return
    largest = max(2 * math.prod(s) for n, s in shapes.items() if len(s) >= 2 and "embed" not in n)
    folder = Path(tempfile.mkdtemp(prefix="pvq-bench-memory-", dir=args.tmp))
    try:
        path = folder / f"llm.{args.format}"
        t0 = time.perf_counter()
        # in a child: a child's peak counts the memory of the process it was forked from
        subprocess.run([sys.executable, __file__, "--size-gb", str(args.size_gb), "--write", str(path)], check=True)
        size = path.stat().st_size
        print(f"checkpoint: {path.name}, {size / 1e9:.2f} GB FP16, {len(shapes)} tensors "
              f"({len(shapes) // len(BLOCK)} blocks of a {WIDTH}-wide model), written in "
              f"{time.perf_counter() - t0:.0f} s; largest layer weight {MLP} x {WIDTH}: "
              f"{largest / 2**20:.0f} MiB as stored")  # fmt: skip
        base, base_s, _ = run_child([sys.executable, "-c", IMPORTS], here, folder)
        print(f"baseline (imports only): peak {base:.0f} MiB in {base_s:.1f} s")
        runs = [("pvq analyze", here)]
        if args.compare_with:
            runs.append((f"pvq analyze, {args.compare_with}", str(args.compare_with.resolve())))
        cmd = [sys.executable, "-m", "pvq", "analyze", str(path), "--bits", "4", "--no-progress", "--out"]
        print(f"{'run':40s} {'peak MiB':>9} {'- baseline':>10} {'/ largest':>9} {'seconds':>8}  goal <= 3x")
        for label, pythonpath in runs:
            peak, secs, code = run_child([*cmd, str(folder / f"out{len(label)}")], pythonpath, folder)
            extra = peak - base
            ratio = extra * 2**20 / largest
            verdict = "failed" if code else ("met" if ratio <= 3 else "NOT met")
            print(f"{label[:40]:40s} {peak:9.0f} {extra:10.0f} {ratio:8.2f}x {secs:8.0f}  {verdict}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
