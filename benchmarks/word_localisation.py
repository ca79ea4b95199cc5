"""Do the words of a prompt look at what they name? Cross-attention of the course's text-to-image model on
renders whose masks the renderer knows (``course_utils.evaluation.word_localisation``).

    .venv/bin/python benchmarks/word_localisation.py [--n 240] [--resolution coarsest|finest]

For each word, the share of its attention mass inside the region it names (the subject word: the animal;
the action word: its prop; the place's noun: the place's region), against that region's share of the
image: a ratio of 1 is attention spread evenly, ≥ 2 a word that localises (issue #18 asks ≥ 2 for the
subject and reports the place). Seen compositions and held-out ones are measured apart. Writes
benchmarks/results/word_localisation.json.
"""
from __future__ import annotations

import argparse
import time

from _common import device_label, save

from course_utils.evaluation import word_localisation
from course_utils.pipelines import load_text_to_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=240, help="renders per split (≥ 100 for the issue's figure)")
    parser.add_argument("--resolution", choices=("coarsest", "finest"), default="coarsest")
    parser.add_argument("--model", default="storybook-sd")
    args = parser.parse_args()
    pipe = load_text_to_image(args.model)
    rows = {}
    print(f"{'split':<9} {'word':<8} {'mass in region':>15} {'region area':>12} {'ratio':>6}   ({args.n} renders, "
          f"t = 250, 500, 750)")
    for split in ("train", "held_out"):
        t0 = time.perf_counter()
        rows[split] = word_localisation(pipe, n=args.n, split=split, resolution=args.resolution)
        rows[split]["seconds"] = round(time.perf_counter() - t0, 1)
        for name in ("animal", "prop", "place"):
            r = rows[split][name]
            print(f"{split:<9} {name:<8} {r['mass']:>15.3f} {r['area']:>12.3f} {r['ratio']:>6.2f}", flush=True)
    side = rows["train"]["map_side"]
    print(f"attention maps {side}×{side} for {rows['train']['image_side']} px images")
    print("wrote", save("word_localisation", {"device": device_label(), "model": args.model,
                                              "resolution": args.resolution, "rows": rows}))


if __name__ == "__main__":
    main()
