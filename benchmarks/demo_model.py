"""The demo model and its evidence: GLNet against single-branch baselines on synthetic scenes.

Pipeline (each step skips what an earlier run of the same work folder
finished, so an interrupted run continues where it stopped)::

    data      glnet synth: training, validation and held-out test scenes (disjoint seeds)
    labels    (global-only-polygons only) glnet vectorize of every training mask,
              concatenated into one polygon layer
    train     glnet train, the models with the same budget (below), timed
    export    glnet export of the GLNet checkpoint (fp16, modes full and g2l)
    predict   GLNet: glnet segment on the exported bundle (modes full and g2l);
              baselines: PyTorch, window by window on the scene grid (below)
    evaluate  glnet evaluate of every test scene; confusion matrices pooled
    table     results.json and results.md in the work folder
    ship      (--ship DIR) the demo bundle (fp16, manifest provenance incl. the
              held-out scores) and a sample scene with its provenance file

The three models (all the ``lite`` configuration, same seed, data, batch
size, learning rate and number of optimiser steps):

``GLNet``
    ``glnet train --stage all``: E1 epochs global, E2 g2l, E3 l2g.
``global-only``
    ``glnet train --stage global`` for E1 + E2 + E3 epochs: the global branch
    alone on 1024 px windows downsampled to 256 px (it sees the context but
    not the detail).
``local-only``
    ``glnet train --stage global --window 256`` for E1 + E2 + E3 epochs: the
    same branch on full-resolution 256 px crops, window = size_g = size_p, so
    it sees the detail but no context.

``global-only-polygons`` (only when ``--models`` names it)
    the global-only model and recipe trained through the polygon path:
    ``glnet train --images`` (the training scenes' images) ``--labels`` one
    GeoPackage of the training masks' polygons (``glnet vectorize`` of each
    mask, concatenated: each scene has its own footprint) ``--label-field
    class_name``. Each 2048 px scene is cut into areas of at most one window
    (4 for ``lite``), each area gives one window per epoch and
    ``--polygon-val-fraction`` of the areas is held out instead of the
    validation scenes; ``--polygon-epochs`` is chosen so that the optimiser
    steps match the other models' (the recorded steps come from the areas
    the run reports).

So every model makes the same number of optimiser steps on batches of the same
number of training images (for GLNet split over its stages). GLNet's steps in
stages 2 and 3 also run the local branch over every patch of the window, so
they cost more time; the times are measured and reported.

Baselines predict with their own window (1024 / 256 px), tiled over the
scene exactly as ``glnet segment`` tiles (:func:`glnet_core.windows.raster_windows`,
default margins, only cores written); their logits (1/4 of the input) are
upsampled bilinearly before the argmax, as ``glnet segment`` upsamples GLNet's
patch logits by default. Masks are written on each scene's grid
(:class:`glnet_core.mask_writer.MaskWriter`) and scored with ``glnet evaluate``
like GLNet's.

Usage (the run in docs/demo.md)::

    nice python benchmarks/demo_model.py --work /tmp/glnet-demo --ship glnet_core/samples/data

Options set the data sizes and the budget; ``--help`` lists them.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

from glnet.glnet_core.engine.modes import FULL, G2L, MODE_NAMES

REPO = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent

#: The models :func:`train_args` knows; the first three are the default comparison.
MODELS = ("glnet", "global-only", "local-only", "global-only-polygons")
DEFAULT_MODELS = MODELS[:3]
#: The model trained through ``glnet train --images ... --labels POLYGONS``.
POLYGONS = "global-only-polygons"
#: Predictions scored: (label, model, mode). GLNet is scored in both inference
#: modes (``glnet segment``), and, as a diagnostic, its own stage-1 global
#: branch alone (mode ``globalbranch``: predicted like the global-only model).
RUNS = (("GLNet (full)", "glnet", FULL), ("GLNet (g2l)", "glnet", G2L),
        ("GLNet's global branch alone", "glnet", "globalbranch"),
        ("global-only", "global-only", None), ("local-only", "local-only", None),
        ("global-only, trained through the polygon path", POLYGONS, None))
SEGMENT_MODES = MODE_NAMES


def log(text: str) -> None:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%H:%M:%S")
    print(f"[{stamp}] {text}", flush=True)


def glnet_cmd() -> List[str]:
    """The ``glnet`` console script of this interpreter's environment (as users run it)."""
    script = Path(sys.executable).parent / "glnet"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "glnet.glnet_core"]


