"""The reader's checks of the browser test, each shown to fail on a small page built to break it.

One good page passes; every broken page differs from it in one property and is reported for
exactly that problem. The pages mimic Jupyter Book's HTML: notebook cells (``div.cell_input pre``),
``hide-input`` folds (a closed ``<details>``), MathJax's display container, figures and tables in
an article whose text column is 688 px wide (a narrower boxed summary comes first: the column is
measured on a body paragraph). Images get their natural size from the PNG file and their displayed
size from CSS.
"""

from pathlib import Path

import pytest
from PIL import Image

from ..browser import caption_problem, check_reading

COLUMN_PX = 688
STYLE = (
    "body { margin: 0; font: 16px sans-serif; } "
    f"article {{ width: {COLUMN_PX}px; margin: 0 auto; }} "
    "figure { margin: 1em 0; } img { display: block; }"
)


def cell(lines: int, first: str = "x = 0", tag: str = "") -> str:
    """A notebook code cell of ``lines`` lines, the first one ``first``."""
    code = "\n".join([first] + [f"x = {k}" for k in range(1, lines)])
    inner = f'<div class="highlight"><pre>{code}\n</pre></div>'
    return f'<div class="cell {tag}"><div class="cell_input">{inner}</div></div>'


def folded(html: str) -> str:
    """``html`` inside a closed hide-input fold."""
    return f'<details class="admonition hide above-input"><summary>Show code cell source</summary>{html}</details>'


def maths(width: str = "auto") -> str:
    """A typeset display equation (MathJax's container), ``width`` wide."""
    return (
        '<div class="math" id="equation-eq-1">'
        f'<mjx-container class="MathJax" display="true" style="display: block; width: {width}">'
        "x = 1</mjx-container></div>"
    )


def table(width: str = "auto") -> str:
    """A captioned table, ``width`` wide."""
    return (
        f'<table id="table-1" style="width: {width}"><caption>Table 1. The paper\'s Table 1, rebuilt.</caption>'
        "<tr><th>bits</th><th>accuracy (%)</th></tr><tr><td>4</td><td>91.2</td></tr></table>"
    )


def figure(src: str = "sharp.png", width: str = "100%", alt: str | None = "Pruning SNR against bits.") -> str:
    """A figure rebuilding the paper's Figure 4, its image ``width`` wide (CSS) with ``alt`` text."""
    alt_attr = "" if alt is None else f' alt="{alt}"'
    return (
        f'<figure><img src="../../{src}"{alt_attr} style="width: {width}">'
        "<figcaption><p>Figure 4. The paper's Figure 4: pruning against quantization.</p></figcaption></figure>"
    )


# The good page, part by part: exactly 40 visible code lines (no cell over 12) with the chapter's own
# parameters cell visible and papermill's folded away, maths and a table inside the column, sharp
# wide images with alt text, captions in the paper's numbering and the book's own ("Figure 3.2").
GOOD = {
    "code": (
        cell(2, "profile = 'full'", tag="tag_parameters")
        + cell(12)
        + cell(12)
        + cell(12)
        + cell(2)
        + folded(cell(30))
        + folded(cell(3, "# Parameters", tag="tag_injected-parameters"))
    ),
    "maths": maths(),
    "table": table(),
    "figure": figure(),
    "own figure": (
        '<figure><img src="../../sharp.svg" alt="A sketch of the grid." style="width: 100%">'
        "<figcaption><p>Figure 3.2. The book's own: the grid.</p></figcaption></figure>"
        '<figure><img src="../../sharp.png" alt="Exact optima per layer." style="width: 100%">'
        "<figcaption><p>Figure 4, rebuilt with the exact optima.</p></figcaption></figure>"
    ),
}

