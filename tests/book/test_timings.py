"""The build's time record: one row per executed chapter and build, read back as where the time went."""

import math
import os
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from pvq.book import runner
from pvq.book.runner import execute_chapters
from pvq.book.timings import (
    TIMING_COLUMNS,
    TIMINGS_FILE,
    build_timing_headlines,
    record_build_timings,
    summarize_build_timings,
)
from pvq.common.cores import SLOTS_ENV, available_cores, core_slots

from .test_runner import _book

T0 = 1_790_000_000.0  # a build's start, seconds since the epoch (2026-09-21T14:13:20Z)


def _run(stem, started, seconds):
    return SimpleNamespace(stem=stem, started=T0 + started, seconds=seconds)


def test_builds_are_appended_with_their_settings(tmp_path):
    path = tmp_path / TIMINGS_FILE
    first = record_build_timings([_run("05_a", 0.04, 100.04), _run("04_b", 2.0, 60)], path, started=T0,
                                 profile="full", jobs=2, cores=2)  # fmt: skip
    assert list(first.columns) == TIMING_COLUMNS
    assert first.started.tolist() == [0.0, 2.0] and first.seconds.tolist() == [100.0, 60.0]
    assert set(first.build) == {"2026-09-21T14:13:20Z"} and set(first.status) == {"executed"}
    assert set(first.machine_cores) == {available_cores()}
    nan = SimpleNamespace(stem="01_c", started=math.nan, seconds=1.0)  # a run that does not say when it started
    record_build_timings([nan], path, started=T0 + 3600, profile="ci", jobs=1, cores=0)
    table = pd.read_csv(path)
    assert list(table.columns) == TIMING_COLUMNS and table.stem.tolist() == ["05_a", "04_b", "01_c"]
    assert table.profile.tolist() == ["full", "full", "ci"] and math.isnan(table.started.iloc[2])


@pytest.mark.parametrize("old", ["", "stem,seconds\n05_a,3\n", "\x00\x01 not a csv"])
def test_an_empty_foreign_or_corrupt_record_is_started_again(tmp_path, old):
    path = tmp_path / TIMINGS_FILE
    path.write_text(old)
    record_build_timings([_run("05_a", 0, 10)], path, started=T0, profile="ci", jobs=2, cores=2)
    table = pd.read_csv(path)
    assert list(table.columns) == TIMING_COLUMNS and table.stem.tolist() == ["05_a"]


def _record(tmp_path):
    path = tmp_path / TIMINGS_FILE
    # a full build: the chain (05 then 06) beside 04 and 01, then the Claims page
    full = [_run("05_a", 0, 600), _run("04_b", 0, 300), _run("01_c", 300, 100), _run("06_d", 600, 200),
            _run("99_claims", 800, 100)]  # fmt: skip
    record_build_timings(full, path, started=T0, profile="full", jobs=2, cores=2)
    record_build_timings([_run("04_b", 0, 30)], path, started=T0 + 7200, profile="ci", jobs=2, cores=2)
    return pd.read_csv(path)


def test_a_build_is_summarized_in_the_order_its_chapters_started(tmp_path):
    table = _record(tmp_path)
    latest = summarize_build_timings(table)
    assert latest.stem.tolist() == ["04_b"] and latest.share.tolist() == [100.0]
    full = summarize_build_timings(table, profile="full")
    assert full.stem.tolist() == ["04_b", "05_a", "01_c", "06_d", "99_claims"]  # ties by name
    assert full.ended.tolist() == [300, 600, 400, 800, 900]
    assert full.share.tolist() == pytest.approx([300 / 13, 600 / 13, 100 / 13, 200 / 13, 100 / 13])
    assert summarize_build_timings(table, build="2026-09-21T14:13:20Z").equals(full)
    with pytest.raises(ValueError, match="the time record holds no build of profile 'gpu'"):
        summarize_build_timings(table, profile="gpu")
    with pytest.raises(ValueError, match="the time record holds no build '2020' of profile 'ci'"):
        summarize_build_timings(table, build="2020", profile="ci")


def test_the_headlines_say_where_the_time_went(tmp_path):
    h = build_timing_headlines(_record(tmp_path), profile="full")
    assert h["build"] == "2026-09-21T14:13:20Z" and (h["profile"], h["jobs"], h["cores"]) == ("full", 2, 2)
    assert h["wall-minutes"] == 15 and h["chapter-minutes"] == pytest.approx(1300 / 60)
    assert h["overlap"] == pytest.approx(1300 / 900)  # chapters at once, on average
    assert (h["longest"], h["longest-minutes"]) == ("05_a", 10) and h["longest-share"] == pytest.approx(600 / 13)
    assert h["machine-cores"] == available_cores()


def test_the_runner_builds_under_a_core_budget_and_records_its_times(tmp_path, monkeypatch):
    """The kernels see $PVQ_CORE_SLOTS (the machine's cores); it is gone after; the times land in the results."""
    seen = []

    def fake(source, ctx, parameters, profile, timeout):
        seen.append(os.environ.get(SLOTS_ENV))
        return runner.NotebookRun(source.stem, ctx.out_dir / f"{source.stem}.ipynb", 1.25, parameters, started=T0)

    monkeypatch.setattr(runner, "_execute_one", fake)
    monkeypatch.delenv(SLOTS_ENV, raising=False)
    execute_chapters("ci", root=_book(tmp_path), results_dir=tmp_path / "res", jobs=2, progress=False)
    assert len(seen) == 2 and seen[0] == seen[1] and core_slots(seen[0]).count == available_cores()
    assert Path(core_slots(seen[0]).folder).is_dir() and SLOTS_ENV not in os.environ
    table = pd.read_csv(tmp_path / "res" / TIMINGS_FILE)
    assert table.stem.tolist() == ["01_a", "99_claims"] and set(table.seconds) == {1.2}  # rounded to 0.1 s
    assert set(table.profile) == {"ci"} and set(table.jobs) == {2} and set(table.cores) == {available_cores()}

    monkeypatch.setenv(SLOTS_ENV, "off")  # a user's choice: no budget, recorded as 0 cores
    seen.clear()
    execute_chapters("ci", root=tmp_path, results_dir=tmp_path / "res", jobs=1, progress=False)
    assert seen == ["off", "off"] and pd.read_csv(tmp_path / "res" / TIMINGS_FILE).cores.tolist()[-2:] == [0, 0]
