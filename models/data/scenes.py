"""Large labelled images cut into training and validation areas (``glnet train --images ... --labels ...``).

An orthophoto of a municipality is far larger than a training window and is
labelled only in places. Each image's model grid (its pixels, or the model's
resolution when the image's differs: :class:`glnet.glnet_core.engine.grid.ModelGrid`,
as ``glnet segment`` runs) is cut into *areas*: nearly equal tiles of at most
one window per side (:func:`.sampling.validation_tiles`). An area is
*labelled* when its labels reach into it (a polygon intersects it; a mask has a
classed pixel in it); only labelled areas are used.

Validation by area: a deterministic fraction of the labelled areas (those
with the smallest CRC-32 of ``IMAGE@ROW,COL``, :func:`.pairs.split_validation`)
is held out. Their labels never reach the loss: training windows that reach
into a held-out area see its pixels (as context) but not its labels. The
split depends only on the image names, the grid and the fraction.

Training: each epoch, every training area gives one window at a random
position among those that overlap the area (:func:`.sampling.window_around`).
Every read
is one window of the image and its labels: no image is ever held in memory
whole.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from ...glnet_core.engine.grid import ModelGrid
from ...glnet_core.errors import InputError
from ...glnet_core.formats.classes import NODATA, ClassTable
from ...glnet_core.formats.polygon_labels import PolygonLabels, read_label_layer
from .images import Box, ImageReading, open_image, raster_size
from .label_sources import LabelSource, MaskLabels, PolygonLabelSource
from .pairs import SamplePair, split_validation
from .sampling import validation_tiles

__all__ = ["LabelSpec", "AreaSplit", "background_class", "labelled_areas"]


@dataclass(frozen=True)
class LabelSpec:
    """Where the labels of ``--images`` come from (``--labels``, ``--label-layer``, ``--label-field``, ``--background``).

    Attributes
    ----------
    paths:
        One vector layer for all images, or one class mask per image (each
        the size of its image).
    field:
        The class attribute of a vector layer.
    layer:
        The layer of a multi-layer vector file (default: the first).
    background:
        Class name (or id) of the pixels outside every polygon; None: they are
        not labelled (ignored by the loss and the scores).
    vector:
        Whether ``paths`` is a vector layer.
    """

    paths: Tuple[Path, ...]
    field: Optional[str] = None
    layer: Optional[str] = None
    background: Optional[str] = None
    vector: bool = True


@dataclass
class AreaSplit:
    """The areas of the labelled images: training and validation pairs, and what was left out.

    Attributes
    ----------
    train, val:
        :class:`.pairs.SamplePair` areas (``region`` and ``grid`` set).
    images:
        Images with at least one labelled area.
    skipped:
        Images no label reaches (left out).
    labelled_areas:
        Labelled areas in all.
    """

    train: List[SamplePair]
    val: List[SamplePair]
    images: List[Path]
    skipped: List[Path]
    labelled_areas: int


def background_class(value: Optional[str], classes: ClassTable) -> int:
    """The class id ``--background`` names (a class name or id), or 255 (nodata) for None.

    Raises
    ------
    InputError
        If it names no class of the table.
    """
    if value is None:
        return NODATA
    text = str(value).strip()
    if text in classes.names:
        return classes.names.index(text)
    if text.isdigit() and int(text) < len(classes):
        return int(text)
    raise InputError(
        f"--background {value!r} is not a class of table {classes.name!r} (classes: {', '.join(classes.names)}; or an id 0-{len(classes) - 1})"
    )


def _names(images: Sequence[Path]) -> List[str]:
    """Stable, unique names of the images (their stems; ``-2``, ``-3`` ... for repeats)."""
    seen: Dict[str, int] = {}
    out = []
    for p in images:
        stem = Path(p).stem
        seen[stem] = seen.get(stem, 0) + 1
        out.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return out


def labelled_areas(
    images: Sequence[Path],
    spec: LabelSpec,
    classes: ClassTable,
    window: int,
    bands: int,
    model_resolution_m: Optional[float],
    val_fraction: float,
    reading: Optional[ImageReading] = None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> AreaSplit:
    """Cut labelled images into training and validation areas (see the module docstring).

    Parameters
    ----------
    images:
        The images (anything ``glnet segment`` reads).
    spec:
        Their labels.
    classes:
        The class table the labels are mapped to.
    window:
        The model's window side (model-grid pixels): areas are at most this.
    bands:
        Bands the model takes.
    model_resolution_m:
        The model's resolution; images of another resolution are read on a
        resampled grid, as ``glnet segment`` reads them. None: each image's own.
    val_fraction:
        Fraction of the labelled areas held out, in ``[0, 1)``.
    reading:
        Band choice and stretch (``--bands``, ``--input-range``).
    progress:
        Called with ``(images done, images)``.

    Returns
    -------
    AreaSplit

    Raises
    ------
    InputError
        One line: an unreadable image or label file, a mask whose size is not
        its image's, labels in a CRS that cannot be placed on an image (an
        image without a CRS), values not in the class table, no label
        reaching any image.
    """
    images = [Path(p) for p in images]
    if not images:
        raise InputError("--images: give at least one image")
    polygons: Optional[PolygonLabels] = None
    fill = NODATA
    if spec.vector:
        if len(spec.paths) != 1:
            raise InputError(f"--labels: give one polygon layer for all images, got {len(spec.paths)} files")
        polygons = read_label_layer(spec.paths[0], spec.field, classes, spec.layer, what="--labels")
        if not len(polygons):
            raise InputError(f"--labels {spec.paths[0]}: no polygon with a class (the layer is empty, or every {spec.field!r} is NULL)")
        fill = background_class(spec.background, classes)
    else:
        if spec.background is not None:
            raise InputError("--background is for polygon labels; a mask labels every pixel it classes")
        if len(spec.paths) != len(images):
            raise InputError(f"--labels: give one mask per image ({len(images)}), or one polygon layer; got {len(spec.paths)} masks")
    names = _names(images)
    areas: List[SamplePair] = []
    used: List[Path] = []
    skipped: List[Path] = []
    for i, (name, path) in enumerate(zip(names, images)):
        with open_image(path, bands, reading) as raster:
            grid = ModelGrid.for_raster(raster, model_resolution_m, True)
            source: LabelSource
            if polygons is not None:
                source = PolygonLabelSource(polygons.to_crs(raster.crs, f"image {path}"), raster.transform, fill)
            else:
                mask = spec.paths[i]
                mh, mw = raster_size(mask)
                if (mh, mw) != (raster.height, raster.width):
                    raise InputError(f"mask {mask} is {mw} x {mh} px but image {path} is {raster.width} x {raster.height} px")
                source = MaskLabels(mask)
        found = [SamplePair(f"{name}@{t[0]},{t[1]}", path, source, region=t, grid=grid)
                 for t in validation_tiles(grid.size, window) if source.labelled(t, classes, grid)]
        (used if found else skipped).append(path)
        areas.extend(found)
        if progress is not None:
            progress(i + 1, len(images))
    if not areas:
        where = f"{spec.paths[0]}" if spec.vector else "the masks"
        raise InputError(
            f"--labels {where}: no label reaches any of the {len(images)} image(s); check that the polygons lie on the images "
            "(both layers in QGIS) and their CRS"
            if spec.vector else f"--labels: {where} hold no pixel of a class of table {classes.name!r}; check --classes"
        )
    train, val = split_validation(areas, val_fraction)
    held: Dict[Path, Tuple[Box, ...]] = {}
    for a in val:
        held[a.image] = held.get(a.image, ()) + (a.region,)  # type: ignore[operator]
    train = [dataclasses.replace(a, masked=held.get(a.image, ())) for a in train]
    return AreaSplit(train, val, used, skipped, len(areas))
