"""Synthetic land-cover scenes whose classes need global context (``glnet synth``).

A scene is an RGB image and a DeepGlobe class mask (ids 0-6, see
:data:`~glnet.glnet_core.formats.classes.PRESETS` ``deepglobe``) drawn procedurally
with numpy alone: farmland (parcels with row texture), forest, rangeland,
barren land, rivers and lakes, rural roads, towns (street grid, buildings,
gardens), hillshade from a terrain, sensor noise and clouds.

The point of the generator is that **local appearance is ambiguous and the
layout hundreds of pixels away decides the class**, so that a segmentation
model without a global view (GLNet's local branch on 256 px patches alone) is
measurably worse than one with it. Three look-alike pairs are drawn with the
*same* shape generator (:func:`_blob`, radius 75-200 px, or the parcel grid)
and the *same* texture field (one field per scene, shared by both members),
and differ only in where they are placed:

=====================  ==============================  ===============================
look-alike             class when ...                  class when ...
=====================  ==============================  ===============================
dark smooth blob       water: touches a river          forest_land: far from any river
bare-soil blob         urban_land: inside a town       barren_land: in the countryside
                       (construction site)
grass texture          agriculture_land: a parcel of   rangeland: outside the parcel
                       the farm grid (fallow, pasture) grid
=====================  ==============================  ===============================

:data:`LOOKALIKE_CODES` names the look-alike regions; :func:`generate_scene`
returns their map with the scene, so that a model's errors inside them can be
measured.

Labels follow DeepGlobe's conventions: rural roads are not labelled (they
take the class of the land they cross), streets, buildings and gardens in
towns are urban_land, and pixels under opaque cloud (cloud opacity 0.5 or
more, ground not reliably visible) are ``unknown`` (0), which scoring ignores
(DeepGlobe's table flags it) and training learns as a class of its own. Thin
cloud and cloud shadow keep the ground's class.

Content is drawn in pixels for a ground resolution of about 0.5 m/px (as
DeepGlobe); the pixel size given to :func:`write_dataset` changes only the
georeferencing.

Determinism: scene ``i`` of seed ``s`` depends only on ``(s, i)``, the size
and :data:`GENERATOR_VERSION` (its random numbers come from numpy's
``default_rng([s, i, tag])``), so the same arguments give byte-identical
files with the same numpy and GDAL builds, and a larger ``n`` extends a data
set.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..formats.classes import PRESETS, ClassTable
from ..errors import InputError

__all__ = [
    "GENERATOR_VERSION",
    "CLASSES",
    "LOOKALIKE_CODES",
    "LOOKALIKE_PAIRS",
    "MIN_SIZE",
    "MAX_SIZE",
    "COMPRESSIONS",
    "Scene",
    "SynthOptions",
    "SceneInfo",
    "generate_scene",
    "scene_name",
    "write_dataset",
]

#: Bumped whenever the scenes a seed gives change.
GENERATOR_VERSION = "2"  # 2: cloud shadows without the wrap-around seam of version 1

#: The class table of the masks (DeepGlobe).
CLASSES: ClassTable = PRESETS["deepglobe"]

UNKNOWN, URBAN, AGRICULTURE, RANGELAND, FOREST, WATER, BARREN = range(7)

#: Codes of the look-alike map returned with a scene (0: none).
LOOKALIKE_CODES: Dict[int, str] = {
    1: "lake (water, dark smooth blob touching a river)",
    2: "dark forest (forest_land, dark smooth blob far from rivers)",
    3: "construction site (urban_land, bare-soil blob inside a town)",
    4: "bare patch (barren_land, bare-soil blob in the countryside)",
    5: "grass parcel (agriculture_land, grass texture in the parcel grid)",
    6: "rangeland (rangeland, grass texture outside the parcel grid)",
}
_LAKE, _DARK_FOREST, _CONSTRUCTION, _BARE_PATCH, _GRASS_PARCEL, _RANGE_GRASS = range(1, 7)

#: The look-alike pairs: ``(code, code)`` drawn alike, labelled differently.
LOOKALIKE_PAIRS: Tuple[Tuple[int, int], ...] = ((_LAKE, _DARK_FOREST), (_CONSTRUCTION, _BARE_PATCH), (_GRASS_PARCEL, _RANGE_GRASS))

MIN_SIZE = 64
MAX_SIZE = 4096  # peak memory is about 70 bytes per pixel: 1.1 GB at 4096 px
COMPRESSIONS = ("jpeg", "deflate")

# Materials: what a pixel is drawn with (several materials share a class, and
# the look-alikes share a material).
_M_FIELD, _M_GRASS, _M_FOREST, _M_BARE, _M_DARK, _M_ROAD, _M_STREET, _M_ROOF, _M_MARGIN, _M_GARDEN = range(10)

# Look-alike blob radii in pixels: regions 150-400 px across, the scale of the
# lite configuration's local patches (256 px), so that a patch inside one sees
# nothing else.
_BLOB_RADIUS = (75.0, 200.0)


# --------------------------------------------------------------------- noise
def _axis_weights(n: int, cell: float, phase: float) -> Tuple[np.ndarray, np.ndarray]:
    pos = (np.arange(n, dtype=np.float64) + phase) / cell
    i0 = np.floor(pos).astype(np.intp)
    t = (pos - i0).astype(np.float32)
    return i0, t * t * (3.0 - 2.0 * t)  # smoothstep: no creases at lattice lines


def _value_noise(rng: np.random.Generator, shape: Tuple[int, int], cell: float) -> np.ndarray:
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


def _fbm(rng: np.random.Generator, shape: Tuple[int, int], cells: Sequence[float], gains: Sequence[float]) -> np.ndarray:
    """Sum of value-noise octaves, centred on 0 (float32); ``gains`` weight the octaves."""
    out = np.zeros(shape, dtype=np.float32)
    for cell, gain in zip(cells, gains):
        octave = _value_noise(rng, shape, cell)
        octave *= np.float32(gain)  # in place: no full-size temporaries
        out += octave
    out -= np.float32(0.5 * sum(gains))
    return out


def _noise_1d(rng: np.random.Generator, x: np.ndarray, cell: float) -> np.ndarray:
    """A smooth random function of ``x`` in about [-1, 1], varying over ``cell`` (float32)."""
    x0, x1 = float(np.min(x)) - cell, float(np.max(x)) + cell
    knots = np.arange(x0, x1 + 2 * cell, cell)
    values = rng.uniform(-1.0, 1.0, knots.size)
    # Two passes of a 3-tap mean turn the polyline into a smooth-looking curve.
    for _ in range(2):
        values = np.convolve(np.pad(values, 1, mode="edge"), np.ones(3) / 3.0, mode="valid")
    return np.interp(x, knots, values).astype(np.float32)


def _dots(rng: np.random.Generator, shape: Tuple[int, int], per_pixel: float, radius: Tuple[float, float]) -> np.ndarray:
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


def _shifted(a: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """``a`` moved by ``(dy, dx)`` pixels; what moves in continues the edge rows and columns.

    Not ``np.roll``: wrapping brings the opposite edge in, with a straight
    seam where the two edges meet.
    """
    h, w = a.shape
    py, px = abs(dy), abs(dx)
    padded = np.pad(a, ((py, py), (px, px)), mode="edge")
    return padded[py - dy : py - dy + h, px - dx : px - dx + w]


# --------------------------------------------------------------------- geometry
@dataclass
class _Grid:
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


def _blob(rng: np.random.Generator, shape: Tuple[int, int], cy: float, cx: float, radius: float):
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
    d += _fbm(rng, (bh, bw), (radius * 0.6, radius * 0.2), (0.55, 0.2))
    mask = d < 1.0
    if not mask.any():
        return None
    return slice(r0, r1), slice(c0, c1), mask


# --------------------------------------------------------------------- scene
@dataclass
class Scene:
    """One synthetic scene.

    Attributes
    ----------
    image:
        ``(size, size, 3)`` uint8 RGB.
    mask:
        ``(size, size)`` uint8 DeepGlobe class ids (0 unknown ... 6 barren_land).
    lookalike:
        ``(size, size)`` uint8 look-alike region codes (:data:`LOOKALIKE_CODES`, 0 none).
    """

    image: np.ndarray
    mask: np.ndarray
    lookalike: np.ndarray

    def class_pixels(self) -> Dict[str, int]:
        """Pixel count per class name (all classes, zeros included)."""
        counts = np.bincount(self.mask.ravel(), minlength=len(CLASSES))
        return {name: int(counts[i]) for i, name in enumerate(CLASSES.names)}

    def lookalike_pixels(self) -> Dict[str, int]:
        """Pixel count per look-alike region kind (short names)."""
        counts = np.bincount(self.lookalike.ravel(), minlength=len(LOOKALIKE_CODES) + 1)
        return {LOOKALIKE_CODES[c].split(" (")[0]: int(counts[c]) for c in LOOKALIKE_CODES}


def _palette(rng: np.random.Generator, base: Sequence[float], jitter: float) -> np.ndarray:
    """A scene's colour for a material: ``base`` RGB with a per-scene shift (seasons, sensors)."""
    return np.asarray(base, dtype=np.float32) + rng.normal(0.0, jitter, 3).astype(np.float32)


