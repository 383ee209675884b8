from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def results_tmp(tmp_path, monkeypatch):
    """Send every result written during a test to a temporary folder."""
    monkeypatch.setenv("PVQ_RESULTS_DIR", str(tmp_path / "results"))
    return tmp_path / "results"
