"""A fine-tuning run described: validation of the specs, stable cache keys, labels, the recipe's defaults."""

import dataclasses

import pytest
import torch

from pvq.finetune.recipe import (
    METHODS,
    FineTuneSpec,
    PretrainedBase,
    PretrainSpec,
    pretrain_defaults,
    recipe_defaults,
    resolve_device,
    spec_digest,
)


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


def test_labels_and_methods():
    base = PretrainSpec("resnet_small")
    assert METHODS == ("qat", "prune", "qat+prune", "fp32")
    assert FineTuneSpec(base, "qat", n_bits=4).label() == "INT4"
    assert FineTuneSpec(base, "prune", sparsity=0.75).label() == "75% pruning"
    assert FineTuneSpec(base, "prune", sparsity=0.8125).label() == "81.25% pruning"
    assert FineTuneSpec(base, "qat", n_bits=2, first_last_bits=None).label() == "INT2, all layers"
    assert FineTuneSpec(base, "qat", n_bits=2, validation=500).label() == "INT2"  # where it is scored is no method
    with pytest.raises(ValueError, match="validation must be an integer >= 0"):
        FineTuneSpec(base, "qat", n_bits=2, validation=-1)
    with pytest.raises(ValueError, match="first_last_bits"):
        FineTuneSpec(base, "qat", n_bits=2, first_last_bits=0)
    with pytest.raises(ValueError, match="holdout must be an integer >= 0"):
        PretrainSpec("resnet_small", holdout=-5)
    with pytest.raises(ValueError, match="must hold the 128 probe images"):
        FineTuneSpec(base, "qat", n_bits=2, probe_points=4, test_images=100)
    fp32 = FineTuneSpec(base, "fp32")
    assert fp32.n_bits is None and fp32.sparsity == 0 and fp32.key().startswith("resnet_small-fp32-")


def test_keys_hash_every_result_setting():
    base = PretrainSpec("resnet_small")
    a = FineTuneSpec(base, "qat", n_bits=4)
    keys = {a.key()}
    changes = ({"lr": 0.02}, {"epochs": 3}, {"mask_interval": 7}, {"n_bits": 3}, {"probe_points": 2})
    changes += ({"first_last_bits": None}, {"validation": 1000}, {"test_images": 2000})
    for change in changes:
        keys.add(dataclasses.replace(a, **change).key())
    keys.add(FineTuneSpec(PretrainSpec("resnet_small", seed=1), "qat", n_bits=4).key())
    keys.add(FineTuneSpec(PretrainSpec("resnet_small", holdout=1000), "qat", n_bits=4).key())
    keys.add(FineTuneSpec(PretrainSpec("resnet_small", epoch_images=12800), "qat", n_bits=4).key())
    assert len(keys) == 12
    assert PretrainSpec("resnet_small").key() == "resnet_small-7df07b7577641dbe"  # as before epoch_images existed
    # the whole evaluation set (test_images=0) keeps the key runs had before the field existed
    assert a.key() == "resnet_small-qat-8365d4fafa3cd8bb"
    assert base.key() != PretrainSpec("resnet_small", epochs=2).key() and base.key().startswith("resnet_small-")
    assert PretrainedBase("mobilenet_v2", "a.pth").key() != PretrainedBase("mobilenet_v2", "b.pth").key()
    with pytest.raises(ValueError, match="source must be a non-empty string"):
        PretrainedBase("mobilenet_v2", "")


def test_spec_digest_is_stable_and_order_free():
    d = spec_digest({"a": 1, "b": [1, 2]})
    assert d == spec_digest({"b": [1, 2], "a": 1}) and len(d) == 16 and int(d, 16) >= 0
    assert d != spec_digest({"a": 2, "b": [1, 2]})


def test_recipe_defaults_are_the_spec_defaults():
    r = recipe_defaults()
    assert set(r) == {f.name for f in dataclasses.fields(FineTuneSpec)} - {
        "base",
        "method",
        "n_bits",
        "sparsity",
        "seed",
    }
    spec = FineTuneSpec(PretrainSpec("resnet_small"), "qat", n_bits=4)
    assert all(getattr(spec, k) == v for k, v in r.items())
    p = pretrain_defaults()
    assert set(p) == {"seed", "epochs", "batch_size", "lr", "weight_decay", "holdout", "epoch_images"}
    assert all(getattr(PretrainSpec("resnet_small"), k) == v for k, v in p.items())


def test_resolve_device():
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="device must be"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU is available"):
            resolve_device("cuda")
