"""The scale of the bookkeeping (issue #13): a sparse raster costs what its valid data cost.

A 60,000 x 60,000 sparse BigTIFF with one valid block took minutes and wrote
1.5 GB because the resume state (JSON growing with the windows) was
rewritten, and the part file flushed, after every one of its 21,609 windows.
These tests check the bookkeeping structurally, never by the clock
(``benchmarks/sparse_raster.py`` measures the time): empty windows are
neither read nor classified nor written, sparse blocks are not even read,
the state is written once per checkpoint and its size does not grow with
the windows, and the bytes written stay near the output's size.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import List

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.windows import Window

from glnet.glnet_core.callbacks import Callbacks
from glnet.glnet_core.engine import resume
from glnet.glnet_core.engine.grid import ModelGrid
from glnet.glnet_core.engine.options import EngineOptions, OutputOptions
from glnet.glnet_core.engine.predictor import WindowPredictor
from glnet.glnet_core.engine.resume import ResumeState
from glnet.glnet_core.engine.segment import segment
from glnet.glnet_core.engine.windows import raster_windows
from glnet.glnet_core.formats.class_mask_writer import MaskWriter
from glnet.glnet_core.formats.raster_input import RasterInput, open_raster
from tests.adversarial.conftest import assert_no_parts

PY = sys.executable
SIZE, BLOCK, AT = 4096, 512, 1536  # the one stored block covers [1536, 2048) in rows and columns
WINDOW, MARGIN = 256, 25


def _sparse_raster(path: Path, size: int = SIZE, sparse: bool = True) -> Path:
    """``size`` px square, 3-band uint8, tiled 512, nodata 0; only the block at (AT, AT) holds data.

    ``sparse=False`` stores every block (zeros elsewhere): the same pixels, a dense file.
    """
    rng = np.random.default_rng(0)
    block = np.clip(rng.normal(128, 40, (3, BLOCK, BLOCK)), 1, 255).astype(np.uint8)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8", nodata=0,
                       crs="EPSG:32633", transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000), tiled=True,
                       blockxsize=BLOCK, blockysize=BLOCK, compress="deflate", bigtiff="YES",
                       sparse_ok=sparse) as ds:
        if not sparse:
            ds.write(np.zeros((3, size, size), np.uint8))
        ds.write(block, window=Window(AT, AT, BLOCK, BLOCK))
    return path


@pytest.fixture(scope="module")
def sparse_tif(tmp_path_factory) -> Path:
    return _sparse_raster(tmp_path_factory.mktemp("sparse") / "sparse.tif")


def _overlaps(a0: int, a1: int, b0: int, b1: int) -> bool:
    return a0 < b1 and b0 < a1


def _expected_counts():
    """Windows whose read reaches the stored block's storage unit, and whose core holds a valid pixel."""
    wins = raster_windows(SIZE, SIZE, WINDOW, MARGIN)
    unit = (AT, AT + BLOCK)
    read = [w for w in wins if _overlaps(w.rows.start, w.rows.stop, *unit) and _overlaps(w.cols.start, w.cols.stop, *unit)]
    core = [w for w in wins if _overlaps(w.core_rows.start, w.core_rows.stop, *unit)
            and _overlaps(w.core_cols.start, w.core_cols.stop, *unit)]
    return len(wins), len(read), len(core)


class _Spy:
    """Counts calls of a method while delegating to it (the real rasterio / onnxruntime work still runs)."""

    def __init__(self, monkeypatch, cls, name: str, record=None):
        self.calls: List[object] = []
        original = getattr(cls, name)
        spy = self

        def wrapper(obj, *args, **kwargs):
            spy.calls.append(record(obj, *args) if record else None)
            return original(obj, *args, **kwargs)

        monkeypatch.setattr(cls, name, wrapper)


