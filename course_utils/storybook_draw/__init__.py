"""How the storybook world is drawn: the six subjects (and the new hedgehog), the props and the scene, at 64 or 128 px.

``draw_scene(subject, action, place, seed, size)`` returns a float32 [size, size, 3] array in [0, 1]
(size 64 or 128), and with ``labels=True`` also an int8 label map [size, size]: 0 background,
ANIMAL, PROP, or PLACE (the part of the background the place word names: see ``PLACE_REGIONS``).
All jitter comes from ``numpy.random.default_rng(seed)``, so a seed always gives the same pixels;
backgrounds are drawn once per (place, variant, size) and cached (``storybook_draw.places``), and at 128 px
subjects and props are stamped from sprites drawn once per pose (``storybook_draw.sprites``). Shapes live in world units, 64 per
side (``storybook_draw.shapes``). ``course_utils.storybook`` is the public face of this module.
Taught in ``notebooks/04_training_a_denoiser.ipynb`` (the storybook world data set).

Why two resolutions of one scene (a decision, kept on purpose): the shipped judge, pixel denoiser, VAE, GAN and tiny Stable Diffusion
learned the 64 px drawing (and its 32 px average-pool), so that drawing stays bit-identical for every
seed (``tests/test_storybook_draw.py`` pins checksums) and no model needs retraining. The 128 px
drawing is the SAME scene: the same random draws in the same order give the same layout, positions,
sizes, facing, tilt and colours, drawn at twice the linear resolution; only then does
``storybook_draw.detail`` add what 64 px cannot hold (eye highlights, inner ears, fur, a thin fishing line
and a two-tone float, lines of text, ball highlights, pillow seams, place textures). Average-pooled
to 64 or 32 px it reads as the same scene (the judge test in ``tests/test_storybook_draw.py``).
"""
from __future__ import annotations

import math

import numpy as np

from . import detail
from .places import BACKGROUND_VARIANTS, DRAW_SIZES, PLACE_REGIONS, background, background_region
from .places import cached, check_draw_size
from .sprites import sprite, stamp
from .shapes import ANIMAL, PLACE, PROP, WORLD, Canvas, Pose, ellipse, rect, segment

__all__ = ["RESOLUTION", "DRAW_SIZES", "BACKGROUND_VARIANTS", "ANIMAL", "PROP", "PLACE", "PLACE_REGIONS",
           "draw_scene", "background", "background_region"]

RESOLUTION = WORLD                                  # the resolution the shipped models learned

