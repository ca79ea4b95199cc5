"""pyproject.toml and environment.yml must pin the same versions, and every pin must be exact."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;]+)$")


def pyproject_pins() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"]) + [s for group in project["optional-dependencies"].values() for s in group]
    pins = {}
    for spec in specs:
        m = PIN.match(spec.strip())
        assert m, f"pyproject.toml: {spec!r} is not an exact pin (name==version)"
        pins[m.group(1).lower()] = m.group(2)
    return pins


def environment_pins() -> dict[str, str]:
    pins, in_pip = {}, False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        stripped = line.split("#", 1)[0].strip()
        if stripped == "- pip:":
            in_pip = True
            continue
        if in_pip and stripped.startswith("- ") and not stripped.startswith("- -e"):
            m = PIN.match(stripped[2:].strip())
            assert m, f"environment.yml: {stripped!r} is not an exact pin (name==version)"
            pins[m.group(1).lower()] = m.group(2)
    return pins


def test_same_pins_in_both_files():
    assert pyproject_pins() == environment_pins()


def test_key_pins():
    pins = pyproject_pins()
    assert pins["torch"] == "2.13.0"
    assert pins["diffusers"] == "0.42.1"
    assert pins["transformers"].startswith("5.")


def test_environment_yml_is_conda_shaped():
    text = (ROOT / "environment.yml").read_text()
    assert re.search(r"^name: \S+", text, re.M) and "dependencies:" in text
    assert re.search(r"^\s+- python=3\.\d+", text, re.M) and re.search(r"^\s+- pip$", text, re.M)


def test_installed_versions_match_pins():
    from importlib import metadata
    for name, version in pyproject_pins().items():
        assert metadata.version(name).split("+")[0] == version, f"{name}: installed {metadata.version(name)}, pinned {version}"
