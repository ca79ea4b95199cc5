"""What the 128 px storybook drawing adds to the 64 px scene: detail a viewer can name.

``storybook_draw`` draws the same scene at 64 and 128 px; at 128 px it calls these layers on top of
(or, for the props, instead of) the 64 px shapes, at the same positions and sizes in world units:

- subjects: a catch-light in every open eye, lashes on closed ones, inner ears (the owl's ear tufts
  are already drawn; the frog gets its round eardrum), a nose and whiskers, the squirrel's bushy,
  furred tail, the owl's breast feathers;
- props: a rod with a handle and reel, a line down to a red float with a white bottom that sits in a small
  pool of water (line and ripples), an open book with a spine and lines of text on two pages, three
  juggling balls with a highlight and a seam, a pillow with a seam;
- places (drawn once per cached background): ripples and grass blades by the river, bark and needles
  in the forest, shaded rock faces, jagged snow caps and cracks on the mountain, sparkles and drift
  shadows in the snow, star-shaped snowflakes, sand grains, shells and wave crests on the beach.
"""
from __future__ import annotations

import numpy as np

from .shapes import PLACE, Canvas, Pose, dots, ellipse, rect, segment, tri

__all__ = ["EXTRA_COLOURS", "subject", "pillow", "fishing_rod", "fishing_line", "float_in_pool", "book", "ball", "flakes", "texture_place"]

_WHITE, _INK = (1.0, 1.0, 1.0), (0.06, 0.05, 0.05)


# ----------------------------------------------------------------------------- subjects
# Per subject: inner ears (kind, params, colour key), nose + whisker root (u, v) or None, eardrums.
_EARS = {
    "squirrel": [("t", (2.1, 21.9, 4.0, 21.9, 2.6, 24.8), "light"), ("t", (1.9, 24.6, 3.2, 24.6, 2.5, 27.6), "main")],
    "fox": [("t", (5.4, 19.7, 7.4, 19.9, 5.6, 23.6), "dark"), ("t", (9.3, 19.8, 10.9, 19.6, 10.3, 23.2), "dark")],
    "rabbit": [],
    "bear": [("e", (0.5, 29, 1.4, 1.4), "light"), ("e", (9.5, 29, 1.4, 1.4), "light")],
    "owl": [("t", (-6.6, 19.2, -4.2, 20.2, -5.9, 24.0), "main"), ("t", (6.6, 19.2, 4.2, 20.2, 5.9, 24.0), "main")],
    "frog": [("e", (-8.6, 10.6, 2.0, 2.0), "edge"), ("e", (8.6, 10.6, 2.0, 2.0), "edge"),     # eardrums
             ("e", (-8.6, 10.6, 1.4, 1.4), "dark"), ("e", (8.6, 10.6, 1.4, 1.4), "dark"),
             ("e", (-8.1, 11.1, 0.45, 0.45), "light"), ("e", (9.1, 11.1, 0.45, 0.45), "light")],
    "hedgehog": [("e", (6.4, 9.3, 0.8, 0.7), "ear")],
}
_NOSE = {"squirrel": (9.0, 18.3), "fox": None, "rabbit": (8.4, 16.3), "bear": None, "owl": None, "frog": None,
         "hedgehog": (15.3, 4.7)}
_EYES = {"squirrel": [(6.2, 19.5, 1.1, 0)], "fox": [(9.8, 17, 1, 0)], "rabbit": [(6, 18, 1.1, 0)],
         "bear": [(7, 25, 1.1, 0)], "owl": [(-3.4, 16.5, 3.2, 1), (3.4, 16.5, 3.2, 1)],
         "frog": [(-5, 14.5, 2.2, 1), (5, 14.5, 2.2, 1)], "hedgehog": [(10, 6.8, 1.0, 0)]}


def _tail(cv: Canvas, pose: Pose, cols: dict) -> None:
    """The squirrel's bushy tail: tufts past the outline, a pale core and dark fur strokes."""
    edge, fur = cols["edge"], cols["tail"]
    angles = np.linspace(0.35 * np.pi, 1.75 * np.pi, 9)
    for a in angles:                              # tufts standing out of the outline
        u, v = -9 + 6.9 * np.cos(a), 15 + 11.2 * np.sin(a)
        pose.fill(cv, "e", (u, v, 1.7, 1.7), edge)
    for a in angles:
        u, v = -9 + 6.6 * np.cos(a), 15 + 10.9 * np.sin(a)
        pose.fill(cv, "e", (u, v, 1.25, 1.25), fur)
    pose.fill(cv, "e", (-8.2, 15, 2.6, 8.0), cols["core"])
    for a in angles[1::2]:                        # fur strokes from the core outwards
        pose.line(cv, -9 + 3.0 * np.cos(a), 15 + 6 * np.sin(a), -9 + 5.8 * np.cos(a), 15 + 10 * np.sin(a),
                  0.45, edge)


