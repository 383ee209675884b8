"""The ImageNet path (paper §6) on a tiny ImageNet-layout folder: validation, data, recipe, one short run."""

import dataclasses
import json
import math
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

from pvq import imagenet
from pvq.data import DatasetNotFoundError
from pvq.imagenet import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    PAPER_RECIPES,
    ImageNetTask,
    imagenet_base_state,
    imagenet_spec,
    run_imagenet,
)
from pvq.training import FineTuneSpec, PretrainedBase, PretrainSpec, finetune

from .conftest import ROOT

CLASSES = ("n01", "n02")  # class 0: red channel >= 150, class 1: red channel <= 100


def _colour(rng, k):
    red = rng.integers(150, 256) if k == 0 else rng.integers(0, 101)
    return (int(red), int(rng.integers(0, 256)), int(rng.integers(0, 256)))


def _make_folder(root, *, n_train=6, n_val=2, seed=0):
    """Solid-colour images of varied sizes, PNG and JPEG, in train/<class>/ and val/<class>/."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        for k, c in enumerate(CLASSES):
            d = root / split / c
            d.mkdir(parents=True)
            for i in range(n):
                size = (int(rng.integers(40, 64)), int(rng.integers(40, 64)))
                img = Image.new("RGB", size, _colour(rng, k))
                if i % 2:
                    img.save(d / f"img{i}.JPEG", quality=100)
                else:
                    img.save(d / f"img{i}.png")
    return root


@pytest.fixture
def folder(tmp_path):
    return _make_folder(tmp_path / "imagenet")


def _red(x):
    """Red channel values (0–255) back from normalised inputs."""
    return (x[:, 0] * IMAGENET_STD[0] + IMAGENET_MEAN[0]) * 255


# -- folder validation -------------------------------------------------------------------------------


def _break(root, how):
    if how == "missing":
        return root / "nowhere"
    if how == "no val":
        shutil.rmtree(root / "val")
    elif how == "flat val":
        for f in (root / "val").rglob("*.png"):
            f.rename(root / "val" / f"{f.parent.name}_{f.name}")
        for c in CLASSES:
            shutil.rmtree(root / "val" / c)
    elif how == "other classes":
        (root / "val" / CLASSES[1]).rename(root / "val" / "n99")
    elif how == "no images":
        for f in (root / "train").rglob("*.*"):
            f.rename(f.with_suffix(".txt"))
    return root


@pytest.mark.parametrize(
    "how, message",
    [
        ("missing", "does not exist"),
        ("no val", "no 'val/' sub-folder"),
        ("flat val", "no class folders"),
        ("other classes", "class folders differ"),
        ("no images", "no .JPEG/.jpg/.png images"),
    ],
)
def test_bad_folders_are_refused_before_any_model_is_built(folder, monkeypatch, how, message):
    def forbidden(*_a, **_k):
        raise AssertionError("loaded a model before checking the folder")

    monkeypatch.setattr(imagenet, "imagenet_base_state", forbidden)
    monkeypatch.setattr("pvq.architectures.build_model", forbidden)
    monkeypatch.setattr(imagenet, "finetune", forbidden)
    root = _break(folder, how)
    with pytest.raises(DatasetNotFoundError, match=message):
        ImageNetTask(root)
    t0 = time.perf_counter()
    with pytest.raises(DatasetNotFoundError, match=message):
        run_imagenet(root, "mobilenet_v2", "qat", n_bits=4, device="cpu", progress=False)
    assert time.perf_counter() - t0 < 2


# -- data ----------------------------------------------------------------------------------------------


def test_task_lists_the_folder_like_image_folder(folder):
    task = ImageNetTask(folder, image_size=32, resize=36)
    assert task.classes == list(CLASSES) and task.n_classes == 2
    assert (task.n_train, task.n_val) == (12, 4)
    assert [k for _, k in task.val] == [0, 0, 1, 1]
    assert [p.name for p, _ in task.val[:2]] == ["img0.png", "img1.JPEG"]


def test_train_batches_shape_dtype_normalisation_and_labels(folder):
    task = ImageNetTask(folder, image_size=32, resize=36, workers=2)
    gen = torch.Generator().manual_seed(0)
    stream = task.train_batches(batch_size=4, images=8, generator=gen, device="cpu", flip=True)
    seen = []
    for _ in range(4):  # two epochs of two batches
        x, y = next(stream)
        assert x.shape == (4, 3, 32, 32) and x.dtype == torch.float32
        assert x.is_contiguous(memory_format=torch.channels_last)
        assert y.dtype == torch.int64 and set(y.tolist()) <= {0, 1}
        # solid-colour images stay solid through crop and resize: one colour per image
        per_image = x.flatten(2)
        assert torch.allclose(per_image, per_image[..., :1].expand_as(per_image), atol=1e-4)
        red = _red(x)[:, 0, 0]
        assert torch.equal(y, (red < 125).long())  # the label is the class of the image's colour
        for c in range(3):  # normalised with the ImageNet mean and std: back in 0..255
            v = x[:, c] * IMAGENET_STD[c] + IMAGENET_MEAN[c]
            assert v.min() >= -1e-4 and v.max() <= 1 + 1e-4
        seen.append(red)
    task.close()
    epoch1, epoch2 = torch.cat(seen[:2]), torch.cat(seen[2:])
    assert not torch.equal(epoch1, epoch2)  # each epoch a fresh permutation

    # the stream depends on the generator only (not on thread timing)
    again = ImageNetTask(folder, image_size=32, resize=36, workers=1)
    gen2 = torch.Generator().manual_seed(0)
    s2 = again.train_batches(batch_size=4, images=8, generator=gen2, device="cpu", flip=True)
    assert torch.equal(_red(next(s2)[0])[:, 0, 0], seen[0])


def test_train_batches_need_a_full_batch(folder):
    task = ImageNetTask(folder, image_size=32, resize=36)
    with pytest.raises(ValueError, match="cannot fill a batch"):
        task.train_batches(batch_size=16, images=0, generator=torch.Generator(), device="cpu", flip=False)


def test_eval_transform_and_probe_inputs(folder):
    task = ImageNetTask(folder, image_size=32, resize=36)
    x = task.probe_inputs(3, device="cpu")
    assert x.shape == (3, 3, 32, 32) and x.is_contiguous(memory_format=torch.channels_last)
    with Image.open(task.val[0][0]) as img:
        expected = img.convert("RGB").getpixel((0, 0))
    assert torch.allclose(_red(x[:1]), torch.full((1, 32, 32), float(expected[0])), atol=1e-3)
    assert task.probe_inputs(100, device="cpu").shape[0] == task.n_val


def test_bad_task_arguments(folder):
    with pytest.raises(ValueError, match="resize"):
        ImageNetTask(folder, image_size=64, resize=32)
    with pytest.raises(ValueError, match="workers"):
        ImageNetTask(folder, workers=0)
    with pytest.raises(ValueError, match="unknown ImageNet architecture"):
        ImageNetTask(folder).build("resnet_small")


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
    assert isinstance(spec, FineTuneSpec) and spec.base == PretrainedBase(arch, spec.base.source)
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
        ("mobilenet_v2", "qat", {"n_bits": 0}, "n_bits must be an integer"),
        ("mobilenet_v2", "qat", {"n_bits": 17}, "n_bits must be an integer"),
        ("mobilenet_v2", "qat", {}, "n_bits must be an integer"),
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

    monkeypatch.setattr(imagenet, "check_imagenet_folder", forbidden)
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


# -- command line ------------------------------------------------------------------------------------


def test_cli_refuses_a_bad_folder(tmp_path):
    root = _break(_make_folder(tmp_path / "imagenet", n_train=1, n_val=1), "no val")
    r = subprocess.run(
        [sys.executable, "-m", "pvq", "imagenet", str(root), "--arch", "mobilenet_v2", "--method", "qat",
         "--bits", "4", "--device", "cpu", "--no-progress"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2
    assert "pvq imagenet: error:" in r.stderr and "no 'val/' sub-folder" in r.stderr


def test_cli_refuses_an_impossible_bit_width(tmp_path):
    r = subprocess.run(
        [sys.executable, "-m", "pvq", "imagenet", str(tmp_path), "--arch", "mobilenet_v2", "--method", "qat",
         "--bits", "0", "--no-progress"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert r.returncode == 2 and "n_bits must be an integer" in r.stderr
