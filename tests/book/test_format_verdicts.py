"""Chapter 8's verdicts (L1–L3) on tables worked by hand, and its figures on small tables."""

import numpy as np
import pandas as pd
import pytest

from pvq.book.format_plots import plot_decision_map, plot_format_fronts, plot_layer_formats, plot_win_shares
from pvq.book.format_verdicts import check_l1_nf4, check_l2_int8_fp8, check_l3_two_four, format_headlines


def _normal(snr=None):
    bits = {"int3": 3, "int4": 4, "fp4_e2m1": 4, "nf4": 4, "nf4_b64": 4.5, "int8": 8, "fp8_e4m3": 8,
            "int8_2:4": 5, "int4_2:4": 3, "fp16_u75_bitmap": 5}  # fmt: skip
    base = {"int3": 14, "int4": 19.3, "fp4_e2m1": 19.0, "nf4": 20.0, "nf4_b64": 20.7, "int8": 40.6, "fp8_e4m3": 31.6,
            "int8_2:4": 8.9, "int4_2:4": 8.6, "fp16_u75_bitmap": 6}  # fmt: skip
    base.update(snr or {})
    return pd.DataFrame(
        {"format": list(bits), "bits_per_weight": list(bits.values()), "snr_db": [base[k] for k in bits]}
    )


def _tensors(rows):
    """rows: {(tensor, kurtosis): {format: snr}}."""
    out = []
    for (t, k), snrs in rows.items():
        for f, v in snrs.items():
            out.append(
                {"model": "m", "tensor": t, "numel": 10, "kurtosis": k, "format": f, "bits_per_weight": 4, "snr_db": v}
            )
    return pd.DataFrame(out)


def test_l1():
    t = _tensors({
        ("a", 3): {"nf4": 20, "int4": 19, "fp4_e2m1": 18},  # NF4 beats both
        ("b", 3): {"nf4": 20, "int4": 21, "fp4_e2m1": 18},  # only FP4
        ("c", 3): {"nf4": 20, "int4": 19, "fp4_e2m1": 22},  # only INT4
    })  # fmt: skip
    normal_part, real = check_l1_nf4(_normal(), t)
    assert normal_part.verdict == "reproduced" and "NF4 20.00 dB, INT4 19.30 dB" in normal_part.evidence
    assert real.verdict == "partly reproduced"  # both on 1 of 3; each of them on 2 of 3
    assert check_l1_nf4(_normal(), t[t.tensor == "a"])[1].verdict == "reproduced"
    assert check_l1_nf4(_normal(), t[t.tensor == "b"])[1].verdict == "not reproduced"
    assert check_l1_nf4(_normal({"nf4": 19.1}), t)[0].verdict == "not reproduced"


def test_l2():
    sweep = pd.DataFrame({"kurtosis": [3, 3, 50, 50], "format": ["int8", "fp8_e4m3"] * 2, "snr_db": [40, 31, 28, 31]})
    t = _tensors({("a", 3): {"int8": 40, "fp8_e4m3": 31}, ("b", 4): {"int8": 38, "fp8_e4m3": 30},
                  ("c", 90): {"int8": 25, "fp8_e4m3": 30}})  # fmt: skip
    dist, real = check_l2_int8_fp8(_normal(), sweep, t)
    assert dist.verdict == "reproduced" and "FP8 overtakes from kurtosis 50" in dist.evidence
    assert real.verdict == "reproduced" and "median kurtosis is 90 against 4" in real.evidence
    flat = sweep.assign(snr_db=[40, 31, 35, 31])
    assert check_l2_int8_fp8(_normal(), flat, t)[0].verdict == "partly reproduced"


def test_l3():
    wins = pd.DataFrame({"format": ["int8_2:4", "int4_2:4"], "share": [0.02, 0.1]})
    v = check_l3_two_four(_normal(), wins)
    assert v.verdict == "reproduced"
    assert (
        "int8_2:4 (5 bits) 8.9 dB vs nf4_b64 20.7 dB" in v.evidence
        and "int4_2:4 (3 bits) 8.6 dB vs int3 14.0" in v.evidence
    )
    assert check_l3_two_four(_normal({"int8_2:4": 25.0}), wins).verdict == "partly reproduced"
    assert check_l3_two_four(_normal({"int8_2:4": 25.0}), wins.assign(share=0.6)).verdict == "not reproduced"


def test_headlines():
    t = _tensors({("a", 3): {"nf4": 20}, ("b", 3): {"nf4": 20}})
    wins = pd.DataFrame({"format": ["int8_2:4", "int4_2:4", "int4_1:4"], "share": [0.02, 0.1, 1.0],
                         "best_rival": ["int5", "int3", ""]})  # fmt: skip
    h = format_headlines(_normal(), t, wins)  # int4_1:4 wins by default (nothing dense is as cheap): not counted
    assert h["normal-int8-2-4"] == pytest.approx(8.9) and h["n-format-tensors"] == 2
    assert h["best-sparse-format"] == "int4_2:4" and h["best-sparse-share"] == pytest.approx(10)


def test_figures():
    rng = np.random.default_rng(0)
    sweep = pd.DataFrame({
        "distribution": ["normal()"] * 3 + ["t"] * 3, "kurtosis": [3.0] * 3 + [20.0] * 3,
        "format": ["int4", "nf4", "int8_2:4"] * 2, "bits_per_weight": [4, 4, 5] * 2,
        "snr_db": rng.normal(20, 3, 6), "on_front": [True, False, False] * 2,
    })  # fmt: skip
    fig = plot_format_fronts(sweep, groups=["normal()", "t"])
    assert [ax.get_title() for ax in fig.axes if ax.get_visible()] == [
        "normal weights",
        "Student-t weights, kurtosis 20",
    ]
    dm = pd.DataFrame({"kurtosis": [3.0, 3.0, 20.0], "budget": [4.0, 5.0, 4.0], "format": ["nf4", "int5", "mxfp4"]})
    assert plot_decision_map(dm).axes[0].get_xlabel() == "budget (bits per weight)"
    shares = pd.DataFrame({"budget": [4.0, 4.0, 5.0], "format": ["nf4", "int4", "int5"], "share": [0.7, 0.3, 1.0]})
    ax = plot_win_shares(shares).axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["int4", "int5", "nf4"]
    layers = pd.DataFrame({"model": ["m"] * 4, "layer": ["a", "a", "b", "b"], "format": ["int4"] * 4,
                           "method": ["exact", "GPTQ"] * 2, "bits_per_weight": [4] * 4,
                           "snr_db": [20, 19, 22, 21]})  # fmt: skip
    fig = plot_layer_formats(layers)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["m: a", "m: b"]
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["int4 (4 bits)"]


def test_sparse_onset():
    from pvq.book.format_verdicts import sparse_onset

    d = pd.DataFrame({"kurtosis": [3.0, 3.0, 20.0, 20.0, 50.0], "budget": [3.0, 4.0, 3.0, 4.0, 2.0],
                      "format": ["int3", "nf4", "fp4_2:4", "nf4", "int4_1:4"]})  # fmt: skip
    got = sparse_onset(d)
    assert got["sparse-onset-kurtosis"] == 20 and got["sparse-onset-budget"] == 3
    assert "fp4_2:4, int4_1:4" in got["sparse-onset-text"]
    assert "no sparse format" in sparse_onset(d[~d["format"].str.contains(":")])["sparse-onset-text"]