def test_empty_windows_are_not_read_classified_or_written(sparse_tif, demo_bundle, tmp_path, monkeypatch):
    reads = _Spy(monkeypatch, ModelGrid, "read")
    predicts = _Spy(monkeypatch, WindowPredictor, "predict")
    writes = _Spy(monkeypatch, MaskWriter, "write")
    out = OutputOptions(tmp_path / "mask.tif", tmp_path / "conf.tif")
    result = segment(sparse_tif, demo_bundle, out, EngineOptions(window=WINDOW, margin=MARGIN))
    n_windows, n_read, n_core = _expected_counts()
    assert result.windows == n_windows == 400
    assert (result.windows_read, result.windows_classified) == (n_read, n_core)
    assert n_read < 30 and n_core <= n_read
    assert len(reads.calls) == n_read, "only windows that reach stored data are read"
    assert len(predicts.calls) == n_core, "only windows with a valid pixel in their core reach the network"
    assert len(writes.calls) == 2 * n_core, "empty windows write nothing (their area is nodata already)"
    mask = rasterio.open(tmp_path / "mask.tif").read(1)
    inside = np.zeros(mask.shape, bool)
    inside[AT : AT + BLOCK, AT : AT + BLOCK] = True
    assert (mask[~inside] == 255).all() and (mask[inside] != 255).all()


def test_sparse_blocks_are_not_read_at_all(sparse_tif, monkeypatch):
    reads = _Spy(monkeypatch, RasterInput, "_read_source", record=lambda obj, window, *a: (window.row_off, window.col_off))
    raster = open_raster(sparse_tif, 3)
    try:
        reads.calls.clear()  # the checks made when it is opened
        answers = {(r, c): raster.any_valid(r, c, BLOCK, BLOCK) for r in range(0, SIZE, BLOCK) for c in range(0, SIZE, BLOCK)}
        assert [k for k, v in answers.items() if v] == [(AT, AT)]
        # The stored block, and one absent block to learn what GDAL fills absent blocks with: 2 of 64.
        assert len(reads.calls) == 2, reads.calls
        # Asking again reads nothing (each unit is checked once), whatever the region.
        assert raster.any_valid(AT - 100, AT - 100, 300, 300) and not raster.any_valid(0, 0, 1000, 1000)
        assert len(reads.calls) == 2
    finally:
        raster.close()


def test_a_dense_copy_gives_the_same_mask(sparse_tif, demo_bundle, tmp_path):
    dense = _sparse_raster(tmp_path / "dense.tif", sparse=False)
    engine = EngineOptions(window=WINDOW, margin=MARGIN)
    a = segment(sparse_tif, demo_bundle, tmp_path / "a.tif", engine)
    b = segment(dense, demo_bundle, tmp_path / "b.tif", engine)
    assert (a.windows_read, a.windows_classified) == (b.windows_read, b.windows_classified)
    assert np.array_equal(rasterio.open(tmp_path / "a.tif").read(1), rasterio.open(tmp_path / "b.tif").read(1))


def test_the_state_is_written_once_per_checkpoint_not_per_window(sparse_tif, demo_bundle, tmp_path, monkeypatch):
    flushes = _Spy(monkeypatch, MaskWriter, "flush", record=lambda obj: obj.dirty)
    monkeypatch.setattr(resume, "CHECKPOINT_SECONDS", 1e9)
    result = segment(sparse_tif, demo_bundle, tmp_path / "m.tif", EngineOptions(window=WINDOW, margin=MARGIN))
    assert result.state_writes == 1, "the state is written when the run starts, then at checkpoints only"
    assert flushes.calls == [], "no flush per window"
    assert result.profile["state_writes"] == 1


def test_state_size_stays_the_same_while_a_run_goes(sparse_tif, demo_bundle, tmp_path, monkeypatch):
    """A checkpoint after every window: each one rewrites a state of constant size and flushes only written parts."""
    flushes = _Spy(monkeypatch, MaskWriter, "flush", record=lambda obj: obj.dirty)
    monkeypatch.setattr(resume, "CHECKPOINT_SECONDS", 0.0)
    mask = tmp_path / "m.tif"
    state = resume.state_path(mask)
    sizes: List[int] = []

    def progress(p):
        if state.is_file():
            sizes.append(state.stat().st_size)

    result = segment(sparse_tif, demo_bundle, mask, EngineOptions(window=WINDOW, margin=MARGIN),
                     callbacks=Callbacks(progress=progress))
    assert result.state_writes == 1 + result.windows
    assert len(sizes) > result.windows and max(sizes) - min(sizes) <= 3, "only the digits of the count change"
    assert sum(flushes.calls) == result.windows_classified, "a flush writes something only after a written window"
    assert_no_parts(tmp_path)