def _far_from(points: np.ndarray, y: float, x: float, distance: float) -> bool:
    if points.size == 0:
        return True
    return bool(np.min((points[:, 0] - y) ** 2 + (points[:, 1] - x) ** 2) > distance * distance)


@dataclass
class _Canvas:
    """A scene being drawn: its random numbers, coordinates and per-pixel maps.

    ``label`` holds class ids, ``mat`` the material each pixel is painted
    with, ``look`` the look-alike codes. Drawing steps paint over earlier
    ones, so the order of the steps in :func:`generate_scene` is the order of
    precedence (and of the random numbers: it must not change within a
    :data:`GENERATOR_VERSION`).
    """

    rng: np.random.Generator
    size: int

    def __post_init__(self) -> None:
        self.h = self.w = self.size
        self.shape = (self.h, self.w)
        self.g = _Grid(self.h, self.w)
        self.span = float(self.h + self.w)  # reach of lines that must cross the whole scene
        self.label = np.empty(self.shape, dtype=np.uint8)
        self.mat = np.empty(self.shape, dtype=np.uint8)
        self.look = np.zeros(self.shape, dtype=np.uint8)

    def fill(self, blob, material: int, cls: int, code: int) -> None:
        """Paint a :func:`_blob` region (``None``: nothing)."""
        if blob is None:
            return
        rs, cs, m = blob
        self.mat[rs, cs][m] = material
        self.label[rs, cs][m] = cls
        self.look[rs, cs][m] = code

    def place(self, count: int, ok: Callable[[float, float, float], bool]) -> List[Tuple[float, float, float]]:
        """Up to ``count`` blob centres and radii ``(y, x, r)`` that satisfy ``ok`` and keep apart."""
        rng, out = self.rng, []
        for _ in range(count * 40):  # rejection sampling, bounded
            if len(out) == count:
                break
            r = rng.uniform(*_BLOB_RADIUS)
            y, x = rng.uniform(-0.1, 1.1) * self.h, rng.uniform(-0.1, 1.1) * self.w
            if ok(y, x, r) and all((y - a) ** 2 + (x - b) ** 2 > (r + c + 40) ** 2 for a, b, c in out):
                out.append((y, x, r))
        return out


@dataclass
class _Farm:
    """The parcel grid, kept for colouring the crop rows."""

    u: np.ndarray
    v: np.ndarray
    pid: np.ndarray
    crop: np.ndarray
    along_v: np.ndarray
    period: np.ndarray
    phase: np.ndarray
    tone: np.ndarray


