"""Chapter 9's verdicts and its margins beside chapter 4's and Table 1's (pvq.book.network_findings)."""

import math

import pandas as pd
import pytest

from pvq.book.network_findings import (
    SCALES,
    check_c4_networks,
    check_c5_networks,
    diagnosis_display,
    diagnosis_headlines,
    margins_across_scales,
    scale_headlines,
    scales_display,
)


def _verdicts(rows):
    """``(model, n_bits, difference, low, high, winner)`` rows as network_verdicts writes them."""
    return pd.DataFrame(
        [
            {"model": m, "n_bits": b, "quantization": "GPTQ", "pruning": "SparseGPT", "quant_value": 1.0,
             "prune_value": 1.0 - d, "difference": d, "diff_ci_low": lo, "diff_ci_high": hi, "winner": w}
            for m, b, d, lo, hi, w in rows
        ]
    )  # fmt: skip


VERDICTS = _verdicts([
    ("mobilenet_v2", 2, -0.5, -0.9, -0.1, "pruning"),
    ("mobilenet_v2", 4, 8.0, 7.5, 8.5, "quantization"),
    ("minilm_l6", 4, 0.3, 0.25, 0.35, "quantization"),
])  # fmt: skip
PER_LAYER = pd.DataFrame({
    "model": ["mobilenet_v2"] * 3, "layer": ["a", "b", "c"], "n_bits": [4, 4, 4],
    "quant_exact_db": [20.0, 18.0, 25.0], "prune_exact_db": [8.0, 9.0, 7.0],
})  # fmt: skip
TABLE1 = pd.DataFrame({
    "arch": ["resnet_small"] * 3, "epochs": [1, 1, 2], "n_bits": [4, 2, 4],
    "gap": [0.05, 0.15, 0.01], "gap_se": [0.005, 0.004, 0.002],
})  # fmt: skip


def test_margins_at_every_scale_with_what_their_spread_means():
    m = margins_across_scales(VERDICTS, PER_LAYER, TABLE1)
    layer = m[m.scale == SCALES[0]].iloc[0]
    # margins 12, 9, 18 dB: the median and the range over layers
    assert (layer.margin, layer.low, layer.high) == (12.0, 9.0, 18.0)
    assert layer.subject == "mobilenet_v2 (3 layers, median)" and layer.unit == "dB"
    assert layer.spread == "range over layers" and layer.sparsity == 0.75
    whole = m[m.scale == SCALES[1]].set_index(["subject", "n_bits"])
    assert whole.loc[("mobilenet_v2", 2)].margin == -0.5 and whole.loc[("mobilenet_v2", 2)].unit == "dB"
    assert whole.loc[("minilm_l6", 4)].unit == "cosine"  # the text encoder's measure
    tuned = m[m.scale == SCALES[2]]
    # the shortest fine-tuning only (Table 1's recipe; the 2-epoch row is the longer study's)
    assert sorted(tuned.n_bits) == [2, 4]
    at4 = tuned[tuned.n_bits == 4].iloc[0]
    assert at4.margin == pytest.approx(5.0) and (at4.low, at4.high) == pytest.approx((4.0, 6.0))
    paper = m[m.scale == SCALES[3]].iloc[0]
    assert paper.margin == pytest.approx(0.2) and paper.n_bits == 4 and math.isnan(paper.low)
    assert list(dict.fromkeys(m.scale.astype(str))) == list(SCALES)  # the page's order


def test_a_chapter_not_run_leaves_its_scale_out_and_the_page_says_so():
    m = margins_across_scales(VERDICTS)
    assert set(m.scale.astype(str)) == {SCALES[1], SCALES[3]}
    text = scale_headlines(m)["scales-missing"]
    assert SCALES[0] in text and SCALES[2] in text and SCALES[1] not in text
    assert scale_headlines(margins_across_scales(VERDICTS, PER_LAYER, TABLE1))["scales-missing"] == ""


