"""Schedulers written from scratch, with diffusers' API: DDPM, DDIM and Euler.

A scheduler turns the model's prediction at timestep t into the sample at the next, less noisy
timestep. Each one here has the shape of its diffusers namesake, so either can go into
``samplers.sample``:

    scheduler = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012)
    scheduler.set_timesteps(50)                      # .timesteps: 980, 960, …, 0
    out = scheduler.step(model_output, t, x_t)       # out.prev_sample, out.pred_original_sample

``tests/test_schedulers.py`` shows each one equal to diffusers' (≤ 1e-5 over whole sampling loops),
except in two places where the course departs on purpose: "trailing" spacing always
gives exactly n timesteps (diffusers gives n+1, ending at −1, for many (T, n) such as T = 50, n = 29),
and DDIM steps to the next entry of ``.timesteps`` where diffusers steps to t − T//n (the two agree only
on evenly spaced timesteps; see ``DDIMScheduler``).
The ODE solver is Euler on the probability-flow ODE (``EulerDiscreteScheduler``) rather than
DPM-Solver++(2M): it is one line of update, and it shows why a sampler loop must honour
``init_noise_sigma`` and ``scale_model_input`` (it works in σ-space, x̃ = x_t / √ᾱ_t).

Notation (variable name → paper):
    alphas_cumprod[t], a_t     ᾱ_t            share of signal left at timestep t
    a_prev                     ᾱ_{t'}         the same at the next timestep t' of the schedule (1 after t = 0)
    model_output               ε_θ(x_t, t)    or v_θ = √ᾱ_t ε − √(1−ᾱ_t) x_0 for prediction_type="v_prediction"
    pred_original_sample, x0   x̂_0            the model's guess of the clean sample
    pred_epsilon, eps          ε̂              the model's guess of the noise in x_t
    std_dev_t                  σ_t(η)         DDIM's noise scale (eq. 16)
    sigmas[i], sigma           σ_t            √((1−ᾱ_t)/ᾱ_t): noise level of x̃_t = x_0 + σ_t ε (Euler)
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .forward import gaussian_noise, q_sample
from .samplers import sample
from .schedules import make_schedule, sigmas_from_alphas_cumprod
from .seeding import make_generator

__all__ = ["PREDICTION_TYPES", "TIMESTEP_SPACINGS", "SchedulerOutput", "DDPMScheduler", "DDIMScheduler",
           "EulerDiscreteScheduler", "parity_errors", "format_error", "gaussian_ideal_eps", "gaussian_ode_end",
           "gaussian_toy_errors"]

PREDICTION_TYPES = ("epsilon", "v_prediction")
TIMESTEP_SPACINGS = ("leading", "trailing", "linspace")


@dataclass
class SchedulerOutput:
    """What ``step`` returns: x at the next timestep, and the model's current guess of x_0."""
    prev_sample: torch.Tensor
    pred_original_sample: torch.Tensor


def _choice(name: str, value: str, options: tuple[str, ...]) -> str:
    if value not in options:
        raise ValueError(f"Unknown {name} {value!r}. Known: {', '.join(options)}.")
    return value