def _draw_countryside(c: _Canvas) -> _Farm:
    """Zones of farm, forest, rangeland and barren land; the farm's parcel grid and grass parcels."""
    rng, shape = c.rng, c.shape
    # Regions 300-900 px across (larger than a local patch). Per-scene biases
    # vary the mix between scenes.
    zone_classes = (AGRICULTURE, FOREST, RANGELAND, BARREN)
    bias = rng.normal(0.0, 0.08, 4).astype(np.float32) + np.array([0.06, 0.0, 0.02, -0.06], dtype=np.float32)
    scores = []
    for k in range(4):
        scores.append(_fbm(rng, shape, (900.0, 420.0, 90.0), (1.0, 0.5, 0.08)) + bias[k])
    zone = np.argmax(np.stack(scores), axis=0).astype(np.uint8)
    del scores
    c.label[...] = np.asarray(zone_classes, dtype=np.uint8)[zone]
    c.mat[...] = np.asarray((_M_FIELD, _M_FOREST, _M_GRASS, _M_BARE), dtype=np.uint8)[zone]

    # Farm parcels: a rotated grid of irregular spacing, parcels 150-400 px.
    farm_angle = rng.uniform(0.0, math.pi)
    u, v = c.g.rotated(farm_angle)
    span = c.span
    breaks_u = np.cumsum(rng.uniform(150.0, 400.0, int(2 * span / 150) + 4)) - span
    breaks_v = np.cumsum(rng.uniform(150.0, 400.0, int(2 * span / 150) + 4)) - span
    iu = np.searchsorted(breaks_u, u).astype(np.int32)
    iv = np.searchsorted(breaks_v, v).astype(np.int32)
    # Distance to the nearest parcel edge, for the field margins (tracks, hedges).
    bu = np.concatenate([[-1e9], breaks_u, [1e9]]).astype(np.float32)
    bv = np.concatenate([[-1e9], breaks_v, [1e9]]).astype(np.float32)
    edge = np.minimum(np.minimum(u - bu[iu], bu[iu + 1] - u), np.minimum(v - bv[iv], bv[iv + 1] - v))
    # Per-parcel properties from tables indexed by a hash of the parcel's grid cell.
    n_par = 97 * 89
    pid = ((iu % 97) * 89 + (iv % 89)).astype(np.int32)
    del iu, iv
    par_crop = rng.choice(4, n_par, p=(0.32, 0.22, 0.2, 0.26)).astype(np.uint8)  # 3: grass (look-alike)
    farm = _Farm(
        u, v, pid, par_crop[pid],
        along_v=rng.random(n_par) < 0.5,
        period=rng.uniform(5.0, 14.0, n_par).astype(np.float32),
        phase=rng.uniform(0.0, 2 * math.pi, n_par).astype(np.float32),
        tone=rng.normal(0.0, 1.0, (n_par, 3)).astype(np.float32),
    )
    in_farm = zone == 0
    grass_parcel = in_farm & (farm.crop == 3)
    margin = in_farm & (edge < 3.0)
    c.mat[grass_parcel] = _M_GRASS
    c.mat[margin] = _M_MARGIN
    c.look[grass_parcel & ~margin] = _GRASS_PARCEL
    c.look[zone == 2] = _RANGE_GRASS
    return farm


def _terrain_shade(c: _Canvas) -> np.ndarray:
    """Hillshade of a smooth random terrain: a brightness factor of about 0.9-1.1 varying over hundreds of pixels."""
    elevation = _fbm(c.rng, c.shape, (1400.0, 700.0, 300.0), (1.0, 0.5, 0.25))
    gy, gx = np.gradient(elevation)
    sun = c.rng.uniform(0.0, 2 * math.pi)
    return 1.0 + np.float32(90.0) * (gx * np.float32(math.cos(sun)) + gy * np.float32(math.sin(sun)))


def _plan_rivers(c: _Canvas) -> List[Tuple[np.ndarray, np.ndarray]]:
    """0-2 meandering rivers 24-60 px wide across the scene: ``(mask, centreline points (n, 2) as y, x)``."""
    rng, g, h, w, span = c.rng, c.g, c.h, c.w, c.span
    rivers = []
    for _ in range(int(rng.choice(3, p=(0.2, 0.55, 0.25)))):
        angle = rng.uniform(0.0, math.pi)
        ru, rv = g.rotated(angle)
        centre_v = float(rng.uniform(-0.35, 0.35) * c.size)
        # Project the scene centre so that the river passes near it.
        cu = (w / 2) * math.cos(angle) + (h / 2) * math.sin(angle)
        cv = (h / 2) * math.cos(angle) - (w / 2) * math.sin(angle)
        us = np.arange(cu - span, cu + span, 8.0, dtype=np.float32)
        meander = _noise_1d(rng, us, rng.uniform(250.0, 500.0)) * np.float32(rng.uniform(80.0, 260.0))
        width = 24.0 + 36.0 * (0.5 + 0.5 * _noise_1d(rng, us, 400.0))
        offset = np.interp(ru, us, meander) + np.float32(cv + centre_v)
        half_width = np.interp(ru, us, width / 2).astype(np.float32)
        rmask = np.abs(rv - offset) < half_width
        del ru, rv, offset, half_width
        vs = meander + np.float32(cv + centre_v)
        ca, sa = math.cos(angle), math.sin(angle)
        pts = np.stack([us * sa + vs * ca, us * ca - vs * sa], axis=1)  # (y, x) of the centreline
        inside = (pts[:, 0] > -300) & (pts[:, 0] < h + 300) & (pts[:, 1] > -300) & (pts[:, 1] < w + 300)
        rivers.append((rmask, pts[inside]))
    return rivers


def _plan_lakes(c: _Canvas, rivers: Sequence[Tuple[np.ndarray, np.ndarray]]) -> List[Tuple[float, float, float]]:
    """1-3 lakes per river, ``(y, x, r)``: centred beside the river, so that it runs into the lake's edge."""
    rng, h, w = c.rng, c.h, c.w
    lakes = []
    for _, pts in rivers:
        on_scene = pts[(pts[:, 0] >= 0) & (pts[:, 0] < h) & (pts[:, 1] >= 0) & (pts[:, 1] < w)]
        for _ in range(int(rng.integers(1, 4)) if on_scene.size else 0):
            y, x = on_scene[int(rng.integers(0, len(on_scene)))]
            r = rng.uniform(*_BLOB_RADIUS)
            a = rng.uniform(0, 2 * math.pi)
            lakes.append((float(y) + 0.5 * r * math.sin(a), float(x) + 0.5 * r * math.cos(a), r))
    return lakes


