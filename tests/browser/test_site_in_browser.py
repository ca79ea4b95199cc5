"""The HTML site in a real browser: the index and two notebook pages load, every image decodes, every
link resolves, nothing reaches outside the machine except MathJax on pages with maths.

The site is built from the committed notebooks (they are executed), so this needs no `make course`;
times come from build/times-full.json when it is there. Screenshots: build/screenshots/site_*.png.
"""
from __future__ import annotations

import functools
import http.server
import sys
import threading
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import nbformat
import pytest

from browser_support import ROOT, free_port, is_loopback_url, require_browser

sys.path.insert(0, str(ROOT / "tools"))
from build_site import build_site  # noqa: E402
from story_picture import draw_for_site  # noqa: E402

NOTEBOOKS = ROOT / "notebooks"
ALLOWED_OUTSIDE = ("cdnjs.cloudflare.com/ajax/libs/mathjax/",)     # MathJax, only on pages with maths


def _figure_count(path: Path) -> int:
    nb = nbformat.read(path, as_version=4)
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def pages_to_open() -> list[str]:
    """00_welcome (where a reader starts) and the notebook with the most figures."""
    books = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
    first = [p.stem for p in books[:1]]
    rest = sorted(books[1:], key=lambda p: (-_figure_count(p), p.name))
    return first + [p.stem for p in rest[:1]]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built into a temporary folder and served over HTTP on 127.0.0.1."""
    require_browser()
    out = tmp_path_factory.mktemp("site")
    times = ROOT / "build" / "times-full.json"
    report = build_site(NOTEBOOKS, out, times if times.is_file() else None, story=draw_for_site)
    handler = functools.partial(_QuietHandler, directory=str(out))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/", out, report
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def check_page(page, url: str, site_dir: Path, shot: Path) -> dict:
    """Open ``url``, check images, links and anchors, save a full-page screenshot; return what was seen."""
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url}: HTTP {response.status if response else 'none'}"
    images = page.evaluate("""() => Array.from(document.images).map(i =>
        ({src: i.currentSrc.slice(0, 40), ok: i.complete && i.naturalWidth > 0, w: i.naturalWidth}))""")
    broken = [i["src"] for i in images if not i["ok"]]
    assert not broken, f"{url}: {len(broken)} of {len(images)} images did not load: {broken[:3]}"
    hrefs = page.evaluate("() => Array.from(document.querySelectorAll('a[href]')).map(a => a.getAttribute('href'))")
    for href in hrefs:
        target = urljoin(url, href)
        parsed = urlparse(target)
        if not is_loopback_url(target):
            assert parsed.scheme == "https", f"{url}: outside link {href!r} is not https"
            continue
        if parsed.path == urlparse(url).path and parsed.fragment:           # an anchor on this page
            # as browsers do: the fragment as written, then percent-decoded (nbconvert writes ids encoded)
            found = page.evaluate("ids => ids.some(id => document.getElementById(id) !== null)",
                                  [parsed.fragment, unquote(parsed.fragment)])
            assert found, f"{url}: anchor #{parsed.fragment} has no element with that id"
            continue
        local = site_dir / unquote(parsed.path).lstrip("/")
        assert local.is_file(), f"{url}: link {href!r} points to {local.name}, which is not in the site"
        status = page.request.get(target).status
        assert status == 200, f"{url}: link {href!r} answered HTTP {status}"
    outside = [u for u in page.blocked if not any(a in u for a in ALLOWED_OUTSIDE)]
    assert not outside, f"{url}: the page tried to load from outside the machine: {outside[:3]}"
    assert not page.errors, f"{url}: JavaScript errors: {page.errors[:3]}"
    page.screenshot(path=str(shot), full_page=True)
    return {"images": len(images), "links": len(hrefs), "text": page.inner_text("body")}


def test_index_in_browser(site, page, screenshots):
    base, out, report = site
    seen = check_page(page, base + "index.html", out, screenshots / "site_index.png")
    for stem in report.pages:
        assert page.locator(f'a[href="{stem}.html"]').count() >= 1, f"index does not link to {stem}"
    assert "Course map" in seen["text"] and " s" in seen["text"]
    story = page.evaluate("() => Array.from(document.images).filter(i => i.getAttribute('src') === 'story.png')"
                          ".map(i => [i.naturalWidth, i.naturalHeight])")
    assert len(story) == 1 and story[0][0] > 3 * story[0][1], f"the front page's story picture: {story}"


@pytest.mark.parametrize("stem", pages_to_open())
def test_notebook_page_in_browser(site, page, screenshots, stem):
    base, out, report = site
    seen = check_page(page, f"{base}{stem}.html", out, screenshots / f"site_{stem}.png")
    figures = _figure_count(NOTEBOOKS / f"{stem}.ipynb")
    assert seen["images"] >= figures, f"{stem}: {figures} figures in the notebook, {seen['images']} on the page"
    assert "interactive(children=" not in seen["text"], f"{stem}: a widget's text fallback leaked onto the page"
    assert page.locator("nav.course-nav a[href='index.html']").count() == 2      # top and bottom bars
