"""The workshop: how every shipped model is trained, one module per model, and the one record writer.

    python -m course_utils.train <recipe> [--steps N] [--seed S] [--out DIR] [--run-dir DIR] [--fresh]
    python -m course_utils.train storybook-sd --from-autoencoder DIR   # skip its autoencoder stage: start from DIR
    python -m course_utils.train all          # what `make models` runs
    python -m course_utils.train --list

A recipe is a function ``build(out_dir, *, run_dir, steps, seed) -> dict`` that trains with the one
training loop (``course_utils.training.train``, checkpointing into ``run_dir`` so a killed run resumes
where it stopped), saves the model with its ``record.json`` (``recipes/record.py``) and returns the
record. Notebooks never import this package: they load what it made from ``data/``.

    recipe          module                   writes
    judge           recipes/judge.py         data/judge
    pixel-unet      recipes/pixel_unet.py    data/pixel-unet
    vae             recipes/vae.py           data/vae
    gan             recipes/gan.py           data/gan
    storybook-sd    recipes/storybook_sd.py  data/storybook-sd
    storybook-sd-decoder  recipes/sd_decoder.py  data/storybook-sd (its decoder stage alone, on the shipped model)
    recogniser      recipes/recogniser.py    data/recogniser (is it the new animal, the hedgehog?)
    personal-ti, personal-lora, personal-dreambooth, personal-dreambooth-no-prior
                    recipes/personal.py      data/personal-* (notebook 11's adapters, on data/storybook-sd)
"""
from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path
from typing import Callable

from ..checkpoints import CheckpointError
from ..distributed import is_main_process
from ..paths import DATA_DIR, RUNS_DIR
from . import gan, judge, personal, pixel_unet, recogniser, sd_decoder, storybook_sd, vae

__all__ = ["RECIPES", "build", "main"]

#: recipe name → its build function (the folder it writes is data/<recipe name>), in the order `all` runs them.
RECIPES: dict[str, Callable[..., dict]] = {
    "judge": judge.build,
    "pixel-unet": pixel_unet.build,
    "vae": vae.build,
    "gan": gan.build,
    "storybook-sd": storybook_sd.build,
    "storybook-sd-decoder": sd_decoder.build,
    "recogniser": recogniser.build,
    "personal-ti": personal.build_ti,
    "personal-lora": personal.build_lora,
    "personal-dreambooth": personal.build_dreambooth,
    "personal-dreambooth-no-prior": personal.build_dreambooth_no_prior,
}
#: recipes that rework another recipe's folder rather than writing their own (and that `all` skips: the
#: full storybook-sd build already runs the decoder stage)
FOLDER = {"storybook-sd-decoder": "storybook-sd"}


def _unknown(name: str) -> SystemExit:
    return SystemExit(f"unknown recipe {name!r}; known recipes: {', '.join(RECIPES)} (or 'all').")


def check_folders(name: str, out_dir: Path, run_dir: Path) -> None:
    """Refuse, before any training, an output or run folder that cannot be written (a file, not a folder)."""
    for what, folder in (("output folder", out_dir), ("run folder", run_dir)):
        existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
        if existing is not None and not existing.is_dir():
            raise SystemExit(f"{name}: the {what} {folder} cannot be made: {existing} is a file. Pick another "
                             f"path with --{'out' if what == 'output folder' else 'run-dir'}.")


def build(name: str, *, out_dir: Path | None = None, run_dir: Path | None = None,
          steps: int | None = None, seed: int | None = None, fresh: bool = False,
          from_autoencoder: Path | None = None) -> dict:
    """Run recipe ``name``; returns its record (also written to ``out_dir/record.json``)."""
    if name not in RECIPES:
        raise _unknown(name)
    if from_autoencoder is not None and name != "storybook-sd":
        raise SystemExit(f"--from-autoencoder is an option of storybook-sd only (it skips that recipe's autoencoder "
                         f"stage), not of {name}.")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 1):
        raise SystemExit(f"--steps must be a whole number ≥ 1, got {steps!r}.")
    out_dir = Path(out_dir) if out_dir else DATA_DIR / FOLDER.get(name, name)
    run_dir = Path(run_dir) if run_dir else RUNS_DIR / name
    check_folders(name, out_dir, run_dir)
    if fresh and run_dir.exists() and is_main_process():
        shutil.rmtree(run_dir)                      # start from step 0, not from an old run's checkpoint
    elif any(run_dir.glob("**/checkpoint.safetensors")):
        print(f"{name}: resuming from the checkpoints in {run_dir} (a finished run trains no further; "
              f"pass --fresh to start again from step 0)")
    kwargs = {"run_dir": run_dir, "steps": steps}
    if seed is not None:
        kwargs["seed"] = seed
    if from_autoencoder is not None:
        kwargs["from_autoencoder"] = Path(from_autoencoder)
    t0 = time.perf_counter()
    record = RECIPES[name](out_dir, **kwargs)
    print(f"{name}: built {out_dir} in {time.perf_counter() - t0:.0f} s")
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m course_utils.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", nargs="?", help="recipe name, or 'all'")
    parser.add_argument("--list", action="store_true", help="list the recipes and exit")
    parser.add_argument("--steps", type=int, help="override the number of training steps")
    parser.add_argument("--seed", type=int, help="override the seed")
    parser.add_argument("--out", type=Path, help="output folder (default data/<recipe>)")
    parser.add_argument("--run-dir", type=Path, help="checkpoint folder (default runs/<recipe>)")
    parser.add_argument("--fresh", action="store_true", help="delete the run's old checkpoints and train from step 0")
    parser.add_argument("--from-autoencoder", type=Path, metavar="DIR",
                        help="storybook-sd only: take stage 2's autoencoder from DIR (an earlier build's "
                             "vae_before_subject_finetune) instead of training it")
    args = parser.parse_args(argv)
    if args.list or not args.recipe:
        print("\n".join(RECIPES))
        return 0
    if args.recipe != "all" and args.recipe not in RECIPES:
        raise _unknown(args.recipe)
    names = [n for n in RECIPES if n not in FOLDER] if args.recipe == "all" else [args.recipe]
    for name in names:
        try:
            build(name, out_dir=args.out, run_dir=args.run_dir, steps=args.steps, seed=args.seed, fresh=args.fresh,
                  from_autoencoder=args.from_autoencoder)
        except CheckpointError as err:   # its message names the file and the fix: print it, without a traceback
            raise SystemExit(f"{name}: {err}") from None
    return 0