def _plan_towns(c: _Canvas) -> List[Tuple[float, float, float]]:
    """0-2 towns, ``(y, x, r)`` with radius 320-650 px."""
    rng, towns = c.rng, []
    for _ in range(int(rng.choice(3, p=(0.3, 0.5, 0.2)))):
        radius = rng.uniform(320.0, 650.0)
        towns.append((rng.uniform(0.1, 0.9) * c.h, rng.uniform(0.1, 0.9) * c.w, radius))
    return towns


def _draw_roads(c: _Canvas) -> None:
    """1-3 gently bending rural roads 6-12 px wide; they keep the land's class (DeepGlobe does not label roads)."""
    rng = c.rng
    for _ in range(int(rng.integers(1, 4))):
        angle = rng.uniform(0.0, math.pi)
        ru, rv = c.g.rotated(angle)
        us = np.arange(-c.span, c.span, 8.0, dtype=np.float32)
        bend = _noise_1d(rng, us, rng.uniform(600.0, 1200.0)) * np.float32(rng.uniform(20.0, 120.0))
        centre = np.float32(rng.uniform(-0.5, 0.5) * c.size + (c.h / 2) * math.cos(angle) - (c.w / 2) * math.sin(angle))
        road = np.abs(rv - (np.interp(ru, us, bend) + centre)) < np.float32(rng.uniform(3.0, 6.0))
        c.mat[road] = _M_ROAD
        c.look[road] = 0


_ROOF_COLOURS = np.array(
    [[168, 82, 62], [150, 70, 55], [120, 118, 115], [90, 90, 92], [195, 190, 180], [140, 100, 80]], dtype=np.float32
)


def _draw_towns(c: _Canvas, towns: Sequence[Tuple[float, float, float]]) -> Optional[np.ndarray]:
    """Towns (street grid, lots with houses or gardens, house shadows) and their construction sites.

    Returns
    -------
    numpy.ndarray or None
        ``(h, w, 3)`` roof colours, -1 where a house shadow falls on a
        garden; None without towns.
    """
    rng, shape = c.rng, c.shape
    roof_tone = np.zeros((c.h, c.w, 3), dtype=np.float32) if towns else None
    for ty, tx, tr in towns:
        b = _blob(rng, shape, ty, tx, tr)
        if b is None:
            continue
        rs, cs, m = b
        t_angle = rng.uniform(0.0, math.pi / 2)
        block = rng.uniform(70.0, 130.0)
        street = rng.uniform(4.0, 7.0)
        sub = _Grid(rs.stop - rs.start, cs.stop - cs.start)
        sub.y += rs.start
        sub.x += cs.start
        tu, tv = sub.rotated(t_angle)
        tu = tu + np.float32(rng.uniform(0, block))
        tv = tv + np.float32(rng.uniform(0, block))
        fu, fv = np.mod(tu, block), np.mod(tv, block)
        is_street = (fu < 2 * street) | (fv < 2 * street)
        lots = int(rng.integers(2, 4))
        lot = (block - 2 * street) / lots
        lu, lv = (fu - 2 * street) / lot, (fv - 2 * street) / lot
        li, lj = np.floor(lu).astype(np.int32), np.floor(lv).astype(np.int32)
        bi = np.floor(tu / block).astype(np.int32) * lots + li
        bj = np.floor(tv / block).astype(np.int32) * lots + lj
        key = ((bi % 61) * 59 + (bj % 59)).astype(np.int32)
        lot_built = rng.random(61 * 59) < 0.72
        lot_colour = rng.integers(0, len(_ROOF_COLOURS), 61 * 59)
        lot_inset = rng.uniform(0.1, 0.3, 61 * 59).astype(np.float32)
        du, dv = lu - li, lv - lj
        ins = lot_inset[key]
        in_house = (du > ins) & (du < 1 - ins * 0.6) & (dv > ins) & (dv < 1 - ins * 0.6)
        house = ~is_street & lot_built[key] & in_house
        # Shadow on the far side from the sun (a few pixels), drawn as a darker garden.
        shadow = ~is_street & ~house & lot_built[key] & (du > ins) & (du < 1 - ins * 0.6 + 0.12) & (dv > ins) & (dv < 1 - ins * 0.6 + 0.12)
        local_mat = np.where(is_street, _M_STREET, np.where(house, _M_ROOF, _M_GARDEN)).astype(np.uint8)
        ridge = np.where(du < (1 + ins * 0.4) / 2, np.float32(1.0), np.float32(0.82))
        tone = _ROOF_COLOURS[lot_colour[key]] * ridge[..., None]
        tone[shadow] = -1.0  # marks the shadow (read when colouring gardens)
        c.mat[rs, cs][m] = local_mat[m]
        c.label[rs, cs][m] = URBAN
        c.look[rs, cs][m] = 0
        roof_tone[rs, cs][m] = tone[m]
        # Construction sites: bare-soil blobs well inside the town.
        n_sites = int(rng.integers(1, 4))
        for _ in range(n_sites * 10):
            if n_sites == 0:
                break
            r = rng.uniform(*_BLOB_RADIUS)
            if r > tr * 0.45:
                continue  # keep the site inside the town, with buildings all round
            a, d = rng.uniform(0, 2 * math.pi), rng.uniform(0.0, tr * 0.5 - r)
            site = _blob(rng, shape, ty + d * math.sin(a), tx + d * math.cos(a), r)
            if site is None:
                continue
            c.fill(site, _M_BARE, URBAN, _CONSTRUCTION)
            n_sites -= 1
    return roof_tone


