"""One loader for text-to-image pipelines: the course's tiny Stable Diffusion, or real SD by hub id.

    pipe = load_text_to_image()                                   # data/storybook-sd, offline
    image = pipe("squirrel fishing by a river", generator=torch.Generator().manual_seed(934743)).images[0]

    pipe = load_text_to_image("stable-diffusion-v1-5/stable-diffusion-v1-5", online=True)   # opt in: downloads

Both return a ``StorybookPipeline``: a diffusers ``StableDiffusionPipeline`` that checks its input
before any work is done: prompt words the model never learned (it names them, the nearest known
words and the vocabulary), an empty prompt, a prompt longer than the text encoder takes, a negative
guidance scale or one above ``MAX_GUIDANCE``, a height/width that is not a multiple of the VAE's factor
or above ``MAX_SIDE``, a step count outside 1 … num_train_timesteps, a seed where a generator belongs,
or a num_images_per_prompt below 1 each raise a clear error. For the course's model a prompt is read
as ``storybook.normalize_caption`` reads a caption ("Squirrel fishing by a river." is fine).
Its defaults suit the tiny model: 25 steps, and the guidance scale its recipe chose by held-out adherence on a
validation set (``record.json``'s "default_guidance"; ``DEFAULT_GUIDANCE`` for a model whose record has none).
"""
from __future__ import annotations

import difflib
import inspect
import json
import numbers
import os
import re
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np
import torch

from .checkpoints import CheckpointError, check_safetensors, verify_manifest
from .env import check_device, pick_device
from .guidance import DEFAULT_GUIDANCE, MAX_GUIDANCE, check_guidance_scale
from .paths import data_path, is_bare_name
from .storybook import normalize_caption
from .text_to_image import StableDiffusionPipeline, course_words

__all__ = ["DEFAULT_SOURCE", "DEFAULT_GUIDANCE", "DEFAULT_STEPS", "MAX_GUIDANCE", "MAX_SIDE", "REBUILD",
           "HubUnreachable", "StorybookPipeline", "prompt_vocabulary", "check_prompt", "check_size", "check_steps",
           "check_call_args", "check_device", "resolve_source", "recorded_guidance", "load_text_to_image",
           "load_autoencoder"]

DEFAULT_SOURCE = "data/storybook-sd"
DEFAULT_STEPS = 25
REBUILD = "python -m course_utils.train storybook-sd"
#: Largest height/width in pixels (SDXL's size); bigger ones would exhaust memory deep inside the UNet.
MAX_SIDE = 1024


class HubUnreachable(ConnectionError):
    """The hub cannot be reached (no network, a firewall, or HF_HUB_OFFLINE=1) for an online load."""


def prompt_vocabulary(tokenizer) -> tuple[str, ...] | None:
    """The words a course tokenizer was trained on (each one token), or None for a full CLIP tokenizer."""
    if len(tokenizer) > 10_000:          # real CLIP has 49,408 entries: any English word goes
        return None
    return tuple(w for w in course_words() if len(tokenizer.tokenize(w)) == 1)


def check_prompt(prompt: str, tokenizer, vocabulary: Sequence[str] | None, *, what: str = "prompt") -> None:
    """Raise a ValueError naming the problem if ``prompt`` is empty, too long, or uses unknown words."""
    if not isinstance(prompt, str):
        raise TypeError(f"a {what} must be a string such as 'squirrel fishing by a river', got {type(prompt).__name__}.")
    if not prompt.strip():
        raise ValueError(f"The {what} is empty. Write what to draw, e.g. 'squirrel fishing by a river' (the empty "
                         "prompt is what guidance uses as 'unconditional'; see course_utils.guidance for w = 0).")
    if vocabulary is not None:
        for word in re.findall(r"\S+", prompt.lower()):
            if word not in vocabulary:
                near = difflib.get_close_matches(word, vocabulary, n=3, cutoff=0.5) or \
                    difflib.get_close_matches(word, vocabulary, n=3, cutoff=0.0)
                raise ValueError(f"Unknown word {word!r} in the {what} {prompt!r}: the model never learned it. "
                                 f"Nearest known words: {', '.join(near)}. The model knows: {', '.join(vocabulary)}.")
    n_tokens = len(tokenizer(prompt, verbose=False).input_ids)
    if n_tokens > tokenizer.model_max_length:
        raise ValueError(f"The {what} {prompt!r} is {n_tokens} tokens long (start and end marks included), but the "
                         f"text encoder takes at most {tokenizer.model_max_length}. Use fewer words.")


