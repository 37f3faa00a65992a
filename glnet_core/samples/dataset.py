"""Synthetic data sets on disk: ``glnet synth`` writes scenes of :mod:`.landscape` as GeoTIFFs.

:func:`write_dataset` writes ``images/NAME.tif`` (RGB), ``masks/NAME.tif``
(class masks as ``glnet segment`` writes them), optionally
``lookalike/NAME.tif``, and ``scenes.json``, into a hidden folder next to the
output that is moved into place only when complete. Scenes are drawn in
parallel processes when asked; the files do not depend on it.

``--overwrite`` replaces only what glnet synth wrote: the files this run
writes, ``scenes.json``, and the scene files an earlier run listed in its
``scenes.json`` (:func:`earlier_files`); any other file in the folder or in
its ``images/``, ``masks/`` and ``lookalike/`` stays.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Generator, List, Optional, Tuple, Union

import numpy as np

from ..errors import InputError
from ..formats.classes import ClassTable
from ..formats.gdal_env import gdal_write_errors
from ..formats.layer_style import qml_sidecar_path
from ..formats.output_entries import atomic_entries
from ..geo.crs import linear_unit_m
from ..option_rules import EPSG_CODE, JOBS, JPEG_QUALITY, PIXEL_SIZE, SCENE_SIZE, SCENES, SEED
from .landscape import CLASSES, GENERATOR_VERSION, LOOKALIKE_CODES, generate_scene

__all__ = ["COMPRESSIONS", "SynthOptions", "SceneInfo", "scene_name", "earlier_files", "write_dataset"]

COMPRESSIONS = ("jpeg", "deflate")


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

    # The rules of the command line's options (glnet_core/option_rules.py), for library callers too.
    SCENES.check(opts.n)
    SCENE_SIZE.check(opts.size)
    SEED.check(opts.seed)
    PIXEL_SIZE.check(opts.pixel_size)
    if opts.compress not in COMPRESSIONS:
        raise InputError(f"--compress must be one of {', '.join(COMPRESSIONS)}, got {opts.compress!r}")
    JPEG_QUALITY.check(opts.jpeg_quality)
    JOBS.check(opts.jobs)
    EPSG_CODE.check(opts.crs)
    try:
        crs = _crs(opts.crs)
    except (CRSError, ValueError, OverflowError):
        raise InputError(f"--crs {opts.crs} is not a known EPSG code") from None
    if not crs.is_projected or linear_unit_m(crs) != 1.0:
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
        from pyproj import CRS as ProjCRS
        from pyproj import Transformer

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
    # gdal_write_errors: also a tile flush that fails on close (a full disk), which GDAL only prints.
    with warnings.catch_warnings(), gdal_write_errors(path, "--out"):
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
    from ..formats.class_mask_writer import TILE_SIZE, MaskWriter

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
_FOLDERS = ("images", "masks", "lookalike")
# The only names an earlier run's scenes.json may make a run remove: its own scene files.
_SCENE_FILE = re.compile(r"(images|masks|lookalike)/synth_[0-9]{5,}\.tif")


def earlier_files(out: Path) -> List[str]:
    """The files an earlier ``glnet synth`` run wrote into ``out``, as its ``scenes.json`` lists them.

    Each scene's image, mask and look-alike map, with their ``.aux.xml``
    sidecars (a mask's class names; statistics another program added
    describe the file being replaced) and the QGIS style ``.qml`` of a mask
    and a look-alike map. Only names of the form
    ``images|masks|lookalike/synth_NNNNN.tif`` are taken, so that a damaged
    or foreign ``scenes.json`` cannot make a run delete anything else.

    Returns
    -------
    list of str
        Paths relative to ``out``; empty when there is no readable
        ``scenes.json`` written by glnet synth.
    """
    try:
        meta = json.loads((out / "scenes.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(meta, dict) or meta.get("generator") != "glnet synth" or not isinstance(meta.get("scenes"), list):
        return []
    files: List[str] = []
    for record in meta["scenes"]:
        if not isinstance(record, dict):
            continue
        for key in ("image", "mask", "lookalike"):
            name = record.get(key)
            if isinstance(name, str) and _SCENE_FILE.fullmatch(name):
                files += [name, name + ".aux.xml"]
                if key != "image":  # the mask writer's QGIS style of a mask or look-alike map, NAME.qml
                    files.append(qml_sidecar_path(name).as_posix())
    return sorted(set(files))


def _check_out(out: Path, overwrite: bool) -> None:
    # Synth's own rules; a file, a missing or unwritable parent: atomic_entries.
    if not out.is_dir():
        return
    for name in _FOLDERS:
        if os.path.lexists(out / name) and not (out / name).is_dir():
            raise InputError(f"--out: {out / name} is not a folder; glnet synth writes its scenes there")
    if os.path.lexists(out / "scenes.json") and not (out / "scenes.json").is_file():
        raise InputError(f"--out: {out / 'scenes.json'} is not a regular file; glnet synth writes it")
    if not overwrite:
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
    (:class:`~glnet.glnet_core.formats.class_mask_writer.MaskWriter`: uint8, tiled,
    DEFLATE, nodata 255, DeepGlobe colour table and category names) on the
    image's grid. Scene ``i`` covers its own ground footprint (scenes in rows
    of ten). ``scenes.json`` records the arguments, the generator version and
    each scene's class pixel counts.

    Everything is written into the hidden part folder next to ``out`` and
    moved into place only when complete
    (:func:`~glnet.glnet_core.formats.outputs.atomic_entries`): an
    interrupted or failed run leaves ``out`` as it was.

    Parameters
    ----------
    out:
        The data set folder: new, empty, or (with ``opts.overwrite``) one
        where the files of this run, ``scenes.json`` and the scene files an
        earlier run listed there (:func:`earlier_files`) are replaced or
        removed; every other file in it and in its sub-folders is kept.
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
    OutputWriteError
        If writing fails (a full disk); ``out`` is left as it was.
    """
    _check_options(opts)
    # Absolute, so that "." and ".." have a name and a parent for the part folder.
    out = Path(os.path.abspath(os.fspath(out)))
    _check_out(out, opts.overwrite)
    origin = _origin(int(opts.crs))
    infos: List[SceneInfo] = []
    records = []
    # Only what synth wrote: this run's files (staged) and the earlier run's (listed in its scenes.json).
    owned = ["scenes.json", *earlier_files(out)] if opts.overwrite else list(_OURS)
    with atomic_entries(out, owned, overwrite=opts.overwrite, option="--out") as part:
        (part / "images").mkdir()
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


def _scenes(part: Path, opts: SynthOptions, origin: Tuple[float, float]) -> Generator[Tuple[SceneInfo, Dict[str, object]], None, None]:
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

