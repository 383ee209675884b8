"""Publishing a chapter's results: tables, figures, glued values and verdicts under results/<stem>/."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from pvq.book.claims import Verdict
from pvq.book.publish import (
    Chapter,
    glue,
    glue_values,
    is_timing_file,
    is_wall_clock,
    publish_figure,
    publish_verdicts,
    result_differences,
    save_figure,
    save_table,
)


@pytest.fixture
def glued(monkeypatch):
    """Every value glued, as (name, value, display), instead of myst_nb's glue."""
    import myst_nb

    calls = []
    monkeypatch.setattr(myst_nb, "glue", lambda name, value, display=True: calls.append((name, value, display)))
    return calls


def _figure():
    fig = Figure(figsize=(2, 2))
    fig.subplots().plot([0, 1], [1, 0])
    return fig


def test_save_table_goes_to_results_dir(results_tmp):
    path = save_table(pd.DataFrame({"a": [1, 2]}), "99_test", "t")
    assert path == results_tmp / "99_test" / "t.csv"
    assert pd.read_csv(path).a.tolist() == [1, 2]


def test_wall_clock_columns_and_timing_files_are_told_by_name():
    assert is_wall_clock("seconds") and is_wall_clock("median_seconds")
    assert not is_wall_clock("seconds_per_step") and not is_wall_clock("n") and not is_wall_clock(3)
    assert is_timing_file("results/04/chunks_timings.csv") and is_timing_file("timings.csv")
    assert is_timing_file("solve_timings.csv") and not is_timing_file("chunks.csv")
    assert not is_timing_file("timings/chunks.csv")  # the file's name decides, not its folder


def test_save_table_moves_wall_clock_columns_to_a_timing_file(results_tmp):
    df = pd.DataFrame({"method": ["exact", "GPTQ"], "error": [0.5, 0.25], "seconds": [1.5, float("nan")]})
    path = save_table(df, "99_test", "chunks")
    assert path == results_tmp / "99_test" / "chunks.csv"
    assert path.read_text() == "method,error\nexact,0.5\nGPTQ,0.25\n"
    timings = pd.read_csv(results_tmp / "99_test" / "chunks_timings.csv")
    pd.testing.assert_frame_equal(timings, df)  # the whole table, same rows in the same order
    # a timing file is written whole, and a table without wall-clock columns gets no timing file
    save_table(df.rename(columns={"seconds": "median_seconds"}), "99_test", "solve_timings")
    written = pd.read_csv(results_tmp / "99_test" / "solve_timings.csv")
    assert written.columns.tolist() == ["method", "error", "median_seconds"]
    save_table(df[["method"]], "99_test", "plain")
    assert sorted(p.name for p in (results_tmp / "99_test").iterdir()) == [
        "chunks.csv", "chunks_timings.csv", "plain.csv", "solve_timings.csv",
    ]  # fmt: skip


def _results(folder, files):
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return folder


def test_result_differences_lists_differing_tables_and_ignores_timing_files(tmp_path):
    same = {"01_a/t.csv": "x,y\n1,2\n", "cache/k.json": "{}", "01_a/fig.png": "p"}
    a = _results(tmp_path / "a", {**same, "01_a/t_timings.csv": "s\n1.5\n", "02_b/u.csv": "x\n1\n2\n3\n",
                                  "02_b/only.csv": "x\n", "03_c/v.csv": "x\n1\n", "03_c/w.csv": "x\r\n"})  # fmt: skip
    b = _results(tmp_path / "b", {**same, "01_a/t_timings.csv": "s\n2.5\n", "02_b/u.csv": "x\n1\n9\n3\n",
                                  "03_c/v.csv": "x\n1\n2\n", "03_c/w.csv": "x\n"})  # fmt: skip
    (b / "01_a" / "extra.png").write_text("q")  # not a table: not compared
    assert result_differences(a, b) == [
        f"02_b/only.csv: only in {a}",
        "02_b/u.csv: line 3 differs",
        "03_c/v.csv: line 3 differs",  # a prefix of the other: differs just after its end
        "03_c/w.csv: line 1 differs",  # line endings count
    ]
    assert result_differences(b, a)[0] == f"02_b/only.csv: only in {a}"
    assert result_differences(a, a) == []
    with pytest.raises(ValueError, match="b must be a results folder"):
        result_differences(a, tmp_path / "missing")


