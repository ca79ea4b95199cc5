"""Helpers for the real-browser tests: where the browser is, skip or fail without it, free ports.

Without Chromium (a learner's laptop) the browser tests skip and say ``apt-get install chromium``.
CI sets ``COURSE_REQUIRE_BROWSER=1`` (``.ci/run``), and then a missing browser fails the run instead.
``COURSE_CHROMIUM`` points at another Chromium binary if yours is not /usr/bin/chromium.
"""
from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from urllib.parse import urlparse

import pytest

__all__ = ["ROOT", "SCREENSHOTS", "CHROMIUM", "CHROMIUM_ARGS", "browser_problem", "require_browser",
           "free_port", "is_loopback_url"]

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = os.environ.get("COURSE_CHROMIUM", "/usr/bin/chromium")
#: The flags the machine's own browser check uses: no sandbox (root), and no background traffic.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]


def browser_problem(chromium: str | None = None) -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    chromium = chromium or CHROMIUM
    if not (Path(chromium).is_file() or shutil.which(chromium)):
        return (f"no Chromium at {chromium}: the browser tests need Debian's browser "
                "(`sudo apt-get install chromium`), or set COURSE_CHROMIUM to another Chromium binary")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright's Python package is missing: `pip install -e '.[dev]'` (or `make venv`) installs it"
    return None


def require_browser(chromium: str | None = None) -> None:
    """Skip (a learner without Chromium) or fail (CI, COURSE_REQUIRE_BROWSER=1) when no browser is here."""
    problem = browser_problem(chromium)
    if problem is None:
        return
    if os.environ.get("COURSE_REQUIRE_BROWSER", "") not in ("", "0"):
        pytest.fail(f"COURSE_REQUIRE_BROWSER is set but {problem}")
    pytest.skip(problem)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_loopback_url(url: str) -> bool:
    """True for data:/blob:/about: addresses and for http(s) on 127.0.0.1 / localhost."""
    parsed = urlparse(url)
    return parsed.scheme in ("data", "blob", "about") or parsed.hostname in ("127.0.0.1", "localhost", "::1")