def _spines(cv: Canvas, pose: Pose, cols: dict) -> None:
    """The hedgehog's quills: rows of dark strokes with pale tips over its back, pointing away from the face."""
    for row, (r0, r1) in enumerate(((0.45, 0.75), (0.70, 0.98))):
        for a in np.linspace(0.36 * np.pi, 1.05 * np.pi, 8 - row):
            a = a + 0.06 * row
            u0, v0 = -1 + 10 * r0 * np.cos(a), 7 + 7 * r0 * np.sin(a)
            u1, v1 = -1 + 10 * r1 * np.cos(a + 0.25), 7 + 7 * r1 * np.sin(a + 0.25)
            pose.line(cv, u0, v0, u1, v1, 0.55, cols["dark"])
            pose.fill(cv, "e", (u1, v1, 0.35, 0.35), cols["light"])


#: Colours the detail layer needs beyond the subject's own (``storybook_draw`` puts them in its palette).
EXTRA_COLOURS = ("edge", "core", "ink", "ear")


def subject(cv: Canvas, name: str, pose: Pose, cols: dict, asleep: bool) -> None:
    """Add ears, eyes, nose, whiskers and fur to a subject already drawn with ``pose``.

    ``cols`` maps colour keys (the subject's, "white", "black" and EXTRA_COLOURS) to colours or indices.
    """
    if name == "squirrel":
        _tail(cv, pose, cols)
    if name == "hedgehog":
        _spines(cv, pose, cols)
    if name == "owl":                             # breast feathers: small chevrons on the pale belly
        for u, v in ((-2, 10), (2, 10), (0, 7), (-2.2, 4.5), (2.2, 4.5)):
            pose.line(cv, u - 1.0, v + 0.7, u, v, 0.4, cols["dark"])
            pose.line(cv, u, v, u + 1.0, v + 0.7, 0.4, cols["dark"])
    for kind, p, key in _EARS[name]:
        pose.fill(cv, kind, p, cols["ear"] if key == "light" and name == "squirrel" else cols[key])
    nose = _NOSE[name]
    if nose is not None:
        pose.fill(cv, "e", (nose[0], nose[1], 0.8, 0.65), cols["ink"])
        for dv, du in ((0.9, 3.2), (-0.6, 3.4)):
            pose.line(cv, nose[0] - 0.6, nose[1] - 0.3, nose[0] + du, nose[1] + dv, 0.22, cols["ink"])
    for u, v, r, big in _EYES[name]:
        if asleep:                                # lashes under the closed lid
            for du in (-0.6, 0.0, 0.6):
                pose.line(cv, u + du * r, v - 0.5 * r, u + 1.3 * du * r, v - 0.5 * r - 0.7, 0.3, cols["ink"])
        elif big:
            pose.fill(cv, "e", (u + 0.45 * r, v + 0.2 * r, 0.2 * r, 0.2 * r), cols["white"])
        else:                                     # a bigger, ringed eye with a catch-light
            pose.fill(cv, "e", (u, v, r + 0.45, r + 0.45), cols["white"])
            pose.fill(cv, "e", (u + 0.1, v, r + 0.05, r + 0.05), cols["ink"])
            pose.fill(cv, "e", (u + 0.45 * r, v + 0.4 * r, 0.42, 0.42), cols["white"])


# ----------------------------------------------------------------------------- props
_ROD, _HANDLE, _REEL, _LINE = (0.90, 0.74, 0.30), (0.40, 0.22, 0.10), (0.30, 0.30, 0.34), (0.10, 0.10, 0.12)
_RED, _POOL, _RIPPLE = (0.92, 0.10, 0.10), (0.14, 0.38, 0.80), (0.62, 0.80, 1.0)
_COVER, _PAGE, _TEXT = (0.76, 0.12, 0.14), (0.98, 0.96, 0.88), (0.30, 0.30, 0.36)
_PILLOW_SEAM = (0.78, 0.58, 0.68)
_BALLS = ((0.92, 0.12, 0.12), (1.0, 0.86, 0.10), (0.88, 0.22, 0.78))
_DARK = (0.10, 0.10, 0.18)