def _colour(c: _Canvas, farm: _Farm, roof_tone: Optional[np.ndarray]) -> Tuple[np.ndarray, np.ndarray]:
    """The RGB image (float32) painted from the material map, and the fine grain field (reused for sensor noise).

    Each material has one colour per scene and one texture field; the
    look-alike pairs share a material, hence both.
    """
    rng, shape, mat = c.rng, c.shape, c.mat
    image = np.empty((c.h, c.w, 3), dtype=np.float32)
    fine = _value_noise(rng, shape, 2.5)
    patchy = _fbm(rng, shape, (160.0, 45.0), (1.0, 0.5))

    def paint(material: int, colour: np.ndarray, field_: np.ndarray, gain: np.ndarray) -> None:
        sel = mat == material
        if sel.any():
            image[sel] = colour + field_[sel][:, None] * gain

    # Grass (rangeland and grass parcels, one field for both): olive-green,
    # patchy, with shrubs.
    grass_c = _palette(rng, (112, 128, 72), 8.0)
    shrubs = _dots(rng, shape, 1.0 / 900.0, (1.5, 4.0))
    grass_f = patchy * 1.6 + (fine - 0.5) * 0.5 - shrubs * 1.2
    paint(_M_GRASS, grass_c, grass_f, np.array([26, 28, 20], np.float32))
    paint(_M_GARDEN, grass_c, grass_f, np.array([26, 28, 20], np.float32))
    del shrubs, grass_f
    # Bare soil (barren land and construction sites, one field for both).
    bare_c = _palette(rng, (176, 152, 120), 10.0)
    bare_f = _fbm(rng, shape, (90.0, 25.0, 6.0), (1.0, 0.5, 0.35)) * 1.8 + (fine - 0.5) * 0.4
    paint(_M_BARE, bare_c, bare_f, np.array([30, 28, 26], np.float32))
    del bare_f
    # Dark smooth surface (water and dense dark forest, one field for both).
    dark_c = _palette(rng, (42, 58, 56), 5.0)
    dark_f = _fbm(rng, shape, (120.0, 30.0), (1.0, 0.3)) * 1.5 + (fine - 0.5) * 0.25
    paint(_M_DARK, dark_c, dark_f, np.array([10, 12, 12], np.float32))
    del dark_f
    # Forest canopy: tree crowns about 6-10 px.
    forest_c = _palette(rng, (58, 84, 48), 6.0)
    crowns = _value_noise(rng, shape, 7.0)
    forest_f = (crowns - 0.5) * 2.2 + patchy * 0.8 + (fine - 0.5) * 0.3
    paint(_M_FOREST, forest_c, forest_f, np.array([24, 30, 18], np.float32))
    del crowns, forest_f
    # Crop parcels: per-parcel colour and rows.
    sel = mat == _M_FIELD
    if sel.any():
        crop_colours = np.stack([_palette(rng, base, 8.0) for base in ((96, 140, 60), (196, 176, 104), (128, 100, 76))])
        p = farm.pid[sel]
        kind = farm.crop[sel].astype(np.intp) % 3
        along = np.where(farm.along_v[p], farm.v[sel], farm.u[sel])
        rows = np.sin(along * (2 * np.float32(math.pi)) / farm.period[p] + farm.phase[p])
        image[sel] = (
            crop_colours[kind]
            + farm.tone[p] * np.float32(7.0)
            + rows[:, None] * np.array([14, 12, 10], np.float32)
            + (patchy[sel] * 0.8 + (fine[sel] - 0.5) * 0.4)[:, None] * np.array([16, 16, 12], np.float32)
        )
    paint(_M_MARGIN, _palette(rng, (150, 140, 100), 8.0), fine - 0.5, np.array([30, 26, 20], np.float32))
    paint(_M_ROAD, _palette(rng, (128, 124, 118), 6.0), fine - 0.5, np.array([16, 16, 16], np.float32))
    paint(_M_STREET, _palette(rng, (96, 96, 98), 5.0), fine - 0.5, np.array([14, 14, 14], np.float32))
    if roof_tone is not None:
        sel = mat == _M_ROOF
        image[sel] = roof_tone[sel] + ((fine[sel] - 0.5) * 12.0)[:, None]
        shadowed = (mat == _M_GARDEN) & (roof_tone[..., 0] < 0)
        image[shadowed] *= np.float32(0.55)
    return image, fine


def _clouds(c: _Canvas, image: np.ndarray) -> np.ndarray:
    """Clouds over about a third of the scenes, with their shadows; opaque cloud becomes ``unknown``."""
    rng, shape = c.rng, c.shape
    if rng.random() >= 0.35:
        return image
    clear = rng.uniform(0.72, 0.92)  # share of the scene free of cloud
    cloud_f = _fbm(rng, shape, (700.0, 250.0, 80.0), (1.0, 0.45, 0.15))
    alpha = np.clip((cloud_f - np.float32(np.quantile(cloud_f[::8, ::8], clear))) * 3.5, 0.0, 1.0)
    # Cloud shadow: the same cloud shifted away from the sun, darkening the ground.
    dy, dx = int(rng.integers(-120, 121)), int(rng.integers(-120, 121))
    shadow = _shifted(alpha, dy, dx)
    image *= (1.0 - 0.45 * shadow)[..., None]
    del shadow
    cloud_c = _palette(rng, (236, 236, 238), 4.0)
    image = image * (1.0 - alpha[..., None]) + (cloud_c + (cloud_f[..., None] * 20.0)) * alpha[..., None]
    opaque = alpha >= 0.5
    c.label[opaque] = UNKNOWN
    c.look[opaque] = 0
    return image


