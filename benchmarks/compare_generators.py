"""VAE, GAN and diffusion (DDIM-25, DDPM-1000) on the same data and CPU: one table.

    .venv/bin/python benchmarks/compare_generators.py [--n 500] [--ddpm-n 500] [--seed 0]

Each shipped model (data/vae, data/gan, data/pixel-unet) draws --n unconditional samples; the judge
compares them with as many fresh renders of the training split (judge-FID, lower is better) and
counts the compositions it reads among them (coverage, out of 120; the 12 held-out compositions are
never in the training data, so fresh renders reach about 0.89 at n = 500). "real renders" is the
reference row: the FID floor and the coverage ceiling at that n. DDPM-1000 costs 1000 network calls
per image (~30–60 min for 500 images on 2 cores); --ddpm-n samples fewer, and the table says so.
The table code is ``course_utils.compare.compare``, which notebook 08 runs too.

Writes benchmarks/results/compare_generators.json.
"""
from __future__ import annotations

import argparse
import time

import torch
from _common import device_label, save

from course_utils.compare import compare, format_table, shipped_contenders


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=500, help="samples per model (and real renders to compare with)")
    parser.add_argument("--ddpm-n", type=int, default=None, help="samples for DDPM-1000 (default: --n)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every model's sampling generator")
    parser.add_argument("--batch-size", type=int, default=100, help="images per sampling call")
    args = parser.parse_args()
    t0 = time.perf_counter()
    contenders = shipped_contenders(ddpm_n=args.ddpm_n)
    print(f"{len(contenders)} rows, {args.n} samples each (DDPM-1000: {args.ddpm_n or args.n}); "
          f"{torch.get_num_threads()} threads", flush=True)
    rows = compare(contenders, args.n, seed=args.seed, batch_size=args.batch_size, progress=True)
    table = format_table(rows)
    print(table)
    path = save("compare_generators", {"device": device_label(), "n": args.n, "ddpm_n": args.ddpm_n or args.n,
                                       "seed": args.seed, "batch_size": args.batch_size, "rows": rows,
                                       "table": table, "seconds": round(time.perf_counter() - t0, 1)})
    print("wrote", path)


if __name__ == "__main__":
    main()
