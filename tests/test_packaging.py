"""The distribution ships every subpackage (a plain ``pip install .``, not only the editable install)."""

import tomllib
from pathlib import Path

from setuptools import find_packages

ROOT = Path(__file__).resolve().parents[1]


def test_every_subpackage_is_packaged():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packaged = set(find_packages(where=str(ROOT), include=config["include"]))
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "pvq").rglob("__init__.py")}
    assert on_disk <= packaged, f"not packaged: {sorted(on_disk - packaged)}"
    assert {"pvq", "pvq.core", "pvq.book"} <= on_disk


def test_the_released_data_is_package_data():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "released/*" in config["pvq.tensors"]
    shipped = {p.name for p in (ROOT / "pvq" / "tensors" / "released").iterdir()}
    assert {"weights_sqnr.csv.gz", "LICENSE", "PROVENANCE.md"} <= shipped
