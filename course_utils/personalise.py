"""Make the model yours: teach the course's text-to-image model an animal it never saw (notebook 11).

Three ways, from the smallest change to the largest, each trained by the course's one loop
(``training.train``) on a few photos of the new animal, each saved in the format diffusers loads:

    textual inversion (Gal et al. 2022)  one new word vector v*; everything else frozen
                                         → pipe.load_textual_inversion(file, token=...)
    LoRA (Hu et al. 2021)                W x  →  W x + (α/r) · B A x  beside the linear layers of the
                                         UNet's transformer blocks; only A [r, d] and B [d', r] train (peft)
                                         → pipe.load_lora_weights(folder)
    DreamBooth (Ruiz et al. 2023)        every UNet weight, on prompts with a rare word, optionally
                                         with a prior-preservation loss on the known animals
                                         → a UNet folder, UNet2DConditionModel.from_pretrained

LoRA and DreamBooth name the animal with a rare word, ``IDENTIFIER`` ("sks", as the DreamBooth paper's
examples do): its letters are byte tokens no caption ever used, so their vectors carry almost no meaning
for the model to unlearn. Textual inversion instead adds a new token and learns its vector.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from .checkpoints import CheckpointError, verify_manifest, write_manifest
from .seeding import make_generator
from .storybook import ACTIONS, PLACES, TRAIN_COMPOSITIONS, YOUR_PHOTOS, caption, render_batch, your_photos
from .text_to_image import TextToImageModel, drop_captions, latent_diffusion_prediction, tokenize
from .training import Objective, TrainConfig, TrainResult, train

__all__ = ["IDENTIFIER", "TI_TOKEN", "ti_word", "LORA_TARGETS", "METHODS", "Teaching", "teach", "unseen_scenes",
           "adapter_info", "photo_captions", "photo_cache", "photo_batches", "prior_batches", "add_word", "allow_word",
           "keep_only_row", "personal_loss", "prior_preservation_loss", "lora_linear", "add_lora", "lora_parameters",
           "weights_digest", "save_textual_inversion", "load_textual_inversion", "write_info", "save_lora", "load_lora",
           "save_dreambooth", "load_dreambooth"]

IDENTIFIER = "sks"
TI_TOKEN = "<hedgehog>"
#: where LoRA adapters sit: every linear layer of the UNet's transformer blocks (attention, feed-forward, in/out)
LORA_TARGETS = ("to_q", "to_k", "to_v", "to_out.0", "ff.net.0.proj", "ff.net.2", "proj_in", "proj_out")
INFO = "personalise.json"
METHODS = ("textual_inversion", "lora", "dreambooth")


@dataclass
class Teaching:
    """How one method is trained on the eight photos (the shipped adapters' settings are in recipes/personal.py)."""
    method: str
    steps: int
    lr: float
    batch: int = 8
    rank: int = 4                        # LoRA only
    prior_weight: float = 0.0            # DreamBooth and LoRA: 0 = no prior preservation
    prior_images: int = 216              # DreamBooth: class images, 2 renders of each training composition
    prior_empty: float = 0.0             # share of class images trained uncaptioned (keeps ε_uncond, see prior_batches)
    seed: int = 0
    init_word: str | None = "squirrel"   # textual inversion: the new vector starts as this word's (None: the mean)
    vectors: int = 1                     # textual inversion: new tokens that together stand for the word

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}.")
        if isinstance(self.vectors, bool) or not isinstance(self.vectors, int) or self.vectors < 1 or (
                self.vectors > 1 and self.method != "textual_inversion"):
            raise ValueError(f"vectors must be a whole number ≥ 1, and above 1 only for textual inversion; got "
                             f"{self.vectors!r} for {self.method}.")
        if self.init_word != "squirrel" and self.method != "textual_inversion":
            raise ValueError("init_word belongs to textual inversion (where the new word's vector starts); LoRA and "
                             "DreamBooth teach the identifier 'sks' through the network's weights.")
        if not 0 <= self.prior_empty < 1 or (self.prior_empty and not self.prior_weight):
            raise ValueError(f"prior_empty is a share in [0, 1) of the class images, so it needs prior_weight > 0; "
                             f"got prior_empty={self.prior_empty!r}, prior_weight={self.prior_weight!r}.")
        if self.prior_weight and self.method == "textual_inversion":
            raise ValueError("prior_weight belongs to DreamBooth and LoRA (trained DreamBooth-style); textual "
                             "inversion leaves every network weight as it was, so it has no prior to keep.")


