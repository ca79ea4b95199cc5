"""How the course measures its generators, with the judge (``course_utils.judge``) as the only eye.

- ``adherence(images, captions)``: the share of images whose subject / action / place the judge reads
  as the caption's, per attribute and for all three at once ("all").
- ``judge_fid(real, fake)``: the Fréchet distance between Gaussians fitted to the judge's penultimate
  features of two image sets (FID with the judge in place of Inception). Lower is closer.
- ``judge_kid(real, fake)``: the unbiased squared MMD with the cubic polynomial kernel on the same
  features (KID). Unlike FID it has no bias from the sample size, so small sets compare fairly.
- ``coverage(images)``: the share of the 120 compositions the judge reads at least once.
- ``seed_variation(samples, renders, ...)``: how much the samples of one prompt differ across seeds, as a
  share of how much fresh renders of the same composition differ across render seeds (1 = as varied as the world).
- ``attention_in_region(attn, mask)``: how much of a word's attention map falls on the region its
  word names (a mask from ``storybook.render_masks``), against that region's share of the image.
- ``sharpness(images)``: detail, as the mean |Laplacian| per pixel (blur scores low).
- ``nearest_neighbours(queries, pool)``: each query's distance to its nearest pool image, in pixels or in
  judge features (a memorisation check: is a sample a copy of a training picture?).

Images are float tensors [N, 3, H, W] in [-1, 1] with H = W = 32, 64 or 128. Real renders give a floor,
not zero: two independent sets of 1000 renders differ a little (``benchmarks/metrics_floor.py``).
"""
from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path
from typing import Hashable, Sequence

import numpy as np
import scipy.linalg
import torch

from . import storybook
from .env import pick_device
from .judge import ATTRIBUTES, KIND, Judge, load

__all__ = ["load_judge", "check_images", "judge_features", "judge_labels", "adherence", "frechet_distance",
           "judge_fid", "polynomial_mmd2", "judge_kid", "coverage", "mean_pairwise_distance", "diversity",
           "adherence_and_diversity", "layout_pixels", "seed_variation", "attention_in_region", "sharpness", "nearest_neighbours"]


@lru_cache(maxsize=4)
def _cached_judge(folder: str, device: str) -> Judge:
    return load(folder, device=device)


def load_judge(folder: str | Path = KIND) -> Judge:
    """The shipped judge (``data/judge``), sha256-checked on first use, then cached; in eval mode."""
    return _cached_judge(str(folder), str(pick_device()))


def check_images(images: torch.Tensor, name: str = "images") -> torch.Tensor:
    """Raise a clear error unless ``images`` is a float tensor [N, 3, H, W], H = W in (32, 64, 128), in [-1, 1]."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor [N, 3, H, W], got {type(images).__name__}.")
    if images.dim() == 3:
        raise ValueError(f"{name} has shape {tuple(images.shape)}: one image. Add a batch axis with {name}[None].")
    if images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"{name} must have shape [N, 3, H, W], got {tuple(images.shape)}. "
                         "Channels-last images [N, H, W, 3] need .permute(0, 3, 1, 2).")
    if images.shape[-1] != images.shape[-2] or images.shape[-1] not in (32, 64, 128):
        raise ValueError(f"{name} must be 32×32, 64×64 or 128×128, got {tuple(images.shape[-2:])}. Resize with "
                         "torch.nn.functional.interpolate(x, size=32, mode='area').")
    if images.shape[0] == 0:
        raise ValueError(f"{name} is empty; pass at least one image.")
    if not images.dtype.is_floating_point:
        raise TypeError(f"{name} has dtype {images.dtype}; convert 0–255 images with x.float() / 127.5 - 1.")
    lo, hi = float(images.min()), float(images.max())
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"{name} contains NaN or infinite values; check the sampler that made them.")
    if hi > 1.05 or lo < -1.05:
        fix = ("they look like 0–255 pixels: use x / 127.5 - 1" if hi > 2 and lo >= 0
               else "clamp them with x.clamp(-1, 1) (samplers can overshoot a little)")
        raise ValueError(f"{name} must lie in [-1, 1], found values in [{lo:.3g}, {hi:.3g}]; {fix}.")
    return images


@torch.no_grad()
def _judge_map(images: torch.Tensor, fn: str, batch_size: int) -> torch.Tensor:
    judge = load_judge()
    device = next(judge.parameters()).device
    out = [getattr(judge, fn)(images[i:i + batch_size].to(device, torch.float32)).cpu()
           for i in range(0, images.shape[0], batch_size)]
    return torch.cat(out)


def judge_features(images: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """The judge's penultimate features of ``images``: float64 array [N, D] (D = 128)."""
    check_images(images)
    return _judge_map(images, "features", batch_size).double().numpy()