def fishing_rod(cv: Canvas, hx, hy, f: int, k: float) -> None:
    """A rod with a handle and reel from the hand (hx, hy) to its tip (hx + 15 f k, hy − 16 k)."""
    tx, ty = hx + f * 15 * k, hy - 16 * k
    segment(cv, hx, hy, tx, ty, 2.2 * k, _ROD)
    segment(cv, hx, hy, hx + 0.3 * (tx - hx), hy + 0.3 * (ty - hy), 2.6 * k, _HANDLE)
    rx, ry = hx + 0.18 * (tx - hx), hy + 0.18 * (ty - hy)
    ellipse(cv, rx, ry + 1.2 * k, 1.6 * k, 1.6 * k, _REEL)
    ellipse(cv, rx, ry + 1.2 * k, 0.6 * k, 0.6 * k, _ROD)


def fishing_line(cv: Canvas, x, y0, y1) -> None:
    """The line hanging straight down from the rod's tip (x, y0) to the float at y1."""
    rect(cv, x - 0.5, y0, x + 0.5, y1, _LINE)


def float_in_pool(cv: Canvas, x, y, k: float) -> None:
    """A red-and-white float at (x, y) in a small pool of water, the line going on under the water."""
    ellipse(cv, x, y + 1.2 * k, 6.0 * k, 1.9 * k, _POOL)
    ellipse(cv, x, y + 1.2 * k, 4.6 * k, 1.2 * k, _RIPPLE)
    ellipse(cv, x, y + 1.2 * k, 3.9 * k, 0.8 * k, _POOL)
    segment(cv, x, y, x, y + 2.4 * k, 0.45, (0.30, 0.45, 0.70))
    ellipse(cv, x, y, 2.3 * k, 2.3 * k, _RED)                               # red, as at 64 px,
    ellipse(cv, x, y, 2.3 * k, 2.3 * k, _WHITE, top=y + 1.0 * k)            # with a white bottom
    segment(cv, x, y - 2.2 * k, x, y - 3.2 * k, 0.5, _RED)                  # and a tip for the line
    ellipse(cv, x - 0.8 * k, y - 1.0 * k, 0.5 * k, 0.5 * k, _WHITE)


def book(cv: Canvas, bx, by, k: float) -> None:
    """An open book centred at (bx, by): a cover, two pages with lines of text, a spine."""
    rect(cv, bx - 7 * k, by - 5 * k, bx + 7 * k, by + 5 * k, _COVER)
    for side in (-1, 1):
        x0 = bx + (0.5 * k if side > 0 else -6.2 * k)
        rect(cv, x0, by - 4.2 * k, x0 + 5.7 * k, by + 4.2 * k, _PAGE)
        for i, line in enumerate((-3.0, -1.6, -0.2, 1.2, 2.6)):
            end = 4.7 - (1.4 if (i + side) % 3 == 0 else 0.0)              # ragged right margin
            rect(cv, x0 + 0.9 * k, by + line * k, x0 + end * k, by + line * k + 0.5, _TEXT)
    rect(cv, bx - 0.15 * k - 0.25, by - 4.6 * k, bx - 0.15 * k + 0.25, by + 4.6 * k, (0.45, 0.06, 0.08))


def ball(cv: Canvas, x, y, k: float, i: int) -> None:
    """Juggling ball ``i`` (0 red, 1 yellow, 2 magenta) at (x, y): a dark rim, a seam and a highlight."""
    colour = _BALLS[i]
    ellipse(cv, x, y, 4.3 * k, 4.3 * k, _DARK)
    ellipse(cv, x, y, 3.3 * k, 3.3 * k, colour)
    ellipse(cv, x, y, 3.3 * k, 0.45 * k, tuple(0.7 * c for c in colour))
    ellipse(cv, x - 1.2 * k, y - 1.3 * k, 0.8 * k, 0.8 * k, _WHITE)