@pytest.mark.parametrize("n_windows", [9, 400, 21_609, 10 ** 7])
def test_state_size_does_not_depend_on_the_window_count(tmp_path, n_windows):
    fp = {"input": "/x/in.tif", "input_sample": "0" * 64, "windows": n_windows}
    state = ResumeState(tmp_path / "m.tif", fp)
    state.save(n_windows)
    size = state.path.stat().st_size
    baseline = ResumeState(tmp_path / "b.tif", dict(fp, windows=9))
    baseline.save(9)
    assert size - baseline.path.stat().st_size <= 2 * (len(str(n_windows)) - 1)
    assert json.loads(state.path.read_text())["done"] == n_windows


def test_a_killed_sparse_run_resumes_to_the_same_file(sparse_tif, demo_bundle, tmp_path):
    ref = tmp_path / "ref.tif"
    segment(sparse_tif, demo_bundle, ref, EngineOptions(window=WINDOW, margin=MARGIN))
    out = tmp_path / "out"
    out.mkdir()
    script = textwrap.dedent(f"""
        import os, signal
        from glnet.glnet_core.engine import resume
        resume.CHECKPOINT_SECONDS = 0
        from glnet.glnet_core.callbacks import Callbacks
        from glnet.glnet_core.engine.options import EngineOptions
        from glnet.glnet_core.engine.segment import segment
        def progress(p):
            if p.windows_done == 170:  # inside the valid block's rows: some of its windows are done
                os.kill(os.getpid(), signal.SIGKILL)
        segment({str(sparse_tif)!r}, {str(demo_bundle)!r}, {str(out / 'mask.tif')!r},
                EngineOptions(window={WINDOW}, margin={MARGIN}), callbacks=Callbacks(progress=progress))
    """)
    r = subprocess.run([PY, "-c", script], capture_output=True, text=True, timeout=300)
    assert r.returncode == -signal.SIGKILL, r.stderr
    state = json.loads(resume.state_path(out / "mask.tif").read_text())
    assert state["done"] == 170 and set(state) >= {"format", "version", "done", "input_sample"}
    r = subprocess.run([PY, "-m", "glnet.glnet_core", "segment", str(sparse_tif), "--model", str(demo_bundle),
                        "--out-mask", str(out / "mask.tif"), "--window", str(WINDOW), "--margin", str(MARGIN), "--resume"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "resuming: 170 of 400 windows" in r.stderr
    assert np.array_equal(rasterio.open(out / "mask.tif").read(1), rasterio.open(ref).read(1))
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_bytes_written_stay_within_three_times_the_output(tmp_path, demo_bundle):
    """``wchar`` of the child (every byte it passed to write()): parts, state and the mask together.

    The part file is written once (tiles a flush caught early are written
    again), then copied into the compact file that is committed
    (class_mask_writer's "Reproducible bytes"): twice the output, plus the
    state. A state rewritten for each of the 400 windows (about 1 KB each)
    would pass three times the output.
    """
    src = _sparse_raster(tmp_path / "big.tif", size=12_288)
    out = tmp_path / "mask.tif"
    code = textwrap.dedent("""
        import json, sys
        from glnet.glnet_core.cli.main import main
        status = main(sys.argv[2:])
        with open("/proc/self/io") as f:
            io = {k: int(v) for k, v in (line.split(":") for line in f)}
        with open(sys.argv[1], "w") as f:
            json.dump(io, f)
        sys.exit(status)
    """)
    io_json = tmp_path / "io.json"
    r = subprocess.run([PY, "-c", code, str(io_json), "segment", str(src), "--model", str(demo_bundle), "--out-mask",
                        str(out), "--window", "512", "--quiet"], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    written = json.loads(io_json.read_text())["wchar"]
    size = out.stat().st_size + (tmp_path / "mask.tif.aux.xml").stat().st_size
    assert size > 100_000  # 576 tiles of nodata, compressed
    assert written <= 3 * size, (written, size)
