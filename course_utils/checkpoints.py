"""Shipped model folders: safetensors weights + config.json + record.json + a SHA256SUMS manifest.

Layout of a shipped model under ``data/<name>/`` (``paths.data_path(name)``)::

    model.safetensors   the weights (safetensors only: loading runs no code)
    config.json         what to build before loading ("kind" names the model family)
    record.json         how it was made: command, seed, steps, wall time on a 2-core CPU, metrics
    SHA256SUMS          sha256 of every other file, in ``sha256sum -c`` format (LF or CRLF line ends)

``load_weights`` checks the manifest first, so a truncated or edited file is refused with a
message that says how to rebuild it, instead of failing somewhere inside torch; then that each
``.safetensors`` file is one (a pickle renamed, with its manifest line rewritten, is refused by name).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from .distributed import is_main_process
from .env import pick_device
from .paths import data_path

__all__ = [
    "MANIFEST", "CheckpointError", "sha256_of", "write_manifest",
    "verify_manifest", "check_safetensors", "save_model", "read_config", "read_record", "config_from_dict", "load_weights", "load_model",
]

MANIFEST = "SHA256SUMS"


class CheckpointError(RuntimeError):
    """A shipped checkpoint is missing, corrupt, or of another kind than asked for."""


def _folder(folder: object) -> Path:
    if not isinstance(folder, (str, Path)) or not str(folder).strip():
        raise TypeError(f"a model folder must be a path or a name such as 'judge', got {folder!r}.")
    return Path(folder)


def _rebuild_hint(folder: Path) -> str:
    return (f"Rebuild it with `python -m course_utils.train {folder.name}` (or `make models` for all), "
            "or restore it with `git checkout -- data/`.")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: str | Path) -> Path:
    """Write ``SHA256SUMS`` listing every file below ``folder`` (sub-folders included)."""
    folder = Path(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.name != MANIFEST)
    lines = [f"{sha256_of(p)}  {p.relative_to(folder).as_posix()}" for p in files]
    (folder / MANIFEST).write_bytes(("\n".join(lines) + "\n").encode())   # LF on every OS
    return folder / MANIFEST


def _manifest_entries(folder: Path, manifest: Path) -> dict[str, str]:
    """``{relative name: sha256}`` from ``SHA256SUMS`` (CRLF line ends and sha256sum's ``*name`` are fine)."""
    fix = _rebuild_hint(folder)
    entries: dict[str, str] = {}
    for number, line in enumerate(manifest.read_bytes().decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().split(maxsplit=1)
        digest, name = (parts[0].lower(), parts[1].lstrip("*")) if len(parts) == 2 else ("", "")
        if (len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or not name
                or Path(name).is_absolute() or ".." in Path(name).parts):
            raise CheckpointError(f"{manifest} is malformed at line {number} ({line.strip()[:80]!r}); each line "
                                  f"must read '<64 hex digits>  <file name>'. {fix}")
        entries[name] = digest
    if not entries:
        raise CheckpointError(f"{manifest} lists no files, so nothing in {folder} can be checked. {fix}")
    return entries


def verify_manifest(folder: str | Path) -> None:
    """Raise ``CheckpointError`` unless ``SHA256SUMS`` is well formed, lists every file of the folder, and
    every file it lists exists with that hash (hidden files such as ``.DS_Store`` are ignored)."""
    folder = _folder(folder)
    manifest = folder / MANIFEST
    if not folder.is_dir() or not manifest.is_file():
        raise CheckpointError(f"No shipped model at {folder} (its {MANIFEST} is missing). {_rebuild_hint(folder)}")
    entries = _manifest_entries(folder, manifest)
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*")
               if p.is_file() and p.name != MANIFEST and not any(part.startswith(".") for part in
                                                                  p.relative_to(folder).parts)}
    unlisted = sorted(present - set(entries))
    if unlisted:
        raise CheckpointError(f"{manifest} does not list {', '.join(unlisted)}, so {'it' if len(unlisted) == 1 else 'they'} "
                              f"cannot be checked before loading. {_rebuild_hint(folder)}")
    for name, expected in entries.items():
        path = folder / name
        if not path.is_file():
            raise CheckpointError(f"{path} is missing. {_rebuild_hint(folder)}")
        if sha256_of(path) != expected:
            raise CheckpointError(
                f"{path} is corrupt: its sha256 does not match {manifest}. {_rebuild_hint(folder)}")


def check_safetensors(folder: str | Path, fix: str | None = None) -> None:
    """Raise ``CheckpointError`` naming the first ``*.safetensors`` file below ``folder`` whose header safetensors
    cannot read (a pickle renamed, say), before a loader meets it with an error that names no file."""
    folder = _folder(folder)
    for path in sorted(folder.rglob("*.safetensors")):
        try:
            with safe_open(str(path), framework="pt"):
                pass
        except (SafetensorError, OSError) as err:
            raise CheckpointError(f"{path} is not a safetensors file ({err}), though {MANIFEST} lists it. The course "
                                  f"loads safetensors only, never a pickle. {fix or _rebuild_hint(folder)}") from None


def save_model(folder: str | Path, state: dict[str, torch.Tensor] | torch.nn.Module, config: dict,
               record: dict | None = None) -> Path:
    """Save weights (safetensors), ``config.json`` and ``record.json`` into ``folder``, then the manifest."""
    if not is_main_process():   # under torchrun / accelerate launch only rank 0 writes
        return Path(folder) / MANIFEST
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict (saved as config.json), got {type(config).__name__}.")
    for name, part in (("config", config), ("record", record)):
        try:
            json.dumps(part)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must hold only JSON values (str, numbers, lists, dicts): {err}.") from None
    if isinstance(state, dict) and not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise TypeError("state must map parameter names to tensors (a model's state_dict()), or be the nn.Module.")
    if "kind" not in config:
        raise ValueError("config needs a 'kind' entry (for example 'judge' or 'pixel-unet') so loaders can check it.")
    folder = _folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(state, torch.nn.Module):
        state = state.state_dict()
    state = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
    save_file(state, folder / "model.safetensors", metadata={"kind": str(config["kind"])})
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    if record is not None:
        (folder / "record.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return write_manifest(folder)


def read_config(folder: str | Path, kind: str | None = None) -> dict:
    """Verify the folder's manifest and return its config; check ``config['kind'] == kind`` if given."""
    folder = data_path(_folder(folder))
    verify_manifest(folder)
    config = json.loads((folder / "config.json").read_text())
    if kind is not None and config.get("kind") != kind:
        raise CheckpointError(
            f"{folder} holds a {config.get('kind')!r} model, not a {kind!r} one. Pick the folder of a {kind!r} model.")
    return config


def read_record(folder: str | Path) -> dict:
    """How a shipped model was made (``record.json``: command, seed, steps, wall time, metrics); a bare name
    such as "storybook-sd" means data/storybook-sd."""
    folder = data_path(_folder(folder))
    path = folder / "record.json"
    if not path.is_file():
        raise CheckpointError(f"No training record at {path}. {_rebuild_hint(folder)}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{path} is not valid JSON ({err}). {_rebuild_hint(folder)}") from None


def config_from_dict(cls: type, config: dict, kind: str):
    """A config dataclass ``cls`` from its config.json dict (JSON lists back to tuples); a key ``cls`` does not
    know raises a ``CheckpointError`` (the file was written by another model or another version of the course)."""
    unknown = set(config) - set(cls.__dataclass_fields__)
    if unknown:
        raise CheckpointError(f"config.json has entries a {kind!r} model does not know: {sorted(unknown)}. "
                              "It was written by another model or another version of the course.")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items()})


def load_weights(folder: str | Path, kind: str | None = None, device: str | torch.device = "cpu"
                 ) -> tuple[dict[str, torch.Tensor], dict]:
    """Return ``(state_dict, config)`` from a checked model folder."""
    folder = data_path(_folder(folder))
    config = read_config(folder, kind)
    check_safetensors(folder)
    return load_file(folder / "model.safetensors", device=str(device)), config


def load_model(folder: str | Path, kind: str, build, device: str | torch.device | None = None) -> torch.nn.Module:
    """Checked load of a shipped model: ``build(config) -> nn.Module``, then its weights, in eval mode.

    Weights that do not fit the module built from ``config.json`` (another size or architecture)
    raise a ``CheckpointError`` that says how to rebuild, instead of torch's long key listing.
    """
    state, config = load_weights(folder, kind=kind)
    model = build(config)
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        raise CheckpointError(f"The weights in {data_path(folder)} do not fit its config.json (another model "
                              f"size?). Rebuild with `python -m course_utils.train {kind}`.\n{err}") from None
    return model.to(device or pick_device()).eval()
