"""Which guidance keeps held-out adherence AND lets one prompt's samples vary across seeds as the renders do?

    .venv/bin/python experiments/guidance_variety.py [--held-out-seeds 6] [--seen 12] [--seen-seeds 4]
        [--squirrel-seeds 8] [--steps 25] [--seed 700000] [--candidates cond cfg:1.5 … interval:7.5:80:799 …]

Every candidate draws the same images: the 12 held-out compositions × ``--held-out-seeds`` seeds, ``--seen``
training compositions (evenly spread over the 108) × ``--seen-seeds`` seeds, and "squirrel fishing by a river"
× ``--squirrel-seeds`` seeds, the first three being notebook 07's flagship seeds 934743, 656232 and 545488.
Image j of a prompt uses seed ``--seed + 1000 · prompt index + j`` (``text_to_image.initial_latents``), so the
candidates differ only in their guidance. A candidate is written ``cond`` (w = 1: the conditional model
alone), ``cfg:W`` (classifier-free guidance at every step) or ``interval:W:T_LO:T_HI`` (guidance only for
timesteps T_LO ≤ t ≤ T_HI, the conditional prediction elsewhere: ``guidance.interval_guided_denoise``);
``renders`` scores fresh renders (seeds from ``--seed + 2``) in their place: the world's own figures.

For each it prints the judge's adherence ("all" three words read right) per group and the seed variation
(``metrics.seed_variation``: the mean distance between two samples of one prompt over that between two
fresh renders of the same composition, 16 px pixels, and in judge features), over the held-out and seen
prompts together, over the 8 squirrel seeds, and over the three flagship seeds alone. The renders: 8 fresh
128 px renders of each composition (seeds from ``--seed + 1``). Writes
experiments/guidance_variety/guidance_variety.json. About 10 minutes on 2 cores at the defaults.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))             # _common: saving results with machine and command

from _common import device_label, save  # noqa: E402

from course_utils import storybook  # noqa: E402
from course_utils.metrics import adherence, seed_variation  # noqa: E402
from course_utils.pipelines import load_text_to_image  # noqa: E402
from course_utils.seeding import make_generator  # noqa: E402
from course_utils.text_to_image import initial_latents, text_to_image_by_hand  # noqa: E402

NAME = "guidance_variety"
FLAGSHIP_SEEDS = (934743, 656232, 545488)            # notebook 07's three squirrel seeds
SQUIRREL = ("squirrel", "fishing", "by a river")
RENDERS_PER_COMPOSITION = 8
DEFAULT_CANDIDATES = ("cond", "cfg:1.5", "cfg:3", "cfg:5", "cfg:7.5", "interval:7.5:80:799", "interval:10:80:799",
                      "interval:7.5:0:599", "interval:10:0:599", "interval:7.5:0:399", "interval:10:0:399")


def parse_candidate(text: str) -> dict:
    """"cond" | "cfg:W" | "interval:W:T_LO:T_HI" | "renders" → {"name", "w", "interval" (None: every step)}.
    "renders" is the world's own score: fresh renders of each row's composition (other seeds) in place of samples."""
    parts = text.split(":")
    try:
        if parts == ["renders"]:
            return {"name": text, "w": None, "interval": None}
        if parts == ["cond"]:
            return {"name": text, "w": 1.0, "interval": None}
        if parts[0] == "cfg" and len(parts) == 2:
            return {"name": text, "w": float(parts[1]), "interval": None}
        if parts[0] == "interval" and len(parts) == 4:
            return {"name": text, "w": float(parts[1]), "interval": (float(parts[2]), float(parts[3]))}
    except ValueError:
        pass
    raise ValueError(f"a candidate is 'cond', 'cfg:W' or 'interval:W:T_LO:T_HI' (e.g. interval:7.5:80:799), got {text!r}.")


def plan(held_out_seeds: int, seen: int, seen_seeds: int, squirrel_seeds: int, seed: int) -> list[dict]:
    """One row per image: {"group", "composition", "seed"}; image j of prompt p has seed ``seed + 1000 p + j``,
    except the squirrel's first three, which are the flagship seeds."""
    train = storybook.compositions("train")
    prompts = ([("held_out", c, held_out_seeds) for c in storybook.compositions("held_out")]
               + [("seen", train[i * len(train) // seen], seen_seeds) for i in range(seen)]
               + [("squirrel", SQUIRREL, squirrel_seeds)])
    rows = []
    for p, (group, comp, count) in enumerate(prompts):
        seeds = [seed + 1000 * p + j for j in range(count)]
        if group == "squirrel":
            seeds[:3] = FLAGSHIP_SEEDS[:count]
        rows += [{"group": group, "composition": comp, "seed": s} for s in seeds]
    return rows


def draw(pipe, rows: list[dict], candidate: dict, steps: int, batch_size: int = 32) -> torch.Tensor:
    """The candidate's images [N, 3, 128, 128] in [-1, 1], one per row, in batches."""
    if candidate["name"] == "renders":
        seeds = torch.randint(0, 2**62, (len(rows),), generator=make_generator(rows[0]["seed"] + 2)).tolist()
        return storybook.render_batch([r["composition"] for r in rows], seeds, size=128)
    out = []
    for i in range(0, len(rows), batch_size):
        batch = rows[i:i + batch_size]
        images = text_to_image_by_hand(
            pipe, [storybook.caption(*r["composition"]) for r in batch], generator=make_generator(0),
            num_inference_steps=steps, guidance_scale=candidate["w"], guidance_interval=candidate["interval"],
            latents=initial_latents(pipe, [r["seed"] for r in batch]))
        out.append(images * 2 - 1)
    return torch.cat(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--held-out-seeds", type=int, default=6)
    parser.add_argument("--seen", type=int, default=12)
    parser.add_argument("--seen-seeds", type=int, default=4)
    parser.add_argument("--squirrel-seeds", type=int, default=8)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--seed", type=int, default=700_000)
    parser.add_argument("--candidates", nargs="+", default=list(DEFAULT_CANDIDATES))
    parser.add_argument("--name", default=NAME, help="the result file's name (experiments/guidance_variety/NAME.json)")
    args = parser.parse_args()
    candidates = [parse_candidate(c) for c in args.candidates]
    pipe = load_text_to_image(device="cpu")
    rows = plan(args.held_out_seeds, args.seen, args.seen_seeds, args.squirrel_seeds, args.seed)
    comps = list(dict.fromkeys(r["composition"] for r in rows))
    render_comps = [c for c in comps for _ in range(RENDERS_PER_COMPOSITION)]
    render_seeds = torch.randint(0, 2**62, (len(render_comps),), generator=make_generator(args.seed + 1)).tolist()
    renders = storybook.render_batch(render_comps, render_seeds, size=128)
    groups = [storybook.caption(*r["composition"]) for r in rows]
    render_groups = [storybook.caption(*c) for c in render_comps]
    idx = {g: [i for i, r in enumerate(rows) if r["group"] == g] for g in ("held_out", "seen", "squirrel")}
    prompts_idx = idx["held_out"] + idx["seen"]
    flag = idx["squirrel"][:3]
    sq = storybook.caption(*SQUIRREL)
    sq_renders = [i for i, g in enumerate(render_groups) if g == sq]
    print(f"{len(rows)} images per candidate ({len(idx['held_out'])} held-out, {len(idx['seen'])} seen, "
          f"{len(idx['squirrel'])} squirrel), {args.steps} steps, seeds from {args.seed}; "
          f"{RENDERS_PER_COMPOSITION} renders per composition")
    print(f"{'candidate':<20} {'held-out':>8} {'seen':>6} {'squirrel':>8} {'var px':>7} {'var judge':>9} "
          f"{'sq var px':>9} {'flagship px':>11} {'s/img':>6}", flush=True)
    results = []
    for cand in candidates:
        t0 = time.perf_counter()
        images = draw(pipe, rows, cand, args.steps)
        seconds = (time.perf_counter() - t0) / len(rows)
        read = {g: adherence(images[i], [groups[k] for k in i])["all"] for g, i in idx.items()}
        var = {space: seed_variation(images[prompts_idx], [groups[k] for k in prompts_idx], renders, render_groups,
                                     space=space) for space in ("pixels", "judge")}
        var_sq = seed_variation(images[idx["squirrel"]], [sq] * len(idx["squirrel"]), renders[sq_renders],
                                [sq] * len(sq_renders))
        var_flag = seed_variation(images[flag], [sq] * 3, renders[sq_renders], [sq] * len(sq_renders))
        row = {**cand, "adherence": {g: round(v, 4) for g, v in read.items()},
               "seed_variation_pixels": round(var["pixels"], 3), "seed_variation_judge": round(var["judge"], 3),
               "squirrel_seed_variation_pixels": round(var_sq, 3), "flagship_seed_variation_pixels": round(var_flag, 3),
               "seconds_per_image": round(seconds, 3)}
        results.append(row)
        print(f"{cand['name']:<20} {read['held_out']:>8.1%} {read['seen']:>6.1%} {read['squirrel']:>8.1%} "
              f"{var['pixels']:>7.2f} {var['judge']:>9.2f} {var_sq:>9.2f} {var_flag:>11.2f} {seconds:>6.2f}",
              flush=True)
        # saved after every candidate, so a run cut short keeps what it measured
        path = save(args.name, {"device": device_label(), "steps": args.steps, "seed": args.seed,
                                "images_per_candidate": len(rows), "n": {g: len(i) for g, i in idx.items()},
                                "renders_per_composition": RENDERS_PER_COMPOSITION, "rows": results},
                    folder=HERE / NAME)
    print("wrote", path)


if __name__ == "__main__":
    main()
