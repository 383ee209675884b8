"""The fine-tuning chapters' tables as the page shows them (chapters 5-7), and the numbers of chapters 6-7's
opening boxes, on small hand-made tables."""

import math
import re

import numpy as np
import pandas as pd
import pytest

from pvq.book.tables import page_table
from pvq.book.training_tables import combining_wins_display, lr_selection_display, natural_display, shapes_display
from pvq.finetune.findings import combining_box
from pvq.finetune.representation_findings import representation_box
from pvq.finetune.tables import combining_wins


def cells(html: str) -> list[str]:
    """The text of every header and data cell of a rendered table, in order."""
    return [c.strip() for c in re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", html)]


def bold_cells(html: str) -> list[str]:
    """``rowI_colJ`` of the cells the rendered table sets in bold."""
    bold = re.search(r"\{\s*font-weight: bold;\s*\}", html)
    assert bold is not None
    return sorted(i.split("_", 2)[2] for i in re.findall(r"#(T_\w+?_row\d+_col\d+)", html[: bold.start()]))


def test_lr_selection_display_is_a_grid_with_the_chosen_rate_in_bold():
    selection = pd.DataFrame({
        "arch": ["net"] * 5, "method": ["qat", "qat", "prune", "prune", "prune"],
        "lr": [0.01, 0.1, 0.01, 0.1, 1.0], "val_accuracy": [0.9, 0.91234, 0.8, 0.7, 0.6],
        "chosen": [False, True, True, False, False],
    })  # fmt: skip
    html = lr_selection_display(selection).to_html()
    assert 'class="dataframe readable"' in html and "validation accuracy (%) at learning rate" in html
    numbers = [c for c in cells(html) if c[:1].isdigit()]  # the rates, then the accuracies row by row
    assert numbers == ["0.01", "0.1", "1", "90.00", "91.23", "80.00", "70.00", "60.00"]  # QAT did not try 1
    assert ">QAT<" in html and ">pruning<" in html
    assert bold_cells(html) == ["row0_col1", "row1_col0"]  # QAT 0.1, pruning 0.01


def front(combined_acc=(0.905, 0.88)):
    """Figure 5's table for one network: two single-method models and two combined ones (3 seeds each)."""
    rows = [
        ("quantized", "INT4", 4, 0.0, 3.0, 0.90, 0.001),
        ("pruned", "75% pruning", 0, 0.75, 4.0, 0.89, 0.002),
        ("combined", "INT4 + 50% pruning", 4, 0.5, 1.5, combined_acc[1], 0.001),  # no rival with so few bits
        ("combined", "INT8 + 50% pruning", 8, 0.5, 3.5, combined_acc[0], 0.001),
    ]
    t = pd.DataFrame(rows, columns=["kind", "label", "n_bits", "sparsity", "avg_bits", "accuracy_mean", "accuracy_std"])
    t = t.assign(arch="resnet_small", n_ok=3, n_runs=3, zeros=0.1)
    t["best_other_quantized"] = [0.90, 0.90, math.nan, 0.90]
    t["best_other_pruned"] = [math.nan, 0.89, math.nan, 0.89]
    return t


def test_combining_wins_display_rounds_and_reads_the_lead():
    shown = combining_wins_display(combining_wins(front()))
    assert list(shown.columns) == [
        "network", "combined model", "bits per weight", "accuracy (%)", "best QAT alone (%)",
        "best pruning alone (%)", "lead (points)", "ahead of both",
    ]  # fmt: skip
    rows = shown.set_index("combined model")
    int8, int4 = rows.loc["INT8 + 50% pruning"], rows.loc["INT4 + 50% pruning"]
    # 0.905 vs its best rival 0.90: +0.50 points, SE = sqrt(2 * 0.001² / 3) = 0.08 points
    assert (int8["bits per weight"], int8["accuracy (%)"], int8["best QAT alone (%)"]) == ("3.50", "90.50", "90.00")
    assert int8["lead (points)"] == "+0.50 ± 0.08" and int8["ahead of both"] == "yes, by > 2 SE"
    assert (int4["lead (points)"], int4["ahead of both"], int4["best pruning alone (%)"]) == ("none", "none", "none")
    behind = combining_wins_display(combining_wins(front((0.899, 0.88)))).set_index("combined model")
    assert behind.loc["INT8 + 50% pruning", "ahead of both"] == "no"
    close = combining_wins_display(combining_wins(front((0.9001, 0.88)))).set_index("combined model")
    assert close.loc["INT8 + 50% pruning", "ahead of both"] == "yes"  # ahead, but within two SE


def test_combining_box():
    box = combining_box(front())
    assert (box["c9-n-rivalled"], box["c9-n-ahead"], box["c9-n-clear"]) == (1, 1, 1)
    assert box["c9-closest"] == (
        "the best is resnet_small INT8 + 50% pruning at 3.50 bits per weight, +0.50 ± 0.08 points against the best "
        "single-method model with no more bits"
    )
    behind = combining_box(front((0.899, 0.88)))
    assert behind["c9-n-ahead"] == 0 and behind["c9-closest"].startswith("the closest is resnet_small INT8")
    alone = combining_box(front().query("kind != 'combined' or n_bits == 4"))
    assert alone["c9-n-rivalled"] == 0 and alone["c9-closest"].startswith("no combined model has")


def test_natural_and_lr_selection_display():
    natural = pd.DataFrame({"arch": ["a"], "n_bits": [4.0], "zeros": [0.12527], "avg_bits": [3.53937],
                            "accuracy_mean": [0.86685]})  # fmt: skip
    assert natural_display(natural).iloc[0].tolist() == ["a", "INT4", "12.5", "3.54", "86.69"]
    selection = pd.DataFrame({"arch": ["a", "a"], "method": ["qat+prune"] * 2, "lr": [0.0033, 0.033],
                              "val_accuracy": [0.8562, 0.857], "chosen": [False, True]})  # fmt: skip
    html = lr_selection_display(selection).to_html()  # chapter 6's search, a rate tried beyond the grid included
    assert ">QAT + pruning<" in html and ">a<" in html
    assert [c for c in cells(html) if c[:1].isdigit()] == ["0.0033", "0.033", "85.62", "85.70"]
    assert bold_cells(html) == ["row0_col1"]


def per_point():
    return pd.DataFrame({
        "arch": ["a", "a"], "method": ["qat", "prune"], "label": ["INT2", "87.50% pruning"], "epochs": [1, 4],
        "snr_compressed": [45.139, 1.52], "snr_lowest": [36.4, 1.0], "snr_end": [36.83, 3.2], "climb_db": [0.4512, 2.2],
        "drift_db": [-8.3085, np.nan], "cka_end": [0.99998, 0.9],
        "shape": ["drifts away (4 of 5 layers)", "returns (5 of 5 layers)"],
        "cka_shape": ["settles (3 of 5 layers)", "returns (5 of 5 layers)"],
    })  # fmt: skip


def test_shapes_display():
    shown = shapes_display(per_point())
    assert list(shown.columns) == [
        "network", "run", "epochs", "SNR step 0 (dB)", "SNR end (dB)", "climb (dB)", "drift (dB)", "SNR shape",
        "CKA shape",
    ]  # fmt: skip
    assert shown.iloc[0].tolist() == [
        "a", "INT2", "1", "45.1", "36.8", "+0.45", "-8.31", "drifts away (4/5)", "settles (3/5)",
    ]  # fmt: skip
    assert shown.iloc[1]["drift (dB)"] == ""  # a missing value stays empty


def test_page_table_hides_the_index_and_uses_the_compact_style():
    html = page_table(shapes_display(per_point())).to_html()
    assert 'class="dataframe readable"' in html and "SNR step 0 (dB)" in html and ">0<" not in html


def shapes():
    rows = []
    for method, shapes_, climbs, drifts in (
        ("prune", ["returns", "returns", "settles", "too few probes"], [1.0, 2.0, 0.1, np.nan], [1, 2, 3, np.nan]),
        ("qat", ["drifts away", "returns", "settles", "drifts away"], [0.0, 0.9, 0.2, 0.1], [-2, 0.5, 0.1, -1]),
        ("fp32", ["settles"] * 4, [0.0] * 4, [-np.inf] * 4),
    ):
        for s, c, d in zip(shapes_, climbs, drifts, strict=True):
            rows.append({"method": method, "shape": s, "climb_db": c, "drift_db": d})
    return pd.DataFrame(rows)


def test_representation_box():
    box = representation_box(shapes())
    assert box["c7-prune-returns"] == pytest.approx(2 / 3)  # the unreadable trajectory is left out
    assert box["c7-qat-returns"] == pytest.approx(1 / 4)
    assert (box["c7-prune-climb"], box["c7-prune-drift"]) == (1.0, 2.0)
    assert (box["c7-qat-climb"], box["c7-qat-drift"]) == (pytest.approx(0.15), pytest.approx(-0.45))
    empty = representation_box(shapes().query("method != 'qat'"))
    assert math.isnan(empty["c7-qat-returns"]) and math.isnan(empty["c7-qat-drift"])
