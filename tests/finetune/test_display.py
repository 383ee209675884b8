"""Chapter 5's tables as shown: headers with units, rounded numbers, the chosen learning rate in bold."""

import re

import pandas as pd

from pvq.finetune.display import COLUMN_HEADERS, lr_display, readable, shown


def cells(html: str) -> list[str]:
    """The text of every header and data cell of a rendered table, in order."""
    return [c.strip() for c in re.findall(r"<t[hd][^>]*>([^<]*)</t[hd]>", html)]


def test_readable_names_units_and_rounds():
    t = pd.DataFrame({
        "arch": ["net"], "accuracy": [0.912345], "gap": [0.005], "bits_qat": [4.2345], "per_step": [0.01234],
        "other": [1.23456789], "setting": ["text"],
    })  # fmt: skip
    html = readable(t).to_html()
    assert 'class="dataframe"' in html  # the book's style sheet wraps its cells within the column
    assert cells(html) == [
        "network", "test accuracy (%)", "QAT lead (points)", "QAT bits per weight", "per step (ms)", "other", "setting",
        "net", "91.23", "+0.50", "4.23", "12.3", "1.235", "text",
    ]  # fmt: skip
    assert t.accuracy.tolist() == [0.912345]  # the values themselves are unchanged


def test_readable_keeps_only_the_columns_asked_and_hides_the_index():
    t = pd.DataFrame({"arch": ["a", "b"], "seconds": [12.4, float("nan")], "n_runs": [3, 2]}, index=[7, 8])
    assert cells(readable(t, ["arch", "seconds"]).to_html()) == ["network", "time (s)", "a", "12", "b", ""]


def test_every_measured_column_says_its_unit():
    for column in ("accuracy", "accuracy_mean_qat", "gap", "gain_prune", "seconds", "per_step", "fixed", "n_bits"):
        assert re.search(r"\((%|points|s|ms|bits)\)$", COLUMN_HEADERS[column][0]), column


def test_lr_display_is_a_grid_with_the_chosen_rate_in_bold():
    selection = pd.DataFrame({
        "arch": ["net"] * 5, "method": ["qat", "qat", "prune", "prune", "prune"],
        "lr": [0.01, 0.1, 0.01, 0.1, 1.0], "val_accuracy": [0.9, 0.91234, 0.8, 0.7, 0.6],
        "chosen": [False, True, True, False, False],
    })  # fmt: skip
    html = lr_display(selection).to_html()
    assert 'class="dataframe"' in html and "validation accuracy (%) at learning rate" in html
    numbers = [c for c in cells(html) if c[:1].isdigit()]  # the rates, then the accuracies row by row
    assert numbers == ["0.01", "0.1", "1", "90.00", "91.23", "80.00", "70.00", "60.00"]  # QAT did not try 1
    assert ">QAT<" in html and ">pruning<" in html
    bold = re.search(r"\{\s*font-weight: bold;\s*\}", html)
    assert bold is not None
    styled_ids = re.findall(r"#(T_\w+?_row\d+_col\d+)", html[: bold.start()])
    assert sorted(i.split("_", 2)[2] for i in styled_ids) == ["row0_col1", "row1_col0"]  # QAT 0.1, pruning 0.01


def test_headers_keep_their_words_whole():
    t = pd.DataFrame({"a": ["x"]}, index=pd.MultiIndex.from_tuples([("net", "INT4")], names=["network", "point"]))
    for styler in (shown(t), readable(t), shown(t.style)):
        html = styler.to_html()
        assert re.search(r"thead th \{\s*overflow-wrap: normal;", html) and 'class="dataframe"' in html
    assert cells(shown(t).to_html())[-3:] == ["net", "INT4", "x"]  # the index stays, unlike readable's
