"""The book as one PDF: printing a page offline in Debian's Chromium, the placeholder, shipping it.

The real book's PDF (every chapter in it) is checked by ``tests/book/test_chapters.py`` (slow).
"""

import io
import shutil
import struct
import zlib
from pathlib import Path

import pypdf
import pytest

from pvq.book.cli import main
from pvq.book.pdf import PDF_NAME, build_pdf, find_chromium, placeholder_pdf, print_pdf, ship_pdf

PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>tiny</title></head><body>
<h1>First chapter</h1><p>Quantization beats pruning at equal bits.</p><img src="{img}" alt="dot" width="40">
<h1 style="break-before: page">Second chapter</h1><p>Except for heavy tails.</p>
</body></html>"""


def _png(path):
    """A 2x2 red PNG written by hand (no imaging library needed)."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )
    return path


def _outline(reader):
    titles = []
    for item in reader.outline:
        titles += [t.title for t in item] if isinstance(item, list) else [item.title]
    return titles


@pytest.mark.process
def test_print_pdf_prints_a_page_with_its_image_and_a_bookmark_per_heading(tmp_path):
    _png(tmp_path / "dot.png")
    (tmp_path / "page.html").write_text(PAGE.format(img="dot.png"))
    out = print_pdf(tmp_path / "page.html", tmp_path / "out" / "book.pdf")
    assert out.read_bytes().startswith(b"%PDF-")
    reader = pypdf.PdfReader(out)
    assert len(reader.pages) == 2  # the page break before the second chapter
    assert _outline(reader) == ["First chapter", "Second chapter"]
    first, second = (page.extract_text() for page in reader.pages)
    assert "Quantization beats pruning" in first and "1 / 2" in first  # page numbers in the footer
    assert "heavy tails" in second and "2 / 2" in second
    assert [x.name for x in (tmp_path / "out").iterdir()] == ["book.pdf"]  # written atomically, nothing left over


@pytest.mark.process
def test_print_pdf_refuses_a_page_with_a_missing_image(tmp_path):
    (tmp_path / "page.html").write_text(PAGE.format(img="missing.png"))
    with pytest.raises(RuntimeError, match=r"1 images did not load.*missing\.png"):
        print_pdf(tmp_path / "page.html", tmp_path / "book.pdf")
    assert not (tmp_path / "book.pdf").exists()


@pytest.mark.process
def test_print_pdf_refuses_untypeset_maths(tmp_path):
    """A page whose formulas MathJax never typesets (here: no MathJax at all) is not printed."""
    (tmp_path / "page.html").write_text('<html><body><span class="math notranslate">\\(x^2\\)</span></body></html>')
    with pytest.raises(RuntimeError, match="MathJax left 1 formulas untypeset"):
        print_pdf(tmp_path / "page.html", tmp_path / "book.pdf", timeout_s=1)
    assert not (tmp_path / "book.pdf").exists()


def test_print_pdf_checks_its_arguments_first(tmp_path):
    (tmp_path / "page.html").write_text("<html></html>")
    with pytest.raises(ValueError, match=r"html must be an existing \.html file"):
        print_pdf(tmp_path / "nowhere.html", tmp_path / "book.pdf")
    with pytest.raises(ValueError, match=r"out must be a \.pdf file"):
        print_pdf(tmp_path / "page.html", tmp_path / "book.png")
    with pytest.raises(ValueError, match="timeout_s must be positive"):
        print_pdf(tmp_path / "page.html", tmp_path / "book.pdf", timeout_s=0)


def test_find_chromium(monkeypatch, tmp_path):
    debian = shutil.which("chromium")
    monkeypatch.setenv("PVQ_CHROMIUM", str(tmp_path / "no-browser"))
    with pytest.raises(FileNotFoundError, match="PVQ_CHROMIUM"):
        find_chromium()
    monkeypatch.delenv("PVQ_CHROMIUM")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="apt-get install chromium"):
        find_chromium()
    monkeypatch.setenv("PATH", str(Path(debian).parent))
    assert find_chromium() == str(Path(debian).parent / "chromium")


def test_the_placeholder_is_a_valid_one_page_pdf():
    lines = ["Run make pdf", "", "odd (chars) \\ here"]
    reader = pypdf.PdfReader(io.BytesIO(placeholder_pdf(lines)), strict=True)  # strict: the xref table is exact
    assert len(reader.pages) == 1
    assert reader.pages[0].extract_text().splitlines() == ["Run make pdf", "odd (chars) \\ here"]
    with pytest.raises(ValueError, match="printable ASCII"):
        placeholder_pdf(["naïve"])


def test_ship_pdf(tmp_path):
    html, printed = tmp_path / "_build" / "html", tmp_path / "_build" / "pdf" / PDF_NAME
    html.mkdir(parents=True)
    target = ship_pdf(html)  # nothing printed yet: a placeholder, so the intro's link resolves
    assert target == html / PDF_NAME and "make pdf" in pypdf.PdfReader(target).pages[0].extract_text()
    printed.parent.mkdir()
    printed.write_bytes(placeholder_pdf(["the real book"]))
    assert "the real book" in pypdf.PdfReader(ship_pdf(html)).pages[0].extract_text()  # the printed one replaces it
    printed.write_bytes(placeholder_pdf(["printed again"]))
    assert "printed again" in pypdf.PdfReader(ship_pdf(html)).pages[0].extract_text()  # and follows a reprint
    printed.unlink()
    assert "printed again" in pypdf.PdfReader(ship_pdf(html)).pages[0].extract_text()  # a site keeps what it has


def test_build_pdf_needs_the_executed_chapters(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no _toc\.yml"):
        build_pdf(tmp_path)
    (tmp_path / "_toc.yml").write_text("root: book/intro\n")
    (tmp_path / "notebooks").mkdir()
    for stem in ("01_a", "02_b"):
        (tmp_path / "notebooks" / f"{stem}.py").write_text("# %%\n")
    (tmp_path / "book" / "chapters").mkdir(parents=True)
    (tmp_path / "book" / "chapters" / "01_a.ipynb").write_text("{}")
    with pytest.raises(FileNotFoundError, match=r"chapters not executed yet: 02_b; run `make book`"):
        build_pdf(tmp_path)


def test_the_pdf_command_reports_what_is_missing(tmp_path, monkeypatch, capsys):
    (tmp_path / "_toc.yml").write_text("root: book/intro\n")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_a.py").write_text("# %%\n")
    monkeypatch.chdir(tmp_path)
    assert main(["pdf"]) == 2
    assert "pvq pdf: error: chapters not executed yet: 01_a" in capsys.readouterr().err
