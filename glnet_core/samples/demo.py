"""The demo: the shipped GLNet bundle on the shipped sample scene (``glnet demo``, ``make demo``).

:func:`run_demo` segments the sample scene with the pipeline
(:func:`glnet_core.products.pipeline.run_pipeline`: class mask and polygons),
takes the class areas from the polygons it wrote, draws a
PNG preview (the scene, the scene with the mask overlaid, and a legend with
the class colours, names and shares) and writes the figures to
``summary.json``. :func:`format_summary` and :func:`qgis_instructions` give
the text the command prints.

The demo files live in the repository under ``glnet_core/samples/data/`` (see
``glnet_core/samples/data/README.md`` for their provenance): the bundle
``demo-lite.glnet`` (the ``lite`` configuration trained on synthetic scenes
from ``glnet synth``, fp16 weights) and ``sample-scene.tif`` (a held-out
synthetic scene, JPEG-compressed GeoTIFF). The model knows synthetic scenes
only; real imagery needs the published DeepGlobe checkpoints or own training.

Outputs (in the output folder): ``landcover.tif`` (+ ``.aux.xml`` with the
class names), ``landcover.gpkg``, ``preview.png``, ``summary.json``. They
are written into the output folder's hidden part folder beside it and moved
into place only when all of them are complete
(:func:`~glnet.glnet_core.formats.outputs.atomic_entries`), so an error or
Ctrl-C leaves no partial output (and no output folder the run would have
created); other files in the output folder are kept.

Pillow (the ``train`` and ``test`` extras) draws the preview; it is imported
only here, inside :func:`render_preview`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from ..engine.modes import DEFAULT_MODE
from ..errors import InputError
from ..formats.classes import NODATA, ClassTable
from ..formats.output_entries import atomic_entries
from ..formats.output_plan import InputSource, OutputTarget, check_not_inputs

if TYPE_CHECKING:
    from ..callbacks import Callbacks
    from ..products.vectorize import VectorizeResult

__all__ = [
    "DEMO_DIR",
    "DEMO_BUNDLE",
    "DEMO_SCENE",
    "OUTPUT_FILES",
    "ClassArea",
    "DemoResult",
    "run_demo",
    "class_areas",
    "render_preview",
    "format_summary",
    "qgis_instructions",
]

#: Where the demo files ship: ``glnet_core/samples/data/`` of the repository (the package root).
DEMO_DIR = Path(__file__).resolve().parent / "data"
DEMO_BUNDLE = DEMO_DIR / "demo-lite.glnet"
DEMO_SCENE = DEMO_DIR / "sample-scene.tif"

MASK_NAME = "landcover.tif"
VECTOR_NAME = "landcover.gpkg"
PREVIEW_NAME = "preview.png"
SUMMARY_NAME = "summary.json"
#: Layer name of the polygons in the GeoPackage.
LAYER_NAME = "landcover"
#: The files a run writes (the mask's ``.aux.xml`` with the class names comes with it).
OUTPUT_FILES = (MASK_NAME, VECTOR_NAME, PREVIEW_NAME, SUMMARY_NAME)

#: Opacity of the class colours over the scene in the preview.
OVERLAY_ALPHA = 0.45
#: Longest side of each of the two image panels of the preview, pixels.
PREVIEW_SIDE = 640

PathLike = Union[str, "os.PathLike[str]"]


@dataclass
class ClassArea:
    """Ground area of one class in the result (from the polygons' ``area_m2``)."""

    id: int
    name: str
    colour: Tuple[int, int, int]
    area_m2: float
    share: float  # of the segmented (valid) area, 0..1
    polygons: int


@dataclass
class DemoResult:
    """What :func:`run_demo` wrote and measured.

    Attributes
    ----------
    out_dir, mask, vector, preview, summary:
        The output folder and the files in it.
    scene, bundle:
        The inputs used.
    model:
        ``"<config> (<precision>, mode <mode>)"``.
    raster_size:
        ``(width, height)`` of the scene in pixels.
    crs:
        The scene's CRS as text (e.g. ``EPSG:32633``), or None.
    windows, patches:
        GLNet windows and local patches computed.
    seconds:
        Wall time of the segmentation (mask and polygons).
    network_seconds:
        Time inside onnxruntime.
    peak_rss_mb:
        Peak resident memory of the process (``VmHWM``) after the run.
    polygons:
        Polygons written.
    areas:
        One entry per class found, largest first.
    """

    out_dir: Path
    mask: Path
    vector: Path
    preview: Path
    summary: Path
    scene: Path
    bundle: Path
    model: str
    raster_size: Tuple[int, int]
    crs: Optional[str]
    windows: int
    patches: int
    seconds: float
    network_seconds: float
    peak_rss_mb: float
    polygons: int
    areas: List[ClassArea] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        d = asdict(self)
        for key in ("out_dir", "mask", "vector", "preview", "summary", "scene", "bundle"):
            d[key] = str(d[key])
        return d


def _check_inputs(bundle: Path, scene: Path) -> None:
    hint = ("the demo files ship in the repository (glnet_core/samples/data/): run `make demo` in a clone, "
            "or pass --model BUNDLE and --scene RASTER")
    if not bundle.exists():
        raise InputError(f"demo model bundle {bundle} is missing; {hint}")
    if not scene.is_file():
        raise InputError(f"demo scene {scene} is missing; {hint}")


def class_areas(vector: "VectorizeResult", classes: ClassTable) -> Tuple[int, List[ClassArea]]:
    """Polygon count and per-class areas of the polygons :func:`glnet_core.products.vectorize.vectorize` wrote.

    Parameters
    ----------
    vector:
        Its result (polygons and summed ``area_m2`` per class).
    classes:
        Names and colours.

    Returns
    -------
    (count, areas):
        ``areas`` has one entry per class with at least one polygon, largest
        area first; shares are of the summed area of all polygons.
    """
    count = int(vector.count)
    if count == 0:
        return 0, []
    total = float(sum(vector.areas_m2.values()))
    areas: List[ClassArea] = []
    for cid, n in sorted(vector.counts.items()):
        info = classes.classes[int(cid)]
        area = float(vector.areas_m2.get(cid, 0.0))
        areas.append(ClassArea(int(cid), info.name, (int(info.colour[0]), int(info.colour[1]), int(info.colour[2])), area,
                               area / total if total > 0 else 0.0, int(n)))
    areas.sort(key=lambda a: (-a.area_m2, a.id))
    return count, areas


def _preview_arrays(scene: Path, mask: Path, bands: int, side: int) -> Tuple[np.ndarray, np.ndarray]:
    """The scene (8-bit RGB, as the model saw it) and the mask, both shrunk to at most ``side`` px."""
    import rasterio
    from rasterio.enums import Resampling

    from ..formats.raster_input import open_raster

    raster = open_raster(scene, bands)
    try:
        h, w = raster.height, raster.width
        f = min(1.0, side / max(h, w))
        shape = (max(1, int(round(h * f))), max(1, int(round(w * f))))
        image, valid = raster.read(0, 0, h, w, out_shape=shape)
    finally:
        raster.close()
    if image.shape[2] == 1:
        image = np.repeat(image, 3, axis=2)
    image = np.ascontiguousarray(image[..., :3])
    image[~valid] = 0
    with rasterio.open(mask) as ds:
        labels = ds.read(1, out_shape=shape, resampling=Resampling.nearest)
    return image, labels


def render_preview(scene: PathLike, mask: PathLike, classes: ClassTable, areas: Sequence[ClassArea], out_png: PathLike,
                   title: str, bands: int = 3, side: int = PREVIEW_SIDE) -> Path:
    """Draw the preview PNG: the scene, the scene with the class colours overlaid, and a legend.

    Parameters
    ----------
    scene:
        The segmented raster.
    mask:
        Its class mask (uint8 class ids, 255 nodata).
    classes:
        Colours and names.
    areas:
        Per-class areas for the legend's shares (classes not listed show
        "not found").
    out_png:
        The PNG to write.
    title:
        A line drawn above the panels.
    bands:
        Bands the model takes (the first three are drawn).
    side:
        Longest side of each image panel.

    Raises
    ------
    InputError
        If Pillow is not installed.
    """
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError:
        raise InputError("the demo preview needs Pillow: pip install pillow (or make install)") from None

    image, labels = _preview_arrays(Path(scene), Path(mask), bands, side)
    palette = np.zeros((256, 3), np.float32)
    for c in classes.classes:
        palette[c.id] = c.colour
    found = labels != NODATA
    overlay = image.astype(np.float32)
    overlay[found] = (1.0 - OVERLAY_ALPHA) * overlay[found] + OVERLAY_ALPHA * palette[labels[found]]
    overlay = np.clip(np.rint(overlay), 0, 255).astype(np.uint8)

    def font(size: int):
        try:
            return ImageFont.load_default(size=size)  # Pillow >= 10.1: a scalable font
        except TypeError:
            return ImageFont.load_default()

    title_font, text_font = font(18), font(15)
    h, w = image.shape[:2]
    pad, legend_w, head = 12, 300, 40
    canvas = Image.new("RGB", (pad * 4 + 2 * w + legend_w, head + pad + max(h + 24, 60 + 28 * len(classes))), (245, 245, 245))
    draw = ImageDraw.Draw(canvas)
    draw.text((pad, pad), title, fill=(20, 20, 20), font=title_font)
    draw.text((pad, head - 4 + h + 4), "scene", fill=(60, 60, 60), font=text_font)
    draw.text((2 * pad + w, head - 4 + h + 4), "classes overlaid", fill=(60, 60, 60), font=text_font)
    canvas.paste(Image.fromarray(image), (pad, head))
    canvas.paste(Image.fromarray(overlay), (2 * pad + w, head))
    x0 = 3 * pad + 2 * w
    draw.text((x0, head), "classes (share of area)", fill=(20, 20, 20), font=text_font)
    by_id = {a.id: a for a in areas}
    y = head + 30
    for c in classes.classes:
        a = by_id.get(c.id)
        if c.ignore and a is None:
            continue  # e.g. DeepGlobe's "unknown": listed only when predicted
        # A grey outline keeps white (barren_land) and black swatches visible.
        draw.rectangle((x0, y, x0 + 22, y + 18), fill=tuple(c.colour), outline=(90, 90, 90))
        share = f"{a.share * 100:.1f} %" if a is not None else "not found"
        draw.text((x0 + 32, y + 1), f"{c.name}: {share}", fill=(20, 20, 20), font=text_font)
        y += 28
    out_png = Path(out_png)
    canvas.save(out_png, format="PNG", optimize=True)
    return out_png


def _crs_text(crs) -> Optional[str]:
    if crs is None:
        return None
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()


def run_demo(
    out_dir: PathLike = "demo-output",
    bundle: Optional[PathLike] = None,
    scene: Optional[PathLike] = None,
    overwrite: bool = False,
    mode: str = DEFAULT_MODE,
    threads: Optional[int] = None,
    callbacks: Optional["Callbacks"] = None,
) -> DemoResult:
    """Segment the demo scene with the demo bundle; write mask, polygons, preview and summary.

    Parameters
    ----------
    out_dir:
        Output folder; created if missing (its parent must exist).
    bundle, scene:
        Default: the shipped :data:`DEMO_BUNDLE` and :data:`DEMO_SCENE`.
    overwrite:
        Replace the demo outputs of an earlier run in ``out_dir``.
    mode:
        GLNet inference mode, ``full`` or ``g2l``.
    threads:
        onnxruntime threads (None: all cores).
    callbacks:
        :class:`glnet_core.callbacks.Callbacks` (progress, log, cancellation).

    Returns
    -------
    DemoResult

    Raises
    ------
    GlnetError
        Missing demo files, an output that exists without ``overwrite``, a
        bad bundle or scene: one line, and nothing written.
    """
    from ..engine.bundle import load_bundle
    from ..engine.options import EngineOptions, OutputOptions
    from ..formats.class_mask import sidecar_path
    from ..formats.layer_style import qml_sidecar_path
    from ..products.pipeline import PolygonOptions, run_pipeline

    bundle_path = Path(bundle) if bundle is not None else DEMO_BUNDLE
    scene_path = Path(scene) if scene is not None else DEMO_SCENE
    out_dir = Path(out_dir)
    engine = EngineOptions(mode=mode, threads=threads)  # a bad option fails before any file is read
    _check_inputs(bundle_path, scene_path)
    # The mask's category names and its QGIS style.
    names = OUTPUT_FILES + (sidecar_path(MASK_NAME).name, qml_sidecar_path(MASK_NAME).name)
    # No demo output may replace the bundle or the scene (or lie inside the bundle), even with overwrite.
    check_not_inputs([OutputTarget(out_dir / n, "--out", kind="entry") for n in names],
                     [InputSource(bundle_path, "the model bundle (--model)"), InputSource(scene_path, "the scene (--scene)")])
    b = load_bundle(bundle_path)  # checks manifest and checksums before any output exists
    with atomic_entries(out_dir, names, overwrite=overwrite, hint="pass --overwrite to replace the demo outputs") as staging:
        t0 = time.perf_counter()
        res = run_pipeline(scene_path, b, OutputOptions(staging / MASK_NAME), engine,
                           polygons=PolygonOptions(staging / VECTOR_NAME, vector_layer=LAYER_NAME), callbacks=callbacks)
        seconds = time.perf_counter() - t0
        seg = res.segment
        assert res.vector is not None  # polygons were asked for
        count, areas = class_areas(res.vector, seg.classes)
        size, crs = seg.raster_size, _crs_text(seg.crs)
        model = f"{b.name} ({b.precision}, mode {mode})"
        render_preview(scene_path, seg.mask, seg.classes, areas, staging / PREVIEW_NAME,
                       f"glnet demo: GLNet {model}, {scene_path.name} (synthetic scene)", bands=b.bands)
        final = out_dir
        result = DemoResult(
            out_dir=final, mask=final / MASK_NAME, vector=final / VECTOR_NAME, preview=final / PREVIEW_NAME,
            summary=final / SUMMARY_NAME, scene=scene_path, bundle=bundle_path, model=model, raster_size=size,
            crs=crs, windows=seg.windows, patches=seg.patches, seconds=round(seconds, 2),
            network_seconds=seg.timings.network_s, peak_rss_mb=seg.peak_rss_mb,
            polygons=count, areas=areas,
        )
        (staging / SUMMARY_NAME).write_text(json.dumps(result.to_dict(), indent=2) + "\n", encoding="utf-8")
    return result


def _shown(path: Path) -> str:
    """``path`` relative to the working folder when it lies below it (shorter to read), else as is."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _area_text(m2: float) -> str:
    return f"{m2 / 10_000:,.2f} ha" if m2 >= 10_000 else f"{m2:,.0f} m2"


def format_summary(r: DemoResult) -> str:
    """The short summary ``glnet demo`` prints (windows, time, peak memory, polygons, area per class)."""
    lines = [
        f"glnet demo: GLNet {r.model} on {_shown(r.scene)} ({r.raster_size[0]} x {r.raster_size[1]} px"
        + (f", {r.crs})" if r.crs else ")"),
        f"  windows:      {r.windows} ({r.patches} local patches)",
        f"  time:         {r.seconds:.1f} s (network {r.network_seconds:.1f} s)",
        f"  peak memory:  {r.peak_rss_mb:.0f} MB",
        f"  polygons:     {r.polygons:,}",
        "  area per class:",
    ]
    width = max((len(a.name) for a in r.areas), default=0)
    for a in r.areas:
        lines.append(f"    {a.name:<{width}}  {_area_text(a.area_m2):>12}  {a.share * 100:5.1f} %  ({a.polygons:,} polygon{'' if a.polygons == 1 else 's'})")
    return "\n".join(lines)


def qgis_instructions(r: DemoResult) -> str:
    """Where the outputs are and how to open them in QGIS."""
    d = Path(_shown(r.out_dir))
    return "\n".join([
        f"outputs in {d}/:",
        f"  {MASK_NAME:<16} class mask (GeoTIFF; class colours and names embedded)",
        f"  {VECTOR_NAME:<16} polygons with class_id, class_name, class_label, area_m2 (GeoPackage; QGIS style embedded)",
        f"  {PREVIEW_NAME:<16} the scene, the scene with the classes overlaid, and the legend",
        f"  {SUMMARY_NAME:<16} these figures",
        "open in QGIS: drag "
        f"{_shown(r.scene)}, then {d / MASK_NAME} and {d / VECTOR_NAME} into the map (or Layer > Add Layer); "
        "mask and polygons open styled with the class colours and names.",
        "note: the demo model knows synthetic scenes only; for real imagery use the published DeepGlobe "
        "checkpoints or train your own (README: 'The demo, and real results').",
    ])