# ----------------------------------------------------------------------------- the subjects
# Each subject faces right in its local frame. Parts: (kind, params, colour key, outlined?).
# "eye" parts are (u, v, radius, big): open eyes awake, closed lines asleep.
_W, _K = (1.0, 1.0, 1.0), (0.05, 0.04, 0.04)
_ART = {
    "squirrel": dict(
        colours={"main": (0.62, 0.34, 0.14), "tail": (0.70, 0.40, 0.18), "light": (0.90, 0.72, 0.50)},
        parts=[("e", (-9, 15, 6.5, 11), "tail", 1), ("e", (-5, 25, 5, 4), "tail", 1), ("e", (1, 8, 6, 8), "main", 1),
               ("e", (3, 7, 3.5, 5.5), "light", 0), ("e", (4, 18.5, 5, 4.5), "main", 1),
               ("t", (1.5, 21, 4.5, 21, 2.5, 26), "main", 0), ("eye", (6.2, 19.5, 1.1, 0))],
        hand=(6, 11), head=(4, 18.5), top=29),
    "fox": dict(
        colours={"main": (0.95, 0.48, 0.10), "white": _W, "dark": (0.25, 0.12, 0.05)},
        parts=[("e", (-12, 9, 8, 3.6), "main", 1), ("e", (-19, 11.5, 3.4, 2.8), "white", 1),
               ("e", (-4, 2.5, 1.6, 3), "dark", 0), ("e", (4, 2.5, 1.6, 3), "dark", 0), ("e", (0, 8, 8.5, 5.5), "main", 1),
               ("e", (6, 8.5, 3, 3.5), "white", 0), ("e", (8, 16, 4.5, 4), "main", 1),
               ("t", (10, 13.8, 10, 17.6, 16, 15), "main", 0), ("e", (9.5, 14.3, 3, 1.5), "white", 0),
               ("e", (15.5, 15, 1.1, 1.1), "black", 0), ("t", (4.5, 18.5, 8, 19, 5, 25.5), "main", 0),
               ("t", (8.5, 19, 11.5, 18.5, 10.5, 25), "main", 0), ("eye", (9.8, 17, 1, 0))],
        hand=(9, 9), head=(8, 16), top=26),
    "rabbit": dict(
        colours={"main": (0.60, 0.60, 0.65), "light": (0.93, 0.93, 0.95), "pink": (0.95, 0.62, 0.68)},
        parts=[("e", (-8.5, 6, 3, 3), "light", 1), ("e", (-1, 8, 7, 7.5), "main", 1), ("e", (2, 7, 3.5, 5), "light", 0),
               ("e", (2.2, 26, 1.8, 7), "main", 1), ("e", (6, 25.5, 1.8, 7), "main", 1),
               ("e", (2.2, 26, 0.7, 5), "pink", 0), ("e", (6, 25.5, 0.7, 5), "pink", 0),
               ("e", (4, 17, 4.6, 4.2), "main", 1), ("e", (8.4, 16.3, 0.9, 0.8), "pink", 0),
               ("eye", (6, 18, 1.1, 0))],
        hand=(5, 10), head=(4, 17), top=33),
    "bear": dict(
        colours={"main": (0.30, 0.18, 0.09), "light": (0.62, 0.46, 0.30), "belly": (0.42, 0.27, 0.15)},
        parts=[("e", (0.5, 29, 2.8, 2.8), "main", 1), ("e", (9.5, 29, 2.8, 2.8), "main", 1),
               ("e", (0, 11, 11, 11), "main", 1), ("e", (2, 10, 6, 7), "belly", 0), ("e", (5, 23, 7, 6.5), "main", 1),
               ("e", (8.5, 21.3, 3.6, 2.6), "light", 0), ("e", (11.2, 22.3, 1.3, 1), "black", 0),
               ("eye", (7, 25, 1.1, 0))],
        hand=(8, 13), head=(5, 23), top=32),
    "owl": dict(
        colours={"main": (0.80, 0.62, 0.38), "dark": (0.52, 0.37, 0.20), "light": (0.95, 0.88, 0.72),
                 "beak": (0.98, 0.62, 0.10)},
        parts=[("t", (-7.5, 18, -3, 20, -6.5, 26), "dark", 0), ("t", (7.5, 18, 3, 20, 6.5, 26), "dark", 0),
               ("e", (0, 11.5, 8, 11.5), "main", 1), ("e", (-6.8, 10, 2.8, 7.5), "dark", 0),
               ("e", (6.8, 10, 2.8, 7.5), "dark", 0), ("e", (0, 7.5, 4.6, 6), "light", 0),
               ("e", (-2.5, 0.8, 1.8, 1), "beak", 0), ("e", (2.5, 0.8, 1.8, 1), "beak", 0),
               ("eye", (-3.4, 16.5, 3.2, 1)), ("eye", (3.4, 16.5, 3.2, 1)),
               ("t", (-1.3, 14, 1.3, 14, 0, 11), "beak", 0)],
        hand=(6, 9), head=(0, 16.5), top=26),
    "frog": dict(
        colours={"main": (0.36, 0.80, 0.20), "dark": (0.20, 0.52, 0.12), "light": (0.85, 0.92, 0.55)},
        parts=[("e", (-9.5, 3, 5, 3), "dark", 1), ("e", (9.5, 3, 5, 3), "dark", 1), ("e", (0, 7, 12, 7), "main", 1),
               ("e", (0, 5.5, 7, 4), "light", 0), ("e", (-5, 14, 3.4, 3.4), "main", 1), ("e", (5, 14, 3.4, 3.4), "main", 1),
               ("e", (0, 9.6, 5, 0.6), "dark", 0), ("eye", (-5, 14.5, 2.2, 1)), ("eye", (5, 14.5, 2.2, 1))],
        hand=(8, 7), head=(0, 12), top=18),
    # the new animal (storybook.NEW_SUBJECTS): no shipped model saw it. A low brown-grey body under a fringe of
    # dark spines (triangles around its back), a pale face with a pointed snout, an eye, a small ear, two feet
    "hedgehog": dict(
        colours={"main": (0.50, 0.42, 0.36), "dark": (0.26, 0.21, 0.18), "light": (0.86, 0.74, 0.58)},
        parts=[*(("t", (-1 + 10.2 * math.cos(a - 0.13), 7 + 7.4 * math.sin(a - 0.13), -1 + 10.2 * math.cos(a + 0.13),
                        7 + 7.4 * math.sin(a + 0.13), -1 + 13.8 * math.cos(a), 7 + 10.6 * math.sin(a)), "dark", 0)
                 for a in np.linspace(0.30 * np.pi, 1.08 * np.pi, 9)),
               ("e", (-5, 1.2, 2.6, 1.6), "dark", 1), ("e", (4, 1.2, 2.6, 1.6), "dark", 1),
               ("e", (-1, 7, 10, 7), "main", 1), ("e", (7.5, 5.5, 5.2, 4.2), "light", 1),
               ("t", (10, 8, 10, 3.2, 15.5, 4.6), "light", 0), ("e", (15.3, 4.7, 1.0, 0.9), "black", 0),
               ("e", (6.3, 9.4, 1.5, 1.3), "dark", 0), ("eye", (10, 6.8, 1.0, 0))],
        hand=(14, 1.5), head=(9, 6), top=17),
}
_BOUNDS = {}
for _name, _art in _ART.items():
    _pts = [(p[1][0] + sx * p[1][2], p[1][1] + sy * p[1][3]) if p[0] == "e" else (p[1][0], p[1][1])
            for p in _art["parts"] if p[0] != "t" for sx in (-1, 1) for sy in (-1, 1)]
    _pts += [(p[1][i], p[1][i + 1]) for p in _art["parts"] if p[0] == "t" for i in (0, 2, 4)]
    _BOUNDS[_name] = (min(q[0] for q in _pts), max(q[0] for q in _pts), min(q[1] for q in _pts), max(q[1] for q in _pts))