def pillow(cv: Canvas, x, y, k: float) -> None:
    """A seam and two corner tufts on the pillow centred at (x, y)."""
    segment(cv, x - 6.0 * k, y, x + 6.0 * k, y, 0.4, _PILLOW_SEAM)
    for side in (-1, 1):
        ellipse(cv, x + side * 7.2 * k, y - 2.4 * k, 0.8 * k, 0.8 * k, _PILLOW_SEAM)


_FLAKE = ((0, 0), (-1, 0), (1, 0), (-2, 0), (2, 0), (0, -1), (0, 1), (0, -2), (0, 2),
          (-1, -1), (1, 1), (-1, 1), (1, -1), (0, 1), (1, 0))


def flakes(cv: Canvas, cells: np.ndarray) -> None:
    """Star-shaped snowflakes on the 64 px cells (row, col) of ``cells`` [K, 2] (int)."""
    dots(cv, (cells[:, ::-1] + 0.25).astype(np.float32), (1.0, 1.0, 1.0), _FLAKE)


# ----------------------------------------------------------------------------- places
def _river(cv: Canvas, lay: dict, rng) -> None:
    h1, h2, h3, label = lay["h1"], lay["h2"], lay["h3"], cv.label
    cv.label = PLACE
    for _ in range(28):                           # ripples: light crescents on the water
        x, y, w = rng.uniform(0, 64), rng.uniform(h2 + 1.5, h3 - 1), rng.uniform(1.2, 3.0)
        ellipse(cv, x, y, w, 0.8, (0.50, 0.72, 0.98))
        ellipse(cv, x, y + 0.45, w, 0.8, (0.16, 0.42, 0.84))
    cv.label = label
    greens = ((0.20, 0.48, 0.16), (0.55, 0.82, 0.36), (0.24, 0.52, 0.20))
    for lo, hi, n in ((h1 + 1.5, h2, 30), (h3 + 0.8, 64, 90)):
        for _ in range(n):                        # grass blades on both banks
            x, y, lean = rng.uniform(0, 64), rng.uniform(lo, hi), rng.uniform(-0.9, 0.9)
            segment(cv, x, y, x + lean, y - rng.uniform(1.2, 2.6), 0.45, greens[int(rng.integers(3))])


def _forest(cv: Canvas, lay: dict, rng) -> None:
    cv.label = PLACE
    for x, base, top, w, green in lay["trees"]:
        light = tuple(min(1.0, c * 1.6 + 0.04) for c in green)
        for _ in range(14):                       # needles: light strokes sloping down and out
            t = rng.uniform(0.15, 0.95)
            y = top + t * (base - 6 - top) + rng.uniform(0, 3)
            dx = rng.uniform(-1, 1) * w * 0.45 * t
            segment(cv, x + dx, y, x + dx + np.sign(dx) * 1.6, y + 0.9, 0.4, light)
        for dx in (-0.6, 0.5):                    # bark
            segment(cv, x + dx, base - 5.5, x + dx, base - 0.5, 0.3, (0.18, 0.11, 0.05))
    cv.label = 0
    for _ in range(50):                           # twigs and grass on the forest floor
        x, y = rng.uniform(0, 64), rng.uniform(lay["floor"] + 1, 64)
        segment(cv, x, y, x + rng.uniform(-0.8, 0.8), y - rng.uniform(0.8, 1.8), 0.4, (0.36, 0.50, 0.18))
    for _ in range(3):                            # mushrooms
        x, y = rng.uniform(2, 62), rng.uniform(lay["floor"] + 2, 62)
        rect(cv, x - 0.3, y - 1.2, x + 0.4, y + 0.2, (0.95, 0.92, 0.85))
        ellipse(cv, x, y - 1.2, 1.3, 0.8, (0.85, 0.15, 0.12))


