"""How should notebook 11's adapters be trained to reach the new animal without drift, and how fast?

    OMP_NUM_THREADS=1 .venv/bin/python experiments/personalise.py --method lora --steps 300 --lr 5e-3 [--prior 1]

Trains one setting of ``personalise.teach`` on the eight photos (from data/storybook-sd), then measures it with
``evaluation.personal_report`` on validation seeds (80,000 onwards; the benchmark's are 70,000): success
(the recogniser reads the hedgehog on the 14 unseen scenes, ``--per-scene`` seeds each), kept (the judge reads
the action and place), adherence on the 108 seen compositions against the base model's (drift), and the
training minutes. Each run adds one row to experiments/personalise/personalise.json; the README tabulates them.
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
from course_utils import recogniser  # noqa: E402
from course_utils.evaluation import personal_report  # noqa: E402
from course_utils.pipelines import load_text_to_image  # noqa: E402

NAME = "personalise"
SEED = 80_000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--method", choices=P.METHODS, required=True)
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--lr", type=float, required=True)
    parser.add_argument("--prior", type=float, default=0.0, help="prior-preservation weight (LoRA, DreamBooth)")
    parser.add_argument("--rank", type=int, default=4)
    parser.add_argument("--per-scene", type=int, default=2)
    args = parser.parse_args()
    recognise = recogniser.load().predict
    path = HERE / NAME / f"{NAME}.json"
    rows = json.loads(path.read_text())["rows"] if path.is_file() else []
    if not any(r["method"] == "base" for r in rows):
        base = load_text_to_image(device="cpu")
        P.allow_word(base, P.IDENTIFIER)
        rows.append({"method": "base", **personal_report(base, P.IDENTIFIER, recognise, per_scene=args.per_scene,
                                                          seed=SEED)})
    base_row = next(r for r in rows if r["method"] == "base")
    base_seen = base_row["seen_adherence"]
    pipe = load_text_to_image(device="cpu")
    how = P.Teaching(args.method, steps=args.steps, lr=args.lr, rank=args.rank, prior_weight=args.prior)
    t0 = time.perf_counter()
    P.teach(pipe, how, progress=False)
    minutes = (time.perf_counter() - t0) / 60
    word = P.TI_TOKEN if args.method == "textual_inversion" else P.IDENTIFIER
    report = personal_report(pipe, word, recognise, per_scene=args.per_scene, seed=SEED)
    report["sample_steps"] = report.pop("steps")
    row = {**report, "method": args.method, "steps": args.steps, "lr": args.lr, "prior": args.prior, "rank": args.rank,
           "train_minutes": round(minutes, 2),
           "drift_points": round(100 * (base_seen - report["seen_adherence"]), 1)}
    rows = json.loads(path.read_text())["rows"] if path.is_file() else rows[:1]     # runs beside this one
    rows = rows if any(r["method"] == "base" for r in rows) else [{"method": "base", **base_row}, *rows]
    rows.append(row)
    print(json.dumps(row))
    save(NAME, {"device": device_label(), "rows": rows}, folder=HERE / NAME)


if __name__ == "__main__":
    main()
