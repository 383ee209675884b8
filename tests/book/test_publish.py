"""Publishing a chapter's results: tables, figures, glued values and verdicts under results/<stem>/."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from pvq.book.claims import Verdict
from pvq.book.publish import Chapter, glue, glue_values, publish_figure, publish_verdicts, save_figure, save_table


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
    assert [name for name, *_ in glued] == ["c1-verdict", "c1-evidence", "c8-verdict", "c8-evidence"]
    assert glued[0][1].data == "reproduced"


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


def test_publish_verdicts_glues_several_verdicts_of_one_claim_by_scope(results_tmp, glued):
    verdicts = [Verdict("C4", "per chunk (paper)", "reproduced", "a"), Verdict("C4", "layer budget", "reproduced", "b")]
    publish_verdicts("04_per_layer", verdicts)
    assert [name for name, *_ in glued] == [
        "c4-per-chunk-paper-verdict", "c4-per-chunk-paper-evidence",
        "c4-layer-budget-verdict", "c4-layer-budget-evidence",
    ]  # fmt: skip
