"""The course's one plotting module: image grids, strips over time, histograms and curves, and the 2D
toy's point clouds, sampling paths and score fields (notebooks 03 and 09), a UNet drawn from its own
config (notebooks 04 and 07), and ``show_source``, which prints the lines of a course function that matter.

Images are tensors ``[N, C, H, W]`` (or one ``[C, H, W]``) with values in [-1, 1] (the models'
range) or [0, 1]; ``value_range`` says which, and ``"auto"`` picks [-1, 1] when any value is
negative. Every function returns the matplotlib Figure, so a notebook cell ends with a picture.
"""
from __future__ import annotations

import inspect
from typing import Any, Callable, Mapping, Sequence

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import torch

__all__ = ["PALETTE", "use_course_style", "to_numpy_images", "show_images", "show_histogram",
           "plot_curves", "show_bars", "show_spread", "show_rows", "animate_images", "close_all", "plot_points",
           "plot_trajectories", "plot_score_field", "unet_levels", "unet_diagram", "show_source"]

#: Okabe–Ito colour-blind-safe palette: the course's line colours, in order.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")


def use_course_style() -> None:
    """One look for every figure: readable fonts, the colour-blind-safe palette, modest sizes."""
    matplotlib.rcParams.update({
        "figure.figsize": (6.4, 3.6), "figure.dpi": 80, "savefig.dpi": 80,
        "font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10,
        "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
        "axes.prop_cycle": matplotlib.cycler(color=PALETTE), "image.interpolation": "nearest",
    })


def to_numpy_images(images: torch.Tensor, value_range: str | tuple[float, float] = "auto") -> np.ndarray:
    """``[N, C, H, W]`` or ``[C, H, W]`` tensor → ``[N, H, W, C]`` numpy array in [0, 1] (C = 1 or 3)."""
    if not isinstance(images, torch.Tensor):
        raise TypeError(f"images must be a torch.Tensor, got {type(images).__name__}.")
    x = images.detach().to("cpu", torch.float32)
    if x.dim() == 3:
        x = x[None]
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(
            f"images must have shape [N, C, H, W] or [C, H, W] with C = 1 or 3 channels, got {tuple(images.shape)}. "
            "A channels-last image [H, W, C] needs .permute(2, 0, 1) first.")
    if value_range == "auto":
        value_range = (-1.0, 1.0) if float(x.min()) < 0 else (0.0, 1.0)
    if value_range not in ((-1.0, 1.0), (0.0, 1.0), (-1, 1), (0, 1)):
        raise ValueError(f"value_range must be 'auto', (-1, 1) or (0, 1), got {value_range!r}.")
    lo, hi = value_range
    x = ((x - lo) / (hi - lo)).clamp(0, 1)
    return x.permute(0, 2, 3, 1).numpy()


def show_images(images: torch.Tensor, titles: Sequence[str] | None = None, *, ncols: int | None = None,
                size: float = 1.6, value_range: str | tuple[float, float] = "auto",
                suptitle: str | None = None) -> plt.Figure:
    """A grid of images with optional titles (one per image). Returns the Figure."""
    arr = to_numpy_images(images, value_range)
    n = len(arr)
    if titles is not None and len(titles) != n:
        raise ValueError(f"got {n} images but {len(titles)} titles; give one title per image.")
    ncols = min(n, ncols or 8)
    nrows = (n + ncols - 1) // ncols
    fig, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows + (0.3 if titles else 0)),
                             squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(arr[i][..., 0] if arr.shape[-1] == 1 else arr[i], cmap="gray" if arr.shape[-1] == 1 else None,
                      vmin=0, vmax=1)
            if titles is not None:
                ax.set_title(titles[i], fontsize=8)
    if suptitle:
        fig.suptitle(suptitle)
    fig.tight_layout()
    return fig


def show_histogram(values: torch.Tensor | np.ndarray, *, bins: int = 60, gaussian: bool = True,
                   title: str | None = None, ax: plt.Axes | None = None) -> plt.Figure:
    """Histogram of ``values`` as a density, with the standard normal density on top if ``gaussian``."""
    v = values.detach().cpu().flatten().numpy() if isinstance(values, torch.Tensor) else np.ravel(values)
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3))
    else:
        fig = ax.figure
    ax.hist(v, bins=bins, density=True, alpha=0.6, label="values")
    if gaussian:
        xs = np.linspace(-4, 4, 200)
        ax.plot(xs, np.exp(-xs**2 / 2) / np.sqrt(2 * np.pi), color=PALETTE[3], label="N(0, 1) density")
        ax.legend(loc="upper right")
    ax.set_title(title or "")
    return fig