def generate_scene(seed: int, index: int, size: int) -> Scene:
    """Draw scene ``index`` of the data set of ``seed``.

    Parameters
    ----------
    seed:
        The data set's seed (a non-negative integer).
    index:
        The scene's number in the data set (0, 1, ...).
    size:
        Width and height in pixels, :data:`MIN_SIZE` to :data:`MAX_SIZE`.

    Returns
    -------
    Scene
        Image, class mask and look-alike map. The same arguments always give
        the same arrays.

    Raises
    ------
    InputError
        If ``seed`` or ``index`` is negative or ``size`` is out of range.
    """
    if seed < 0 or index < 0:
        raise InputError(f"the seed and the scene index must not be negative, got {seed} and {index}")
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise InputError(f"the scene size must be {MIN_SIZE} to {MAX_SIZE} px, got {size}")
    c = _Canvas(np.random.default_rng([int(seed), int(index), 0x5CE7E]), int(size))

    # The large-scale layout first: it decides the look-alikes' classes.
    farm = _draw_countryside(c)
    shade = _terrain_shade(c)
    rivers = _plan_rivers(c)
    river_pts = np.concatenate([p for _, p in rivers], axis=0) if rivers else np.zeros((0, 2), np.float32)
    lakes = _plan_lakes(c, rivers)
    lake_pts = np.array([(y, x) for y, x, _ in lakes], dtype=np.float32).reshape(-1, 2)
    lake_reach = max((r for _, _, r in lakes), default=0.0) * 1.4
    towns = _plan_towns(c)

    def outside_towns(y: float, x: float, distance: float) -> bool:
        # 1.4: a town blob reaches up to about 1.375 radii.
        return all((y - ty) ** 2 + (x - tx) ** 2 > (tr * 1.4 + distance) ** 2 for ty, tx, tr in towns)

    # Roads before the look-alike blobs, so that no blob of either pair is crossed by one.
    _draw_roads(c)
    def bare_ok(y: float, x: float, r: float) -> bool:
        # Bare patches (barren land): in the countryside, away from towns and rivers.
        return outside_towns(y, x, r * 1.4 + 80) and _far_from(river_pts, y, x, r * 1.4 + 90)

    def dark_ok(y: float, x: float, r: float) -> bool:
        # Dark forests (the water look-alike): also well clear of every lake.
        return bare_ok(y, x, r) and _far_from(lake_pts, y, x, r * 1.4 + lake_reach + 60)

    for y, x, r in c.place(int(c.rng.integers(2, 5)), bare_ok):
        c.fill(_blob(c.rng, c.shape, y, x, r), _M_BARE, BARREN, _BARE_PATCH)
    for y, x, r in c.place(int(c.rng.integers(2, 5)), dark_ok):
        c.fill(_blob(c.rng, c.shape, y, x, r), _M_DARK, FOREST, _DARK_FOREST)
    roof_tone = _draw_towns(c, towns)
    # Water last: lakes on their rivers, then the river channels.
    for y, x, r in lakes:
        c.fill(_blob(c.rng, c.shape, y, x, r), _M_DARK, WATER, _LAKE)
    for rmask, _ in rivers:
        c.mat[rmask] = _M_DARK
        c.label[rmask] = WATER
        c.look[rmask] = 0  # the channel itself is recognisable by its shape
    del rivers

    image, fine = _colour(c, farm, roof_tone)
    del farm, roof_tone
    image *= shade[..., None]
    del shade
    image = _clouds(c, image)
    # Sensor: fixed-pattern grain and noise.
    image += (fine[..., None] - 0.5) * np.float32(4.0)
    image += c.rng.normal(0.0, 1.5, (c.h, c.w, 3)).astype(np.float32)
    np.clip(image, 0.0, 255.0, out=image)
    return Scene(np.rint(image).astype(np.uint8), c.label, c.look)


# --------------------------------------------------------------------- writing
def scene_name(index: int) -> str:
    """The file stem of scene ``index`` (``synth_00000``)."""
    return f"synth_{index:05d}"


@dataclass(frozen=True)
class SynthOptions:
    """What :func:`write_dataset` writes.

    Attributes
    ----------
    n:
        Number of scenes (1 or more).
    size:
        Scene width and height in pixels.
    seed:
        Data set seed.
    crs:
        EPSG code of a projected CRS in metres.
    pixel_size:
        Ground size of a pixel in metres (georeferencing only).
    compress:
        Image compression: ``"jpeg"`` (YCbCr JPEG in GeoTIFF, lossy) or ``"deflate"`` (lossless).
    jpeg_quality:
        JPEG quality 1-100.
    overwrite:
        Replace an existing data set in the folder.
    lookalike:
        Also write each scene's look-alike map (:data:`LOOKALIKE_CODES`) to
        ``lookalike/NAME.tif``, to score models inside the ambiguous regions.
    jobs:
        Processes that draw and write scenes in parallel; the files are the
        same whatever the number.
    """

    n: int
    size: int = 2048
    seed: int = 0
    crs: int = 32633
    pixel_size: float = 0.5
    compress: str = "jpeg"
    jpeg_quality: int = 90
    overwrite: bool = False
    lookalike: bool = False
    jobs: int = 1


@dataclass
class SceneInfo:
    """What :func:`write_dataset` reports per scene.

    Attributes
    ----------
    index, name:
        The scene's number and file stem.
    seconds:
        Time to draw and write it.
    class_pixels:
        Pixel count per class name.
    image_bytes:
        Size of its image file.
    """

    index: int
    name: str
    seconds: float
    class_pixels: Dict[str, int] = field(default_factory=dict)
    image_bytes: int = 0