def check_size(height: int | None, width: int | None, factor: int) -> None:
    """Raise unless height and width are positive multiples of the VAE's factor up to ``MAX_SIDE`` (or None)."""
    for name, value in (("height", height), ("width", width)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0 or value % factor:
            raise ValueError(f"{name} must be a positive multiple of {factor} (the VAE shrinks images {factor}× "
                             f"per side), got {value!r}. The tiny model was trained at 64.")
        if value > MAX_SIDE:
            raise ValueError(f"{name}={value} is above {MAX_SIDE} px, more than this pipeline can draw in memory; "
                             "the tiny model was trained at 64 (real Stable Diffusion at 512).")



def check_steps(num_inference_steps: object, num_train_timesteps: int) -> int:
    """Return the step count if it is an int in [1, num_train_timesteps] (bools refused), else raise."""
    n = num_inference_steps
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or not 1 <= n <= num_train_timesteps:
        raise ValueError(f"num_inference_steps must be a whole number from 1 to {num_train_timesteps} (the "
                         f"scheduler's training steps), got {n!r}. 25 is the course's default.")
    return int(n)


def check_call_args(prompt, generator, num_images_per_prompt, guidance_scale, negative_prompt=None) -> None:
    """The checks of ``StorybookPipeline.__call__`` that need no model: types and ranges of its arguments."""
    prompts = [prompt] if isinstance(prompt, str) else prompt
    for name, value in (("prompt", prompt), ("negative_prompt", negative_prompt)):
        texts = [value] if isinstance(value, str) else value
        if value is not None and not (isinstance(texts, (list, tuple)) and all(isinstance(t, str) for t in texts)):
            raise TypeError(f"{name} must be a string such as 'squirrel fishing by a river' or a list of strings, "
                            f"got {value!r} ({type(value).__name__}).")
    if isinstance(prompts, (list, tuple)) and not prompts:
        raise ValueError("The list of prompts is empty; give at least one prompt.")
    n = num_images_per_prompt
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"num_images_per_prompt must be a whole number ≥ 1, got {n!r}.")
    gens = generator if isinstance(generator, (list, tuple)) else [generator]
    if generator is not None and not (gens and all(isinstance(g, torch.Generator) for g in gens)):
        hint = f"generator=make_generator({generator})" if isinstance(generator, int) else "generator=make_generator(seed)"
        raise TypeError(f"generator must be a torch.Generator (or a list of them, one per image), got {generator!r}. "
                        f"Use {hint} from course_utils.seeding.")
    if isinstance(generator, (list, tuple)):
        count = (1 if isinstance(prompt, str) else len(prompt or [None])) * n
        if len(generator) != count:
            raise ValueError(f"got {len(generator)} generators for {count} images; give one per image, or one "
                             "generator for all.")
    check_guidance_scale(guidance_scale)              # a number in [0, MAX_GUIDANCE]


class StorybookPipeline(StableDiffusionPipeline):
    """``StableDiffusionPipeline`` with input checks in ``check_inputs`` and course defaults in ``__call__``."""

    #: words the tokenizer was trained on; None = any text (a real CLIP tokenizer). Set by the loader.
    vocabulary: tuple[str, ...] | None = None
    #: the guidance scale a call without one uses: the recipe's measured choice, set by the loader from record.json
    default_guidance: float = DEFAULT_GUIDANCE

    def check_inputs(self, prompt, height, width, callback_steps, negative_prompt=None, prompt_embeds=None,
                     negative_prompt_embeds=None, ip_adapter_image=None, ip_adapter_image_embeds=None,
                     callback_on_step_end_tensor_inputs=None):
        check_size(height, width, self.vae_scale_factor)
        for text in ([prompt] if isinstance(prompt, str) else prompt or []):
            check_prompt(text, self.tokenizer, self.vocabulary)
        for text in ([negative_prompt] if isinstance(negative_prompt, str) else negative_prompt or []):
            if text.strip():                 # "" is the unconditional prompt: always allowed
                check_prompt(text, self.tokenizer, self.vocabulary, what="negative prompt")
        # sizes are checked above against the VAE's own factor; diffusers' check wants multiples of 8
        super().check_inputs(prompt, 8, 8, callback_steps, negative_prompt, prompt_embeds, negative_prompt_embeds,
                             ip_adapter_image, ip_adapter_image_embeds, callback_on_step_end_tensor_inputs)

    def __call__(self, prompt: str | list[str] | None = None, height: int | None = None, width: int | None = None,
                 num_inference_steps: int = DEFAULT_STEPS, timesteps=None, sigmas=None,
                 guidance_scale: float | None = None, **kwargs):
        """``StableDiffusionPipeline.__call__`` with 25 steps by default and guidance ``self.default_guidance``
        (the value the model's recipe measured best; 7.5, diffusers' default, when it has none); every
        argument is checked before any work (see the module docstring)."""
        guidance_scale = self.default_guidance if guidance_scale is None else guidance_scale
        check_call_args(prompt, kwargs.get("generator"), kwargs.get("num_images_per_prompt", 1), guidance_scale,
                        kwargs.get("negative_prompt"))
        check_size(height, width, self.vae_scale_factor)     # before diffusers turns a 0 into the default size
        if kwargs.get("output_type", "pil") not in _OUTPUT_TYPES:
            raise ValueError(f"output_type must be one of {', '.join(_OUTPUT_TYPES)}, got {kwargs['output_type']!r}.")
        if timesteps is None and sigmas is None:
            check_steps(num_inference_steps, self.scheduler.config.num_train_timesteps)
            timesteps = self._distinct_timesteps(num_inference_steps)
        if self.vocabulary is not None:      # the course's model: read prompts as captions are read
            prompt = _normalized(prompt)
            if "negative_prompt" in kwargs:
                kwargs["negative_prompt"] = _normalized(kwargs["negative_prompt"])
        return super().__call__(prompt=prompt, height=height, width=width,
                                num_inference_steps=num_inference_steps,
                                timesteps=timesteps, sigmas=sigmas, guidance_scale=guidance_scale, **kwargs)

    def _distinct_timesteps(self, n: int) -> list[int] | None:
        """None if the scheduler's own n timesteps are distinct, else n distinct ones spread over [T−1, 0].

        DPMSolverMultistep's "linspace" spacing repeats a timestep at n = T (it rounds T+1 points into
        T integers); a repeated timestep is a step of size 0, and its solver divides by it: an all-NaN
        image. Every training timestep once, T−1 … 0, is what n = T should mean.
        """
        self.scheduler.set_timesteps(n)
        ts = self.scheduler.timesteps
        if len(ts) == n and bool((ts[1:] < ts[:-1]).all()):
            return None
        if "timesteps" not in inspect.signature(self.scheduler.set_timesteps).parameters:
            raise ValueError(f"{type(self.scheduler).__name__} repeats a timestep at num_inference_steps={n}, which "
                             "would give a NaN image; use fewer steps.")
        T = self.scheduler.config.num_train_timesteps
        return [int(t) for t in np.linspace(T - 1, 0, n).round()]


