"""Atomic writes and defensive JSON reads (every result, figure and cache entry goes through them)."""

import errno
import json
import os
from pathlib import Path

import pytest

from pvq.common.files import atomic_write, read_json


def test_atomic_write_creates_folders_and_returns_the_path(tmp_path):
    target = tmp_path / "a" / "b" / "t.txt"
    assert atomic_write(target, lambda p: p.write_text("new")) == target
    assert target.read_text() == "new"
    atomic_write(target, lambda p: p.write_text("newer"))  # replaces an existing file
    assert target.read_text() == "newer"
    assert [p.name for p in target.parent.iterdir()] == ["t.txt"]


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


def test_interrupt_leaves_nothing_behind(tmp_path):
    def interrupted(p):
        p.write_text("half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(tmp_path / "y.csv", interrupted)
    assert list(tmp_path.iterdir()) == []


def test_written_file_gets_the_usual_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "y.csv", lambda p: p.write_text("a"))
        os.umask(0o077)
        private = atomic_write(tmp_path / "z.csv", lambda p: p.write_text("a"))
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    assert private.stat().st_mode & 0o777 == 0o600


def test_read_json(tmp_path):
    assert read_json(tmp_path / "missing.json") is None
    (tmp_path / "corrupt.json").write_text('{"key": "trunc')
    assert read_json(tmp_path / "corrupt.json") is None
    (tmp_path / "binary.json").write_bytes(b"\xff\xfe\x00garbage")
    assert read_json(tmp_path / "binary.json") is None
    assert read_json(tmp_path) is None  # a folder is not a JSON file
    value = {"a": [1, 2.5, None], "b": {"c": "ü"}}
    (tmp_path / "ok.json").write_text(json.dumps(value))
    assert read_json(tmp_path / "ok.json") == value
    (tmp_path / "list.json").write_text("[1, 2]")
    assert read_json(str(tmp_path / "list.json")) == [1, 2]  # any JSON value, any path-like


def test_check_writable_folder_creates_nothing_and_names_the_obstacle(tmp_path, monkeypatch):
    from pvq.common.files import check_writable_folder

    target = tmp_path / "a" / "b"
    assert check_writable_folder(target) == target and not (tmp_path / "a").exists()
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(ValueError, match=r"output folder .*sub: .*file.txt is a file, not a folder"):
        check_writable_folder(tmp_path / "file.txt" / "sub")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]  # the probe file is gone
    if Path("/proc/self").is_dir():  # a pseudo file system refuses even root, whom os.access lets through
        with pytest.raises(ValueError, match=r"output folder /proc/pvq-out: no file can be created in /proc \("):
            check_writable_folder(Path("/proc/pvq-out"))

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr("tempfile.mkstemp", read_only)  # as a read-only disk answers
    with pytest.raises(
        ValueError, match=r"created in .* \(Read-only file system\); give a folder this user can write$"
    ):
        check_writable_folder(target)
