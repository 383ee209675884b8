import pandas as pd
import pytest

from pvq.publish import atomic_write, save_table


def test_save_table_goes_to_results_dir(results_tmp):
    path = save_table(pd.DataFrame({"a": [1, 2]}), "99_test", "t")
    assert path == results_tmp / "99_test" / "t.csv"
    assert pd.read_csv(path).a.tolist() == [1, 2]


def test_failed_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "x.csv"
    target.write_text("old")

    def broken(p):
        p.write_text("half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        atomic_write(target, broken)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.csv"]  # no temporary file left behind


def test_written_file_gets_the_usual_permissions(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "y.csv", lambda p: p.write_text("a"))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