_OUTPUT_TYPES = ("pil", "np", "pt", "latent")


def _normalized(prompt):
    """``storybook.normalize_caption`` on a prompt or each of a list (anything else is left for the checks)."""
    if isinstance(prompt, str):
        return normalize_caption(prompt)
    if isinstance(prompt, (list, tuple)) and all(isinstance(p, str) for p in prompt):
        return [normalize_caption(p) for p in prompt]
    return prompt


@contextmanager
def _quiet_loading() -> Iterator[None]:
    """No progress bars while the parts load (diffusers' and transformers' own), restored afterwards."""
    from diffusers.utils import logging as dlog
    from transformers.utils import logging as tlog
    states = (dlog.is_progress_bar_enabled(), tlog.is_progress_bar_enabled())
    dlog.disable_progress_bar()
    tlog.disable_progress_bar()
    try:
        yield
    finally:
        if states[0]:
            dlog.enable_progress_bar()
        if states[1]:
            tlog.enable_progress_bar()


def resolve_source(source: str | Path) -> tuple[str, Path | None]:
    """("local", folder) for a model name or a folder; ("hub", None) for a Hugging Face hub id ("org/name").

    As for every course loader (``paths.data_path``): a bare name ("storybook-sd") means data/storybook-sd,
    a path stays a path. Two parts ("org/name") that are no folder here, and not under data/, are a hub id.
    """
    text = str(source)
    path = Path(text).expanduser()
    if is_bare_name(text) or path.is_absolute() or text.startswith((".", "~")) or text.endswith("/"):
        return "local", data_path(text).resolve()
    local = data_path(text)
    if local.is_dir() or path.parts[:1] == ("data",) or len(path.parts) != 2:
        return "local", local.resolve()
    return "hub", None


def _hub_reachable(timeout: float = 3.0) -> bool:
    """Can a connection to the hub's host be opened? (A firewall or the tests' network guard says no.)"""
    from urllib.parse import urlparse

    from huggingface_hub import constants
    host = urlparse(constants.ENDPOINT).hostname or "huggingface.co"
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except Exception:                   # OSError, socket.timeout, a guard's own error class
        return False