def teach(pipe, how: Teaching, *, run_dir: str | Path | None = None, progress: bool = True) -> TrainResult:
    """Teach ``pipe`` the new animal from ``your_photos()``, in place, with the course's one training loop."""
    word = ti_word(how.vectors) if how.method == "textual_inversion" else IDENTIFIER
    rows = ([add_word(pipe, token, init_from=how.init_word) for token in word.split()]
            if how.method == "textual_inversion" else None)
    for token in word.split():
        allow_word(pipe, token)
    photos = photo_cache(pipe, your_photos(), photo_captions(word, [(a, p) for (_, a, p), _ in YOUR_PHOTOS]))
    for p in list(pipe.unet.parameters()) + list(pipe.text_encoder.parameters()):
        p.requires_grad_(False)
    loss, batches = personal_loss, photo_batches(photos, how.batch)
    if how.method == "textual_inversion":
        table = pipe.text_encoder.get_input_embeddings().weight
        params = [table.requires_grad_(True)]
        keep_only_row(table, rows)
    elif how.method == "lora":
        add_lora(pipe.unet, how.rank, generator=make_generator(how.seed))
        params = lora_parameters(pipe.unet)
    else:
        params = [p.requires_grad_(True) for p in pipe.unet.parameters()]
    if how.prior_weight:                 # class images: renders of the animals the model knows, own captions
        comps = [TRAIN_COMPOSITIONS[i % len(TRAIN_COMPOSITIONS)] for i in range(how.prior_images)]
        prior = photo_cache(pipe, render_batch(comps, [90_000 + i for i in range(how.prior_images)], 128),
                            [caption(*c) for c in comps])
        batches = prior_batches(photos, prior, how.batch // 2, how.prior_empty)
        loss = lambda m, b, g: prior_preservation_loss(m, b, g, how.prior_weight)   # noqa: E731
    model = TextToImageModel(pipe.text_encoder, pipe.unet, pipe.scheduler.alphas_cumprod)
    config = TrainConfig(steps=how.steps, lr=how.lr, seed=how.seed, log_every=5,
                         run_dir=str(run_dir) if run_dir else None)
    result = train(model, [Objective("loss", loss, params)], batches, config, progress=progress)
    for p in params:
        p.requires_grad_(False)
    return result


def unseen_scenes() -> list[tuple[str, str]]:
    """The (action, place) pairs none of the eight photos shows: where success is measured."""
    shown = {(a, p) for (_, a, p), _ in YOUR_PHOTOS}
    return [(a, p) for a in ACTIONS for p in PLACES if (a, p) not in shown]


def photo_captions(word: str, scenes: Sequence[tuple[str, str]]) -> list[str]:
    """The caption of each photo, with ``word`` where the animal's name goes: "sks fishing by a river"."""
    return [f"{word} {action} {place}" for action, place in scenes]


@torch.no_grad()
def photo_cache(pipe, images: torch.Tensor, captions: Sequence[str]) -> dict[str, torch.Tensor]:
    """Encode photos [N, 3, H, W] in [-1, 1] once: the batch ``latent_diffusion_loss`` reads
    {"mean", "std" [N, 4, h, w], "ids" [N, L], "empty_ids" [L], "scale" []}."""
    if images.dim() != 4 or images.shape[1] != 3 or len(captions) != images.shape[0]:
        raise ValueError(f"give photos [N, 3, H, W] in [-1, 1] and one caption per photo; got images of shape "
                         f"{tuple(images.shape)} and {len(captions)} captions.")
    posterior = pipe.vae.encode(images.to(pipe.vae.device)).latent_dist
    return {"mean": posterior.mean.cpu(), "std": posterior.std.cpu(),
            "ids": tokenize(pipe.tokenizer, list(captions)), "empty_ids": tokenize(pipe.tokenizer, [""])[0],
            "scale": torch.tensor(float(pipe.vae.config.scaling_factor))}


def _take(cache: dict[str, torch.Tensor], index: torch.Tensor) -> dict[str, torch.Tensor]:
    return {k: (v[index] if k in ("mean", "std", "ids") else v) for k, v in cache.items()}


def photo_batches(cache: dict[str, torch.Tensor], batch_size: int) -> Callable[[int, torch.Generator], dict]:
    """batch_fn(step, generator) for ``training.train``: ``batch_size`` photos drawn with replacement."""
    n = cache["mean"].shape[0]
    return lambda step, g: _take(cache, torch.randint(0, n, (batch_size,), generator=g))


def prior_batches(photos: dict[str, torch.Tensor], prior: dict[str, torch.Tensor], batch_size: int,
                  p_empty: float = 0.0) -> Callable[[int, torch.Generator], dict]:
    """batch_fn for DreamBooth with prior preservation: ``batch_size`` photos, then ``batch_size`` class
    images (renders of the animals the model knows, own captions), and "n_photos". A class image goes with the empty
    caption with probability ``p_empty``, which keeps ε_uncond too: guidance's w ε_cond + (1 − w) ε_uncond carries it."""
    if photos["ids"].shape[1] != prior["ids"].shape[1]:
        raise ValueError("photos and class images were tokenized to different lengths; cache both with one pipe.")

    def batch(step: int, g: torch.Generator) -> dict:
        a = _take(photos, torch.randint(0, photos["mean"].shape[0], (batch_size,), generator=g))
        b = _take(prior, torch.randint(0, prior["mean"].shape[0], (batch_size,), generator=g))
        b["ids"] = drop_captions(b["ids"], b["empty_ids"], g, p_empty) if p_empty else b["ids"]
        both = {k: torch.cat([a[k], b[k]]) for k in ("mean", "std", "ids")}
        return {**both, "empty_ids": a["empty_ids"], "scale": a["scale"], "n_photos": torch.tensor(batch_size)}
    return batch


def personal_loss(model: TextToImageModel, batch: dict, generator: torch.Generator) -> torch.Tensor:
    """L = ‖ε − ε_θ(z_t, t, τ(y))‖² on the photos, never with the caption dropped (the word must be heard)."""
    eps_hat, eps = latent_diffusion_prediction(model, batch, generator, p_uncond=0.0)
    return F.mse_loss(eps_hat, eps)


def prior_preservation_loss(model: TextToImageModel, batch: dict, generator: torch.Generator,
                            prior_weight: float = 1.0) -> tuple[torch.Tensor, dict[str, float]]:
    """DreamBooth's loss on a ``prior_batches`` batch: photos first, class images after.

        L = ‖ε − ε_θ(z_t, t, c_photo)‖²  +  λ · ‖ε' − ε_θ(z'_t, t', c_class)‖²

    The second term keeps the model drawing the animals it knew while it learns the new one."""
    eps_hat, eps = latent_diffusion_prediction(model, batch, generator, p_uncond=0.0)
    k = int(batch["n_photos"])
    photo = F.mse_loss(eps_hat[:k], eps[:k])
    prior = F.mse_loss(eps_hat[k:], eps[k:])
    return photo + prior_weight * prior, {"photo": float(photo.detach()), "prior": float(prior.detach())}


# ----------------------------------------------------------------------------------------------------
# Textual inversion: one new row of the embedding table
# ----------------------------------------------------------------------------------------------------
def allow_word(pipe, word: str) -> None:
    """Let the pipeline's prompt check accept ``word`` (the course's pipeline refuses words it never learned)."""
    vocabulary = getattr(pipe, "vocabulary", None)
    if vocabulary is not None and word not in vocabulary:
        pipe.vocabulary = (*vocabulary, word)


def _known(pipe, word: str) -> bool:
    """Is ``word`` already one token of the pipeline (a course word reads as one token: "squirrel</w>")?"""
    return (word in pipe.tokenizer.get_vocab() or len(pipe.tokenizer.tokenize(word)) == 1
            or word in (getattr(pipe, "vocabulary", None) or ()))


def add_word(pipe, word: str, *, init_from: str | None = None) -> int:
    """Add ``word`` as one new token; its vector starts as the mean vector of ``init_from``'s tokens (or of
    all tokens). Returns its row in the embedding table."""
    if not isinstance(word, str) or not word.strip() or " " in word:
        raise ValueError(f"the new word must be one token without spaces, such as {TI_TOKEN!r}; got {word!r}.")
    unknown = [w for w in (init_from or "").split() if w not in (getattr(pipe, "vocabulary", None) or (w,))]
    if unknown:
        raise ValueError(f"init_from={init_from!r}: the model never learned {', '.join(map(repr, unknown))}, so its vector "
                         f"means nothing yet. Start from a word it knows: {', '.join(pipe.vocabulary)}.")
    if _known(pipe, word) or pipe.tokenizer.add_tokens([word]) != 1:
        raise ValueError(f"{word!r} is already in this tokenizer's vocabulary, so textual inversion would overwrite a "
                         "word the model knows. Pick a new name such as '<my-hedgehog>', or start from a freshly "
                         "loaded pipeline (load_text_to_image()).")
    pipe.text_encoder.resize_token_embeddings(len(pipe.tokenizer), mean_resizing=False)
    table = pipe.text_encoder.get_input_embeddings().weight
    row = pipe.tokenizer.convert_tokens_to_ids(word)
    with torch.no_grad():
        start = (table[pipe.tokenizer(init_from, add_special_tokens=False).input_ids] if init_from
                 else table[:row])
        table[row] = start.mean(dim=0)
    allow_word(pipe, word)
    return row


def ti_word(vectors: int = 1) -> str:
    """The prompt word textual inversion learns: ``<hedgehog>``, or with several vectors the tokens
    ``<hedgehog> <hedgehog>_1 …`` (the names diffusers' ``load_textual_inversion`` gives a multi-vector file)."""
    return " ".join([TI_TOKEN] + [f"{TI_TOKEN}_{i}" for i in range(1, vectors)])


def keep_only_row(table: torch.nn.Parameter, row: int | Sequence[int]) -> torch.utils.hooks.RemovableHandle:
    """Textual inversion's update, by hand: zero every row's gradient but ``row``'s (or those rows'), so the
    optimiser moves v* alone (with no weight decay, AdamW leaves a row with zero gradient exactly as it was)."""
    mask = torch.zeros(table.shape[0], 1, dtype=table.dtype, device=table.device)
    mask[row] = 1
    return table.register_hook(lambda grad: grad * mask)


def save_textual_inversion(pipe, word: str, path: str | Path) -> Path:
    """The learned vector as diffusers' textual-inversion file: {word: v* [D]} in safetensors."""
    from safetensors.torch import save_file
    row = pipe.tokenizer.convert_tokens_to_ids(word)
    vector = pipe.text_encoder.get_input_embeddings().weight[row].detach().cpu().clone()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file({word: vector}, str(path))
    return path


def load_textual_inversion(pipe, path: str | Path, token: str | None = None) -> str:
    """``pipe.load_textual_inversion(path, token=...)`` with the course's checks; returns the token."""
    from safetensors.torch import load_file
    path = Path(path)
    if path.is_dir():                                     # a shipped folder: data/personal-ti, made for one text encoder
        folder, info = _read_info(path, "textual_inversion", "personal-ti")
        _check_base(pipe, info, folder, "text_encoder", "personal-ti")
        path = path / "learned_embeds.safetensors"
    if not path.is_file():
        raise CheckpointError(f"No textual-inversion file at {path}. Rebuild it with "
                              "`python -m course_utils.train personal-ti`, or restore it with `git checkout -- data/`.")
    token = token or next(iter(load_file(str(path))))
    if _known(pipe, token):
        raise ValueError(f"The token {token!r} already exists in this pipeline's tokenizer (was this file loaded "
                         f"before?). Load it into a fresh pipeline (load_text_to_image()), or give it another name: "
                         f"load_textual_inversion(pipe, {str(path)!r}, token='<my-hedgehog>').")
    from transformers.utils import logging as tlog
    level = tlog.get_verbosity()
    tlog.set_verbosity_error()           # resizing the table announces how new rows start: ours is overwritten
    try:
        pipe.load_textual_inversion(str(path), token=token)
    finally:
        tlog.set_verbosity(level)
    allow_word(pipe, token)
    return token


# ----------------------------------------------------------------------------------------------------
# LoRA: low-rank matrices beside the attention projections
# ----------------------------------------------------------------------------------------------------
def lora_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None, A: torch.Tensor, B: torch.Tensor,
                scale: float) -> torch.Tensor:
    """One LoRA layer: y = W x + b + (α/r) · B (A x), with W [out, in] frozen, A [r, in], B [out, r] trained."""
    return F.linear(x, weight, bias) + scale * F.linear(F.linear(x, A), B)


