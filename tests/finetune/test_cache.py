"""The run cache: pretrained networks and fine-tuning runs stored once, read back, recomputed when corrupt."""

import json
import math
import threading

import pandas as pd
import pytest
import torch

from pvq.common.cores import SLOTS_ENV
from pvq.finetune import cache
from pvq.finetune.cache import (
    RUN_COLUMNS,
    TRAINING_THREADS,
    default_cache_dir,
    ensure_pretrained,
    load_pretrained,
    representation_table,
    run_grid,
    summarize_runs,
)
from pvq.finetune.recipe import PretrainSpec

from ..slots import slot_held_elsewhere, slot_locked
from .conftest import tiny_spec


def _store_pretrained(cache_dir, base, state, info):
    (cache_dir / "pretrained").mkdir(parents=True)
    torch.save(state, cache_dir / "pretrained" / f"{base.key()}.pt")
    (cache_dir / "pretrained" / f"{base.key()}.json").write_text(json.dumps(info))


def test_run_grid_caches_and_recovers_from_corruption(small_data, pretrained, tmp_path, monkeypatch):
    base, state, info = pretrained
    cache_dir = tmp_path / "cache"
    _store_pretrained(cache_dir, base, state, info)
    assert load_pretrained(base, cache_dir)[1]["accuracy"] == info["accuracy"]
    monkeypatch.setattr(cache, "cached_fashion_mnist", lambda folder=None: small_data)
    specs = [tiny_spec(base, "qat", n_bits=8), tiny_spec(base, "prune", sparsity=0.5)]
    table, records = run_grid(specs, cache_dir=cache_dir)
    assert list(table.columns) == [*RUN_COLUMNS, "base_accuracy"]
    assert list(table.status) == ["ok", "ok"] and len(list((cache_dir / "finetune").glob("*.json"))) == 2
    assert (table.base_accuracy == info["accuracy"]).all() and [r["key"] for r in records] == [s.key() for s in specs]

    calls = []
    real = cache.finetune
    monkeypatch.setattr(cache, "finetune", lambda *a, **k: calls.append(1) or real(*a, **k))
    again, _ = run_grid(specs, cache_dir=cache_dir, executor=NoWorkers())  # all cached: no worker is asked
    assert calls == [] and again.accuracy.tolist() == table.accuracy.tolist()  # all from the cache
    assert ensure_pretrained([base], cache_dir=cache_dir, executor=NoWorkers()).accuracy.tolist() == [info["accuracy"]]
    path = cache_dir / "finetune" / f"{specs[0].key()}.json"
    path.write_text('{"key": "trunc')  # an interrupted write from an older version
    again, _ = run_grid(specs, cache_dir=cache_dir)
    assert calls == [1] and json.loads(path.read_text())["status"] == "ok"


class NoWorkers:
    """An executor that fails if it is given any job (starting worker processes costs seconds each)."""

    def map(self, fn, *iterables):
        raise AssertionError("a job went to the executor although everything was cached")

    submit = map


def test_unreadable_pretrained_entries_are_missing(pretrained, tmp_path):
    base, state, info = pretrained
    assert load_pretrained(base, tmp_path) is None
    _store_pretrained(tmp_path, base, state, info)
    (tmp_path / "pretrained" / f"{base.key()}.pt").write_bytes(b"not a torch file")
    assert load_pretrained(base, tmp_path) is None
    (tmp_path / "pretrained" / f"{base.key()}.json").write_text("{broken")
    assert load_pretrained(base, tmp_path) is None


def test_missing_pretrained_network_is_a_clear_error(tmp_path):
    spec = tiny_spec(PretrainSpec("resnet_small", epochs=1), "qat", n_bits=4)
    with pytest.raises(FileNotFoundError, match="pretrained network"):
        run_grid([spec], cache_dir=tmp_path)


def test_default_cache_dir_follows_the_results_dir(results_tmp):
    assert default_cache_dir() == results_tmp.resolve() / "training-cache"