def judge_labels(images: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
    """What the judge reads in each image: labels [N, 3] (indices into SUBJECTS, ACTIONS, PLACES)."""
    check_images(images)
    return _judge_map(images, "predict", batch_size)


def _caption_labels(captions: Sequence, n: int) -> torch.Tensor:
    if isinstance(captions, np.ndarray):
        captions = torch.from_numpy(captions)
    if isinstance(captions, torch.Tensor):
        if captions.dtype.is_floating_point or captions.dtype.is_complex or captions.dtype == torch.bool:
            raise TypeError(f"labels must be an integer tensor [N, 3] (indices into SUBJECTS, ACTIONS, PLACES), "
                            f"got dtype {captions.dtype}; use storybook.labels_of(...) to make them.")
        labels = captions.long()
        if labels.dim() == 2 and labels.shape[1] == 3:
            for k, (attribute, words) in enumerate(zip(ATTRIBUTES, (storybook.SUBJECTS, storybook.ACTIONS,
                                                                    storybook.PLACES))):
                bad = labels[:, k][(labels[:, k] < 0) | (labels[:, k] >= len(words))]
                if len(bad):
                    raise ValueError(f"{attribute} label {int(bad[0])} is out of range: {attribute} labels are "
                                     f"0 … {len(words) - 1} ({', '.join(words)}). Make labels with "
                                     "storybook.labels_of(subject, action, place).")
    else:
        if isinstance(captions, str):
            raise TypeError("captions must be a list with one caption per image, not one string; "
                            "use [text] * len(images) for a single prompt.")
        for c in captions:
            if not isinstance(c, str) and not (isinstance(c, (tuple, list)) and len(c) == 3
                                               and all(isinstance(w, str) for w in c)):
                raise TypeError(f"each caption must be a text such as 'squirrel fishing by a river' or a (subject, "
                                f"action, place) tuple of words, got {c!r}. Label rows go in as a tensor [N, 3].")
        labels = torch.tensor([storybook.labels_of(*(storybook.parse_caption(c) if isinstance(c, str) else c))
                               for c in captions], dtype=torch.long).reshape(-1, 3)
    if labels.shape != (n, 3):
        raise ValueError(f"got {n} images but captions/labels of shape {tuple(labels.shape)}; give one caption "
                         "(or one row of 3 labels) per image.")
    return labels


def adherence(images: torch.Tensor, captions: Sequence[str] | Sequence[tuple] | torch.Tensor) -> dict[str, float]:
    """Share of images the judge reads as their caption: {"subject", "action", "place", "all"} in [0, 1].

    ``captions``: one per image, as text ("squirrel fishing by a river"), (subject, action, place)
    tuples, or an integer labels tensor [N, 3] (indices into SUBJECTS, ACTIONS, PLACES; out of range is an error).
    """
    check_images(images)
    wanted = _caption_labels(captions, images.shape[0])
    right = judge_labels(images) == wanted
    # adherence_k = (1/N) Σ_i 1[judge_k(x_i) = c_ik];   all = (1/N) Σ_i Π_k 1[…]
    scores = {a: float(right[:, k].float().mean()) for k, a in enumerate(ATTRIBUTES)}
    scores["all"] = float(right.all(dim=1).float().mean())
    return scores


def _gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2), with ``scipy.linalg.sqrtm``."""
    with warnings.catch_warnings():               # fewer images than features: Σ is singular, and that is fine
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(sigma1 @ sigma2)
        if not np.isfinite(covmean).all():        # near-singular product: nudge both diagonals (as pytorch-fid)
            offset = np.eye(sigma1.shape[0]) * 1e-6
            covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    covmean = covmean.real                         # sqrtm may leave tiny imaginary parts from round-off
    # d² = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^½)
    d2 = float(((mu1 - mu2) ** 2).sum() + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean))
    return max(d2, 0.0)


def judge_fid(real: torch.Tensor, fake: torch.Tensor) -> float:
    """FID on judge features: Fréchet distance of Gaussians fitted to the two sets (``scipy.linalg.sqrtm``).

    Needs at least 2 images per set; it is biased upwards for small sets, so compare numbers made with
    the same N (the real-vs-real floor at that N is the best a generator can score).
    """
    for name, x in (("real", real), ("fake", fake)):
        check_images(x, name)
        if x.shape[0] < 2:
            raise ValueError(f"judge_fid needs at least 2 {name} images to fit a covariance; got {x.shape[0]}.")
    return frechet_distance(*_gaussian(judge_features(real)), *_gaussian(judge_features(fake)))


def polynomial_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased squared MMD between feature sets x [n, d] and y [m, d] with k(a, b) = (a·b / d + 1)³."""
    d = x.shape[1]
    k_xx, k_yy, k_xy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
    n, m = x.shape[0], y.shape[0]
    # MMD²ᵤ = Σ_{i≠j} k(xᵢ,xⱼ)/(n(n−1)) + Σ_{i≠j} k(yᵢ,yⱼ)/(m(m−1)) − 2 Σ_{i,j} k(xᵢ,yⱼ)/(nm)
    return float((k_xx.sum() - np.trace(k_xx)) / (n * (n - 1)) + (k_yy.sum() - np.trace(k_yy)) / (m * (m - 1))
                 - 2 * k_xy.mean())


