"""Headless-Chromium checks of a built HTML site, used by the book tests.

:func:`check_site` opens every page as a machine would (offline, links, images, MathJax);
:func:`check_reading` measures each chapter page as a reader sees it (visible code, overflow, figure
sharpness, alt text, caption numbers).
"""

import functools
import re
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlparse

from pvq.book.pdf import CHROMIUM_ARGS, find_chromium


def _pages(html: Path):
    return sorted(p for p in html.rglob("*.html") if "_static" not in p.parts)


@functools.lru_cache(maxsize=256)
def _ids(page: Path) -> frozenset[str]:
    """The element ids of a built page (read once per check: pages link to the same targets hundreds of times)."""
    return frozenset(re.findall(r'id="([^"]+)"', page.read_text(encoding="utf-8")))


@contextmanager
def _browser_page(viewport: dict[str, int]):
    """A page of headless Chromium at ``viewport``: the Chromium `make pdf` prints with, its flags."""
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()  # make test installs Debian's
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        try:
            yield browser.new_page(viewport=viewport)
        finally:
            browser.close()


def check_site(html: Path, screenshots: Path | None = None, shot_names: tuple[str, ...] = ()):
    """Open every page; return (requests that left the machine, problems found).

    Problems: math not typeset by MathJax, images that did not load, links to missing files or
    anchors, redirects to missing pages.
    """
    outside, problems = [], []
    _ids.cache_clear()  # a page may have been rebuilt since the last check
    with _browser_page({"width": 1280, "height": 1600}) as page:
        page.on(
            "request",
            lambda r: outside.append(r.url) if not r.url.startswith(("file:", "data:", "blob:", "about:")) else None,
        )
        for path in _pages(html):
            text = path.read_text(encoding="utf-8")
            redirect = re.search(r'http-equiv="refresh"[^>]*url=([^"]+)"', text, flags=re.IGNORECASE)
            if redirect:  # the root index.html only forwards to the first page
                if not (path.parent / redirect.group(1)).is_file():
                    problems.append(f"{path.name}: redirect to a missing page {redirect.group(1)}")
                continue
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            if "math notranslate" in text:
                loads_mathjax = page.evaluate("!!document.querySelector('script[src*=\"mathjax\" i]')")
                try:
                    if not loads_mathjax:  # nothing to wait for
                        raise LookupError("no MathJax script on the page")
                    page.wait_for_selector("mjx-container", timeout=20_000)
                except Exception:
                    problems.append(f"{path.name}: MathJax typeset nothing")
                raw = page.evaluate(
                    "Array.from(document.querySelectorAll('.math'))"
                    ".filter(e => !e.querySelector('mjx-container')).length"
                )
                if raw:
                    problems.append(f"{path.name}: {raw} math elements not typeset")
            broken = page.evaluate(
                "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src)"
            )
            problems += [f"{path.name}: image not loaded {src}" for src in broken]
            for href in page.evaluate("Array.from(document.querySelectorAll('a[href]')).map(a => a.href)"):
                url = urlparse(href)
                if url.scheme != "file":
                    continue
                target = Path(unquote(url.path))
                if not target.exists():
                    problems.append(f"{path.name}: broken link {href}")
                elif url.fragment and target.suffix == ".html" and url.fragment not in _ids(target):
                    problems.append(f"{path.name}: missing anchor {href}")
            if screenshots is not None and path.stem in shot_names:
                page.screenshot(path=str(screenshots / f"{path.stem}.png"), full_page=True)
    return outside, problems


# ---- what a reader sees on a chapter page ----------------------------------------------------------

#: A reader's window: a laptop screen.
READING_VIEWPORT = {"width": 1280, "height": 1000}
#: The longest visible code cell, and the most visible code lines on one page.
MAX_CELL_LINES, MAX_PAGE_LINES = 12, 40
#: An image is at least this share of the text column wide ...
MIN_IMAGE_SHARE = 0.9
#: ... and has at least this many natural pixels per displayed pixel (sharp on a 1.5x screen).
MIN_PIXEL_DENSITY = 1.5
#: Sub-pixel rounding allowed before something counts as wider than the text column.
SLACK_PX = 2

