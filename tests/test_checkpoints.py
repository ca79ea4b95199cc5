"""Shipped model folders: safetensors + config + record + sha256 manifest (course_utils/checkpoints.py)."""
from __future__ import annotations

import json

import pytest
import torch

from course_utils.checkpoints import (MANIFEST, CheckpointError, load_weights,
                                      read_config, save_model, sha256_of, verify_manifest, write_manifest)


@pytest.fixture
def folder(tmp_path):
    """A saved model folder named like a recipe, so the rebuild hint names the recipe."""
    path = tmp_path / "pixel-unet"
    state = {"w": torch.arange(6.0).reshape(2, 3), "b": torch.zeros(2)}
    save_model(path, state, {"kind": "pixel-unet", "width": 3}, {"command": "python -m course_utils.train pixel-unet"})
    return path


def test_save_then_load_round_trip(folder):
    state, config = load_weights(folder, kind="pixel-unet")
    assert torch.equal(state["w"], torch.arange(6.0).reshape(2, 3))
    assert config == {"kind": "pixel-unet", "width": 3}
    assert json.loads((folder / "record.json").read_text())["command"].endswith("pixel-unet")
    names = sorted(line.split()[1] for line in (folder / MANIFEST).read_text().splitlines())
    assert names == ["config.json", "model.safetensors", "record.json"]


def test_save_model_accepts_a_module_and_needs_a_kind(tmp_path):
    save_model(tmp_path / "m", torch.nn.Linear(2, 1), {"kind": "linear"})
    state, _ = load_weights(tmp_path / "m")
    assert set(state) == {"weight", "bias"}
    with pytest.raises(ValueError, match="kind"):
        save_model(tmp_path / "n", torch.nn.Linear(2, 1), {"width": 2})


def test_missing_folder_says_how_to_rebuild(tmp_path):
    with pytest.raises(CheckpointError) as err:
        load_weights(tmp_path / "pixel-unet", kind="pixel-unet")
    message = str(err.value)
    assert "python -m course_utils.train pixel-unet" in message and "make models" in message


def test_missing_file_says_how_to_rebuild(folder):
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match="missing.*python -m course_utils.train pixel-unet"):
        load_weights(folder)


def test_corrupt_file_is_a_sha256_mismatch(folder):
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF                                         # flip one byte of the weights
    (folder / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="corrupt.*sha256"):
        load_weights(folder, kind="pixel-unet")


def test_edited_config_is_caught_too(folder):
    (folder / "config.json").write_text('{"kind": "pixel-unet", "width": 4}\n')
    with pytest.raises(CheckpointError, match="config.json is corrupt"):
        read_config(folder)


def test_wrong_kind_is_a_clear_error(folder):
    with pytest.raises(CheckpointError, match="holds a 'pixel-unet' model, not a 'judge' one"):
        load_weights(folder, kind="judge")


def test_manifest_hashes_every_file(folder):
    write_manifest(folder)
    verify_manifest(folder)                                   # no error
    lines = dict(reversed(line.split()) for line in (folder / MANIFEST).read_text().splitlines())
    assert lines["config.json"] == sha256_of(folder / "config.json")


