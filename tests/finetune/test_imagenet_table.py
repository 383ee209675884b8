"""Chapter 5's ImageNet table: a finished run is read back, a missing or stale one is run (here: faked)."""

import json
from types import SimpleNamespace

import pytest

from pvq.common.paper import PAPER
from pvq.finetune import imagenet
from pvq.finetune.imagenet import cached_imagenet_run, imagenet_spec, imagenet_table

P = SimpleNamespace(imagenet_dir="/data/imagenet", imagenet_arch="mobilenet_v2", imagenet_epochs=20, device="cpu")
ACCURACY = {"qat": 0.71, "prune": 0.69}


@pytest.fixture
def runs(monkeypatch):
    """A fake :func:`run_imagenet` that writes its record like the real one and counts its calls."""
    calls = []

    def fake_run(root, arch, method, *, epochs, device, out, **point):
        spec = imagenet_spec(arch, method, epochs=epochs, device=device, **point)
        calls.append((root, method, point))
        record = {"key": spec.key(), "status": "ok", "accuracy": ACCURACY[method]}
        out.write_text(json.dumps(record))
        return record

    monkeypatch.setattr(imagenet, "run_imagenet", fake_run)
    return calls


def test_table_runs_both_points_then_reads_them_back(tmp_path, runs):
    t = imagenet_table(P, folder=tmp_path)
    assert runs == [("/data/imagenet", "qat", {"n_bits": 4}), ("/data/imagenet", "prune", {"sparsity": 0.75})]
    assert t.columns.tolist() == ["network", "method", "status", "top-1"]
    assert t.values.tolist() == [
        ["mobilenet_v2", "INT4", "ok", 0.71],
        ["mobilenet_v2", "75% pruning", "ok", 0.69],
        ["ResNet-50 (paper)", "INT4", "paper", PAPER["resnet50_int4_top1"][0]],
        ["ResNet-50 (paper)", "75% pruning", "paper", PAPER["resnet50_prune75_top1"][0]],
    ]
    again = imagenet_table(P, folder=tmp_path)
    assert len(runs) == 2 and again.equals(t)  # both records read from the folder, nothing run again


def test_a_stale_record_is_run_again(tmp_path, runs):
    spec = imagenet_spec("mobilenet_v2", "qat", n_bits=2, epochs=20)
    path = tmp_path / f"imagenet-{spec.key()}.json"
    path.write_text(json.dumps({"key": "another run", "status": "ok", "accuracy": 0.1}))
    record = cached_imagenet_run("/data/imagenet", "mobilenet_v2", "qat", folder=tmp_path, n_bits=2, device="cpu")
    assert len(runs) == 1 and record["accuracy"] == ACCURACY["qat"]
    assert json.loads(path.read_text())["key"] == spec.key()
    path.write_text("{not json")
    cached_imagenet_run("/data/imagenet", "mobilenet_v2", "qat", folder=tmp_path, n_bits=2, device="cpu")
    assert len(runs) == 2  # an unreadable record is run again too


def test_other_points_pair_bits_with_sparsity(tmp_path, runs):
    t = imagenet_table(P, folder=tmp_path, n_bits=2)
    assert runs[1][2] == {"sparsity": 0.875} and t.method.tolist()[:2] == ["INT2", "87.50% pruning"]