def judge_kid(real: torch.Tensor, fake: torch.Tensor) -> float:
    """KID on judge features: the unbiased polynomial-kernel MMD² over the full sets (can dip below 0)."""
    for name, x in (("real", real), ("fake", fake)):
        check_images(x, name)
        if x.shape[0] < 2:
            raise ValueError(f"judge_kid needs at least 2 {name} images; got {x.shape[0]}.")
    return polynomial_mmd2(judge_features(real), judge_features(fake))


def coverage(images: torch.Tensor, min_count: int = 1) -> float:
    """Share of the 120 compositions that the judge reads in at least ``min_count`` of the images."""
    if not (isinstance(min_count, int) and min_count >= 1):
        raise ValueError(f"min_count must be an int ≥ 1, got {min_count!r}.")
    labels = judge_labels(images)
    _, counts = torch.unique(labels, dim=0, return_counts=True)
    return int((counts >= min_count).sum()) / len(storybook.ALL_COMPOSITIONS)


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """Mean L2 distance between two different rows of a batch [N, ...] (N ≥ 2; images or features),
    each row flattened: 0 = all identical."""
    if x.dim() < 2 or x.shape[0] < 2:
        raise ValueError(f"need a batch of at least 2 rows [N, ...], got {tuple(x.shape)}.")
    flat = torch.as_tensor(x).flatten(1).double()
    # d̄ = Σ_{i≠j} ‖x_i − x_j‖ / (N (N − 1))
    d = torch.cdist(flat, flat)
    n = flat.shape[0]
    return float(d.sum() / (n * (n - 1)))


def diversity(features: torch.Tensor, groups: Sequence[Hashable]) -> float:
    """Mean distance between the features [N, D] of two samples of the same group (prompt), over all such pairs
    within each group, averaged over groups. 0 = every prompt always gives the same picture."""
    feats = torch.as_tensor(features, dtype=torch.float64)
    if feats.dim() != 2 or feats.shape[0] != len(groups):
        raise ValueError(f"features must be [N, D] with one group per row; got {tuple(feats.shape)} and "
                         f"{len(groups)} groups.")
    per_group = []
    for g in dict.fromkeys(groups):
        f = feats[[i for i, x in enumerate(groups) if x == g]]
        if len(f) >= 2:
            per_group.append(mean_pairwise_distance(f))
    if not per_group:
        raise ValueError("diversity needs at least one group with two or more samples.")
    return sum(per_group) / len(per_group)


