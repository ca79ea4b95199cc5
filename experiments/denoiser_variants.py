"""Train a variant of the shipped pixel-denoiser recipe and measure how far its samples are from renders.

    .venv/bin/python experiments/denoiser_variants.py --channels 32 64 128          # ≈ 57 min + 9 min on 2 cores
    .venv/bin/python experiments/denoiser_variants.py --p-all 0.2 --seed 1 --out runs/variants/p02-s1
    .venv/bin/python experiments/denoiser_variants.py --steps 3 --n 16 --no-record-eval   # a smoke run, seconds

Each option changes one field of ``course_utils.pixel_unet.Recipe``; the rest stays the shipped recipe.
Training is the course's own ``recipes.pixel_unet.build`` (the code ``make models`` runs), with its N = 1000
evaluation; then ``unconditional_gap.measure`` draws N null-label and N training-mix samples (DDIM-25).
A folder that already holds this variant's trained weights (same recipe, same network) is measured
again, not retrained. One row per variant is added to experiments/denoiser_variants/denoiser_variants.json.

One run says little on its own: two seeds of the shipped recipe gave null-label judge-FID 4.54 and
6.57 (N = 500), so compare variants over several training seeds; ``sampling_spread.py --models <folders>``
gives each one's spread over sampling seeds (about ±0.25 for the shipped model).

Before trying a longer --ema: the course's EMA (course_utils/training.py) starts at the random initial
weights with a constant decay d, so after N steps d^N of them is still in it (0.018 for 0.999 and
4000 steps, 0.135 for 0.9995). Read the 0.9995 row with that in mind: it measures that loop's EMA,
not a longer averaging window as such.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, replace
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))             # _common: saving results with machine and command

from _common import command, device_label, save  # noqa: E402
from unconditional_gap import measure  # noqa: E402

from course_utils.denoiser import load_denoiser  # noqa: E402
from course_utils.recipes import pixel_unet  # noqa: E402
from course_utils.paths import DATA_DIR  # noqa: E402

NAME = "denoiser_variants"


def variant(args: argparse.Namespace) -> pixel_unet.Recipe:
    """The shipped recipe with the fields given on the command line changed."""
    recipe = pixel_unet.RECIPE
    changes = {k: v for k, v in {"p_all": args.p_all, "ema_decay": args.ema, "seed": args.seed,
                                 "steps": args.steps}.items() if v is not None}
    if args.channels:
        changes["model"] = replace(recipe.model, block_out_channels=tuple(args.channels))
    return replace(recipe, **changes)


def already_trained(out: Path, recipe: pixel_unet.Recipe) -> bool:
    """True when ``out`` holds weights trained with exactly this recipe and network."""
    if not (out / "record.json").exists() or not (out / "model.safetensors").exists():
        return False
    record, config = (json.loads((out / f).read_text()) for f in ("record.json", "config.json"))
    # Older records hold a run's own seed and steps only in "seed" and "steps" (their "recipe" has the
    # shipped values), so those two are compared there, for old and new records alike.
    def fixed(r: dict) -> dict:
        return {k: v for k, v in r.items() if k not in ("model", "seed", "steps")}
    return (fixed(record.get("recipe", {})) == fixed(asdict(recipe)) and record.get("seed") == recipe.seed
            and record.get("steps") == recipe.steps
            and config.get("block_out_channels") == list(recipe.model.block_out_channels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--channels", type=int, nargs="+", help="UNet block_out_channels (shipped: 32 64 64)")
    parser.add_argument("--p-all", type=float, help="share of rows trained with no label (shipped: 0.1)")
    parser.add_argument("--ema", type=float, help="EMA decay (shipped: 0.999)")
    parser.add_argument("--seed", type=int, help="training seed (shipped: 0)")
    parser.add_argument("--steps", type=int, help="training steps (shipped: 4000)")
    parser.add_argument("--n", type=int, default=500, help="samples per set for the gap measurement")
    parser.add_argument("--no-record-eval", action="store_true",
                        help="skip build's N = 1000 evaluation (minutes); for smoke runs")
    parser.add_argument("--out", type=Path, default=Path("runs/variants/latest"), help="folder for the weights")
    args = parser.parse_args()
    recipe = variant(args)
    if already_trained(args.out, recipe):
        print(f"{args.out} already holds this variant; measuring it again")
    elif args.out.resolve().is_relative_to(DATA_DIR.resolve()):
        raise SystemExit(f"{args.out} is inside data/, which holds the shipped checkpoints, and does not hold this "
                         "variant: choose another --out (default runs/variants/latest); `make models` rebuilds data/.")
    else:
        pixel_unet.build(args.out, run_dir=args.out / "run", recipe=recipe, command=command(),
                       evaluate_after=not args.no_record_eval)
    record = json.loads((args.out / "record.json").read_text())
    gap = measure(load_denoiser(args.out), args.n, seed=5)
    fid = {r["samples"]: r.get("judge_fid") for r in gap["rows"]}
    row = {"recipe": {**{k: v for k, v in asdict(recipe).items() if k != "model"},
                      "block_out_channels": list(recipe.model.block_out_channels)},
           "parameters": record["parameters"], "seconds_per_step": record["seconds_per_step"],
           "train_minutes": round(record["seconds_per_step"] * recipe.steps / 60, 1), "n": args.n,
           "judge_fid_null": fid["null label"], "judge_fid_training_mix": fid["training mix"],
           "judge_fid_floor": fid["real renders (seed 2)"],
           "null_over_floor": round(fid["null label"] / fid["real renders (seed 2)"], 2),
           "mix_distance_null": gap["rows"][1]["mix_distance"], "record_metrics_n1000": record.get("metrics")}
    previous = json.loads((HERE / NAME / f"{NAME}.json").read_text())["rows"] if (HERE / NAME / f"{NAME}.json").exists() else []
    rows = [r for r in previous if r["recipe"] != row["recipe"] or r["n"] != row["n"]] + [row]
    print(table := format_table(rows))
    print("wrote", save(NAME, folder=HERE / NAME, data={"device": device_label(), "rows": rows, "table": table}))


def format_table(rows: list[dict]) -> str:
    """One line per variant: what it changed, its cost, and its judge-FIDs (N samples each)."""
    lines = [f"{'channels':<16}{'p_all':>6}{'ema':>7}{'seed':>5}{'steps':>6}{'params':>10}{'min':>6}"
             f"{'null':>7}{'mix':>7}{'floor':>7}{'null/floor':>11}"]
    for r in rows:
        c = r["recipe"]
        lines.append(f"{str(tuple(c['block_out_channels'])):<16}{c['p_all']:>6}{c['ema_decay']:>7}{c['seed']:>5}"
                     f"{c['steps']:>6}{r['parameters']:>10,}{r['train_minutes']:>6}{r['judge_fid_null']:>7.2f}"
                     f"{r['judge_fid_training_mix']:>7.2f}{r['judge_fid_floor']:>7.2f}{r['null_over_floor']:>11.2f}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
