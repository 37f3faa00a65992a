"""The training steps run where only torch and numpy are: no rasterio, GDAL, Pillow or geopandas.

A lent GPU machine has CUDA torch, numpy and onnxruntime only (its copy of the checkout
cannot carry rasterio's 108 MB), so ``benchmarks/gpu_training_amp.py`` must
drive :func:`glnet.models.training.batch_backward` without them. This test runs
its CPU dry run in a fresh interpreter where importing any of them fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

BLOCKED = ("rasterio", "osgeo", "PIL", "geopandas", "shapely", "pyogrio", "fiona")

_RUN = """
import runpy, sys
class Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ImportError("blocked on purpose: " + name)
        return None
sys.meta_path.insert(0, Blocked())
sys.argv = ["gpu_training_amp.py", "--device", "cpu", "--config", "tiny", "--batch", "2", "--sub-batch", "2", "--steps", "2"]
try:
    runpy.run_path({script!r}, run_name="__main__")
except SystemExit as exc:
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in {blocked!r})
    print("LOADED", loaded, file=sys.stderr)
    raise
"""


def test_gpu_amp_check_runs_without_raster_readers():
    code = _RUN.format(blocked=BLOCKED, script=str(REPO / "benchmarks" / "gpu_training_amp.py"))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "LOADED []" in proc.stderr
    record = json.loads(proc.stdout)
    assert record["ok"] and record["runs"]["fp32"]["finite"] and record["runs"]["amp"]["finite"]
    assert len(record["runs"]["amp"]["losses"]) == 2
