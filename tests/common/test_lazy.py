"""Lazy re-exports: a package's names import their module on first use, and only then."""

import subprocess
import sys

import pytest

INIT = '''"""A package with lazy re-exports."""
from typing import TYPE_CHECKING

from pvq.common.lazy import lazy_exports

if TYPE_CHECKING:
    from .heavy import VALUE, compute
    from .other import name as alias

__getattr__, __dir__ = lazy_exports(__name__, __file__)
__all__ = ["VALUE", "alias", "compute"]
'''


@pytest.fixture
def package(tmp_path, monkeypatch):
    pkg = tmp_path / "lazypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(INIT)
    (pkg / "heavy.py").write_text("import sys\nsys.heavy_imports = getattr(sys, 'heavy_imports', 0) + 1\n"
                                  "VALUE = 42\ndef compute():\n    return VALUE + 1\n")  # fmt: skip
    (pkg / "other.py").write_text("name = 'other'\n")
    (pkg / "plain.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "heavy_imports", 0, raising=False)
    yield
    for mod in [m for m in sys.modules if m == "lazypkg" or m.startswith("lazypkg.")]:
        del sys.modules[mod]


def test_a_name_imports_its_module_on_first_use_only(package):
    import lazypkg

    assert sys.heavy_imports == 0 and "lazypkg.heavy" not in sys.modules
    assert {"VALUE", "compute", "alias"} <= set(dir(lazypkg))
    assert lazypkg.VALUE == 42 and sys.heavy_imports == 1
    assert lazypkg.compute() == 43 and sys.heavy_imports == 1  # bound now: no second import
    assert "compute" in vars(lazypkg)
    assert lazypkg.alias == "other"  # `import name as alias`


def test_other_names_behave_as_in_an_ordinary_module(package):
    import lazypkg

    with pytest.raises(AttributeError, match="module 'lazypkg' has no attribute 'missing'"):
        lazypkg.missing  # noqa: B018
    from lazypkg import plain  # a submodule that is not a re-export is still importable

    assert plain.X == 1
    from lazypkg import VALUE

    assert VALUE == 42


@pytest.mark.process
def test_the_book_layer_imports_only_what_a_module_needs():
    """A chapter without networks (its imports as chapter 1 writes them) does not load torch."""
    code = (
        "import sys\nfrom pvq.analytic.accounting import storage_comparison\nfrom pvq.book.publish import Chapter\n"
        "from pvq.book.verdicts import check_c8_mask_cost\nimport pvq\nassert pvq.quantize\n"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
