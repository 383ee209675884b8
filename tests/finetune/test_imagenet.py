"""The ImageNet path (paper §6) on a tiny ImageNet-layout folder: the paper's recipe, refusals, one short run."""

import dataclasses
import json
import math
import subprocess
import sys
import time

import pytest

from pvq.finetune import imagenet, imagenet_data
from pvq.finetune.data import DatasetNotFoundError
from pvq.finetune.imagenet import PAPER_RECIPES, imagenet_base_state, imagenet_spec, run_imagenet
from pvq.finetune.imagenet_data import ImageNetTask
from pvq.finetune.loop import finetune
from pvq.finetune.recipe import FineTuneSpec, PretrainedBase, PretrainSpec
from pvq.tensors.checkpoints import MODELS

from ..conftest import ROOT
from .imagenet_folder import break_folder, make_folder
from .test_imagenet_data import BROKEN

# -- refusals before any work ------------------------------------------------------------------------


@pytest.mark.parametrize("how, message", BROKEN)
def test_bad_folders_are_refused_before_any_model_is_built(folder, monkeypatch, how, message):
    def forbidden(*_a, **_k):
        raise AssertionError("loaded a model before checking the folder")

    monkeypatch.setattr(imagenet, "imagenet_base_state", forbidden)
    monkeypatch.setattr(imagenet_data, "build_model", forbidden)
    monkeypatch.setattr(imagenet, "finetune", forbidden)
    root = break_folder(folder, how)
    t0 = time.perf_counter()
    with pytest.raises(DatasetNotFoundError, match=message):
        run_imagenet(root, "mobilenet_v2", "qat", n_bits=4, device="cpu", progress=False)
    assert time.perf_counter() - t0 < 2


# -- recipe and spec ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arch, method, kwargs, lr",
    [
        ("mobilenet_v2", "qat", {"n_bits": 4}, 3.3e-4),
        ("mobilenet_v2", "prune", {"sparsity": 0.75}, 3.3e-4),
        ("efficientnet_lite0", "qat", {"n_bits": 4}, 3.3e-3),
        ("efficientnet_lite0", "prune", {"sparsity": 0.75}, 3.3e-4),
    ],
)
def test_spec_uses_the_paper_recipe(arch, method, kwargs, lr):
    spec = imagenet_spec(arch, method, **kwargs)
    weights = MODELS[arch]
    assert isinstance(spec, FineTuneSpec) and spec.base == PretrainedBase(arch, f"{weights.package}/{weights.relpath}")
    assert spec.lr == lr and spec.batch_size == 128 and spec.weight_decay == 5e-5
    assert (spec.epochs, spec.epoch_images, spec.momentum, spec.final_lr_ratio) == (20, 0, 0.9, 0.01)
    assert (spec.scale_lr, spec.mask_interval, spec.prune_end, spec.bn_batches) == (1e-5, 50, 0.75, 50)
    assert spec.first_last_bits == 8 and spec.device == "auto"
    assert spec.key().startswith(f"{arch}-{method}-")
    assert PAPER_RECIPES[arch]["lr_qat" if method == "qat" else "lr_prune"] == lr


def test_spec_keys_differ_by_base_and_keep_pretrainspec():
    a = imagenet_spec("mobilenet_v2", "qat", n_bits=4)
    b = dataclasses.replace(a, base=PretrainedBase("mobilenet_v2", "elsewhere.pth"))
    assert a.key() != b.key() and a.key() == imagenet_spec("mobilenet_v2", "qat", n_bits=4, device="cpu").key()
    fm = FineTuneSpec(base=PretrainSpec("resnet_small"), method="qat", n_bits=4)
    assert fm.key().startswith("resnet_small-qat-")
    with pytest.raises(ValueError, match="unknown architecture"):
        PretrainSpec("mobilenet_v2")
    with pytest.raises(ValueError, match="base must be"):
        FineTuneSpec(base="mobilenet_v2", method="qat", n_bits=4)


@pytest.mark.parametrize(
    "arch, method, kwargs, message",
    [
        ("resnet50", "qat", {"n_bits": 4}, "unknown ImageNet architecture"),
        ("mobilenet_v2", "quantize", {"n_bits": 4}, "method must be one of"),
        ("mobilenet_v2", "qat", {"n_bits": 0}, r"n_bits must be one of the integers in 1\.\.15 .*got 0$"),
        ("mobilenet_v2", "qat", {"n_bits": 16}, r"n_bits must be one of the integers in 1\.\.15 .*got 16$"),
        ("mobilenet_v2", "qat", {}, r"method 'qat' needs n_bits \(--bits\), one of the integers in 1\.\.15"),
        ("mobilenet_v2", "prune", {"sparsity": 1.0}, "sparsity must be a number"),
        ("mobilenet_v2", "prune", {"sparsity": 0.0}, "needs a sparsity"),
        ("mobilenet_v2", "qat", {"n_bits": 4, "sparsity": 0.5}, "takes no sparsity"),
        ("mobilenet_v2", "qat", {"n_bits": 4, "epochs": 0}, "epochs must be"),
        ("mobilenet_v2", "qat", {"n_bits": 4, "device": "tpu"}, "device must be"),
    ],
)
def test_impossible_runs_are_refused_before_data_loading(tmp_path, monkeypatch, arch, method, kwargs, message):
    def forbidden(*_a, **_k):
        raise AssertionError("touched the data before checking the arguments")

    monkeypatch.setattr(imagenet_data, "check_imagenet_folder", forbidden)
    monkeypatch.setattr(imagenet, "ImageNetTask", forbidden)
    monkeypatch.setattr(imagenet, "imagenet_base_state", forbidden)
    with pytest.raises(ValueError, match=message):
        run_imagenet(tmp_path / "nowhere", arch, method, progress=False, **kwargs)


