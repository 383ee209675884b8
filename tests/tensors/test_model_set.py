"""A model set as one study: resolving, analysing and describing several checkpoints."""

import numpy as np
import pandas as pd
import pytest
import torch

from pvq.tensors.checkpoints import MODELS, Checkpoint
from pvq.tensors.model_set import analyze_models, model_table, resolve_models, tensor_headlines, win_share_by_model
from pvq.tensors.summaries import analyze_model

BITS = [2, 4]


def checkpoint(label, **weights):
    return Checkpoint(label, "state_dict", None, {k: torch.from_numpy(v) for k, v in weights.items()})


def test_resolve_models_keeps_the_order_and_fails_before_any_work():
    got = resolve_models(["mobilenet_v2"])
    assert list(got) == ["mobilenet_v2"] and got["mobilenet_v2"].path.is_file()
    with pytest.raises(ValueError, match="unknown model 'not_a_model'"):
        resolve_models(["mobilenet_v2", "not_a_model"])


def test_analyze_models_stacks_each_model_under_its_label():
    rng = np.random.default_rng(0)
    a = checkpoint("file_a", **{"conv.weight": rng.normal(size=(4, 3)).astype(np.float32)})
    b = checkpoint("file_b", **{"fc.weight": rng.laplace(size=(5, 6)).astype(np.float32),
                                "dead.weight": np.zeros((2, 2), np.float32)})  # fmt: skip
    tensors, skipped = analyze_models({"a": a, "b": b}, BITS)
    assert tensors.model.tolist() == ["a", "a", "b", "b"] and tensors.n_bits.tolist() == BITS * 2
    assert skipped.to_dict("records") == [{"model": "b", "tensor": "dead.weight", "numel": 4, "reason": "all zeros"}]
    alone, _ = analyze_model(b, BITS, label="b")
    pd.testing.assert_frame_equal(tensors.iloc[2:].reset_index(drop=True), alone)


def hand_made_tensors():
    """Model ``mobilenet_v2``: tensors of 10 and 20 weights (κ 3 and 5); model ``other``: one of 5 (κ 100)."""
    rows = []
    for model, tensor, numel, kurt in (("mobilenet_v2", "t1", 10, 3.0), ("mobilenet_v2", "t2", 20, 5.0),
                                       ("other", "t1", 5, 100.0)):  # fmt: skip
        for b, prune in ((2, 11.0 if kurt > 4 else 9.0), (4, 9.0)):
            rows.append({"model": model, "tensor": tensor, "numel": numel, "n_bits": b, "kurtosis": kurt,
                         "quant_snr_db": 10.0, "prune_snr_db": prune})  # fmt: skip
    return pd.DataFrame(rows)


def test_model_table_counts_each_tensor_once():
    t = model_table(hand_made_tensors())
    assert t.index.tolist() == ["mobilenet_v2", "other"]
    assert list(t.columns) == ["tensors", "weights", "description", "median kurtosis", "max kurtosis"]
    assert t.loc["mobilenet_v2"].tolist() == [2, 30, MODELS["mobilenet_v2"].description, 4.0, 5.0]
    assert t.loc["other"].tolist() == [1, 5, "other", 100.0, 100.0]


def test_tensor_headlines():
    skipped = pd.DataFrame({"model": ["other"], "tensor": ["t9"], "numel": [4], "reason": ["all zeros"]})
    h = tensor_headlines(hand_made_tensors(), skipped)
    assert h == {"n-tensors": 3, "n-models": 2, "n-weights": 35, "n-skipped": 1}


def test_win_share_by_model():
    t = win_share_by_model(hand_made_tensors()).set_index("model")
    # INT2: quantization (10 dB) beats pruning only on the κ = 3 tensor; INT4: on every tensor
    assert t.loc["mobilenet_v2", 2] == 0.5 and t.loc["other", 2] == 0.0
    assert (t[4] == 1.0).all()
