"""A prompt playground: one panel of widgets to draw with the course's text-to-image model and see the result.

    from course_utils.pipelines import load_text_to_image
    from course_utils.playground import playground
    pipe = load_text_to_image()
    playground(pipe)                    # prompt, negative, seed, steps, guidance, sampler, input image, strength

Pressing Draw runs the pipeline once (``generate``: the same call a reader would type), shows the picture
with what drew it and how long it took; a prompt the model cannot read (an unknown word, a bad strength)
shows the pipeline's own message in red instead, and the last picture stays. With an input image it runs
``editing.img2img`` (SDEdit) instead of drawing from noise. ``static_playground`` draws a fixed grid of
prompts × seeds the same way, for readers whose viewer shows no widgets (a static page, GitHub).
Taught in notebook 10 (``notebooks/10_editing_and_control.ipynb``); tested in ``tests/test_playground.py``.
"""
from __future__ import annotations

import base64
import html
import io
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import ipywidgets as widgets
import matplotlib.pyplot as plt
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, EulerDiscreteScheduler

from . import editing
from .pipelines import DEFAULT_STEPS
from .plotting import show_images
from .seeding import make_generator

__all__ = ["DEFAULT_PROMPT", "DEFAULT_SEED", "SAMPLERS", "make_scheduler", "using_scheduler", "generate",
           "playground", "static_playground"]

DEFAULT_PROMPT = "squirrel fishing by a river"
DEFAULT_SEED = 934743
#: The sampler menu: name → a new scheduler of that kind on the pipeline's noise schedule (its config).
#: No clipping of the predicted z_0 to [-1, 1]: latents are not pixels (diffusers' pipeline forces the same).
SAMPLERS: dict[str, Callable[[dict], object]] = {
    "DPM-Solver++": lambda config: DPMSolverMultistepScheduler.from_config(config),
    "DDIM": lambda config: DDIMScheduler.from_config(config, clip_sample=False, timestep_spacing="trailing"),
    "Euler": lambda config: EulerDiscreteScheduler.from_config(config),
    "DDPM": lambda config: DDPMScheduler.from_config(config, clip_sample=False),
}
_RED = "#c0392b"


def make_scheduler(pipe, sampler: str):
    """A fresh scheduler named ``sampler`` (a key of ``SAMPLERS``) on ``pipe``'s noise schedule."""
    if sampler not in SAMPLERS:
        raise ValueError(f"Unknown sampler {sampler!r}; choose one of {', '.join(SAMPLERS)}.")
    return SAMPLERS[sampler](pipe.scheduler.config)


@contextmanager
def using_scheduler(pipe, scheduler) -> Iterator[object]:
    """``pipe`` with ``scheduler`` in place for the block; its own scheduler comes back afterwards, even on error.

    Swapping is cheaper than a copy, ``type(pipe)(**{**pipe.components, "scheduler": s})`` (0.2 vs 0.8 ms in a
    probe), and keeps ``vocabulary`` and ``default_guidance`` without copying them.
    """
    own = pipe.scheduler
    pipe.scheduler = scheduler
    try:
        yield pipe
    finally:
        pipe.scheduler = own


def generate(pipe, prompt: str, *, seed: int = DEFAULT_SEED, negative_prompt: str = "",
             num_inference_steps: int = DEFAULT_STEPS, guidance_scale: float | None = None,
             sampler: str = "DPM-Solver++", image: torch.Tensor | None = None, strength: float = 0.6) -> torch.Tensor:
    """One picture [N, 3, H, W] in [-1, 1]: ``pipe(prompt, …)`` from noise, or ``editing.img2img`` from ``image``."""
    w = pipe.default_guidance if guidance_scale is None else guidance_scale
    with using_scheduler(pipe, make_scheduler(pipe, sampler)) as p:
        if image is not None:
            return editing.img2img(p, image, prompt, strength=strength, generator=make_generator(seed),
                                   num_inference_steps=num_inference_steps, guidance_scale=w,
                                   negative_prompt=negative_prompt)
        out = p(prompt, negative_prompt=negative_prompt or None, generator=make_generator(seed),
                num_inference_steps=num_inference_steps, guidance_scale=w, output_type="pt")
    return out.images.cpu() * 2 - 1                 # "pt" images are in [0, 1]; the course's range is [-1, 1]