def test_base_state_matches_the_architecture():
    state = imagenet_base_state("mobilenet_v2")
    assert "features.0.0.weight" in state and state["classifier.1.weight"].shape == (1000, 1280)
    with pytest.raises(ValueError, match="unknown ImageNet architecture"):
        imagenet_base_state("minilm_l6")


def test_run_writes_the_record(folder, tmp_path, monkeypatch):
    calls = []

    def fake_finetune(spec, state, task, *, progress=None):
        calls.append((spec, task))
        for step in (1, 2):
            progress(step, 2)
        return {"key": spec.key(), "arch": spec.base.arch, "status": "ok", "accuracy": 0.5, "loss": [[0, math.pi]]}

    monkeypatch.setattr(imagenet, "finetune", fake_finetune)
    monkeypatch.setattr(imagenet, "imagenet_base_state", lambda arch: {})
    out = tmp_path / "runs" / "int4.json"
    with pytest.raises(ValueError, match="fewer than one batch"):  # 12 images < batch 128
        run_imagenet(folder, "mobilenet_v2", "qat", n_bits=4, device="cpu", out=out, progress=False)
    monkeypatch.setitem(PAPER_RECIPES["mobilenet_v2"], "batch_size", 4)
    record = run_imagenet(folder, "mobilenet_v2", "qat", n_bits=4, device="cpu", out=out, progress=True)
    spec, task = calls[0]
    assert spec.batch_size == 4 and task.image_size == 224 and task.resize == 256
    assert record["n_train"] == 12 and record["n_val"] == 4 and record["weights"] == spec.base.source
    assert json.loads(out.read_text()) == record
    with pytest.raises(ValueError, match="is a folder"):
        run_imagenet(folder, "mobilenet_v2", "qat", n_bits=4, device="cpu", out=tmp_path, progress=False)


# -- a genuinely short run ---------------------------------------------------------------------------


def test_short_qat_finetune_on_the_tiny_folder(folder):
    spec = dataclasses.replace(
        imagenet_spec("mobilenet_v2", "qat", n_bits=4, epochs=1, device="cpu"),
        epoch_images=4,
        batch_size=2,
        bn_batches=1,
    )
    with ImageNetTask(folder, image_size=32, resize=36, workers=2) as task:
        record = finetune(spec, imagenet_base_state("mobilenet_v2"), task)
    assert record["status"] == "ok" and record["steps"] == 2
    assert 0 <= record["accuracy"] <= 1 and math.isfinite(record["avg_bits"])
    assert record["arch"] == "mobilenet_v2" and record["label"] == "INT4"


def test_post_training_compression_on_the_tiny_folder(folder, tmp_path):
    from pvq.book.imagenet_ptq import run_imagenet_post_training

    with pytest.raises(ValueError, match="needs --bits"):
        run_imagenet_post_training(folder, "mobilenet_v2", "gptq", None)
    with pytest.raises(ValueError, match="unknown post-training method"):
        run_imagenet_post_training(folder, "mobilenet_v2", "obs", 4)
    out = tmp_path / "gptq4.json"
    record = run_imagenet_post_training(folder, "mobilenet_v2", "gptq", 4, n_calibration=8, out=out, workers=2,
                                        image_size=32, resize=36)  # fmt: skip
    assert 0 <= record["accuracy"] <= 1 and 0 <= record["fp32_accuracy"] <= 1 and record["n_calibration"] == 8
    assert json.loads(out.read_text())["method"] == "gptq"


# -- command line ------------------------------------------------------------------------------------


@pytest.mark.process
def test_cli_refuses_a_bad_folder(tmp_path):
    root = break_folder(make_folder(tmp_path / "imagenet", n_train=1, n_val=1), "no val")
    r = subprocess.run(
        [sys.executable, "-m", "pvq", "imagenet", str(root), "--arch", "mobilenet_v2", "--method", "qat",
         "--bits", "4", "--device", "cpu", "--no-progress"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2
    assert "pvq imagenet: error:" in r.stderr and "no 'val/' sub-folder" in r.stderr


@pytest.mark.process
def test_cli_refuses_an_impossible_bit_width(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "pvq", "imagenet", str(tmp_path), "--arch", "mobilenet_v2", "--method", "qat",
         "--bits", "0", "--no-progress"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2 and "--bits must be one of the integers in 1..15" in r.stderr
