"""The course's one sampling loop: from seeded noise to a sample, with any scheduler.

    x = noise from the generator · init_noise_sigma          # x_T (σ-space schedulers start wider)
    for t in scheduler.timesteps:                            # T−1 … 0, num_inference_steps of them
        x_in = scheduler.scale_model_input(x, t)             # what the model was trained on: x_t
        model_output = denoise(x_in, t)                      # ε̂ (or v̂) from the network
        x = scheduler.step(model_output, t, x, generator=generator).prev_sample

``front_end_scheduler(name, config)`` builds the diffusers scheduler behind a sampler name that image
tools show ("Euler a", "DPM++ 2M Karras", …), as diffusers' scheduler overview maps them (notebook 07).

Editing (notebook 10) starts the same loop part-way: from given ``latents`` at the ``start_step``-th
timestep (img2img, inversion), and can change x after each step (``after_step``: inpainting blends
the known part back in).

It works with the course's schedulers (``course_utils.schedulers``) and diffusers' (DDPM, DDIM,
DPMSolverMultistep, EulerDiscrete …). The caller wraps its network as ``denoise(x_t, t)``, e.g.
``lambda x, t: unet(x, t).sample``. The start noise is drawn on the CPU from ``generator`` and moved
to ``device`` (as diffusers' ``randn_tensor`` does), so a seed gives the same sample everywhere.
"""
from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

import torch
from tqdm.auto import tqdm

from .env import check_device, pick_device
from .forward import gaussian_noise

__all__ = ["Denoiser", "Callback", "predicted_x0", "sample", "Trajectory", "record_trajectory", "FRONT_END_SAMPLERS",
           "front_end_scheduler"]

Denoiser = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
Callback = Callable[[int, torch.Tensor, torch.Tensor, torch.Tensor], None]


def predicted_x0(scheduler: Any, model_output: torch.Tensor, x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """x̂_0 from the model output at integer timestep t, for schedulers whose step does not return it."""
    if float(t) != int(t):
        raise ValueError(f"predicted_x0 needs an integer timestep to look up ᾱ_t, got {float(t)}.")
    a_t = scheduler.alphas_cumprod[int(t)].to(x_t)
    prediction_type = scheduler.config["prediction_type"]
    if prediction_type == "epsilon":
        # x̂_0 = (x_t − √(1−ᾱ_t) ε̂) / √ᾱ_t
        return (x_t - (1 - a_t).sqrt() * model_output) / a_t.sqrt()
    if prediction_type == "v_prediction":
        # x̂_0 = √ᾱ_t x_t − √(1−ᾱ_t) v̂
        return a_t.sqrt() * x_t - (1 - a_t).sqrt() * model_output
    if prediction_type == "sample":
        return model_output
    raise ValueError(f"prediction_type {prediction_type!r} is not one the sampler knows (epsilon, v_prediction, sample).")


def _check_args(denoise, shape, generator, num_inference_steps, device: torch.device,
                may_omit_generator: bool = False) -> tuple[int, ...]:
    if not callable(denoise):
        raise TypeError("denoise must be a function denoise(x_t, t) -> model output, "
                        "e.g. lambda x, t: unet(x, t).sample.")
    if isinstance(num_inference_steps, bool) or not isinstance(num_inference_steps, int) or num_inference_steps <= 0:
        raise ValueError(f"num_inference_steps must be a positive int such as 50, got {num_inference_steps!r}.")
    shape = tuple(shape)
    if not shape or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in shape):
        raise ValueError(f"shape must be a tuple of positive ints such as (4, 3, 32, 32), got {shape!r}.")
    if generator is None and may_omit_generator:
        return shape
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator (make_generator(seed)), got {type(generator).__name__}.")
    if generator.device.type != "cpu":
        raise ValueError(f"The generator is on {generator.device}, but sampling on {device} draws its noise on the "
                         "CPU and moves it over. Make it with make_generator(seed) (a CPU generator).")
    return shape


