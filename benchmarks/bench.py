"""``make bench``: glnet's speed, memory and agreement, written to JSON and docs/performance.md.

One run measures, on the same machine, the same weights and the same
rasters:

- ``glnet segment`` (whole processes: wall time, the child's peak RSS, the
  per-stage times of ``--profile``) for the ``tiny`` and ``lite``
  configurations (``paper`` with ``--paper``), in fp32, fp16 (``glnet export
  --precision fp16``) and int8 (``glnet quantize``), on synthetic rasters of
  1, 4 and 16 megapixels (64 with ``--large``), modes ``full`` and ``g2l``
  (the default plan below keeps the run to a few minutes);
- beside it: eager PyTorch (glnet's GLNet, same windows), a plain tiled
  single-branch model with the same backbone (what tile-based QGIS plugins
  do) and, with ``--paper --published PATH``, the published implementation;
- the machine's measured fp32 and int8 peaks, and each run's network
  operations (counted from the graphs) over its network time as a fraction
  of the peak;
- class agreement of fp16 and int8 with fp32, and of the other
  implementations with glnet's fp32.

The default plan: every precision at 1 and 4 MP in ``full`` mode and at 1 MP
in ``g2l``; fp32 and int8 at 16 MP (and 64 MP) in ``full``. Eager PyTorch
runs at 1 MP (``paper``: the 2448 px image), the tiled baseline at every size.

Bundles, checkpoints and rasters are made once into ``--cache`` (default
``/tmp/glnet-bench-cache``), never inside the repository. The first run
exports and quantizes (about two minutes for tiny + lite; the ``paper`` int8
bundle takes about 12 minutes to quantize).

Usage::

    .venv/bin/python benchmarks/bench.py [--quick] [--paper] [--large] [--published DIR]
        [--cache DIR] [--json OUT.json] [--markdown docs/performance.md]
    .venv/bin/python benchmarks/bench.py --from-json benchmarks/results/bench-DATE.json   # tables only
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

from glnet.benchmarks import bench_flops, bench_machine, bench_report, bench_runs
from glnet.benchmarks.bench_runs import BenchError, Cache

REPO = Path(__file__).resolve().parents[1]
DEFAULT_MARKDOWN = REPO / "docs" / "performance.md"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "glnet-bench-cache"
#: The stage times kept per run (``--profile`` has a few more).
STAGES = ("total_s", "network_s", "global_s", "local_s", "aggregation_s", "read_s", "prepare_s", "postprocess_s", "write_s",
          "input_wait_s", "output_wait_s", "overlap_s", "other_s")
#: The ``paper`` image: one DeepGlobe tile, one window.
PAPER_SIDE = 2448
QUICK_SIDE = 512


def side_of(mp: float) -> int:
    """Side of a square raster of ``mp`` megapixels (1 -> 1000, 16 -> 4000, 64 -> 8000)."""
    return int(round((mp * 1e6) ** 0.5))


def plan(args: argparse.Namespace) -> List[Dict[str, Any]]:
    """The ``glnet segment`` runs: model, precision, raster side, mode (see the module text)."""
    runs: List[Dict[str, Any]] = []
    if args.quick:
        for precision, mode in (("fp32", "full"), ("fp32", "g2l"), ("int8", "full")):
            runs.append({"model": "tiny", "precision": precision, "side": QUICK_SIDE, "mode": mode})
        return runs
    sizes = list(args.sizes) + ([64.0] if args.large else [])
    for model in args.models:
        for mp in sizes:
            side = side_of(mp)
            for precision in args.precisions:
                big = mp > 4
                if big and precision not in ("fp32", "int8"):
                    continue
                runs.append({"model": model, "precision": precision, "side": side, "mode": "full"})
                if mp <= 1 and "g2l" in args.modes:
                    runs.append({"model": model, "precision": precision, "side": side, "mode": "g2l"})
    if args.paper:
        for precision in args.precisions:
            runs.append({"model": "paper", "precision": precision, "side": PAPER_SIDE, "mode": "full"})
        runs.append({"model": "paper", "precision": "fp32", "side": PAPER_SIDE, "mode": "g2l"})
        if args.published:
            # The published evaluation upsamples patch logits by nearest neighbour.
            runs.append({"model": "paper", "precision": "fp32", "side": PAPER_SIDE, "mode": "full",
                         "extra": "--upsample nearest"})
    if "full" not in args.modes:
        runs = [r for r in runs if r["mode"] != "full"]
    return runs


def calibration(cache: Cache, model: str) -> List[Path]:
    """Rasters ``glnet quantize`` calibrates on (the last verifies): seeds the measured rasters do not use."""
    window = {"tiny": 512, "lite": 1024, "paper": PAPER_SIDE}[model]
    return [cache.raster(window * (1 if model == "paper" else 2), seed=1), cache.raster(window, seed=2)]


def _glnet_row(spec: Dict[str, Any], res: Dict[str, Any], ops_per_graph: Dict[str, Any]) -> Dict[str, Any]:
    prof = res["profile"]
    grid = prof["model_grid"]
    mp = grid[0] * grid[1] / 1e6
    ops = bench_flops.run_ops(ops_per_graph, prof)
    return {"kind": "glnet", "model": spec["model"], "precision": spec["precision"], "mode": spec["mode"],
            "extra": spec.get("extra"), "raster_mp": round(mp, 2), "side": spec["side"], "wall_s": res["wall_s"],
            "peak_rss_mb": res["peak_rss_mb"], "mp_per_s": round(mp / res["wall_s"], 4),
            "stages": {k: prof.get(k) for k in STAGES}, "windows": prof["windows"], "patches": prof["patches"],
            "providers": prof.get("providers"), "pipeline": prof.get("pipeline"), "chain": prof.get("chain"),
            "gops": round(ops / 1e9, 2), "network_ops": ops if prof["network_s"] > 0 else None, "achieved_fraction": None}


def _other_row(kind: str, model: str, side: int, mode: Optional[str], res: Dict[str, Any]) -> Dict[str, Any]:
    mp = side * side / 1e6
    return {"kind": kind, "model": model, "mode": mode, "raster_mp": round(mp, 2), "side": side, "wall_s": res["wall_s"],
            "peak_rss_mb": res["peak_rss_mb"], "mp_per_s": round(mp / res["wall_s"], 4), **({"eval_s": res["eval_s"]} if "eval_s" in res else {})}


def apply_peaks(report: Dict[str, Any], first: Dict[str, Any], last: Dict[str, Any]) -> None:
    """Set ``report["peaks"]`` from two peak measurements (the better of each) and every run's fraction of it."""
    report["peaks"] = {**first, "fp32_gflops": max(first["fp32_gflops"], last["fp32_gflops"]),
                       "int8_gops": max(first["int8_gops"], last["int8_gops"]),
                       "start": {k: first[k] for k in ("fp32_gflops", "int8_gops")},
                       "end": {k: last[k] for k in ("fp32_gflops", "int8_gops")}}
    for row in report["runs"]:
        if row["kind"] == "glnet" and row.get("network_ops"):
            peak = report["peaks"]["int8_gops" if row["precision"] == "int8" else "fp32_gflops"] * 1e9
            row["achieved_fraction"] = round(row["network_ops"] / row["stages"]["network_s"] / peak, 4)


