from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def results_tmp(tmp_path, monkeypatch):
    """Send every result written during a test to a temporary folder."""
    monkeypatch.setenv("PVQ_RESULTS_DIR", str(tmp_path / "results"))
    return tmp_path / "results"


#: The two ci book builds of the suite: the session's own (``book/conftest.py``, built by the first test
#: that asks for it) and the one killed and resumed by ``test_rebuilds.py`` (:func:`run_order` places them).
BUILDS = (
    "tests/book/test_chapters.py::test_every_chapter_ran",
    "tests/book/test_rebuilds.py::test_a_killed_build_runs_again_to_the_same_results",
)


def run_order(items: list) -> list:
    """The suite's order: the session's book build, the unit tests, the killed-build test, the ``slow`` tests,
    the ``process`` tests.

    Under pytest-xdist (``make test``: two workers, ``--maxschedchunk 2``) xdist hands each worker
    two tests at the start, in this order, then two more whenever it runs low. One worker builds the
    session's book (``book/conftest.py``, minutes of chapters on both cores, but with stretches on
    one: a chapter alone at the end of its lane, the Claims page, the Sphinx build); the other runs
    the unit tests beside it, on what the build leaves free, instead of waiting for the book. The
    killed-build test comes next (it starts from the session's book: it waits for it, or finds it
    built), then the ``slow`` tests that read the book, longest first, and the ``process`` tests fill
    in to the end. Otherwise the order within each kind is pytest's.
    """
    builds = [i for name in BUILDS for i in items if i.nodeid == name]
    rest = [i for i in items if i not in builds]
    rank = {"slow": 1, "process": 2}
    rest.sort(key=lambda i: min([rank[m.name] for m in i.iter_markers() if m.name in rank], default=0))
    if len(builds) == 2:
        units = [i for i in rest if not any(m.name in rank for m in i.iter_markers())]
        others = [i for i in rest if i not in set(units)]
        return [builds[0], *units, builds[1], *others]
    return builds + rest


def pytest_collection_modifyitems(config, items):
    items[:] = run_order(items)
