"""The pipelined engine (issue #14): the same files as the sequential one, and the same contract when it fails.

Everything real: the shipped demo bundle through onnxruntime, GeoTIFFs
through rasterio, ``glnet segment`` in child processes for kills, file-size
limits and the one-line errors. ``--window 256 --margin 25`` cuts a small
raster into many windows, so that reading, the network and writing overlap.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import rasterio
from affine import Affine

from glnet.glnet_core.callbacks import Callbacks
from glnet.glnet_core.engine.options import EngineOptions, OutputOptions
from glnet.glnet_core.engine.segment import segment
from glnet.glnet_core.errors import Cancelled
from glnet.glnet_core.formats.gdal_env import captured_gdal_messages, outside_gdal_capture
from tests.adversarial.conftest import DEMO_BUNDLE, assert_no_parts, assert_refused, snapshot

PY = sys.executable
GLNET = [PY, "-m", "glnet.glnet_core"]
WINDOWS = ["--window", "256", "--margin", "25"]
ENGINE = dict(window=256, margin=25)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("demo") / "demo-lite.glnet"
    shutil.copytree(DEMO_BUNDLE, dest)
    return dest


def _scene(size: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    bands = [np.sin(xx / 11 + k) * np.cos(yy / 7 - k) * 100 + 128 + rng.normal(0, 5, xx.shape) for k in range(3)]
    return np.clip(np.stack(bands), 0, 255).astype(np.uint8)


def _raster(path: Path, size: int = 600, seed: int = 0, **profile) -> Path:
    kw = dict(driver="GTiff", width=size, height=size, count=3, dtype="uint8", crs="EPSG:32633",
              transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000))
    kw.update(profile)
    with rasterio.open(path, "w", **kw) as ds:
        ds.write(_scene(size, seed))
    return path


def _hashes(folder: Path) -> Dict[str, str]:
    """The sha256 of every output of a run (GeoTIFFs and sidecars): runs are compared byte for byte.

    The mask writer copies its part into a compact file at commit
    (glnet_core/formats/class_mask_writer.py), so a file's bytes depend only on
    what it holds, not on the order its windows were written or flushed in.
    """
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def _segment(*args, preexec_fn=None) -> subprocess.CompletedProcess:
    return subprocess.run(GLNET + ["segment", *[str(a) for a in args]], capture_output=True, text=True,
                          preexec_fn=preexec_fn, timeout=300)


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


def _stage_threads() -> List[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("glnet-")]


# ------------------------------------------------------------------ the same files


INPUTS = {
    "plain": {},
    "deflate": dict(compress="deflate", tiled=True, blockxsize=256, blockysize=256),
    "jpeg-in-tiff": dict(compress="jpeg", photometric="ycbcr", tiled=True, blockxsize=256, blockysize=256),
}


@pytest.mark.parametrize("kind", list(INPUTS))
def test_pipelined_files_are_identical_to_sequential(bundle, tmp_path, kind):
    src = _raster(tmp_path / "in.tif", size=700, **INPUTS[kind])
    results = {}
    for pipeline in (False, True):
        out = tmp_path / ("pipelined" if pipeline else "sequential")
        out.mkdir()
        results[pipeline] = segment(src, bundle, OutputOptions(out / "mask.tif", out / "conf.tif"),
                                    EngineOptions(pipeline=pipeline, **ENGINE))
    seq, pipe = results[False], results[True]
    assert seq.windows == pipe.windows == 16
    assert (pipe.windows_read, pipe.windows_classified, pipe.patches) == (seq.windows_read, seq.windows_classified,
                                                                          seq.patches)
    assert (seq.pipeline, pipe.pipeline) == (False, True)
    sequential, pipelined = _hashes(tmp_path / "sequential"), _hashes(tmp_path / "pipelined")
    assert sorted(sequential) == ["conf.qml", "conf.tif", "mask.qml", "mask.tif", "mask.tif.aux.xml"]
    assert pipelined == sequential, "the same bytes, GeoTIFFs and sidecars alike"
    assert _stage_threads() == [], "the reader and writer threads have ended"


def test_the_command_line_runs_either_way_with_the_same_bytes(bundle, tmp_path):
    src = _raster(tmp_path / "in.tif", size=600, compress="deflate", tiled=True, blockxsize=256, blockysize=256)
    for mode in ("on", "off"):
        out = tmp_path / mode
        out.mkdir()
        r = _segment(src, "--model", bundle, "--out-mask", out / "mask.tif", "--out-confidence", out / "conf.tif",
                     *WINDOWS, "--pipeline", mode, "--profile", tmp_path / f"{mode}.json", "--quiet")
        assert r.returncode == 0, r.stderr
        assert r.stderr == ""
        prof = json.loads((tmp_path / f"{mode}.json").read_text())
        assert prof["pipeline"] is (mode == "on")
        for key in ("read_s", "prepare_s", "write_s", "network_s", "input_wait_s", "output_wait_s", "overlap_s"):
            assert prof[key] >= 0, key
        # The network's thread waited for input and output at most what they took (the rest was hidden).
        assert prof["input_wait_s"] <= prof["read_s"] + prof["prepare_s"] + 0.01
        if mode == "off":
            assert prof["overlap_s"] == 0
    assert _hashes(tmp_path / "on") == _hashes(tmp_path / "off")
    r = _segment(src, "--model", bundle, "--out-mask", tmp_path / "x.tif", "--pipeline", "maybe")
    assert r.returncode == 2 and "--pipeline" in r.stderr and "invalid choice" in r.stderr


def test_progress_is_in_order_and_ends_complete(bundle, tmp_path):
    src = _raster(tmp_path / "in.tif", size=600)
    seen: Dict[bool, List[tuple]] = {}
    for pipeline in (False, True):
        reports: List[tuple] = []
        segment(src, bundle, tmp_path / f"m{pipeline}.tif", EngineOptions(pipeline=pipeline, **ENGINE),
                callbacks=Callbacks(progress=lambda p, r=reports: r.append((p.done, p.windows_done, p.total))))
        seen[pipeline] = reports
        assert [d for d, _, _ in reports] == sorted(d for d, _, _ in reports), "patches never go back"
        assert [w for _, w, _ in reports] == sorted(w for _, w, _ in reports)
        assert reports[-1][0] == reports[-1][2] and reports[-1][1] == 9
        assert sorted({w for _, w, _ in reports}) == list(range(10)), "every window is reported, one at a time"
    assert seen[True][-1] == seen[False][-1]


# ------------------------------------------------------------------ cancel, Ctrl-C, kill and resume


def _in_thread(fn, seconds: float = 240):
    """Run ``fn`` in a thread, so that a hang fails the test instead of blocking it; returns what it raised."""
    outcome: List[BaseException] = []

    def body() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - the test looks at it
            outcome.append(exc)

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "the run hung"
    return outcome[0] if outcome else None


@pytest.mark.parametrize("after", [1, 6, 14])
def test_cancel_midway_leaves_nothing_and_does_not_hang(bundle, tmp_path, after):
    src = _raster(tmp_path / "in.tif", size=700)
    out = tmp_path / "out"
    out.mkdir()
    calls: List[int] = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > after

    exc = _in_thread(lambda: segment(src, bundle, OutputOptions(out / "mask.tif", out / "conf.tif"),
                                     EngineOptions(**ENGINE), callbacks=Callbacks(is_cancelled=cancelled)))
    assert isinstance(exc, Cancelled)
    assert list(out.iterdir()) == [], "no part, lock or state file"
    assert _stage_threads() == []


def test_ctrl_c_in_the_progress_hook_leaves_nothing(bundle, tmp_path):
    src = _raster(tmp_path / "in.tif", size=700)
    out = tmp_path / "out"
    out.mkdir()

    def ctrl_c(p) -> None:
        if p.windows_done >= 2:
            raise KeyboardInterrupt

    exc = _in_thread(lambda: segment(src, bundle, out / "mask.tif", EngineOptions(**ENGINE),
                                     callbacks=Callbacks(progress=ctrl_c)))
    assert isinstance(exc, KeyboardInterrupt)
    assert list(out.iterdir()) == []
    assert _stage_threads() == []


_KILLED = """
import os, signal
from glnet.glnet_core.engine import resume
resume.CHECKPOINT_SECONDS = 0
from glnet.glnet_core.callbacks import Callbacks
from glnet.glnet_core.engine.options import EngineOptions, OutputOptions
from glnet.glnet_core.engine.segment import segment
def progress(p):
    if p.windows_done == {at}:
        os.kill(os.getpid(), signal.SIGKILL)
