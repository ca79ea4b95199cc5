"""Real-browser tests: headless Debian Chromium driven by Playwright's Python package.

Why Playwright: one pip package (pinned in pyproject.toml) whose wheel carries its own driver, so
nothing but Debian's ``chromium`` is needed; it waits for elements by itself, can refuse every
request that leaves the machine (``page.route``), and takes full-page screenshots. It launches
``/usr/bin/chromium`` (never a browser downloaded by ``playwright install``). Selenium would need
Debian's chromedriver too, and hand-written waits.

Without Chromium (a learner's laptop) these tests skip and say ``apt-get install chromium``. CI sets
``COURSE_REQUIRE_BROWSER=1`` (``.ci/run``), and then a missing browser fails the run instead.
Screenshots go to build/screenshots/.
"""
from __future__ import annotations

import shutil

import pytest

from browser_support import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, is_loopback_url, require_browser


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session."""
    require_browser()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=shutil.which(CHROMIUM) or CHROMIUM, args=CHROMIUM_ARGS,
                              headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh page that may only talk to this machine; ``page.blocked`` lists what it was refused,
    ``page.errors`` the uncaught JavaScript errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.blocked, pg.errors = [], []

    def gate(route):
        if is_loopback_url(route.request.url):
            route.continue_()
        else:
            pg.blocked.append(route.request.url)
            route.abort()

    pg.route("**/*", gate)
    pg.on("pageerror", lambda err: pg.errors.append(str(err)))
    yield pg
    context.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