def adherence_and_diversity(images: torch.Tensor, captions: Sequence[str]) -> dict[str, float]:
    """The judge's verdict on samples [N, 3, H, W]: adherence (share read as their caption) and diversity
    (mean judge-feature distance between samples of the same caption)."""
    scores = adherence(images, list(captions))
    return {"adherence": scores["all"], "diversity": diversity(torch.from_numpy(judge_features(images)), captions)}


def layout_pixels(images: torch.Tensor, side: int = 16) -> torch.Tensor:
    """Images [N, 3, H, W] area-averaged to [N, 3 · side · side]: where things are and their colours, with the
    fine detail (and a sampler's pixel noise) averaged away. At 16 px a 128 px subject is a blob of a few cells."""
    check_images(images)
    return torch.nn.functional.interpolate(images.double().cpu(), size=side, mode="area").flatten(1)


def seed_variation(samples: torch.Tensor, sample_groups: Sequence[Hashable], renders: torch.Tensor,
                   render_groups: Sequence[Hashable], *, space: str = "pixels") -> float:
    """How much one prompt's samples vary across seeds, against the world's own variation:

        seed_variation = diversity(φ(samples), prompts) / diversity(φ(renders), compositions)

    ``diversity`` is the mean distance between two members of one group, averaged over the groups; the
    renders are fresh renders of the same compositions with different render seeds (the storybook's
    jitter of position, size, shade, facing, tilt and background). 1 = the seeds vary the picture as
    much as the world does, 0 = every seed draws the same picture. φ: "pixels" (``layout_pixels``, 16 px:
    the layout, which is what a fixed composition leaves to the seed) or "judge" (its features).
    A ratio of the two means over groups, not a mean of per-group ratios, which one group of
    renders that happen to look alike would blow up. Both must cover the same groups.
    """
    if space not in ("pixels", "judge"):
        raise ValueError(f"space must be 'pixels' or 'judge', got {space!r}.")
    if set(sample_groups) != set(render_groups):
        raise ValueError("samples and renders must cover the same prompts (groups); render each sample's "
                         "composition with other seeds, e.g. storybook.render_batch(comps, seeds, size).")
    phi = layout_pixels if space == "pixels" else (lambda x: torch.from_numpy(judge_features(x)))
    world = diversity(phi(renders), list(render_groups))
    if world == 0:
        raise ValueError("the renders of each composition are identical, so there is no variation to compare "
                         "against; render each composition with two or more different seeds.")
    return diversity(phi(samples), list(sample_groups)) / world