def _mountain(cv: Canvas, lay: dict, rng) -> None:
    base, label = lay["base"], cv.label
    cv.label = PLACE
    for x, apex, half, grey in lay["peaks"]:      # redrawn in the same order, so the front peak stays in front
        shade = tuple(0.78 * c for c in grey)
        tri(cv, x, apex, x - half, base + 1, x + half, base + 1, grey)
        tri(cv, x, apex, x, base + 1, x + half, base + 1, shade)     # the shaded face
        for _ in range(4):                        # cracks in the rock
            t = rng.uniform(0.45, 0.9)
            cx = x + rng.uniform(-0.8, 0.8) * half * t
            cy = apex + t * (base - apex)
            segment(cv, cx, cy, cx + rng.uniform(-1.5, 1.5), cy + rng.uniform(1.5, 3.5), 0.35,
                    tuple(0.6 * c for c in grey))
        cap = 0.3 * (base - apex)
        w = half * cap / (base - apex)
        tri(cv, x, apex, x - w, apex + cap, x + w, apex + cap, (0.96, 0.97, 1.0))
        tri(cv, x, apex, x, apex + cap, x + w, apex + cap, (0.82, 0.86, 0.94))
        for i in range(4):                        # the cap's jagged lower edge
            x0 = x - w + (i + 0.5) * w / 2
            tri(cv, x0 - w / 4, apex + cap - 0.1, x0 + w / 4, apex + cap - 0.1, x0, apex + cap + 0.35 * cap,
                (0.96, 0.97, 1.0) if x0 < x else (0.82, 0.86, 0.94))
    cv.label = label
    for _ in range(10):                           # pebbles with a light top
        x, y, r = rng.uniform(0, 64), rng.uniform(base + 2, 63), rng.uniform(0.6, 1.4)
        ellipse(cv, x, y, 1.3 * r, r, (0.38, 0.34, 0.31))
        ellipse(cv, x - 0.3 * r, y - 0.35 * r, 0.6 * r, 0.4 * r, (0.66, 0.61, 0.56))


def _snow(cv: Canvas, lay: dict, rng) -> None:
    ground, label = lay["ground"], cv.label
    cv.label = PLACE
    for _ in range(7):                            # drift shadows
        x, y = rng.uniform(0, 64), rng.uniform(ground + 3, 62)
        ellipse(cv, x, y, rng.uniform(4, 8), 0.7, (0.84, 0.89, 0.97))
    pts = np.stack([rng.uniform(0, 64, 160), rng.uniform(ground + 1, 64, 160)], 1).astype(np.float32)
    dots(cv, pts[:80], (0.80, 0.86, 0.96))     # sparkle and grain on the snow
    dots(cv, pts[80:], (1.0, 1.0, 1.0), ((0, 0), (0, 1)))
    sky = np.stack([rng.uniform(0, 64, 30), rng.uniform(0, ground - 2, 30)], 1).astype(np.float32)
    dots(cv, sky, (0.95, 0.97, 1.0))              # far flakes in the sky
    cv.label = label


def _beach(cv: Canvas, lay: dict, rng) -> None:
    h, shore, label = lay["h"], lay["shore"], cv.label
    cv.label = PLACE
    for _ in range(16):                           # wave crests on the sea
        x, y, w = rng.uniform(0, 64), rng.uniform(h + 1.5, shore - 1), rng.uniform(1.5, 3.5)
        ellipse(cv, x, y, w, 0.7, (0.85, 0.93, 1.0))
        ellipse(cv, x, y + 0.4, w, 0.7, (0.08, 0.36, 0.72))
    for x in np.arange(0, 66, 2.2):               # scalloped foam at the water's edge
        ellipse(cv, x + rng.uniform(-0.4, 0.4), shore + 1.6, 1.4, 0.9, (0.93, 0.96, 0.98))
    pts = np.stack([rng.uniform(0, 64, 500), rng.uniform(shore + 2.2, 64, 500)], 1).astype(np.float32)
    dots(cv, pts[:250], (0.78, 0.64, 0.36))       # sand grains, dark and light
    dots(cv, pts[250:], (1.0, 0.93, 0.70))
    for _ in range(3):                            # shells: a pink fan with ridges
        x, y = rng.uniform(3, 61), rng.uniform(shore + 4, 62)
        ellipse(cv, x, y, 1.7, 1.4, (0.97, 0.70, 0.66))
        for dx in (-0.9, 0.0, 0.9):
            segment(cv, x, y + 1.2, x + dx, y - 1.0, 0.25, (0.80, 0.45, 0.45))
    cv.label = label


_TEXTURES = {"by a river": _river, "in a forest": _forest, "on a mountain": _mountain, "in the snow": _snow,
             "on a beach": _beach}


def texture_place(cv: Canvas, place: str, layout: dict, rng: np.random.Generator) -> None:
    """Texture a 128 px background laid out by ``storybook_draw`` (``layout``: its bands, trees, peaks)."""
    _TEXTURES[place](cv, layout, rng)