def add_lora(unet, rank: int, *, generator: torch.Generator, alpha: float | None = None,
             targets: Sequence[str] = LORA_TARGETS, adapter_name: str = "default") -> None:
    """Put a rank-``rank`` LoRA adapter (peft) beside each target projection of ``unet``. A starts random (from
    ``generator``, as kaiming-uniform would), B at zero, so the adapted UNet starts equal to the base one."""
    if isinstance(rank, bool) or not isinstance(rank, int) or rank < 1:
        raise ValueError(f"rank must be a whole number ≥ 1 (a rank-0 adapter has nothing to learn), got {rank!r}; "
                         "the course uses 4.")
    from peft import LoraConfig
    unet.add_adapter(LoraConfig(r=rank, lora_alpha=alpha or rank, init_lora_weights=True,
                                target_modules=list(targets)), adapter_name=adapter_name)
    with torch.no_grad():
        for module in unet.modules():
            if hasattr(module, "lora_A") and adapter_name in module.lora_A:
                A = module.lora_A[adapter_name].weight
                bound = 1 / A.shape[1] ** 0.5
                A.copy_((torch.rand(A.shape, generator=generator) * 2 - 1) * bound)
                module.lora_B[adapter_name].weight.zero_()


def lora_parameters(unet) -> list[torch.nn.Parameter]:
    """The adapter's parameters (lora_A, lora_B); everything else is frozen."""
    found = [p for n, p in unet.named_parameters() if "lora_" in n]
    if not found:
        raise ValueError("this UNet has no LoRA adapter; call add_lora(unet, rank, generator=...) first.")
    return found


