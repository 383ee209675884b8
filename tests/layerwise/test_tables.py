"""The per-layer tables: SNR per method, paired gaps between methods, the comparison table."""

import math

import pandas as pd
import pytest

from pvq.layerwise.sweep import run_sweep
from pvq.layerwise.tables import (
    comparison_table,
    heuristic_gaps,
    layer_budget_table,
    layer_snr,
    margin_table,
    paired_gap,
    timing_table,
)


def test_layer_snr_and_paired_gap(small_chunks):
    chunks, _ = small_chunks
    df, _ = run_sweep(chunks[:4], [4], sdp_every=2)
    snr = layer_snr(df).set_index(["side", "method"])
    assert snr.loc[("quantization", "exact"), "snr_db"] >= snr.loc[("quantization", "GPTQ"), "snr_db"] - 1e-9
    assert snr.loc[("pruning", "exact"), "snr_db"] >= snr.loc[("pruning", "greedy OBS"), "snr_db"] - 1e-9
    for method in ("SDP strengthened", "SDP paper"):
        gap = paired_gap(df, method, side="quantization")
        assert gap.chunks.iloc[0] == 2 and gap.gap_db.iloc[0] >= -1e-9 and gap.lower_gap_db.iloc[0] <= 1e-9


def test_comparison_table_brackets_the_exact_optimum(small_chunks):
    chunks, _ = small_chunks
    df, curves = run_sweep(chunks[:4], [2, 4], sdp_every=1)
    budget = layer_budget_table(curves, [2, 4])
    table = comparison_table(layer_snr(df), budget)
    assert len(table) == 2 and table.n_bits.tolist() == [2, 4]
    assert (table.layer == "features.11.conv.0.0").all() and (table.model == "mobilenet_v2").all()
    for col in ("quant_exact_db", "quant_sdp_lower_db", "quant_sdp_upper_db", "prune_exact_db", "quant_GPTQ_db"):
        assert col in table, col
    assert (table.quant_sdp_lower_db <= table.quant_exact_db + 1e-9).all()  # rounding never beats the optimum
    assert (table.quant_exact_db <= table.quant_sdp_upper_db + 1e-9).all()  # nor the certified bound
    assert (table.quant_GPTQ_db <= table.quant_exact_db + 1e-9).all()
    assert (table.prune_exact_db <= table.prune_bound_db + 1e-9).all()
    for name in ("sdp", "sdp_paper"):
        assert (table[f"quant_{name}_lower_db"] <= table.quant_exact_db + 1e-9).all()
        assert (table.quant_exact_db <= table[f"quant_{name}_upper_db"] + 1e-9).all()
    # the layer budget can only help pruning; the same curves give the per-chunk form back
    assert (table.prune_layer_db >= table.prune_exact_db - 1e-9).all()
    assert budget.prune_chunk_db.to_numpy() == pytest.approx(table.prune_exact_db.to_numpy(), rel=1e-9)


def test_layer_budget_table_by_hand():
    """Two chunks of n = 9 at INT4: 2 + 2 kept; the DP keeps 4 + 0 when chunk 1 is hopeless."""
    rows = []
    for chunk, errs in ((0, [9.0, 5.0, 4.0, 3.0, 0.5] + [0.0] * 5), (1, [1.0] * 10)):
        rows += [{"model": "m", "layer": "L", "channel": chunk, "chunk": 0, "n": 9, "kept": k, "error": e,
                  "proven": True, "norm": 10.0} for k, e in enumerate(errs)]  # fmt: skip
    t = layer_budget_table(pd.DataFrame(rows), [4, 8]).set_index("n_bits")
    assert t.loc[4, "budget"] == 4 and t.loc[8, "budget"] == 8
    assert t.loc[4, "prune_chunk_db"] == pytest.approx(-10 * math.log10(5.0 / 20.0))
    assert t.loc[4, "prune_layer_db"] == pytest.approx(-10 * math.log10(1.5 / 20.0))
    assert t.loc[4, "budget_moved"] == 0.5 and t.loc[4, "prune_layer_bound_db"] == t.loc[4, "prune_layer_db"]
    assert t.loc[8, "prune_layer_db"] == pytest.approx(-10 * math.log10(1.0 / 20.0))


def hand_made_results():
    """One layer, two chunks, INT4 and INT8: every error chosen so that the gaps are easy sums.

    Quantization: GPTQ's errors (2, 1) against the optimum's (1, 1) at INT4, equal at INT8;
    pruning: magnitude's (4, 4) against (2, 2) at both points.
    """
    errors = {
        ("quantization", "exact"): {4: (1, 1), 8: (1, 1)},
        ("quantization", "GPTQ"): {4: (2, 1), 8: (1, 1)},
        ("pruning", "exact"): {4: (2, 2), 8: (2, 2)},
        ("pruning", "magnitude"): {4: (4, 4), 8: (4, 4)},
    }
    rows = []
    for (side, method), by_bits in errors.items():
        for b, errs in by_bits.items():
            for chunk, e in enumerate(errs):
                rows.append({"model": "m", "layer": "L", "channel": 0, "chunk": chunk, "n": 9 if chunk else 32,
                             "n_bits": b, "side": side, "method": method, "error": float(e),
                             "lower_bound": float(e) if method == "exact" else math.nan, "proven": method == "exact",
                             "seconds": float(b + chunk) if method == "exact" else math.nan})  # fmt: skip
    return pd.DataFrame(rows)


def test_heuristic_gaps_by_hand():
    gaps = heuristic_gaps(hand_made_results())
    assert gaps[["side", "method"]].values.tolist() == [["quantization", "GPTQ"], ["pruning", "magnitude"]]
    gptq, mag = gaps.iloc[0], gaps.iloc[1]
    # GPTQ: 10·log10(3/2) at INT4, 0 dB at INT8; magnitude: 10·log10(8/4) = 3.01 dB at both
    assert gptq.median_gap_db == pytest.approx(10 * math.log10(1.5) / 2) and gptq.max_gap_db == pytest.approx(
        1.7609, abs=1e-4
    )
    assert mag.median_gap_db == pytest.approx(10 * math.log10(2)) == mag.max_gap_db


def test_timing_table_takes_the_median_of_the_timed_methods_only():
    t = timing_table(hand_made_results())
    assert list(t.columns) == ["side", "method", "n", "median_seconds"]
    assert t[["side", "method"]].drop_duplicates().values.tolist() == [["pruning", "exact"], ["quantization", "exact"]]
    by_n = t[t.side == "quantization"].set_index("n").median_seconds
    assert by_n.to_dict() == {9: 7.0, 32: 6.0}  # chunk 1 (n = 9): 5 s and 9 s; chunk 0 (n = 32): 4 s and 8 s


def test_margin_table_by_hand():
    table = pd.DataFrame({
        "model": ["m", "m", "m", "m"], "layer": ["B", "B", "A", "A"], "n_bits": [2, 4, 2, 4],
        "quant_exact_db": [10.0, 20.0, 8.0, 15.0], "prune_exact_db": [12.0, 5.0, 3.0, 5.0],
    })  # fmt: skip
    m = margin_table(table)
    assert m.index.tolist() == [("m", "B"), ("m", "A")]  # the table's order, not sorted
    assert m.loc[("m", "B")].tolist() == [-2.0, 15.0] and m.loc[("m", "A")].tolist() == [5.0, 10.0]
    layer = margin_table(table.assign(prune_layer_db=[9.0, 6.0, 3.0, 5.0]), form="layer")
    assert layer.loc[("m", "B")].tolist() == [1.0, 14.0]
    with pytest.raises(ValueError, match="form must be"):
        margin_table(table, form="row")