segment({src!r}, {bundle!r}, OutputOptions({mask!r}, {conf!r}), EngineOptions(window=256, margin=25),
        callbacks=Callbacks(progress=progress))
"""


@pytest.mark.parametrize("at", [1, 5])
def test_a_killed_pipelined_run_records_exactly_what_it_reported_and_resumes_to_the_same_pixels(bundle, tmp_path, at):
    src = _raster(tmp_path / "in.tif", size=600, seed=4, compress="deflate")
    ref = tmp_path / "ref"
    ref.mkdir()
    r = _segment(src, "--model", bundle, "--out-mask", ref / "mask.tif", "--out-confidence", ref / "conf.tif",
                 *WINDOWS, "--pipeline", "off", "--quiet")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out"
    out.mkdir()
    script = _KILLED.format(at=at, src=str(src), bundle=str(bundle), mask=str(out / "mask.tif"),
                            conf=str(out / "conf.tif"))
    r = subprocess.run([PY, "-c", textwrap.dedent(script)], capture_output=True, text=True, timeout=300)
    assert r.returncode == -signal.SIGKILL, r.stderr
    state = json.loads((out / ".mask.tif.glnet-resume.json").read_text())
    assert state["done"] == at, "the state holds the windows the progress reported, all of them written"
    r = _segment(src, "--model", bundle, "--out-mask", out / "mask.tif", "--out-confidence", out / "conf.tif",
                 *WINDOWS, "--resume")
    assert r.returncode == 0, r.stderr
    assert f"resuming: {at} of 9 windows" in r.stderr
    assert np.array_equal(_read(out / "mask.tif"), _read(ref / "mask.tif"))
    assert np.array_equal(_read(out / "conf.tif"), _read(ref / "conf.tif"))
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]
    assert _hashes(out) == _hashes(ref), "a killed and resumed pipelined run gives the sequential run's bytes"


# ------------------------------------------------------------------ failures in the reader and the writer


def _damage_one_tile(path: Path, row: int, col: int) -> None:
    """Overwrite one compressed tile's bytes with garbage (GDAL opens the file; reading that tile fails)."""
    with rasterio.open(path) as ds:
        offset = int(ds.get_tag_item(f"BLOCK_OFFSET_{col}_{row}", "TIFF", bidx=1))
        size = int(ds.get_tag_item(f"BLOCK_SIZE_{col}_{row}", "TIFF", bidx=1))
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(bytes(range(256)) * (size // 256) + b"\xff" * (size % 256))


def test_a_damaged_block_read_in_the_reader_thread_is_the_one_line_input_error(bundle, tmp_path):
    # 1000 px, tiles of 256: the resume fingerprint samples tiles 0, 1 and 3 of each axis, so the
    # damaged tile (2, 2) is first read by the reader thread, windows into the run.
    src = _raster(tmp_path / "in.tif", size=1000, compress="deflate", tiled=True, blockxsize=256, blockysize=256)
    _damage_one_tile(src, 2, 2)
    before = snapshot(tmp_path)
    lines = {}
    for mode in ("on", "off"):
        out = tmp_path / f"out-{mode}"
        out.mkdir()
        r = _segment(src, "--model", bundle, "--out-mask", out / "mask.tif", "--out-confidence", out / "conf.tif",
                     *WINDOWS, "--pipeline", mode)
        lines[mode] = assert_refused(r, 2, contains="is damaged or truncated")
        assert list(out.iterdir()) == [], "no part, state or lock file"
        out.rmdir()
    assert lines["on"] == lines["off"], "the same error, whichever thread read the block"
    assert snapshot(tmp_path) == before, "the input is unchanged"


def _limit_file_size_to(limit: int):
    def setup() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    return setup


@pytest.mark.parametrize("limit", [4096, 60_000], ids=["tile-flush-on-close", "part-writes"])
def test_a_write_refused_in_the_writer_thread_is_one_line_exit_1_and_nothing_left(bundle, tmp_path, limit):
    src = _raster(tmp_path / "in.tif", size=600 if limit < 60_000 else 1400)
    lines = {}
    for mode in ("on", "off"):
        out = tmp_path / f"out-{mode}"
        out.mkdir()
        r = _segment(src, "--model", bundle, "--out-mask", out / "mask.tif", "--out-confidence", out / "conf.tif",
                     *WINDOWS, "--pipeline", mode, "--quiet", preexec_fn=_limit_file_size_to(limit))
        line = assert_refused(r, 1, contains="File too large")
        assert "cannot write " in line and "_tiff" not in r.stderr and "ERROR" not in r.stderr
        assert list(out.iterdir()) == [], "no part, state, temporary or lock file is left"
        lines[mode] = line.replace(f"out-{mode}", "out")
        out.rmdir()
    assert lines["on"] == lines["off"]


def test_a_failed_checkpoint_flush_in_the_writer_thread_is_a_write_error(bundle, tmp_path):
    src = _raster(tmp_path / "in.tif", size=1400)
    out = tmp_path / "out"
    out.mkdir()
    code = ("import sys\nfrom glnet.glnet_core.engine import resume\nresume.CHECKPOINT_SECONDS = 0\n"
            "from glnet.glnet_core.cli.main import main\nsys.exit(main(sys.argv[1:]))\n")
    r = subprocess.run([PY, "-c", code, "segment", str(src), "--model", str(bundle), "--out-mask", str(out / "mask.tif"),
                        *WINDOWS, "--quiet"], capture_output=True, text=True, timeout=300,
                       preexec_fn=_limit_file_size_to(20_000))
    line = assert_refused(r, 1)
    assert f"--out-mask: cannot write {out / 'mask.tif'}: File too large" in line and "resume" not in line
    assert list(out.iterdir()) == []
    assert_no_parts(tmp_path)


# ------------------------------------------------------------------ descriptor 2 is shared


def test_what_a_hook_prints_waits_for_another_threads_capture(capfd):
    """A line printed in outside_gdal_capture never lands in a capture another thread holds."""
    inside, trying = threading.Event(), threading.Event()
    captured: List[List[str]] = []

    def writer() -> None:
        with captured_gdal_messages() as messages:
            inside.set()
            trying.wait(30)
            for _ in range(20):  # give the other thread every chance to print into the capture
                os.write(2, b"")
                threading.Event().wait(0.01)
        captured.append(messages.lines)

    t = threading.Thread(target=writer)
    t.start()
    inside.wait(30)
    trying.set()
    with outside_gdal_capture():
        os.write(2, b"segment: 50% of the patches\n")  # reads like a libtiff error if captured
    t.join(30)
    assert captured == [[]]
    assert "segment: 50% of the patches" in capfd.readouterr().err


def test_a_hook_printing_on_descriptor_2_during_writes_is_not_a_write_error(bundle, tmp_path, capfd):
    """Progress lines printed while the writer thread captures descriptor 2 reach the terminal, and fail nothing."""
    src = _raster(tmp_path / "in.tif", size=700)
    printed: List[int] = []

    def progress(p) -> None:
        printed.append(p.done)
        os.write(2, f"segment: {p.done} patches\n".encode())

    segment(src, bundle, OutputOptions(tmp_path / "mask.tif", tmp_path / "conf.tif"), EngineOptions(**ENGINE),
            callbacks=Callbacks(progress=progress))
    err = capfd.readouterr().err
    assert err.count("segment: ") == len(printed) > 16
    assert_no_parts(tmp_path)
