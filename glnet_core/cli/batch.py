"""``glnet batch``: many scenes with one model bundle, one mask per scene, failures reported and skipped."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

from ..option_rules import SCENES_AT_ONCE
from .input_options import input_path
from .segment import add_run_arguments, engine_options, input_options

if TYPE_CHECKING:
    from ..callbacks import Callbacks
    from ..formats.scene_list import Scene
    from ..products.batch import BatchOutputs, BatchResult, SceneResult
    from ..progress_bar import BarCallbacks

__all__ = ["HELP", "DESCRIPTION", "add_arguments", "run", "summary_table"]

HELP = "segment many scenes (a glob pattern or a list file) into one mask per scene, with an optional VRT mosaic"

DESCRIPTION = """\
Segment every scene SCENES names with one model bundle, as 'glnet segment'
does, into one folder. SCENES are quoted glob patterns (expanded by glnet,
sorted: 'scenes/*.tif', 'tiles/**/*.tif'), list files (ending in .txt or
.lst: one raster per line, blank lines and # comments skipped, relative
paths relative to the list file, /vsicurl/ paths and URLs as segment takes
them) or rasters; several may be given. Two scenes with the same name (stem)
are refused before any work, as is a pattern that matches nothing.

Outputs are named after each scene: DIR/NAME.tif (the mask), with
--out-confidence DIR/NAME.confidence.tif, with --out-vector DIR/NAME.gpkg
(or the extension of --vector-format). DIR is created when missing.

A scene whose outputs all exist is skipped (outputs appear only when
complete), --overwrite redoes it. A scene whose run was killed is continued
with --resume (else it is reported with what to do). A scene that fails (a
damaged file, the wrong bands...) is reported with one line 'glnet: error:
SCENE: ...' and leaves nothing behind; the others go on. Ctrl-C stops the
whole batch and leaves nothing partial.

At the end a table (scene, windows, time, status) is printed on stderr.
Exit status: 0 when every scene is done or skipped, 1 when any failed, 2 for
bad arguments, 130 when interrupted.

--mosaic MOSAIC.vrt also writes a GDAL VRT over every scene's mask (skipped
ones included, failed ones left out), with nodata 255 and the classes'
colours and names, so that QGIS opens the whole batch as one layer; the
scenes must share one CRS and pixel size and be north-up.