def _row(seed, status, accuracy, avg_bits=8.0, zeros=0.5):
    return {"arch": "a", "method": "prune", "label": "50% pruning", "n_bits": None, "sparsity": 0.5, "epochs": 1,
            "seed": seed, "status": status, "accuracy": accuracy, "avg_bits": avg_bits, "zeros": zeros}  # fmt: skip


def test_summarize_runs_counts_diverged_runs_but_does_not_average_them():
    runs = pd.DataFrame([_row(0, "ok", 0.8), _row(1, "diverged", math.nan, math.nan, math.nan), _row(2, "ok", 0.7)])
    s = summarize_runs(runs)
    assert len(s) == 1
    s = s.iloc[0]
    assert (s.n_runs, s.n_ok, s.n_diverged) == (3, 2, 1)
    assert s.accuracy_mean == pytest.approx(0.75) and s.accuracy_std == pytest.approx(math.sqrt(0.005))
    all_diverged = summarize_runs(pd.DataFrame([_row(0, "diverged", math.nan)])).iloc[0]
    assert all_diverged.n_ok == 0 and all_diverged.n_diverged == 1 and math.isnan(all_diverged.accuracy_mean)


def test_representation_table_is_long():
    records = [
        {"arch": "a", "method": "qat", "label": "INT4", "n_bits": 4, "sparsity": 0.0, "seed": 0, "epochs": 1,
         "steps": 10, "representations": [{"step": 0, "layer": "fc", "snr_db": 30.0, "cka": 0.99},
                                          {"step": 10, "layer": "fc", "snr_db": 20.0, "cka": 0.9}]},
        {"arch": "a", "method": "prune", "label": "50% pruning", "n_bits": None, "sparsity": 0.5, "seed": 0,
         "epochs": 1, "steps": 10, "representations": []},
    ]  # fmt: skip
    t = representation_table(records)
    assert len(t) == 2 and t.step.tolist() == [0, 10] and set(t.method) == {"qat"}
    assert {"arch", "label", "n_bits", "layer", "snr_db", "cka"} <= set(t.columns)


def test_run_grid_starts_the_longest_runs_first_and_answers_in_spec_order(pretrained, tmp_path, monkeypatch):
    base = pretrained[0]
    started = []

    def fake_job(args):
        spec = args[0]
        started.append(spec.epochs)
        return {"key": spec.key(), "status": "ok", "epochs": spec.epochs}

    monkeypatch.setattr(cache, "_finetune_job", fake_job)
    specs = [tiny_spec(base, "qat", n_bits=b, epochs=e) for b, e in [(8, 1), (4, 4), (3, 2), (2, 4)]]
    table, records = run_grid(specs, cache_dir=tmp_path)
    assert started == [4, 4, 2, 1]
    assert [r["key"] for r in records] == [s.key() for s in specs] and table.epochs.tolist() == [1, 4, 2, 4]


def test_training_runs_on_a_fixed_thread_count_wherever_it_runs(pretrained, tmp_path, monkeypatch):
    # a run's weights depend on torch's thread count, so in-process runs use the workers' count too
    base, state, info = pretrained
    _store_pretrained(tmp_path, base, state, info)
    seen = []

    def fake_finetune(spec, *a, **k):
        seen.append(torch.get_num_threads())
        return {"key": spec.key(), "status": "ok"}

    def fake_pretrain(spec, *a, **k):
        seen.append(torch.get_num_threads())
        return {}, {"accuracy": 0.5}

    monkeypatch.setattr(cache, "cached_fashion_mnist", lambda folder=None: None)
    monkeypatch.setattr(cache, "finetune", fake_finetune)
    monkeypatch.setattr(cache, "pretrain", fake_pretrain)
    before = torch.get_num_threads()
    torch.set_num_threads(TRAINING_THREADS + 1)
    try:
        run_grid([tiny_spec(base, "qat", n_bits=8)], cache_dir=tmp_path)
        ensure_pretrained([PretrainSpec("resnet_small", seed=5, epochs=1)], cache_dir=tmp_path)
        assert seen == [TRAINING_THREADS, TRAINING_THREADS]
        assert torch.get_num_threads() == TRAINING_THREADS + 1  # this process's own count is restored
    finally:
        torch.set_num_threads(before)


