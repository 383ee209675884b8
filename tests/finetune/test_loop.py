"""The training loop end to end on real Fashion-MNIST: every method learns, the FP32 control stays
uncompressed, a diverging run is reported, BN re-estimation and the weight statistics."""

import dataclasses
import math

import pytest
import torch
from torch import nn

from pvq.core.pruning import BASELINE_BITS
from pvq.finetune.data import validation_split
from pvq.finetune.loop import ArrayTask, evaluate, finetune, pretrain, reestimate_bn, stored_bits, weight_statistics
from pvq.finetune.networks import build_trainable, probe_layers, weight_layers
from pvq.finetune.recipe import PretrainSpec
from pvq.finetune.representations import PROBE_BN_BATCHES, RepresentationProbe, probe_steps

from .conftest import tiny_spec


class RecordingTask(ArrayTask):
    """The Fashion-MNIST task, keeping the network it built so a test can look at it after the run."""

    def build(self, arch):
        self.model = super().build(arch)
        return self.model


@pytest.mark.parametrize(
    ("method", "kw"),
    [("qat", {"n_bits": 4}), ("prune", {"sparsity": 0.75}), ("qat+prune", {"n_bits": 4, "sparsity": 0.5})],
)
def test_tiny_runs_learn_for_every_compression(small_data, pretrained, method, kw):
    base, state, info = pretrained
    assert info["accuracy"] > 0.5  # one epoch on 3k images: far above chance (0.1)
    r = finetune(tiny_spec(base, method, probe_points=2, probe_images=32, **kw), state, small_data)
    assert r["status"] == "ok", method
    assert r["accuracy"] > 0.4, (method, r["accuracy"])
    assert r["steps"] == 10 and len(r["representations"]) == 4 * 5  # steps 0, 5, 8 (mask fixed), 10 × 5 layers
    assert sorted({p["step"] for p in r["representations"]}) == probe_steps(10, points=2, mask_end=8) == [0, 5, 8, 10]
    assert r["n_bits"] == kw.get("n_bits") and r["sparsity"] == kw.get("sparsity", 0.0)
    if "prune" in method:
        assert min(r["mask_sparsity"].values()) >= kw["sparsity"] - 0.01
        assert r["zeros"] >= kw["sparsity"] - 0.01
    else:
        assert r["mask_sparsity"] is None
    if method == "qat":
        assert 0 < r["avg_bits"] < 8
    if method == "qat+prune":  # INT4 body, 8-bit edges, half the weights zero: about 2-3 bits per weight
        assert 0 < r["avg_bits"] < 4