def _colours(name: str, shade: float) -> dict:
    """The subject's colours at ``shade`` (plus white, black, the outline and the detail layer's)."""
    art = _ART[name]
    cols = {k: np.clip(np.array(v, np.float32) * shade, 0, 1) for k, v in art["colours"].items()}
    cols.update(white=np.array(_W, np.float32), black=np.array(_K, np.float32))
    cols["edge"] = cols["main"] * 0.35
    cols["core"] = (cols["tail"] + cols["light"]) / 2 if "tail" in cols else cols["main"]
    cols.update(ink=np.array((0.06, 0.05, 0.05), np.float32), ear=np.array((0.93, 0.66, 0.62), np.float32))
    return cols


#: Colour key → index in a subject sprite (index 0 is "not the subject").
_INDEX = {name: {key: i + 1 for i, key in enumerate(dict.fromkeys([*art["colours"], "white", "black",
                                                                   *detail.EXTRA_COLOURS]))}
          for name, art in _ART.items()}


def _draw_subject(cv: Canvas, name: str, pose: Pose, cols: dict, asleep: bool) -> None:
    """Draw the subject's parts (outlines first, then fills, then eyes) in ``cols`` (colours or indices)."""
    art = _ART[name]
    edge = cols["edge"]
    grow = 1.1 / pose.k
    for part in art["parts"]:                      # silhouette outline first, under every fill
        if part[0] != "eye" and part[3]:
            pose.fill(cv, part[0], part[1], edge, grow)
    for part in art["parts"]:
        if part[0] != "eye":
            pose.fill(cv, part[0], part[1], cols[part[2]])
            continue
        u, v, r, big = part[1]
        if asleep:                                 # closed eye: a lid and a dark line
            if big:
                pose.fill(cv, "e", (u, v, r, r), cols["main"])
            pose.fill(cv, "e", (u, v - 0.3 * r, max(r, 1.3), 0.55), cols["black"])
        elif big:
            pose.fill(cv, "e", (u, v, r, r), cols["white"])
            pose.fill(cv, "e", (u + 0.3 * r, v, 0.5 * r, 0.5 * r), cols["black"])
        else:
            pose.fill(cv, "e", (u, v, r, r), cols["black"])


