"""The run grids of chapters 5–7, built from the chapters' parameter record."""

import dataclasses
import gzip
import struct

import numpy as np
import pytest

from pvq.book.training_params import FineTuningParams
from pvq.finetune.data import FASHION_MNIST_FILES, DatasetNotFoundError
from pvq.finetune.grids import (
    ablation_specs,
    base_spec,
    combine_specs,
    control_specs,
    fine_tuning_data,
    longer_specs,
    lr_method,
    lr_selection_specs,
    recipe_spec,
    run_spec,
    table1_specs,
    with_learning_rates,
)
from pvq.finetune.recipe import PretrainSpec


def test_grid_specs_follow_the_parameters():
    p = FineTuningParams(architectures=["resnet_small"], ft_bits=[2, 4], seeds=[0, 1], long_factors=[2], long_bits=[2])
    t1 = table1_specs(p)
    assert len(t1) == 1 * 2 * 2 * 2
    assert {(s.n_bits, s.sparsity) for s in t1 if s.method == "prune"} == {(None, 0.875), (None, 0.75)}
    assert {(s.n_bits, s.sparsity) for s in t1 if s.method == "qat"} == {(2, 0.0), (4, 0.0)}
    longer = longer_specs(p)
    assert len(longer) == 1 * 1 * 1 * 2 * 2
    assert {s.epochs for s in longer} == {2 * p.ft_epochs} and all(s.probe_points == p.probe_points for s in longer)
    combined = combine_specs(p)
    assert combined and all(s.probe_points == 0 for s in combined)  # chapter 7 does not probe them
    assert len(combined) == 1 * len(p.combine_bits) * len(p.combine_sparsity) * 2
    assert {(s.n_bits, s.sparsity) for s in combined} == {(b, c) for b in p.combine_bits for c in p.combine_sparsity}


def test_control_specs_are_the_uncompressed_recipe():
    p = FineTuningParams(
        architectures=["resnet_small", "mobilenet_small"], seeds=[0, 3], ft_epochs=3, epoch_images=640, lr=0.02,
        weight_decay=1e-4, mask_interval=7, bn_batches=9, probe_points=4, device="cpu",
    )  # fmt: skip
    control = control_specs(p)
    assert [(s.base.arch, s.seed) for s in control] == [
        ("resnet_small", 0), ("resnet_small", 3), ("mobilenet_small", 0), ("mobilenet_small", 3),
    ]  # fmt: skip
    for s in control:
        assert s.method == "fp32" and s.n_bits is None and s.sparsity == 0.0
        assert s.label() == "FP32 fine-tuned"
        assert s.base == base_spec(p, s.base.arch)
        assert s.base == PretrainSpec(s.base.arch, seed=0, epochs=p.pretrain_epochs, holdout=p.validation_images)
        assert (s.epochs, s.epoch_images, s.lr, s.weight_decay) == (3, 640, 0.02, 1e-4)
        assert (s.mask_interval, s.bn_batches, s.probe_points, s.probe_images) == (7, 9, 4, p.probe_images)
        assert s.device == "cpu"
        # the same recipe as the compressed runs it controls for: only the method (and its settings) differ
        qat = run_spec(p, s.base.arch, "qat", n_bits=4, seed=s.seed)
        for field in ("epochs", "epoch_images", "lr", "weight_decay", "scale_lr", "bn_batches", "probe_points"):
            assert getattr(s, field) == getattr(qat, field), field
    assert len({s.key() for s in control}) == 4  # every run its own cache entry


def test_run_spec_multiplies_the_epochs_and_probes_only_single_methods():
    p = FineTuningParams(architectures=["resnet_small"], probe_points=3)
    assert run_spec(p, "resnet_small", "prune", sparsity=0.5, factor=4).epochs == 4 * p.ft_epochs
    assert run_spec(p, "resnet_small", "qat+prune", n_bits=4, sparsity=0.5).probe_points == 0
    with pytest.raises(ValueError, match="takes no sparsity"):
        run_spec(p, "resnet_small", "fp32", sparsity=0.5)


def test_recipe_spec_is_one_run_of_the_grid():
    p = FineTuningParams(architectures=["mobilenet_small", "resnet_small"], ft_bits=[3, 5], ft_epochs=3, lr=0.02)
    spec = recipe_spec(p)
    assert (spec.base.arch, spec.method, spec.n_bits) == ("mobilenet_small", "qat", 3)
    assert spec in table1_specs(p)  # the very spec of a Table 1 run (seed 0)
    prune = run_spec(p, "resnet_small", "prune", sparsity=0.5)
    for field in ("epochs", "epoch_images", "lr", "weight_decay", "mask_interval", "prune_end", "bn_batches"):
        assert getattr(spec, field) == getattr(prune, field), field