def _png_output(fig, title: str) -> dict:
    """A figure as one display_data output (PNG), the form ``Output.outputs`` holds; the figure is closed."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(buffer.getvalue()).decode("ascii"), "text/plain": title}}


def _controls(pipe, images: dict[str, torch.Tensor]) -> dict[str, widgets.Widget]:
    """The panel's widgets by name."""
    wide = widgets.Layout(width="420px")
    return {
        "prompt": widgets.Text(value=DEFAULT_PROMPT, description="prompt", layout=wide),
        "negative": widgets.Text(value="", description="negative", layout=wide),
        "seed": widgets.IntText(value=DEFAULT_SEED, description="seed"),
        "steps": widgets.IntSlider(value=DEFAULT_STEPS, min=5, max=50, description="steps"),
        "guidance": widgets.FloatSlider(value=pipe.default_guidance, min=0.0, max=15.0, step=0.5,
                                        description="guidance"),
        "sampler": widgets.Dropdown(options=list(SAMPLERS), value="DPM-Solver++", description="sampler"),
        "image": widgets.Dropdown(options=["none", *images], value="none", description="input image"),
        "strength": widgets.FloatSlider(value=0.6, min=0.05, max=1.0, step=0.05, description="strength",
                                        disabled=True),
        "draw": widgets.Button(description="Draw", button_style="primary", layout=widgets.Layout(flex="0 0 auto")),
        "status": widgets.HTML(value=""),
        "output": widgets.Output(),
    }


def _settings(c: dict[str, widgets.Widget], images: dict[str, torch.Tensor]) -> dict:
    """The keyword arguments of ``generate`` that the controls hold now."""
    return dict(seed=c["seed"].value, negative_prompt=c["negative"].value, num_inference_steps=c["steps"].value,
                guidance_scale=c["guidance"].value, sampler=c["sampler"].value,
                image=images.get(c["image"].value) if c["image"].value != "none" else None,
                strength=c["strength"].value)


def _title(prompt: str, kw: dict, seconds: float) -> str:
    source = "" if kw["image"] is None else f" · from image, strength {kw['strength']:g}"
    return (f"{prompt}\nseed {kw['seed']} · {kw['num_inference_steps']} steps · w {kw['guidance_scale']:g} · "
            f"{kw['sampler']}{source} · {seconds:.1f} s")


def _drawer(pipe, panel: widgets.VBox, images: dict[str, torch.Tensor]) -> Callable[..., None]:
    """The function the Draw button runs: draw, show, and report (errors in red, the last picture kept)."""
    c = panel.controls

    def draw(*_button) -> None:
        prompt, kw = c["prompt"].value, _settings(c, images)
        c["draw"].disabled, c["status"].value = True, "drawing…"
        start = time.perf_counter()
        try:
            picture = generate(pipe, prompt, **kw)
        except (ValueError, TypeError) as err:
            c["status"].value = f'<span style="color:{_RED}">{html.escape(str(err))}</span>'
            return
        finally:
            c["draw"].disabled = False
        seconds = time.perf_counter() - start
        title = _title(prompt, kw, seconds)
        c["output"].outputs = (_png_output(show_images(picture, titles=[title] * len(picture), size=3), title),)
        panel.last_image = picture
        c["status"].value = f"drew in {seconds:.1f} s"

    return draw


def playground(pipe, *, images: dict[str, torch.Tensor] | None = None) -> widgets.VBox:
    """The prompt playground panel for ``pipe`` (``load_text_to_image()``); it draws once as it is built.

    ``images``: name → picture [3, H, W] or [1, 3, H, W] in [-1, 1], offered as inputs for img2img.
    The VBox carries ``controls`` (name → widget), ``draw()`` (what the button runs) and ``last_image``.
    """
    images = dict(images or {})
    if "none" in images:
        raise ValueError('"none" is the menu entry for drawing from noise; give that image another name.')
    c = _controls(pipe, images)
    panel = widgets.VBox([widgets.HBox([c["prompt"], c["negative"]]),
                          widgets.HBox([c["seed"], c["steps"], c["guidance"]]),
                          widgets.HBox([c["sampler"], c["image"], c["strength"]]),
                          widgets.HBox([c["draw"], c["status"]]), c["output"]])
    panel.add_class("course-playground")
    panel.controls, panel.last_image = c, None
    panel.draw = _drawer(pipe, panel, images)
    c["draw"].on_click(panel.draw)
    c["image"].observe(lambda change: setattr(c["strength"], "disabled", change["new"] == "none"), names="value")
    panel.draw()
    return panel


def static_playground(pipe, prompts: list[str], seeds: list[int], *, guidance_scale: float | None = None,
                      num_inference_steps: int = DEFAULT_STEPS) -> plt.Figure:
    """The playground without widgets: one figure, a row per prompt and a column per seed, drawn by ``generate``."""
    if not prompts or not seeds:
        raise ValueError("static_playground needs at least one prompt and one seed.")
    w = pipe.default_guidance if guidance_scale is None else guidance_scale
    pictures = [generate(pipe, p, seed=s, guidance_scale=w, num_inference_steps=num_inference_steps)
                for p in prompts for s in seeds]
    titles = [f"{p}\nseed {s}" for p in prompts for s in seeds]
    return show_images(torch.cat(pictures), titles=titles, ncols=len(seeds), size=2.2,
                       suptitle=f"{num_inference_steps} steps, guidance w = {w:g}")
