"""A real, tiny Stable Diffusion, built from diffusers and transformers parts and trained from scratch.

    prompt ──CLIPTokenizer──▶ ids [B, L] ──CLIPTextModel──▶ text embeddings c [B, L, D]
    seeded noise z_T [B, 4, 16, 16] ──UNet2DConditionModel(z_t, t, c), scheduler, guidance──▶ z_0
    z_0 ──AutoencoderKL.decode(z_0 / s)──▶ image [B, 3, 64, 64]

Every part is the class Stable Diffusion uses, only much smaller: the tokenizer's BPE merges are
learned here from the course's captions with the ``tokenizers`` library (so every course word is one
token), the text encoder and the UNet are trained together on cached VAE latents, and the whole thing
is saved with ``StableDiffusionPipeline.save_pretrained`` into ``data/storybook-sd``. The training
recipe lives in ``course_utils/recipes/storybook_sd.py`` (``python -m course_utils.train storybook-sd``);
``load_text_to_image`` (``course_utils.pipelines``) loads it. Taught in notebook 07.

Training objective of the UNet (and, through it, of the text encoder), on scaled latents z_0 = s · z:

    L = ‖ε − ε_θ(√ᾱ_t z_0 + √(1−ᾱ_t) ε, t, τ(y))‖²    with y = "" (the empty prompt) 10% of the time
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DPMSolverMultistepScheduler, UNet2DConditionModel
from torch import nn
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer
from transformers.utils import logging as _hf_logging

from .checkpoints import write_manifest
from .forward import gaussian_noise, q_sample
from .guidance import DEFAULT_GUIDANCE, guided_denoise, interval_guided_denoise
from .samplers import sample
from .sd_autoencoder import AutoencoderConfig, build_autoencoder
from .seeding import make_generator, seeded_init
from .storybook import TRAIN_COMPOSITIONS, caption

# Importing the pipeline makes transformers warn once that CLIPImageProcessor falls back to PIL (no torchvision).
# No image processor is used here (no safety checker), so that one warning is silenced; all others stay on.
_level = _hf_logging.get_verbosity()
_hf_logging.set_verbosity_error()
try:
    from diffusers import StableDiffusionPipeline
finally:
    _hf_logging.set_verbosity(_level)

__all__ = ["BOS", "EOS", "SDConfig", "course_captions", "course_words", "train_tokenizer", "build_text_encoder",
           "build_unet", "make_scheduler", "TextToImageModel", "tokenize", "encode_text", "drop_captions",
           "partial_caption", "latent_batch", "latent_diffusion_loss", "latent_diffusion_prediction",
           "assemble_pipeline", "save_pipeline", "untrained_pipeline", "text_to_image_by_hand", "initial_latents",
           "generate", "cross_attention_maps"]

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
# The pre-tokenizer of CLIP: words, single digits and runs of punctuation (then byte-level symbols).
_CLIP_SPLIT = r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"""


@dataclass
class SDConfig:
    """The tiny SD's sizes (text encoder, UNet) and noise schedule. The VAE's are in ``sd_autoencoder.AutoencoderConfig``."""
    max_length: int = 16                         # tokens the text encoder takes, bos and eos included
    text_hidden: int = 64
    text_layers: int = 2
    text_heads: int = 2
    text_intermediate: int = 128
    latent_size: int = 16
    latent_channels: int = 4
    unet_channels: tuple[int, ...] = (32, 64)    # 16×16 (convolutions only), then 8×8 (with cross-attention)
    unet_down: tuple[str, ...] = ("DownBlock2D", "CrossAttnDownBlock2D")
    unet_up: tuple[str, ...] = ("CrossAttnUpBlock2D", "UpBlock2D")
    unet_heads: int = 4                          # diffusers calls this attention_head_dim (it is the head count)
    unet_layers_per_block: int = 1
    unet_norm_groups: int = 8
    beta_schedule: str = "scaled_linear"         # Stable Diffusion's schedule
    beta_start: float = 0.00085
    beta_end: float = 0.012
    num_train_timesteps: int = 1000