def _stamp_subject(cv: Canvas, name: str, pose: Pose, squash: float, angle: float, shade: float,
                   asleep: bool, key: tuple) -> None:
    """The 128 px subject with its detail layer, from a sprite drawn once per (quantised) pose."""
    def draw(sc: Canvas, cx: float, cy: float) -> None:
        p = Pose(cx, cy, pose.k, angle, pose.f, squash)
        _draw_subject(sc, name, p, _INDEX[name], asleep)
        detail.subject(sc, name, p, _INDEX[name], asleep)
    cols = _colours(name, shade)
    palette = np.stack([np.zeros(3, np.float32)] + [np.asarray(cols[c], np.float32) for c in _INDEX[name]])
    stamp(cv, sprite(key, draw, 88, indexed=True), *pose.o, palette)


# ----------------------------------------------------------------------------- the props and the scene
_ROD, _LINE, _RED = (0.90, 0.74, 0.30), (0.12, 0.12, 0.15), (0.92, 0.10, 0.10)
_BALLS = ((0.92, 0.12, 0.12), (1.0, 0.86, 0.10), (0.88, 0.22, 0.78))
_COVER, _PAGE, _INK = (0.76, 0.12, 0.14), (0.98, 0.96, 0.88), (0.45, 0.45, 0.50)
_PILLOW, _PILLOW_EDGE, _DARK = (0.96, 0.80, 0.88), (0.50, 0.32, 0.42), (0.10, 0.10, 0.18)
_LONG = ("fox", "frog", "hedgehog")                       # subjects longer than tall: they sleep flat, not on their side


def _zed(cv: Canvas, x, y, w) -> None:
    """A white "Z" of width w centred at (x, y), with a dark border so it reads on any background."""
    strokes = ((x - w / 2, y - w / 2, x + w / 2, y - w / 2), (x + w / 2, y - w / 2, x - w / 2, y + w / 2),
               (x - w / 2, y + w / 2, x + w / 2, y + w / 2))
    for width, colour in ((3.4, _DARK), (1.6, (1.0, 1.0, 1.0))):
        for s in strokes:
            segment(cv, *s, width, colour)


def _props(cv: Canvas, action: str, pose: Pose, art: dict, k: float, f: int, ground: float, phase: float) -> None:
    """The action's prop at 64 px (pillow aside, drawn under the subject)."""
    hx, hy = pose.world(*art["hand"])
    if action == "fishing":
        tx, ty = hx + f * 15 * k, hy - 16 * k
        segment(cv, hx, hy, tx, ty, 2.2 * k, _ROD)
        segment(cv, tx, ty, tx, ground - 5 * k, 1.0, _LINE)
        ellipse(cv, tx, ground - 5 * k, 2.3 * k, 2.3 * k, _RED)
    elif action == "reading":
        bx, by = hx + f * 1.5 * k, hy - 1.0 * k
        rect(cv, bx - 7 * k, by - 5 * k, bx + 7 * k, by + 5 * k, _COVER)
        for side in (-1, 1):
            x0 = bx + (0.5 * k if side > 0 else -6.2 * k)
            rect(cv, x0, by - 4.2 * k, x0 + 5.7 * k, by + 4.2 * k, _PAGE)
            for line in (-2.0, 0.0, 2.0):
                rect(cv, x0 + 1.0 * k, by + line * k, x0 + 4.6 * k, by + line * k + 0.8, _INK)
    elif action == "sleeping":
        zx, zy = pose.world(*art["head"])
        _zed(cv, zx + f * 7 * k, zy - 11 * k, 6.5 * k)
        _zed(cv, zx + f * 14 * k, zy - 20 * k, 5.0 * k)
    else:                                                           # juggling: three balls in an arc
        tx, ty = pose.world(art["head"][0], art["top"])
        for (dx, dy), colour in zip(((-9 + phase, -6), (phase / 2, -11), (9 + phase, -6)), _BALLS):
            ellipse(cv, tx + dx * k, ty + dy * k, 4.3 * k, 4.3 * k, _DARK)
            ellipse(cv, tx + dx * k, ty + dy * k, 3.3 * k, 3.3 * k, colour)


