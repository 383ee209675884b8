"""The runnable pretrained networks load their trained weights and behave as trained networks."""

from pathlib import Path

import pytest
import torch

from pvq.tensors.checkpoints import MODELS, resolve
from pvq.tensors.pretrained import MobileNetV2, build_model


def test_mobilenet_state_dict_keys_are_torchvision_names():
    model = build_model("mobilenet_v2")
    assert isinstance(model, MobileNetV2) and not model.training  # returned in evaluation mode
    keys = list(model.state_dict())
    assert keys[0] == "features.0.0.weight" and "classifier.1.weight" in keys
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)


def test_minilm_embeddings_are_semantic():
    from tokenizers import Tokenizer

    model = build_model("minilm_l6")
    tok = Tokenizer.from_file(str(Path(resolve("minilm_l6").path).parent / "tokenizer.json"))
    tok.enable_padding()
    enc = tok.encode_batch(["A cat sits on the mat.", "A kitten is lying on a rug.", "Stock markets fell sharply."])
    ids, mask = torch.tensor([e.ids for e in enc]), torch.tensor([e.attention_mask for e in enc])
    with torch.no_grad():
        h = model(ids, mask)
    e = torch.nn.functional.normalize((h * mask[..., None]).sum(1) / mask.sum(1, keepdim=True), dim=-1)
    sim = e @ e.T
    assert sim[0, 1] > 0.4 and sim[0, 2] < 0.2


def test_unknown_architecture_lists_the_runnable_ones():
    with pytest.raises(ValueError, match=r"no runnable architecture for 'crepe_full'.*mobilenet_v2"):
        build_model("crepe_full")
    assert "crepe_full" in MODELS  # weights only: a checkpoint to analyse, not a network to run
