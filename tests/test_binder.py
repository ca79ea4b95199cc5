"""Binder (binder/) and conda (environment.yml) ways in: valid YAML, the same pins as pyproject.toml."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==(\S+)$")


def pip_lines(path: Path) -> list[str]:
    """The entries of the ``- pip:`` list of a conda environment file."""
    yaml = pytest.importorskip("yaml")
    env = yaml.safe_load(path.read_text())
    pips = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    assert len(pips) == 1, f"{path}: expected one '- pip:' list"
    return pips[0]


def pins(lines: list[str]) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2) for m in map(PIN.match, lines) if m}


def test_both_files_are_conda_environments():
    yaml = pytest.importorskip("yaml")
    for path in (ROOT / "environment.yml", ROOT / "binder" / "environment.yml"):
        env = yaml.safe_load(path.read_text())
        assert env["name"] == "diffusion-course" and "conda-forge" in env["channels"]
        assert any(str(d).startswith("python=3.") for d in env["dependencies"]) and "pip" in env["dependencies"]


def test_binder_pins_equal_the_root_pins():
    root, binder = pip_lines(ROOT / "environment.yml"), pip_lines(ROOT / "binder" / "environment.yml")
    assert pins(binder) == pins(root) and pins(root)
    assert "-e ." in root                                   # conda users get the course installed
    assert not any(line.startswith("-e") for line in binder), "repo2docker cannot install -e . from this file"
    others = [line for line in binder if not PIN.match(line)]
    assert all(line.startswith("--extra-index-url https://") for line in others), others


def test_binder_post_build_installs_the_course():
    post = ROOT / "binder" / "postBuild"
    assert os.access(post, os.X_OK), "binder/postBuild must be executable (chmod +x)"
    text = post.read_text()
    assert text.startswith("#!/bin/bash") and "pip install --no-deps -e ." in text
