"""The per-layer sweep: real problems, identical results through any executor, a resumable cache."""

import itertools
import json
import os

import numpy as np
import pandas as pd
import pytest

from pvq.core.quantization import int_grid
from pvq.layerwise.prune import keep_count
from pvq.layerwise.quant import quant_objective
from pvq.layerwise.sweep import layer_chunks, run_sweep, solve_chunk

from ..slots import slot_held_elsewhere
from .conftest import BITS


def test_chunks_of_a_real_layer(small_chunks):
    chunks, info = small_chunks
    assert info["channels"] == 2 and info["rows"] == 8 * 14 * 14 and info["chunk_dims"] == [4, 6]
    assert len(chunks) == 2 * 11  # 64 inputs in chunks of 6: ten of 6 and one of 4, per channel
    assert all(c.r.shape == (c.w.size, c.w.size) for c in chunks)


def test_exact_methods_equal_brute_force_on_real_chunks(small_chunks):
    chunks, _ = small_chunks
    assert len(chunks) >= 3
    for c in chunks[:3]:
        got = solve_chunk(c, [2])
        rows, curve = pd.DataFrame(got["rows"]), pd.DataFrame(got["curve"])
        assert curve.kept.tolist() == list(range(c.w.size + 1)) and curve.error.is_monotonic_decreasing
        lo, hi = int_grid(2)
        s = dict(c.scales)[2]
        brute = min(
            quant_objective(c.r, c.w, s, np.array(z)) for z in itertools.product(range(lo, hi + 1), repeat=c.w.size)
        )
        exact = rows[(rows.side == "quantization") & (rows.method == "exact")].iloc[0]
        assert exact.proven and exact.error == pytest.approx(brute, rel=1e-9)
        for side in ("quantization", "pruning"):
            part = rows[rows.side == side]
            assert (part.error >= part[part.method == "exact"].error.iloc[0] * (1 - 1e-9)).all()
        k = keep_count(c.w.size, 2)
        assert rows[(rows.side == "pruning") & (rows.method == "exact")].error.iloc[0] == curve.error[k]


@pytest.mark.process
def test_sweep_is_the_same_through_dask_and_a_process_pool(small_chunks, tmp_path):
    from concurrent.futures import ProcessPoolExecutor

    from distributed import Client, LocalCluster

    chunks, _ = small_chunks
    chunks = chunks[:6]
    local, local_curves = run_sweep(chunks, BITS)
    with ProcessPoolExecutor(2) as pool:
        pooled, pooled_curves = run_sweep(chunks, BITS, executor=pool)
    environ = dict(os.environ)
    try:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
            with Client(cluster) as client:
                dasked, _ = run_sweep(chunks, BITS, executor=client.get_executor())
    finally:  # the cluster's nannies leave OMP/MKL/OPENBLAS_NUM_THREADS=1 (and more) in this process's environment
        os.environ.clear()
        os.environ.update(environ)
    cols = ["model", "layer", "channel", "chunk", "n_bits", "side", "method", "error", "proven"]
    pd.testing.assert_frame_equal(local[cols], pooled[cols])
    pd.testing.assert_frame_equal(local[cols], dasked[cols])
    pd.testing.assert_frame_equal(local_curves.drop(columns="seconds"), pooled_curves.drop(columns="seconds"))


def test_cache_resumes_and_recovers_from_corruption(small_chunks, tmp_path):
    chunks, _ = small_chunks
    chunks = chunks[:4]
    first, _ = run_sweep(chunks[:2], BITS, cache_dir=tmp_path)  # "interrupted" after two chunks
    assert len(list(tmp_path.glob("*.json"))) == 2  # one entry per chunk (all points)
    broken = sorted(tmp_path.glob("*.json"))[0]
    broken.write_text('{"rows": [{"model": "trunc')  # a corrupt entry
    full, _ = run_sweep(chunks, BITS, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("*.json"))) == 4
    again, _ = run_sweep(chunks, BITS, cache_dir=tmp_path)
    cols = ["channel", "chunk", "n_bits", "side", "method", "error"]
    pd.testing.assert_frame_equal(full[cols], again[cols])
    pd.testing.assert_frame_equal(full[cols].iloc[: len(first)], first[cols])
    assert json.loads(broken.read_text())["rows"][0]["model"] == "mobilenet_v2"
    with pytest.raises(ValueError, match="sdp_every"):
        run_sweep(chunks, BITS, sdp_every=-1)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"layer": "features.99"}, "unknown layer 'features.99'"),
        ({"layer": "features.11.conv.0.1"}, "not conv/linear"),
        ({"chunk_size": 0}, "chunk_size must be >= 1"),
        ({"n_inputs": 2}, "n_inputs must be >= 8"),
    ],
)
def test_bad_input(kwargs, message):
    args = {"layer": "features.11.conv.0.0", "n_bits": [4], "n_inputs": 8, "max_channels": 1} | kwargs
    with pytest.raises(ValueError, match=message):
        layer_chunks("mobilenet_v2", **args)
    with pytest.raises(ValueError, match="no runnable architecture"):
        layer_chunks("crepe_full", layer="conv1", n_bits=[4])


def test_a_chunk_is_solved_holding_a_core_slot_and_a_cached_one_needs_none(small_chunks, tmp_path, monkeypatch):
    """Under a build's core budget each solve holds a slot; a cache hit never waits for one."""
    import fcntl
    import threading

    from pvq.common.cores import SLOTS_ENV
    from pvq.layerwise import sweep

    slot = tmp_path / "slots" / "slot-0"
    monkeypatch.setenv(SLOTS_ENV, f"{slot.parent}:1")
    seen = []

    def locked() -> bool:
        fd = os.open(slot, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    def fake_solve(chunk, n_bits, **options):
        seen.append(locked())
        return {"rows": [{"index": chunk.index}], "curve": [{"index": chunk.index}]}

    monkeypatch.setattr(sweep, "solve_chunk", fake_solve)
    chunks = small_chunks[0][:2]
    run_sweep(chunks, BITS, cache_dir=tmp_path / "cache")
    assert seen == [True, True]
    done = []
    with slot_held_elsewhere():
        reader = threading.Thread(target=lambda: done.append(run_sweep(chunks, BITS, cache_dir=tmp_path / "cache")))
        reader.start()
        reader.join(timeout=60)
        assert len(done) == 1 and len(done[0][0]) == 2 and seen == [True, True]  # from the cache, slot still held
