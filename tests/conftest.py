"""Test-wide settings: fast mode on, and no network beyond this machine.

The course must never need the network, so every test runs with connections to anything but
loopback refused (``network_guard``), in this process and in the notebook kernels nbval starts.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS))
import network_guard  # noqa: E402

os.environ.setdefault("COURSE_FAST", "1")
os.environ["IPYTHONDIR"] = str(TESTS / "ipython")      # kernels run the guard at start-up
for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ[var] = "1"


def pytest_configure(config):
    network_guard.install()


def pytest_unconfigure(config):
    network_guard.uninstall()


@pytest.fixture
def fast_mode(monkeypatch):
    monkeypatch.setenv("COURSE_FAST", "1")
