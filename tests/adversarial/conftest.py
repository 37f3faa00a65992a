"""Fixtures of the adversarial tests: a real bundle, real GeoTIFFs, and checks of the contract.

The contract (README, "Bad input"): one ``glnet: error: ...`` line on stderr,
exit status 2 for bad input and 1 for a failure of the machine, no traceback,
no part file left, and no file changed that the user did not ask to replace.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np
import pytest
import rasterio
from affine import Affine

DEMO_BUNDLE = Path(__file__).resolve().parents[2] / "glnet_core" / "samples" / "data" / "demo-lite.glnet"


def snapshot(folder: Path) -> Dict[str, str]:
    """Every file under ``folder`` (relative path, hidden ones included) -> its SHA-256."""
    out: Dict[str, str] = {}
    for root, _dirs, files in os.walk(folder):
        for name in files:
            p = Path(root) / name
            if p.is_file() and not p.is_symlink():
                out[str(p.relative_to(folder))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def assert_refused(proc: subprocess.CompletedProcess, status: int = 2, contains: Optional[str] = None) -> str:
    """Assert the one-line error contract on a finished ``glnet`` process; returns the line."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == status, (proc.returncode, proc.stderr)
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("glnet: error: "), lines[0]
    assert "Traceback" not in proc.stderr
    if contains is not None:
        assert contains.lower() in lines[0].lower(), lines[0]
    return lines[0]


def assert_no_parts(folder: Path) -> None:
    """No hidden part, lock, state or temporary file is left anywhere under ``folder``."""
    left = [str(p) for p in folder.rglob("*") if p.name.endswith((".part", ".tmp", ".lock")) or ".part." in p.name]
    assert not left, left


@pytest.fixture(scope="session")
def demo_bundle(tmp_path_factory) -> Path:
    """A private copy of the shipped demo bundle (tests may not damage the package's own)."""
    dest = tmp_path_factory.mktemp("demo") / "demo-lite.glnet"
    shutil.copytree(DEMO_BUNDLE, dest)
    return dest


@pytest.fixture
def make_raster(tmp_path) -> Callable[..., Path]:
    """Factory of small georeferenced 3-band uint8 GeoTIFFs (UTM 33N, 0.5 m pixels) with structure.

    ``make_raster(name="in.tif", size=96, seed=0)`` returns the path.
    """

    def make(name: str = "in.tif", size: int = 96, seed: int = 0) -> Path:
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        bands = [(np.sin(xx / 11 + k) * np.cos(yy / 7 - k) * 100 + 128 + rng.normal(0, 5, xx.shape)) for k in range(3)]
        data = np.clip(np.stack(bands), 0, 255).astype(np.uint8)
        path = tmp_path / name
        with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8",
                           crs="EPSG:32633", transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000)) as ds:
            ds.write(data)
        return path

    return make
