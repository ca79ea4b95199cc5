"""One loader for text-to-image pipelines: the course's tiny Stable Diffusion, or real SD by hub id.

    pipe = load_text_to_image()                                   # data/storybook-sd, offline
    image = pipe("squirrel fishing by a river", generator=torch.Generator().manual_seed(934743)).images[0]

    pipe = load_text_to_image("stable-diffusion-v1-5/stable-diffusion-v1-5", online=True)   # opt in: downloads

Both return a ``StorybookPipeline``: a diffusers ``StableDiffusionPipeline`` that checks its input
before any work is done: prompt words the model never learned (it names them, the nearest known
words and the vocabulary), an empty prompt, a prompt longer than the text encoder takes, a negative
guidance scale, or a height/width that is not a multiple of the VAE's factor each raise a clear error.
Its defaults suit the tiny model: 25 steps, guidance ``DEFAULT_GUIDANCE``.
"""
from __future__ import annotations

import difflib
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Sequence

import torch

from .checkpoints import CheckpointError, verify_manifest
from .env import pick_device
from .guidance import DEFAULT_GUIDANCE, check_guidance_scale
from .paths import data_path, is_bare_name
from .text_to_image import StableDiffusionPipeline, course_words

__all__ = ["DEFAULT_SOURCE", "DEFAULT_GUIDANCE", "DEFAULT_STEPS", "REBUILD", "StorybookPipeline",
           "prompt_vocabulary", "check_prompt", "check_size", "resolve_source", "load_text_to_image"]

DEFAULT_SOURCE = "data/storybook-sd"
DEFAULT_STEPS = 25
REBUILD = "python -m course_utils.train storybook-sd"


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
    """Raise unless height and width are positive multiples of the VAE's downsampling factor (or None)."""
    for name, value in (("height", height), ("width", width)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0 or value % factor:
            raise ValueError(f"{name} must be a positive multiple of {factor} (the VAE shrinks images {factor}× "
                             f"per side), got {value!r}. The tiny model was trained at 64.")


class StorybookPipeline(StableDiffusionPipeline):
    """``StableDiffusionPipeline`` with input checks in ``check_inputs`` and course defaults in ``__call__``."""

    #: words the tokenizer was trained on; None = any text (a real CLIP tokenizer). Set by the loader.
    vocabulary: tuple[str, ...] | None = None

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
                 guidance_scale: float = DEFAULT_GUIDANCE, **kwargs):
        """``StableDiffusionPipeline.__call__`` with 25 steps by default (guidance 7.5, as diffusers); guidance must be ≥ 0."""
        check_guidance_scale(guidance_scale)
        check_size(height, width, self.vae_scale_factor)     # before diffusers turns a 0 into the default size
        if isinstance(prompt, (list, tuple)) and not prompt:
            raise ValueError("The list of prompts is empty; give at least one prompt.")
        return super().__call__(prompt=prompt, height=height, width=width, num_inference_steps=num_inference_steps,
                                timesteps=timesteps, sigmas=sigmas, guidance_scale=guidance_scale, **kwargs)


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


def load_text_to_image(source: str | Path = DEFAULT_SOURCE, *, online: bool = False,
                       device: str | torch.device | None = None) -> StorybookPipeline:
    """A text-to-image pipeline: the course's local folder by default, a hub id only with ``online=True``."""
    if not isinstance(source, (str, Path)) or not str(source).strip():
        raise ValueError(f"source must be a folder or a hub id, got {source!r}. The course's model is {DEFAULT_SOURCE!r}.")
    kind, folder = resolve_source(source)
    device = torch.device(device) if device is not None else pick_device()
    if kind == "local":
        if folder is None or not folder.is_dir():
            raise CheckpointError(f"No text-to-image model at {folder}. Rebuild the course's model with `{REBUILD}` "
                                  "(about 45 minutes on 2 CPU cores), or restore it with `git checkout -- data/`.")
        verify_manifest(folder)          # a missing or edited file → CheckpointError with the rebuild command
        try:
            with _quiet_loading():
                pipe = StorybookPipeline.from_pretrained(folder, local_files_only=True)
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
        pipe = StorybookPipeline.from_pretrained(str(source), torch_dtype=dtype)
    pipe.vocabulary = prompt_vocabulary(pipe.tokenizer)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)
