"""Training end to end on real Fashion-MNIST, the run cache, divergence, data loading, specs."""

import gzip
import json
import math
import struct

import numpy as np
import pandas as pd
import pytest

from pvq import experiments
from pvq.data import DatasetNotFoundError, ImageData, load_fashion_mnist, read_idx
from pvq.finetune_results import format_accuracy
from pvq.params import FineTuningParams
from pvq.runs import load_pretrained, run_grid, summarize_runs
from pvq.training import FineTuneSpec, PretrainSpec, finetune, pretrain


@pytest.fixture(scope="module")
def small_data():
    """A real subset: 3,072 training and 1,000 test images of Fashion-MNIST."""
    d = load_fashion_mnist()
    return ImageData(d.x_train[:3072], d.y_train[:3072], d.x_test[:1000], d.y_test[:1000], d.source)


@pytest.fixture(scope="module")
def pretrained(small_data):
    spec = PretrainSpec("resnet_small", seed=0, epochs=1, batch_size=64)
    state, info = pretrain(spec, small_data)
    return spec, state, info


def _spec(base, method, **kw):
    defaults = dict(epochs=1, epoch_images=640, batch_size=64, bn_batches=4, mask_interval=2, lr=0.01)
    return FineTuneSpec(base, method, **{**defaults, **kw})


def test_fashion_mnist_is_the_real_data_set():
    d = load_fashion_mnist()
    assert d.x_train.shape == (60000, 1, 28, 28) and d.x_test.shape == (10000, 1, 28, 28)
    assert d.x_train.dtype == np.uint8 and d.n_classes == 10
    assert np.bincount(d.y_train).tolist() == [6000] * 10 and np.bincount(d.y_test).tolist() == [1000] * 10


def test_tiny_runs_learn_for_both_methods(small_data, pretrained):
    base, state, info = pretrained
    assert info["accuracy"] > 0.5  # one epoch on 3k images: far above chance (0.1)
    for method, kw in (
        ("qat", {"n_bits": 4}),
        ("prune", {"sparsity": 0.75}),
        ("qat+prune", {"n_bits": 4, "sparsity": 0.5}),
    ):
        r = finetune(_spec(base, method, probe_points=2, probe_images=32, **kw), state, small_data)
        assert r["status"] == "ok", method
        assert r["accuracy"] > 0.4, (method, r["accuracy"])
        assert r["steps"] == 10 and len(r["representations"]) == 2 * 5  # 2 checkpoints × 5 probed layers
        if "prune" in method:
            assert min(r["mask_sparsity"].values()) >= kw["sparsity"] - 0.01
            assert r["zeros"] >= kw["sparsity"] - 0.01
        if method == "qat":
            assert 0 < r["avg_bits"] < 8
        if method == "fp32":
            assert r["zeros"] == 0 and r["avg_bits"] == 16


def test_diverging_run_is_reported_not_averaged(small_data, pretrained):
    base, state, _ = pretrained
    r = finetune(_spec(base, "prune", sparsity=0.5, lr=1e9), state, small_data)
    assert r["status"] == "diverged" and math.isnan(r["accuracy"])
    runs = pd.DataFrame(
        [
            {"arch": "a", "method": "prune", "label": "50% pruning", "n_bits": None, "sparsity": 0.5, "epochs": 1,
             "seed": 0, "status": "ok", "accuracy": 0.8, "avg_bits": 8.0, "zeros": 0.5},
            {"arch": "a", "method": "prune", "label": "50% pruning", "n_bits": None, "sparsity": 0.5, "epochs": 1,
             "seed": 1, "status": "diverged", "accuracy": r["accuracy"], "avg_bits": math.nan, "zeros": math.nan},
        ]
    )  # fmt: skip
    s = summarize_runs(runs).iloc[0]
    assert s.n_runs == 2 and s.n_ok == 1 and s.n_diverged == 1 and s.accuracy_mean == pytest.approx(0.8)
    assert format_accuracy(s.accuracy_mean, s.accuracy_std, s.n_ok, s.n_runs) == "80.00 (1 of 2 diverged)"
    assert format_accuracy(math.nan, math.nan, 0, 3) == "diverged (3 of 3)"


