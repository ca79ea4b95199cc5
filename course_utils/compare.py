"""VAE, GAN and diffusion side by side: same data, same CPU, same judge.

    contenders = shipped_contenders()                 # VAE, GAN, diffusion DDIM-25, diffusion DDPM-1000
    rows = compare(contenders, n=500, seed=0)         # judge-FID, coverage, ms per image, training minutes, params
    print(format_table(rows))

A contender is a name, a ``sample(n, generator) -> images [n, 3, 32, 32]`` function and its costs. Each
is measured on ``n`` samples against ``n`` fresh renders of the training split (a "real renders" row
gives the floor FID and the ceiling coverage at that n). Notebook 08 and
``benchmarks/compare_generators.py`` both call ``compare``, so their tables are made the same way; the
stored table is read back with ``results.load("compare_generators")``. Taught in notebook 08.
"""
from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import torch

from .denoiser import generate, load_denoiser, make_sampler
from .gan import load_gan
from .metrics import coverage, judge_fid, sharpness  # noqa: F401  (sharpness: notebook 08 reads it here too)
from .paths import data_path
from .seeding import make_generator
from .storybook import sample_batch
from .vae import load_vae

__all__ = ["Contender", "count_calls", "training_minutes", "real_contender", "vae_contender", "gan_contender",
           "diffusion_contender", "shipped_contenders", "compare", "format_table", "sharpness", "COLUMNS"]

SampleFn = Callable[[int, torch.Generator], torch.Tensor]


@dataclass
class Contender:
    """One row of the table: how to draw images and what the model costs."""
    name: str
    sample: SampleFn                         # (n, generator) → images [n, 3, 32, 32] in [-1, 1]
    parameters: int                          # every trained weight (a GAN's D and a VAE's encoder included)
    network_calls: int                       # network evaluations per sampled batch
    training_minutes: float | None = None    # wall minutes on the 2-core CPU, from the model's record.json
    n: int | None = None                     # samples for this row when it must differ from compare's n


@contextmanager
def count_calls(module: torch.nn.Module) -> Iterator[list[int]]:
    """Count forward calls of ``module`` inside the ``with`` block: ``with count_calls(net) as c: …; c[0]``."""
    calls = [0]
    handle = module.register_forward_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    try:
        yield calls
    finally:
        handle.remove()


def training_minutes(folder: str | Path) -> float | None:
    """Training wall time of a shipped model in minutes: seconds per step × steps, from its record.json."""
    path = data_path(folder) / "record.json"
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    if "seconds_per_step" in record and "steps" in record:
        return record["seconds_per_step"] * record["steps"] / 60
    seconds = record.get("wall_time_s_this_session", record.get("wall_time_s"))
    return None if seconds is None else seconds / 60


