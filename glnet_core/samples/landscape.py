"""Synthetic land-cover scenes whose classes need global context: the drawing (``glnet synth``).

A scene is an RGB image and a DeepGlobe class mask (ids 0-6, see
:data:`~glnet.glnet_core.formats.classes.PRESETS` ``deepglobe``) drawn procedurally
with numpy alone: farmland (parcels with row texture), forest, rangeland,
barren land, rivers and lakes, rural roads, towns (street grid, buildings,
gardens), hillshade from a terrain, sensor noise and clouds.

The point of the generator is that **local appearance is ambiguous and the
layout hundreds of pixels away decides the class**, so that a segmentation
model without a global view (GLNet's local branch on 256 px patches alone) is
measurably worse than one with it. Three look-alike pairs are drawn with the
*same* shape generator (:func:`blob`, radius 75-200 px, or the parcel grid)
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
georeferencing. :mod:`.dataset` writes scenes to files; :mod:`.noise` holds
the noise fields and shapes they are drawn with.

Determinism: scene ``i`` of seed ``s`` depends only on ``(s, i)``, the size
and :data:`GENERATOR_VERSION` (its random numbers come from numpy's
``default_rng([s, i, tag])``), so the same arguments give byte-identical
files with the same numpy and GDAL builds, and a larger ``n`` extends a data
set.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from ..errors import InputError
from ..formats.classes import PRESETS, ClassTable
from .noise import Grid, blob, dots, fbm, noise_1d, shifted, value_noise

__all__ = [
    "GENERATOR_VERSION",
    "CLASSES",
    "LOOKALIKE_CODES",
    "LOOKALIKE_PAIRS",
    "MIN_SIZE",
    "MAX_SIZE",
    "Scene",
    "generate_scene",
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

# Materials: what a pixel is drawn with (several materials share a class, and
# the look-alikes share a material).
_M_FIELD, _M_GRASS, _M_FOREST, _M_BARE, _M_DARK, _M_ROAD, _M_STREET, _M_ROOF, _M_MARGIN, _M_GARDEN = range(10)

# Look-alike blob radii in pixels: regions 150-400 px across, the scale of the
# lite configuration's local patches (256 px), so that a patch inside one sees
# nothing else.
_BLOB_RADIUS = (75.0, 200.0)


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
        self.g = Grid(self.h, self.w)
        self.span = float(self.h + self.w)  # reach of lines that must cross the whole scene
        self.label = np.empty(self.shape, dtype=np.uint8)
        self.mat = np.empty(self.shape, dtype=np.uint8)
        self.look = np.zeros(self.shape, dtype=np.uint8)

    def fill(self, blob, material: int, cls: int, code: int) -> None:
        """Paint a :func:`blob` region (``None``: nothing)."""
        if blob is None:
            return
        rs, cs, m = blob
        self.mat[rs, cs][m] = material
        self.label[rs, cs][m] = cls
        self.look[rs, cs][m] = code

    def place(self, count: int, ok: Callable[[float, float, float], bool]) -> List[Tuple[float, float, float]]:
        """Up to ``count`` blob centres and radii ``(y, x, r)`` that satisfy ``ok`` and keep apart."""
        rng = self.rng
        out: List[Tuple[float, float, float]] = []
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
        scores.append(fbm(rng, shape, (900.0, 420.0, 90.0), (1.0, 0.5, 0.08)) + bias[k])
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
    elevation = fbm(c.rng, c.shape, (1400.0, 700.0, 300.0), (1.0, 0.5, 0.25))
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
        meander = noise_1d(rng, us, rng.uniform(250.0, 500.0)) * np.float32(rng.uniform(80.0, 260.0))
        width = 24.0 + 36.0 * (0.5 + 0.5 * noise_1d(rng, us, 400.0))
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
        bend = noise_1d(rng, us, rng.uniform(600.0, 1200.0)) * np.float32(rng.uniform(20.0, 120.0))
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
        b = blob(rng, shape, ty, tx, tr)
        if b is None:
            continue
        rs, cs, m = b
        t_angle = rng.uniform(0.0, math.pi / 2)
        block = rng.uniform(70.0, 130.0)
        street = rng.uniform(4.0, 7.0)
        sub = Grid(rs.stop - rs.start, cs.stop - cs.start)
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
        assert roof_tone is not None  # there are towns
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
            site = blob(rng, shape, ty + d * math.sin(a), tx + d * math.cos(a), r)
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
    fine = value_noise(rng, shape, 2.5)
    patchy = fbm(rng, shape, (160.0, 45.0), (1.0, 0.5))

    def paint(material: int, colour: np.ndarray, field_: np.ndarray, gain: np.ndarray) -> None:
        sel = mat == material
        if sel.any():
            image[sel] = colour + field_[sel][:, None] * gain

    # Grass (rangeland and grass parcels, one field for both): olive-green,
    # patchy, with shrubs.
    grass_c = _palette(rng, (112, 128, 72), 8.0)
    shrubs = dots(rng, shape, 1.0 / 900.0, (1.5, 4.0))
    grass_f = patchy * 1.6 + (fine - 0.5) * 0.5 - shrubs * 1.2
    paint(_M_GRASS, grass_c, grass_f, np.array([26, 28, 20], np.float32))
    paint(_M_GARDEN, grass_c, grass_f, np.array([26, 28, 20], np.float32))
    del shrubs, grass_f
    # Bare soil (barren land and construction sites, one field for both).
    bare_c = _palette(rng, (176, 152, 120), 10.0)
    bare_f = fbm(rng, shape, (90.0, 25.0, 6.0), (1.0, 0.5, 0.35)) * 1.8 + (fine - 0.5) * 0.4
    paint(_M_BARE, bare_c, bare_f, np.array([30, 28, 26], np.float32))
    del bare_f
    # Dark smooth surface (water and dense dark forest, one field for both).
    dark_c = _palette(rng, (42, 58, 56), 5.0)
    dark_f = fbm(rng, shape, (120.0, 30.0), (1.0, 0.3)) * 1.5 + (fine - 0.5) * 0.25
    paint(_M_DARK, dark_c, dark_f, np.array([10, 12, 12], np.float32))
    del dark_f
    # Forest canopy: tree crowns about 6-10 px.
    forest_c = _palette(rng, (58, 84, 48), 6.0)
    crowns = value_noise(rng, shape, 7.0)
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
    cloud_f = fbm(rng, shape, (700.0, 250.0, 80.0), (1.0, 0.45, 0.15))
    alpha = np.clip((cloud_f - np.float32(np.quantile(cloud_f[::8, ::8], clear))) * 3.5, 0.0, 1.0)
    # Cloud shadow: the same cloud shifted away from the sun, darkening the ground.
    dy, dx = int(rng.integers(-120, 121)), int(rng.integers(-120, 121))
    shadow = shifted(alpha, dy, dx)
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
        c.fill(blob(c.rng, c.shape, y, x, r), _M_BARE, BARREN, _BARE_PATCH)
    for y, x, r in c.place(int(c.rng.integers(2, 5)), dark_ok):
        c.fill(blob(c.rng, c.shape, y, x, r), _M_DARK, FOREST, _DARK_FOREST)
    roof_tone = _draw_towns(c, towns)
    # Water last: lakes on their rivers, then the river channels.
    for y, x, r in lakes:
        c.fill(blob(c.rng, c.shape, y, x, r), _M_DARK, WATER, _LAKE)
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
