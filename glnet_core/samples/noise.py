"""Noise fields and shapes for the synthetic scenes (numpy only, deterministic for a generator state).

Value noise on a lattice (:func:`value_noise`), its fractal sum
(:func:`fbm`), 1-D noise along a coordinate (:func:`noise_1d`), scattered
dots (:func:`dots`), edge-continuing shifts (:func:`shifted`), the scene's
pixel coordinates (:class:`Grid`) and the one irregular round shape of all
look-alike regions (:func:`blob`). :mod:`.landscape` draws scenes with them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence, Tuple

import numpy as np

__all__ = ["value_noise", "fbm", "noise_1d", "dots", "shifted", "Grid", "blob"]


# --------------------------------------------------------------------- noise
def _axis_weights(n: int, cell: float, phase: float) -> Tuple[np.ndarray, np.ndarray]:
    pos = (np.arange(n, dtype=np.float64) + phase) / cell
    i0 = np.floor(pos).astype(np.intp)
    t = (pos - i0).astype(np.float32)
    return i0, t * t * (3.0 - 2.0 * t)  # smoothstep: no creases at lattice lines


def value_noise(rng: np.random.Generator, shape: Tuple[int, int], cell: float) -> np.ndarray:
    """Smooth value noise in [0, 1] with features about ``cell`` pixels across (float32)."""
    h, w = shape
    cell = max(float(cell), 1.0)
    gh, gw = int(h / cell) + 3, int(w / cell) + 3
    grid = rng.random((gh, gw), dtype=np.float32)
    py, px = rng.random(2) * cell
    iy, ty = _axis_weights(h, cell, py)
    ix, tx = _axis_weights(w, cell, px)
    # Separable interpolation: rows first (h x gw), then columns (h x w).
    rows = grid[iy] * (1.0 - ty)[:, None] + grid[iy + 1] * ty[:, None]
    # In place, with the same operations in the same order as
    # rows[:, ix] * (1 - tx) + rows[:, ix + 1] * tx: two full-size arrays instead of five.
    out = rows[:, ix]
    out *= 1.0 - tx
    right = rows[:, ix + 1]
    right *= tx
    out += right
    return out


def fbm(rng: np.random.Generator, shape: Tuple[int, int], cells: Sequence[float], gains: Sequence[float]) -> np.ndarray:
    """Sum of value-noise octaves, centred on 0 (float32); ``gains`` weight the octaves."""
    out = np.zeros(shape, dtype=np.float32)
    for cell, gain in zip(cells, gains):
        octave = value_noise(rng, shape, cell)
        octave *= np.float32(gain)  # in place: no full-size temporaries
        out += octave
    out -= np.float32(0.5 * sum(gains))
    return out


def noise_1d(rng: np.random.Generator, x: np.ndarray, cell: float) -> np.ndarray:
    """A smooth random function of ``x`` in about [-1, 1], varying over ``cell`` (float32)."""
    x0, x1 = float(np.min(x)) - cell, float(np.max(x)) + cell
    knots = np.arange(x0, x1 + 2 * cell, cell)
    values = rng.uniform(-1.0, 1.0, knots.size)
    # Two passes of a 3-tap mean turn the polyline into a smooth-looking curve.
    for _ in range(2):
        values = np.convolve(np.pad(values, 1, mode="edge"), np.ones(3) / 3.0, mode="valid")
    return np.interp(x, knots, values).astype(np.float32)


def dots(rng: np.random.Generator, shape: Tuple[int, int], per_pixel: float, radius: Tuple[float, float]) -> np.ndarray:
    """Soft round dots (shrubs) scattered at random: a float32 map in [0, 1].

    Thresholded value noise would give square, axis-aligned specks; stamping
    discs keeps them round.
    """
    h, w = shape
    n = int(h * w * per_pixel)
    out = np.zeros(h * w, dtype=np.float32)
    if n == 0:
        return out.reshape(shape)
    rmax = int(math.ceil(radius[1]))
    cy = rng.integers(0, h, n)
    cx = rng.integers(0, w, n)
    rad = rng.uniform(radius[0], radius[1], n).astype(np.float32)
    for dy in range(-rmax, rmax + 1):
        for dx in range(-rmax, rmax + 1):
            d = math.hypot(dy, dx)
            weight = np.clip(rad + 0.5 - np.float32(d), 0.0, 1.0)
            keep = weight > 0
            yy, xx = cy[keep] + dy, cx[keep] + dx
            ok = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w)
            np.maximum.at(out, yy[ok] * w + xx[ok], weight[keep][ok])
    return out.reshape(shape)


def shifted(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``a`` moved by ``(dy, dx)`` pixels; what moves in continues the edge rows and columns.

    Not ``np.roll``: wrapping brings the opposite edge in, with a straight
    seam where the two edges meet.
    """
    h, w = a.shape
    py, px = abs(dy), abs(dx)
    padded = np.pad(a, ((py, py), (px, px)), mode="edge")
    return padded[py - dy : py - dy + h, px - dx : px - dx + w]



# --------------------------------------------------------------------- shapes
@dataclass
class Grid:
    """Pixel-centre coordinates of a scene (float32, broadcastable)."""

    h: int
    w: int

    def __post_init__(self) -> None:
        self.y = np.arange(self.h, dtype=np.float32)[:, None]
        self.x = np.arange(self.w, dtype=np.float32)[None, :]

    def rotated(self, angle: float) -> Tuple[np.ndarray, np.ndarray]:
        """Coordinates ``(u, v)`` along and across the direction ``angle`` (radians)."""
        c, s = np.float32(math.cos(angle)), np.float32(math.sin(angle))
        return self.x * c + self.y * s, self.y * c - self.x * s


def blob(rng: np.random.Generator, shape: Tuple[int, int], cy: float, cx: float, radius: float):
    """An irregular round region: ``(rows, cols, mask)`` of its bounding box, clipped to the scene.

    The one shape generator of all look-alike regions (lakes, dark forests,
    construction sites, bare patches), so that shape tells nothing about the
    class. Returns ``None`` when the region lies outside the scene.
    """
    h, w = shape
    half = int(math.ceil(radius * 1.35))
    r0, r1 = max(int(cy) - half, 0), min(int(cy) + half + 1, h)
    c0, c1 = max(int(cx) - half, 0), min(int(cx) + half + 1, w)
    if r0 >= r1 or c0 >= c1:
        return None
    bh, bw = r1 - r0, c1 - c0
    yy = (np.arange(r0, r1, dtype=np.float32)[:, None] - cy) / radius
    xx = (np.arange(c0, c1, dtype=np.float32)[None, :] - cx) / radius
    d = np.sqrt(yy * yy + xx * xx)
    d += fbm(rng, (bh, bw), (radius * 0.6, radius * 0.2), (0.55, 0.2))
    mask = d < 1.0
    if not mask.any():
        return None
    return slice(r0, r1), slice(c0, c1), mask