def _parameters(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def real_contender(split: str = "train") -> Contender:
    """Fresh renders of ``split`` (uniform over its compositions): the reference row, no model at all."""
    return Contender("real renders", lambda n, g: sample_batch(n, g, 32, split=split)[0], 0, 0)


def vae_contender(model, folder: str | Path | None = "vae") -> Contender:
    """A VAE: z ~ N(0, I), one decoder pass."""
    return Contender("VAE", model.sample, _parameters(model), 1, training_minutes(folder) if folder else None)


def gan_contender(model, folder: str | Path | None = "gan") -> Contender:
    """A GAN: z ~ N(0, I), one generator pass (the discriminator is counted in the parameters)."""
    return Contender("GAN", model.sample, _parameters(model), 1, training_minutes(folder) if folder else None)


def diffusion_contender(model, sampler: str = "DDIM-25", folder: str | Path | None = "pixel-unet",
                        n: int | None = None) -> Contender:
    """The pixel denoiser sampled unconditionally with one of ``denoiser.SAMPLERS`` (diffusers' schedulers)."""
    scheduler, steps = make_sampler(sampler, model)

    def sample(count: int, g: torch.Generator) -> torch.Tensor:
        return generate(model, scheduler, n=count, generator=g, num_inference_steps=steps)
    return Contender(f"diffusion {sampler}", sample, _parameters(model), steps,
                     training_minutes(folder) if folder else None, n)


def shipped_contenders(*, ddpm_n: int | None = None, device: str | torch.device | None = None) -> list[Contender]:
    """Real renders, then the shipped VAE, GAN and pixel denoiser (DDIM-25 and DDPM-1000) from data/."""
    unet = load_denoiser(device=device)
    return [real_contender(), vae_contender(load_vae(device=device)), gan_contender(load_gan(device=device)),
            diffusion_contender(unet, "DDIM-25"), diffusion_contender(unet, "DDPM-1000", n=ddpm_n)]


def _draw(contender: Contender, n: int, seed: int, batch_size: int) -> tuple[torch.Tensor, float]:
    """n images on the CPU and the seconds spent drawing them (in batches, one generator for the row)."""
    g = make_generator(seed)
    chunks, seconds = [], 0.0
    for start in range(0, n, batch_size):
        t0 = time.perf_counter()
        images = contender.sample(min(batch_size, n - start), g)
        seconds += time.perf_counter() - t0
        chunks.append(images.detach().float().cpu().clamp(-1, 1))
    return torch.cat(chunks), seconds


def compare(contenders: list[Contender], n: int, *, seed: int = 0, batch_size: int = 100,
            min_n_for_metrics: int = 100, progress: bool = False) -> list[dict]:
    """Measure every contender on ``n`` samples (or its own ``n``); returns one dict per row.

    Keys: model, samples, fid (judge-FID vs as many fresh training-split renders; None when fewer than
    ``min_n_for_metrics`` samples, since FID is biased upward for small sets), coverage (share of the 120
    compositions the judge reads), ms_per_image, calls_per_image, train_minutes, parameters.
    """
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an int ≥ 2 (samples per model), got {n!r}.")
    if not contenders:
        raise ValueError("give at least one Contender to compare.")
    real_cache: dict[int, torch.Tensor] = {}
    rows = []
    for c in contenders:
        count = c.n or n
        if count not in real_cache:        # the reference set: fresh renders under another seed than the samples
            real_cache[count] = sample_batch(count, make_generator(seed + 1_000_003), 32, split="train")[0]
        images, seconds = _draw(c, count, seed, batch_size)
        enough = count >= min_n_for_metrics
        rows.append({
            "model": c.name, "samples": count,
            "fid": round(judge_fid(real_cache[count], images), 2) if enough else None,
            "coverage": round(coverage(images), 3) if enough else None,
            "ms_per_image": round(1000 * seconds / count, 2), "calls_per_image": c.network_calls,
            "train_minutes": None if c.training_minutes is None else round(c.training_minutes, 1),
            "parameters": c.parameters,
        })
        if progress:
            print(f"  measured {c.name}: {count} samples in {seconds:.1f} s")
    return rows


#: (key, header, format) of the table's columns, in order.
COLUMNS = (("model", "model", "{}"), ("samples", "samples", "{}"), ("fid", "judge-FID ↓", "{:.2f}"),
           ("coverage", "coverage ↑", "{:.3f}"), ("ms_per_image", "ms / image", "{:.2f}"),
           ("calls_per_image", "net calls", "{}"), ("train_minutes", "train min", "{:.1f}"),
           ("parameters", "parameters", "{:,}"))


def format_table(rows: list[dict]) -> str:
    """The rows of ``compare`` as a plain-text table ("—" where a value was not measured)."""
    if not rows:
        raise ValueError("no rows to format; run compare(...) first.")
    cells = [[h for _, h, _ in COLUMNS]]
    for r in rows:
        cells.append(["—" if r.get(k) is None else f.format(r[k]) for k, _, f in COLUMNS])
    widths = [max(len(row[i]) for row in cells) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))
             for row in cells]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)