def plot_curves(x: Sequence[float], curves: dict[str, Sequence[float]], *, xlabel: str = "", ylabel: str = "",
                title: str | None = None, logy: bool = False, ax: plt.Axes | None = None) -> plt.Figure:
    """Several named curves over the same x (loss histories, schedules, sweeps)."""
    if ax is None:
        fig, ax = plt.subplots()
    else:
        fig = ax.figure
    for name, ys in curves.items():
        if len(ys) != len(x):
            raise ValueError(f"curve {name!r} has {len(ys)} values but x has {len(x)}.")
        ax.plot(x, ys, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    ax.set_title(title or "")
    if len(curves) > 1:
        ax.legend()
    return fig


def show_bars(values: dict[str, float], *, line: float | None = None, line_label: str = "", xlabel: str = "",
              title: str | None = None) -> plt.Figure:
    """Horizontal bars, one per named value (top to bottom in dict order), each labelled with its value;
    ``line`` draws a dashed reference (e.g. the real-vs-real floor of a metric)."""
    if not values:
        raise ValueError("values is empty; pass {name: number} with at least one entry.")
    names, numbers = list(values), [float(v) for v in values.values()]
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(names) + 1.4))
    ax.barh(names, numbers, color=PALETTE[0])
    right = max(numbers + ([line] if line is not None else []))
    for y, v in enumerate(numbers):
        ax.text(v + 0.01 * right, y, f"{v:.1f}", va="center", fontsize=8)
    if line is not None:
        ax.axvline(line, color=PALETTE[3], ls="--", lw=1.5, label=line_label or None)
        if line_label:
            ax.legend(loc="lower right")
    ax.invert_yaxis()
    ax.set(xlabel=xlabel, xlim=(0, 1.15 * right))
    ax.set_title(title or "")
    return fig


def show_spread(values: dict[str, Sequence[float]], *, line: float | None = None, line_label: str = "",
                xlabel: str = "", title: str | None = None) -> plt.Figure:
    """Every value as a dot, one row per named set (top to bottom in dict order), its median as a bar: a
    distribution of a few dozen values, read whole. ``line`` draws a dashed reference (e.g. "a copy: 0")."""
    if not values or any(len(v) == 0 for v in values.values()):
        raise ValueError("values needs at least one set, each with at least one number: {name: [numbers]}.")
    fig, ax = plt.subplots(figsize=(6.4, 0.5 * len(values) + 1.4))
    for y, (name, v) in enumerate(values.items()):
        v = np.asarray(torch.as_tensor(v, dtype=torch.float64).flatten())
        jitter = np.linspace(-0.15, 0.15, len(v)) if len(v) > 1 else np.zeros(1)    # spread ties apart, no RNG
        ax.plot(v, y + jitter, "o", ms=4, alpha=0.7, color=PALETTE[y % len(PALETTE)])
        ax.plot([np.median(v)] * 2, [y - 0.3, y + 0.3], color="black", lw=2)
    if line is not None:
        ax.axvline(line, color=PALETTE[3], ls="--", lw=1.5, label=line_label or None)
        if line_label:
            ax.legend(loc="lower right")
    ax.set_yticks(range(len(values)), list(values))
    ax.invert_yaxis()
    ax.set(xlabel=xlabel)
    ax.set_title(title or "")
    fig.tight_layout()
    return fig


def show_rows(rows: dict[str, torch.Tensor], *, size: float = 1.0):
    """One row of images per entry of ``rows`` (name → images [N, 3, H, W] in [-1, 1]), named on the left."""
    if not rows:
        raise ValueError("rows is empty; pass {name: images} with at least one entry.")
    arrays = {name: to_numpy_images(images) for name, images in rows.items()}
    ncols = max(len(a) for a in arrays.values())
    fig, axes = plt.subplots(len(arrays), ncols, figsize=(size * ncols + 1.2, size * len(arrays)), squeeze=False)
    for r, (name, arr) in enumerate(arrays.items()):
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([])
            ax.set_yticks([])
            ax.grid(False)
            for spine in ax.spines.values():
                spine.set_visible(False)
            if c < len(arr):
                ax.imshow(arr[c])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    fig.tight_layout()
    return fig


