"""Shapes to pixels at any resolution: the storybook world's drawing primitives.

Every shape is given in *world units*: the scene is 64 units wide and tall at every resolution, with
x to the right and y down. A ``Canvas`` of n × n pixels (n = 64 or 128) puts pixel (i, j)'s centre at
world ((j + 0.5)·64/n, (i + 0.5)·64/n), so at n = 64 one unit is one pixel and the formulas are the
ones the 64 px drawing always used (bit-identical pixels), and at n = 128 the same shape covers the
same area with twice the linear detail. Each shape is filled only inside its bounding box; when the
canvas carries a label map, every pixel a shape paints also takes the canvas's current ``label``
(the masks of ``storybook.render_masks``). Used by ``storybook_draw`` and ``storybook_draw.detail``.
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["WORLD", "ANIMAL", "PROP", "PLACE", "Canvas", "Pose", "ellipse", "rect", "segment", "band", "tri", "dots"]

WORLD = 64                                            # world units per side, at every resolution
ANIMAL, PROP, PLACE = 1, 2, 3                         # label-map values (0: the rest of the background)
_CENTRES: dict[tuple[int, float], np.ndarray] = {}


class Canvas:
    """An image [n, n, 3] float32 drawn in world units, with an optional int8 label map [n, n].

    ``s`` (pixels per world unit) defaults to n / 64, a whole scene; a sprite canvas sets it (n = s · span).
    """

    def __init__(self, img: np.ndarray, labels: np.ndarray | None = None, label: int = 0, s: float | None = None):
        self.img, self.labels, self.label = img, labels, label
        self.n = img.shape[0]
        self.s = self.n / WORLD if s is None else s   # pixels per world unit: 1.0 at 64 px, 2.0 at 128 px
        if (self.n, self.s) not in _CENTRES:          # world coordinate of each pixel centre
            _CENTRES[self.n, self.s] = (np.arange(self.n, dtype=np.float32) + 0.5) * np.float32(1 / self.s)
        self.xs = _CENTRES[self.n, self.s]

    def box(self, x0: float, x1: float, y0: float, y1: float):
        """Pixel index ranges (i0, i1, j0, j1) holding the world box [x0, x1] × [y0, y1], or None."""
        s, n = self.s, self.n
        i0, i1 = max(0, int(math.floor(y0 * s))), min(n, int(math.ceil(y1 * s)) + 1)
        j0, j1 = max(0, int(math.floor(x0 * s))), min(n, int(math.ceil(x1 * s)) + 1)
        return (i0, i1, j0, j1) if i0 < i1 and j0 < j1 else None

    def paint(self, b, mask: np.ndarray, colour) -> None:
        """Set the pixels of ``mask`` (a boolean array over box ``b``) to ``colour`` (and to ``label``)."""
        self.img[b[0]:b[1], b[2]:b[3]][mask] = colour
        if self.labels is not None:
            self.labels[b[0]:b[1], b[2]:b[3]][mask] = self.label

    def slab(self, i0: int, i1: int, j0: int, j1: int, colour) -> None:
        """Set the pixel rectangle [i0:i1, j0:j1] (pixel indices) to ``colour`` (and to ``label``)."""
        self.img[i0:i1, j0:j1] = colour
        if self.labels is not None:
            self.labels[i0:i1, j0:j1] = self.label


def ellipse(cv: Canvas, cx, cy, rx, ry, colour, top: float | None = None) -> None:
    """Fill the axis-aligned ellipse ((x-cx)/rx)² + ((y-cy)/ry)² ≤ 1 (world units), below y = ``top`` if given."""
    b = cv.box(cx - rx, cx + rx, cy - ry if top is None else max(top, cy - ry), cy + ry)
    if b:
        dx, dy = (cv.xs[b[2]:b[3]] - cx) / rx, (cv.xs[b[0]:b[1]] - cy) / ry
        mask = dy[:, None] ** 2 + dx[None, :] ** 2 <= 1.0
        if top is not None:
            mask &= cv.xs[b[0]:b[1], None] >= top
        cv.paint(b, mask, colour)


def rect(cv: Canvas, x0, y0, x1, y1, colour) -> None:
    """Fill the world rectangle [x0, x1) × [y0, y1), its edges rounded to whole pixels."""
    s = cv.s
    cv.slab(max(0, round(y0 * s)), max(0, round(y1 * s)), max(0, round(x0 * s)), max(0, round(x1 * s)), colour)


def band(cv: Canvas, y0: int, y1: int, colour) -> None:
    """Fill the full-width rows between world heights y0 and y1 (whole world units)."""
    s = round(cv.s)
    cv.slab(y0 * s, y1 * s, 0, cv.n, colour)


def segment(cv: Canvas, x0, y0, x1, y1, width, colour) -> None:
    """Fill the pixels within width/2 (world units) of the segment (x0, y0)–(x1, y1)."""
    h = width / 2
    b = cv.box(min(x0, x1) - h, max(x0, x1) + h, min(y0, y1) - h, max(y0, y1) + h)
    if b:
        ex, ey = x1 - x0, y1 - y0
        px, py = cv.xs[None, b[2]:b[3]] - x0, cv.xs[b[0]:b[1], None] - y0
        # t = clamp(p·e / |e|², 0, 1);  distance² = |p − t e|²
        t = np.clip((px * ex + py * ey) / max(ex * ex + ey * ey, 1e-6), 0.0, 1.0)
        cv.paint(b, (px - t * ex) ** 2 + (py - t * ey) ** 2 <= h * h, colour)


def dots(cv: Canvas, xy: np.ndarray, colour, offsets: tuple[tuple[int, int], ...] = ((0, 0),)) -> None:
    """Set one pixel per world point of ``xy`` [K, 2] (x, y), plus the pixel ``offsets`` (di, dj) around it."""
    if len(xy) == 0:
        return
    off = np.asarray(offsets, np.intp)                                     # [O, 2]
    ii = (np.floor(xy[:, 1] * cv.s).astype(np.intp)[:, None] + off[None, :, 0]).ravel()
    jj = (np.floor(xy[:, 0] * cv.s).astype(np.intp)[:, None] + off[None, :, 1]).ravel()
    keep = (ii >= 0) & (ii < cv.n) & (jj >= 0) & (jj < cv.n)
    cv.img[ii[keep], jj[keep]] = colour
    if cv.labels is not None:
        cv.labels[ii[keep], jj[keep]] = cv.label


class Pose:
    """Local subject frame (u forward, v up, 1 unit = 1 world unit at scale 1) ↔ world (x right, y down)."""

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

    def line(self, cv: Canvas, u0, v0, u1, v1, width, colour) -> None:
        """A segment between two local points; ``width`` in local units (scaled by the pose's size)."""
        segment(cv, *self.world(u0, v0), *self.world(u1, v1), width * self.k, colour)

    def fill(self, cv: Canvas, kind, p, colour, grow=0.0) -> None:
        """Fill a local ellipse ("e": cu, cv, ru, rv) or triangle ("t": 3 points), grown by ``grow`` units."""
        if kind == "e":
            cu, cv_, hu, hv = p[0], p[1], p[2] + grow, p[3] + grow
        else:
            lo_u, hi_u, lo_v, hi_v = min(p[0::2]), max(p[0::2]), min(p[1::2]), max(p[1::2])
            cu, cv_, hu, hv = (lo_u + hi_u) / 2, (lo_v + hi_v) / 2, (hi_u - lo_u) / 2, (hi_v - lo_v) / 2
        fa, fb, fc, fd = self.fwd
        wx, wy = self.world(cu, cv_)
        ex, ey = abs(fa) * hu + abs(fb) * hv, abs(fc) * hu + abs(fd) * hv      # half-size of the world box
        b = cv.box(wx - ex, wx + ex, wy - ey, wy + ey)
        if not b:
            return
        a, bb, c, d = self.inv
        dx, dy = cv.xs[None, b[2]:b[3]] - wx, cv.xs[b[0]:b[1], None] - wy
        if kind == "e":
            # ((u − cu)/ru)² + ((v − cv)/rv)² ≤ 1, with (u − cu, v − cv) = inv · (x − wx, y − wy)
            mask = (a / hu * dx + bb / hu * dy) ** 2 + (c / hv * dx + d / hv * dy) ** 2 <= 1.0
        else:
            u, v = a * dx + bb * dy + cu, c * dx + d * dy + cv_
            u1, v1, u2, v2, u3, v3 = p
            sign = 1.0 if (u2 - u1) * (v3 - v1) - (v2 - v1) * (u3 - u1) >= 0 else -1.0
            mask = sign * ((u2 - u1) * (v - v1) - (v2 - v1) * (u - u1)) >= 0
            mask &= sign * ((u3 - u2) * (v - v2) - (v3 - v2) * (u - u2)) >= 0
            mask &= sign * ((u1 - u3) * (v - v3) - (v1 - v3) * (u - u3)) >= 0
        cv.paint(b, mask, colour)


FLAT = Pose(0.0, 0.0, 1.0, 0.0, 1)                   # identity frame: local (u, v) = world (x, −y)


def tri(cv: Canvas, x1, y1, x2, y2, x3, y3, colour) -> None:
    """Fill the world triangle with corners (x1, y1), (x2, y2), (x3, y3)."""
    FLAT.fill(cv, "t", (x1, -y1, x2, -y2, x3, -y3), colour)