def _check_options(opts: SynthOptions) -> None:
    """Check every option before anything is written.

    Raises
    ------
    InputError
        For any option out of range or a CRS that is not projected in metres.
    """
    from rasterio.errors import CRSError

    if opts.n < 1:
        raise InputError(f"--n must be at least 1, got {opts.n}")
    if not MIN_SIZE <= opts.size <= MAX_SIZE:
        raise InputError(f"--size must be {MIN_SIZE} to {MAX_SIZE} px, got {opts.size}")
    if opts.seed < 0:
        raise InputError(f"--seed must not be negative, got {opts.seed}")
    if not (opts.pixel_size > 0 and math.isfinite(opts.pixel_size)):
        raise InputError(f"--pixel-size must be a positive number of metres, got {opts.pixel_size}")
    if opts.compress not in COMPRESSIONS:
        raise InputError(f"--compress must be one of {', '.join(COMPRESSIONS)}, got {opts.compress!r}")
    if not 1 <= opts.jpeg_quality <= 100:
        raise InputError(f"--jpeg-quality must be 1 to 100, got {opts.jpeg_quality}")
    if opts.jobs < 1:
        raise InputError(f"--jobs must be at least 1, got {opts.jobs}")
    try:
        crs = _crs(opts.crs)
    except (CRSError, ValueError, OverflowError):
        raise InputError(f"--crs {opts.crs} is not a known EPSG code") from None
    units = (crs.linear_units or "").lower()
    if not crs.is_projected or units not in ("metre", "meter", "metres", "meters", "m"):
        raise InputError(f"--crs EPSG:{opts.crs} is not a projected CRS in metres; use one, e.g. 32633 (UTM 33N)")


def _crs(epsg: int):
    """The rasterio CRS of an EPSG code (raises rasterio's CRSError for an unknown one)."""
    import rasterio
    from rasterio.crs import CRS

    with rasterio.Env():  # routes GDAL's own error print to logging: one error line only
        return CRS.from_epsg(int(epsg))


def _origin(epsg: int) -> Tuple[float, float]:
    """Upper-left corner of scene 0: the centre of the CRS's area of use, rounded to 1 km.

    Falls back to (0, 0) when pyproj cannot say where the CRS is used.
    """
    try:
        from pyproj import CRS as ProjCRS, Transformer

        area = ProjCRS.from_epsg(epsg).area_of_use
        if area is None:
            return 0.0, 0.0
        lon, lat = (area.west + area.east) / 2.0, (area.south + area.north) / 2.0
        x, y = Transformer.from_crs(4326, epsg, always_xy=True).transform(lon, lat)
        if not (math.isfinite(x) and math.isfinite(y)):
            return 0.0, 0.0
        return round(x / 1000.0) * 1000.0, round(y / 1000.0) * 1000.0
    except Exception:  # pyproj missing or unable: any fixed origin will do
        return 0.0, 0.0


