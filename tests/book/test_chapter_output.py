"""What a chapter publishes through :class:`pvq.book.publish.Chapter`: files under results/<stem>/ and glued values."""

import pandas as pd
import pytest
from matplotlib.figure import Figure

import pvq.book.publish as publish
from pvq.book.claims import Verdict
from pvq.book.publish import Chapter


@pytest.fixture
def glued(monkeypatch):
    """Record glue calls instead of talking to a kernel."""
    calls = {}
    monkeypatch.setattr(publish, "glue", lambda name, value, display=False: calls.__setitem__(name, value))
    return calls


def test_table_writes_and_returns(results_tmp):
    df = pd.DataFrame({"a": [1, 2]})
    assert Chapter("01_x").table("t", df) is df
    assert pd.read_csv(results_tmp / "01_x" / "t.csv").equals(df)


def test_glue_takes_a_mapping_and_keywords(glued):
    Chapter("01_x").glue({"a-b": 1.5}, c=2)
    assert glued == {"a-b": 1.5, "c": 2}


def test_verdicts_written_and_glued(results_tmp, glued):
    v = [Verdict("C1", "all", "reproduced", "INT4 wins"), Verdict("C8", "mask cost", "not reproduced", "no")]
    table = Chapter("02_x").verdicts(*v)
    assert list(table.columns) == ["claim", "scope", "verdict", "evidence"]
    assert pd.read_csv(results_tmp / "02_x" / "claims.csv").equals(table)
    assert glued == {
        "c1-verdict": "reproduced",
        "c1-evidence": "INT4 wins",
        "c8-verdict": "not reproduced",
        "c8-evidence": "no",
        "c8-mask-cost-verdict": "not reproduced",
        "c8-mask-cost-evidence": "no",
    }


def test_figure_saved_and_glued(results_tmp, glued):
    fig = Figure()
    fig.subplots().plot([0, 1], [0, 1])
    Chapter("03_x").figure("fig-test", fig)
    path = results_tmp / "03_x" / "fig-test.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "fig-test" in glued
