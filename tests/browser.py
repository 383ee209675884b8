"""Headless-Chromium check of a built HTML site, used by the book tests."""

import re
from pathlib import Path
from urllib.parse import unquote, urlparse

from pvq.book.pdf import CHROMIUM_ARGS, find_chromium


def _pages(html: Path):
    return sorted(p for p in html.rglob("*.html") if "_static" not in p.parts)


def _ids(page: Path) -> set[str]:
    return set(re.findall(r'id="([^"]+)"', page.read_text(encoding="utf-8")))


def check_site(html: Path, screenshots: Path | None = None, shot_names: tuple[str, ...] = ()):
    """Open every page; return (requests that left the machine, problems found).

    Problems: math not typeset by MathJax, images that did not load, links to missing files or
    anchors, redirects to missing pages.
    """
    from playwright.sync_api import sync_playwright

    chromium = find_chromium()  # the Chromium `make pdf` prints with; make test installs Debian's
    outside, problems = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=list(CHROMIUM_ARGS))
        page = browser.new_page(viewport={"width": 1280, "height": 1600})
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
                try:
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
        browser.close()
    return outside, problems
