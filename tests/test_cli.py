import subprocess
import sys

from .conftest import ROOT


def run(*args):
    return subprocess.run([sys.executable, "-m", "pvq", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def test_unknown_parameter_is_refused_before_running():
    r = run("run-notebooks", "--profile", "ci", "-p", "n_bitz=[2]", "--no-progress")
    assert r.returncode == 2
    assert "unknown parameter(s) ['n_bitz']" in r.stderr


def test_unknown_chapter():
    r = run("run-notebooks", "--only", "42", "--no-progress")
    assert r.returncode == 2 and "unknown chapter(s) ['42']" in r.stderr


def test_unknown_profile():
    r = run("run-notebooks", "--profile", "fast")
    assert r.returncode == 2 and "invalid choice: 'fast'" in r.stderr


def test_help():
    r = run("run-notebooks", "--help")
    assert r.returncode == 0 and "--profile" in r.stdout
