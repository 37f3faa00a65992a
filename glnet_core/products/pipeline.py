"""The segmentation pipeline: segment a raster, then sieve and polygonize the complete mask.

:func:`run_pipeline` is what ``glnet segment``, ``glnet demo`` and the QGIS
plugin's segment algorithm run. It calls the engine
(:func:`glnet_core.engine.segment.segment`) and, when asked
(:class:`PolygonOptions`), adds two steps on the complete mask before it is
committed (an engine :class:`~glnet_core.engine.segment.FinishStep`):

1. the minimum mapping unit (:func:`glnet_core.products.sieve.sieve_mask`,
   in place), so that the mask written and the polygons agree;
2. the polygons (:func:`glnet_core.products.vectorize.vectorize`), with the
   mean confidence per polygon when a confidence raster is written.

Mask, confidence and polygons appear together or not at all: a failure or a
cancel in either step removes every output. Every output is checked before
any work, with the raster and the bundle (:meth:`OutputOptions.check`,
:mod:`glnet_core.formats.output_plan`), and the rasters' targets once more
just before the polygons are committed, so that a target that appeared
meanwhile stops the run before anything is committed. The frozen
:class:`PipelineResult` holds what the engine and vectorize computed (class
table, providers, timings, polygon counts and areas), so that no caller
re-reads an output to learn it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from ..callbacks import Callbacks
from ..engine.bundle import Bundle
from ..engine.options import EngineOptions, InputOptions, OutputOptions
from ..engine.segment import CompleteOutputs, FinishStep, SegmentResult, segment
from ..formats.class_mask import ClassStyle, table_styles
from ..formats.output_plan import OutputTarget, check_outputs
from ..formats.vector_layers import check_layer_name, driver_for, vector_target
from ..messages import MINIMUM_MAPPING_UNIT, POLYGONS_WRITTEN, WARNING
from .polygon_rules import checked_polygon_values
from .sieve import sieve_mask
from .vectorize import VectorizeResult, vectorize

__all__ = ["PolygonOptions", "PipelineResult", "run_pipeline"]

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True, init=False)
class PolygonOptions:
    """What happens to the complete mask: minimum mapping unit and polygons.

    Attributes
    ----------
    vector:
        Polygon layer to write (GeoPackage, GeoJSON, FlatGeobuf or
        Shapefile), or None for none.
    min_area_m2:
        Minimum mapping unit in square metres, applied to the mask (and so
        to the polygons); 0: off.
    simplify:
        Douglas-Peucker tolerance in metres for the polygons' shared
        boundaries; 0: exact pixel edges.
    vector_format:
        GDAL driver name; None: from the extension.
    vector_layer:
        Layer name (GeoPackage); None: the file name. In an existing
        GeoPackage (with overwrite) only this layer is replaced.

    Raises
    ------
    InputError
        For a negative or non-finite area or tolerance
        (:func:`.polygon_rules.checked_polygon_values`), a format that
        cannot be told, or a GeoPackage layer name that is reserved
        (:func:`glnet_core.formats.vector_layers.check_layer_name`).
    """

    vector: Optional[Path]
    min_area_m2: float
    simplify: float
    vector_format: Optional[str]
    vector_layer: Optional[str]

    def __init__(self, vector: Optional[PathLike] = None, min_area_m2: float = 0.0, simplify: float = 0.0,
                 vector_format: Optional[str] = None, vector_layer: Optional[str] = None):
        min_area_m2, simplify = checked_polygon_values(min_area_m2, simplify)
        path = Path(vector) if vector else None
        if path is not None:
            # An unknown format or a reserved layer name fails before any work.
            if driver_for(path, vector_format, option="--out-vector", format_option="--vector-format") == "GPKG":
                check_layer_name(vector_layer or path.stem, from_file=not vector_layer)
        object.__setattr__(self, "vector", path)
        object.__setattr__(self, "min_area_m2", float(min_area_m2))
        object.__setattr__(self, "simplify", float(simplify))
        object.__setattr__(self, "vector_format", vector_format)
        object.__setattr__(self, "vector_layer", vector_layer)

    @property
    def targets(self) -> List[OutputTarget]:
        """The polygon file (with a Shapefile's sidecars) as an output target of ``--out-vector``."""
        if self.vector is None:
            return []
        return [vector_target(self.vector, "--out-vector", driver_for(self.vector, self.vector_format, option="--out-vector",
                                                                 format_option="--vector-format"))]

    @property
    def needed(self) -> bool:
        """Whether there is anything to do after segmentation."""
        return self.vector is not None or self.min_area_m2 > 0

    def settings(self) -> List[Any]:
        """What a resumed run must share with the interrupted one (JSON)."""
        return [None if self.vector is None else str(self.vector.resolve()), self.min_area_m2, self.simplify]


@dataclass(frozen=True)
class PipelineResult:
    """What :func:`run_pipeline` wrote and computed.

    Attributes
    ----------
    segment:
        The engine's result (outputs, class table, providers, timings).
    vector:
        The polygons' result (path, layer, counts and areas per class), or
        None when no polygons were asked for.
    sieve_px:
        Sieve size in pixels of the minimum mapping unit (1: none applied).
    """

    segment: SegmentResult
    vector: Optional[VectorizeResult]
    sieve_px: int

    @property
    def vectorize_s(self) -> float:
        """Seconds spent sieving and polygonizing (the engine's ``finish_s``)."""
        return self.segment.timings.finish_s

    @property
    def styles(self) -> List[ClassStyle]:
        """``(class id, label, (r, g, b))`` of the mask's classes, as the mask's palette shows them."""
        return table_styles(self.segment.classes)

    @property
    def profile(self) -> Dict[str, Any]:
        """The figures ``glnet segment --profile`` writes: the engine's, and ``vectorize_s``."""
        return dict(self.segment.profile, vectorize_s=round(self.vectorize_s, 3))


def run_pipeline(
    input_path: PathLike,
    bundle: Union[PathLike, Bundle],
    output: Union[OutputOptions, PathLike],
    engine: Optional[EngineOptions] = None,
    input_options: Optional[InputOptions] = None,
    polygons: Optional[PolygonOptions] = None,
    callbacks: Optional[Callbacks] = None,
) -> PipelineResult:
    """Segment ``input_path``, then apply the minimum mapping unit and write polygons.

    Parameters
    ----------
    input_path, bundle, output, engine, input_options, callbacks:
        As :func:`glnet_core.engine.segment.segment`.
    polygons:
        Minimum mapping unit and polygon output (:class:`PolygonOptions`);
        None: the mask (and confidence) only.

    Returns
    -------
    PipelineResult

    Raises
    ------
    GlnetError
        Any bad input or output (one line); nothing is written.
    Cancelled
        When cancelled; every output removed.
    """
    out = output if isinstance(output, OutputOptions) else OutputOptions(output)
    post = polygons or PolygonOptions()
    cb = callbacks or Callbacks()
    done: Dict[str, Any] = {"sieve_px": 1, "vector": None}

    def finish(masks: CompleteOutputs, run_cb: Callbacks) -> None:
        if post.min_area_m2 > 0:
            _, done["sieve_px"] = sieve_mask(masks.mask, min_area_m2=post.min_area_m2)
            run_cb.message(MINIMUM_MAPPING_UNIT(area=post.min_area_m2, pixels=done["sieve_px"]))
        if post.vector is not None:
            # All or none: the rasters must still be committable before the polygons are committed.
            check_outputs(out.targets, overwrite=out.overwrite)
            res = vectorize(masks.mask, post.vector, classes=masks.classes, simplify=post.simplify,
                            driver=post.vector_format, layer=post.vector_layer, overwrite=out.overwrite,
                            confidence_path=masks.confidence, callbacks=run_cb.without_progress(),
                            option="--out-vector")
            for w in res.warnings:
                run_cb.message(WARNING(warning=w))
            run_cb.message(POLYGONS_WRITTEN(count=res.count, path=post.vector))
            done["vector"] = res

    step = FinishStep(finish, post.settings(), post.targets) if post.needed else None
    result = segment(input_path, bundle, out, engine, input_options, cb, step)
    return PipelineResult(result, done["vector"], int(done["sieve_px"]))
