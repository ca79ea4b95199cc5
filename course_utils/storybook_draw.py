"""How the storybook world is drawn: numpy masks for shapes, the six subjects, the five places, the props.

``draw_scene(subject, action, place, seed)`` returns a float32 [64, 64, 3] array in [0, 1]. Every
shape is filled only inside its bounding box, backgrounds are drawn once per variant and cached, and
all jitter comes from ``numpy.random.default_rng(seed)``, so a seed always gives the same pixels.
``course_utils.storybook`` is the public face of this module (vocabulary, captions, tensors, data set).
Taught in ``notebooks/04_training_a_denoiser.ipynb`` (the storybook world data set).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["RESOLUTION", "BACKGROUND_VARIANTS", "draw_scene", "background"]

# ----------------------------------------------------------------------------- drawing primitives
RESOLUTION = _R = 64                                   # drawing resolution
_XS = np.arange(_R, dtype=np.float32) + 0.5  # pixel centres


def _box(x0: float, x1: float, y0: float, y1: float):
    i0, i1 = max(0, int(math.floor(y0))), min(_R, int(math.ceil(y1)) + 1)
    j0, j1 = max(0, int(math.floor(x0))), min(_R, int(math.ceil(x1)) + 1)
    return (i0, i1, j0, j1) if i0 < i1 and j0 < j1 else None


def _ellipse(img, cx, cy, rx, ry, colour) -> None:
    """Fill the axis-aligned ellipse ((x-cx)/rx)² + ((y-cy)/ry)² ≤ 1 (world pixels)."""
    b = _box(cx - rx, cx + rx, cy - ry, cy + ry)
    if b:
        dx, dy = (_XS[b[2]:b[3]] - cx) / rx, (_XS[b[0]:b[1]] - cy) / ry
        img[b[0]:b[1], b[2]:b[3]][dy[:, None] ** 2 + dx[None, :] ** 2 <= 1.0] = colour


def _rect(img, x0, y0, x1, y1, colour) -> None:
    b = _box(x0, x1 - 1, y0, y1 - 1)
    if b:
        img[max(0, round(y0)):max(0, round(y1)), max(0, round(x0)):max(0, round(x1))] = colour


def _segment(img, x0, y0, x1, y1, width, colour) -> None:
    """Fill the pixels within width/2 of the segment (x0, y0)–(x1, y1)."""
    h = width / 2
    b = _box(min(x0, x1) - h, max(x0, x1) + h, min(y0, y1) - h, max(y0, y1) + h)
    if b:
        ex, ey = x1 - x0, y1 - y0
        px, py = _XS[None, b[2]:b[3]] - x0, _XS[b[0]:b[1], None] - y0
        # t = clamp(p·e / |e|², 0, 1);  distance² = |p − t e|²
        t = np.clip((px * ex + py * ey) / max(ex * ex + ey * ey, 1e-6), 0.0, 1.0)
        img[b[0]:b[1], b[2]:b[3]][(px - t * ex) ** 2 + (py - t * ey) ** 2 <= h * h] = colour


class _Pose:
    """Local subject frame (u forward, v up, 1 unit = 1 px at scale 1) ↔ world pixels (x right, y down)."""

    def __init__(self, ox, oy, scale, angle, facing, squash=1.0):
        c, s, q = math.cos(angle), math.sin(angle), squash
        self.o, self.f, self.k = (ox, oy), facing, scale
        # world = o + R(angle) · (f·u·k, −v·k·q)       (squash q < 1 flattens the subject)
        self.fwd = (c * facing * scale, s * scale * q, s * facing * scale, -c * scale * q)
        # local = R(−angle) · (world − o), then u /= f·k, v /= −k·q
        self.inv = (c / (facing * scale), s / (facing * scale), s / (scale * q), -c / (scale * q))

    def world(self, u, v):
        a, b, c, d = self.fwd
        return self.o[0] + a * u + b * v, self.o[1] + c * u + d * v

    def fill(self, img, kind, p, colour, grow=0.0) -> None:
        """Fill a local ellipse ("e": cu, cv, ru, rv) or triangle ("t": 3 points), grown by ``grow`` units."""
        if kind == "e":
            cu, cv, hu, hv = p[0], p[1], p[2] + grow, p[3] + grow
        else:
            lo_u, hi_u, lo_v, hi_v = min(p[0::2]), max(p[0::2]), min(p[1::2]), max(p[1::2])
            cu, cv, hu, hv = (lo_u + hi_u) / 2, (lo_v + hi_v) / 2, (hi_u - lo_u) / 2, (hi_v - lo_v) / 2
        fa, fb, fc, fd = self.fwd
        wx, wy = self.world(cu, cv)
        ex, ey = abs(fa) * hu + abs(fb) * hv, abs(fc) * hu + abs(fd) * hv      # half-size of the world box
        b = _box(wx - ex, wx + ex, wy - ey, wy + ey)
        if not b:
            return
        a, bb, c, d = self.inv
        dx, dy = _XS[None, b[2]:b[3]] - wx, _XS[b[0]:b[1], None] - wy
        if kind == "e":
            # ((u − cu)/ru)² + ((v − cv)/rv)² ≤ 1, with (u − cu, v − cv) = inv · (x − wx, y − wy)
            mask = (a / hu * dx + bb / hu * dy) ** 2 + (c / hv * dx + d / hv * dy) ** 2 <= 1.0
        else:
            u, v = a * dx + bb * dy + cu, c * dx + d * dy + cv
            u1, v1, u2, v2, u3, v3 = p
            sign = 1.0 if (u2 - u1) * (v3 - v1) - (v2 - v1) * (u3 - u1) >= 0 else -1.0
            mask = sign * ((u2 - u1) * (v - v1) - (v2 - v1) * (u - u1)) >= 0
            mask &= sign * ((u3 - u2) * (v - v2) - (v3 - v2) * (u - u2)) >= 0
            mask &= sign * ((u1 - u3) * (v - v3) - (v1 - v3) * (u - u3)) >= 0
        img[b[0]:b[1], b[2]:b[3]][mask] = colour


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
}
_BOUNDS = {}
for _name, _art in _ART.items():
    _pts = [(p[1][0] + sx * p[1][2], p[1][1] + sy * p[1][3]) if p[0] == "e" else (p[1][0], p[1][1])
            for p in _art["parts"] if p[0] != "t" for sx in (-1, 1) for sy in (-1, 1)]
    _pts += [(p[1][i], p[1][i + 1]) for p in _art["parts"] if p[0] == "t" for i in (0, 2, 4)]
    _BOUNDS[_name] = (min(q[0] for q in _pts), max(q[0] for q in _pts), min(q[1] for q in _pts), max(q[1] for q in _pts))


def _draw_subject(img, name: str, pose: _Pose, shade: float, asleep: bool) -> None:
    art = _ART[name]
    cols = {k: np.clip(np.array(v, np.float32) * shade, 0, 1) for k, v in art["colours"].items()}
    cols.update(white=np.array(_W, np.float32), black=np.array(_K, np.float32))
    edge = cols["main"] * 0.35
    grow = 1.1 / pose.k
    for part in art["parts"]:                      # silhouette outline first, under every fill
        if part[0] != "eye" and part[3]:
            pose.fill(img, part[0], part[1], edge, grow)
    for part in art["parts"]:
        if part[0] != "eye":
            pose.fill(img, part[0], part[1], cols[part[2]])
            continue
        u, v, r, big = part[1]
        if asleep:                                 # closed eye: a lid and a dark line
            if big:
                pose.fill(img, "e", (u, v, r, r), cols["main"])
            pose.fill(img, "e", (u, v - 0.3 * r, max(r, 1.3), 0.55), _K)
        elif big:
            pose.fill(img, "e", (u, v, r, r), cols["white"])
            pose.fill(img, "e", (u + 0.3 * r, v, 0.5 * r, 0.5 * r), _K)
        else:
            pose.fill(img, "e", (u, v, r, r), _K)


# ----------------------------------------------------------------------------- the places
BACKGROUND_VARIANTS = 8
_PLACES = ("by a river", "in a forest", "on a mountain", "in the snow", "on a beach")
_FLAT = _Pose(0.0, 0.0, 1.0, 0.0, 1)            # identity frame: local (u, v) = world (x, −y)


def _tri(img, x1, y1, x2, y2, x3, y3, colour) -> None:
    _FLAT.fill(img, "t", (x1, -y1, x2, -y2, x3, -y3), colour)


def _sky(img, top, bottom, until) -> None:
    t = np.linspace(0.0, 1.0, until, dtype=np.float32)[:, None]
    img[:until] = (np.array(top, np.float32) * (1 - t) + np.array(bottom, np.float32) * t)[:, None, :]


def _river(img, rng) -> None:
    h1 = int(rng.integers(14, 23)); h2 = h1 + int(rng.integers(6, 10)); h3 = int(rng.integers(47, 52))
    _sky(img, (0.52, 0.76, 0.96), (0.76, 0.88, 0.98), h1)
    img[h1:h2], img[h2:h3], img[h3:] = (0.28, 0.58, 0.24), (0.16, 0.42, 0.84), (0.42, 0.72, 0.28)
    for x in rng.uniform(0, 64, 5):
        _ellipse(img, x, h1 + 0.5, rng.uniform(3, 6), rng.uniform(2, 4), (0.16, 0.44, 0.16))
    for _ in range(6):
        x, y = rng.uniform(0, 60), rng.uniform(h2 + 2, h3 - 2)
        _rect(img, x, y, x + rng.uniform(3, 8), y + 1, (0.45, 0.68, 0.96))


def _forest(img, rng) -> None:
    img[:] = (0.34, 0.52, 0.32)
    floor = int(rng.integers(45, 50))
    for x in np.sort(rng.uniform(-4, 68, 7)):
        base, top, w = floor + rng.uniform(-3, 1), rng.uniform(-6, 14), rng.uniform(9, 14)
        _rect(img, x - 1.5, base - 6, x + 1.5, base, (0.30, 0.19, 0.09))
        green = (0.06, 0.32, 0.11) if rng.random() < 0.5 else (0.10, 0.40, 0.14)
        for i in range(3):                                           # three stacked triangles per pine
            y0 = top + i * (base - 6 - top) / 3
            _tri(img, x, y0, x - w * (0.5 + 0.25 * i), y0 + (base - top) / 2.2, x + w * (0.5 + 0.25 * i),
                 y0 + (base - top) / 2.2, green)
    img[floor:] = (0.30, 0.25, 0.13)
    for x in rng.uniform(0, 64, 6):
        _ellipse(img, x, rng.uniform(floor + 3, 63), rng.uniform(2, 4), 1.0, (0.22, 0.19, 0.10))


def _mountain(img, rng) -> None:
    _sky(img, (0.42, 0.66, 0.95), (0.74, 0.86, 0.98), 64)
    base = int(rng.integers(44, 49))
    for x in np.sort(rng.uniform(-5, 69, 3)):
        apex, half = rng.uniform(5, 18), rng.uniform(18, 28)
        grey = (0.47, 0.47, 0.53) if rng.random() < 0.5 else (0.58, 0.57, 0.63)
        _tri(img, x, apex, x - half, base + 1, x + half, base + 1, grey)
        cap = 0.3 * (base - apex)                                    # white snow cap on the top 30 %
        _tri(img, x, apex, x - half * cap / (base - apex), apex + cap, x + half * cap / (base - apex), apex + cap,
             (0.96, 0.97, 1.0))
    img[base:] = (0.52, 0.47, 0.42)
    for x in rng.uniform(0, 64, 5):
        _ellipse(img, x, rng.uniform(base + 3, 63), rng.uniform(2, 4), rng.uniform(1, 2), (0.40, 0.36, 0.33))


def _snow(img, rng) -> None:
    ground = int(rng.integers(33, 40))
    _sky(img, (0.70, 0.76, 0.88), (0.84, 0.87, 0.94), ground)
    for x in rng.uniform(0, 64, 2):
        _ellipse(img, x, ground, rng.uniform(14, 24), rng.uniform(4, 8), (0.90, 0.92, 0.97))
    img[ground:] = (0.97, 0.98, 1.0)
    for x in rng.uniform(0, 64, 4):
        _ellipse(img, x, rng.uniform(ground + 4, 62), rng.uniform(5, 10), rng.uniform(1.2, 2.2), (0.82, 0.88, 0.97))


def _beach(img, rng) -> None:
    h = int(rng.integers(24, 32)); shore = int(rng.integers(40, 46))
    _sky(img, (0.38, 0.68, 0.98), (0.70, 0.86, 0.99), h)
    img[h:shore], img[shore:] = (0.08, 0.36, 0.72), (0.95, 0.84, 0.52)
    for _ in range(5):
        x, y = rng.uniform(0, 60), rng.uniform(h + 2, shore - 2)
        _rect(img, x, y, x + rng.uniform(3, 8), y + 1, (0.32, 0.58, 0.86))
    img[shore:shore + 2] = (0.93, 0.96, 0.98)
    for x in rng.uniform(0, 64, 6):
        _ellipse(img, x, rng.uniform(shore + 4, 63), rng.uniform(1.5, 3), 1.0, (0.84, 0.71, 0.42))


_PAINTERS = dict(zip(_PLACES, (_river, _forest, _mountain, _snow, _beach)))
_CACHE: dict[tuple[str, int], np.ndarray] = {}


def background(place: str, variant: int) -> np.ndarray:
    """The cached [64, 64, 3] background ``variant`` (0…BACKGROUND_VARIANTS−1) of ``place`` (read-only)."""
    key = (place, variant)
    if key not in _CACHE:
        img = np.zeros((_R, _R, 3), np.float32)
        _PAINTERS[place](img, np.random.default_rng([_PLACES.index(place), variant, 2024]))
        img.setflags(write=False)
        _CACHE[key] = img
    return _CACHE[key]


# ----------------------------------------------------------------------------- the props and the scene
_ROD, _LINE, _RED = (0.90, 0.74, 0.30), (0.12, 0.12, 0.15), (0.92, 0.10, 0.10)
_BALLS = ((0.92, 0.12, 0.12), (1.0, 0.86, 0.10), (0.88, 0.22, 0.78))
_COVER, _PAGE, _INK = (0.76, 0.12, 0.14), (0.98, 0.96, 0.88), (0.45, 0.45, 0.50)
_PILLOW, _PILLOW_EDGE, _DARK = (0.96, 0.80, 0.88), (0.50, 0.32, 0.42), (0.10, 0.10, 0.18)
_LONG = ("fox", "frog")                         # subjects longer than tall: they sleep flat, not on their side


def _zed(img, x, y, w) -> None:
    """A white "Z" of width w centred at (x, y), with a dark border so it reads on any background."""
    strokes = ((x - w / 2, y - w / 2, x + w / 2, y - w / 2), (x + w / 2, y - w / 2, x - w / 2, y + w / 2),
               (x - w / 2, y + w / 2, x + w / 2, y + w / 2))
    for width, colour in ((3.4, _DARK), (1.6, (1.0, 1.0, 1.0))):
        for s in strokes:
            _segment(img, *s, width, colour)


def draw_scene(subject: str, action: str, place: str, seed: int) -> np.ndarray:
    """One storybook scene as a float32 [64, 64, 3] array in [0, 1] (arguments are assumed valid)."""
    r = np.random.default_rng(seed).random(12)
    bg = background(place, int(r[0] * BACKGROUND_VARIANTS))
    img = (bg[:, ::-1] if r[1] < 0.5 else bg) * np.float32(0.92 + 0.16 * r[2])
    f = 1 if r[3] < 0.5 else -1                                     # facing right (+1) or left (−1)
    k = 0.85 + 0.2 * r[4]                                           # size
    asleep = action == "sleeping"
    tilt = math.radians(12.0 * (r[5] - 0.5))
    squash, angle = 1.0, tilt                                       # upright, with a small tilt
    if asleep and subject in _LONG:                                 # long subjects lie flat, head down
        squash, angle = 0.65, f * math.radians(12) + tilt / 2
    elif asleep:                                                    # upright subjects lie on their side
        angle = f * math.pi / 2 + tilt
    cx = 20 + 24 * r[6] - (8 * f if action == "fishing" else 0)
    ground = 55 + 5 * r[7] - (1.5 * k if asleep else 0)
    lo_u, hi_u, lo_v, hi_v = _BOUNDS[subject]
    probe = _Pose(0.0, 0.0, k, angle, f, squash)
    xs, ys = zip(*(probe.world(u, v) for u in (lo_u, hi_u) for v in (lo_v, hi_v)))
    pose = _Pose(cx - (min(xs) + max(xs)) / 2, ground - max(ys), k, angle, f, squash)
    art = _ART[subject]
    if asleep:                                                      # the pillow goes under the head
        hx, _ = pose.world(*art["head"])
        _ellipse(img, hx, ground - 1.0 * k, 8.5 * k, 4.2 * k, _PILLOW_EDGE)
        _ellipse(img, hx, ground - 1.0 * k, 7.5 * k, 3.2 * k, _PILLOW)
    _draw_subject(img, subject, pose, 0.88 + 0.24 * r[8], asleep)
    hx, hy = pose.world(*art["hand"])
    if action == "fishing":
        tx, ty = hx + f * 15 * k, hy - 16 * k
        _segment(img, hx, hy, tx, ty, 2.2 * k, _ROD)
        _segment(img, tx, ty, tx, ground - 5 * k, 1.0, _LINE)
        _ellipse(img, tx, ground - 5 * k, 2.3 * k, 2.3 * k, _RED)
    elif action == "reading":
        bx, by = hx + f * 1.5 * k, hy - 1.0 * k
        _rect(img, bx - 7 * k, by - 5 * k, bx + 7 * k, by + 5 * k, _COVER)
        for side in (-1, 1):
            x0 = bx + (0.5 * k if side > 0 else -6.2 * k)
            _rect(img, x0, by - 4.2 * k, x0 + 5.7 * k, by + 4.2 * k, _PAGE)
            for line in (-2.0, 0.0, 2.0):
                _rect(img, x0 + 1.0 * k, by + line * k, x0 + 4.6 * k, by + line * k + 0.8, _INK)
    elif asleep:
        zx, zy = pose.world(*art["head"])
        _zed(img, zx + f * 7 * k, zy - 11 * k, 6.5 * k)
        _zed(img, zx + f * 14 * k, zy - 20 * k, 5.0 * k)
    else:                                                           # juggling: three balls in an arc
        tx, ty = pose.world(art["head"][0], art["top"])
        phase = 4.0 * (r[9] - 0.5)
        for (dx, dy), colour in zip(((-9 + phase, -6), (phase / 2, -11), (9 + phase, -6)), _BALLS):
            _ellipse(img, tx + dx * k, ty + dy * k, 4.3 * k, 4.3 * k, _DARK)
            _ellipse(img, tx + dx * k, ty + dy * k, 3.3 * k, 3.3 * k, colour)
    if place == "in the snow":                                      # falling flakes, in front of everything
        flakes = np.random.default_rng([seed, 1]).integers(0, _R, (14 + int(r[10] * 10), 2))
        img[flakes[:, 0], flakes[:, 1]] = 1.0
    return np.clip(img, 0.0, 1.0, out=img)