def _snap(x: float) -> float:
    """The nearest 128 px pixel corner (world units come in halves there)."""
    return round(x * 2.0) / 2.0


def _pillow(cv: Canvas, x: float, y: float, k: float) -> None:
    ellipse(cv, x, y, 8.5 * k, 4.2 * k, _PILLOW_EDGE)
    ellipse(cv, x, y, 7.5 * k, 3.2 * k, _PILLOW)
    detail.pillow(cv, x, y, k)


def _detailed_scene(cv: Canvas, subject: str, action: str, pose: Pose, q: tuple, shade: float, ground: float,
                    phase: float) -> None:
    """The 128 px subject and prop: the 64 px layout, drawn from sprites with the detail layer."""
    kq, tq, squash, angle = q
    k, f, art = pose.k, pose.f, _ART[subject]
    asleep = action == "sleeping"
    if asleep:
        cv.label = PROP
        hx, _ = pose.world(*art["head"])
        stamp(cv, sprite(("pillow", kq), lambda c, x, y: _pillow(c, x, y, k), 24), hx, ground - 1.0 * k)
    cv.label = ANIMAL
    _stamp_subject(cv, subject, pose, squash, angle, shade, asleep, (subject, asleep, f, kq, tq))
    cv.label = PROP
    hx, hy = pose.world(*art["hand"])
    if action == "fishing":
        hx, hy = _snap(hx), _snap(hy)                               # rod and float: sprites on the 128 px grid
        tx, ty, fy = hx + f * 15 * k, hy - 16 * k, _snap(ground - 5 * k)
        detail.fishing_line(cv, tx, ty, fy)
        stamp(cv, sprite(("rod", kq, f), lambda c, x, y: detail.fishing_rod(c, x, y, f, k), 40), hx, hy)
        stamp(cv, sprite(("float", kq), lambda c, x, y: detail.float_in_pool(c, x, y, k), 16), tx, fy)
    elif action == "reading":
        detail.book(cv, hx + f * 1.5 * k, hy - 1.0 * k, k)
    elif asleep:
        zx, zy = pose.world(*art["head"])
        for dx, dy, w in ((7, 11, 6.5), (14, 20, 5.0)):
            stamp(cv, sprite(("z", kq, w), lambda c, x, y: _zed(c, x, y, w * k), 14), zx + f * dx * k, zy - dy * k)
    else:
        tx, ty = pose.world(art["head"][0], art["top"])
        for i, (dx, dy) in enumerate(((-9 + phase, -6), (phase / 2, -11), (9 + phase, -6))):
            stamp(cv, sprite(("ball", kq, i), lambda c, x, y: detail.ball(c, x, y, k, i), 12), tx + dx * k, ty + dy * k)