class _Scheduler:
    """What the three schedulers share: the schedule, timestep spacing, input checks, add_noise."""
    order = 1
    init_noise_sigma = 1.0   # std of the starting noise x_T ~ N(0, I)

    def __init__(self, num_train_timesteps: int = 1000, beta_start: float = 0.0001, beta_end: float = 0.02,
                 beta_schedule: str = "linear", prediction_type: str = "epsilon",
                 timestep_spacing: str = "leading", steps_offset: int = 0):
        schedule = make_schedule(beta_schedule, num_train_timesteps, beta_start, beta_end)   # checks its args
        if isinstance(steps_offset, bool) or not isinstance(steps_offset, int) or steps_offset < 0:
            raise ValueError(f"steps_offset must be an int ≥ 0 (SD's configs use 1), got {steps_offset!r}.")
        self.config = dict(num_train_timesteps=num_train_timesteps, beta_start=beta_start, beta_end=beta_end,
                           beta_schedule=beta_schedule, steps_offset=steps_offset,
                           prediction_type=_choice("prediction_type", prediction_type, PREDICTION_TYPES),
                           timestep_spacing=_choice("timestep_spacing", timestep_spacing, TIMESTEP_SPACINGS))
        self.betas, self.alphas_cumprod = schedule.betas, schedule.alphas_cumprod
        self.alphas = 1.0 - self.betas
        self.num_inference_steps: int | None = None
        self.timesteps = torch.arange(num_train_timesteps - 1, -1, -1)   # every timestep until set_timesteps

    def __len__(self) -> int:
        return self.config["num_train_timesteps"]

    def _spaced(self, n: int) -> np.ndarray:
        """n timesteps from T−1 down towards 0, spaced as in Table 2 of Lin et al. 2023 (float64)."""
        T, spacing = len(self), self.config["timestep_spacing"]
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= T:
            raise ValueError(f"num_inference_steps must be an int in [1, {T}] (num_train_timesteps), got {n!r}.")
        if spacing == "linspace":
            return np.linspace(0, T - 1, n)[::-1].copy()
        if spacing == "leading":                # 0, T//n, 2·T//n, … (+ steps_offset), reversed
            steps = (np.arange(0, n) * (T // n))[::-1].astype(np.float64) + self.config["steps_offset"]
            if steps.max() >= T:
                raise ValueError(f"steps_offset={self.config['steps_offset']} pushes timestep {int(steps.max())} "
                                 f"past T−1={T - 1}; use fewer steps or steps_offset=0.")
            return steps
        # trailing: T−1, T−1−T/n, …: diffusers' own expression, so its float error rounds ties the same way
        # (T = 50, n = 12: arange's 12.500000000000021 → 12), cut to n. Uncut it yields n+1 values for many
        # (T, n), e.g. T = 50, n = 29, the last one −1: an extra step at a timestep that does not exist.
        return (np.round(np.arange(T, 0, -(T / n))) - 1)[:n]

    def set_timesteps(self, num_inference_steps: int, device: str | torch.device | None = None) -> None:
        """Choose the ``num_inference_steps`` timesteps to sample with (``.timesteps``, descending)."""
        steps = self._spaced(num_inference_steps)
        if self.config["timestep_spacing"] == "linspace":
            steps = steps.round()
        self.num_inference_steps = num_inference_steps
        self.timesteps = torch.from_numpy(steps.astype(np.int64)).to(device)

    def _index(self, timestep: int | float | torch.Tensor) -> int:
        """Position of ``timestep`` in ``.timesteps``, or a clear error."""
        t = float(timestep)
        if not 0 <= t <= len(self) - 1:
            raise ValueError(f"timestep {t:g} is out of range: this scheduler has num_train_timesteps="
                             f"{len(self)}, so t must lie in [0, {len(self) - 1}].")
        hits = (self.timesteps.cpu() == t).nonzero()
        if len(hits) == 0:
            shown = ", ".join(f"{float(s):g}" for s in self.timesteps[:4]) + (", …" if len(self.timesteps) > 4 else "")
            raise ValueError(f"timestep {t:g} is not in this scheduler's schedule ({shown}). Step through "
                             "scheduler.timesteps after scheduler.set_timesteps(n).")
        return int(hits[0])

    @staticmethod
    def _check(model_output: torch.Tensor, sample: torch.Tensor) -> None:
        if not (isinstance(model_output, torch.Tensor) and isinstance(sample, torch.Tensor)):
            raise TypeError("model_output and sample must be tensors.")
        if not (model_output.dtype.is_floating_point and sample.dtype.is_floating_point):
            raise TypeError(f"model_output and sample must be floating-point tensors, got {model_output.dtype} and "
                            f"{sample.dtype}; use .float().")
        if model_output.shape != sample.shape:
            raise ValueError(f"model_output has shape {tuple(model_output.shape)} but sample has shape "
                             f"{tuple(sample.shape)}; the model must predict one value per value of the sample.")

    def _x0_and_eps(self, model_output: torch.Tensor, sample: torch.Tensor, a_t: torch.Tensor):
        if self.config["prediction_type"] == "epsilon":
            # x̂_0 = (x_t − √(1−ᾱ_t) ε̂) / √ᾱ_t        (DDPM eq. 15, DDIM eq. 12)
            return (sample - (1 - a_t) ** 0.5 * model_output) / a_t**0.5, model_output
        # v = √ᾱ_t ε − √(1−ᾱ_t) x_0  ⇒  x̂_0 = √ᾱ_t x_t − √(1−ᾱ_t) v,  ε̂ = √ᾱ_t v + √(1−ᾱ_t) x_t
        return (a_t**0.5 * sample - (1 - a_t) ** 0.5 * model_output,
                a_t**0.5 * model_output + (1 - a_t) ** 0.5 * sample)

    def _check_clip(self) -> None:
        r = self.config["clip_sample_range"]
        if isinstance(r, bool) or not isinstance(r, (int, float)) or not 0 < r < float("inf"):
            raise ValueError(f"clip_sample_range must be a number > 0 (x̂_0 is clipped to [-r, r]), got {r!r}.")

    def _clip(self, x0: torch.Tensor) -> torch.Tensor:
        r = self.config.get("clip_sample_range", 1.0)
        return x0.clamp(-r, r) if self.config.get("clip_sample") else x0

    def scale_model_input(self, sample: torch.Tensor, timestep: int | torch.Tensor | None = None) -> torch.Tensor:
        """What the model sees at ``timestep``: x_t itself for DDPM and DDIM."""
        return sample

    def add_noise(self, original_samples: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε for each sample (``forward.q_sample``); shapes ``[B, …]``, ``[B]``."""
        return q_sample(original_samples, timesteps, self.alphas_cumprod, noise)


class DDPMScheduler(_Scheduler):
    """Ancestral sampling (Ho et al. 2020): x_{t'} ~ q(x_{t'} | x_t, x̂_0), fresh noise at each step."""

    def __init__(self, *, variance_type: str = "fixed_small", clip_sample: bool = True,
                 clip_sample_range: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.config.update(variance_type=_choice("variance_type", variance_type, ("fixed_small", "fixed_large")),
                           clip_sample=clip_sample, clip_sample_range=clip_sample_range)
        self._check_clip()

    def step(self, model_output: torch.Tensor, timestep: int | torch.Tensor, sample: torch.Tensor,
             generator: torch.Generator | None = None) -> SchedulerOutput:
        """One reverse step x_t → x_{t'} (t' = next entry of ``.timesteps``); ``generator`` draws its noise."""
        self._check(model_output, sample)
        i = self._index(timestep)
        t = int(self.timesteps[i])
        prev_t = int(self.timesteps[i + 1]) if i + 1 < len(self.timesteps) else -1
        # 1. compute alphas, betas: over the jump t → t', α = ᾱ_t / ᾱ_{t'} and β = 1 − α
        a_t = self.alphas_cumprod[t]
        a_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else torch.tensor(1.0)
        beta_prod_t, beta_prod_prev = 1 - a_t, 1 - a_prev
        current_alpha_t = a_t / a_prev
        current_beta_t = 1 - current_alpha_t
        # 2. predicted x_0 (eq. 15), 3. clipped to [-r, r] if clip_sample
        x0 = self._clip(self._x0_and_eps(model_output, sample, a_t)[0])
        # 4. posterior mean μ̃ = √ᾱ_{t'} β / (1−ᾱ_t) · x̂_0 + √α (1−ᾱ_{t'}) / (1−ᾱ_t) · x_t   (eq. 7)
        x0_coeff = a_prev**0.5 * current_beta_t / beta_prod_t
        xt_coeff = current_alpha_t**0.5 * beta_prod_prev / beta_prod_t
        prev_sample = x0_coeff * x0 + xt_coeff * sample
        # 5. add noise: x_{t'} = μ̃ + σ z with σ² = β̃ = (1−ᾱ_{t'}) / (1−ᾱ_t) · β ("fixed_small") or β (eq. 6)
        if t > 0:
            if generator is None:
                raise ValueError("DDPM adds fresh noise at every step: pass generator=make_generator(seed).")
            z = gaussian_noise(model_output.shape, generator, device=model_output.device, dtype=model_output.dtype)
            variance = (beta_prod_prev / beta_prod_t * current_beta_t).clamp(min=1e-20)
            if self.config["variance_type"] == "fixed_large":
                variance = current_beta_t
            prev_sample = prev_sample + variance**0.5 * z
        return SchedulerOutput(prev_sample, x0)


class DDIMScheduler(_Scheduler):
    """DDIM (Song et al. 2021): eta=0 is a deterministic ODE-like path, eta=1 is as noisy as DDPM.

    A step from timestep t = timesteps[i] lands on t' = timesteps[i+1] (t' = −1, ᾱ = 1, after the last):
        x_{t'} = √ᾱ_{t'} · x̂_0 + √(1 − ᾱ_{t'} − σ_t²) · ε̂ + σ_t z                     (eq. 12)
    so the sample carries ᾱ_{t'}'s noise when the loop next asks the model about t'. This departs from
    diffusers on purpose: its DDIMScheduler takes t' = t − T//n (T = num_train_timesteps, n = steps), which
    is the next entry only when the timesteps are evenly spaced T//n apart (and the last is below T//n):
    always for "leading" (unless steps_offset ≥ T//n), for "trailing" only when n divides T, and for
    "linspace" (spaced (T−1)/(n−1)) only at n = 1 and n = T, so at T = 1000 every other n departs.
    E.g. T = 1000, "linspace", n = 10: from t = 999 diffusers lands on ᾱ_899, then asks the model about
    888. diffusers' own DDPMScheduler takes the next entry, as here.
    """

    def __init__(self, *, clip_sample: bool = True, clip_sample_range: float = 1.0, set_alpha_to_one: bool = True,
                 **kwargs):
        super().__init__(**kwargs)
        self.config.update(clip_sample=clip_sample, clip_sample_range=clip_sample_range,
                           set_alpha_to_one=set_alpha_to_one)
        self._check_clip()
        # ᾱ after the last step: 1 (a clean sample) or ᾱ_0
        self.final_alpha_cumprod = torch.tensor(1.0) if set_alpha_to_one else self.alphas_cumprod[0]

    def step(self, model_output: torch.Tensor, timestep: int | torch.Tensor, sample: torch.Tensor, eta: float = 0.0,
             generator: torch.Generator | None = None) -> SchedulerOutput:
        """One step x_t → x_{t'} of DDIM's eq. 12; ``eta`` > 0 adds noise drawn from ``generator``."""
        if self.num_inference_steps is None:
            raise ValueError("Call scheduler.set_timesteps(num_inference_steps) before step().")
        if isinstance(eta, bool) or not (isinstance(eta, (int, float)) and eta >= 0 and eta != float("inf")):
            raise ValueError(f"eta must be a number ≥ 0 (0 = deterministic DDIM, 1 = DDPM-like), got {eta!r}.")
        self._check(model_output, sample)
        i = self._index(timestep)
        t = int(self.timesteps[i])
        # 1. previous timestep t' = the next entry of .timesteps (−1 after the last: a clean sample). diffusers
        #    takes t − T//n: the same on evenly spaced timesteps, else a noise level the loop never asks about.
        prev_t = int(self.timesteps[i + 1]) if i + 1 < len(self.timesteps) else -1
        # 2. compute alphas
        a_t = self.alphas_cumprod[t]
        a_prev = self.alphas_cumprod[prev_t] if prev_t >= 0 else self.final_alpha_cumprod
        # 3. predicted x_0 and ε (eq. 12), 4. x_0 clipped if clip_sample (ε is kept as predicted)
        x0, eps = self._x0_and_eps(model_output, sample, a_t)
        x0 = self._clip(x0)
        # 5. σ_t(η) = η · √((1−ᾱ_{t'}) / (1−ᾱ_t)) · √(1 − ᾱ_t/ᾱ_{t'})   (eq. 16)
        variance = (1 - a_prev) / (1 - a_t) * (1 - a_t / a_prev)
        std_dev_t = eta * variance**0.5
        # 6. "direction pointing to x_t": √(1 − ᾱ_{t'} − σ_t²) · ε̂
        direction = (1 - a_prev - std_dev_t**2) ** 0.5 * eps
        # 7. x_{t'} = √ᾱ_{t'} · x̂_0 + direction + σ_t z   (eq. 12)
        prev_sample = a_prev**0.5 * x0 + direction
        if eta > 0:
            if generator is None:
                raise ValueError("DDIM with eta > 0 adds noise: pass generator=make_generator(seed).")
            z = gaussian_noise(model_output.shape, generator, device=model_output.device, dtype=model_output.dtype)
            prev_sample = prev_sample + std_dev_t * z
        return SchedulerOutput(prev_sample, x0)


class EulerDiscreteScheduler(_Scheduler):
    """Euler's method on the probability-flow ODE in σ-space (Karras et al. 2022, Algorithm 1 without churn).

    The sample it carries is x̃ = x_t / √ᾱ_t = x_0 + σ ε, so it starts from noise of std σ_max
    (``init_noise_sigma``) and the model sees x̃ / √(σ² + 1) = x_t (``scale_model_input``).
    """

    def __init__(self, *, timestep_spacing: str = "linspace", **kwargs):
        super().__init__(timestep_spacing=timestep_spacing, **kwargs)
        self._use(np.arange(len(self))[::-1].astype(np.float32))   # every timestep until set_timesteps

    def set_timesteps(self, num_inference_steps: int, device: str | torch.device | None = None) -> None:
        """Float timesteps and their σ's (one more σ: 0, the clean end)."""
        self._use(self._spaced(num_inference_steps).astype(np.float32), device)
        self.num_inference_steps = num_inference_steps

    def _use(self, steps: np.ndarray, device: str | torch.device | None = None) -> None:
        # σ_t = √((1−ᾱ_t)/ᾱ_t), linearly interpolated between integer timesteps; then σ = 0 at the end
        table = sigmas_from_alphas_cumprod(self.alphas_cumprod).numpy()
        sigmas = np.interp(steps, np.arange(len(table)), table)
        self.sigmas = torch.from_numpy(np.concatenate([sigmas, [0.0]]).astype(np.float32))
        self.timesteps = torch.from_numpy(steps).to(device)

    @property
    def init_noise_sigma(self) -> torch.Tensor:
        """Std of the starting noise: σ_max, or √(σ_max² + 1) for "leading" spacing (as diffusers)."""
        top = self.sigmas.max()
        return top if self.config["timestep_spacing"] != "leading" else (top**2 + 1) ** 0.5

    def scale_model_input(self, sample: torch.Tensor, timestep: int | float | torch.Tensor | None = None):
        """x̃ → x_t = x̃ / √(σ² + 1): the model was trained on x_t, not on x̃."""
        if timestep is None:
            raise ValueError("EulerDiscreteScheduler.scale_model_input needs the timestep (σ depends on it).")
        sigma = self.sigmas[self._index(timestep)]
        return sample / (sigma**2 + 1) ** 0.5

    def step(self, model_output: torch.Tensor, timestep: int | float | torch.Tensor, sample: torch.Tensor,
             generator: torch.Generator | None = None) -> SchedulerOutput:
        """One Euler step x̃_σ → x̃_σ' (deterministic: ``generator`` is accepted and unused)."""
        self._check(model_output, sample)
        i = self._index(timestep)
        sigma, sigma_next = self.sigmas[i], self.sigmas[i + 1]
        # 1. predicted x_0 from x̃ = x_0 + σ ε:  x̂_0 = x̃ − σ ε̂
        if self.config["prediction_type"] == "epsilon":
            x0 = sample - sigma * model_output
        else:   # v-prediction: x̂_0 = x̃ / (σ² + 1) − σ / √(σ² + 1) · v
            x0 = model_output * (-sigma / (sigma**2 + 1) ** 0.5) + sample / (sigma**2 + 1)
        # 2. the ODE's slope dx̃/dσ = (x̃ − x̂_0) / σ   (Karras et al. eq. 3)
        derivative = (sample - x0) / sigma
        # 3. Euler step: x̃_{σ'} = x̃_σ + (σ' − σ) · dx̃/dσ
        prev_sample = sample + derivative * (sigma_next - sigma)
        return SchedulerOutput(prev_sample, x0)

    def add_noise(self, original_samples: torch.Tensor, noise: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
        """x̃ = x_0 + σ_t ε in σ-space, for timesteps taken from ``.timesteps`` (``[B]``)."""
        sigma = self.sigmas[[self._index(t) for t in timesteps.flatten()]].to(original_samples)
        return original_samples + noise * sigma.reshape(-1, *([1] * (original_samples.dim() - 1)))


def parity_errors(steps: tuple[int, ...] = (10, 50), seed: int = 0) -> dict[str, float]:
    """Max |ours − diffusers| of each scheduler over whole sampling loops (the notebooks print these).

    Sweeps the three schedules × both prediction types × ``steps``; the model is a fixed formula
    (diffusers' test style), the start noise and every step's noise come from generators seeded ``seed``.
    """
    import diffusers   # imported here: the course's own schedulers do not need it (and importing it takes seconds)

    pairs = {"DDPM": (DDPMScheduler, diffusers.DDPMScheduler, None),
             "DDIM (eta=0)": (DDIMScheduler, diffusers.DDIMScheduler, 0.0),
             "DDIM (eta=1)": (DDIMScheduler, diffusers.DDIMScheduler, 1.0),
             "Euler": (EulerDiscreteScheduler, diffusers.EulerDiscreteScheduler, None)}
    denoise = lambda x, t: torch.sin(x) * (t / (t + 1))   # noqa: E731  a dummy "model" with a simple formula
    errors = {}
    for label, (ours_cls, theirs_cls, eta) in pairs.items():
        worst = 0.0
        for schedule in ("linear", "scaled_linear", "squaredcos_cap_v2"):
            for prediction_type in PREDICTION_TYPES:
                for n in steps:
                    ours = ours_cls(beta_schedule=schedule, prediction_type=prediction_type)
                    theirs = theirs_cls.from_config(ours.config)
                    a, b = (sample(denoise, s, (2, 3, 4, 4), generator=make_generator(seed), num_inference_steps=n,
                                   device="cpu", eta=eta) for s in (ours, theirs))
                    err = float((a - b).abs().max())
                    worst = max(worst, err if np.isfinite(err) else float("inf"))   # NaN counts as a failure
        errors[label] = worst
    return errors


def format_error(error: float, bound: float = 1e-5) -> str:
    """A max error as checked notebook text: ``"< 1e-05"`` when below ``bound``, else the value."""
    return f"< {bound:.0e}" if error < bound else f"{error:.2e} (above {bound:.0e}!)"


# A 1-D toy where the sampler's exact answer is known: data x_0 ~ N(μ, s²). Then x_t ~ N(√ᾱ_t μ, v_t) with
# v_t = ᾱ_t s² + 1 − ᾱ_t, and the probability-flow ODE keeps each sample's z = (x_t − √ᾱ_t μ) / √v_t.
def gaussian_ideal_eps(x: torch.Tensor, a: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """The best noise guess for x_0 ~ N(mean, std²): ε̂ = E[ε | x_t] = √(1−ᾱ_t) (x_t − √ᾱ_t μ) / v_t."""
    return (1 - a) ** 0.5 * (x - a**0.5 * mean) / (a * std**2 + 1 - a)


def gaussian_ode_end(x: torch.Tensor, a: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    """Where the probability-flow ODE carries x_t (at ᾱ_t) to at ᾱ = 1: x_0 = μ + s · z (z kept fixed)."""
    return mean + std * (x - a**0.5 * mean) / (a * std**2 + 1 - a) ** 0.5


def gaussian_toy_errors(steps: tuple[int, ...] = (10, 50), stds: tuple[float, ...] = (0.25, 1.0, 2.0),
                        mean: float = 0.5, spacing: str = "linspace", beta_schedule: str = "squaredcos_cap_v2",
                        count: int = 2000, seed: int = 0) -> dict[tuple[float, int], dict[str, float]]:
    """RMS error of DDIM (η = 0, ideal ε̂) against the exact ODE end, for diffusers' t′ and the course's.

    ``count`` starts x_T (float64) are drawn from the toy's own x_T distribution with a generator seeded
    ``seed``; returns {(std, n): {"t − T//n (diffusers)": rms, "next entry (course)": rms}}.
    """
    import diffusers   # for diffusers' own rule, taken from its DDIMScheduler rather than retyped
    z = torch.randn(count, generator=make_generator(seed), dtype=torch.float64)
    errors = {}
    for std in stds:
        for n in steps:
            ours = DDIMScheduler(timestep_spacing=spacing, beta_schedule=beta_schedule, clip_sample=False)
            rules = {"t − T//n (diffusers)": diffusers.DDIMScheduler.from_config(ours.config),
                     "next entry (course)": ours}
            a = ours.alphas_cumprod.double()
            ours.set_timesteps(n)
            a_start = a[int(ours.timesteps[0])]
            x_start = a_start**0.5 * mean + (a_start * std**2 + 1 - a_start) ** 0.5 * z
            exact = gaussian_ode_end(x_start, a_start, mean, std)
            errors[(std, n)] = {}
            for rule, scheduler in rules.items():
                scheduler.set_timesteps(n)
                x = x_start
                for t in scheduler.timesteps:
                    x = scheduler.step(gaussian_ideal_eps(x, a[int(t)], mean, std), t, x).prev_sample
                errors[(std, n)][rule] = float(((x - exact) ** 2).mean() ** 0.5)
    return errors
