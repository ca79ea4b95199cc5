"""The browser tests' own helpers: these run everywhere, with or without Chromium."""
from __future__ import annotations

import socket

import pytest

from browser_support import browser_problem, free_port, is_loopback_url, require_browser

NOWHERE = "/nonexistent/chromium"


def test_missing_browser_names_the_install_command():
    problem = browser_problem(NOWHERE)
    assert problem and "apt-get install chromium" in problem and NOWHERE in problem


def test_missing_browser_skips_for_a_learner(monkeypatch):
    monkeypatch.delenv("COURSE_REQUIRE_BROWSER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        require_browser(NOWHERE)


def test_missing_browser_fails_in_ci(monkeypatch):
    monkeypatch.setenv("COURSE_REQUIRE_BROWSER", "1")
    with pytest.raises(pytest.fail.Exception, match="COURSE_REQUIRE_BROWSER.*apt-get install chromium"):
        require_browser(NOWHERE)


def test_free_port_can_be_bound():
    port = free_port()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


@pytest.mark.parametrize("url, local", [
    ("http://127.0.0.1:8888/lab", True), ("http://localhost/x", True), ("data:image/png;base64,AA", True),
    ("https://cdnjs.cloudflare.com/ajax/libs/mathjax/x.js", False), ("https://github.com/a/b", False)])
def test_is_loopback_url(url, local):
    assert is_loopback_url(url) is local
