import sys
import types

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from safetensors.numpy import save_file

from pvq.tensors.checkpoints import MODELS, iter_weights, resolve
from pvq.tensors.readers import CheckpointError

RNG = np.random.default_rng(7)
CONV = RNG.normal(size=(4, 3, 3, 3)).astype(np.float32)
FC = RNG.normal(size=(5, 8)).astype(np.float32)


def state_dict():
    return {
        "conv.weight": torch.from_numpy(CONV),
        "conv.bias": torch.zeros(4),
        "bn.weight": torch.ones(4),
        "bn.running_mean": torch.zeros(4),
        "fc.weight": torch.from_numpy(FC),
        "embeddings.word_embeddings.weight": torch.ones(10, 4),
        "steps": torch.tensor(3),
    }


def check(found):
    assert [name for name, _ in found] == ["conv.weight", "fc.weight"]
    np.testing.assert_array_equal(found[0][1], CONV)
    np.testing.assert_array_equal(found[1][1], FC)


@pytest.mark.parametrize("nesting", [None, "state_dict", "model"])
def test_torch_state_dict_round_trip(tmp_path, nesting):
    sd = state_dict()
    obj = sd if nesting is None else {nesting: sd, "epoch": 3}
    path = tmp_path / "ckpt.pth"
    torch.save(obj, path)
    check(list(iter_weights(resolve(path))))


def test_safetensors_round_trip(tmp_path):
    path = tmp_path / "model.safetensors"
    save_file({k: v.numpy() for k, v in state_dict().items()}, str(path))
    check(list(iter_weights(resolve(path))))


def test_onnx_initializers_and_constants(tmp_path):
    w_init = numpy_helper.from_array(CONV, "W")
    w_const = helper.make_node("Constant", [], ["F"], value=numpy_helper.from_array(FC.T.copy(), "Fv"))
    nodes = [
        w_const,
        helper.make_node("Conv", ["x", "W"], ["y"], name="conv"),
        helper.make_node("Flatten", ["y"], ["z"]),
        helper.make_node("MatMul", ["z", "F"], ["out"], name="fc"),
    ]
    graph = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 3, 3])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
        initializer=[w_init, numpy_helper.from_array(np.zeros(4, np.float32), "unused_bias")],
    )  # fmt: skip
    path = tmp_path / "m.onnx"
    onnx.save(helper.make_model(graph), str(path))
    found = dict(iter_weights(resolve(path)))
    assert set(found) == {"conv:W", "fc:F"}
    np.testing.assert_array_equal(found["conv:W"], CONV)
    np.testing.assert_array_equal(found["fc:F"], FC.T)


def test_hugging_face_folder_with_shards(tmp_path):
    sd = {k: v.numpy() for k, v in state_dict().items()}
    save_file({"conv.weight": sd["conv.weight"]}, str(tmp_path / "model-00001-of-00002.safetensors"))
    save_file({"fc.weight": sd["fc.weight"], "conv.bias": sd["conv.bias"]},
              str(tmp_path / "model-00002-of-00002.safetensors"))  # fmt: skip
    check(list(iter_weights(resolve(tmp_path))))
    bins = tmp_path / "bins"
    bins.mkdir()
    torch.save({"conv.weight": torch.from_numpy(CONV)}, bins / "pytorch_model-00001-of-00002.bin")
    torch.save({"fc.weight": torch.from_numpy(FC)}, bins / "pytorch_model-00002-of-00002.bin")
    check(list(iter_weights(resolve(bins))))