# ----------------------------------------------------------------------------- tokenizer
def course_captions(compositions: Iterable[tuple[str, str, str]] | None = None) -> list[str]:
    """The captions the tokenizer learns from: each composition with and without a leading "a"."""
    caps = [caption(*c) for c in (TRAIN_COMPOSITIONS if compositions is None else compositions)]
    return caps + ["a " + c for c in caps]


def course_words() -> tuple[str, ...]:
    """Every word of the storybook captions, sorted: the prompt vocabulary of the tiny SD."""
    return tuple(sorted({w for c in course_captions() for w in c.split()}))


def _bytes_to_unicode() -> dict[int, str]:
    """CLIP's (GPT-2's) map from the 256 byte values to printable characters, in CLIP's vocabulary order."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def train_tokenizer(captions: Sequence[str], folder: str | Path | None = None, *, max_length: int = 16) -> CLIPTokenizer:
    """Learn BPE merges from ``captions`` with ``tokenizers``; write CLIP's vocab.json + merges.txt to ``folder``.

    The vocabulary is laid out as CLIP's is: the 256 byte symbols, the same with the end-of-word
    mark ``</w>``, one entry per learned merge, then ``<|startoftext|>`` and ``<|endoftext|>`` (which is
    also the padding token). Merges are learned until every caption word is a single token.
    With ``folder=None`` nothing is written.
    """
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers, trainers
    captions = list(captions)
    if not captions or not all(isinstance(c, str) and c.strip() for c in captions):
        raise ValueError("train_tokenizer needs a non-empty list of non-empty caption strings.")
    bpe = Tokenizer(models.BPE(unk_token=EOS, end_of_word_suffix="</w>", continuing_subword_prefix=""))
    bpe.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.Replace(Regex(r"\s+"), " "),
                                           normalizers.Lowercase()])
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_CLIP_SPLIT), behavior="removed", invert=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False)])
    trainer = trainers.BpeTrainer(vocab_size=100_000, min_frequency=1, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), end_of_word_suffix="</w>")
    bpe.train_from_iterator(captions, trainer)
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" "))
              for m in json.loads(bpe.to_str())["model"]["merges"]]
    symbols = list(_bytes_to_unicode().values())
    entries = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges] + [BOS, EOS]
    vocab = {tok: i for i, tok in enumerate(dict.fromkeys(entries))}
    if folder is not None:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
        (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=max_length)
    for word in {w for c in captions for w in c.lower().split()}:
        if len(tokenizer.tokenize(word)) != 1:
            raise RuntimeError(f"BPE training left {word!r} in several tokens: {tokenizer.tokenize(word)}.")
    return tokenizer


def tokenize(tokenizer: CLIPTokenizer, prompts: Sequence[str]) -> torch.Tensor:
    """Token ids [B, max_length], padded and truncated exactly as ``StableDiffusionPipeline.encode_prompt`` does."""
    if isinstance(prompts, str):
        raise TypeError("tokenize takes a list of prompts; wrap a single one as [prompt].")
    return tokenizer(list(prompts), padding="max_length", max_length=tokenizer.model_max_length,
                     truncation=True, return_tensors="pt").input_ids


# ----------------------------------------------------------------------------- networks
def build_text_encoder(config: SDConfig, tokenizer: CLIPTokenizer, *, seed: int = 0) -> CLIPTextModel:
    """A small ``CLIPTextModel`` whose vocabulary and special tokens are the tokenizer's."""
    c = config
    text_config = CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=c.text_hidden, intermediate_size=c.text_intermediate,
        num_hidden_layers=c.text_layers, num_attention_heads=c.text_heads, max_position_embeddings=c.max_length,
        projection_dim=c.text_hidden, bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id)
    with seeded_init(seed):
        return CLIPTextModel(text_config)