def _explain_hub_failure(hub_id: str, err: Exception) -> None:
    """Raise ``HubUnreachable`` when the failure is the network's (not the cache's or the id's); else return."""
    offline = [v for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
               if os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")]
    if offline:
        reason = (f"{' and '.join(v + '=1' for v in offline)} {'is' if len(offline) == 1 else 'are'} set in this "
                  "environment, so downloads are switched off")
    elif not _hub_reachable():
        reason = "the network is unreachable from here (no connection, a firewall or a proxy)"
    else:
        return                          # the hub answered: the id, a gated model or disk space is the problem
    todo = f"unset {' and '.join(offline)}" if offline else "connect to the network"
    detail = (str(err).splitlines() or [""])[0][:200]
    raise HubUnreachable(f"Could not download {hub_id!r} from the Hugging Face Hub: {reason}. To download it, "
                         f"{todo} and try again; offline, use the course's model: load_text_to_image() "
                         f"({DEFAULT_SOURCE}). [{type(err).__name__}: {detail}]") from None


def recorded_guidance(folder: Path) -> float:
    """The guidance scale the model's recipe chose (record.json: "default_guidance": {"value": w, …}), else
    ``DEFAULT_GUIDANCE``."""
    path = Path(folder) / "record.json"
    record = json.loads(path.read_text()) if path.is_file() else {}
    chosen = record.get("default_guidance")
    if chosen is None:
        return DEFAULT_GUIDANCE
    value = chosen.get("value") if isinstance(chosen, dict) else None
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not 0 <= value <= MAX_GUIDANCE:
        raise CheckpointError(f"{path}: default_guidance must be {{'value': w, …}} with 0 ≤ w ≤ {MAX_GUIDANCE}, "
                              f"got {chosen!r}. Rebuild it with `{REBUILD}`.")
    return float(value)


def load_text_to_image(source: str | Path = DEFAULT_SOURCE, *, online: bool = False,
                       device: str | torch.device | None = None) -> StorybookPipeline:
    """A text-to-image pipeline: the course's local folder by default, a hub id only with ``online=True``."""
    if not isinstance(source, (str, Path)) or not str(source).strip():
        raise ValueError(f"source must be a folder or a hub id, got {source!r}. The course's model is {DEFAULT_SOURCE!r}.")
    kind, folder = resolve_source(source)
    device = check_device(device) if device is not None else pick_device()
    if kind == "local":
        if folder is None or not folder.is_dir():
            raise CheckpointError(f"No text-to-image model at {folder}. Rebuild the course's model with `{REBUILD}` "
                                  "(about 95 minutes on 2 CPU cores), or restore it with `git checkout -- data/`.")
        verify_manifest(folder)          # a missing or edited file → CheckpointError with the rebuild command
        check_safetensors(folder, f"Rebuild it with `{REBUILD}`, or restore it with `git checkout -- data/`.")
        try:
            with _quiet_loading():
                pipe = StorybookPipeline.from_pretrained(folder, local_files_only=True, use_safetensors=True)
        except (OSError, ValueError, KeyError) as err:
            raise CheckpointError(f"{folder} could not be loaded as a StableDiffusionPipeline ({err}). "
                                  f"Rebuild it with `{REBUILD}`.") from None
    else:
        if online is not True:
            raise ValueError(
                f"{str(source)!r} is not a folder here, so it would be downloaded from the Hugging Face Hub, and "
                "this loader stays offline unless you opt in: load_text_to_image("
                f"{str(source)!r}, online=True) (needs network access; a GPU is advised). "
                f"Offline, use the course's model: load_text_to_image() ({DEFAULT_SOURCE}).")
        dtype = torch.float16 if device.type == "cuda" else torch.float32
        try:
            pipe = StorybookPipeline.from_pretrained(str(source), dtype=dtype, use_safetensors=True)
        except Exception as err:        # requests', huggingface_hub's and the OS's errors all look alike here
            _explain_hub_failure(str(source), err)
            raise
    pipe.vocabulary = prompt_vocabulary(pipe.tokenizer)
    if kind == "local":
        pipe.default_guidance = recorded_guidance(folder)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def load_autoencoder(source: str | Path = DEFAULT_SOURCE, subfolder: str = "vae", *,
                     device: str | torch.device = "cpu"):
    """One ``AutoencoderKL`` of the course's text-to-image folder, checked against its SHA256SUMS: "vae" is the
    pipeline's own; "vae_before_discriminator" is the same autoencoder as it was when the patch discriminator
    joined its training (notebook 07 compares their round trips)."""
    from diffusers import AutoencoderKL
    kind, folder = resolve_source(source)
    if kind != "local" or folder is None or not (folder / subfolder / "config.json").is_file():
        known = sorted(p.name for p in folder.iterdir() if (p / "config.json").is_file() and "vae" in p.name) \
            if kind == "local" and folder is not None and folder.is_dir() else []
        raise CheckpointError(f"No autoencoder {subfolder!r} in {folder if kind == 'local' else source}"
                              + (f" (it has: {', '.join(known)})" if known else "")
                              + f". Rebuild the course's model with `{REBUILD}`, or restore it with `git checkout -- data/`.")
    verify_manifest(folder)
    check_safetensors(folder / subfolder, f"Rebuild it with `{REBUILD}`, or restore it with `git checkout -- data/`.")
    with _quiet_loading():
        vae = AutoencoderKL.from_pretrained(folder / subfolder, local_files_only=True, use_safetensors=True)
    return vae.to(check_device(device)).eval()