def animate_images(frames: torch.Tensor, titles: Sequence[str] | None = None, *, labels: Sequence[str] | None = None,
                   size: float = 1.6, fps: int = 5, value_range: str | tuple[float, float] = "auto"):
    """An animation of ``frames`` [F, N, C, H, W]: N images side by side, one frame per step.

    ``titles``: one per frame (above the row); ``labels``: one per column. The figure is closed, so a
    notebook shows the animation only where you embed it, e.g. ``HTML(anim.to_jshtml())``.
    """
    from matplotlib import animation
    if not isinstance(frames, torch.Tensor) or frames.dim() != 5:
        got = tuple(frames.shape) if isinstance(frames, torch.Tensor) else type(frames).__name__
        raise ValueError(f"frames must be a tensor [F, N, C, H, W] (frames × images per frame), got {got}.")
    F, N = frames.shape[:2]
    for name, given, want in (("titles", titles, F), ("labels", labels, N)):
        if given is not None and len(given) != want:
            raise ValueError(f"got {len(given)} {name} for {want} {'frames' if name == 'titles' else 'columns'}.")
    arr = to_numpy_images(frames.flatten(0, 1), value_range).reshape(F, N, *frames.shape[-2:], -1)
    gray = arr.shape[-1] == 1                     # one channel: draw it in grey, as show_images does
    if gray:
        arr = arr[..., 0]
    fig, axes = plt.subplots(1, N, figsize=(size * N, size + 0.5), squeeze=False)
    shown = []
    for j, ax in enumerate(axes[0]):
        ax.axis("off")
        shown.append(ax.imshow(arr[0, j], vmin=0, vmax=1, cmap="gray" if gray else None))
        if labels is not None:
            ax.set_title(labels[j], fontsize=8)
    heading = fig.suptitle(titles[0] if titles else "", fontsize=9)
    fig.tight_layout()

    def draw(i: int):
        for j, image in enumerate(shown):
            image.set_data(arr[i, j])
        heading.set_text(titles[i] if titles else "")
        return [*shown, heading]

    anim = animation.FuncAnimation(fig, draw, frames=F, interval=1000 / fps, blit=False)
    plt.close(fig)
    return anim


def close_all() -> None:
    """Close every open figure (long notebooks call this to keep memory flat)."""
    plt.close("all")


use_course_style()


# ----------------------------------------------------------------------------- 2D points (notebooks 03, 09)
def _square_axes(ax: plt.Axes | None, lim: float = 1.3) -> plt.Axes:
    if ax is None:
        _, ax = plt.subplots(figsize=(3.6, 3.6))
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    return ax


def plot_points(points: torch.Tensor, *, ax: plt.Axes | None = None, title: str | None = None, color: str = PALETTE[0],
                label: str | None = None, size: float = 3.0, lim: float = 1.3) -> plt.Figure:
    """Scatter ``[N, 2]`` points on square axes; returns the Figure."""
    ax = _square_axes(ax, lim)
    p = points.detach().cpu()
    ax.scatter(p[:, 0], p[:, 1], s=size, color=color, alpha=0.6, label=label, linewidths=0)
    ax.set_title(title or "")
    return ax.figure


def plot_trajectories(traj, *, ax: plt.Axes | None = None, n: int = 30, title: str | None = None,
                      color: str = PALETTE[0], data: torch.Tensor | None = None, lim: float = 2.5) -> plt.Figure:
    """The paths of the first ``n`` points from noise (grey dot) to their end (red dot), over ``data`` if given.

    ``traj``: a recorded sampling run (``samplers.Trajectory``, its ``xs``), or paths [T, N, 2] starting at the noise."""
    ax = _square_axes(ax, lim)
    if data is not None:
        plot_points(data, ax=ax, color=PALETTE[1], size=2, lim=lim)
    paths = torch.as_tensor(getattr(traj, "xs", traj))
    if paths.dim() != 3 or paths.shape[-1] != 2:
        raise ValueError(f"paths must have shape [T, N, 2], got {tuple(paths.shape)}.")
    xs = paths[:, :n].numpy()
    for k in range(xs.shape[1]):
        ax.plot(xs[:, k, 0], xs[:, k, 1], color=color, lw=0.6, alpha=0.6)
    ax.scatter(xs[0, :, 0], xs[0, :, 1], s=10, color="grey", zorder=3)
    ax.scatter(xs[-1, :, 0], xs[-1, :, 1], s=12, color=PALETTE[3], zorder=3)
    ax.set_title(title or "")
    return ax.figure