def log(msg: str) -> None:
    """A progress line on stderr, with the time."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace, argv: Sequence[str]) -> Dict[str, Any]:
    """Measure everything of :func:`plan` and the baselines; the JSON object.

    Raises
    ------
    BenchError
        If a step fails (the message names its log).
    """
    with bench_runs.Spawner():
        return _run(args, argv)


def _run(args: argparse.Namespace, argv: Sequence[str]) -> Dict[str, Any]:
    t_start = time.perf_counter()
    cache = Cache(args.cache, args.cache / "bench.log")
    work = Path(tempfile.mkdtemp(prefix="glnet-bench-"))
    logf = cache.log
    report: Dict[str, Any] = {"schema": "glnet-bench/1", "machine": bench_machine.machine_info(),
                              "load": {"start": round(os.getloadavg()[0], 2)},
                              "options": {"command": "benchmarks/bench.py " + shlex.join(argv), "quick": args.quick,
                                          "paper": args.paper, "large": args.large}}
    log("measuring the fp32 and int8 peaks")
    peak_args = (512, 2) if args.quick else (2048, 5)
    first = bench_machine.measure_peaks(*peak_args)
    specs = plan(args)
    bundles: Dict[str, Dict[str, Any]] = {}
    runs: List[Dict[str, Any]] = []
    masks: Dict[tuple, Path] = {}
    try:
        for spec in specs:
            model, precision = spec["model"], spec["precision"]
            key = f"{model}-{precision}"
            if key not in bundles:
                log(f"bundle {key} (cached after the first run)")
                path = cache.bundle(model, precision, calibration(cache, model))
                manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
                bundles[key] = {"path": path, "ops_per_graph": bench_flops.bundle_ops(path),
                                "bytes": sum(p.stat().st_size for p in path.iterdir()),
                                "verification": manifest.get("verification")}
            raster = cache.raster(spec["side"])
            log(f"glnet segment {key} {spec['side']} px {spec['mode']} {spec.get('extra') or ''}".rstrip())
            extra = shlex.split(spec.get("extra") or "")
            res = bench_runs.run_segment(bundles[key]["path"], raster, spec["mode"], work, logf, extra)
            row = _glnet_row(spec, res, bundles[key]["ops_per_graph"])
            ref = masks.get((model, spec["side"], spec["mode"], "fp32"))
            if precision != "fp32" and ref is not None:
                row["agreement_with_fp32"] = bench_runs.agreement(ref, res["mask"])
            if not extra:
                masks[(model, spec["side"], spec["mode"], precision)] = res["mask"]
            else:
                masks[(model, spec["side"], spec["mode"], "nearest")] = res["mask"]
            runs.append(row)
        runs += baselines(args, cache, work, masks, specs)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # Measured again at the end: on a shared machine one measurement may fall in a busy moment;
    # the better of the two is the peak, both are kept. The achieved fractions use the peak.
    log("measuring the peaks again")
    report["runs"] = runs
    apply_peaks(report, first, bench_machine.measure_peaks(*peak_args))
    report["bundles"] = {k: {"bytes": v["bytes"], "verification": v["verification"],
                             "gops_per_run": {g: round(o["ops"] / 1e9, 3) for g, o in v["ops_per_graph"].items()}}
                         for k, v in bundles.items()}
    report["load"]["end"] = round(os.getloadavg()[0], 2)
    report["duration_s"] = round(time.perf_counter() - t_start, 1)
    return report


def baselines(args: argparse.Namespace, cache: Cache, work: Path, masks: Dict[tuple, Path],
              specs: Sequence[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """Eager PyTorch, the tiled single-branch model and the published implementation, beside glnet's runs."""
    rows: List[Dict[str, Any]] = []
    logf = cache.log
    models = sorted({s["model"] for s in specs}, key=["tiny", "lite", "paper"].index)
    for model in models:
        sides = sorted({s["side"] for s in specs if s["model"] == model})
        eager_side = PAPER_SIDE if model == "paper" else min(sides)
        log(f"eager PyTorch {model} {eager_side} px full")
        res = bench_runs.run_eager(cache.checkpoint(model), cache.raster(eager_side), "full", work, logf)
        row = _other_row("eager", model, eager_side, "full", res)
        ref = masks.get((model, eager_side, "full", "fp32"))
        row["agreement_with_glnet_fp32"] = bench_runs.agreement(ref, res["mask"]) if ref else None
        rows.append(row)
        graph = cache.tiled_graph(model)
        for side in sides:
            log(f"tiled single-branch {model} {side} px")
            res = bench_runs.run_tiled(graph, cache.raster(side), work, logf)
            row = _other_row("tiled", model, side, "full", res)
            ref = masks.get((model, side, "full", "fp32"))
            row["agreement_with_glnet_fp32"] = bench_runs.agreement(ref, res["mask"]) if ref else None
            rows.append(row)
        if model == "paper" and args.published:
            log("published implementation, paper, 2448 px full")
            repo = bench_runs.published_checkout(args.published, cache.root)
            res = bench_runs.run_published(repo, cache.raster(PAPER_SIDE), work, logf)
            row = _other_row("published", model, PAPER_SIDE, "full", res)
            ref = masks.get((model, PAPER_SIDE, "full", "nearest"))
            if ref is not None:
                import numpy as np

                row["agreement_with_glnet_fp32"] = bench_runs.agreement_array(ref, np.load(res["classes"]))
                row["agreement_with"] = "glnet segment fp32 --upsample nearest"
            rows.append(row)
    return rows