# Each broken page: the good page with one part replaced, and the problem it must be reported for.
BROKEN = {
    "injected_cell": (
        {"code": GOOD["code"].replace(cell(2), cell(2, "# Parameters", tag="tag_injected-parameters"))},
        "papermill's injected parameters cell is visible ('# Parameters')",
    ),
    "long_cell": ({"code": cell(13) + cell(12) + cell(12)}, "code cell 'x = 0' shows 13 lines > 12"),
    "many_lines": ({"code": cell(12) + cell(12) + cell(12) + cell(5)}, "41 lines of visible code > 40"),
    "wide_maths": (
        {"maths": maths("812px")},
        "display maths 812 px wide > text column 688 px (#equation-eq-1)",
    ),
    "wide_table": ({"table": table("900px")}, "table 900 px wide > text column 688 px (#table-1)"),
    "narrow_image": ({"figure": figure(width="600px")}, "image sharp.png 600 px wide < 90% of text column 688 px"),
    "blurry_image": (
        {"figure": figure(src="blurry.png")},
        "image blurry.png blurry: 900 natural px over 688 displayed px (1.31x < 1.5x)",
    ),
    "no_alt": ({"figure": figure(alt=None)}, "image sharp.png has no alt text"),
    "file_name_alt": ({"figure": figure(alt="../../sharp.png")}, "image sharp.png has only its file name as alt text"),
    "caption_number": (
        {"figure": figure().replace("Figure 4. The paper's Figure 4:", "Figure 7. The paper's Figure 4:")},
        "caption numbered Figure 7 names Figure 4",
    ),
}


def page(parts: dict[str, str]) -> str:
    """A chapter page in Jupyter Book's shape holding ``parts``."""
    body = "\n".join(parts.values())
    return (
        f"<!DOCTYPE html><html><head><style>{STYLE}</style></head><body>"
        '<article class="bd-article"><section id="chapter"><h1>A chapter</h1>'
        '<div class="admonition" style="padding: 0 40px"><p>In short: a boxed summary, narrower.</p></div>'
        f"<p>The text column.</p>\n{body}\n</section></article></body></html>"
    )


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, list[str]]:
    """Every page's problems (without the page name), from one run of :func:`check_reading`."""
    site = tmp_path_factory.mktemp("site")
    Image.new("RGB", (1400, 400), "white").save(site / "sharp.png")  # 2.03x at 688 px
    Image.new("RGB", (900, 300), "white").save(site / "blurry.png")  # 1.31x at 688 px
    (site / "sharp.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="300" height="100"></svg>')
    chapters = site / "book" / "chapters"
    chapters.mkdir(parents=True)
    (chapters / "good.html").write_text(page(GOOD))
    for name, (parts, _) in BROKEN.items():
        (chapters / f"{name}.html").write_text(page(GOOD | parts))
    found = {path.stem: [] for path in chapters.glob("*.html")}
    for problem in check_reading(site):
        name, _, what = problem.partition(".html: ")
        found[name].append(what)
    return found


@pytest.mark.slow
def test_the_good_page_passes(reports):
    assert reports["good"] == []


@pytest.mark.slow
@pytest.mark.parametrize("name", BROKEN)
def test_each_broken_page_is_reported_for_exactly_its_problem(reports, name):
    found, expected = reports[name], BROKEN[name][1]
    assert len(found) == 1 and found[0].startswith(expected), found


def test_no_chapter_pages_is_a_problem(tmp_path):
    assert check_reading(tmp_path) == [f"no chapter pages under {Path(tmp_path) / 'book' / 'chapters'}"]


@pytest.mark.parametrize(
    "caption, problem",
    [
        ("Figure 4. The paper's Figure 4, rebuilt.", None),
        ("Table 1: the paper's Table 1 with seeds.", None),
        ("Figure 3.2. The book's own figure.", None),
        ("Figure 4, rebuilt with the exact optima.", None),  # the paper's figure named, no number of its own
        ("Fig. 8 Figure 4, rebuilt", "caption numbered Figure 8 names Figure 4: 'Fig. 8 Figure 4, rebuilt'"),
        ("Figure 9. Accuracy over epochs.", "caption numbered Figure 9 names no paper figure"),
        ("Figure 1. The paper's Table 1 as a plot.", "caption numbered Figure 1 names Table 1"),
    ],
)
def test_caption_numbers(caption, problem):
    found = caption_problem(caption)
    if problem is None:
        assert found is None
    else:
        assert found.startswith(problem), found
