"""Package namespaces that import a module only when one of its names is first used (PEP 562).

A package ``__init__`` lists its re-exports as plain ``from .module import name`` statements
under ``if TYPE_CHECKING:``, so that readers, type checkers, linters and the architecture test
see them as they are, and ends with::

    __getattr__, __dir__ = lazy_exports(__name__, __file__)

At run time nothing is imported until a name is asked for: ``import pvq.book.publish`` then
costs the modules ``publish`` needs, not every module of :mod:`pvq.book` (torch, the runner,
Chromium's helpers), which is what a chapter's kernel or ``python -m pvq --help`` waited for.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path

__all__ = ["lazy_exports"]


def lazy_exports(package: str, init_file: str) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for the package ``package`` whose ``__init__`` is ``init_file``.

    Every ``from .module import name`` of the ``__init__`` (at any depth, e.g. under
    ``if TYPE_CHECKING:``) maps ``name`` to ``package.module``; asking the package for ``name``
    imports that module, binds the name in the package (later lookups are plain attribute reads)
    and returns it. Any other name raises :class:`AttributeError`, as an ordinary module does,
    so ``from package import submodule`` still falls back to importing the submodule.

    Parameters
    ----------
    package : str
        The package's dotted name (the ``__init__``'s ``__name__``).
    init_file : str
        Path of the ``__init__`` (its ``__file__``), read once.
    """
    where = {}
    for node in ast.walk(ast.parse(Path(init_file).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            for alias in node.names:
                where[alias.asname or alias.name] = (f"{package}.{node.module}", alias.name)

    def __getattr__(name: str) -> object:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, original = where[name]
        value = getattr(importlib.import_module(module), original)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__