def dump(report: Dict[str, Any]) -> str:
    """The JSON text: compact, one run per line (small, and a diff shows which runs changed)."""
    head = {k: v for k, v in report.items() if k != "runs"}
    runs = ",\n  ".join(json.dumps(r, default=str, separators=(",", ":")) for r in report["runs"])
    body = json.dumps(head, default=str, indent=1)
    return body[:-2] + ',\n "runs": [\n  ' + runs + "\n ]\n}\n"


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    """The runner's options (``--help``)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog="See the module text for the plan.")
    ap.add_argument("--quick", action="store_true", help="smoke run: tiny, fp32 and int8, one 512 px raster (the test uses it)")
    ap.add_argument("--paper", action="store_true", help="add the paper model on a 2448 x 2448 image (int8 quantizing: ~12 min, cached)")
    ap.add_argument("--large", action="store_true", help="add a 64 MP raster (fp32 and int8, full mode)")
    ap.add_argument("--published", type=Path, metavar="DIR",
                    help="a local checkout (or bare git repository) of the published GLNet code; with --paper, run it beside glnet")
    ap.add_argument("--models", default="tiny,lite", help="configurations (default tiny,lite)")
    ap.add_argument("--precisions", default="fp32,fp16,int8", help="precisions (default fp32,fp16,int8)")
    ap.add_argument("--sizes", default="1,4,16", help="raster megapixels (default 1,4,16)")
    ap.add_argument("--modes", default="full,g2l", help="modes (default full,g2l; g2l runs at the smallest size)")
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"bundles and rasters kept between runs (default {DEFAULT_CACHE})")
    ap.add_argument("--json", type=Path, help="where the JSON goes (default benchmarks/results/bench-DATE.json; --quick: in --cache)")
    ap.add_argument("--markdown", type=Path, help="the page whose tables are replaced (default docs/performance.md; --quick: a copy in --cache)")
    ap.add_argument("--from-json", type=Path, metavar="JSON", help="measure nothing: write the page's tables from an earlier run's JSON")
    args = ap.parse_args(argv)
    args.models = [m for m in args.models.split(",") if m]
    args.precisions = [p for p in args.precisions.split(",") if p]
    args.sizes = [float(s) for s in args.sizes.split(",") if s]
    args.modes = [m for m in args.modes.split(",") if m]
    bad = [m for m in args.models if m not in ("tiny", "lite", "paper")] + [p for p in args.precisions if p not in ("fp32", "fp16", "int8")]
    if bad:
        ap.error(f"unknown model or precision: {', '.join(bad)}")
    if "paper" in args.models:
        args.models.remove("paper")
        args.paper = True
    if args.published and not args.paper:
        ap.error("--published needs --paper (the published implementation is the paper model)")
    if args.cache.resolve().is_relative_to(REPO):
        ap.error(f"--cache: {args.cache} is inside the repository; give a folder outside it")
    # A smoke run never replaces the committed figures unless told to.
    if args.json is None:
        args.json = args.cache / "bench-quick.json" if args.quick else REPO / "benchmarks" / "results" / f"bench-{time.strftime('%Y-%m-%d')}.json"
    if args.markdown is None:
        args.markdown = args.cache / "performance-quick.md" if args.quick else DEFAULT_MARKDOWN
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the benchmark, write the JSON and the page's tables; 0 on success, 1 when a step failed."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    if args.from_json:
        bench_report.update_markdown(args.markdown, json.loads(args.from_json.read_text(encoding="utf-8")), template=DEFAULT_MARKDOWN)
        log(f"wrote the tables of {args.markdown} from {args.from_json}")
        return 0
    try:
        report = run(args, argv)
    except BenchError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 1
    out = args.json
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dump(report), encoding="utf-8")
    bench_report.update_markdown(args.markdown, report, template=DEFAULT_MARKDOWN)
    log(f"wrote {out} and the tables of {args.markdown} ({report['duration_s'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