# Runs in the page: lets lazy images, MathJax and fonts settle, then measures what is on screen.
# Code inside a closed <details> (Jupyter Book's hide-input fold) is not on screen; the text column
# is the width of the first paragraph of the article's sections (a body paragraph, not one inside a
# padded box such as an admonition, when there is one).
_READING_JS = """async () => {
  document.querySelectorAll('img[loading="lazy"]').forEach(i => { i.loading = 'eager'; });
  await Promise.all(Array.from(document.images).filter(i => !i.complete)
    .map(i => new Promise(done => { i.addEventListener('load', done); i.addEventListener('error', done); })));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  if (document.fonts) { await document.fonts.ready; }

  const article = document.querySelector('article') || document.querySelector('main') || document.body;
  const paragraph = article.querySelector('section > p') || article.querySelector('section p');
  const all = selector => Array.from(article.querySelectorAll(selector));
  const shown = el => {
    const box = el.getBoundingClientRect();
    return !el.closest('details:not([open])') && box.width > 0 && box.height > 0;
  };
  const wide = el => ({
    width: Math.max(el.scrollWidth, el.getBoundingClientRect().width),
    where: el.closest('[id]') ? '#' + el.closest('[id]').id : '',
  });
  return {
    column: paragraph ? paragraph.clientWidth : 0,
    cells: all('.cell_input pre').filter(shown).map(pre => ({
      text: pre.innerText.replace(/\\n+$/, ''),
      injected: pre.closest('.tag_injected-parameters') !== null,
    })),
    maths: all('mjx-container[display="true"]').filter(shown).map(wide),
    tables: all('table').filter(shown).map(wide),
    images: all('img').filter(i => !i.closest('nav, header, .sidebar')).map(i => ({
      src: i.getAttribute('src') || '',
      alt: i.getAttribute('alt'),
      shown: shown(i),
      width: i.getBoundingClientRect().width,
      natural: i.naturalWidth,
    })),
    captions: all('figcaption, caption').filter(shown).map(c => c.innerText.trim()),
  };
}"""

# A caption's own number: "Figure 4.", "Fig. 7 ", "Table 1:", "Figure 3.2." at its start, followed by
# a space or the end (after an optional "." or ":"). "Figure 4, rebuilt ..." is no number: the
# caption's first words name the paper's figure.
_CAPTION_NUMBER = re.compile(r"\s*(?P<kind>Fig(?:ure)?|Table)\.?\s*(?P<number>\d+(?:\.\d+)*)[.:]?(?=\s|$)")
# A paper figure or table the caption's text names: "the paper's Figure 4" (not "Figure 3.2").
_NAMED = re.compile(r"\b(?P<kind>Fig(?:ure)?|Table)\.?\s+(?P<number>\d+)(?!\d|\.\d)")


def _kind(word: str) -> str:
    return "Table" if word == "Table" else "Figure"


def caption_problem(caption: str) -> str | None:
    """What is wrong with a caption's number, or None.

    A caption that starts with a plain-integer number ("Figure 4", "Table 1", "Fig. 7") reads as the
    paper's figure or table of that number, so its text must name that one ("... the paper's
    Figure 4 ..."); numbers like "Figure 3.2" are the book's own and always fine.
    """
    own = _CAPTION_NUMBER.match(caption)
    if own is None or "." in own["number"]:
        return None
    number = f"{_kind(own['kind'])} {own['number']}"
    named = [f"{_kind(m['kind'])} {m['number']}" for m in _NAMED.finditer(caption, own.end())]
    if number in named:
        return None
    short = caption if len(caption) <= 60 else caption[:57] + "..."
    return f"caption numbered {number} names {', '.join(dict.fromkeys(named)) or 'no paper figure'}: {short!r}"