def build_unet(config: SDConfig, *, seed: int = 0) -> UNet2DConditionModel:
    """A small ``UNet2DConditionModel`` on [B, 4, 16, 16] latents, cross-attending to the text embeddings."""
    c = config
    with seeded_init(seed):
        return UNet2DConditionModel(
            sample_size=c.latent_size, in_channels=c.latent_channels, out_channels=c.latent_channels,
            block_out_channels=tuple(c.unet_channels), down_block_types=tuple(c.unet_down),
            up_block_types=tuple(c.unet_up), layers_per_block=c.unet_layers_per_block,
            cross_attention_dim=c.text_hidden, attention_head_dim=c.unet_heads, norm_num_groups=c.unet_norm_groups)


def make_scheduler(config: SDConfig) -> DPMSolverMultistepScheduler:
    """DPM-Solver++(2M) on the training schedule (steps_offset=1 as SD's configs have it)."""
    return DPMSolverMultistepScheduler(
        num_train_timesteps=config.num_train_timesteps, beta_schedule=config.beta_schedule,
        beta_start=config.beta_start, beta_end=config.beta_end, prediction_type="epsilon",
        algorithm_type="dpmsolver++", solver_order=2, steps_offset=1)


class TextToImageModel(nn.Module):
    """The two networks trained together: the text encoder τ and the UNet ε_θ (one module for the training loop)."""

    def __init__(self, text_encoder: CLIPTextModel, unet: UNet2DConditionModel, alphas_cumprod: torch.Tensor):
        super().__init__()
        self.text_encoder, self.unet = text_encoder, unet
        self.register_buffer("alphas_cumprod", alphas_cumprod.clone().float(), persistent=False)

    def forward(self, z_t: torch.Tensor, t: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
        """z_t [B, 4, h, w], t [B], input_ids [B, L] → ε̂ [B, 4, h, w]."""
        return self.unet(z_t, t, encoder_hidden_states=encode_text(self.text_encoder, input_ids)).sample


def encode_text(text_encoder: CLIPTextModel, input_ids: torch.Tensor) -> torch.Tensor:
    """ids [B, L] → text embeddings [B, L, D]: the last hidden state, as the pipeline uses it."""
    return text_encoder(input_ids.to(text_encoder.device), attention_mask=None)[0]


def drop_captions(input_ids: torch.Tensor, empty_ids: torch.Tensor, generator: torch.Generator,
                  p_uncond: float = 0.1) -> torch.Tensor:
    """Replace whole captions [B, L] by the empty prompt's ids [L] with probability ``p_uncond``."""
    drop = (torch.rand(input_ids.shape[0], 1, generator=generator) < p_uncond).to(input_ids.device)
    return torch.where(drop, empty_ids.to(input_ids.device).expand_as(input_ids), input_ids)


def partial_caption(composition: tuple[str, str, str], keep: Sequence[bool], article: bool = False) -> str:
    """The caption with only the kept attributes: ("squirrel", "fishing", "by a river"), (True, False, True)
    → "squirrel by a river"; with ``article`` a leading "a" when the subject is kept ("a squirrel …")."""
    words = [part for part, k in zip(composition, keep) if k]
    text = " ".join(words)
    return "a " + text if article and keep[0] else text


def latent_batch(cache: dict[str, torch.Tensor], compositions: Sequence[tuple[str, str, str]], tokenizer: CLIPTokenizer,
                 scale: float, batch_size: int, generator: torch.Generator, *, p_drop_word: float = 0.1,
                 p_article: float = 0.25) -> dict[str, torch.Tensor]:
    """One training batch for ``latent_diffusion_loss`` from the latent cache {"mean", "std" [N, 4, h, w]} of
    N renders, render i showing ``compositions[i]``: random rows, each caption with every attribute left out
    with probability ``p_drop_word`` and written "a …" with probability ``p_article``."""
    if len(compositions) != len(cache["mean"]):
        raise ValueError(f"the cache holds {len(cache['mean'])} latents but {len(compositions)} compositions were "
                         "given; pass the composition of each cached render, in the cache's order.")
    idx = torch.randint(len(compositions), (batch_size,), generator=generator)
    keep = torch.rand(batch_size, 3, generator=generator) >= p_drop_word
    with_a = torch.rand(batch_size, generator=generator) < p_article
    captions = [partial_caption(compositions[i], k.tolist(), bool(a)) for i, k, a in zip(idx.tolist(), keep, with_a)]
    return {"mean": cache["mean"][idx], "std": cache["std"][idx], "ids": tokenize(tokenizer, captions),
            "empty_ids": tokenize(tokenizer, [""])[0], "scale": torch.tensor(scale)}


def latent_diffusion_loss(model: TextToImageModel, batch: dict[str, torch.Tensor], generator: torch.Generator,
                          p_uncond: float = 0.1) -> torch.Tensor:
    """ε-prediction loss on a batch of cached latents: {"mean", "std" [B, 4, h, w], "ids" [B, L],
    "empty_ids" [L], "scale" []}. z ~ N(mean, std²) is drawn afresh every step, as SD does."""
    eps_hat, eps = latent_diffusion_prediction(model, batch, generator, p_uncond)
    # L = ‖ε − ε_θ(z_t, t, τ(y))‖²
    return F.mse_loss(eps_hat, eps)


def latent_diffusion_prediction(model: TextToImageModel, batch: dict[str, torch.Tensor], generator: torch.Generator,
                                p_uncond: float = 0.1) -> tuple[torch.Tensor, torch.Tensor]:
    """The two sides of ``latent_diffusion_loss`` per sample: (ε_θ(z_t, t, τ(y)), ε), each [B, 4, h, w]
    (notebook 11's prior-preservation loss weighs two halves of a batch differently)."""
    mean, std = batch["mean"], batch["std"]
    B, device = mean.shape[0], mean.device
    # z_0 = s · (μ + σ · n): a draw from the VAE's posterior, scaled to unit variance
    z0 = batch["scale"] * (mean + std * gaussian_noise(mean.shape, generator, device=device))
    t = torch.randint(0, len(model.alphas_cumprod), (B,), generator=generator).to(device)
    eps = gaussian_noise(mean.shape, generator, device=device)
    ids = drop_captions(batch["ids"], batch["empty_ids"], generator, p_uncond)
    # z_t = √ᾱ_t · z_0 + √(1 − ᾱ_t) · ε
    z_t = q_sample(z0, t, model.alphas_cumprod, eps)
    return model(z_t, t, ids), eps


def assemble_pipeline(vae: AutoencoderKL, text_encoder: CLIPTextModel, tokenizer: CLIPTokenizer,
                      unet: UNet2DConditionModel, scheduler=None, *, config: SDConfig | None = None,
                      pipeline_class: type = StableDiffusionPipeline) -> StableDiffusionPipeline:
    """The parts as a diffusers ``StableDiffusionPipeline`` (no safety checker: the storybook needs none)."""
    scheduler = scheduler if scheduler is not None else make_scheduler(config or SDConfig())
    pipe = pipeline_class(vae=vae.eval(), text_encoder=text_encoder.eval(), tokenizer=tokenizer, unet=unet.eval(),
                          scheduler=scheduler, safety_checker=None, feature_extractor=None, image_encoder=None,
                          requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_pipeline(pipe: StableDiffusionPipeline, folder: str | Path) -> Path:
    """``save_pretrained`` into a clean ``folder`` (safetensors only), CLIP's vocab.json + merges.txt, SHA256SUMS."""
    folder = Path(folder)
    if folder.exists():
        if any(folder.iterdir()) and not (folder / "model_index.json").exists():
            raise FileExistsError(f"{folder} holds files that are not a saved pipeline; pick an empty folder.")
        shutil.rmtree(folder)
    pipe.save_pretrained(folder, safe_serialization=True)
    model = json.loads(pipe.tokenizer.backend_tokenizer.to_str())["model"]
    merges = [tuple(m) if isinstance(m, list) else tuple(m.split(" ")) for m in model["merges"]]
    vocab = dict(sorted(pipe.tokenizer.get_vocab().items(), key=lambda kv: kv[1]))     # by id: the same bytes every run
    (folder / "tokenizer" / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (folder / "tokenizer" / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    return write_manifest(folder)


def untrained_pipeline(config: SDConfig | None = None, vae_config=None, *, seed: int = 0,
                       pipeline_class: type = StableDiffusionPipeline) -> StableDiffusionPipeline:
    """Freshly initialised parts (tokenizer trained, networks random) as a pipeline: it draws noise, fast."""
    config = config or SDConfig()
    tokenizer = train_tokenizer(course_captions(), max_length=config.max_length)
    return assemble_pipeline(build_autoencoder(vae_config or AutoencoderConfig(), seed=seed),
                             build_text_encoder(config, tokenizer, seed=seed), tokenizer,
                             build_unet(config, seed=seed), config=config, pipeline_class=pipeline_class)


@torch.no_grad()
def text_to_image_by_hand(pipe: StableDiffusionPipeline, prompts: Sequence[str], *, generator: torch.Generator,
                          num_inference_steps: int = 25, guidance_scale: float | None = None,
                          callback=None, negative_prompts: Sequence[str] | None = None,
                          guidance_interval: tuple[float, float] | None = None,
                          latents: torch.Tensor | None = None) -> torch.Tensor:
    """What ``pipe(prompts, generator=…, output_type="pt")`` computes, from the course's pieces: images [B, 3, H, W] in [0, 1].

    Without a ``guidance_scale`` it uses the pipeline's default (the one its recipe chose). (For guidance_scale
    ≤ 1 diffusers skips guidance and runs the conditional model alone; this always guides.) A negative prompt
    takes the empty prompt's place in guidance, as ``pipe(…, negative_prompt=…)`` does (notebook 10).
    ``guidance_interval=(t_lo, t_hi)`` guides only those timesteps (``guidance.interval_guided_denoise``);
    ``latents`` [B, 4, h, w] replace the start noise drawn from ``generator`` (``initial_latents``: one seed per image).
    """
    if guidance_scale is None:
        guidance_scale = getattr(pipe, "default_guidance", DEFAULT_GUIDANCE)
    tokenizer, text_encoder, unet, vae = pipe.tokenizer, pipe.text_encoder, pipe.unet, pipe.vae
    prompts = [prompts] if isinstance(prompts, str) else list(prompts) if isinstance(prompts, (list, tuple)) else None
    if not prompts or not all(isinstance(p, str) and p.strip() for p in prompts):
        raise ValueError("prompts must be a non-empty text or list of texts such as ['squirrel fishing by a river'].")
    # 1. prompt → token ids [B, L] → text embeddings [B, L, D]; the empty (or negative) prompt is the unconditional one
    cond = encode_text(text_encoder, tokenize(tokenizer, prompts))
    negatives = [""] * len(prompts) if negative_prompts is None else list(negative_prompts)
    if len(negatives) != len(prompts) or not all(isinstance(p, str) for p in negatives):
        raise ValueError(f"negative_prompts must be one text per prompt ({len(prompts)}), got {negative_prompts!r}.")
    uncond = encode_text(text_encoder, tokenize(tokenizer, negatives))
    # 2. the UNet, guided: one forward pass on [uncond; cond]
    model = lambda z, t, c: unet(z, t, encoder_hidden_states=c).sample   # noqa: E731
    denoise = (guided_denoise(model, cond, uncond, guidance_scale) if guidance_interval is None
               else interval_guided_denoise(model, cond, uncond, guidance_scale, guidance_interval))
    # 3. seeded noise [B, 4, h, w] → the scheduler's loop → clean latents
    size = unet.config.sample_size
    latents = sample(denoise, pipe.scheduler, (len(prompts), unet.config.in_channels, size, size),
                     generator=generator, num_inference_steps=num_inference_steps, callback=callback,
                     device=unet.device, latents=latents)
    # 4. latents / s → VAE decoder → pixels in [-1, 1] → [0, 1]
    images = vae.decode(latents / vae.config.scaling_factor).sample
    return (images / 2 + 0.5).clamp(0, 1)


def initial_latents(pipe: StableDiffusionPipeline, seeds: Sequence[int]) -> torch.Tensor:
    """Start noise [N, 4, h, w], row i drawn from ``make_generator(seeds[i])``: what ``pipe(…, generator=[one
    per seed])`` starts from, so ``text_to_image_by_hand(…, latents=…)`` draws image i as ``generate`` does."""
    if isinstance(seeds, (str, int)) or not len(seeds):
        raise ValueError(f"seeds must be a non-empty list of ints, one per image, got {seeds!r}.")
    size, channels = pipe.unet.config.sample_size, pipe.unet.config.in_channels
    # x_T ~ N(0, σ_init² I), one generator per row
    rows = [gaussian_noise((1, channels, size, size), make_generator(s)) for s in seeds]
    return torch.cat(rows) * pipe.scheduler.init_noise_sigma


def generate(pipe: StableDiffusionPipeline, prompts: Sequence[str], seeds: Sequence[int], *, guidance_scale: float,
             num_inference_steps: int, batch_size: int = 64) -> torch.Tensor:
    """Images [N, 3, H, W] in [-1, 1], image i from ``pipe(prompts[i], generator=make_generator(seeds[i]))``
    (batched: the same pixels as one call per prompt)."""
    if len(prompts) != len(seeds):
        raise ValueError(f"got {len(prompts)} prompts but {len(seeds)} seeds; give one seed per prompt.")
    out = []
    for i in range(0, len(prompts), batch_size):
        gens = [make_generator(s) for s in seeds[i:i + batch_size]]
        images = pipe(list(prompts[i:i + batch_size]), generator=gens, guidance_scale=guidance_scale,
                      num_inference_steps=num_inference_steps, output_type="pt").images
        # x = 2 · pixel − 1
        out.append(images.cpu() * 2 - 1)
    return torch.cat(out)


@torch.no_grad()
def cross_attention_maps(unet: UNet2DConditionModel, latents: torch.Tensor, t: torch.Tensor | int,
                         text_embeddings: torch.Tensor, *, resolution: str = "coarsest") -> torch.Tensor:
    """Where each token is looked at: attention weights [B, L, h, w] of every cross-attention layer at one
    of the UNet's attention resolutions ("coarsest" or "finest"), averaged over heads and layers, for one
    UNet call.

    In each cross-attention layer the image positions ask (queries Q = W_q·features [N, d]) and the
    tokens answer (keys K = W_k·c [L, d]); position i listens to token j with weight softmax_j(Q_i·K_j / √d).
    """
    if resolution not in ("coarsest", "finest"):
        raise ValueError(f"resolution must be 'coarsest' or 'finest', got {resolution!r}.")
    captured: list[torch.Tensor] = []

    def hook(module, args, kwargs):
        h = args[0] if args else kwargs["hidden_states"]                  # [B, N, C]: positions as a sequence
        c = kwargs.get("encoder_hidden_states")                            # [B, L, D]: the text embeddings
        q, k = module.head_to_batch_dim(module.to_q(h)), module.head_to_batch_dim(module.to_k(c))
        # A = softmax(Q Kᵀ / √d) over the tokens: [B · heads, N, L]
        weights = module.get_attention_scores(q, k)
        captured.append(weights.reshape(h.shape[0], module.heads, h.shape[1], c.shape[1]).mean(1))
    hooks = [m.register_forward_pre_hook(hook, with_kwargs=True)
             for name, m in unet.named_modules() if name.endswith("attn2")]
    if not hooks:
        raise ValueError("this UNet has no cross-attention layers (attn2); is it a UNet2DConditionModel?")
    try:
        unet(latents, t, encoder_hidden_states=text_embeddings)
    finally:
        for handle in hooks:
            handle.remove()
    sizes = [w.shape[1] for w in captured]                                # positions N = h · w of each layer
    chosen = min(sizes) if resolution == "coarsest" else max(sizes)
    maps = torch.stack([w for w in captured if w.shape[1] == chosen]).mean(0)     # [B, N, L]
    side = int(round(chosen ** 0.5))
    return maps.transpose(1, 2).reshape(maps.shape[0], maps.shape[2], side, side)
