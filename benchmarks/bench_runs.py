"""Child processes of ``benchmarks/bench.py``: bundles and rasters in a cache, and measured runs.

Every measured run is a whole process started here: wall time from the
parent's clock, peak RSS of that child alone from ``os.wait4`` (the kernel's
``ru_maxrss`` of the waited-for process), and for ``glnet segment`` its
``--profile`` (per-stage times, windows, patches). Whatever is slow to make
(checkpoints, exported and quantized bundles, rasters, the tiled baseline's
graph) is made once into the cache folder and reused by later runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import numpy as np

GLNET: List[Any] = [sys.executable, "-m", "glnet.glnet_core"]


class BenchError(RuntimeError):
    """A step of the benchmark failed; the message names the command and its log."""


#: The spawner's program: it starts each measured command and waits for it with ``os.wait4``. It runs
#: in a small process of its own because a child's ``ru_maxrss`` includes the memory of the process it
#: was forked from (the high-water mark survives ``exec``): forked from the runner, which holds numpy,
#: onnxruntime and torch, every child would report the runner's size.
_SPAWNER = r"""
import json, os, subprocess, sys, time
for line in sys.stdin:
    job = json.loads(line)
    with open(job["log"], "a", encoding="utf-8") as f:
        f.write("$ " + " ".join(job["cmd"]) + "\n")
        f.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen(job["cmd"], stdout=f, stderr=subprocess.STDOUT)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - t0 > job["timeout"]:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                timed_out = True
                break
            time.sleep(0.01)
        wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    print(json.dumps({"rc": proc.returncode, "wall_s": wall, "maxrss_kb": usage.ru_maxrss, "timed_out": timed_out}), flush=True)
