"""The shape of the pvq package, read from its source with ``ast`` (nothing is imported).

- layering: common (0) < core (1) < analytic, tensors (2) < formats (3) < layerwise, finetune (4) < book (5); a module
  imports (at module or function level, absolutely or relatively) only from its own subpackage or a
  strictly lower one; ``pvq/__init__.py`` and ``pvq/__main__.py`` sit outside the layers;
- no import cycle among modules (a package ``__init__`` re-exporting its modules is not one);
- no ``from pvq.x import _private`` across modules;
- inside pvq, names come from the module that defines them, never through a package ``__init__``;
- every module has a docstring and an ``__all__`` whose names exist;
- each subpackage ``__init__`` re-exports exactly the union of its modules' ``__all__`` (two modules
  deliberately not: :data:`NOT_REEXPORTED`).

The checks are plain functions of the parsed sources, so the tests at the bottom feed them small
synthetic packages and show that each one reports what it must.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from .conftest import ROOT

#: Rank of each subpackage: a module may import only from its own subpackage or a lower rank.
RANKS = {
    "common": 0,
    "core": 1,
    "analytic": 2,
    "tensors": 2,
    "formats": 3,
    "layerwise": 4,
    "finetune": 4,
    "book": 5,
}
#: Outside the layers: the package's public face and the ``python -m pvq`` shim.
EXEMPT = {"pvq", "pvq.__main__"}
#: Modules their subpackage's ``__init__`` deliberately does not re-export: the command line (an
#: entry point, not an API), and the runnable networks (they need torch; ``import pvq`` stays light).
NOT_REEXPORTED = {"pvq.book.cli": "the command line", "pvq.tensors.pretrained": "needs torch"}


@dataclass(frozen=True)
class Module:
    name: str
    source: str
    is_package: bool = False
    tree: ast.Module = field(init=False, compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "tree", ast.parse(self.source))


@dataclass(frozen=True)
class Import:
    """One ``import``/``from … import`` statement of a pvq module, resolved."""

    module: str  # the importing module
    target: str  # the module or package named in the statement
    names: tuple[str, ...]  # the names imported (``from``), empty for ``import``
    dests: tuple[str, ...]  # the pvq modules it loads names from (a submodule imported by name is its own dest)
    line: int
    text: str

    def where(self) -> str:
        return f"{self.module} line {self.line}: `{self.text}`"


def read_package(root: Path) -> dict[str, Module]:
    """Every ``.py`` file under ``root/pvq`` as a :class:`Module`, by dotted name."""
    mods = {}
    for f in sorted((root / "pvq").rglob("*.py")):
        name = ".".join(f.with_suffix("").relative_to(root).parts).removesuffix(".__init__")
        mods[name] = Module(name, f.read_text(encoding="utf-8"), f.name == "__init__.py")
    return mods


def find_imports(mods: dict[str, Module]) -> list[Import]:
    """Every import of a pvq module by a pvq module (module- and function-level, absolute or relative)."""
    out = []
    for m in mods.values():
        for node in ast.walk(m.tree):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = m.name.split(".") if m.is_package else m.name.split(".")[:-1]
                    base = base[: len(base) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target != "pvq" and not target.startswith("pvq."):
                    continue
                names = tuple(a.name for a in node.names)
                dests = tuple(dict.fromkeys(f"{target}.{n}" if f"{target}.{n}" in mods else target for n in names))
            elif isinstance(node, ast.Import):
                names = ()
                dests = tuple(a.name for a in node.names if a.name == "pvq" or a.name.startswith("pvq."))
                if not dests:
                    continue
                target = dests[0]
            else:
                continue
            out.append(Import(m.name, target, names, dests, node.lineno, ast.unparse(node)))
    return out


def subpackage(module: str) -> str | None:
    """``'core'`` for ``pvq.core`` and ``pvq.core.quantization``; ``None`` for the top-level package."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def layering_violations(imports: list[Import], mods: dict[str, Module]) -> list[str]:
    problems = []
    for m in mods:
        if m not in EXEMPT and subpackage(m) not in RANKS:
            problems.append(f"{m} is in no layer (subpackages: {sorted(RANKS)})")
    for imp in imports:
        if imp.module in EXEMPT:
            continue
        own = subpackage(imp.module)
        if own not in RANKS:
            continue  # reported above
        for dest in imp.dests:
            other = subpackage(dest)
            if other == own or (other in RANKS and RANKS[other] < RANKS[own]):
                continue
            rank = RANKS.get(other, "outside the layers")
            problems.append(f"{imp.where()} imports {dest} ({other}: rank {rank}) from {own} (rank {RANKS[own]})")
    return problems