def plot_score_field(grid: torch.Tensor, score: torch.Tensor, *, ax: plt.Axes | None = None,
                     data: torch.Tensor | None = None, title: str | None = None, lim: float = 1.3) -> plt.Figure:
    """Arrows of the score [G, 2] at the points of a square grid [G, 2], over ``data`` if given.

    An arrow's length grows with |score|: the 90th percentile of |score| is drawn one grid step long, and
    arrows are capped at 1.5 steps so the largest (near the data, late in sampling) do not cover the plot."""
    ax = _square_axes(ax, lim)
    if data is not None:
        plot_points(data, ax=ax, color=PALETTE[1], size=3, lim=lim)
    spacing = 2 * lim / (int(round(len(grid) ** 0.5)) - 1)            # the grid's step
    size = score.norm(dim=1, keepdim=True)
    arrows = score / size.quantile(0.9).clamp(min=1e-8) * spacing       # length ∝ |score|
    arrows = arrows * (1.5 * spacing / arrows.norm(dim=1, keepdim=True).clamp(min=1e-12)).clamp(max=1)
    ax.quiver(grid[:, 0], grid[:, 1], arrows[:, 0], arrows[:, 1], color=PALETTE[0], angles="xy",
              scale_units="xy", scale=1, width=0.004)
    ax.set_title(title or "")
    return ax.figure


# ----------------------------------------------------------------------------- the UNet, drawn from its config
_UNET_KEYS = ("block_out_channels", "down_block_types", "up_block_types", "layers_per_block", "sample_size")


def _attention(block_type: str) -> str:
    return "cross" if "CrossAttn" in block_type else "self" if "Attn" in block_type else ""


def unet_levels(config: Mapping[str, Any] | Any) -> dict:
    """A diffusers UNet2DModel / UNet2DConditionModel config (or the model), level by level: {"levels": [{"side",
    "channels", "down", "up", "attention", "layers"}], "mid", "in_channels", "conditioning"}; attention is ""
    (convolutions only), "self" or "cross" (self-attention, then cross-attention to the text)."""
    config = getattr(config, "config", config)
    if not isinstance(config, Mapping):
        raise TypeError(f"unet_levels reads a UNet's config (a mapping such as unet.config), got {type(config).__name__}.")
    missing = [k for k in _UNET_KEYS if k not in config]
    if missing:
        raise ValueError(f"this config has no {missing}: unet_levels reads a diffusers UNet2DModel or "
                         "UNet2DConditionModel config (unet.config, or the config.json saved beside its weights).")
    channels, down, up = list(config["block_out_channels"]), list(config["down_block_types"]), list(config["up_block_types"])
    if not (len(channels) == len(down) == len(up)) or not all(
            d.endswith("DownBlock2D") and u.endswith("UpBlock2D") for d, u in zip(down, up)):
        raise ValueError(f"cannot read blocks {down} / {up} with channels {channels}: need one *DownBlock2D, one "
                         "*UpBlock2D and one channel count per level, as diffusers' 2D UNets have.")
    side, n = int(config["sample_size"]), len(channels)
    levels = [{"side": side // 2 ** i, "channels": channels[i], "down": down[i], "up": up[n - 1 - i],
               "attention": _attention(down[i]), "layers": int(config["layers_per_block"])} for i in range(n)]
    cross = config.get("cross_attention_dim") is not None
    mid_type = config.get("mid_block_type", "UNetMidBlock2DCrossAttn" if cross else "UNetMidBlock2D")
    mid_attention = ("" if mid_type is None else _attention(mid_type) or
                     ("self" if config.get("add_attention", True) and not cross else ""))
    conditioning = (f"text embeddings [L, {config['cross_attention_dim']}] into every cross-attention" if cross else
                    "a class vector added to the time embedding" if config.get("class_embed_type") else "")
    return {"levels": levels, "mid": {"side": levels[-1]["side"], "channels": channels[-1], "attention": mid_attention},
            "in_channels": config.get("in_channels"), "conditioning": conditioning}


