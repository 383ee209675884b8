"""The whole book as one PDF, printed offline by headless Chromium (``make pdf``, ``python -m pvq pdf``).

Jupyter Book's own ``pdfhtml`` builder downloads a Chromium through pyppeteer, which an offline
machine cannot do. Instead, :func:`build_pdf` builds the book as one HTML page
(``jupyter-book build --builder singlehtml`` into ``_build/singlehtml``) and :func:`print_pdf`
opens it in Debian's Chromium through Playwright (the browser the book's tests use), waits until
MathJax has typeset every formula and every image has loaded, and prints it to
``_build/pdf/pvq-book.pdf`` with a bookmark per heading.

The PDF is served with the HTML book at its root, ``_build/html/pvq-book.pdf``, where the intro
links to it. This module is also a small Sphinx extension (listed in ``_config.yml``): after every
HTML build, :func:`ship_pdf` copies the printed PDF into the site or, when none has been printed
yet, writes a one-page placeholder that says how to print it, so the intro's link always resolves
(in the strict build, the browser check and a reader's browser alike).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from ..common.files import atomic_write
from ..common.paths import book_root, notebook_sources

__all__ = [
    "CHROMIUM_ARGS",
    "PDF_NAME",
    "build_pdf",
    "check_book_executed",
    "find_chromium",
    "placeholder_pdf",
    "print_pdf",
    "ship_pdf",
]

log = logging.getLogger(__name__)

#: File name of the printed book, in ``_build/pdf/`` and at the root of the HTML site.
PDF_NAME = "pvq-book.pdf"
#: Flags for Debian's headless Chromium (no sandbox for root in containers, no GPU, nothing fetched).
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
CHROMIUM_ENV = "PVQ_CHROMIUM"

# every element MathJax must typeset (Sphinx marks them ``math``) holds an mjx-container once done
_MATH_DONE = """() => Array.from(document.querySelectorAll('.math')).every(e => e.querySelector('mjx-container'))"""
_MATH_LEFT = (
    """() => Array.from(document.querySelectorAll(".math")).filter(e => !e.querySelector("mjx-container")).length"""
)
_SETTLE = """async () => {
  document.querySelectorAll('img[loading="lazy"]').forEach(i => { i.loading = 'eager'; });
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  await Promise.all(Array.from(document.images).filter(i => !i.complete)
    .map(i => new Promise(done => { i.addEventListener('load', done); i.addEventListener('error', done); })));
  if (document.fonts) { await document.fonts.ready; }
  return Array.from(document.images).filter(i => i.naturalWidth === 0).map(i => i.getAttribute('src'));
}"""
# in the single page, each document's section follows an empty <span id="document-...">
_PRINT_CSS = '<style>@media print { span[id^="document-"] + section { break-before: page; } }</style>'
_FOOTER = (
    '<div style="font-size:8px;width:100%;text-align:center;color:#555">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)


def find_chromium() -> str:
    """Path of the Chromium to print with: ``$PVQ_CHROMIUM``, else ``chromium`` on the PATH.

    Raises
    ------
    FileNotFoundError
        When there is none, with how to install it (``make pdf`` installs Debian's package as root).
    """
    named = os.environ.get(CHROMIUM_ENV)
    if named:
        if not Path(named).is_file():
            raise FileNotFoundError(f"{CHROMIUM_ENV}={named} is not a file")
        return named
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise FileNotFoundError(
        "no Chromium found: install Debian's package (sudo apt-get install chromium; `make pdf` does it "
        f"when run as root) or name a Chromium binary in ${CHROMIUM_ENV}"
    )


def print_pdf(
    html: Path,
    out: Path,
    *,
    chromium: str | None = None,
    timeout_s: float = 180.0,
    paper: str = "A4",
) -> Path:
    """Print the page ``html`` to the PDF ``out`` with headless Chromium, offline.

    The page is loaded from disk; printing waits until MathJax has typeset every ``.math`` element,
    every image has loaded and the fonts are ready. The PDF gets a bookmark per heading (its outline),
    tagged text and page numbers in the footer, and is written atomically.

    Parameters
    ----------
    html : Path
        An HTML file (e.g. ``_build/singlehtml/book/intro.html``).
    out : Path
        The PDF to write (``.pdf``).
    chromium : str, optional
        Chromium binary; default :func:`find_chromium`.
    timeout_s : float
        Longest wait for the page to load and for MathJax, in seconds.
    paper : str
        Paper size understood by Chromium (``A4``, ``Letter``, ...).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    ValueError
        ``html`` is not an existing ``.html`` file, ``out`` does not end in ``.pdf``, or ``timeout_s`` is not positive.
    RuntimeError
        Formulas left untypeset after ``timeout_s``, or images that did not load: the PDF would be wrong.
    """
    html, out = Path(html), Path(out)
    if html.suffix != ".html" or not html.is_file():
        raise ValueError(f"html must be an existing .html file, got {html}")
    if out.suffix != ".pdf":
        raise ValueError(f"out must be a .pdf file, got {out}")
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s}")
    binary = chromium or find_chromium()
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=binary, args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page()
            page.set_default_timeout(timeout_s * 1000)
            page.goto(html.resolve().as_uri(), wait_until="load")
            try:
                page.wait_for_function(_MATH_DONE, timeout=timeout_s * 1000)
            except PlaywrightTimeout:
                left = page.evaluate(_MATH_LEFT)
                raise RuntimeError(
                    f"{html}: MathJax left {left} formulas untypeset after {timeout_s:g} s "
                    "(is MathJax bundled? _config.yml loads sphinx-mathjax-offline)"
                ) from None
            broken = page.evaluate(_SETTLE)
            if broken:
                raise RuntimeError(f"{html}: {len(broken)} images did not load, e.g. {broken[:3]}")
            options = dict(
                format=paper,
                print_background=True,
                outline=True,
                tagged=True,
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=_FOOTER,
                margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"},
            )
            atomic_write(out, lambda tmp: page.pdf(path=str(tmp), **options))
        finally:
            browser.close()
    log.info("printed %s to %s (%d bytes)", html, out, out.stat().st_size)
    return out


def check_book_executed(root: Path | None = None) -> Path:
    """The book's root, once checked to hold every executed chapter (``book/chapters/<stem>.ipynb``).

    Raises
    ------
    FileNotFoundError
        No ``_toc.yml`` at ``root``, or chapters not executed yet (named, with the command to run).
    """
    root = book_root() if root is None else Path(root).resolve()
    if not (root / "_toc.yml").is_file():
        raise FileNotFoundError(f"no _toc.yml in {root}: root must be the book's root folder")
    missing = [s.stem for s in notebook_sources(root) if not (root / "book" / "chapters" / f"{s.stem}.ipynb").is_file()]
    if missing:
        raise FileNotFoundError(
            f"chapters not executed yet: {', '.join(missing)}; run `make book` (or `python -m pvq run-notebooks`) first"
        )
    return root


def build_pdf(
    root: Path | None = None,
    *,
    out: Path | None = None,
    chromium: str | None = None,
    strict: bool = True,
    timeout_s: float = 180.0,
) -> Path:
    """Build the book as one HTML page and print it: ``_build/pdf/pvq-book.pdf`` (``make pdf``).

    Needs the executed chapters in ``book/chapters/`` (``make book`` or ``python -m pvq
    run-notebooks``). The single page is built by ``jupyter-book build --builder singlehtml``
    (strict, like the HTML book, unless ``strict=False``) into ``_build/singlehtml``; it reuses the
    HTML build's parsed documents in ``_build/.doctrees``. The PDF is then copied to
    ``_build/html/pvq-book.pdf`` when the HTML book is there (:func:`ship_pdf`).

    Parameters
    ----------
    root : Path, optional
        The book's root (the folder with ``_toc.yml``); default :func:`~pvq.common.paths.book_root`.
    out : Path, optional
        The PDF to write; default ``<root>/_build/pdf/pvq-book.pdf``.
    chromium : str, optional
        Chromium binary; default :func:`find_chromium`.
    strict : bool
        Build with ``-W -n --keep-going`` (warnings are errors), as ``make book`` does.
    timeout_s : float
        Longest wait for the page and MathJax when printing, in seconds.

    Returns
    -------
    Path
        The PDF written.

    Raises
    ------
    FileNotFoundError
        No ``_toc.yml`` at ``root``, or a chapter has not been executed yet.
    RuntimeError
        The single-page build failed (its last output lines are in the message), or printing did.
    """
    root = check_book_executed(root)
    binary = chromium or find_chromium()  # before the build: a missing browser fails fast
    out = root / "_build" / "pdf" / PDF_NAME if out is None else Path(out)
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(root), "--builder", "singlehtml"]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    log.info("building the single-page book: %s", " ".join(command))
    build = subprocess.run(command, capture_output=True, text=True, check=False)
    if build.returncode != 0:
        raise RuntimeError(f"the single-page build failed:\n{(build.stdout + build.stderr)[-3000:]}")
    single = root / "_build" / "singlehtml"
    page = single / f"{_root_page(root)}.html"  # the whole book, on its root page
    if not page.is_file():
        raise RuntimeError(f"the single-page build wrote no {page}")
    # Sphinx writes that page under the root document's folder (book/intro.html) but with every link
    # relative to the output folder (_static/..., _images/...): print a copy that sits there, whose
    # cross-references (book/intro.html#label) point into itself
    flat = single / f"{Path(PDF_NAME).stem}.html"
    text = page.read_text(encoding="utf-8").replace(f'href="{page.relative_to(single).as_posix()}#', 'href="#')
    text = text.replace("</head>", f"{_PRINT_CSS}</head>", 1)  # every chapter starts a new page
    atomic_write(flat, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    print_pdf(flat, out, chromium=binary, timeout_s=timeout_s)
    if (root / "_build" / "html").is_dir():
        ship_pdf(root / "_build" / "html", printed=out)
    return out


def _root_page(root: Path) -> str:
    """The book's root document (``root:`` of ``_toc.yml``, e.g. ``book/intro``), without a suffix."""
    toc = yaml.safe_load((root / "_toc.yml").read_text()) or {}
    return str(Path(str(toc.get("root", "index"))).with_suffix(""))


def placeholder_pdf(lines: list[str]) -> bytes:
    """A valid one-page A4 PDF showing ``lines`` of ASCII text (Helvetica), built by hand.

    The HTML book links to ``pvq-book.pdf``; until ``make pdf`` has printed the real one, this page
    stands in and says how to make it.

    Raises
    ------
    ValueError
        A line that is not printable ASCII (the page uses a standard 14 font without embedding).
    """
    for line in lines:
        if not (line.isascii() and line.isprintable()):
            raise ValueError(f"lines must be printable ASCII, got {line!r}")
    escaped = (line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") for line in lines)
    text = "".join(f"({line}) Tj 0 -18 Td " for line in escaped)
    stream = f"BT /F1 12 Tf 72 770 Td {text}ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    pdf, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(pdf))
        pdf += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(pdf)
    pdf += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    pdf += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    pdf += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(pdf)


_PLACEHOLDER_LINES = [
    "Pruning vs Quantization: an executable edition",
    "",
    "This copy of the HTML book was built without its PDF.",
    "To print the whole book as one PDF, run, from the repository root:",
    "",
    "    make book    (if the book is not built yet)",
    "    make pdf     (writes _build/pdf/pvq-book.pdf and this file)",
]


def ship_pdf(html_dir: Path, *, printed: Path | None = None) -> Path:
    """Put the book's PDF at the root of the HTML site ``html_dir``; return its path there.

    The printed PDF (default ``<html_dir>/../pdf/pvq-book.pdf``) is copied when it exists and
    differs from the site's copy; otherwise a site without any PDF gets :func:`placeholder_pdf`,
    and a site that already has one keeps it.
    """
    html_dir = Path(html_dir)
    target = html_dir / PDF_NAME
    printed = html_dir.parent / "pdf" / PDF_NAME if printed is None else Path(printed)
    if printed.is_file():
        data = printed.read_bytes()
        if not target.is_file() or target.read_bytes() != data:
            atomic_write(target, lambda tmp: tmp.write_bytes(data))
    elif not target.is_file():
        atomic_write(target, lambda tmp: tmp.write_bytes(placeholder_pdf(_PLACEHOLDER_LINES)))
    return target


def _after_build(app, exception) -> None:
    if exception is None and app.builder.name == "html":
        ship_pdf(Path(app.outdir))


def setup(app) -> dict:
    """Sphinx extension: after an HTML build, :func:`ship_pdf` into the site."""
    app.connect("build-finished", _after_build)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
