"""Where the pixel denoiser's unconditional samples fall short of real renders.

    .venv/bin/python experiments/unconditional_gap.py [--model data/pixel-unet] [--n 500]

The same distribution p(x) is drawn two ways with DDIM-25, both scored against N renders (seed 1):
  null label      x ~ p(x | ∅): the unconditional branch, trained on the rows with no label (P_ALL);
  training mix    c from the training compositions (the labels of a second set of renders, seed 2),
                  then x ~ p(x | c) at guidance 1.
The gap between the two is what the null condition still lacks. Simple image statistics say how the
samples differ: per-channel mean, std, ``compare.sharpness`` (mean |Laplacian|: fine detail; blur
lowers it) and the share of saturated pixels (|x| > 0.99; the renders have flat, pure colours).
The judge also reads each image's subject, action and place; ``mix_distance`` is, per attribute, the
total variation distance between the shares it reads in a set and in the reference renders (0 = the
same mix of subjects, actions, places; renders of another seed give about 0.05 at N = 500). The judge
misreads unclear generated scenes too, so the null-label set is also compared with the training-mix set:
what is left between those two is the mix the null label draws, not the judge's misreadings.
"""
from __future__ import annotations

import argparse

import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "benchmarks"))             # _common: saving results with machine and command

from _common import device_label, save  # noqa: E402

from course_utils.storybook import reference_renders  # noqa: E402
from course_utils import metrics, storybook  # noqa: E402
from course_utils.compare import sharpness  # noqa: E402
from course_utils.denoiser import load_denoiser  # noqa: E402
from course_utils.evaluation import generate_in_batches  # noqa: E402

NAME = "unconditional_gap"


def image_statistics(x: torch.Tensor) -> dict:
    """Mean and std per channel, sharpness and saturated share of images [N, 3, H, W] in [-1, 1]."""
    return {"mean_rgb": [round(v, 3) for v in x.mean((0, 2, 3)).tolist()],
            "std_rgb": [round(v, 3) for v in x.std((0, 2, 3)).tolist()],
            "sharpness": round(sharpness(x), 4),
            "saturated_share": round((x.abs() > 0.99).float().mean().item(), 4)}


def read_shares(x: torch.Tensor) -> dict[str, dict[str, float]]:
    """The share of images in x whose subject, action and place the judge reads as each word."""
    read = metrics.judge_labels(x)
    return {attribute: {word: round((read[:, k] == v).float().mean().item(), 3) for v, word in enumerate(vocab)}
            for k, (attribute, vocab) in enumerate(zip(("subject", "action", "place"),
                                                       (storybook.SUBJECTS, storybook.ACTIONS, storybook.PLACES)))}


def mix_distance(shares: dict, reference: dict) -> list[float]:
    """Per attribute (subject, action, place): ½ Σ_v |share of word v in a set − its share in reference|."""
    return [round(0.5 * sum(abs(shares[a][w] - reference[a][w]) for w in shares[a]), 3) for a in shares]


def furthest_words(shares: dict, reference: dict) -> str:
    """The word the set holds most too much of, and the one it holds most too little of."""
    diffs = [(shares[a][w] - reference[a][w], w) for a in shares for w in shares[a]]
    (low, low_w), (high, high_w) = min(diffs), max(diffs)
    return (f"most too many: {high_w} {shares_of(shares, high_w):.0%} vs {shares_of(reference, high_w):.0%}; "
            f"most too few: {low_w} {shares_of(shares, low_w):.0%} vs {shares_of(reference, low_w):.0%}")


def shares_of(shares: dict, word: str) -> float:
    """The share of ``word`` in ``shares`` (words differ across subjects, actions and places)."""
    return next(s[word] for s in shares.values() if word in s)


def measure(model, n: int, seed: int) -> dict:
    """Draw N null-label and N training-mix samples (DDIM-25); score them and N renders of seed 2 against
    N renders of seed 1: ``{"rows": [...], "null_vs_training_mix": {...}}``."""
    real, other, other_labels = reference_renders(n, 0, model.config.sample_size)
    sets = {"real renders (seed 2)": other,
            "null label": generate_in_batches(model, "DDIM-25", n=n, seed=seed),
            "training mix": generate_in_batches(model, "DDIM-25", labels=other_labels, seed=seed)}
    reference = read_shares(real)
    rows = [{"samples": name, "judge_fid": round(metrics.judge_fid(real, x), 3),
             "coverage": round(metrics.coverage(x), 3), "read_shares": read_shares(x), **image_statistics(x)}
            for name, x in sets.items()]
    for r in rows:
        r["mix_distance"] = mix_distance(r["read_shares"], reference)
    rows.append({"samples": "real renders (seed 1), the reference", **image_statistics(real), "read_shares": reference})
    # The judge also misreads unclear generated scenes, told labels or not. Against the training-mix set
    # (same network, same labels as the renders) only what the null label changes is left: its mix.
    null, told = rows[1]["read_shares"], rows[2]["read_shares"]
    return {"rows": rows, "null_vs_training_mix": {"mix_distance": mix_distance(null, told),
                                                   "furthest_words": furthest_words(null, told)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="pixel-unet", help="checkpoint folder (default: the shipped one)")
    parser.add_argument("--n", type=int, default=500, help="samples per set (and real renders)")
    parser.add_argument("--seed", type=int, default=5, help="sampling seed (batch i uses seed + i)")
    args = parser.parse_args()
    result = measure(load_denoiser(args.model), args.n, args.seed)
    rows, reference = result["rows"], result["rows"][-1]["read_shares"]
    print(f"N = {args.n}, DDIM-25, model {args.model}; judge-FID against renders of seed 1")
    print(f"{'':<38}{'judge-FID':>10}{'coverage':>10}{'sharpness':>11}{'saturated':>11}  mean RGB"
          "               mix distance (subject, action, place)")
    for r in rows:
        fid = f"{r['judge_fid']:>10.2f}{r['coverage']:>10.3f}" if "judge_fid" in r else " " * 20
        print(f"{r['samples']:<38}{fid}{r['sharpness']:>11.3f}{r['saturated_share']:>11.3f}  "
              f"{str(r['mean_rgb']):<24}{r.get('mix_distance', '')}")
    print("What the judge reads in each set, against the reference renders:")
    for r in rows[:-1]:
        print(f"  {r['samples']:<22} {furthest_words(r['read_shares'], reference)}")
    null_vs_told = result["null_vs_training_mix"]
    print(f"null label against training mix: mix distance {null_vs_told['mix_distance']}; "
          f"{null_vs_told['furthest_words']}")
    path = save(NAME, folder=HERE / NAME, data={"device": device_label(), "model": str(args.model), "n": args.n, "seed": args.seed, **result})
    print("wrote", path)


if __name__ == "__main__":
    main()