def test_a_pretrained_network_is_stored_as_the_same_bytes_every_time(tmp_path, monkeypatch):
    # atomic_write saves to a randomly named temporary file; torch.save would name the archive after it
    state = {"w": torch.arange(6.0).reshape(2, 3)}
    monkeypatch.setattr(cache, "cached_fashion_mnist", lambda folder=None: None)
    monkeypatch.setattr(cache, "pretrain", lambda spec, *a, **k: (state, {"accuracy": 0.5}))
    spec = PretrainSpec("resnet_small", seed=3, epochs=1)
    stored = []
    for run in ("a", "b"):
        ensure_pretrained([spec], cache_dir=tmp_path / run)
        stored.append((tmp_path / run / "pretrained" / f"{spec.key()}.pt").read_bytes())
    assert stored[0] == stored[1]
    assert torch.equal(load_pretrained(spec, tmp_path / "a")[0]["w"], state["w"])


def test_a_run_trains_holding_a_core_slot_and_a_cached_run_needs_none(tmp_path, monkeypatch):
    """Under a build's core budget a run trains on one slot and one thread; a cache hit never waits for a slot."""
    base = PretrainSpec("resnet_small", seed=0, epochs=1, batch_size=64)
    cache_dir = tmp_path / "cache"
    _store_pretrained(cache_dir, base, {}, {"accuracy": 0.5})
    slots = tmp_path / "slots"
    monkeypatch.setenv(SLOTS_ENV, f"{slots}:1")
    monkeypatch.setattr(cache, "cached_fashion_mnist", lambda folder=None: None)
    seen = []

    def fake_finetune(spec, state, data):
        seen.append((slot_locked(slots / "slot-0"), torch.get_num_threads()))
        return {"key": spec.key(), "status": "ok", "accuracy": 0.9}

    monkeypatch.setattr(cache, "finetune", fake_finetune)
    spec = tiny_spec(base, "qat", n_bits=8)
    run_grid([spec], cache_dir=cache_dir)
    assert seen == [(True, 1)]

    with slot_held_elsewhere():
        done = []
        reader = threading.Thread(target=lambda: done.append(run_grid([spec], cache_dir=cache_dir)[0]))
        reader.start()
        reader.join(timeout=60)
        assert done and done[0].accuracy.tolist() == [0.9] and len(seen) == 1  # from the cache, slot still held


def _without_clock(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "seconds" and not k.endswith("_seconds")}


@pytest.mark.process  # starts worker processes
def test_a_run_gives_the_same_result_in_a_worker_process_as_in_this_one(small_data, pretrained, tmp_path):
    """Determinism of training, where the book's rebuilds rely on it: a cached run and a run trained again,
    in a fresh spawned worker or in this process, are the same numbers (losses, accuracy, masks'
    zeros, probes), so a rebuild that re-trains some runs reproduces the build that cached them."""
    from pvq.common.executors import make_executor
    from pvq.finetune.data import FASHION_MNIST_FILES

    from .test_data import _write_idx

    folder = tmp_path / "data"  # the small real subset as IDX files: a worker reads it like the real set
    folder.mkdir()
    arrays = {"train_images": small_data.x_train[:, 0], "train_labels": small_data.y_train,
              "test_images": small_data.x_test[:, 0], "test_labels": small_data.y_test}  # fmt: skip
    for name, array in arrays.items():
        _write_idx(folder / FASHION_MNIST_FILES[name], array, compress=True)
    base, state, info = pretrained
    specs = [tiny_spec(base, "qat", n_bits=4), tiny_spec(base, "prune", sparsity=0.75)]
    records = []
    for where in ("here", "worker"):
        _store_pretrained(tmp_path / where, base, state, info)
        if where == "here":
            records.append(run_grid(specs, cache_dir=tmp_path / where, data_folder=str(folder))[1])
        else:
            with make_executor(workers=1) as pool:
                records.append(run_grid(specs, cache_dir=tmp_path / where, data_folder=str(folder), executor=pool)[1])
    assert [r["status"] for r in records[0]] == ["ok", "ok"]
    assert [_without_clock(r) for r in records[0]] == [_without_clock(r) for r in records[1]]