def children_cpu_seconds() -> float:
    """User + system CPU seconds of this process's finished children (all their threads)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(args: Sequence[str], log_file: Optional[Path] = None) -> float:
    """Run a command at niceness 10, its output appended to ``log_file``; returns wall seconds.

    Raises
    ------
    SystemExit
        If the command fails (its log names the reason).
    """
    # Niceness 10 in all (not 10 more than a niced caller's: 19 starves on a shared machine).
    cmd = ["nice", "-n", str(max(0, 10 - os.nice(0))), *args]
    t0 = time.monotonic()
    if log_file is None:
        proc = subprocess.run(cmd)
    else:
        with open(log_file, "a", encoding="utf-8") as f:
            f.write("$ " + shlex.join(args) + "\n")
            f.flush()
            proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {shlex.join(args)}" + (f"; see {log_file}" if log_file else ""))
    return time.monotonic() - t0


def git_commit() -> Optional[str]:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def uncommitted_files() -> List[str]:
    """Files of the code base (not the work data) that differ from the commit: provenance must say so."""
    try:
        out = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "glnet_core", "models", "export",
                              "benchmarks/demo_model.py"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return []
    return sorted(line[3:] for line in out.stdout.splitlines() if not line[3:].startswith("glnet_core/samples/data"))


def shown(argv: Sequence[str], work: Path) -> str:
    """A command as text, with the work folder written as ``$WORK`` and the console script as ``glnet``."""
    parts = ["glnet" if a == glnet_cmd()[0] else a for a in argv]
    return shlex.join(parts).replace(str(work), "$WORK")


# ===================================================================== steps
def synth_args(folder: Path, n: int, size: int, seed: int) -> List[str]:
    return [*glnet_cmd(), "synth", "--out", str(folder), "--n", str(n), "--size", str(size), "--seed", str(seed), "--quiet"]


def step_data(work: Path, opts: argparse.Namespace, record: Dict[str, Any]) -> None:
    sets = {"train": (opts.train_scenes, opts.seed_train), "val": (opts.val_scenes, opts.seed_val),
            "test": (opts.test_scenes, opts.seed_test)}
    record["data"] = {}
    for name, (n, seed) in sets.items():
        folder = work / "data" / name
        argv = synth_args(folder, n, opts.size, seed)
        if not (folder / "scenes.json").is_file():
            log(f"data: {name}, {n} scenes of {opts.size} px, seed {seed}")
            run(argv, work / "logs" / "data.log")
        meta = json.loads((folder / "scenes.json").read_text(encoding="utf-8"))
        record["data"][name] = {"scenes": n, "size": opts.size, "seed": seed, "command": shown(argv, work),
                                "generator_version": meta.get("generator_version")}


def polygon_layer(work: Path) -> Path:
    """The one polygon layer of all training masks (written by :func:`step_labels`)."""
    return work / "labels" / "train-polygons.gpkg"


def step_labels(work: Path, opts: argparse.Namespace, record: Dict[str, Any]) -> None:
    """The training masks as one polygon layer, as a user would make it: ``glnet vectorize`` each, then concatenate.

    Every training scene has its own footprint (``glnet synth`` places them
    side by side), so one layer labels them all. The concatenated layer keeps
    ``class_id`` and ``class_name`` (the ``--label-field``).
    """
    import geopandas as gpd
    import pandas as pd

    layer = polygon_layer(work)
    parts = work / "labels" / "scenes"
    masks = sorted((work / "data" / "train" / "masks").glob("*.tif"))
    argv_of = {m: [*glnet_cmd(), "vectorize", str(m), "--out", str(parts / (m.stem + ".gpkg")), "--overwrite"] for m in masks}
    if not layer.is_file():
        parts.mkdir(parents=True, exist_ok=True)
        log(f"labels: glnet vectorize of {len(masks)} training masks, one layer")
        t0 = time.monotonic()
        for argv in argv_of.values():
            run(argv, work / "logs" / "labels.log")
        frames = [gpd.read_file(parts / (m.stem + ".gpkg"), layer=m.stem)[["class_id", "class_name", "geometry"]] for m in masks]
        assert len({str(f.crs) for f in frames}) == 1, "training masks in different CRSs"
        merged = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=frames[0].crs)
        # Written under a temporary name first: an existing layer is always a complete one.
        partial = layer.with_suffix(".partial.gpkg")
        merged.to_file(partial, layer="train_polygons", driver="GPKG")
        partial.replace(layer)
        log(f"labels: {len(merged)} polygons in {layer} ({time.monotonic() - t0:.1f} s)")
    merged = gpd.read_file(layer)
    record["labels"] = {
        "layer": shown([str(layer)], work),
        "commands": [shown(argv_of[masks[0]], work).replace(masks[0].stem, "NAME"), "then geopandas: concatenate the layers"],
        "masks": len(masks),
        "polygons": len(merged),
        "polygons_per_class": {str(k): int(v) for k, v in merged["class_name"].value_counts().sort_index().items()},
    }


def train_args(work: Path, model: str, opts: argparse.Namespace) -> List[str]:
    e = opts.epochs
    recipe = ["--classes", "deepglobe", "--config", "lite", "--lr", str(opts.lr), "--batch-size", str(opts.batch_size),
              "--seed", str(opts.seed), "--device", "cpu"]
    common = ["--data", str(work / "data" / "train"), "--val", str(work / "data" / "val"), *recipe]
    out = ["--out", str(work / "models" / f"{model}.ckpt")]
    if model == POLYGONS:
        images = [str(p) for p in sorted((work / "data" / "train" / "images").glob("*.tif"))]
        return [*glnet_cmd(), "train", "--images", *images, "--labels", str(polygon_layer(work)), "--label-field", "class_name",
                "--val-fraction", str(opts.polygon_val_fraction), *recipe, "--stage", "global",
                "--epochs", str(opts.polygon_epochs), "--workers", "0", *out]
    if model == "glnet":
        return [*glnet_cmd(), "train", *common, "--stage", "all", "--epochs", ",".join(map(str, e)), *out]
    single = ["--stage", "global", "--epochs", str(sum(e))]
    if model == "local-only":
        single += ["--window", "256"]
    return [*glnet_cmd(), "train", *common, *single, *out]


def _checkpoint_state(path: Path) -> str:
    """``missing``, ``partial`` (an interrupted run: resume it) or ``done``."""
    if not path.is_file():
        return "missing"
    import torch

    data = torch.load(path, map_location="cpu", weights_only=True)
    return "partial" if data.get("train_state") else "done"


def _add_time(path: Path, model: str, seconds: float, resumed: bool) -> Dict[str, float]:
    """Record a training time in ``path`` (re-read first: another run may have added its own)."""
    times: Dict[str, float] = json.loads(path.read_text()) if path.is_file() else {}
    # A resumed run adds its time to the interrupted one's.
    times[model] = times.get(model, 0.0) + seconds if resumed else seconds
    path.write_text(json.dumps(times, indent=1))
    return times


def step_train(work: Path, opts: argparse.Namespace, record: Dict[str, Any]) -> None:
    times_file = work / "models" / "train_times.json"
    cpu_file = work / "models" / "train_cpu_seconds.json"
    scene_steps_per_epoch = math.ceil(opts.train_scenes / opts.batch_size)
    budget = sum(opts.epochs) * scene_steps_per_epoch
    record["training"] = {}
    for model in opts.models:
        ckpt = work / "models" / f"{model}.ckpt"
        argv = train_args(work, model, opts)
        state = _checkpoint_state(ckpt)
        if state != "done":
            log(f"train: {model} ({'resuming' if state == 'partial' else 'from scratch'})")
            resume = [*glnet_cmd(), "train", "--resume", "--out", str(ckpt)]
            cpu0 = children_cpu_seconds()
            seconds = run(resume if state == "partial" else argv, work / "logs" / f"train-{model}.log")
            _add_time(times_file, model, seconds, state == "partial")
            _add_time(cpu_file, model, children_cpu_seconds() - cpu0, state == "partial")
        times = json.loads(times_file.read_text()) if times_file.is_file() else {}
        cpu = json.loads(cpu_file.read_text()) if cpu_file.is_file() else {}
        import torch

        prov = torch.load(ckpt, map_location="cpu", weights_only=True)["provenance"]
        epochs = prov["epochs"]
        # The polygon path steps over its training areas (as the run reported them), the others over the scenes.
        steps_per_epoch = math.ceil(prov["train_areas"] / opts.batch_size) if model == POLYGONS else scene_steps_per_epoch
        steps = sum(epochs.values()) * steps_per_epoch
        if steps != budget:
            log(f"train: {model} made {steps} optimiser steps, not the budget's {budget}: adjust --polygon-epochs / --polygon-val-fraction")
        record["training"][model] = {
            "command": shown(argv, work),
            "epochs": epochs,
            "optimiser_steps": steps,
            "seconds": round(times.get(model, float("nan")), 1),
            # Wall time depends on the other jobs of a shared machine; CPU time much less.
            "cpu_seconds": round(cpu[model], 1) if model in cpu else None,
            "final_val_miou": prov.get("final_val_miou"),
        }
        if model == POLYGONS:
            record["training"][model].update(train_areas=prov["train_areas"], val_areas=prov["val_areas"])


def step_export(work: Path, opts: argparse.Namespace, record: Dict[str, Any]) -> Path:
    bundle = work / "models" / "glnet-fp16.glnet"
    argv = [*glnet_cmd(), "export", str(work / "models" / "glnet.ckpt"), "--out", str(bundle), "--precision", "fp16"]
    if not (bundle / "manifest.json").is_file():
        log("export: GLNet, fp16")
        run(argv, work / "logs" / "export.log")
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    record["export"] = {"command": shown(argv, work), "verification": manifest.get("verification"),
                        "bytes": sum(p.stat().st_size for p in bundle.iterdir())}
    return bundle


def predict_single_branch(ckpt_path: Path, scene: Path, out_mask: Path) -> None:
    """Class mask of ``scene`` from a checkpoint's global branch alone, on the scene's grid.

    The scene is streamed through the engine's window loop
    (:func:`glnet_core.engine.window_loop.run_windows`: the windows ``glnet
    segment`` cuts, default margin, on the scene's own grid); each window goes
    through the stage-1 branch exactly as in training
    (:func:`glnet_core.engine.preprocess.prepare_window`), its logits are
    upsampled bilinearly to the window and the argmax of the window's core is
    written.
    """
    import torch
    import torch.nn.functional as F

    from glnet.glnet_core.engine.preprocess import prepare_window
    from glnet.models.checkpoint import load_checkpoint

    ckpt = load_checkpoint(ckpt_path)
    model, cfg = ckpt.model.eval(), ckpt.config

    def classify(w, image, valid):
        prep = prepare_window(image, cfg.size_g, cfg.size_p, ckpt.normalisation)
        with torch.no_grad():
            logits = model.forward_global(torch.from_numpy(prep.image_g)[None]).logits
            up = F.interpolate(logits.float(), size=tuple(prep.window.shape[1:]), mode="bilinear", align_corners=False)
        h, wd = prep.valid
        core = w.core_in_window
        classes = up[0, :, :h, :wd].argmax(0).to(torch.uint8).numpy()[core].copy()
        classes[~valid[core]] = 255
        return [classes]

    write_window_classes(scene, cfg.in_channels, cfg.window, ckpt.classes, classify, out_mask)


def write_window_classes(raster_path: Path, bands: int, window: int, classes: Any, classify: Any, out_mask: Path) -> None:
    """Stream ``raster_path`` through the engine's window loop and write the class mask ``classify`` gives.

    The baselines' one way to turn a per-window classifier into a mask on the
    raster's grid: the windows ``glnet segment`` cuts (``window`` px, default
    margin), read by :func:`glnet_core.engine.window_loop.run_windows`;
    ``classify(w, image, valid)`` returns ``[core classes]`` (uint8, 255 for
    nodata) and they go to a :class:`~glnet_core.formats.class_mask_writer.MaskWriter`
    with ``classes``' colours, replacing ``out_mask``.
    """
    from glnet.glnet_core.engine.grid import ModelGrid
    from glnet.glnet_core.engine.window_loop import run_windows
    from glnet.glnet_core.engine.windows import raster_windows
    from glnet.glnet_core.formats.class_mask_writer import MaskWriter
    from glnet.glnet_core.formats.raster_input import open_raster

    raster = open_raster(raster_path, bands)
    try:
        writer = MaskWriter(out_mask, width=raster.width, height=raster.height, crs=raster.crs,
                            transform=raster.transform, classes=classes, kind="classes", overwrite=True)
        try:
            grid = ModelGrid((raster.height, raster.width))
            run_windows(raster, grid, raster_windows(raster.height, raster.width, window), classify, [writer])
            writer.close()
            writer.commit()
        except BaseException:
            writer.abort()
            raise
    finally:
        raster.close()


def test_scenes(work: Path) -> List[Path]:
    return sorted((work / "data" / "test" / "images").glob("*.tif"))


def step_predict(work: Path, bundle: Optional[Path], opts: argparse.Namespace, record: Dict[str, Any]) -> None:
    import torch

    torch.set_num_threads(os.cpu_count() or 1)
    times: Dict[str, float] = {}
    for label, model, mode in RUNS:
        if model not in opts.models:
            continue
        folder = work / "pred" / (f"{model}-{mode}" if mode else model)
        folder.mkdir(parents=True, exist_ok=True)
        t = 0.0
        for scene in test_scenes(work):
            out = folder / scene.name
            if out.is_file():
                continue
            t0 = time.monotonic()
            if mode in SEGMENT_MODES:
                assert bundle is not None, "GLNet modes need the exported bundle"
                run([*glnet_cmd(), "segment", str(scene), "--model", str(bundle), "--out-mask", str(out), "--mode", mode,
                     "--quiet"], work / "logs" / "predict.log")
            else:
                predict_single_branch(work / "models" / f"{model}.ckpt", scene, out)
            t += time.monotonic() - t0
        times[label] = round(t, 1)
        log(f"predict: {label} done ({t:.1f} s)")
    record["predict_seconds_this_run"] = times


def step_evaluate(work: Path, opts: argparse.Namespace, record: Dict[str, Any]) -> Dict[str, Any]:
    from glnet.glnet_core.formats.classes import load_class_table
    from glnet.glnet_core.products.metrics import metrics_from_confusion

    table = load_class_table("deepglobe")
    results: Dict[str, Any] = {}
    for label, model, mode in RUNS:
        if model not in opts.models:
            continue
        name = f"{model}-{mode}" if mode else model
        folder = work / "eval" / name
        folder.mkdir(parents=True, exist_ok=True)
        pooled = None
        per_scene = {}
        for scene in test_scenes(work):
            js = folder / (scene.stem + ".json")
            ref = work / "data" / "test" / "masks" / scene.name
            if not js.is_file():
                run([*glnet_cmd(), "evaluate", str(work / "pred" / name / scene.name), str(ref), "--classes", "deepglobe",
                     "--json", str(js), "--quiet"], work / "logs" / "evaluate.log")
            data = json.loads(js.read_text(encoding="utf-8"))
            cm = np.asarray(data["confusion_matrix"], dtype=np.int64)
            pooled = cm if pooled is None else pooled + cm
            per_scene[scene.stem] = data["miou"]
        assert pooled is not None, "no test scenes"
        metrics = metrics_from_confusion(pooled, table.names, table.ignored_ids)
        results[label] = {
            "miou": metrics["miou"],
            "overall_accuracy": metrics["overall_accuracy"],
            "iou": {c["name"]: c["iou"] for c in metrics["per_class"] if not c["ignored"]},
            "per_scene_miou": per_scene,
            "confusion_matrix": pooled.tolist(),
        }
    # Pooling is glnet evaluate's own rule applied to the summed matrices; on a
    # single scene it must give glnet evaluate's figure exactly.
    first = test_scenes(work)[0].stem
    for label in results:
        name = next(f"{m}-{md}" if md else m for lb, m, md in RUNS if lb == label)
        single = json.loads((work / "eval" / name / f"{first}.json").read_text(encoding="utf-8"))
        again = metrics_from_confusion(np.asarray(single["confusion_matrix"]), table.names, table.ignored_ids)["miou"]
        assert abs(again - single["miou"]) < 1e-12, (label, again, single["miou"])
    lookalike_scores(work, opts, results)
    record["results"] = results
    return results


def lookalike_scores(work: Path, opts: argparse.Namespace, results: Dict[str, Any]) -> None:
    """Pixel accuracy inside and outside the look-alike regions of the test scenes, per model.

    ``glnet synth`` draws three pairs of look-alike regions that differ only
    in their surroundings (lake / dark forest, construction site / bare
    patch, grass parcel / rangeland). It does not write their map, but a
    scene is a pure function of (seed, index, size), so the map is drawn
    again here. Pixels whose reference is nodata or an ignored class
    (unknown: opaque cloud) are left out, as in the scores.
    """
    import rasterio

    from glnet.glnet_core.formats.classes import load_class_table
    from glnet.glnet_core.samples.landscape import generate_scene

    ignored = set(load_class_table("deepglobe").ignored_ids) | {255}
    counts = {label: np.zeros(4, np.int64) for label in results}  # inside correct, inside, outside correct, outside
    for scene in test_scenes(work):
        index = int(scene.stem.rsplit("_", 1)[1])
        lookalike = generate_scene(opts.seed_test, index, opts.size).lookalike > 0
        with rasterio.open(work / "data" / "test" / "masks" / scene.name) as ds:
            ref = ds.read(1)
        counted = ~np.isin(ref, list(ignored))
        for label, model, mode in RUNS:
            if label not in results:
                continue
            with rasterio.open(work / "pred" / (f"{model}-{mode}" if mode else model) / scene.name) as ds:
                pred = ds.read(1)
            right = (pred == ref) & counted & (pred != 255)
            inside, outside = counted & lookalike & (pred != 255), counted & ~lookalike & (pred != 255)
            counts[label] += [int((right & inside).sum()), int(inside.sum()), int((right & outside).sum()), int(outside.sum())]
    for label, c in counts.items():
        results[label]["lookalike_accuracy"] = float(c[0] / c[1]) if c[1] else None
        results[label]["other_accuracy"] = float(c[2] / c[3]) if c[3] else None
        results[label]["lookalike_pixel_share"] = float(c[1] / (c[1] + c[3])) if c[1] + c[3] else None


def markdown_table(record: Dict[str, Any]) -> str:
    results, training = record["results"], record["training"]
    model_of = {label: model for label, model, _ in RUNS}
    classes = [c for c in next(iter(results.values()))["iou"]]
    short = {"urban_land": "urban", "agriculture_land": "agric.", "rangeland": "range", "forest_land": "forest",
             "water": "water", "barren_land": "barren"}
    head = ("| model | mIoU | accuracy | look-alike accuracy | other accuracy | " + " | ".join(short.get(c, c) for c in classes)
            + " | optimiser steps | training time (wall) | training CPU time |")
    rule = "|---|---|---|---|---|" + "---|" * len(classes) + "---|---|---|"
    rows = [head, rule]
    for label, r in results.items():
        t = training[model_of[label]]
        ious = " | ".join("-" if r["iou"][c] is None else f"{r['iou'][c] * 100:.1f}" for c in classes)
        look = "-" if r.get("lookalike_accuracy") is None else f"{r['lookalike_accuracy'] * 100:.1f}"
        other = "-" if r.get("other_accuracy") is None else f"{r['other_accuracy'] * 100:.1f}"
        rows.append(f"| {label} | **{r['miou'] * 100:.1f}** | {r['overall_accuracy'] * 100:.1f} | {look} | {other} | {ious} | "
                    f"{t['optimiser_steps']} | {t['seconds'] / 60:.1f} min | "
                    + ("-" if t.get("cpu_seconds") is None else f"{t['cpu_seconds'] / 60:.1f} min") + " |")
    return "\n".join(rows) + "\n"


def step_table(work: Path, record: Dict[str, Any]) -> None:
    (work / "results.json").write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    md = markdown_table(record)
    (work / "results.md").write_text(md, encoding="utf-8")
    print(md)


def step_ship(work: Path, opts: argparse.Namespace, record: Dict[str, Any]) -> None:
    """Demo bundle (GLNet, fp16, provenance + held-out scores in the manifest) and sample scene into ``opts.ship``."""
    from glnet.glnet_core.engine.bundle_files import sha256_file
    from glnet.models.checkpoint import load_checkpoint, save_checkpoint

    ship = Path(opts.ship)
    ship.mkdir(parents=True, exist_ok=True)
    ckpt = load_checkpoint(work / "models" / "glnet.ckpt")
    data = record["data"]
    prov = dict(ckpt.provenance)
    # The work folder is temporary: describe the data by how to make them again.
    prov["data"] = data["train"]["command"]
    prov["val"] = data["val"]["command"]
    prov["training_data"] = (f"synthetic scenes from glnet synth (generator version {data['train']['generator_version']}): "
                             f"{data['train']['scenes']} training scenes of {data['train']['size']} px, seed "
                             f"{data['train']['seed']}; validation seed {data['val']['seed']}")
    prov["demo"] = {
        "purpose": "glnet demo model: knows synthetic scenes from glnet synth only, not real imagery",
        "glnet_commit": record["commit"],
        "uncommitted_files_at_training": record["uncommitted_files"],
        "synth": data,
        "train_command": record["training"]["glnet"]["command"],
        "pipeline": record["command"],
        "docs": "docs/demo.md",
    }
    prov["metrics"] = {
        "held_out": f"{data['test']['scenes']} glnet synth scenes of {data['test']['size']} px, seed {data['test']['seed']}",
        **{label: {"miou": r["miou"], "overall_accuracy": r["overall_accuracy"]} for label, r in record["results"].items()},
    }
    ckpt.provenance = prov
    tagged = work / "models" / "glnet-demo-lite.ckpt"
    save_checkpoint(ckpt, tagged, overwrite=True)
    bundle = ship / "demo-lite.glnet"
    log(f"ship: exporting {bundle}")
    run([*glnet_cmd(), "export", str(tagged), "--out", str(bundle), "--precision", "fp16", "--overwrite"],
        work / "logs" / "ship.log")

    # The sample scene: a further held-out scene (its own seed), as glnet synth writes it.
    sample_dir = work / "data" / "sample"
    argv = synth_args(sample_dir, 1, opts.sample_size, opts.seed_sample)
    if not (sample_dir / "scenes.json").is_file():
        run(argv, work / "logs" / "data.log")
    image = next((sample_dir / "images").glob("*.tif"))
    scene = ship / "sample-scene.tif"
    shutil.copyfile(image, scene)
    meta = json.loads((sample_dir / "scenes.json").read_text(encoding="utf-8"))
    sample_prov = {
        "file": scene.name,
        "sha256": sha256_file(scene),
        "what": "a synthetic scene from glnet synth, not used in training, validation or the held-out scores",
        "command": shown(argv, work).replace("$WORK/data/sample", "sample") + f"  # then copy sample/images/{image.name}",
        "generator_version": meta.get("generator_version"),
        "glnet_commit": record["commit"],
        "size_px": [opts.sample_size, opts.sample_size],
        "bytes": scene.stat().st_size,
        "model": bundle.name,
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
    }
    (ship / "sample-scene.json").write_text(json.dumps(sample_prov, indent=2) + "\n", encoding="utf-8")
    sizes = {p.name: p.stat().st_size for p in bundle.iterdir()}
    record["ship"] = {"bundle": str(bundle), "bundle_bytes": sum(sizes.values()), "largest_file_bytes": max(sizes.values()),
                      "scene": str(scene), "scene_bytes": scene.stat().st_size}
    log(f"ship: bundle {sum(sizes.values()) / 1e6:.1f} MB, scene {scene.stat().st_size / 1e6:.2f} MB")


# ===================================================================== main
def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, required=True, help="work folder (data, checkpoints, predictions, scores)")
    p.add_argument("--train-scenes", type=int, default=24, help="training scenes (default 24)")
    p.add_argument("--val-scenes", type=int, default=2, help="validation scenes (default 2)")
    p.add_argument("--test-scenes", type=int, default=8, help="held-out test scenes (default 8)")
    p.add_argument("--size", type=int, default=2048, help="scene side in pixels (default 2048)")
    p.add_argument("--epochs", default="30,6,6", help="GLNet epochs global,g2l,l2g; each baseline gets their sum (default 30,6,6)")
    p.add_argument("--batch-size", type=int, default=2, help="training images per optimiser step (default 2)")
    p.add_argument("--lr", type=float, default=1e-3, help="learning rate of every stage and model (default 1e-3)")
    p.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    p.add_argument("--seed-train", type=int, default=1, help="glnet synth seed of the training scenes (default 1)")
    p.add_argument("--seed-val", type=int, default=2, help="glnet synth seed of the validation scenes (default 2)")
    p.add_argument("--seed-test", type=int, default=3, help="glnet synth seed of the held-out test scenes (default 3)")
    p.add_argument("--seed-sample", type=int, default=4, help="glnet synth seed of the shipped sample scene (default 4)")
    p.add_argument("--sample-size", type=int, default=2048, help="side of the shipped sample scene (default 2048)")
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help=f"models to train and score, from {', '.join(MODELS)} (default the first three)")
    p.add_argument("--polygon-epochs", type=int, default=10,
                   help=f"epochs of {POLYGONS} (default 10: 39 steps each for 20 scenes, 4 areas each, 2 held out, batch 2)")
    p.add_argument("--polygon-val-fraction", type=float, default=0.025,
                   help=f"--val-fraction of {POLYGONS}: labelled areas held out (default 0.025)")
    p.add_argument("--ship", help="also write the demo bundle and the sample scene into this folder (e.g. glnet_core/samples/data)")
    opts = p.parse_args(argv)
    opts.epochs = tuple(int(v) for v in opts.epochs.split(","))
    if len(opts.epochs) != 3:
        p.error("--epochs takes three numbers: global,g2l,l2g")
    opts.models = tuple(m for m in opts.models.split(",") if m)
    if any(m not in MODELS for m in opts.models):
        p.error(f"--models: choose from {', '.join(MODELS)}")
    return opts


def main(argv: Optional[Sequence[str]] = None) -> int:
    opts = parse_args(argv)
    work = opts.work.resolve()
    for sub in ("data", "models", "pred", "eval", "logs"):
        (work / sub).mkdir(parents=True, exist_ok=True)
    record: Dict[str, Any] = {
        "command": "python benchmarks/demo_model.py " + shlex.join(sys.argv[1:] if argv is None else list(argv)).replace(str(work), "$WORK"),
        "commit": git_commit(),
        "uncommitted_files": uncommitted_files(),
        "date": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "python": platform.python_version()},
        "budget": {"epochs_glnet": list(opts.epochs), "epochs_baselines": sum(opts.epochs), "batch_size": opts.batch_size,
                   "lr": opts.lr, "steps_per_epoch": math.ceil(opts.train_scenes / opts.batch_size),
                   **({"epochs_polygons": opts.polygon_epochs, "polygon_val_fraction": opts.polygon_val_fraction}
                      if POLYGONS in opts.models else {})},
    }
    t0 = time.monotonic()
    step_data(work, opts, record)
    if POLYGONS in opts.models:
        step_labels(work, opts, record)
    step_train(work, opts, record)
    bundle = step_export(work, opts, record) if "glnet" in opts.models else None
    step_predict(work, bundle, opts, record)
    step_evaluate(work, opts, record)
    record["pipeline_seconds_this_run"] = round(time.monotonic() - t0, 1)
    if opts.ship:
        step_ship(work, opts, record)
    step_table(work, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