Examples:
  glnet batch 'scenes/*.tif' --model deepglobe.glnet --out-dir masks --mosaic masks/all.vrt
  glnet batch scenes.txt --model deepglobe.glnet --out-dir masks --out-vector --min-area 500
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``glnet batch``."""
    parser.description = DESCRIPTION
    parser.add_argument("scenes", nargs="+", metavar="SCENES",
                        help="quoted glob pattern, list file (.txt, .lst: one raster per line) or raster; several allowed")
    parser.add_argument("--model", required=True, type=input_path, metavar="BUNDLE",
                        help="model bundle (NAME.glnet folder or zip)")
    parser.add_argument("--out-dir", required=True, metavar="DIR",
                        help="folder of the outputs, DIR/NAME.tif per scene (created when missing)")
    parser.add_argument("--out-confidence", action="store_true",
                        help="also write DIR/NAME.confidence.tif, the top class probability, 0-100 (uint8, nodata 255)")
    parser.add_argument("--out-vector", action="store_true",
                        help="also write DIR/NAME.gpkg, the mask as polygons (class_id, class_name, class_label, "
                             "area_m2, confidence), as glnet vectorize does (another format with --vector-format)")
    parser.add_argument("--mosaic", metavar="MOSAIC.vrt",
                        help="also write a GDAL VRT over every scene's mask (one layer in QGIS, the classes' colours)")
    add_run_arguments(parser)
    parser.add_argument("--scenes-at-once", type=SCENES_AT_ONCE, default=1, metavar="N",
                        help="with --dask: run N scenes at the same time, each with its own writer in this process "
                             "(default 1); past one writer's ceiling, and so the cluster never waits for a scene's "
                             "last windows (docs/scaling.md). Progress is then a line per scene")
    parser.add_argument("--resume", action="store_true", help="continue the scenes whose run was killed")
    parser.add_argument("--overwrite", action="store_true",
                        help="redo scenes whose outputs exist (and start killed runs over); replace the mosaic")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, log lines or summary; errors only")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    h, rest = divmod(whole, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60}:{rest % 60:02d}"


def _status(res: "SceneResult") -> str:
    if res.status == "done":
        return "done (resumed)" if res.resumed else "done"
    if res.status == "skipped":
        return "skipped (complete)"
    return f"failed: {res.error}"


def summary_table(result: "BatchResult") -> str:
    """The end-of-batch table: scene, windows, time, status, and a line of totals (no final newline)."""
    rows = [("scene", "windows", "time", "status")]
    for r in result.scenes:
        rows.append((r.scene.name, "-" if r.windows is None else str(r.windows),
                     "-" if r.status == "skipped" else _duration(r.seconds), _status(r)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"{a:<{widths[0]}}  {b:>{widths[1]}}  {c:>{widths[2]}}  {d}" for a, b, c, d in rows]
    n = len(result.scenes)
    lines.append(f"{n} scene{'s' if n != 1 else ''}: {result.count('done')} done, {result.count('skipped')} skipped, "
                 f"{result.count('failed')} failed")
    return "\n".join(lines)


class _SceneReport:
    """The command's hooks: a progress bar per scene ('scene k/N NAME'), a line as each ends, errors always."""

    def __init__(self, quiet: bool, debug: bool, at_once: int = 1) -> None:
        self.quiet, self.debug, self.at_once = quiet, debug, at_once
        self.bar: Optional["BarCallbacks"] = None
        self.n = 0

    def started(self, k: int, n: int, scene: "Scene") -> "Callbacks":
        from ..callbacks import Callbacks
        from ..progress_bar import BarCallbacks

        self.n = n
        if self.at_once > 1:
            # Scenes at once: bars would overwrite each other; a line as each starts and ends.
            if not self.quiet:
                print(f"scene {k}/{n} {scene.name}: started", file=sys.stderr, flush=True)
            return Callbacks()
        self.close()
        self.bar = BarCallbacks(f"scene {k}/{n} {scene.name}", quiet=self.quiet)
        return self.bar.callbacks()

    def finished(self, res: "SceneResult") -> None:
        from .main import PROG

        self.close()
        if res.status == "failed":
            if self.debug and res.exception is not None:
                traceback.print_exception(type(res.exception), res.exception, res.exception.__traceback__)
            print(f"{PROG}: error: {res.scene.path}: {res.error}", file=sys.stderr, flush=True)
        elif not self.quiet:
            where = f"scene {res.index}/{self.n} {res.scene.name}"
            if res.status == "skipped":
                print(f"{where}: skipped, its outputs exist (--overwrite redoes it)", file=sys.stderr, flush=True)
            else:
                seg = res.result.segment if res.result is not None else None
                detail = f"{seg.windows} window(s), {seg.patches} patches, " if seg is not None else ""
                resumed = ", resumed" if res.resumed else ""
                print(f"{where}: wrote {', '.join(str(p) for p in res.outputs)}: {detail}{_duration(res.seconds)}"
                      f"{resumed}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _check_mosaic_before(args: argparse.Namespace, scenes: List["Scene"], outputs: "BatchOutputs") -> Path:
    """The mosaic's path, checked before any work: the file may be written, the scenes fit one grid.

    Scenes that cannot be opened are left to the batch (which reports them); the
    masks are on their scenes' grids, so the scenes' headers tell whether a mosaic can be made.
    """
    from ..errors import GlnetError
    from ..formats.layer_style import qml_sidecar_path
    from ..formats.outputs import check_file_target
    from ..formats.vrt_mosaic import SourceGrid, mosaic_grid, read_grid

    target = Path(args.mosaic)
    # In the folder the batch is about to create, nothing can be in the way yet.
    in_new_folder = os.path.abspath(target.parent) == os.path.abspath(outputs.out_dir) and not outputs.out_dir.exists()
    if not in_new_folder:
        check_file_target(target, overwrite=bool(args.overwrite), option="--mosaic")
        check_file_target(qml_sidecar_path(target), overwrite=bool(args.overwrite), option="--mosaic")
    grids: List[SourceGrid] = []
    for s in scenes:
        try:
            grids.append(read_grid(s.path, "scene"))
        except GlnetError:
            continue
    if grids:
        mosaic_grid(grids, "--mosaic")
    return target


def run(args: argparse.Namespace) -> int:
    """Run ``glnet batch``; returns the exit status (1 when any scene failed)."""
    from ..formats.layer_style import qml_sidecar_path
    from ..formats.output_plan import OutputTarget
    from ..formats.scene_list import expand_scenes
    from ..formats.vrt_mosaic import write_mosaic_vrt
    from ..products.batch import BatchOutputs, SceneHooks, run_batch
    from .main import PROG

    engine = engine_options(args)
    reading = input_options(args)
    scenes = expand_scenes(args.scenes)
    outputs = BatchOutputs(Path(args.out_dir), confidence=bool(args.out_confidence), vector=bool(args.out_vector),
                           vector_format=args.vector_format, vector_layer=args.layer, min_area_m2=args.min_area,
                           simplify=args.simplify, overwrite=bool(args.overwrite), resume=bool(args.resume))
    mosaic = _check_mosaic_before(args, scenes, outputs) if args.mosaic else None
    # The mosaic's style NAME.qml is planned with it: a scene's mask NAME.tif would claim the same file.
    extra = [OutputTarget(mosaic, "--mosaic", sidecars=(qml_sidecar_path(mosaic),))] if mosaic is not None else []
    report = _SceneReport(bool(args.quiet), bool(getattr(args, "debug", False)), args.scenes_at_once)
    try:
        result = run_batch(scenes, args.model, outputs, engine, reading,
                           hooks=SceneHooks(started=report.started, finished=report.finished), extra_targets=extra,
                           scenes_at_once=args.scenes_at_once)
    finally:
        report.close()
    if not args.quiet:
        print(summary_table(result), file=sys.stderr, flush=True)
    status = 1 if result.failed else 0
    if mosaic is not None:
        masks = result.masks
        if not masks:
            print(f"{PROG}: error: --mosaic: no scene has a mask; {mosaic} not written", file=sys.stderr, flush=True)
            return 1
        grid = write_mosaic_vrt(mosaic, masks, result.classes, overwrite=bool(args.overwrite))
        if not args.quiet:
            left = f" ({result.count('failed')} failed scene(s) left out)" if result.failed else ""
            print(f"wrote {mosaic}: {len(masks)} scene(s), {grid.width} x {grid.height} px{left}",
                  file=sys.stderr, flush=True)
    return status