def _write_idx(path, array):
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


def test_fine_tuning_data_reads_the_parameters_folder(tmp_path):
    with pytest.raises(DatasetNotFoundError):
        fine_tuning_data(FineTuningParams(data_folder=str(tmp_path)))
    sizes = {"train": 3, "test": 2}
    for key, name in FASHION_MNIST_FILES.items():
        split, kind = key.split("_")
        n = sizes[split]
        _write_idx(tmp_path / name, np.zeros((n, 28, 28)) if kind == "images" else np.arange(n) % 10)
    data = fine_tuning_data(FineTuningParams(data_folder=str(tmp_path)))
    assert (len(data.y_train), len(data.y_test), data.x_train.shape[1:]) == (3, 2, (1, 28, 28))
    assert data.source == str(tmp_path)


@pytest.mark.parametrize(
    ("workers", "scheduler", "env", "expect"),
    [
        (1, "", None, None),  # one worker, no cluster: in this process
        (2, "", None, (None, 2)),  # a local pool
        (1, "tcp://x:8786", None, ("tcp://x:8786", 1)),
        (1, "", "tcp://env:8786", (None, 1)),  # the environment names a cluster: make_executor reads it
    ],
)
def test_execute_picks_the_executor(monkeypatch, workers, scheduler, env, expect):
    import pvq.finetune.grids as grids

    made = []

    class Fake:
        def shutdown(self):
            made.append("shutdown")

    def fake_make(address, *, workers):
        made.append((address, workers))
        return Fake()

    if env:
        monkeypatch.setenv("PVQ_DASK_SCHEDULER", env)
    else:
        monkeypatch.delenv("PVQ_DASK_SCHEDULER", raising=False)
    monkeypatch.setattr(grids, "make_executor", fake_make)
    monkeypatch.setattr(grids, "cached_fashion_mnist", lambda folder: None)
    seen = {}
    monkeypatch.setattr(grids, "ensure_pretrained", lambda bases, **kw: seen.setdefault("pre", kw["executor"]))
    monkeypatch.setattr(grids, "run_grid", lambda specs, **kw: (seen.setdefault("run", kw["executor"]), []))
    p = FineTuningParams(
        architectures=["resnet_small"], ft_bits=[4], seeds=[0], workers=workers, dask_scheduler=scheduler, lr_grid=[]
    )
    grids.execute(p, table1_specs(p), cache_dir="unused")
    if expect is None:
        assert made == [] and seen == {"pre": None, "run": None}
    else:
        assert made == [expect, "shutdown"]
        assert isinstance(seen["pre"], Fake) and seen["run"] is seen["pre"]


def test_selection_runs_hold_out_the_validation_images_at_one_point():
    p = FineTuningParams(
        architectures=["resnet_small", "mobilenet_small"], seeds=[3, 1], lr_grid=[0.03, 0.001], lr_bits=3,
        validation_images=5000, combine_sparsity=[0.75, 0.5], probe_points=4,
    )  # fmt: skip
    specs = lr_selection_specs(p, ("qat", "prune", "qat+prune"))
    assert len(specs) == 2 * 3 * 2
    assert [(s.base.arch, s.method, s.lr) for s in specs[:6]] == [
        ("resnet_small", "qat", 0.001), ("resnet_small", "qat", 0.03), ("resnet_small", "prune", 0.001),
        ("resnet_small", "prune", 0.03), ("resnet_small", "qat+prune", 0.001), ("resnet_small", "qat+prune", 0.03),
    ]  # fmt: skip
    points = {s.method: (s.n_bits, s.sparsity) for s in specs}
    assert points == {"qat": (3, 0.0), "prune": (None, 0.8125), "qat+prune": (3, 0.5)}
    for s in specs:
        assert s.validation == 5000 and s.base.holdout == 5000  # scored on images the base never saw
        assert s.seed == 3 and s.probe_points == 0
        # otherwise the recipe of the chapter's runs
        ref = run_spec(p, s.base.arch, "qat", n_bits=4)
        for field in ("epochs", "epoch_images", "weight_decay", "scale_lr", "bn_batches", "mask_interval"):
            assert getattr(s, field) == getattr(ref, field), field
    assert lr_selection_specs(FineTuningParams(lr_grid=[], validation_images=0)) == []
    with pytest.raises(ValueError, match="no learning rate is selected for method 'fp32'"):
        lr_selection_specs(p, ("fp32",))