def weights_digest(model: torch.nn.Module) -> str:
    """sha256 of a model's own weights (adapters left out), so an adapter can name the base it belongs to."""
    h = hashlib.sha256()
    for name, value in sorted(model.state_dict().items()):
        if "lora_" in name:
            continue
        h.update(name.replace(".base_layer", "").encode())
        h.update(value.detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()


def adapter_info(folder: str | Path) -> dict:
    """What a saved adapter is (its personalise.json): method, word, base digest, and rank or prior weight."""
    return _read_info(folder, None, "personal-ti | personal-lora | personal-dreambooth")[1]


def write_info(folder: Path, info: dict) -> None:
    """What an adapter is for (method, word, the base weights' digest) in personalise.json, then SHA256SUMS."""
    (folder / INFO).write_text(json.dumps(info, indent=1) + "\n")
    write_manifest(folder)


def _read_info(folder: str | Path, method: str | None, recipe: str) -> tuple[Path, dict]:
    folder = Path(folder)
    if not (folder / INFO).is_file():
        raise CheckpointError(f"No {method} adapter at {folder}. Rebuild it with `python -m course_utils.train "
                              f"{recipe}`, or restore it with `git checkout -- data/`.")
    verify_manifest(folder)
    info = json.loads((folder / INFO).read_text())
    if method is not None and info.get("method") != method:
        raise CheckpointError(f"{folder} holds a {info.get('method')!r} adapter, not {method!r}.")
    return folder, info


def _check_base(pipe, info: dict, folder: Path, part: str, recipe: str) -> None:
    if info.get("base") != weights_digest(getattr(pipe, part)):
        raise CheckpointError(f"{folder} was trained for another base model (its {part} differs from this "
                              f"pipeline's): an adapter only fits the weights it was trained beside. Load it into the "
                              f"model it was made for, or retrain it for this one: `python -m course_utils.train {recipe}`.")


def save_lora(pipe, folder: str | Path, *, word: str = IDENTIFIER, rank: int, base: str) -> Path:
    """The UNet's adapter with diffusers' LoRA saver (pytorch_lora_weights.safetensors), plus what it is for."""
    from peft.utils import get_peft_model_state_dict
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    layers = get_peft_model_state_dict(pipe.unet)    # peft's key names (lora_A / lora_B), which diffusers loads as they are
    type(pipe).save_lora_weights(folder, unet_lora_layers=layers, safe_serialization=True)
    write_info(folder, {"method": "lora", "word": word, "rank": rank, "base": base})
    return folder


def load_lora(pipe, folder: str | Path, *, adapter_name: str = "hedgehog") -> str:
    """``pipe.load_lora_weights(folder)`` after checking the adapter was made for this UNet; returns its word."""
    folder, info = _read_info(folder, "lora", "personal-lora")
    _check_base(pipe, info, folder, "unet", "personal-lora")
    from diffusers.utils import logging as dlog
    level = dlog.get_verbosity()
    dlog.set_verbosity_error()           # it would warn that the text encoder has no LoRA keys: by design
    try:
        pipe.load_lora_weights(str(folder), weight_name="pytorch_lora_weights.safetensors", adapter_name=adapter_name)
    finally:
        dlog.set_verbosity(level)
    allow_word(pipe, info["word"])
    return info["word"]


def save_dreambooth(unet, folder: str | Path, *, word: str = IDENTIFIER, base: str, prior_weight: float) -> Path:
    """The whole fine-tuned UNet (``save_pretrained``, safetensors) and the text encoder it belongs to."""
    folder = Path(folder)
    unet.save_pretrained(folder / "unet", safe_serialization=True)
    write_info(folder, {"method": "dreambooth", "word": word, "base": base, "prior_weight": prior_weight})
    return folder


def load_dreambooth(pipe, folder: str | Path) -> str:
    """Swap the pipeline's UNet for the DreamBooth one (checked against the text encoder it was trained with)."""
    from diffusers import UNet2DConditionModel
    folder, info = _read_info(folder, "dreambooth", "personal-dreambooth")
    _check_base(pipe, info, folder, "text_encoder", "personal-dreambooth")
    unet = UNet2DConditionModel.from_pretrained(folder / "unet", local_files_only=True, use_safetensors=True)
    pipe.register_modules(unet=unet.to(pipe.unet.device).eval())
    allow_word(pipe, info["word"])
    return info["word"]