def unet_diagram(config: Mapping[str, Any] | Any, *, title: str | None = None) -> plt.Figure:
    """The U of a diffusers UNet, read from its config (``unet_levels``): down blocks on the left, the middle
    block at the bottom, up blocks on the right, each with its resolution, channels, residual blocks and
    attention, and the skip connections across. Returns the Figure."""
    u = unet_levels(config)
    levels, colours = u["levels"], {"": "#DDDDDD", "self": PALETTE[1], "cross": PALETTE[5]}
    names = {"": "convolutions only", "self": "+ self-attention", "cross": "+ self- and cross-attention"}
    n = len(levels)
    fig, ax = plt.subplots(figsize=(7.6, 1.1 * (n + 1) + 0.9))

    def box(x, y, text, attention):
        ax.text(x, y, text, ha="center", va="center", fontsize=8,
                bbox=dict(boxstyle="round,pad=0.4", fc=colours[attention], ec="#444444"))

    for i, lv in enumerate(levels):
        y, size = -i, f"{lv['side']}×{lv['side']}, {lv['channels']} ch"
        box(0, y, f"{lv['down']}\n{size}\n{lv['layers']} residual block{'s' * (lv['layers'] != 1)}", lv["attention"])
        box(4, y, f"{lv['up']}\n{size}\n{lv['layers'] + 1} residual blocks", _attention(lv["up"]))
        ax.annotate("", xy=(2.95, y), xytext=(1.05, y), arrowprops=dict(arrowstyle="->", color="#888888", ls="--"))
        ax.text(2, y + 0.12, "skip", ha="center", fontsize=7, color="#666666")
        if i < n - 1:
            ax.annotate("", xy=(0, y - 0.62), xytext=(0, y - 0.38), arrowprops=dict(arrowstyle="->"))
            ax.annotate("", xy=(4, y - 0.38), xytext=(4, y - 0.62), arrowprops=dict(arrowstyle="->"))
            ax.text(0.1, y - 0.5, "½ size", fontsize=7, va="center")
            ax.text(4.1, y - 0.5, "2 × size", fontsize=7, va="center")
    mid = u["mid"]
    box(2, -n, f"middle block\n{mid['side']}×{mid['side']}, {mid['channels']} ch", mid["attention"])
    ax.annotate("", xy=(1.3, -n + 0.1), xytext=(0, -n + 0.62), arrowprops=dict(arrowstyle="->"))
    ax.annotate("", xy=(4, -n + 0.62), xytext=(2.7, -n + 0.1), arrowprops=dict(arrowstyle="->"))
    first = levels[0]
    for x, what in ((0, "noisy input"), (4, "noise guess")):
        ax.text(x, 0.75, f"{what} [{u['in_channels'] or '?'}, {first['side']}, {first['side']}]", ha="center", fontsize=8)
    kinds = sorted({lv["attention"] for lv in levels} | {_attention(lv["up"]) for lv in levels} | {mid["attention"]},
                   key=list(names).index)
    for k, kind in enumerate(kinds):
        ax.text(-1.2, -n - 0.9 - 0.32 * k, "■", color=colours[kind], fontsize=11, va="center")
        ax.text(-1.0, -n - 0.9 - 0.32 * k, names[kind], fontsize=8, va="center")
    notes = ["the timestep's embedding enters every residual block"] + ([u["conditioning"]] if u["conditioning"] else [])
    ax.text(5.2, -n - 0.9, "\n".join(notes), ha="right", va="top", fontsize=8)
    ax.set(xlim=(-1.4, 5.4), ylim=(-n - 1.1 - 0.32 * len(kinds), 1.05))
    ax.axis("off")
    last = levels[-1]["side"]
    ax.set_title(title or f"the UNet, read from its config: {n} levels, {first['side']}×{first['side']} down to {last}×{last}")
    return fig


# ----------------------------------------------------------------------------- reading the course's code
def show_source(fn: Callable, start: str | None = None, stop: str | None = None) -> None:
    """Print the lines of ``fn``'s source from the first one containing ``start`` to the first one after it
    containing ``stop`` (both included; None: the first / last line), numbered as in their file."""
    if not callable(fn):
        raise TypeError(f"show_source prints a function's code, got {type(fn).__name__}.")
    fn = inspect.unwrap(fn)
    lines, first = inspect.getsourcelines(fn)

    def find(anchor: str | None, frm: int, default: int) -> int:
        hit = default if anchor is None else next((i for i in range(frm, len(lines)) if anchor in lines[i]), None)
        if hit is not None:
            return hit
        raise ValueError(f"no line of {fn.__qualname__} from line {first + frm} on contains {anchor!r}; "
                         "pick a piece of text that its source has (plotting.show_source(fn) prints all of it).")

    a = find(start, 0, 0)
    b = find(stop, a, len(lines) - 1)
    path = (inspect.getsourcefile(fn) or "?").replace("\\", "/")
    where = "course_utils/" + path.split("/course_utils/")[-1] if "/course_utils/" in path else path.split("/")[-1]
    print(f"{where}, {fn.__name__}, lines {first + a}–{first + b}:")
    for i in range(a, b + 1):
        print(f"{first + i:4d}  {lines[i].rstrip()}")
