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
    for needed in ["glnet/metadata.txt", "glnet/glnet_core/engine/manifest.schema.json", "glnet/glnet_core/engine/segment.py",
                   "glnet/glnet_core/samples/data/demo-lite.glnet/manifest.json", "glnet/glnet_core/samples/data/sample-scene.tif",
                   "glnet/models/glnet.py", "glnet/export/onnx_export.py", "glnet/glnet_plugin/__init__.py",
                   "glnet/glnet_plugin/algorithms/segment.py", "glnet/glnet_plugin/icon.svg", "glnet/i18n/glnet_de.qm"]:
        assert needed in names, needed
    assert not any(n.startswith(("glnet/tests/", "glnet/benchmarks/", "tests/")) for n in names)


def test_every_subpackage_is_listed():
    """pyproject.toml lists packages explicitly; a forgotten sub-package would be missing from installs."""
    import re

    # tomllib is Python 3.11+; the one list is simple enough to read directly.
    line = re.search(r"^packages = \[(.*?)\]$", (ROOT / "pyproject.toml").read_text(), re.M | re.S).group(1)
    listed = set(re.findall(r'"([^"]+)"', line))
    found = {"glnet"}
    for init in ROOT.rglob("__init__.py"):
        rel = init.parent.relative_to(ROOT)
        if rel.parts and rel.parts[0] not in ("tests", "benchmarks", "build", ".venv") and not rel.parts[0].startswith("."):
            found.add(".".join(("glnet",) + rel.parts))
    assert found == listed
