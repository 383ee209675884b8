"""Pareto fronts, decision maps, win shares and the per-tensor choice at a budget, on tables worked by hand."""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
import torch

from pvq.analytic.distributions import make_distribution
from pvq.formats.advisor import analyze_formats, best_within_budget, budget_totals, check_budget, tensor_formats
from pvq.formats.catalog import check_format_names
from pvq.formats.frontier import (
    decision_map,
    format_sweep,
    front_shares,
    pareto_front,
    sparse_vs_dense,
    tensor_win_shares,
)
from pvq.tensors.checkpoints import resolve


def _table():
    # two tensors, four formats: (bits, snr) chosen so that the answers can be read off by hand
    rows = []
    for tensor, snrs in {"a": [10, 20, 19, 30], "b": [12, 18, 21, 29]}.items():
        for fmt, bits, snr in zip(["int4_2:4", "int4", "nf4_b64", "int8"], [3, 4, 4.5, 8], snrs, strict=True):
            rows.append({"model": "m", "tensor": tensor, "numel": 100 if tensor == "a" else 300, "format": fmt,
                         "bits_per_weight": bits, "snr_db": snr, "mse": 10 ** (-snr / 10), "power": 1.0})  # fmt: skip
    return pd.DataFrame(rows)


def test_pareto_front_against_brute_force():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {"g": np.repeat([0, 1], 12), "bits_per_weight": rng.integers(2, 9, 24), "snr_db": rng.normal(20, 5, 24)}
    )
    got = pareto_front(df, by=["g"])
    for i, j in itertools.product(range(24), range(24)):
        a, b = df.iloc[i], df.iloc[j]
        if a.g == b.g and i != j and b.bits_per_weight <= a.bits_per_weight and b.snr_db >= a.snr_db:
            if b.bits_per_weight < a.bits_per_weight or b.snr_db > a.snr_db:
                assert not got.on_front.iloc[i]
    for i in np.flatnonzero(~got.on_front.to_numpy()):
        g = df[df.g == df.g.iloc[i]]
        assert ((g.bits_per_weight <= df.bits_per_weight.iloc[i]) & (g.snr_db >= df.snr_db.iloc[i])).sum() >= 2


def test_decision_map_and_win_shares():
    t = _table()
    dm = decision_map(t, [3, 4, 4.5, 8], by=["tensor"])
    assert dm[dm.tensor == "a"].format.tolist() == ["int4_2:4", "int4", "int4", "int8"]
    assert dm[dm.tensor == "b"].format.tolist() == ["int4_2:4", "int4", "nf4_b64", "int8"]
    shares = tensor_win_shares(t, [4.5])
    assert dict(zip(shares.format, shares.share, strict=True)) == {"int4": 0.5, "nf4_b64": 0.5}
    assert decision_map(t, [2], by=["tensor"]).empty


def test_sparse_against_dense_at_equal_bits():
    t = _table()
    fmts = check_format_names(["int4_2:4", "int4", "nf4_b64", "int8"])
    out = sparse_vs_dense(t, fmts).set_index("format")
    # nothing dense costs 3 bits or less: the 2:4 format wins by default on both tensors
    assert out.loc["int4_2:4", "wins"] == 2 and out.loc["int4_2:4", "best_rival"] == ""
    t2 = t.copy()
    t2.loc[t2.format == "int4", "bits_per_weight"] = 3
    out2 = sparse_vs_dense(t2, fmts).set_index("format")
    assert out2.loc["int4_2:4", "wins"] == 0 and out2.loc["int4_2:4", "best_rival"] == "int4"


def test_best_within_budget_and_totals():
    t = _table()
    best = best_within_budget(t, 4.5).set_index("tensor")
    assert best.loc["a", "format"] == "int4" and best.loc["b", "format"] == "nf4_b64"
    tot = budget_totals(best_within_budget(t, 4.5)).iloc[0]
    assert tot.bits_per_weight == pytest.approx((100 * 4 + 300 * 4.5) / 400)
    assert tot.snr_db_weighted == pytest.approx((100 * 20 + 300 * 21) / 400)
    pooled = 10 * math.log10(400 / (100 * 10**-2 + 300 * 10**-2.1))
    assert tot.snr_db_pooled == pytest.approx(pooled)
    none = best_within_budget(t, 2.0)
    assert (none.format == "").all() and none.snr_db.isna().all()
    assert budget_totals(none).iloc[0].unfitted == 2


def test_budgets_are_checked_against_the_formats():
    fmts = check_format_names("int4,mxfp4,int4_ch")
    assert check_budget("4.25", fmts) == 4.25
    with pytest.raises(ValueError, match=r"below every format's cost \(int4 4, mxfp4 4.25, int4_ch 4\)"):
        check_budget(3.5, fmts)
    for bad in ["x", -1, float("nan"), 0]:
        with pytest.raises(ValueError, match="budget must be"):
            check_budget(bad, fmts)


def test_tensor_formats_keeps_the_shape_and_skips_degenerate_tensors(tmp_path):
    w = np.random.default_rng(1).normal(size=(8, 64)).astype(np.float32)
    rows, reason = tensor_formats(w, check_format_names("int4_ch,nvfp4"), model="m", tensor="t")
    assert reason == "" and [r["format"] for r in rows] == ["int4_ch", "nvfp4"]
    assert rows[0]["bits_per_weight"] == pytest.approx(4 + 16 / 64)
    assert tensor_formats(np.zeros((4, 4)), check_format_names("int4"))[1] == "all zeros"
    path = tmp_path / "tiny.pt"
    torch.save({"conv.weight": torch.randn(4, 3, 3, 3), "fc.weight": torch.full((2, 8), float("nan"))}, path)
    table, skipped = analyze_formats(resolve(str(path)), "int8,fp8_2:4", label="tiny")
    assert set(table.tensor) == {"conv.weight"} and len(table) == 2
    assert skipped.reason.tolist() == ["contains NaN or Inf"]


@pytest.mark.process
def test_a_model_set_is_the_same_on_a_pool_and_in_process(tmp_path):
    from pvq.formats.advisor import analyze_formats_models

    paths = {}
    for name, shape in (("small", (4, 3, 3, 3)), ("large", (64, 128))):
        paths[name] = tmp_path / f"{name}.pt"
        torch.save({"w.weight": torch.randn(shape, generator=torch.Generator().manual_seed(len(name)))}, paths[name])
    models = {m: str(p) for m, p in paths.items()}
    alone, _ = analyze_formats_models(models, "int4,mxfp4", workers=1)
    pooled, _ = analyze_formats_models(models, "int4,mxfp4", workers=2)  # the larger file first on the pool
    assert alone.model.tolist() == ["small", "small", "large", "large"]  # the models in the order given
    pd.testing.assert_frame_equal(alone, pooled)


def test_format_sweep_rows():
    sweep = format_sweep([make_distribution("normal")], ["int4", "mxfp4"], mc_rows=8, mc_row_length=256)
    assert sweep.method.tolist() == ["exact", "monte_carlo"]
    assert math.isnan(sweep.se_db.iloc[0]) and sweep.se_db.iloc[1] > 0
    assert sweep["kurtosis"].iloc[0] == pytest.approx(3.0)


def test_front_shares():
    t = _table()  # on both tensors int4_2:4 (cheapest), int4, int8 are on the front; nf4_b64 only on b
    shares = front_shares(t).set_index("format").on_front_share
    assert shares.to_dict() == {"int4_2:4": 1.0, "int4": 1.0, "int8": 1.0, "nf4_b64": 0.5}