def test_headlines_count_the_cells_and_name_those_pruning_leads():
    h = scale_headlines(margins_across_scales(VERDICTS, PER_LAYER, TABLE1))
    # cells: 1 layer row, 3 whole-network, 2 fine-tuned, 1 paper; pruning ahead only at mobilenet_v2, 2 bits
    assert h["scales-agree"] == "6 of 7"
    assert h["scales-against"] == (
        "Pruning is ahead (or level) at: whole network, post-training (ch. 9), mobilenet_v2 at 2 bits (-0.50 dB)."
    )
    assert "one layer, exact optima (ch. 4), range over layers in brackets: mobilenet_v2 (3 layers, median) " \
           "+12.00 dB [+9.00, +18.00]" in h["scales-text"]  # fmt: skip
    assert "minilm_l6 +0.30 [+0.25, +0.35]" in h["scales-text"]  # a cosine carries no unit
    assert h["moderate-bits"] == 4
    assert scale_headlines(margins_across_scales(VERDICTS.iloc[:0]))["scales-agree"] == "1 of 1"  # the paper alone


def test_the_display_is_a_row_per_scale_and_subject_a_column_per_bit_width():
    d = scales_display(margins_across_scales(VERDICTS, PER_LAYER, TABLE1))
    assert list(d.columns) == ["scale", "subject", "unit", "2 bits", "4 bits"]
    assert len(d) == 5  # layer, two networks, fine-tuned, paper
    row = d[d.subject == "minilm_l6"].iloc[0]
    assert (row["2 bits"], row["4 bits"]) == ("", "+0.300")


def test_c4_and_c5_on_networks_read_the_bootstrap_winners():
    assert check_c4_networks(VERDICTS).verdict == "reproduced"  # the 2-bit loss is below the moderate range
    assert check_c5_networks(VERDICTS).verdict == "reproduced"  # pruning may win at 2 bits
    tie = _verdicts([("m", 5, 0.1, -0.1, 0.3, "tie"), ("m", 6, 1.0, 0.5, 1.5, "quantization")])
    assert check_c4_networks(tie).verdict == "partly reproduced"
    lost = _verdicts([("m", 3, -1.0, -1.5, -0.5, "pruning")])
    assert check_c5_networks(lost).verdict == "not reproduced" and "m 3b (-1.00 [-1.50, -0.50])" in (
        check_c5_networks(lost).evidence
    )
    assert check_c4_networks(lost).verdict == "not yet checked"  # nothing at 4 bits or more


def _diagnosis(values, snrs=(math.nan, 26.0, 11.0, 26.5, 22.0)):
    runs = ["rtn", "gptq", "gptq+rtn@ffn_out", "rtn+gptq@ffn_out", "gptq"]
    return pd.DataFrame({"run": [f"run {k}" for k in range(5)], "method": runs, "n_calibration": [8, 8, 8, 8, 32],
                         "cosine": values, "ci_low": [v - 0.01 for v in values], "ci_high": [v + 0.01 for v in values],
                         "group_layer_snr_db": list(snrs)})  # fmt: skip


def test_the_diagnosis_says_what_its_runs_show():
    clip = pd.DataFrame({"layer": ["a", "b"], "max_abs_weight": [7.9, 3.0], "clip_at": [2.0, 1.0],
                         "clipped_share": [1e-6, 4e-5], "clipped_energy_share": [0.05, 0.01]})  # fmt: skip
    located = diagnosis_headlines(_diagnosis([0.99, 0.27, 0.98, 0.40, 0.34]), clip, 8)["gptq-diagnosis-text"]
    assert "cosine of 0.270 against round-to-nearest's 0.990" in located
    assert "round-to-nearest on the 2 feed-forward output layers and GPTQ on the rest it reaches 0.980" in located
    assert "the loss comes from those layers" in located and "does not close the gap" in located
    assert "the largest, 7.90 in a, against a clipping point of 2.00" in located and "0.0040%" in located
    assert "which fits those layers' calibration outputs better (26.5 dB against 11.0 dB" in located
    assert located.endswith("further from the original on held-out text.")
    # the swaps leave GPTQ where it was, and four times the data helps: the text says so
    other = diagnosis_headlines(_diagnosis([0.99, 0.27, 0.30, 0.97, 0.80]), None, 8)["gptq-diagnosis-text"]
    assert "does not move the result" in other and "more calibration data closes most of the gap" in other
    assert "Those layers" not in other and "on the feed-forward output layers and GPTQ" in other
    assert "`diagnose_bits` is 0" in diagnosis_headlines(None, None, 0)["gptq-diagnosis-text"]
    shown = diagnosis_display(_diagnosis([0.99, 0.27, 0.98, 0.40, 0.34]))
    assert shown.iloc[1, 2] == "0.270 [0.260, 0.280]" and shown.iloc[0, 3] == "" and shown.iloc[2, 3] == "11.0"
