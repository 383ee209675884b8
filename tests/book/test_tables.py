"""The book's tables as shown: formats by column, headers with units, values untouched."""

import re

import numpy as np
import pandas as pd
import pytest

from pvq.book.tables import (
    TABLE_HEADERS,
    clipping_gain_display,
    column_format,
    margin_display,
    page_table,
    percent_table,
    readable,
    snr_by_grid,
)
from pvq.layerwise.tables import margin_table


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
        ("n_bits", [4.0], "{:.0f}"),
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


def html_cells(html: str) -> list[str]:
    """The text of every header and data cell of a rendered table, in order."""
    return [c.strip() for c in re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", html)]


def test_readable_names_units_and_rounds_the_training_columns():
    t = pd.DataFrame({
        "arch": ["net"], "accuracy": [0.912345], "gap": [0.005], "bits_qat": [4.2345], "per_step": [0.01234],
        "other": [1.23456789], "setting": ["text"],
    })  # fmt: skip
    html = readable(t).to_html()
    assert 'class="dataframe readable"' in html  # the book's style sheet keeps the table within the column
    assert html_cells(html) == [
        "network", "test accuracy (%)", "QAT lead (points)", "QAT bits per weight", "per step (ms)", "other", "setting",
        "net", "91.23", "+0.50", "4.23", "12.3", "1.23", "text",
    ]  # fmt: skip
    assert t.accuracy.tolist() == [0.912345]  # the values themselves are unchanged


def test_readable_keeps_only_the_columns_asked_and_hides_the_index():
    t = pd.DataFrame({"arch": ["a", "b"], "seconds": [12.4, float("nan")], "n_runs": [3, 2]}, index=[7, 8])
    assert html_cells(readable(t, ["arch", "seconds"]).to_html()) == ["network", "time (s)", "a", "12", "b", "—"]
    assert html_cells(readable(pd.DataFrame({"n_bits": [4.0]})).to_html()) == ["bits", "4"]


def test_every_measured_column_says_its_unit():
    for column in ("accuracy", "accuracy_mean_qat", "gap", "gain_prune", "seconds", "per_step", "fixed",
                   "median_seconds", "median_gap_db", "max_gap_db"):  # fmt: skip
        assert re.search(r"\((%|points|s|ms|dB)\)$", TABLE_HEADERS[column]), column


def test_page_table_keeps_words_whole_and_the_index_if_asked():
    t = pd.DataFrame({"a": ["x"]}, index=pd.MultiIndex.from_tuples([("net", "INT4")], names=["network", "point"]))
    for styler in (page_table(t), readable(t), page_table(t.style)):
        html = styler.to_html()
        assert 'class="dataframe readable"' in html and "anywhere" not in html
    assert html_cells(page_table(t, index=True).to_html())[-3:] == ["net", "INT4", "x"]  # the index stays
    assert html_cells(page_table(t).to_html())[-1:] == ["x"] and ">net<" not in page_table(t).to_html()


def test_readable_shows_the_layer_tables_with_units():
    timing = pd.DataFrame({"side": ["pruning"], "method": ["exact"], "n": [32], "median_seconds": [0.0051063]})
    html = readable(timing, break_cells=True).to_html()
    assert 'class="dataframe readable"' in html
    assert re.search(r"td \{\s*overflow-wrap: anywhere;", html)  # long layer names may break anywhere
    assert html_cells(html) == ["side", "method", "chunk size n", "median time per chunk (ms)", "pruning", "exact",
                                "32", "5.1"]  # fmt: skip
    gaps = pd.DataFrame({"side": ["quantization"], "method": ["GPTQ"], "median_gap_db": [0.0],
                         "max_gap_db": [1.7609126]})  # fmt: skip
    assert html_cells(readable(gaps).to_html()) == ["side", "method", "median gap (dB)", "largest gap (dB)",
                                                    "quantization", "GPTQ", "0.0000", "1.76"]  # fmt: skip
    problems = pd.DataFrame({"model": ["m"], "layer": ["features.8.conv.1.0"], "rows": [3136], "channels": [384],
                             "dead_channels": [0], "chunks_total": [384], "chunk_dims": ["[9]"],
                             "chunks_studied": [2]})  # fmt: skip
    assert html_cells(readable(problems).to_html()) == [
        "model", "layer", "rows of X", "output channels", "dead channels", "chunks", "chunk sizes n", "chunks studied",
        "m", "features.8.conv.1.0", "3,136", "384", "0", "384", "[9]", "2",
    ]  # fmt: skip


def test_margin_display_names_the_points_and_signs_the_margins():
    table = pd.DataFrame({
        "model": ["m", "m"], "layer": ["A", "A"], "n_bits": [2, 4], "quant_exact_db": [10.04, 20.0],
        "prune_exact_db": [12.0, 5.0],
    })  # fmt: skip
    html = margin_display(margin_table(table)).to_html()
    assert (
        'class="dataframe readable"' in html
        and "<caption>SNR margin (dB) of quantization at INT-b over pruning at 1 - b/16" in html
    )
    assert "white-space: nowrap" in html  # the numbers stay whole, the layer names wrap
    assert [c for c in html_cells(html) if c.startswith(("INT", "+", "-"))] == ["INT2", "INT4", "-2.0", "+15.0"]


def test_readable_formats_the_run_columns_and_keeps_values():
    t = pd.DataFrame({"arch": ["net"], "accuracy": [0.91234], "gap": [0.005], "factor": [2.0], "other": [1.5]})
    html = readable(t, ["accuracy", "gap", "factor"]).to_html()
    assert "91.23" in html and "+0.50" in html and "2×" in html and "other" not in html
    assert "nan" not in readable(t.assign(gap=np.nan)).to_html() and t.gap.tolist() == [0.005]
    assert "none" in readable(t.assign(gap=np.nan), na_rep="none").to_html()


def test_gaps_show_three_significant_digits_and_at_most_four_decimals():
    t = pd.DataFrame({"max_gap_db": [7.2766, 0.000123, 0.0], "median_gap_db": [12.345, 0.5, 1e-9]})
    html = readable(t).to_html()
    for shown in ("7.28", "0.0001", "12.3", "0.500", "0.0000"):
        assert shown in html, shown


def test_margin_display_lets_long_layer_names_wrap_after_their_dots():
    table = pd.DataFrame({
        "model": ["minilm_l6"], "layer": ["encoder.layer.2.attention.output.dense"], "n_bits": [2],
        "quant_exact_db": [10.0], "prune_exact_db": [4.0],
    })  # fmt: skip
    html = margin_display(margin_table(table)).to_html()
    assert "encoder.\u200blayer.\u200b2.\u200battention.\u200boutput.\u200bdense" in html and "minilm_l6" in html