def test_save_figure_writes_a_png(results_tmp):
    path = save_figure(_figure(), "99_test", "fig-x")
    assert path == results_tmp / "99_test" / "fig-x.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 1000


def test_glue_converts_numpy_scalars_and_strings(glued):
    from IPython.display import Markdown

    glue("n", np.float64(2.5))
    glue("k", np.int64(3))
    glue("text", "**bold**")
    glue("arr", np.array([1, 2]))
    (n, v, d), (k, w, _), (t, md, _), (a, arr, _) = glued
    assert (n, v, d) == ("n", 2.5, False) and type(v) is float
    assert (k, w) == ("k", 3) and type(w) is int
    assert t == "text" and isinstance(md, Markdown) and md.data == "**bold**"
    assert a == "arr" and isinstance(arr, np.ndarray)  # arrays are glued as they are
    glue_values({"a": 1, "b": "x"})
    assert [name for name, *_ in glued[4:]] == ["a", "b"]


def test_publish_figure_glues_the_saved_image(results_tmp, glued):
    publish_figure(_figure(), "99_test", "fig-y")
    path = results_tmp / "99_test" / "fig-y.png"
    assert path.stat().st_size > 1000
    ((name, image, display),) = glued
    assert name == "fig-y" and display is False and image.data == path.read_bytes()


def test_publish_verdicts_writes_claims_csv_and_glues(results_tmp, glued):
    verdicts = [Verdict("C1", "all", "reproduced", "INT4 19.26 dB"), Verdict("C8", "mask cost", "not reproduced", "e")]
    table = publish_verdicts("02_distributions", verdicts)
    written = pd.read_csv(results_tmp / "02_distributions" / "claims.csv")
    pd.testing.assert_frame_equal(written, table)
    assert written.values.tolist() == [["C1", "all", "reproduced", "INT4 19.26 dB"],
                                       ["C8", "mask cost", "not reproduced", "e"]]  # fmt: skip
    assert [name for name, *_ in glued] == [
        "c1-verdict", "c1-evidence", "c8-verdict", "c8-evidence", "c8-mask-cost-verdict", "c8-mask-cost-evidence",
    ]  # fmt: skip
    assert glued[0][1].data == "reproduced"


def test_one_claim_checked_on_two_parts_glues_each_part(results_tmp, glued):
    verdicts = [
        Verdict("C3", "offline models", "partly reproduced", "a"),
        Verdict("C3", "released data", "reproduced", "b"),
    ]
    publish_verdicts("03_weight_tensors", verdicts)
    values = {name: v.data for name, v, *_ in glued}
    assert values["c3-verdict"] == "partly reproduced"  # the first part
    assert values["c3-offline-models-verdict"] == "partly reproduced"
    assert values["c3-released-data-verdict"] == "reproduced" and values["c3-released-data-evidence"] == "b"


def test_chapter_binds_the_stem(results_tmp, glued):
    ch = Chapter("05_fine_tuning")
    df = pd.DataFrame({"x": [1]})
    assert ch.table("runs", df) is df
    assert (results_tmp / "05_fine_tuning" / "runs.csv").is_file()
    ch.figure("fig-z", _figure())
    assert (results_tmp / "05_fine_tuning" / "fig-z.png").is_file()
    ch.glue({"a": 1}, b=2)
    table = ch.verdicts(Verdict("C5", "all", "reproduced", "ok"))
    assert table.claim.tolist() == ["C5"] and (results_tmp / "05_fine_tuning" / "claims.csv").is_file()
    assert [name for name, *_ in glued] == ["fig-z", "a", "b", "c5-verdict", "c5-evidence"]
