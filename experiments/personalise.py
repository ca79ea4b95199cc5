"""How should notebook 11's adapters be trained to reach the new animal without drift, and how fast?

    OMP_NUM_THREADS=1 .venv/bin/python experiments/personalise.py --method lora --steps 300 --lr 5e-3 [--prior 1]

Trains one setting of ``personalise.teach`` on the eight photos (from data/storybook-sd), then measures it with
``evaluation.personal_report`` on validation seeds (80,000 onwards; the benchmark's are 70,000): success
(the recogniser reads the hedgehog on the 14 unseen scenes, ``--per-scene`` seeds each), kept (the judge reads
the action and place), adherence on the 108 seen compositions against the base model's (drift), and the
training minutes. Each run adds one row to experiments/personalise/personalise.json; the README tabulates them.

    OMP_NUM_THREADS=1 .venv/bin/python experiments/personalise.py --shipped [--per-scene 4]
    OMP_NUM_THREADS=1 .venv/bin/python experiments/personalise.py --repeated-subject

asks where success is lost: the shipped adapters (data/personal-*) draw the six scenes the photos DO show, with
the same validation seeds; if they fail there as often as on the unseen scenes, the model cannot draw the
hedgehog at all (capacity, or the recogniser's reading of its pictures), not merely fail to carry it to new scenes.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))

from _common import device_label, save  # noqa: E402

from course_utils import personalise as P  # noqa: E402
from course_utils import recogniser, storybook, text_to_image  # noqa: E402
from course_utils.paths import data_path  # noqa: E402
from course_utils.evaluation import personal_report  # noqa: E402
from course_utils.pipelines import load_text_to_image  # noqa: E402

NAME = "personalise"
SEED = 80_000


LOADERS = {"personal-ti": P.load_textual_inversion, "personal-lora": P.load_lora,
           "personal-dreambooth": P.load_dreambooth, "personal-dreambooth-no-prior": P.load_dreambooth}


def photo_scenes() -> list[tuple[str, str]]:
    """The (action, place) pairs the eight photos show, each once, in the photos' order."""
    return list(dict.fromkeys((a, p) for (_, a, p), _ in storybook.YOUR_PHOTOS))


def shipped_on_photo_scenes(per_scene: int) -> list[dict]:
    """Success of the base model and of each shipped adapter on the photos' own scenes (validation seeds)."""
    recognise, rows = recogniser.load().predict, []
    scenes = [s for s in photo_scenes() for _ in range(per_scene)]
    for name in ("base", *LOADERS):
        pipe = load_text_to_image(device="cpu")
        word = P.IDENTIFIER
        if name == "base":
            P.allow_word(pipe, word)
        else:
            word = LOADERS[name](pipe, data_path(name))
        images = text_to_image.generate(pipe, P.photo_captions(word, scenes), [SEED + i for i in range(len(scenes))],
                                        guidance_scale=pipe.default_guidance, num_inference_steps=25)
        rows.append({"method": f"shipped {name}" if name != "base" else "base", "scenes": "the photos' own",
                     "success": round(float(recognise(images).float().mean()), 4), "n": len(scenes)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def repeated_subject(n: int = 16) -> list[dict]:
    """Can the base model read a caption whose subject word is repeated (as a multi-vector word makes it)? How
    many of ``n`` "squirrel … sleeping in the snow" samples (seeds 100 …) the judge reads with that action and place."""
    from course_utils.metrics import judge_labels
    pipe = load_text_to_image(device="cpu")
    rows = []
    for k in (1, 2, 4):
        prompt = " ".join(["squirrel"] * k) + " sleeping in the snow"
        images = text_to_image.generate(pipe, [prompt] * n, [100 + i for i in range(n)],
                                        guidance_scale=pipe.default_guidance, num_inference_steps=25)
        read = judge_labels(images)[:, 1:].tolist()
        ok = sum(storybook.ACTIONS[a] == "sleeping" and storybook.PLACES[p] == "in the snow" for a, p in read)
        rows.append({"prompt": prompt, "tokens": len(pipe.tokenizer.tokenize(prompt)), "kept": ok, "n": n})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", choices=P.METHODS)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--prior", type=float, default=0.0, help="prior-preservation weight (LoRA, DreamBooth)")
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--vectors", type=int, default=1, help="textual inversion: new tokens for the word")
    parser.add_argument("--init-word", default="squirrel",
                        help="textual inversion: the word whose vector the new one starts from ('mean': all words')")
    parser.add_argument("--per-scene", type=int, default=2)
    parser.add_argument("--guidance", type=float, help="sampling guidance (default: the pipeline's default_guidance)")
    parser.add_argument("--name", default=NAME, help="the result file (one base model per file)")
    parser.add_argument("--shipped", action="store_true", help="the shipped adapters on the photos' own scenes")
    parser.add_argument("--repeated-subject", action="store_true",
                        help="the base model on captions with the subject word repeated 1, 2 and 4 times")
    args = parser.parse_args()
    if args.repeated_subject:
        save(f"{NAME}_repeated_subject", {"device": device_label(), "rows": repeated_subject()}, folder=HERE / NAME)
        return
    if args.shipped:
        rows = shipped_on_photo_scenes(args.per_scene)
        save(f"{NAME}_seen", {"device": device_label(), "rows": rows}, folder=HERE / NAME)
        return
    if None in (args.method, args.steps, args.lr):
        parser.error("--method, --steps and --lr are needed to train a setting (or pass --shipped).")
    recognise = recogniser.load().predict
    path = HERE / NAME / f"{args.name}.json"
    rows = json.loads(path.read_text())["rows"] if path.is_file() else []
    base = load_text_to_image(device="cpu")
    w = base.default_guidance if args.guidance is None else args.guidance
    base_row = next((r for r in rows if r["method"] == "base" and r.get("guidance_scale", 7.5) == w), None)
    if base_row is None:                             # the base model's own row at this guidance, measured once
        P.allow_word(base, P.IDENTIFIER)
        base_row = {"method": "base", **personal_report(base, P.IDENTIFIER, recognise, per_scene=args.per_scene,
                                                         seed=SEED, guidance_scale=w)}
        rows.append(base_row)
        save(args.name, {"device": device_label(), "rows": rows}, folder=HERE / NAME)
    base_seen = base_row["seen_adherence"]
    pipe = load_text_to_image(device="cpu")
    init = None if args.init_word == "mean" else args.init_word
    how = P.Teaching(args.method, steps=args.steps, lr=args.lr, rank=args.rank, prior_weight=args.prior,
                     **({"init_word": init, "vectors": args.vectors} if args.method == "textual_inversion" else {}))
    t0 = time.perf_counter()
    P.teach(pipe, how, progress=False)
    minutes = (time.perf_counter() - t0) / 60
    word = P.ti_word(args.vectors) if args.method == "textual_inversion" else P.IDENTIFIER
    report = personal_report(pipe, word, recognise, per_scene=args.per_scene, seed=SEED, guidance_scale=w)
    report["sample_steps"] = report.pop("steps")
    row = {**report, "method": args.method, "steps": args.steps, "lr": args.lr, "prior": args.prior, "rank": args.rank,
           **({"init_word": args.init_word, "vectors": args.vectors} if args.method == "textual_inversion" else {}),
           "train_minutes": round(minutes, 2),
           "drift_points": round(100 * (base_seen - report["seen_adherence"]), 1)}
    rows = json.loads(path.read_text())["rows"]                 # with any rows a run beside this one added
    rows.append(row)
    print(json.dumps(row))
    save(args.name, {"device": device_label(), "rows": rows}, folder=HERE / NAME)


if __name__ == "__main__":
    main()
