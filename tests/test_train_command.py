"""The one training command: recipe lookup, --list, --fresh and the resume notice."""
from __future__ import annotations

import pytest

from course_utils import train

CALLS: list[dict] = []


def _dummy_build(out_dir, *, run_dir, steps, seed=0):
    CALLS.append({"out_dir": out_dir, "run_dir": run_dir, "steps": steps, "seed": seed,
                  "run_dir_existed": run_dir.exists()})
    return {"steps": steps}


@pytest.fixture
def dummy_recipe(monkeypatch):
    monkeypatch.setitem(train.RECIPES, "dummy", "test_train_command:_dummy_build")
    CALLS.clear()
    return CALLS


def test_list_names_every_recipe(capsys):
    assert train.main(["--list"]) == 0
    out = capsys.readouterr().out.split()
    assert {"judge", "pixel-unet"} <= set(out)


def test_unknown_recipe_lists_the_known_ones():
    with pytest.raises(SystemExit, match="known recipes: judge"):
        train.main(["nope"])


def test_arguments_reach_the_recipe(dummy_recipe, tmp_path):
    train.main(["dummy", "--steps", "7", "--seed", "3", "--out", str(tmp_path / "out"), "--run-dir", str(tmp_path / "run")])
    assert dummy_recipe == [{"out_dir": tmp_path / "out", "run_dir": tmp_path / "run", "steps": 7, "seed": 3,
                             "run_dir_existed": False}]


def test_old_checkpoints_are_announced_and_fresh_removes_them(dummy_recipe, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.safetensors").write_bytes(b"old")
    train.main(["dummy", "--out", str(tmp_path / "out"), "--run-dir", str(run)])
    assert "resuming from the checkpoints" in capsys.readouterr().out and dummy_recipe[-1]["run_dir_existed"]
    train.main(["dummy", "--fresh", "--out", str(tmp_path / "out"), "--run-dir", str(run)])
    assert not dummy_recipe[-1]["run_dir_existed"]
