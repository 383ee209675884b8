"""Tables as chapters 1–3 show them: formats by column, headers with units, values untouched."""

import numpy as np
import pandas as pd
import pytest

from pvq.book.tables import clipping_gain_display, column_format, percent_table, readable, snr_by_grid


def cells(styler) -> list[list[str]]:
    """The displayed text of every body cell, row by row (what a reader sees)."""
    ctx = styler._translate(False, False)
    return [[c["display_value"] for c in row if c["type"] == "td"] for row in ctx["body"]]


def headers(styler) -> list[str]:
    ctx = styler._translate(False, False)
    return [c["display_value"] for c in ctx["head"][-1] if c.get("is_visible", True) and c["type"] == "th"]


@pytest.mark.parametrize(
    ("name", "values", "fmt"),
    [
        ("quant_snr_db", [19.26], "{:.2f}"),
        ("quantization SNR, signed (dB)", [19.26], "{:.2f}"),
        ("α* (signed)", [1.05], "{:.3f}"),
        ("sparsity", [0.8125], "{:.2%}"),
        ("quant_wins_share", [0.954], "{:.1%}"),
        ("natural_sparsity_mean", [0.13], "{:.1%}"),
        ("paper_released_data", [0.741], "{:.1%}"),
        ("median kurtosis", [3.43], "{:.3g}"),
        ("tensors", [152], "{:,d}"),
        ("compression_ratio", [5.33], "{:.2f}×"),
        ("n_bits", [4], None),
        ("model", ["mobilenet_v2"], None),
        ("proven", [True], None),
        ("slope", [0.81], "{:.3g}"),
        ("quantization wins (plain pruning)", [0.954], "{:.1%}"),
        ("pruning wins up to (bits)", [3], "{:,d}"),  # a count, not a share
    ],
)
def test_column_format_by_name_and_values(name, values, fmt):
    assert column_format(name, pd.Series(values)) == fmt


def test_readable_rounds_heads_and_keeps_the_values():
    wins = pd.DataFrame({"n_bits": [2, 3], "sparsity": [0.875, 0.8125], "tensors": [1520, 152],
                         "quant_wins_share": [0.9539473684, 0.97368], "median_margin_db": [4.667539, 8.75],
                         "paper_released_data": [0.741, np.nan]})  # fmt: skip
    before = wins.copy()
    shown = readable(wins)
    assert headers(shown) == ["bits", "sparsity", "tensors", "quantization wins", "median lead of quantization (dB)",
                              "paper's released data"]  # fmt: skip
    assert cells(shown) == [
        ["2", "87.50%", "1,520", "95.4%", "4.67", "74.1%"],
        ["3", "81.25%", "152", "97.4%", "8.75", "—"],
    ]
    pd.testing.assert_frame_equal(wins, before)  # nothing changed in the table itself
    assert "<th" not in shown.to_html().split("<tbody>")[1].split("</tr>")[0]  # the index is hidden
    assert 'class="dataframe readable"' in shown.to_html()  # the book's CSS for tables applies
    assert cells(readable(wins, columns=["n_bits", "sparsity"])) == [["2", "87.50%"], ["3", "81.25%"]]


def test_readable_heads_the_quantities_and_the_index():
    summary = pd.DataFrame({"quantity": ["quant_snr_db_paper", "natural_sparsity"], "max_abs_diff": [0.003141, 1e-8]})
    assert [row[0] for row in cells(readable(summary))] == ["quantization SNR, paper's clipping (dB)",
                                                            "natural sparsity (fraction)"]  # fmt: skip
    assert [row[1] for row in cells(readable(summary))] == ["0.0031", "0.0000"]
    cert = pd.DataFrame({"n_bits": [2, 3], "proven": [1.0, 0.5], "max_gap_db": [0.0, 0.00012]}).set_index("n_bits")
    shown = readable(cert, index=True)
    assert "bits" in shown.to_html() and cells(shown) == [["100.0%", "0.0000"], ["50.0%", "0.0001"]]


def test_percent_table_names_the_bit_widths():
    pivot = pd.DataFrame({2: [0.0, 0.5], 8: [0.0, np.nan]}, index=pd.Index(["[0, 4)", "[4, 6)"], name="kurtosis_bin"))
    pivot.columns.name = "n_bits"
    shown = percent_table(pivot, digits=0)
    assert cells(shown) == [["0%", "0%"], ["50%", "—"]]
    html = shown.to_html()
    assert "INT2" in html and "INT8" in html and ">kurtosis<" in html and ">bits<" in html
    assert 'class="dataframe readable"' in html
    assert list(pivot.columns) == [2, 8]  # the table itself keeps its columns


def test_snr_by_grid_one_column_per_grid_and_pruning_once():
    table = pd.DataFrame({"n_bits": [2, 2, 4, 4], "sparsity": [0.875, 0.875, 0.75, 0.75],
                          "grid": ["signed", "symmetric"] * 2, "clip": [1.05, 1.22, 2.5, 2.6],
                          "quant_snr_db": [8.26, 7.21, 19.26, 18.9],
                          "prune_snr_db": [3.03, 3.03, 5.58, 5.58]})  # fmt: skip
    wide = snr_by_grid(table)
    assert list(wide.columns) == ["n_bits", "sparsity", "α* (signed)", "α* (symmetric)",
                                  "quantization SNR, signed (dB)", "quantization SNR, symmetric (dB)",
                                  "pruning SNR (dB)"]  # fmt: skip
    assert wide["quantization SNR, symmetric (dB)"].tolist() == [7.21, 18.9]
    assert wide["pruning SNR (dB)"].tolist() == [3.03, 5.58] and wide.n_bits.tolist() == [2, 4]
    assert cells(readable(wide))[1] == ["4", "75.00%", "2.500", "2.600", "19.26", "18.90", "5.58"]


def test_clipping_gain_display_in_db():
    gain = pd.DataFrame({"n_bits": [2], "mean": [0.02588], "median": [0.00306], "max": [1.99537], "verdict flips": [0]})
    shown = clipping_gain_display(gain)
    assert headers(shown) == ["bits", "mean gain (dB)", "median gain (dB)", "largest gain (dB)", "verdict flips"]
    assert cells(shown) == [["2", "0.03", "0.00", "2.00", "0"]]


def test_percent_table_heads_text_columns():
    index = pd.MultiIndex.from_tuples([("released", 8)], names=["source", "n_bits"])
    by_source = pd.DataFrame({"mean_over_tensors": [0.126], "median": [0.059]}, index=index)
    by_source.columns.name = "aggregation"
    html = percent_table(by_source).to_html()
    assert "mean over tensors" in html and ">median<" in html and "12.6%" in html and ">bits<" in html
