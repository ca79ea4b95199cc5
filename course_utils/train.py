"""One command to (re)build every shipped model:

    python -m course_utils.train <recipe> [--steps N] [--out DIR] [--run-dir DIR]
    python -m course_utils.train all          # what `make models` runs
    python -m course_utils.train --list

A recipe is a function ``build(out_dir, *, run_dir, steps, seed) -> dict`` in the module that
defines the model; it trains with ``training.train`` (checkpointing into ``run_dir``, so a killed run
resumes where it stopped) and saves the result with ``checkpoints.save_model``. The registry below
names them as "module:function" so that importing this file stays cheap.
"""
from __future__ import annotations

import argparse
import importlib
import shlex
import shutil
import sys
import time
from pathlib import Path

from .checkpoints import DATA_DIR
from .distributed import is_main_process

__all__ = ["RECIPES", "build", "main"]

#: recipe name → "module:function" (the folder it writes is data/<recipe name>).
RECIPES: dict[str, str] = {
    "judge": "course_utils.judge:build",
    "pixel-unet": "course_utils.denoiser:build",
    "vae": "course_utils.vae:build",
    "gan": "course_utils.gan:build",
    "storybook-sd": "course_utils.text_to_image_train:build",
}

RUNS_DIR = Path(__file__).resolve().parent.parent / "runs"


def build(name: str, *, out_dir: Path | None = None, run_dir: Path | None = None,
          steps: int | None = None, seed: int | None = None, fresh: bool = False) -> dict:
    """Run recipe ``name``; returns its record (also written to ``out_dir/record.json``)."""
    if name not in RECIPES:
        raise SystemExit(f"unknown recipe {name!r}; known recipes: {', '.join(RECIPES)} (or 'all').")
    module_name, func_name = RECIPES[name].split(":")
    recipe = getattr(importlib.import_module(module_name), func_name)
    out_dir = Path(out_dir) if out_dir else DATA_DIR / name
    run_dir = Path(run_dir) if run_dir else RUNS_DIR / name
    if fresh and run_dir.exists() and is_main_process():
        shutil.rmtree(run_dir)                      # start from step 0, not from an old run's checkpoint
    elif any(run_dir.glob("**/checkpoint.safetensors")):
        print(f"{name}: resuming from the checkpoints in {run_dir} (a finished run trains no further; "
              f"pass --fresh to start again from step 0)")
    kwargs = {"run_dir": run_dir, "steps": steps}
    if seed is not None:
        kwargs["seed"] = seed
    t0 = time.perf_counter()
    record = recipe(out_dir, **kwargs)
    print(f"{name}: built {out_dir} in {time.perf_counter() - t0:.0f} s")
    return record


def command_line() -> str:
    """The command that is running now, as a learner would type it (recorded in record.json)."""
    return "python -m course_utils.train " + " ".join(shlex.quote(a) for a in sys.argv[1:])


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
    args = parser.parse_args(argv)
    if args.list or not args.recipe:
        print("\n".join(RECIPES))
        return 0
    names = list(RECIPES) if args.recipe == "all" else [args.recipe]
    for name in names:
        build(name, out_dir=args.out, run_dir=args.run_dir, steps=args.steps, seed=args.seed, fresh=args.fresh)
    return 0


if __name__ == "__main__":
    sys.exit(main())