"""


class Spawner:
    """A small process that starts the measured commands (see :data:`_SPAWNER`); use as a context manager."""

    def __init__(self) -> None:
        self.proc: Optional[subprocess.Popen] = None

    def __enter__(self) -> "Spawner":
        global _ACTIVE
        self.proc = subprocess.Popen([sys.executable, "-S", "-c", _SPAWNER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)
        _ACTIVE = self
        return self

    def __exit__(self, *exc: Any) -> None:
        global _ACTIVE
        _ACTIVE = None
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(timeout=60)

    def run(self, cmd: Sequence[str], log: Path, timeout: float) -> Dict[str, Any]:
        """Run one command through the spawner; its exit status, wall seconds and ``ru_maxrss`` (KiB)."""
        assert self.proc is not None and self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"cmd": [str(c) for c in cmd], "log": str(log), "timeout": timeout}) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise BenchError("the spawner process ended")
        return dict(json.loads(line))


_ACTIVE: Optional[Spawner] = None


def measured(cmd: Sequence[str], log: Path, timeout: float = 7200) -> Dict[str, float]:
    """Run ``cmd`` as a child process; its wall seconds and peak RSS.

    The child is started by the active :class:`Spawner` (started on demand for this one command when
    none is active), so that its peak RSS is its own.

    Parameters
    ----------
    cmd:
        The command line.
    log:
        File the child's stdout and stderr go to (appended).
    timeout:
        Seconds after which the child is killed.

    Returns
    -------
    dict
        ``wall_s`` and ``peak_rss_mb`` (the child's ``ru_maxrss`` from ``os.wait4``).

    Raises
    ------
    BenchError
        If the command fails or runs past ``timeout``.
    """
    if _ACTIVE is None:
        with Spawner() as sp:
            out = sp.run(cmd, log, timeout)
    else:
        out = _ACTIVE.run(cmd, log, timeout)
    shown = " ".join(map(str, cmd))
    if out["timed_out"]:
        raise BenchError(f"timed out after {timeout:.0f} s: {shown} (log {log})")
    if out["rc"] != 0:
        last = log.read_text(encoding="utf-8", errors="replace").strip().splitlines()[-1:]
        raise BenchError(f"exit {out['rc']}: {shown}: {' '.join(last)} (log {log})")
    # ru_maxrss is in KiB on Linux.
    return {"wall_s": round(out["wall_s"], 3), "peak_rss_mb": round(out["maxrss_kb"] / 1024, 1)}


def _quiet(cmd: Sequence[str], log: Path) -> None:
    measured(cmd, log)


class Cache:
    """Checkpoints, bundles, rasters and graphs made once and reused (one folder, outside the repository).

    Parameters
    ----------
    root:
        The cache folder (created).
    log:
        The log file every command appends to.
    """

    def __init__(self, root: Path, log: Path) -> None:
        self.root = root
        self.log = log
        root.mkdir(parents=True, exist_ok=True)

    def checkpoint(self, config: str) -> Path:
        """A ``glnet init-model`` checkpoint (seed 0, DeepGlobe's 7 classes: the published comparison's weights)."""
        out = self.root / f"{config}.ckpt"
        if not out.exists():
            _quiet(GLNET + ["init-model", "--config", config, "--seed", "0", "--out", out], self.log)
        return out

    def bundle(self, config: str, precision: str, calibration: Sequence[Path]) -> Path:
        """The ``config`` bundle in ``precision``: ``glnet export`` (fp32, fp16) or ``glnet quantize`` of fp32 (int8)."""
        out = self.root / f"{config}-{precision}.glnet"
        if (out / "manifest.json").exists():
            return out
        if precision == "int8":
            src = self.bundle(config, "fp32", calibration)
            _quiet(GLNET + ["quantize", src, "--calibration", *calibration, "--out", out, "--windows", "4",
                            "--verify-windows", "1", "--overwrite", "--quiet"], self.log)
        else:
            _quiet(GLNET + ["export", self.checkpoint(config), "--out", out, "--precision", precision,
                            "--verify-windows", "1", "--overwrite", "--quiet"], self.log)
        return out

    def raster(self, side: int, seed: int = 0) -> Path:
        """A structured synthetic RGB GeoTIFF of ``side`` x ``side`` (``segment_benchmark.scene``)."""
        from glnet.benchmarks.segment_benchmark import scene

        out = self.root / f"scene-{side}-s{seed}.tif"
        if not out.exists():
            part = self.root / f".{out.name}.part"
            scene(part, side, side, seed)
            part.rename(out)
        return out

    def tiled_graph(self, config: str) -> Path:
        """The single-branch graph of the tiled baseline (:func:`bench_baselines.export_tiled`)."""
        from glnet.benchmarks.bench_baselines import export_tiled

        out = self.root / f"{config}-tiled.onnx"
        if not out.exists() or not out.with_suffix(".json").exists():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # torch's tracer warnings: expected for this graph
                export_tiled(self.checkpoint(config), out)
        return out


def run_segment(bundle: Path, raster: Path, mode: str, work: Path, log: Path, extra: Sequence[str] = ()) -> Dict[str, Any]:
    """One ``glnet segment`` process; its measurement and ``--profile`` figures.

    Returns
    -------
    dict
        ``wall_s``, ``peak_rss_mb`` (child's), ``profile`` (the ``--profile`` JSON) and ``mask`` (the written file).
    """
    mask = work / f"{bundle.stem}-{raster.stem}-{mode}.tif"
    prof = work / f"{mask.stem}.profile.json"
    m = measured(GLNET + ["segment", raster, "--model", bundle, "--mode", mode, "--out-mask", mask, "--profile", prof,
                          "--overwrite", "--quiet", *extra], log)
    return {**m, "profile": json.loads(prof.read_text(encoding="utf-8")), "mask": mask}


def run_eager(ckpt: Path, raster: Path, mode: str, work: Path, log: Path) -> Dict[str, Any]:
    """Eager PyTorch GLNet on segment's windows (:func:`bench_baselines.run_eager`) in its own process."""
    mask = work / f"eager-{ckpt.stem}-{raster.stem}-{mode}.tif"
    cmd: List[Any] = [sys.executable, "-m", "glnet.benchmarks.bench_baselines", "eager", "--ckpt", ckpt, "--raster", raster,
                      "--mode", mode, "--out-mask", mask]
    m = measured(cmd, log)
    return {**m, "mask": mask}


def run_tiled(graph: Path, raster: Path, work: Path, log: Path) -> Dict[str, Any]:
    """The tiled single-branch baseline (:func:`bench_baselines.run_tiled`) in its own process."""
    mask = work / f"tiled-{graph.stem}-{raster.stem}.tif"
    cmd: List[Any] = [sys.executable, "-m", "glnet.benchmarks.bench_baselines", "tiled", "--onnx", graph, "--raster", raster,
                      "--out-mask", mask]
    m = measured(cmd, log)
    return {**m, "mask": mask}


def run_published(repo: Path, raster: Path, work: Path, log: Path) -> Dict[str, Any]:
    """The published implementation's evaluation on ``raster`` (``segment_benchmark.run_published``: paper, seed 0).

    Its wall time is the child's whole process (import, weights, evaluation); ``eval_s`` is the evaluation
    alone as the child measures it.
    """
    from glnet.benchmarks import segment_benchmark

    classes = work / f"published-{raster.stem}.npy"
    t0 = time.perf_counter()
    try:
        out = segment_benchmark.run_published(repo, raster, classes)
    except subprocess.CalledProcessError as exc:
        with open(log, "a", encoding="utf-8") as f:
            f.write(str(exc.stderr or ""))
        raise BenchError(f"the published implementation failed (log {log})") from exc
    return {"wall_s": round(time.perf_counter() - t0, 3), "eval_s": out["total_s"], "peak_rss_mb": out["peak_rss_mb"],
            "classes": classes}


def published_checkout(path: Path, cache: Path) -> Path:
    """A folder with the published code: ``path`` itself, or an export of ``path`` when it is a bare git repository."""
    if (path / "helper.py").exists():
        return path
    if (path / "HEAD").exists() and (path / "objects").is_dir():
        out = cache / "published-checkout"
        if not out.exists():
            tmp = Path(tempfile.mkdtemp(dir=cache))
            archive = subprocess.run(["git", "--git-dir", str(path), "archive", "HEAD"], capture_output=True, check=True).stdout
            subprocess.run(["tar", "-x", "-C", str(tmp)], input=archive, check=True)
            tmp.rename(out)
        for found in out.rglob("helper.py"):
            return found.parent
    for found in path.glob("*/helper.py"):  # a checkout one folder down
        return found.parent
    raise BenchError(f"--published: no helper.py (the published evaluation code) in {path}")


def agreement(a: Path, b: Path) -> Optional[float]:
    """Share of pixels with the same class in two masks (nodata 255 excluded), or None when the grids differ."""
    import rasterio

    with rasterio.open(a) as da, rasterio.open(b) as db:
        if (da.height, da.width) != (db.height, db.width):
            return None
        same = total = 0
        for _, win in da.block_windows(1):
            x, y = da.read(1, window=win), db.read(1, window=win)
            valid = (x != 255) & (y != 255)
            same += int((x == y)[valid].sum())
            total += int(valid.sum())
    return round(same / total, 6) if total else None


def agreement_array(mask: Path, classes: np.ndarray) -> float:
    """Share of pixels of ``mask`` equal to ``classes`` (same shape)."""
    import rasterio

    with rasterio.open(mask) as m:
        return round(float((m.read(1) == classes).mean()), 6)


def tail(log: Path, n: int = 5) -> List[str]:
    """The last ``n`` lines of a log."""
    return log.read_text(encoding="utf-8", errors="replace").splitlines()[-n:] if log.exists() else []