def _code_problems(cells: list[dict]) -> list[str]:
    problems, total = [], 0
    for cell in cells:
        lines = len(cell["text"].split("\n")) if cell["text"] else 0
        total += lines
        first = cell["text"].strip().split("\n")[0][:50]
        if cell["injected"] or re.match(r"\s*# Parameters\b", cell["text"]):
            problems.append(f"papermill's injected parameters cell is visible ({first!r})")
        if lines > MAX_CELL_LINES:
            problems.append(f"code cell {first!r} shows {lines} lines > {MAX_CELL_LINES}")
    if total > MAX_PAGE_LINES:
        problems.append(f"{total} lines of visible code > {MAX_PAGE_LINES}")
    return problems


def _overflow_problems(measures: dict) -> list[str]:
    column, problems = measures["column"], []
    for what, key in (("display maths", "maths"), ("table", "tables")):
        for box in measures[key]:
            if box["width"] > column + SLACK_PX:
                where = f" ({box['where']})" if box["where"] else ""
                problems.append(f"{what} {box['width']:.0f} px wide > text column {column:.0f} px{where}")
    return problems


def _image_problems(images: list[dict], column: float) -> list[str]:
    problems = []
    for image in images:
        name = Path(unquote(urlparse(image["src"]).path)).name or image["src"]
        alt = (image["alt"] or "").strip()
        if not alt:
            problems.append(f"image {name} has no alt text")
        elif Path(alt).name == name:  # Sphinx's default alt: the image's own path
            problems.append(f"image {name} has only its file name as alt text")
        if not image["shown"]:
            continue
        width, natural = image["width"], image["natural"]
        if natural == 0:
            problems.append(f"image {name} did not load")
            continue
        if width < MIN_IMAGE_SHARE * column:
            problems.append(f"image {name} {width:.0f} px wide < {MIN_IMAGE_SHARE:.0%} of text column {column:.0f} px")
        if not name.endswith(".svg") and natural < MIN_PIXEL_DENSITY * width:
            problems.append(
                f"image {name} blurry: {natural} natural px over {width:.0f} displayed px "
                f"({natural / width:.2f}x < {MIN_PIXEL_DENSITY}x)"
            )
    return problems


def reading_problems(measures: dict) -> list[str]:
    """Judge one page's measures (from the page's reading script) against the reader's limits."""
    if not measures["column"]:
        return ["no paragraph in the article's sections to measure the text column by"]
    return (
        _code_problems(measures["cells"])
        + _overflow_problems(measures)
        + _image_problems(measures["images"], measures["column"])
        + [p for p in map(caption_problem, measures["captions"]) if p]
    )


def check_reading(html: Path) -> list[str]:
    """Open every chapter page (``book/chapters/*.html`` under ``html``) as a reader; return its problems.

    Each problem names the page and what is wrong, e.g. ``04_per_layer.html: display maths 812 px
    wide > text column 688 px``. Per page, in a 1280 x 1000 window: no visible papermill-injected
    parameters cell; at most :data:`MAX_CELL_LINES` lines per visible code cell and
    :data:`MAX_PAGE_LINES` visible code lines in all (code folded by ``hide-input`` is not visible);
    no display maths and no table wider than the text column; every image at least
    :data:`MIN_IMAGE_SHARE` of the text column wide with :data:`MIN_PIXEL_DENSITY` natural pixels
    per displayed pixel (SVG exempt) and real alt text; caption numbers consistent with the paper
    figure they name (:func:`caption_problem`).
    """
    pages = sorted((Path(html) / "book" / "chapters").glob("*.html"))
    if not pages:
        return [f"no chapter pages under {Path(html) / 'book' / 'chapters'}"]
    problems = []
    with _browser_page(READING_VIEWPORT) as page:
        for path in pages:
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            problems += [f"{path.name}: {problem}" for problem in reading_problems(page.evaluate(_READING_JS))]
    return problems