def test_run_grid_caches_and_recovers_from_corruption(small_data, pretrained, tmp_path, monkeypatch):
    import pvq.runs as runs_mod

    base, state, info = pretrained
    cache = tmp_path / "cache"
    (cache / "pretrained").mkdir(parents=True)
    import torch

    torch.save(state, cache / "pretrained" / f"{base.key()}.pt")
    (cache / "pretrained" / f"{base.key()}.json").write_text(json.dumps(info))
    assert load_pretrained(base, cache)[1]["accuracy"] == info["accuracy"]
    monkeypatch.setitem(runs_mod._DATA, "", small_data)
    specs = [_spec(base, "qat", n_bits=8), _spec(base, "prune", sparsity=0.5)]
    table, _ = run_grid(specs, cache_dir=cache)
    assert list(table.status) == ["ok", "ok"] and len(list((cache / "finetune").glob("*.json"))) == 2

    calls = []
    real = runs_mod.finetune
    monkeypatch.setattr(runs_mod, "finetune", lambda *a, **k: calls.append(1) or real(*a, **k))
    again, _ = run_grid(specs, cache_dir=cache)
    assert calls == [] and again.accuracy.tolist() == table.accuracy.tolist()  # all from the cache
    path = cache / "finetune" / f"{specs[0].key()}.json"
    path.write_text('{"key": "trunc')  # an interrupted write from an older version
    again, _ = run_grid(specs, cache_dir=cache)
    assert calls == [1] and json.loads(path.read_text())["status"] == "ok"


def test_nan_weights_are_refused_before_training(small_data, pretrained):
    base, state, _ = pretrained
    broken = dict(state)
    broken["fc.weight"] = state["fc.weight"].clone()
    broken["fc.weight"][0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"NaN or infinite values in \['fc.weight'\]"):
        finetune(_spec(base, "prune", sparsity=0.5), broken, small_data)


def test_missing_pretrained_network_is_a_clear_error(tmp_path):
    spec = _spec(PretrainSpec("resnet_small", epochs=1), "qat", n_bits=4)
    with pytest.raises(FileNotFoundError, match="pretrained network"):
        run_grid([spec], cache_dir=tmp_path)


def _write_idx(path, array, *, compress):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def test_read_idx_round_trip_and_corruption(tmp_path):
    a = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    for compress in (False, True):
        p = tmp_path / f"a{int(compress)}.idx"
        _write_idx(p, a, compress=compress)
        np.testing.assert_array_equal(read_idx(p), a)
    bad = tmp_path / "bad.idx"
    bad.write_bytes(b"\x01\x02\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="magic"):
        read_idx(bad)
    short = tmp_path / "short.idx"
    short.write_bytes((tmp_path / "a0.idx").read_bytes()[:-3])
    with pytest.raises(ValueError, match="bytes"):
        read_idx(short)
    broken = tmp_path / "broken.gz"
    broken.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05abcde")[:-6])
    with pytest.raises(ValueError, match="not a readable IDX"):
        read_idx(broken)


def test_fashion_mnist_folder_from_the_environment(tmp_path, monkeypatch):
    imgs = np.zeros((3, 28, 28), np.uint8)
    for name, arr in (
        ("train-images-idx3-ubyte.gz", imgs),
        ("train-labels-idx1-ubyte.gz", np.array([0, 9, 3])),
        ("t10k-images-idx3-ubyte.gz", imgs[:2]),
        ("t10k-labels-idx1-ubyte.gz", np.array([1, 2])),
    ):
        _write_idx(tmp_path / name, arr, compress=True)
    monkeypatch.setenv("PVQ_FASHION_MNIST", str(tmp_path))
    d = load_fashion_mnist()
    assert d.source == str(tmp_path) and d.x_train.shape == (3, 1, 28, 28) and d.y_test.tolist() == [1, 2]
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DatasetNotFoundError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.array([1, 2, 3]), compress=True)
    with pytest.raises(ValueError, match="do not match"):
        load_fashion_mnist(tmp_path)


