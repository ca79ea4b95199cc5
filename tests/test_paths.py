"""Where things live, and the one way a shipped model is named (course_utils/paths.py)."""
from __future__ import annotations

import pytest

from course_utils.paths import DATA_DIR, REPO, RESULTS_DIR, RUNS_DIR, data_path, is_bare_name


def test_the_repository_folders():
    assert (REPO / "course_utils" / "paths.py").is_file() and DATA_DIR == REPO / "data"
    assert RUNS_DIR == REPO / "runs" and RESULTS_DIR == REPO / "benchmarks" / "results"


def test_a_bare_name_means_data_slash_name_even_if_a_folder_of_that_name_is_here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pixel-unet").mkdir()                      # a stray folder in the current directory
    assert data_path("pixel-unet") == DATA_DIR / "pixel-unet"
    assert data_path("no-such-model") == DATA_DIR / "no-such-model"


def test_a_path_stays_a_path_and_relative_ones_fall_back_to_the_repository(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine").mkdir()
    assert data_path("./mine") == tmp_path / "mine" or data_path("./mine").resolve() == (tmp_path / "mine").resolve()
    assert data_path(tmp_path / "x") == tmp_path / "x"
    assert data_path("data/storybook-sd") == REPO / "data" / "storybook-sd"       # from notebooks/ too
    assert data_path(DATA_DIR / "x") == DATA_DIR / "x"


@pytest.mark.parametrize("name, bare", [("vae", True), ("storybook-sd", True), ("data/vae", False), ("./vae", False),
                                        ("~", False), ("..", False), ("", False)])
def test_is_bare_name(name, bare):
    assert is_bare_name(name) is bare


@pytest.mark.parametrize("bad", ["", "   ", None, 3])
def test_an_empty_or_non_text_name_is_refused(bad):
    with pytest.raises(ValueError, match="non-empty string"):
        data_path(bad)
