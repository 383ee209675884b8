"""The per-layer study as a whole: problems of several layers, solved through an executor, summed up."""

import math

import numpy as np
import pandas as pd
import pytest

from pvq.layerwise.study import (
    PROBLEM_COLUMNS,
    layer_problems,
    margin_headlines,
    problem_headlines,
    solve_problems,
    solver_headlines,
)
from pvq.layerwise.sweep import layer_chunks, run_sweep

LAYERS = {"mobilenet_v2": ["features.8.conv.1.0", "features.11.conv.0.0"]}


def test_layer_problems_are_each_layers_chunks_in_order():
    chunks, problems = layer_problems(LAYERS, n_bits=[4], n_inputs=8, chunk_size=16, max_chunks=3)
    assert list(problems.columns) == PROBLEM_COLUMNS
    assert problems[["model", "layer"]].values.tolist() == [["mobilenet_v2", name] for name in LAYERS["mobilenet_v2"]]
    assert problems.chunks_studied.tolist() == [3, 3] and len(chunks) == 6
    assert problems.chunk_dims.tolist() == [[9], [16]]  # a depthwise 3×3 kernel; 16 of a 1×1 conv's inputs
    alone, info = layer_chunks("mobilenet_v2", "features.11.conv.0.0", n_bits=[4], n_inputs=8, chunk_size=16,
                               max_chunks=3)  # fmt: skip
    assert [c.key([4], {}) for c in chunks[3:]] == [c.key([4], {}) for c in alone]
    assert problems.iloc[1].drop(["model", "layer", "chunks_studied"]).to_dict() == info


def test_problem_headlines():
    problems = pd.DataFrame({"chunks_studied": [2, 3], "dead_channels": [0, 4]})
    assert problem_headlines(problems) == {"n-layers": 2, "n-chunks": 5, "n-dead": 4}


def test_solve_problems_matches_the_sweep_in_process_and_fills_the_cache(small_chunks, tmp_path):
    chunks = small_chunks[0][:2]
    options = {"sdp_every": 1, "scip_max_n": 0, "prune_nodes": 10_000, "quant_nodes": 10_000}
    got, got_curves = solve_problems(chunks, [2, 4], cache_dir=tmp_path, workers=1, **options)
    want, want_curves = run_sweep(chunks, [2, 4], **options)
    pd.testing.assert_frame_equal(got.drop(columns="seconds"), want.drop(columns="seconds"))
    pd.testing.assert_frame_equal(got_curves.drop(columns="seconds"), want_curves.drop(columns="seconds"))
    assert len(list(tmp_path.glob("*.json"))) == 2  # one entry per chunk
    again, again_curves = solve_problems(chunks, [2, 4], cache_dir=tmp_path, workers=1, **options)
    pd.testing.assert_frame_equal(again, got)  # read back: even the timings are the cached ones
    pd.testing.assert_frame_equal(again_curves, got_curves)


def results_for_headlines():
    """Quantization exact proven on 1 of 2 chunks, pruning on both; SDP rounding errors (2, 2) and
    lower bounds (0.5, 0.5) against the optimum's errors (1, 1); the paper's plain SDP (4, 4), (0.25, 0.25)."""
    rows = []
    for side, method, errors, lower, proven in (
        ("quantization", "exact", (1.0, 1.0), (1.0, 0.9), (True, False)),
        ("quantization", "SDP strengthened", (2.0, 2.0), (0.5, 0.5), (False, False)),
        ("quantization", "SDP paper", (4.0, 4.0), (0.25, 0.25), (False, False)),
        ("pruning", "exact", (3.0, 3.0), (3.0, 3.0), (True, True)),
    ):
        for chunk in (0, 1):
            rows.append({"model": "m", "layer": "L", "channel": 0, "chunk": chunk, "n_bits": 4, "side": side,
                         "method": method, "error": errors[chunk], "lower_bound": lower[chunk],
                         "proven": proven[chunk]})  # fmt: skip
    return pd.DataFrame(rows)


def curves_for_headlines():
    return pd.DataFrame({"model": "m", "layer": "L", "channel": 0, "chunk": [0, 0, 1, 1], "kept": [0, 1, 0, 1],
                         "proven": [True, True, False, False]})  # fmt: skip


def test_solver_headlines_by_hand():
    h = solver_headlines(results_for_headlines(), curves_for_headlines())
    assert h["quant-proven"] == 50.0 and h["prune-proven"] == 50.0 and h["sdp-chunks"] == 2
    assert h["sdp-upper-gap"] == pytest.approx(10 * math.log10(4 / 2)) == h["sdp-upper-gap-max"]
    assert h["sdp-lower-gap"] == pytest.approx(10 * math.log10(2 / 1))  # 1 / 0.5 summed over both chunks
    assert h["sdp-paper-upper-gap"] == pytest.approx(10 * math.log10(8 / 2))
    assert h["sdp-paper-lower-gap"] == pytest.approx(10 * math.log10(4))


def test_solver_headlines_without_sdp_rows_are_nan():
    results = results_for_headlines()
    h = solver_headlines(results[~results.method.str.startswith("SDP")], curves_for_headlines())
    assert np.isnan([h["sdp-lower-gap"], h["sdp-upper-gap"], h["sdp-paper-upper-gap-max"]]).all()
    assert h["sdp-chunks"] == 0


def test_margin_headlines_by_hand():
    table = pd.DataFrame({"n_bits": [2, 4, 2, 4], "quant_exact_db": [10.0, 20.0, 8.0, 15.0],
                          "prune_exact_db": [9.0, 5.0, 3.0, 5.0], "prune_layer_db": [9.5, 6.0, 5.0, 5.0],
                          "quant_sdp_paper_lower_db": [9.0, 19.0, 4.0, 14.0],
                          "quant_sdp_paper_upper_db": [20.0, 30.0, 18.0, 25.0]})  # fmt: skip
    h = margin_headlines(table)
    assert h["n-pairs"] == 4 and h["prune-wins"] == 0 and h["min-margin"] == 1.0
    assert h["layer-prune-wins"] == 0 and h["layer-min-margin"] == 0.5
    assert h["layer-gain"] == pytest.approx(0.75) and h["layer-gain-max"] == 2.0
    assert h["sdp-overlap"] == 2  # at INT2 both plain boxes reach pruning's optimum (9.5 in [9, 20]; 5 in [4, 18])
    assert "beats both forms of pruning at every point down to INT2" in h["paper-difference"]
    assert "(2 of 2 pairs below 4 bits here)" in h["paper-difference"]
    lost = margin_headlines(table.assign(prune_layer_db=[12.0, 5.0, 3.0, 5.0]))
    assert lost["layer-prune-wins"] == 1 and lost["layer-min-margin"] == -2.0 and lost["prune-wins"] == 0
    assert lost["paper-difference"].startswith("As in the paper's Figure 4")