def test_spec_validation_and_keys():
    base = PretrainSpec("resnet_small")
    with pytest.raises(ValueError, match="n_bits"):
        FineTuneSpec(base, "qat")
    with pytest.raises(ValueError, match="sparsity"):
        FineTuneSpec(base, "prune", sparsity=0.0)
    with pytest.raises(ValueError, match="sparsity"):
        FineTuneSpec(base, "prune", sparsity=1.0)
    with pytest.raises(ValueError, match="no sparsity"):
        FineTuneSpec(base, "qat", n_bits=4, sparsity=0.5)
    with pytest.raises(ValueError, match="method"):
        FineTuneSpec(base, "distill")
    with pytest.raises(ValueError, match="architecture"):
        PretrainSpec("resnet50")
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        FineTuneSpec(base, "qat", n_bits=4, epochs=0)
    with pytest.raises(ValueError, match="lr must be a positive"):
        FineTuneSpec(base, "prune", sparsity=0.5, lr=-1.0)
    with pytest.raises(ValueError, match="pretraining epochs"):
        PretrainSpec("resnet_small", epochs=0)
    a = FineTuneSpec(base, "qat", n_bits=4, device="cpu")
    assert a.key() == FineTuneSpec(base, "qat", n_bits=4, device="auto").key()  # device is not a result setting
    assert a.key() != FineTuneSpec(base, "qat", n_bits=4, seed=1).key()
    assert FineTuneSpec(base, "qat+prune", n_bits=4, sparsity=0.5).label() == "INT4 + 50% pruning"
    assert FineTuneSpec(base, "fp32").label() == "FP32 fine-tuned"
    with pytest.raises(ValueError, match="no n_bits"):
        FineTuneSpec(base, "fp32", n_bits=8)
    with pytest.raises(ValueError, match="no sparsity"):
        FineTuneSpec(base, "fp32", sparsity=0.5)


def test_grid_specs_follow_the_parameters():
    p = FineTuningParams(architectures=["resnet_small"], ft_bits=[2, 4], seeds=[0, 1], long_factors=[2], long_bits=[2])
    t1 = experiments.table1_specs(p)
    assert len(t1) == 1 * 2 * 2 * 2
    assert {(s.n_bits, s.sparsity) for s in t1 if s.method == "prune"} == {(None, 0.875), (None, 0.75)}
    longer = experiments.longer_specs(p)
    assert {s.epochs for s in longer} == {2 * p.ft_epochs} and all(s.probe_points == p.probe_points for s in longer)
    assert all(s.probe_points == 0 for s in experiments.combine_specs(p))  # chapter 7 does not probe them
    assert [s.method for s in experiments.control_specs(p)] == ["fp32", "fp32"]
    assert len(experiments.combine_specs(p)) == 1 * len(p.combine_bits) * len(p.combine_sparsity) * 2


@pytest.mark.parametrize(
    "bad,match",
    [
        ({"architectures": ["vgg"]}, "unknown architecture"),
        ({"seeds": [0, 0]}, "repeated"),
        ({"ft_bits": [16]}, "below the 16-bit"),
        ({"probe_points": 1}, "probe_points"),
        ({"device": "tpu"}, "device"),
        ({"combine_sparsity": [0.0]}, "combine_sparsity"),
        ({"long_factors": [1]}, "long_factors"),
        ({"epoch_images": -1}, "epoch_images"),
    ],
)
def test_fine_tuning_params_reject_bad_values(bad, match):
    with pytest.raises(ValueError, match=match):
        FineTuningParams(**bad)


def test_imagenet_parameters_are_checked_before_training(tmp_path):
    from pvq.data import DatasetNotFoundError

    with pytest.raises(DatasetNotFoundError, match="has no 'train/' sub-folder"):
        FineTuningParams(imagenet_dir=str(tmp_path))
    with pytest.raises(ValueError, match="unknown ImageNet architecture"):
        FineTuningParams(imagenet_arch="resnet_small")