def test_hf_name_through_the_local_cache(tmp_path, monkeypatch):
    """The online loader, exercised offline: a Hugging Face cache laid out as the hub writes it."""
    repo = tmp_path / "hub" / "models--someorg--tiny"
    snap = repo / "snapshots" / "0123456789abcdef"
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0123456789abcdef")
    save_file({k: v.numpy() for k, v in state_dict().items()}, str(snap / "model.safetensors"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for mod in [m for m in sys.modules if m.startswith("huggingface_hub")]:
        monkeypatch.delitem(sys.modules, mod)  # re-read the environment
    ckpt = resolve("hf:someorg/tiny")
    check(list(iter_weights(ckpt)))


def test_torchvision_name_through_the_hub_cache(tmp_path, monkeypatch):
    """torchvision:<name> resolves the weights URL and loads through torch.hub's cache."""
    url = "https://download.pytorch.org/models/tinynet-0123abcd.pth"
    cache = tmp_path / "torch" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    torch.save(state_dict(), cache / "tinynet-0123abcd.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    fake = types.ModuleType("torchvision")
    fake.models = types.SimpleNamespace(
        get_model_weights=lambda name: types.SimpleNamespace(DEFAULT=types.SimpleNamespace(url=url))
    )
    monkeypatch.setitem(sys.modules, "torchvision", fake)
    check(list(iter_weights(resolve("torchvision:tinynet"))))


def test_offline_models_resolve_through_their_packages():
    for name in MODELS:
        ckpt = resolve(name)
        assert ckpt.path.is_file() and "site-packages" in str(ckpt.path)
    names = [n for n, _ in iter_weights(resolve("mobilenet_v2"))]
    assert len(names) == 53 and names[0] == "features.0.0.weight" and names[-1] == "classifier.1.weight"


def test_missing_path():
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        resolve("does/not/exist.pth")


def test_unknown_model_name_lists_the_known_ones():
    with pytest.raises(ValueError, match=r"unknown model 'resnet9000'.*mobilenet_v2.*minilm_l6"):
        resolve("resnet9000")


def test_truncated_checkpoint(tmp_path):
    path = tmp_path / "ckpt.pth"
    torch.save(state_dict(), path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="cannot be read as a torch checkpoint"):
        list(iter_weights(resolve(path)))


def test_corrupt_safetensors_and_onnx(tmp_path):
    (tmp_path / "a.safetensors").write_bytes(b"\x00\x01garbage")
    with pytest.raises(CheckpointError, match="cannot be read as safetensors"):
        list(iter_weights(resolve(tmp_path / "a.safetensors")))
    (tmp_path / "a.onnx").write_bytes(b"not a protobuf at all" * 10)
    with pytest.raises(CheckpointError, match="cannot be read as ONNX"):
        list(iter_weights(resolve(tmp_path / "a.onnx")))


def test_not_a_checkpoint(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match="not a checkpoint type"):
        resolve(tmp_path / "notes.txt")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(CheckpointError, match="holds no mapping of named tensors"):
        list(iter_weights(resolve(tmp_path / "list.pt")))


def test_checkpoint_without_layer_weights(tmp_path):
    torch.save({"bn.weight": torch.ones(4), "bias": torch.zeros(3)}, tmp_path / "bn.pt")
    with pytest.raises(CheckpointError, match="no convolution or linear weight tensors"):
        list(iter_weights(resolve(tmp_path / "bn.pt")))


def optimizer_state():
    return {"state": {0: {"momentum_buffer": torch.ones(50, 50)}}, "param_groups": [{"lr": 0.1, "params": [0]}]}


@pytest.mark.parametrize(
    ("layout", "entry"),
    [
        (lambda sd: sd, ""),
        (lambda sd: {"state_dict": sd, "epoch": 3}, "state_dict"),
        (lambda sd: {"model_state_dict": sd, "optimizer_state_dict": optimizer_state()}, "model_state_dict"),
        # Resemblyzer's speaker encoder: {"step", "model_state", "optimizer_state"}
        (lambda sd: {"step": 5, "model_state": sd, "optimizer_state": optimizer_state()}, "model_state"),
        (lambda sd: {"net": sd, "optimizer": {"exp_avg": torch.ones(100, 100)}}, "net"),
        (lambda sd: {"checkpoint": {"model": sd}, "meta": {"seed": torch.tensor(1)}}, "checkpoint/model"),
        (lambda sd: {"model": {f"module.{k}": v for k, v in sd.items()}}, "model"),  # DataParallel prefix
    ],
)
def test_weights_are_found_wherever_a_checkpoint_nests_them(tmp_path, layout, entry):
    path = tmp_path / "ckpt.pt"
    torch.save(layout(state_dict()), path)
    ckpt = resolve(path)
    assert ckpt.entry == entry
    check(list(iter_weights(ckpt)))


def test_twin_entries_need_a_key_and_the_message_lists_them(tmp_path):
    path = tmp_path / "ema.pt"
    torch.save({"model": state_dict(), "ema": state_dict(), "optimizer": optimizer_state()}, path)
    with pytest.raises(CheckpointError, match=r"several entries hold the same weights \('model' .*'ema'.*--key"):
        resolve(path)
    ckpt = resolve(path, key="ema")
    assert ckpt.entry == "ema"
    check(list(iter_weights(ckpt)))
    with pytest.raises(
        CheckpointError, match=r"no entry 'teacher' with tensors; the candidates are 'model' \(7 tensors"
    ):
        resolve(path, key="teacher")


def test_optimizer_state_alone_is_no_weights_and_key_needs_a_torch_file(tmp_path):
    path = tmp_path / "opt.pt"
    torch.save({"optimizer": {"exp_avg": torch.ones(3, 3)}, "step": 1}, path)
    with pytest.raises(CheckpointError, match="holds no mapping of named tensors"):
        resolve(path)
    st = tmp_path / "model.safetensors"
    save_file({"w.weight": np.ones((2, 2), np.float32)}, str(st))
    with pytest.raises(ValueError, match="--key chooses an entry inside a torch checkpoint"):
        resolve(st, key="model")


class Foreign:
    """A class pickled into a checkpoint: loading it would run this module's code."""


def test_unreadable_torch_file_says_why(tmp_path):
    """One line saying what is wrong with the file and what pvq would read instead."""
    good = tmp_path / "good.pt"
    torch.save(state_dict(), good)
    torch.save({"model": state_dict(), "config": Foreign()}, tmp_path / "foreign.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint at all")
    (tmp_path / "pickle.pt").write_bytes(b"\x80\x04garbage")
    (tmp_path / "empty.pt").write_bytes(b"")
    (tmp_path / "cut.pt").write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    for name, why in (
        ("junk.pt", r"not a file written by torch\.save \(a zip archive or a pickle of tensors\)$"),
        ("pickle.pt", r"not a file written by torch\.save"),
        ("empty.pt", "the file is empty or cut short$"),
        ("cut.pt", r"its zip archive is damaged \(cut short or corrupted: PytorchStreamReader failed"),
        ("foreign.pt", r"it holds a pickled \S*Foreign object, .*torch\.save\(model\.state_dict\(\), path\)$"),
    ):
        with pytest.raises(CheckpointError, match=f"^{name}: cannot be read as a torch checkpoint: {why}") as err:
            resolve(tmp_path / name)
        assert "\n" not in str(err.value)


def test_safetensors_tensors_are_read_one_at_a_time(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    tensors = {f"layer{i}.weight": RNG.normal(size=(6, 5)).astype(np.float16) for i in range(4)}
    save_file({**tensors, "layer0.bias": np.zeros(6, np.float16)}, str(path))
    reads = []
    real = np.fromfile
    monkeypatch.setattr(np, "fromfile", lambda *a, **k: reads.append(k.get("count")) or real(*a, **k))
    it = iter_weights(resolve(path), native=True)
    assert reads == []  # resolving and creating the iterator reads no tensor
    for i, (name, w) in enumerate(it):
        assert len(reads) == i + 1 and reads[-1] == 30  # this tensor only, when it is asked for
        assert w.dtype == np.float16  # native: no float32 copy
        np.testing.assert_array_equal(w, tensors[name])
    assert len(reads) == 4  # the bias is never read


def test_bfloat16_and_float16_torch_and_safetensors(tmp_path):
    from safetensors.torch import save_file as save_torch

    sd = {"a.weight": torch.randn(7, 9, dtype=torch.bfloat16), "b.weight": torch.randn(3, 4, dtype=torch.float16)}
    save_torch(sd, str(tmp_path / "m.safetensors"))
    torch.save(sd, tmp_path / "m.pt")
    torch.save(sd, tmp_path / "legacy.pt", _use_new_zipfile_serialization=False)  # cannot be memory-mapped
    for name in ("m.safetensors", "m.pt", "legacy.pt"):
        for native in (False, True):
            found = dict(iter_weights(resolve(tmp_path / name), native=native))
            assert found["a.weight"].dtype == np.float32  # bfloat16 exactly as float32
            np.testing.assert_array_equal(found["a.weight"], sd["a.weight"].float().numpy())
            assert found["b.weight"].dtype == (np.float16 if native else np.float32)
            np.testing.assert_array_equal(found["b.weight"], sd["b.weight"].numpy())


def test_onnx_external_data_is_read(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "W"], ["y"], name="conv")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 3, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(CONV, "W")],
    )  # fmt: skip
    onnx.save_model(helper.make_model(graph), str(tmp_path / "m.onnx"), save_as_external_data=True,
                    location="m.weights", size_threshold=0)  # fmt: skip
    assert (tmp_path / "m.weights").stat().st_size == CONV.nbytes
    np.testing.assert_array_equal(dict(iter_weights(resolve(tmp_path / "m.onnx")))["conv:W"], CONV)