def test_runs_take_their_methods_rate_and_the_control_takes_qats():
    p = FineTuningParams(architectures=["resnet_small"], ft_bits=[4], seeds=[0], lr=0.5)
    specs = table1_specs(p) + control_specs(p) + combine_specs(p)
    assert {s.lr for s in specs} == {0.5}
    chosen = {("resnet_small", "qat"): 0.001, ("resnet_small", "prune"): 0.03, ("resnet_small", "qat+prune"): 0.01}
    tuned = with_learning_rates(specs, chosen)
    assert [s.lr for s in tuned] == [chosen[("resnet_small", lr_method(s.method))] for s in specs]
    assert {s.lr for s in tuned if s.method == "fp32"} == {0.001}
    assert [dataclasses.replace(t, lr=s.lr) for s, t in zip(specs, tuned, strict=True)] == specs  # only lr changes
    with pytest.raises(ValueError, match="no learning rate was selected"):
        with_learning_rates(specs, {("resnet_small", "qat"): 0.001})


def test_ablation_specs_quantize_every_layer():
    p = FineTuningParams(architectures=["resnet_small"], seeds=[0, 1], ablation_bits=[2, 4])
    specs = ablation_specs(p)
    assert [(s.n_bits, s.seed) for s in specs] == [(2, 0), (2, 1), (4, 0), (4, 1)]
    assert all(s.method == "qat" and s.first_last_bits is None for s in specs)
    assert specs[0].label() == "INT2, all layers"
    assert ablation_specs(FineTuningParams(ablation_bits=[])) == []
    # otherwise Table 1's QAT run: its own cache entry
    twin = run_spec(p, "resnet_small", "qat", n_bits=2, seed=0)
    assert dataclasses.replace(specs[0], first_last_bits=8, probe_points=twin.probe_points) == twin
    assert specs[0].key() != twin.key() and specs[0].probe_points == 0


def test_execute_runs_every_spec_at_its_selected_rate(monkeypatch):
    import pandas as pd

    import pvq.finetune.grids as grids

    monkeypatch.setattr(grids, "cached_fashion_mnist", lambda folder: None)
    monkeypatch.setattr(grids, "ensure_pretrained", lambda bases, **kw: None)
    ran = []

    def fake_run_grid(specs, **kw):
        ran.append(specs)
        acc = {0.001: 0.8, 0.01: 0.9} if specs[0].validation else {}
        rows = [
            {"arch": s.base.arch, "method": s.method, "lr": s.lr, "status": "ok", "accuracy": acc.get(s.lr, 0.5)}
            if s.method == "qat" else
            {"arch": s.base.arch, "method": s.method, "lr": s.lr, "status": "ok", "accuracy": 1 - acc.get(s.lr, 0.5)}
            for s in specs
        ]  # fmt: skip
        return pd.DataFrame(rows), []

    monkeypatch.setattr(grids, "run_grid", fake_run_grid)
    p = FineTuningParams(architectures=["resnet_small"], ft_bits=[4], seeds=[0], workers=1, lr_grid=[0.001, 0.01])
    grids.execute(p, table1_specs(p) + control_specs(p), cache_dir="unused")
    selection, final = ran
    assert all(s.validation for s in selection) and not any(s.validation for s in final)
    assert {(s.method, s.lr) for s in final} == {("qat", 0.01), ("prune", 0.001), ("fp32", 0.01)}


def test_a_best_rate_at_the_grid_edge_is_searched_beyond_it(monkeypatch):
    import pandas as pd

    import pvq.finetune.grids as grids

    monkeypatch.setattr(grids, "cached_fashion_mnist", lambda folder: None)
    monkeypatch.setattr(grids, "ensure_pretrained", lambda bases, **kw: None)
    ran = []

    def fake_run_grid(specs, **kw):  # QAT peaks inside the grid, pruning keeps improving up to 0.32
        ran.append(sorted((s.method, s.lr) for s in specs))
        score = {"qat": lambda lr: -abs(lr - 0.01), "prune": lambda lr: -abs(lr - 0.3)}
        rows = [{"arch": s.base.arch, "method": s.method, "lr": s.lr, "status": "ok", "accuracy": score[s.method](s.lr)}
                for s in specs]  # fmt: skip
        return pd.DataFrame(rows), []

    monkeypatch.setattr(grids, "run_grid", fake_run_grid)
    grid = [0.001, 0.0033, 0.01, 0.033, 0.1]
    p = FineTuningParams(architectures=["resnet_small"], ft_bits=[4], seeds=[0], workers=1, lr_grid=grid)
    table = grids.select_learning_rates(p, cache_dir="unused")
    assert ran[1:] == [[("prune", 0.32)], [("prune", 1.0)]]  # two more rounds at most, pruning alone
    chosen = {m: lr for m, lr, c in zip(table.method, table.lr, table.chosen, strict=True) if c}
    assert chosen == {"qat": 0.01, "prune": 0.32}