def attention_in_region(attn: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Does a word's attention fall on its region? Returns (mass_share, area_share).

    ``attn`` [H', W'] or [N, H', W'] is one word's attention map (non-negative, any total), ``mask``
    [H, W] the region at image resolution (bool). The mask is resized to the map by area, cover[i, j]
    = the fraction of cell (i, j) inside the region (exact when H, W are multiples of H', W'), and

        mass_share = Σ attn · cover / Σ attn        (float64 tensor [] or [N])
        area_share = |region| / (H · W)

    mass_share / area_share is 1 for attention spread evenly, 1 / area_share when all of it is inside;
    a word localises when the ratio is ≥ 2.
    """
    if not isinstance(attn, torch.Tensor) or attn.dim() not in (2, 3):
        raise ValueError(f"attn must be a tensor [H', W'] or [N, H', W'], got "
                         f"{tuple(attn.shape) if isinstance(attn, torch.Tensor) else type(attn).__name__}.")
    if not isinstance(mask, torch.Tensor) or mask.dim() != 2 or mask.dtype != torch.bool:
        raise ValueError("mask must be a bool tensor [H, W] at image resolution, e.g. "
                         "storybook.render_masks(...)[0]; got " + (f"{mask.dtype} {tuple(mask.shape)}"
                                                                   if isinstance(mask, torch.Tensor) else type(mask).__name__))
    maps = attn.detach().double().cpu().reshape(-1, *attn.shape[-2:])       # [N, H', W']
    if (maps < 0).any() or not torch.isfinite(maps).all():
        raise ValueError("attn must be finite and non-negative (attention probabilities, not logits).")
    total = maps.sum((1, 2))
    if (total == 0).any():
        raise ValueError("an attention map sums to 0; there is no mass to place.")
    h, w = maps.shape[-2:]
    if mask.shape[0] < h or mask.shape[1] < w:
        raise ValueError(f"mask {tuple(mask.shape)} is smaller than the map {(h, w)}; give it at image resolution.")
    area_share = float(mask.double().mean())
    if area_share == 0.0:
        raise ValueError("mask is empty: the region has no pixels, so no share of attention can fall on it.")
    # cover[i, j] = area fraction of map cell (i, j) inside the region
    cover = torch.nn.functional.adaptive_avg_pool2d(mask.double()[None, None], (h, w))[0, 0]
    mass_share = (maps * cover).sum((1, 2)) / total
    return (mass_share[0] if attn.dim() == 2 else mass_share), area_share


def sharpness(images: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Mean |Laplacian| per pixel of images [N, C, H, W] in [-1, 1]: edges score high, blur scores low.
    With ``mask`` (bool [N, H, W]) only the pixels inside it count (the animal and its prop, say)."""
    if images.dim() != 4:
        raise ValueError(f"images must have shape [N, C, H, W], got {tuple(images.shape)}.")
    x = images.float().cpu()
    # ∇²x ≈ x[i−1, j] + x[i+1, j] + x[i, j−1] + x[i, j+1] − 4 x[i, j]   (inner pixels)
    lap = x[..., :-2, 1:-1] + x[..., 2:, 1:-1] + x[..., 1:-1, :-2] + x[..., 1:-1, 2:] - 4 * x[..., 1:-1, 1:-1]
    if mask is None:
        return float(lap.abs().mean())
    if mask.shape != (x.shape[0], *x.shape[2:]):
        raise ValueError(f"mask must be bool [N, H, W] = {(x.shape[0], *x.shape[2:])}, got {tuple(mask.shape)}.")
    inner = mask[:, None, 1:-1, 1:-1].expand_as(lap)
    return float(lap.abs()[inner].mean()) if inner.any() else float("nan")


def nearest_neighbours(queries: torch.Tensor, pool: torch.Tensor, *, space: str = "pixels",
                       batch_size: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """For each query image, (distance to its nearest ``pool`` image [N], that image's index [N]).

    space "pixels": the root-mean-square difference per pixel value, with the queries resized to the pool's
    size (area average); "judge": the Euclidean distance between judge features. A copy of a pool image
    is at 0; a new picture is as far as a fresh render of the same world is.
    """
    check_images(queries, "queries")
    check_images(pool, "pool")
    if space not in ("pixels", "judge"):
        raise ValueError(f"space must be 'pixels' or 'judge', got {space!r}.")
    if space == "judge":
        q = torch.from_numpy(judge_features(queries))
        chunks = [torch.from_numpy(judge_features(pool[i:i + batch_size])) for i in range(0, len(pool), batch_size)]
        scale = 1.0
    else:
        side = pool.shape[-1]
        q = torch.nn.functional.interpolate(queries.float(), size=side, mode="area").flatten(1).double()
        chunks = [pool[i:i + batch_size].flatten(1).double() for i in range(0, len(pool), batch_size)]
        scale = q.shape[1] ** -0.5                   # ‖a − b‖ / √D: the RMS difference per pixel value
    best_d = torch.full((len(q),), float("inf"), dtype=torch.float64)
    best_i = torch.zeros(len(q), dtype=torch.long)
    start = 0
    for chunk in chunks:
        d, i = torch.cdist(q, chunk).min(dim=1)
        better = d < best_d
        best_d[better], best_i[better] = d[better], i[better] + start
        start += len(chunk)
    return (best_d * scale).float(), best_i