def sample(denoise: Denoiser, scheduler: Any, shape: tuple[int, ...], *, generator: torch.Generator,
           num_inference_steps: int, callback: Callback | None = None, device: str | torch.device | None = None,
           progress: bool = False, eta: float | None = None, dtype: torch.dtype = torch.float32,
           latents: torch.Tensor | None = None, start_step: int = 0, stop_step: int | None = None,
           after_step: Callable[[int, torch.Tensor], torch.Tensor] | None = None) -> torch.Tensor:
    """Run the reverse process and return the final sample ``[*shape]`` on ``device``.

    denoise(x_t, t) → model output shaped like x_t; scheduler: ours or diffusers'; generator: a CPU
    generator for the start noise and every noisy step; eta: passed to schedulers whose step takes it (DDIM).
    callback(step_index, t, x_t, pred_x0) runs once per step with the model's input x_t and its x̂_0.
    latents: start from this x [*shape] instead of drawing noise; start_step: skip the first timesteps
    of the num_inference_steps-step schedule (img2img starts at its strength's timestep) and stop before
    step ``stop_step`` (a partial inversion stops part-way up); after_step(i, x)
    returns the x that the next step starts from. A scheduler whose step draws nothing and takes no
    generator (DDIMInverseScheduler) may run from given latents with generator=None.
    """
    device = check_device(device) if device is not None else pick_device()
    takes_generator = "generator" in inspect.signature(scheduler.step).parameters if callable(
        getattr(scheduler, "step", None)) else True
    shape = _check_args(denoise, shape, generator, num_inference_steps, device,
                        may_omit_generator=latents is not None and not takes_generator)
    if not (isinstance(dtype, torch.dtype) and dtype.is_floating_point):
        raise TypeError(f"dtype must be a floating-point torch.dtype such as torch.float32, got {dtype!r}.")
    for name in ("set_timesteps", "step", "scale_model_input"):
        if not callable(getattr(scheduler, name, None)):
            raise TypeError(f"scheduler must be a scheduler (ours or diffusers', e.g. DDIMScheduler()), got "
                            f"{type(scheduler).__name__}, which has no {name}().")
    step_kwargs: dict[str, Any] = {"generator": generator} if takes_generator else {}
    if eta is not None:
        if "eta" not in inspect.signature(scheduler.step).parameters:
            raise ValueError(f"{type(scheduler).__name__}.step takes no eta; drop eta= (it is DDIM's knob).")
        step_kwargs["eta"] = eta
    config = getattr(scheduler, "config", {})                 # a dict for ours, a FrozenDict for diffusers'
    T = config.get("num_train_timesteps") if isinstance(config, dict) else None
    if T is not None and num_inference_steps > T:
        raise ValueError(f"num_inference_steps={num_inference_steps} is more than the scheduler's "
                         f"num_train_timesteps={T}; use at most {T}.")
    if isinstance(start_step, bool) or not isinstance(start_step, int) or not 0 <= start_step < num_inference_steps:
        raise ValueError(f"start_step must be a whole number from 0 to num_inference_steps − 1 = "
                         f"{num_inference_steps - 1}, got {start_step!r}.")
    stop = num_inference_steps if stop_step is None else stop_step
    if isinstance(stop, bool) or not isinstance(stop, int) or not start_step < stop <= num_inference_steps:
        raise ValueError(f"stop_step must be a whole number from start_step + 1 = {start_step + 1} to "
                         f"num_inference_steps = {num_inference_steps}, got {stop_step!r}.")
    scheduler.set_timesteps(num_inference_steps, device=device)
    ts = scheduler.timesteps
    monotone = bool((ts[1:] < ts[:-1]).all()) or bool((ts[1:] > ts[:-1]).all())    # inversion counts up
    if getattr(scheduler, "order", 1) == 1 and len(ts) > 1 and not monotone:
        # a repeated timestep is a step of size 0: multistep solvers divide by it and return NaN
        # (order-2 schedulers such as Heun and KDPM2 list each timestep twice on purpose)
        raise ValueError(f"{type(scheduler).__name__} repeats a timestep at num_inference_steps={num_inference_steps} "
                         "(its spacing rounds more steps than it has distinct timesteps), which would give NaN; "
                         "use fewer steps.")
    if latents is None:
        # x_T ~ N(0, σ_init² I), drawn on the CPU
        x = gaussian_noise(shape, generator, device=device, dtype=dtype) * scheduler.init_noise_sigma
    elif not isinstance(latents, torch.Tensor) or tuple(latents.shape) != shape:
        got = tuple(latents.shape) if isinstance(latents, torch.Tensor) else type(latents).__name__
        raise ValueError(f"latents must be a tensor of the sample's shape {shape}, got {got}.")
    else:
        x = latents.to(device=device, dtype=dtype)
    first = start_step * getattr(scheduler, "order", 1)
    if first and hasattr(scheduler, "set_begin_index"):
        scheduler.set_begin_index(first)          # multistep solvers count their steps from here
    for i, t in enumerate(tqdm(scheduler.timesteps[first:stop * getattr(scheduler, "order", 1)], disable=not progress, desc="sampling", leave=False)):
        x_in = scheduler.scale_model_input(x, t)
        with torch.no_grad():
            model_output = denoise(x_in, t)
        if not isinstance(model_output, torch.Tensor) or model_output.shape != x_in.shape:
            got = tuple(model_output.shape) if isinstance(model_output, torch.Tensor) else type(model_output).__name__
            raise ValueError(f"denoise returned {got} for an input of shape {tuple(x_in.shape)}; it must return a "
                             "tensor shaped like its input (for a diffusers UNet: lambda x, t: unet(x, t).sample).")
        if not bool(torch.isfinite(model_output).all()):
            raise ValueError(f"denoise returned NaN or inf at step {i} (t = {float(t):g}); the sample would be all "
                             "NaN. Check the model's weights (a diverged training run?) and its input.")
        out = scheduler.step(model_output, t, x, **step_kwargs)
        if callback is not None:
            pred = getattr(out, "pred_original_sample", None)
            callback(i, t, x_in, pred if pred is not None else predicted_x0(scheduler, model_output, x_in, t))
        x = out.prev_sample
        if after_step is not None:
            x = after_step(i, x)
    return x


