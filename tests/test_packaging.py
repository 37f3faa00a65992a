"""The built wheel carries the data files the code reads at run time."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_contains_runtime_data(tmp_path):
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-w", str(tmp_path), "-q"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = tmp_path.glob("glnet-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ["glnet/metadata.txt", "glnet/glnet_core/manifest.schema.json", "glnet/glnet_core/segment.py",
                   "glnet/models/glnet.py", "glnet/export/onnx_export.py", "glnet/glnet_plugin/__init__.py"]:
        assert needed in names, needed
    assert not any(n.startswith(("glnet/tests/", "glnet/benchmarks/", "tests/")) for n in names)
