"""Shipped model folders: safetensors + config + record + sha256 manifest (course_utils/checkpoints.py)."""
from __future__ import annotations

import json

import pytest
import torch

from course_utils.paths import DATA_DIR
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


def test_crlf_manifest_is_read_like_an_lf_one(folder):
    # a Windows checkout (or editor) may turn SHA256SUMS into CRLF: its hashes are still right
    manifest = folder / MANIFEST
    manifest.write_bytes(manifest.read_bytes().replace(b"\n", b"\r\n"))
    verify_manifest(folder)
    load_weights(folder, kind="pixel-unet")


def _drop_line(folder, name):
    manifest = folder / MANIFEST
    manifest.write_text("".join(l for l in manifest.read_text().splitlines(True) if not l.rstrip().endswith(name)))


@pytest.mark.parametrize("break_it, match", [
    (lambda f: (f / MANIFEST).write_text(""), "SHA256SUMS lists no files"),
    (lambda f: (f / MANIFEST).write_text("\n\n"), "SHA256SUMS lists no files"),
    (lambda f: _drop_line(f, "model.safetensors"), "does not list model.safetensors"),
    (lambda f: _drop_line(f, "record.json"), "does not list record.json"),
    (lambda f: (f / "extra.bin").write_bytes(b"x"), "does not list extra.bin"),
    (lambda f: (f / MANIFEST).write_text((f / MANIFEST).read_text() + "garbage\n"), "is malformed at line 4"),
    (lambda f: (f / MANIFEST).write_text((f / MANIFEST).read_text() + "abc123  x.json\n"), "is malformed at line 4"),
    (lambda f: (f / MANIFEST).write_text((f / MANIFEST).read_text() + "0" * 64 + "  ../x.json\n"), "is malformed at line 4"),
])
def test_incomplete_or_malformed_manifest_is_refused(folder, break_it, match):
    data = bytearray((folder / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF                               # a corrupt weight file must never slip through
    (folder / "model.safetensors").write_bytes(bytes(data))
    break_it(folder)
    with pytest.raises(CheckpointError, match=f"{match}.*python -m course_utils.train pixel-unet"):
        load_weights(folder, kind="pixel-unet")


def test_write_manifest_writes_lf_and_skips_nothing(folder):
    (folder / "notes.txt").write_text("made by hand\n")
    write_manifest(folder)
    assert b"\r" not in (folder / MANIFEST).read_bytes()
    verify_manifest(folder)


def test_git_keeps_shipped_files_byte_exact():
    # .gitattributes: no line-end conversion in data/ (else a Windows checkout reads as corrupt)
    import shutil
    import subprocess
    if shutil.which("git") is None or not (DATA_DIR.parent / ".git").exists():
        pytest.skip("not a git checkout")
    files = ["data/storybook-sd/SHA256SUMS", "data/storybook-sd/tokenizer/merges.txt", "data/judge/config.json",
             "data/judge/model.safetensors"]
    out = subprocess.run(["git", "check-attr", "text", "--", *files], cwd=DATA_DIR.parent, capture_output=True,
                         text=True, check=True).stdout
    assert out.count("text: unset") == len(files), out


@pytest.mark.parametrize("call, match", [
    (lambda p: save_model(p, {"w": [1, 2]}, {"kind": "x"}), "state must map parameter names to tensors"),
    (lambda p: save_model(p, {"w": torch.zeros(1)}, {"kind": "x", "f": object()}), "config must hold only JSON"),
    (lambda p: save_model(p, {"w": torch.zeros(1)}, ["kind"]), "config must be a dict"),
    (lambda p: read_config(123), "a model folder must be a path"),
    (lambda p: load_weights(None), "a model folder must be a path"),
    (lambda p: verify_manifest(""), "a model folder must be a path"),
])
def test_bad_arguments_to_save_and_load_are_clear_errors(tmp_path, call, match):
    with pytest.raises(TypeError, match=match):
        call(tmp_path / "m")


def test_read_record_reads_a_shipped_record_and_says_how_to_rebuild_a_missing_one(tmp_path):
    from course_utils.checkpoints import read_record
    assert read_record("storybook-sd")["command"].startswith("python -m course_utils.train storybook-sd")
    with pytest.raises(CheckpointError, match=r"No training record .*python -m course_utils.train ghost"):
        read_record(tmp_path / "ghost")
    (tmp_path / "ghost").mkdir()
    (tmp_path / "ghost" / "record.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON.*python -m course_utils.train ghost"):
        read_record(tmp_path / "ghost")


def test_a_pickle_renamed_safetensors_is_refused_by_name(tmp_path):
    # a copy of the smallest shipped model, its weights re-saved by torch.save (a pickle) under the same name and
    # SHA256SUMS rewritten to match: the manifest passes, safetensors alone would only say "header too large"
    import shutil
    from course_utils.judge import load
    folder = tmp_path / "judge"
    shutil.copytree(DATA_DIR / "judge", folder)
    state = {k: v.clone() for k, v in load_weights(folder)[0].items()}
    (folder / "model.safetensors").unlink()
    torch.save(state, folder / "model.safetensors")
    write_manifest(folder)
    verify_manifest(folder)
    for loader in (load_weights, load):
        with pytest.raises(CheckpointError, match=r"judge/model\.safetensors is not a safetensors file .*never a "
                                                  r"pickle.*python -m course_utils.train judge"):
            loader(folder)