@dataclass
class Trajectory:
    """A recorded sampling run: ``xs`` [n+1, *shape] (x_t at each step, then the final sample),
    ``pred_x0`` [n, *shape] (the model's guess of x_0 at each step), ``timesteps`` [n]. On the CPU."""
    timesteps: torch.Tensor
    xs: torch.Tensor
    pred_x0: torch.Tensor

    @property
    def final(self) -> torch.Tensor:
        return self.xs[-1]


def record_trajectory(denoise: Denoiser, scheduler: Any, shape: tuple[int, ...], *, generator: torch.Generator,
                      num_inference_steps: int, device: str | torch.device | None = None,
                      eta: float | None = None, progress: bool = False) -> Trajectory:
    """``sample`` with a callback that keeps every x_t and x̂_0 (moved to the CPU)."""
    ts, xs, x0s = [], [], []

    def keep(i: int, t: torch.Tensor, x_t: torch.Tensor, x0: torch.Tensor) -> None:
        ts.append(float(t))
        xs.append(x_t.detach().cpu())
        x0s.append(x0.detach().cpu())

    final = sample(denoise, scheduler, shape, generator=generator, num_inference_steps=num_inference_steps,
                   callback=keep, device=device, eta=eta, progress=progress)
    return Trajectory(torch.tensor(ts), torch.stack(xs + [final.detach().cpu()]), torch.stack(x0s))


# ----------------------------------------------------------------------------- front-end sampler names
_ODE_2M = {"algorithm_type": "dpmsolver++", "solver_order": 2}
#: A sampler name as image tools (AUTOMATIC1111, ComfyUI) show it → (diffusers class, options), after the
#: table in diffusers' scheduler overview. Every option a name implies is set, including the "off" ones:
#: ``from_config`` keeps whatever the old scheduler's config said, so "DPM++ 2M" made from a Karras
#: config would otherwise stay Karras, and DDIM would clip x̂₀ into [−1, 1] (its default, wrong for latents).
FRONT_END_SAMPLERS: dict[str, tuple[str, dict]] = {
    "Euler": ("EulerDiscreteScheduler", {"use_karras_sigmas": False}),
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "Heun": ("HeunDiscreteScheduler", {"use_karras_sigmas": False}),
    "LMS": ("LMSDiscreteScheduler", {"use_karras_sigmas": False}),
    "LMS Karras": ("LMSDiscreteScheduler", {"use_karras_sigmas": True}),
    "DPM2": ("KDPM2DiscreteScheduler", {"use_karras_sigmas": False}),
    "DPM2 Karras": ("KDPM2DiscreteScheduler", {"use_karras_sigmas": True}),
    "DPM2 a": ("KDPM2AncestralDiscreteScheduler", {"use_karras_sigmas": False}),
    "DPM2 a Karras": ("KDPM2AncestralDiscreteScheduler", {"use_karras_sigmas": True}),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {**_ODE_2M, "use_karras_sigmas": False}),
    "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", {**_ODE_2M, "use_karras_sigmas": True}),
    "DPM++ 2M SDE": ("DPMSolverMultistepScheduler",
                     {"algorithm_type": "sde-dpmsolver++", "solver_order": 2, "use_karras_sigmas": False}),
    "DPM++ 2M SDE Karras": ("DPMSolverMultistepScheduler",
                            {"algorithm_type": "sde-dpmsolver++", "solver_order": 2, "use_karras_sigmas": True}),
    "DDIM": ("DDIMScheduler", {"clip_sample": False}),
    "UniPC": ("UniPCMultistepScheduler", {"use_karras_sigmas": False}),
}


def front_end_scheduler(name: str, config: Mapping[str, Any]):
    """The diffusers scheduler a front end calls ``name`` ("Euler a", "DPM++ 2M Karras", …), on ``config``'s
    schedule: ``pipe.scheduler = front_end_scheduler("Euler a", pipe.scheduler.config)``.

    It is ``Class.from_config(config, **options)``: the training schedule (betas, number of timesteps,
    prediction type, spacing) comes from ``config``; the options that define the name override it."""
    if not isinstance(name, str) or name not in FRONT_END_SAMPLERS:
        raise ValueError(f"Unknown sampler name {name!r}. Known names: {', '.join(map(repr, FRONT_END_SAMPLERS))} "
                         "(spelt as front ends show them; \"a\" is ancestral).")
    if not isinstance(config, Mapping) or "num_train_timesteps" not in config:
        raise TypeError(f"config must be a scheduler's config (pipe.scheduler.config), got {type(config).__name__}.")
    import diffusers                               # the heavy import only when a scheduler is built
    class_name, options = FRONT_END_SAMPLERS[name]
    return getattr(diffusers, class_name).from_config(config, **options)