def draw_scene(subject: str, action: str, place: str, seed: int, size: int = 64, labels: bool = False,
               figures: bool = True):
    """One scene: float32 [size, size, 3] in [0, 1], and with ``labels=True`` also int8 [size, size].

    ``figures=False`` leaves out the subject and its prop: the background the seed would show behind them.
    The label map holds ANIMAL, PROP (rod, line and float; book; pillow and "z"s; balls) or PLACE for
    the visible pixels of each (props in front of the animal win); falling snowflakes in front of the
    animal or the prop leave their label alone. Arguments are assumed valid (``storybook`` checks them).
    """
    check_draw_size(size)
    r = np.random.default_rng(seed).random(12)
    variant, flip = int(r[0] * BACKGROUND_VARIANTS), r[1] < 0.5
    bg, region = cached(place, variant, size)
    cv = Canvas((bg[:, ::-1] if flip else bg) * np.float32(0.92 + 0.16 * r[2]))
    if labels:
        cv.labels = np.array(region[:, ::-1] if flip else region)
    f = 1 if r[3] < 0.5 else -1                                     # facing right (+1) or left (−1)
    k = 0.85 + 0.2 * r[4]                                           # size
    asleep = action == "sleeping"
    tilt = math.radians(12.0 * (r[5] - 0.5))
    detailed = size > WORLD
    if detailed:                    # 128 px: size in steps of 0.04, tilt in steps of 2° (one sprite per pose)
        kq, tq = round((k - 0.85) / 0.04), round(6.0 * (r[5] - 0.5))
        k, tilt = 0.85 + 0.04 * kq, math.radians(2.0 * tq)
    squash, angle = 1.0, tilt                                       # upright, with a small tilt
    if asleep and subject in _LONG:                                 # long subjects lie flat, head down
        squash, angle = 0.65, f * math.radians(12) + tilt / 2
    elif asleep:                                                    # upright subjects lie on their side
        angle = f * math.pi / 2 + tilt
    cx = 20 + 24 * r[6] - (8 * f if action == "fishing" else 0)
    ground = 55 + 5 * r[7] - (1.5 * k if asleep else 0)
    lo_u, hi_u, lo_v, hi_v = _BOUNDS[subject]
    probe = Pose(0.0, 0.0, k, angle, f, squash)
    xs, ys = zip(*(probe.world(u, v) for u in (lo_u, hi_u) for v in (lo_v, hi_v)))
    ox, oy = cx - (min(xs) + max(xs)) / 2, ground - max(ys)
    if detailed:                                                    # on the 128 px grid, as the sprites are
        ox, oy = _snap(ox), _snap(oy)
    pose = Pose(ox, oy, k, angle, f, squash)
    art = _ART[subject]
    shade = 0.88 + 0.24 * r[8]
    phase = 4.0 * (r[9] - 0.5)
    if not figures:
        pass
    elif not detailed:
        if asleep:                                                  # the pillow goes under the head
            cv.label = PROP
            hx, _ = pose.world(*art["head"])
            ellipse(cv, hx, ground - 1.0 * k, 8.5 * k, 4.2 * k, _PILLOW_EDGE)
            ellipse(cv, hx, ground - 1.0 * k, 7.5 * k, 3.2 * k, _PILLOW)
        cv.label = ANIMAL
        _draw_subject(cv, subject, pose, _colours(subject, shade), asleep)
        cv.label = PROP
        _props(cv, action, pose, art, k, f, ground, phase)
    else:
        _detailed_scene(cv, subject, action, pose, (kq, tq, squash, angle), shade, ground, phase)
    if place == "in the snow":                                      # falling flakes, in front of everything
        flakes = np.random.default_rng([seed, 1]).integers(0, WORLD, (14 + int(r[10] * 10), 2))
        held = cv.labels.copy() if labels else None
        cv.label = PLACE
        if detailed:
            detail.flakes(cv, flakes)
        else:
            cv.img[flakes[:, 0], flakes[:, 1]] = 1.0
            if labels:
                cv.labels[flakes[:, 0], flakes[:, 1]] = PLACE
        if labels:                                                  # a flake over the animal stays the animal's
            front = (held == ANIMAL) | (held == PROP)
            cv.labels[front] = held[front]
    out = np.clip(cv.img, 0.0, 1.0, out=cv.img)
    return (out, cv.labels) if labels else out
