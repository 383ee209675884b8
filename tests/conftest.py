from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def results_tmp(tmp_path, monkeypatch):
    """Send every result written during a test to a temporary folder."""
    monkeypatch.setenv("PVQ_RESULTS_DIR", str(tmp_path / "results"))
    return tmp_path / "results"


#: The two ci book builds of the suite: the session's own (``book/conftest.py``, built by the first test
#: that asks for it) and the one killed and resumed by ``test_rebuilds.py``. They run first, one per worker.
BUILDS = (
    "tests/book/test_chapters.py::test_every_chapter_ran",
    "tests/book/test_rebuilds.py::test_a_killed_build_runs_again_to_the_same_results",
)


def run_order(items: list) -> list:
    """The suite's order: the two book builds, then the ``slow`` tests, the ``process`` tests, the rest.

    Longest first, so that under pytest-xdist (``make test``: two workers, ``--maxschedchunk 2``) no
    worker is left with a long test at the end, and the short unit tests fill the gaps. xdist hands
    each worker two tests at the start, in this order, then two more whenever it runs low: the two
    builds are placed first and third, so that they start at once on different workers. Otherwise
    the order within each kind is pytest's.
    """
    builds = [i for name in BUILDS for i in items if i.nodeid == name]
    rest = [i for i in items if i not in builds]
    rank = {"slow": 0, "process": 1}
    rest.sort(key=lambda i: min([rank[m.name] for m in i.iter_markers() if m.name in rank], default=2))
    if len(builds) == 2 and rest:
        return [builds[0], rest[0], builds[1], *rest[1:]]
    return builds + rest


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    items[:] = run_order(items)