def _scene_transform(opts: SynthOptions, origin: Tuple[float, float], index: int):
    """Scenes lie side by side in rows of 10, one scene width apart, so footprints never overlap."""
    from affine import Affine

    step = opts.size * opts.pixel_size * 1.25
    x0 = origin[0] + (index % 10) * step
    y0 = origin[1] - (index // 10) * step
    return Affine(opts.pixel_size, 0.0, x0, 0.0, -opts.pixel_size, y0)


def _write_image(path: Path, image: np.ndarray, crs, transform, opts: SynthOptions, tags: Dict[str, str]) -> None:
    import rasterio
    from rasterio.enums import ColorInterp

    h, w, _ = image.shape
    profile = dict(
        driver="GTiff", width=w, height=h, count=3, dtype="uint8", crs=crs, transform=transform,
        tiled=True, blockxsize=256, blockysize=256,
    )
    if opts.compress == "jpeg":
        # YCbCr with 2x2 chroma subsampling: about 3x smaller than RGB JPEG.
        profile.update(compress="jpeg", photometric="ycbcr", jpeg_quality=opts.jpeg_quality, interleave="pixel")
    else:
        profile.update(compress="deflate", predictor=2, interleave="pixel")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(str(path), "w", **profile) as ds:
            ds.write(np.ascontiguousarray(image.transpose(2, 0, 1)))
            ds.colorinterp = (ColorInterp.red, ColorInterp.green, ColorInterp.blue)
            ds.update_tags(**tags)


def _lookalike_table() -> ClassTable:
    """The look-alike codes as a class table (names and colours for the maps' styling)."""
    colours = ((0, 0, 0), (0, 0, 255), (0, 128, 0), (0, 255, 255), (255, 255, 255), (255, 255, 0), (255, 0, 255))
    names = ["none"] + [LOOKALIKE_CODES[c].split(" (")[0].replace(" ", "_") for c in sorted(LOOKALIKE_CODES)]
    return ClassTable.from_dict(
        {"name": "synth-lookalike", "classes": [{"id": i, "name": n, "colour": list(c)} for i, (n, c) in enumerate(zip(names, colours))]}
    )


def _write_mask(path: Path, mask: np.ndarray, crs, transform, tags: Dict[str, str], classes: ClassTable = CLASSES) -> None:
    from ..formats.class_mask import TILE_SIZE, MaskWriter

    writer = MaskWriter(path, width=mask.shape[1], height=mask.shape[0], crs=crs, transform=transform, classes=classes, tags=tags)
    try:
        # Whole tiles, row band by row band: the cheapest way into a compressed tiled file.
        for r0 in range(0, mask.shape[0], TILE_SIZE):
            writer.write(r0, 0, mask[r0 : r0 + TILE_SIZE])
        writer.commit()
    except BaseException:
        writer.abort()
        raise


_OURS = ("images", "masks", "lookalike", "scenes.json")


def _check_out(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file; give a folder")
    parent = out.parent
    if not parent.is_dir():
        raise InputError(f"the folder {parent} does not exist; create it first")
    if not os.access(str(parent), os.W_OK):
        raise InputError(f"the folder {parent} is not writable")
    if out.is_dir() and not overwrite:
        present = [n for n in _OURS if (out / n).exists()]
        others = [p.name for p in out.iterdir() if p.name not in _OURS]
        if present:
            raise InputError(f"{out} already holds a data set ({', '.join(present)}); pass --overwrite to replace it")
        if others:
            raise InputError(f"{out} exists and is not empty; give a new or empty folder, or pass --overwrite")


def write_dataset(
    out: Union[str, "os.PathLike[str]"],
    opts: SynthOptions,
    progress: Optional[Callable[[SceneInfo, int], None]] = None,
) -> List[SceneInfo]:
    """Write a synthetic data set: ``out/images/NAME.tif``, ``out/masks/NAME.tif``, ``out/scenes.json``.

    Images are RGB uint8 GeoTIFFs, tiled 256 x 256, JPEG (YCbCr) or DEFLATE.
    With ``opts.lookalike``, ``out/lookalike/NAME.tif`` holds each scene's
    look-alike map, written like the masks.
    Masks are written as ``glnet segment`` writes class masks
    (:class:`~glnet.glnet_core.formats.class_mask.MaskWriter`: uint8, tiled,
    DEFLATE, nodata 255, DeepGlobe colour table and category names) on the
    image's grid. Scene ``i`` covers its own ground footprint (scenes in rows
    of ten). ``scenes.json`` records the arguments, the generator version and
    each scene's class pixel counts.

    Everything is written into a hidden folder next to ``out`` and moved into
    place only when complete: an interrupted or failed run leaves ``out`` as
    it was.

    Parameters
    ----------
    out:
        The data set folder: new, empty, or (with ``opts.overwrite``) one whose
        ``images/``, ``masks/``, ``lookalike/`` and ``scenes.json`` are
        replaced; other files in it are kept.
    opts:
        What to write.
    progress:
        Called after each scene with its :class:`SceneInfo` and ``opts.n``.

    Returns
    -------
    list of SceneInfo
        One per scene.

    Raises
    ------
    InputError
        Bad options, a missing or unwritable parent folder, or an existing
        data set without ``overwrite``.
    """
    _check_options(opts)
    # Absolute, so that "." and ".." have a name and a parent for the part folder.
    out = Path(os.path.abspath(os.fspath(out)))
    _check_out(out, opts.overwrite)
    origin = _origin(int(opts.crs))
    part = out.parent / f".{out.name}.synth-part"
    if part.exists():
        shutil.rmtree(part)  # left by a killed run: ours, by its name
    infos: List[SceneInfo] = []
    records = []
    try:
        (part / "images").mkdir(parents=True)
        (part / "masks").mkdir()
        if opts.lookalike:
            (part / "lookalike").mkdir()
        scenes = _scenes(part, opts, origin)
        try:
            for info, record in scenes:
                infos.append(info)
                records.append(record)
                if progress is not None:
                    progress(info, opts.n)
        finally:
            scenes.close()  # stops the worker processes before the part folder goes
        meta = {
            "generator": "glnet synth",
            "generator_version": GENERATOR_VERSION,
            "seed": opts.seed,
            "n": opts.n,
            "size": opts.size,
            "crs": f"EPSG:{int(opts.crs)}",
            "pixel_size_m": opts.pixel_size,
            "compress": opts.compress,
            "jpeg_quality": opts.jpeg_quality if opts.compress == "jpeg" else None,
            "classes": CLASSES.to_dict(),
            "lookalikes": {str(k): v for k, v in LOOKALIKE_CODES.items()},
            "scenes": records,
        }
        (part / "scenes.json").write_text(json.dumps(meta, indent=1) + "\n", encoding="utf-8")
        _move_into_place(part, out)
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        raise
    return infos


def _write_scene(part: Path, opts: SynthOptions, origin: Tuple[float, float], i: int) -> Tuple[SceneInfo, Dict[str, object]]:
    """Draw scene ``i`` and write its files into the part folder; returns its info and its scenes.json record."""
    t0 = time.perf_counter()
    crs = _crs(opts.crs)
    scene = generate_scene(opts.seed, i, opts.size)
    name = scene_name(i)
    transform = _scene_transform(opts, origin, i)
    tags = {"glnet_synth_version": GENERATOR_VERSION, "glnet_synth_seed": str(opts.seed), "glnet_synth_index": str(i)}
    _write_image(part / "images" / f"{name}.tif", scene.image, crs, transform, opts, tags)
    _write_mask(part / "masks" / f"{name}.tif", scene.mask, crs, transform, tags)
    counts = scene.class_pixels()
    record: Dict[str, object] = {
        "name": name,
        "image": f"images/{name}.tif",
        "mask": f"masks/{name}.tif",
        "index": i,
        "transform": list(transform)[:6],
        "class_pixels": counts,
        "lookalike_pixels": scene.lookalike_pixels(),
    }
    if opts.lookalike:
        _write_mask(part / "lookalike" / f"{name}.tif", scene.lookalike, crs, transform, tags, _lookalike_table())
        record["lookalike"] = f"lookalike/{name}.tif"
    info = SceneInfo(i, name, time.perf_counter() - t0, counts, (part / "images" / f"{name}.tif").stat().st_size)
    return info, record


def _scenes(part: Path, opts: SynthOptions, origin: Tuple[float, float]) -> Iterator[Tuple[SceneInfo, Dict[str, object]]]:
    """Write every scene into the part folder, in ``opts.jobs`` processes; yields them in order."""
    jobs = min(opts.jobs, opts.n)
    if jobs == 1:
        for i in range(opts.n):
            yield _write_scene(part, opts, origin, i)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: a forked child would inherit the parent's GDAL state.
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))
    try:
        yield from pool.map(_write_scene, [part] * opts.n, [opts] * opts.n, [origin] * opts.n, range(opts.n))
    finally:
        # On an error or Ctrl-C, scenes not yet started are dropped rather than drawn.
        pool.shutdown(wait=True, cancel_futures=True)


def _move_into_place(part: Path, out: Path) -> None:
    """Move the finished part folder to ``out`` (or its contents into an existing ``out``)."""
    if not out.exists():
        os.rename(str(part), str(out))
        return
    # An existing folder stays (it may be a shell's working directory): swap
    # our entries, the old ones first moved aside so that a failure never
    # mixes two data sets.
    old = out.parent / f".{out.name}.synth-old"
    if old.exists():
        shutil.rmtree(old)
    old.mkdir()
    for n in _OURS:
        if (out / n).exists():
            os.rename(str(out / n), str(old / n))
    for n in _OURS:
        if (part / n).exists():
            os.rename(str(part / n), str(out / n))
    shutil.rmtree(old, ignore_errors=True)
    shutil.rmtree(part, ignore_errors=True)
