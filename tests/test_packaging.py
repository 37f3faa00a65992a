"""The built wheel: it carries the data files the code reads at run time, and ``glnet demo`` runs from it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """``glnet-*.whl`` built from the checkout (no dependencies, no build isolation: nothing is downloaded)."""
    out = tmp_path_factory.mktemp("wheel")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-w", str(out), "-q"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    (built,) = out.glob("glnet-*.whl")
    return built


def test_wheel_contains_runtime_data(wheel):
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


def test_demo_runs_from_the_installed_wheel(wheel, tmp_path):
    """``glnet demo`` works from a wheel installed in a fresh virtual environment, outside the checkout.

    No network, on purpose: CI must never download (it would make the suite
    slow, flaky and dependent on what an index serves that day), so the wheel
    is installed with ``--no-index --no-deps``, and its dependencies (numpy,
    rasterio, onnxruntime...) are made visible by a ``.pth`` file holding the
    path of this ``.venv``'s site-packages. The ``.pth`` line comes after the
    new environment's own site-packages on ``sys.path``, and the checkout's
    editable-install hook is not run from there (a ``.pth`` file in a folder
    added by a ``.pth`` line is not processed), so ``glnet`` must resolve to the
    installed copy: the test checks that, then that the demo finds its model
    and scene as package data and writes its outputs.
    """
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    # pip of this .venv installs into the new environment (pip >= 22.3: --python); offline.
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-index", "--no-deps", "-q", str(wheel)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True, timeout=120).stdout.strip()
    (Path(site) / "glnet-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")

    cwd = tmp_path / "elsewhere"  # not the checkout: nothing may be found relative to the working directory
    cwd.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSAFEPATH")}
    env["PATH"] = str(venv / "bin") + os.pathsep + env.get("PATH", "")
    where = subprocess.run([str(python), "-c", "import json, glnet, glnet.glnet_core.samples.demo as d; "
                            "print(json.dumps([glnet.__file__, d.__file__]))"],
                           capture_output=True, text=True, cwd=cwd, env=env, timeout=120)
    assert where.returncode == 0, where.stderr[-2000:]
    for path in json.loads(where.stdout):
        assert Path(path).resolve().is_relative_to(tmp_path.resolve()), path  # the installed copy, not the checkout

    out = tmp_path / "demo-out"
    proc = subprocess.run([str(venv / "bin" / "glnet"), "demo", "--quiet", "--out", str(out)],
                          capture_output=True, text=True, cwd=cwd, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for name in ("landcover.tif", "landcover.tif.aux.xml", "landcover.gpkg", "preview.png", "summary.json"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["polygons"] > 0 and summary["windows"] >= 1
    assert "polygons:" in proc.stdout and str(ROOT) not in proc.stdout