def import_graph(imports: list[Import], mods: dict[str, Module]) -> dict[str, set[str]]:
    graph = {m: set() for m in mods}
    for imp in imports:
        graph[imp.module] |= {d for d in imp.dests if d in mods and d != imp.module}
    return graph


def import_cycles(graph: dict[str, set[str]], packages: set[str]) -> list[list[str]]:
    """Strongly connected groups of the graph with more than one module besides package ``__init__`` files."""
    index, low, stack, on, sccs = {}, {}, [], set(), []

    def strong(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(set(comp) - packages) > 1:
                sccs.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return sccs


def describe_cycle(cycle: list[str], imports: list[Import]) -> str:
    members = set(cycle)
    lines = [imp.where() for imp in imports if imp.module in members and members & set(imp.dests) - {imp.module}]
    return f"import cycle among {cycle}:\n    " + "\n    ".join(lines)


def private_imports(imports: list[Import], mods: dict[str, Module]) -> list[str]:
    return [
        f"{imp.where()} imports the private name {name} of {imp.target}"
        for imp in imports
        for name in imp.names
        if name.startswith("_")
        and not name.startswith("__")
        and f"{imp.target}.{name}" not in mods
        and imp.target != imp.module
    ]


def imports_through_packages(imports: list[Import], mods: dict[str, Module]) -> list[str]:
    """Names taken from a package ``__init__`` instead of from the module that defines them."""
    return [
        f"{imp.where()} takes names from the package {dest} (its __init__); import them from the defining module"
        for imp in imports
        for dest in imp.dests
        if dest in mods and mods[dest].is_package and dest != imp.module
    ]


def _bound_names(body) -> set[str]:
    """Names bound at module level (descending into if/try/with blocks)."""
    names = set()
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                names |= {n.id for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.If | ast.Try | ast.With | ast.For):
            for part in ("body", "orelse", "finalbody", "handlers"):
                names |= _bound_names(getattr(node, part, []) or [])
        elif isinstance(node, ast.ExceptHandler):
            names |= _bound_names(node.body)
    return names


def declared_all(m: Module) -> list[str] | None:
    """The literal ``__all__`` of a module, or ``None`` when it has none."""
    for node in m.tree.body:
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
            return list(ast.literal_eval(node.value))
    return None


def module_api_problems(m: Module) -> list[str]:
    problems = []
    if not ast.get_docstring(m.tree):
        problems.append(f"{m.name} has no docstring")
    names = declared_all(m)
    if names is None:
        problems.append(f"{m.name} has no __all__")
        return problems
    bound = _bound_names(m.tree.body)
    problems += [f"{m.name}.__all__ names {n!r}, which the module does not define" for n in names if n not in bound]
    if len(set(names)) != len(names):
        problems.append(f"{m.name}.__all__ repeats names: {sorted({n for n in names if names.count(n) > 1})}")
    return problems


def _top_level_imports(tree: ast.Module) -> list[ast.stmt]:
    """The statements of a module's top level, with those of its ``if TYPE_CHECKING:`` blocks (lazy re-exports)."""
    out = []
    for node in tree.body:
        lazy = isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"
        out += node.body if lazy else [node]
    return out


def reexport_problems(package: str, mods: dict[str, Module]) -> list[str]:
    """The subpackage ``__init__`` re-exports exactly its modules' ``__all__``, each from its defining module."""
    init = mods[package]
    members = sorted(m for m in mods if m.rsplit(".", 1)[0] == package and m != package and not mods[m].is_package)
    exported = {m: declared_all(mods[m]) or [] for m in members if m not in NOT_REEXPORTED}
    owner = {}
    problems = []
    for m, names in exported.items():
        for n in names:
            if n in owner:
                problems.append(f"{n!r} is in the __all__ of both {owner[n]} and {m}")
            owner.setdefault(n, m)
    init_all = declared_all(init) or []
    missing = sorted(set(owner) - set(init_all))
    extra = sorted(set(init_all) - set(owner))
    if missing:
        problems.append(
            f"{package}/__init__.py does not re-export {missing} (in {sorted({owner[n] for n in missing})})"
        )
    if extra:
        problems.append(f"{package}/__init__.py exports {extra}, in no module's __all__")
    imported = {}  # name -> module it is imported from in the __init__ (at the top, or under `if TYPE_CHECKING:`)
    for node in _top_level_imports(init.tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            source = f"{package}.{node.module}"
            for a in node.names:
                imported[a.asname or a.name] = source
                if source in NOT_REEXPORTED:
                    problems.append(f"{package}/__init__.py imports {a.name} from {source} ({NOT_REEXPORTED[source]})")
    for n in init_all:
        if n in owner and imported.get(n) != owner[n]:
            problems.append(f"{package}/__init__.py exports {n!r} but does not import it from {owner[n]}")
    return problems


# -- the package as it is ---------------------------------------------------------------------------------

MODS = read_package(ROOT)
IMPORTS = find_imports(MODS)
PACKAGES = sorted(m for m, mod in MODS.items() if mod.is_package and m != "pvq")


def test_the_package_is_read():
    assert set(PACKAGES) == {f"pvq.{p}" for p in RANKS}
    assert len(MODS) > 40 and len(IMPORTS) > 100
    assert {"pvq.core.quantization", "pvq.book.cli", "pvq.tensors.pretrained"} <= set(MODS)


def test_layering():
    problems = layering_violations(IMPORTS, MODS)
    assert not problems, "imports against the layering:\n" + "\n".join(problems)


def test_no_import_cycles():
    cycles = import_cycles(import_graph(IMPORTS, MODS), set(PACKAGES) | {"pvq"})
    assert not cycles, "\n".join(describe_cycle(c, IMPORTS) for c in cycles)


def test_no_private_imports_across_modules():
    problems = private_imports(IMPORTS, MODS)
    assert not problems, "\n".join(problems)


def test_names_come_from_their_defining_module():
    problems = imports_through_packages(IMPORTS, MODS)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "name",
    sorted(set(MODS) - {"pvq.__main__"}),
)
def test_module_has_a_docstring_and_an_all(name):
    problems = module_api_problems(MODS[name])
    assert not problems, "\n".join(problems)


def test_main_shim_has_a_docstring():
    assert ast.get_docstring(MODS["pvq.__main__"].tree)  # a script, not an API: no __all__ asked


@pytest.mark.parametrize("package", PACKAGES)
def test_subpackage_reexports_exactly_its_modules(package):
    problems = reexport_problems(package, MODS)
    assert not problems, "\n".join(problems)


def test_the_exceptions_are_real():
    for name in NOT_REEXPORTED:
        assert name in MODS and not MODS[name].is_package, f"{name} is listed in NOT_REEXPORTED but does not exist"
    assert "torch" in MODS["pvq.tensors.pretrained"].source


def test_import_pvq_stays_light():
    import subprocess
    import sys

    code = "import sys, pvq, pvq.common, pvq.core, pvq.analytic, pvq.tensors; print('torch' in sys.modules)"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False", "importing pvq's light layers imported torch"


# -- each check can fail --------------------------------------------------------------------------------


def synthetic(sources: dict[str, str]) -> dict[str, Module]:
    """A small package from ``{dotted name: source}``; a name with modules below it is a package."""
    return {
        name: Module(name, '"""Doc."""\n' + src, any(other.startswith(name + ".") for other in sources))
        for name, src in sources.items()
    }


def test_an_upward_import_is_reported():
    mods = synthetic(
        {
            "pvq.core": "from .q import f\n__all__ = ['f']",
            "pvq.core.q": "__all__ = ['f']\ndef f():\n    from ..book.p import g\n    return g",
            "pvq.book": "from .p import g\n__all__ = ['g']",
            "pvq.book.p": "from ..core.q import f\n__all__ = ['g']\ng = f",
        }
    )
    problems = layering_violations(find_imports(mods), mods)
    assert problems == [
        "pvq.core.q line 4: `from ..book.p import g` imports pvq.book.p (book: rank 5) from core (rank 1)"
    ]


def test_sideways_imports_between_equal_ranks_are_reported():
    mods = synthetic(
        {
            "pvq.analytic.a": "import pvq.tensors.t\n__all__ = []",
            "pvq.tensors.t": "from pvq.analytic.a import x\n__all__ = []",
            "pvq.stray": "__all__ = []",
        }
    )
    problems = layering_violations(find_imports(mods), mods)
    assert "pvq.stray is in no layer" in problems[0]
    assert any(p.startswith("pvq.analytic.a line 2: `import pvq.tensors.t`") for p in problems)
    assert any(p.startswith("pvq.tensors.t line 2: `from pvq.analytic.a import x`") for p in problems)
    mods = synthetic({"pvq.common.c": "from ..__main__ import main\n__all__ = []", "pvq.__main__": "main = 1"})
    assert "imports pvq.__main__" in layering_violations(find_imports(mods), mods)[0]


def test_a_cycle_is_reported_but_not_a_reexport():
    mods = synthetic(
        {
            "pvq.core": "from .a import f\nfrom .b import g\n__all__ = ['f', 'g']",
            "pvq.core.a": "from .b import g\n__all__ = ['f']\nf = 1",
            "pvq.core.b": "__all__ = ['g']\ndef g():\n    from .a import f\n    return f",
        }
    )
    imports = find_imports(mods)
    cycles = import_cycles(import_graph(imports, mods), {"pvq.core"})
    assert cycles == [["pvq.core.a", "pvq.core.b"]]
    text = describe_cycle(cycles[0], imports)
    assert "pvq.core.a line 2: `from .b import g`" in text and "pvq.core.b line 4: `from .a import f`" in text
    acyclic = synthetic(
        {
            "pvq.core": "from .a import f\n__all__ = ['f']",
            "pvq.core.a": "from . import b\n__all__ = ['f']\nf = 1",  # a submodule imported by name: no cycle
            "pvq.core.b": "__all__ = []",
        }
    )
    assert import_cycles(import_graph(find_imports(acyclic), acyclic), {"pvq.core"}) == []


def test_a_private_import_is_reported():
    mods = synthetic(
        {
            "pvq.core.a": "__all__ = []\n_helper = 1\n__version__ = 2",
            "pvq.core.b": "from .a import _helper, __version__\n__all__ = []",
            "pvq.core._c": "__all__ = []",
            "pvq.core.d": "from . import _c\n__all__ = []",
        }
    )
    assert private_imports(find_imports(mods), mods) == [
        "pvq.core.b line 2: `from .a import _helper, __version__` imports the private name _helper of pvq.core.a"
    ]


def test_an_import_through_a_package_init_is_reported():
    mods = synthetic(
        {
            "pvq.core": "from .q import quantize\n__all__ = ['quantize']",
            "pvq.core.q": "__all__ = ['quantize']\nquantize = 1",
            "pvq.book.p": "from ..core import quantize\nfrom ..core.q import quantize as q\n"
            "from ..core import q as module\nimport pvq.core\n__all__ = []",
        }
    )
    problems = imports_through_packages(find_imports(mods), mods)
    assert problems == [
        "pvq.book.p line 2: `from ..core import quantize` takes names from the package pvq.core (its __init__); "
        "import them from the defining module",
        "pvq.book.p line 5: `import pvq.core` takes names from the package pvq.core (its __init__); "
        "import them from the defining module",
    ]


def test_missing_docstring_all_and_names_are_reported():
    bad = Module("pvq.core.x", "import numpy as np\n__all__ = ['f', 'g', 'f', 'np']\ndef f(): pass")
    assert module_api_problems(bad) == [
        "pvq.core.x has no docstring",
        "pvq.core.x.__all__ names 'g', which the module does not define",
        "pvq.core.x.__all__ repeats names: ['f']",
    ]
    assert module_api_problems(Module("pvq.core.y", '"""Doc."""\nx = 1')) == ["pvq.core.y has no __all__"]
    ok = Module(
        "pvq.core.z", '"""Doc."""\n__all__: list = ["A", "B"]\nif True:\n    A = 1\nelse:\n    A = 2\nB: int = 3'
    )
    assert module_api_problems(ok) == []


def test_reexport_problems_are_reported():
    mods = synthetic(
        {
            "pvq.book": "from .a import f\nfrom .b import h\nfrom .cli import main\n__all__ = ['f', 'h', 'k']",
            "pvq.book.a": "__all__ = ['f', 'g']\nf = g = 1",
            "pvq.book.b": "from .a import f as h\n__all__ = ['h2']\nh2 = 1",
            "pvq.book.cli": "__all__ = ['main']\nmain = 1",
        }
    )
    problems = reexport_problems("pvq.book", mods)
    assert "pvq.book/__init__.py does not re-export ['g', 'h2'] (in ['pvq.book.a', 'pvq.book.b'])" in problems
    assert "pvq.book/__init__.py exports ['h', 'k'], in no module's __all__" in problems
    assert "pvq.book/__init__.py imports main from pvq.book.cli (the command line)" in problems
    good = synthetic({
        "pvq.book": "from .a import f, g\n__all__ = ['f', 'g']", "pvq.book.a": "__all__ = ['f', 'g']\nf = g = 1",
        "pvq.book.cli": "__all__ = ['main']\nmain = 1",
    })  # fmt: skip
    assert reexport_problems("pvq.book", good) == []
    wrong_source = synthetic(
        {
            "pvq.core": "from .a import f\nfrom .a import g\n__all__ = ['f', 'g']",
            "pvq.core.a": "from .b import g\n__all__ = ['f']\nf = 1",
            "pvq.core.b": "__all__ = ['g']\ng = 1",
        }
    )
    assert reexport_problems("pvq.core", wrong_source) == [
        "pvq.core/__init__.py exports 'g' but does not import it from pvq.core.b"
    ]


def data_comment_type_lines(text: str) -> list[str]:
    """First lines of ``#:`` data comments that Sphinx's napoleon would read as ``type: description``.

    A ``#:`` block documents the assignment below it. When that assignment is public and carries no
    annotation, and the block's first line holds ``": "`` with no back-quoted markup before it,
    napoleon takes the words before the colon as a type and the strict build fails on the
    unresolvable reference (an annotated or private name is not affected).
    """
    bad, first = [], None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            first = first or stripped
            continue
        if first is not None and re.match(r"[A-Za-z][A-Za-z0-9_]*\s*=", stripped):
            head = first[2:].split(": ", 1)
            if len(head) == 2 and "`" not in head[0]:
                bad.append(first)
        first = None
    return bad


def test_data_comments_do_not_read_as_types():
    found = {
        p.relative_to(ROOT).as_posix(): data_comment_type_lines(p.read_text()) for p in (ROOT / "pvq").rglob("*.py")
    }
    assert {k: v for k, v in found.items() if v} == {}


def test_a_data_comment_read_as_a_type_is_reported():
    assert data_comment_type_lines("#: What it says: more.\n#: second: fine\nX = 1\n") == ["#: What it says: more."]
    assert data_comment_type_lines("#: ``{n: share}`` per bit-width\nX = 1\n") == []
    assert data_comment_type_lines("#: Formats (:func:`f`): dB.\nX = 1\n") == []  # markup before the colon
    assert data_comment_type_lines("#: What it says: more.\nX: dict = {}\n") == []  # annotated
    assert data_comment_type_lines("#: What it says: more.\n_X = 1\n") == []  # private, not documented
    assert data_comment_type_lines("x = 1  # not a data comment: fine\n") == []


# A Sphinx cross-reference to a private name (:func:`_x`, :data:`~pvq.a._X`) is never documented,
# so the strict build fails on it.
PRIVATE_REF = re.compile(r":(?:func|meth|class|data|attr|mod|obj):`~?(?:[\w.]*\.)?_[A-Za-z]\w*`")


def private_references(text: str) -> list[str]:
    """The cross-references to private names in a module's source (docstrings and ``#:`` comments)."""
    return PRIVATE_REF.findall(text)


def test_docstrings_do_not_reference_private_names():
    found = {p.relative_to(ROOT).as_posix(): private_references(p.read_text()) for p in (ROOT / "pvq").rglob("*.py")}
    assert {k: v for k, v in found.items() if v} == {}


def test_a_private_reference_is_reported():
    assert private_references("see :func:`_from_text` and :data:`~pvq.a._X`") == [
        ":func:`_from_text`",
        ":data:`~pvq.a._X`",
    ]
    assert private_references(":func:`pvq.book.params.field_meanings`, :meth:`to_frame`, ``_x``") == []
