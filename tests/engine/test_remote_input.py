"""Rasters read over HTTP: ``glnet segment /vsicurl/http://...`` and plain ``http://`` URLs.

A real HTTP server with byte ranges (benchmarks/range_server.py) on
127.0.0.1, started and stopped by each test; GDAL reads through ``/vsicurl/``
as it would from a web server or an object store, and the outputs must be
the bytes a local read of the same file gives.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from glnet.benchmarks.range_server import serve
from glnet.glnet_core.samples.demo import DEMO_BUNDLE

WINDOWS = ["--window", "256", "--margin", "25"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("demo") / "demo-lite.glnet"
    shutil.copytree(DEMO_BUNDLE, dest)
    return dest


@pytest.fixture
def served(tmp_path):
    """A tiled, compressed GeoTIFF in ``tmp_path/www``, served over HTTP for the test."""
    www = tmp_path / "www"
    www.mkdir()
    rng = np.random.default_rng(3)
    yy, xx = np.mgrid[0:500, 0:540].astype(np.float32)
    image = np.stack([np.sin(xx / (9 + k)) * np.cos(yy / 13) * 90 + 128 + rng.normal(0, 4, xx.shape) for k in range(3)])
    with rasterio.open(www / "scene.tif", "w", driver="GTiff", width=540, height=500, count=3, dtype="uint8",
                       crs="EPSG:32633", transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000), tiled=True,
                       blockxsize=256, blockysize=256, compress="deflate") as ds:
        ds.write(np.clip(image, 0, 255).astype(np.uint8))
    with serve(www) as server:
        yield www / "scene.tif", server


def _digests(folder: Path):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_segment_reads_vsicurl_and_urls_as_it_reads_the_file(run_glnet, bundle, served, tmp_path):
    local, server = served
    results = {}
    for name, source in (("local", str(local)), ("vsicurl", f"/vsicurl/{server.url}/scene.tif"),
                         ("url", f"{server.url}/scene.tif")):
        out = tmp_path / name
        out.mkdir()
        r = run_glnet("segment", source, "--model", str(bundle), "--out-mask", str(out / "mask.tif"),
                      "--out-confidence", str(out / "conf.tif"), *WINDOWS, "--quiet")
        assert r.returncode == 0, r.stderr
        assert r.stderr == ""
        results[name] = _digests(out)
    assert results["vsicurl"] == results["local"] == results["url"], "the same bytes, whichever way it was read"
    assert server.requests > 0, "the remote runs read over HTTP"


def test_a_missing_remote_raster_is_one_line_and_leaves_nothing(run_glnet, bundle, served, tmp_path):
    _, server = served
    out = tmp_path / "out"
    out.mkdir()
    r = run_glnet("segment", f"/vsicurl/{server.url}/nothere.tif", "--model", str(bundle),
                  "--out-mask", str(out / "mask.tif"))
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("glnet: error: ") and "/vsicurl/http://127.0.0.1:" in lines[0], r.stderr
    assert "404" in lines[0]
    assert list(out.iterdir()) == []


_FINGERPRINTS = """
import json, sys
from glnet.glnet_core.engine.bundle import load_bundle
from glnet.glnet_core.engine.options import EngineOptions, InputOptions
from glnet.glnet_core.engine.resume import fingerprint
from glnet.glnet_core.formats.raster_input import open_raster
b = load_bundle(sys.argv[1])
prints = []
for path in sys.argv[2:]:
    raster = open_raster(path, b.bands)
    try:
        prints.append(fingerprint(path, raster, b, EngineOptions(), InputOptions(), None, 4))
    finally:
        raster.close()
print(json.dumps(prints))
"""


def test_the_resume_fingerprint_of_a_remote_raster_is_its_url_and_pixels(bundle, served):
    # In a process of its own: an open in this process hung (it appears to
    # hold the GIL, and this process's server thread must answer it).
    local, server = served
    url = f"/vsicurl/{server.url}/scene.tif"
    r = subprocess.run([sys.executable, "-c", _FINGERPRINTS, str(bundle), url, url, str(local)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    remote, again, here = json.loads(r.stdout)
    assert remote == again, "the same remote raster gives the same fingerprint (a resumed run matches)"
    assert remote["input"] == url, "the URL as given: its // kept"
    assert remote["input_size"] is None and remote["input_mtime_ns"] is None
    assert here["input"] == str(local.resolve()) and here["input_size"] == local.stat().st_size
    assert remote["input_sample"] != here["input_sample"], "the local file also samples its bytes"