def test_fp32_control_finetunes_without_compression(small_data, pretrained):
    """The uncompressed control: the weights move, nothing is quantized or pruned."""
    base, state, _ = pretrained
    start = build_trainable(base.arch)
    start.load_state_dict(state)
    start_stats = weight_statistics(start, None)
    assert start_stats["zeros"] == pytest.approx(0.0, abs=1e-4)  # a trained network has (almost) no exact zeros

    task = RecordingTask(small_data)
    r = finetune(tiny_spec(base, "fp32", probe_points=2, probe_images=32), state, task)
    assert r["status"] == "ok" and r["method"] == "fp32" and r["label"] == "FP32 fine-tuned"
    assert r["n_bits"] is None and r["sparsity"] == 0 and r["mask_sparsity"] is None
    assert r["steps"] == 10 and r["accuracy"] > 0.4
    assert len(r["representations"]) == 4 * 5  # the control is probed like the compressed runs
    # step 0: the original itself, its batch-norm re-estimated like the reference's: identical
    assert all(p["snr_db"] == math.inf for p in r["representations"] if p["step"] == 0)
    assert r["zeros"] == start_stats["zeros"]  # no weight pruned: only the natural zeros
    assert r["avg_bits"] == pytest.approx(BASELINE_BITS * (1 - r["zeros"]))
    assert r["avg_bits"] == pytest.approx(16, abs=1e-3)

    model = task.model  # the very network finetune trained
    layers = weight_layers(model)
    assert all(not hasattr(m, "parametrizations") for _, m in layers)  # no fake quantizer attached
    every_layer_16 = weight_statistics(model, {name: BASELINE_BITS for name, _ in layers})
    assert every_layer_16["avg_bits"] == pytest.approx(r["avg_bits"]) and every_layer_16["zeros"] == r["zeros"]
    for _, m in layers:  # full precision: far more distinct values than any INT-b grid
        assert torch.unique(m.weight).numel() > min(2**8, m.weight.numel() // 2)
    after = model.state_dict()
    moved = [k for k, v in state.items() if torch.is_floating_point(v) and not torch.equal(v, after[k].cpu())]
    assert {f"{name}.weight" for name, _ in layers} <= set(moved)  # every layer was trained


@pytest.mark.parametrize(("method", "kw"), [("qat", {"n_bits": 3}), ("prune", {"sparsity": 0.75})])
def test_the_trained_network_does_not_depend_on_the_probes(small_data, pretrained, method, kw):
    """Probing never, rarely or often gives the very same network, bit for bit (the probes have their own data)."""
    base, state, _ = pretrained
    nets, records = [], []
    for points in (0, 2, 10):
        task = RecordingTask(small_data)
        records.append(finetune(tiny_spec(base, method, probe_points=points, probe_images=32, **kw), state, task))
        nets.append(task.model.state_dict())
    assert [len({p["step"] for p in r["representations"]}) for r in records] == [0, 4, 11]
    for r, net in zip(records[1:], nets[1:], strict=True):
        assert r["loss"] == records[0]["loss"] and r["accuracy"] == records[0]["accuracy"]
        assert all(torch.equal(v, nets[0][k]) for k, v in net.items())


def test_step_zero_is_the_network_compressed_before_fine_tuning(small_data, pretrained):
    """Pruning's first probe is the original pruned in one shot to the target, not the unpruned network."""
    base, state, _ = pretrained
    spec = tiny_spec(base, "prune", sparsity=0.75, probe_points=2, probe_images=32)
    r = finetune(spec, state, small_data)
    task = ArrayTask(small_data)
    original = task.build(base.arch)
    original.load_state_dict(state)
    original = original.to(memory_format=torch.channels_last)  # as the loop holds it

    def batches():  # the probe's own stream, as the loop draws it
        gen = torch.Generator().manual_seed(30_000 + spec.seed)
        return task.train_batches(batch_size=64, images=0, generator=gen, device="cpu", flip=False)

    inputs = task.probe_inputs(32, device="cpu")
    probe = RepresentationProbe(
        original, inputs, probe_layers(original), batches=batches, n_batches=PROBE_BN_BATCHES, reestimate=reestimate_bn
    )
    expected = probe(original, 0, prune_to=0.75)
    got = [p for p in r["representations"] if p["step"] == 0]
    assert [p["layer"] for p in got] == [p["layer"] for p in expected]
    for g, e in zip(got, expected, strict=True):
        assert g["snr_db"] == pytest.approx(e["snr_db"], rel=1e-9) and g["cka"] == pytest.approx(e["cka"], rel=1e-9)
    assert max(p["snr_db"] for p in got) < 15  # 75% of the weights gone, nothing re-learned yet


def test_diverging_run_is_reported_not_averaged(small_data, pretrained):
    base, state, _ = pretrained
    r = finetune(tiny_spec(base, "prune", sparsity=0.5, lr=1e9), state, small_data)
    assert r["status"] == "diverged"
    assert math.isnan(r["accuracy"]) and math.isnan(r["zeros"]) and math.isnan(r["avg_bits"])
    assert math.isnan(r["loss"][-1][1])  # the step that diverged is recorded


def test_nan_weights_are_refused_before_training(small_data, pretrained):
    base, state, _ = pretrained
    broken = dict(state)
    broken["fc.weight"] = state["fc.weight"].clone()
    broken["fc.weight"][0, 0] = float("nan")
    with pytest.raises(ValueError, match=r"NaN or infinite values in \['fc.weight'\]"):
        finetune(tiny_spec(base, "prune", sparsity=0.5), broken, small_data)


def test_reestimate_bn_changes_only_bn_statistics():
    model = build_trainable("mobilenet_small", seed=2)
    for m in model.modules():  # make the stored statistics stale
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.fill_(3.0)
            m.running_var.fill_(7.0)
    model.eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    momenta = [m.momentum for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    g = torch.Generator().manual_seed(0)
    xs = [torch.randn(16, 1, 28, 28, generator=g) for _ in range(3)]
    reestimate_bn(model, iter([(x, None) for x in xs]), 3)
    after = model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed, "nothing was re-estimated"
    assert all(k.endswith(("running_mean", "running_var", "num_batches_tracked")) for k in changed)
    assert not model.training
    assert [m.momentum for m in model.modules() if isinstance(m, nn.BatchNorm2d)] == momenta
    # the first BN's statistics are the plain averages of its per-batch input mean and variance
    first_bn = model.stem[1]
    assert first_bn.num_batches_tracked == 3
    with torch.no_grad():
        h = [model.stem[0](x) for x in xs]
    means = torch.stack([t.mean(dim=(0, 2, 3)) for t in h]).mean(0)
    variances = torch.stack([t.var(dim=(0, 2, 3), unbiased=True) for t in h]).mean(0)
    torch.testing.assert_close(first_bn.running_mean, means, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(first_bn.running_var, variances, rtol=1e-5, atol=1e-6)


def test_weight_statistics_closed_form():
    model = build_trainable("resnet_small", seed=0)
    layers = weight_layers(model)
    with torch.no_grad():
        layers[0][1].weight.zero_()
    n = sum(m.weight.numel() for _, m in layers)
    n0 = layers[0][1].weight.numel()
    stats = weight_statistics(model, None)
    assert stats["zeros"] == pytest.approx(n0 / n)
    assert stats["avg_bits"] == pytest.approx(16 * (n - n0) / n)
    bits = {name: 4 for name, _ in layers}
    assert weight_statistics(model, bits)["avg_bits"] == pytest.approx(4 * (n - n0) / n)
    assert weight_statistics(model, bits)["dense_bits"] == pytest.approx(4.0)  # zeros stored too
    # first and last layer at 8 bits: dense bits 4 + 4 · (their share of the weights)
    edges = layers[0][1].weight.numel() + layers[-1][1].weight.numel()
    bits[layers[0][0]] = bits[layers[-1][0]] = 8
    stats = weight_statistics(model, bits)
    assert stats["dense_bits"] == pytest.approx(4 + 4 * edges / n)
    assert stats["avg_bits"] == pytest.approx((4 * (n - edges) + 8 * (edges - n0)) / n)
    # what each method stores: every weight unless it prunes
    assert stored_bits("qat", stats) == stats["dense_bits"] and stored_bits("fp32", stats) == stats["dense_bits"]
    assert stored_bits("prune", stats) == stats["avg_bits"] == stored_bits("qat+prune", stats)


def test_validation_runs_train_and_score_without_the_test_set(small_data, pretrained):
    """A selection run never touches the test images: it scores the held-out training images."""
    base, state, _ = pretrained
    task = RecordingTask(validation_split(small_data, 500))
    spec = tiny_spec(base, "qat", n_bits=4, validation=500)
    r = finetune(spec, state, small_data)
    # the same run on the split given explicitly, scored by hand on the validation images
    twin = finetune(dataclasses.replace(spec, validation=0), state, task)
    assert r["accuracy"] == twin["accuracy"] == evaluate(task.model, task.data.x_test, task.data.y_test, device="cpu")
    assert r["validation"] == 500 and r["lr"] == spec.lr and r["first_last_bits"] == 8
    assert r["bits_per_weight"] == r["dense_bits"] > 4  # INT4 with 8-bit edges
    every = finetune(tiny_spec(base, "qat", n_bits=4, first_last_bits=None), state, small_data)
    assert every["first_last_bits"] is None and every["bits_per_weight"] == pytest.approx(4.0)
    with pytest.raises(ValueError, match="needs in-memory images"):
        finetune(spec, state, ArrayTask(small_data))


def test_pretraining_leaves_the_held_out_images_out(small_data):
    spec = PretrainSpec("resnet_small", epochs=1, batch_size=256, holdout=1024)
    steps = []
    _, info = pretrain(spec, small_data, progress=lambda step, total: steps.append(total))
    assert info["train_images"] == 3072 - 1024 and info["key"] == spec.key()
    assert steps == [(3072 - 1024) // 256] * 8  # one epoch: every image that is not held out
    # epoch_images: each epoch a random subset of that many images
    fewer = []
    pretrain(dataclasses.replace(spec, epochs=2, epoch_images=512), small_data, progress=lambda s, t: fewer.append(s))
    assert fewer == [1, 2, 3, 4]


def test_a_smaller_evaluation_set_is_the_first_images_of_the_whole(small_data, pretrained):
    """``test_images=n`` scores the very network of the full run on the first n test images only."""
    base, state, _ = pretrained
    spec = tiny_spec(base, "prune", sparsity=0.5)
    task = RecordingTask(small_data)
    whole = finetune(spec, state, task)
    part = finetune(dataclasses.replace(spec, test_images=300), state, small_data)
    first = evaluate(task.model, small_data.x_test[:300], small_data.y_test[:300], device="cpu")
    assert part["accuracy"] == first  # the same training, scored on fewer images
    assert whole["accuracy"] == evaluate(task.model, small_data.x_test, small_data.y_test, device="cpu")
    assert round(part["accuracy"] * 300, 9).is_integer()
    assert whole["loss"] == part["loss"]
    with pytest.raises(ValueError, match="needs in-memory images"):
        finetune(dataclasses.replace(spec, test_images=300), state, ArrayTask(small_data))
