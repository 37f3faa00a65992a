"""Faults and concurrency (issue #13): two runs on one output, full disks, damaged resume states, changed inputs, GCPs.

Everything runs for real: ``glnet segment`` in child processes with the demo
bundle; a full disk is a file-size limit (``RLIMIT_FSIZE``, ``SIGXFSZ``
ignored, so writes fail with ``EFBIG`` as a full disk fails with
``ENOSPC``); a killed run is a ``SIGKILL`` from the run's own progress
callback, so no clean-up code runs.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.control import GroundControlPoint

from glnet.glnet_core.errors import OutputPathError, OutputWriteError
from glnet.glnet_core.formats.gdal_env import captured_gdal_messages, gdal_write_errors
from glnet.glnet_core.formats.part_lock import PartLock, PartLocks, lock_path
from tests.adversarial.conftest import assert_no_parts, assert_refused, snapshot

pytestmark = pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")

PY = sys.executable
GLNET = [PY, "-m", "glnet.glnet_core"]
# Nine windows on a 600 px raster: enough to kill a run half-way.
WINDOWS = ["--window", "256", "--margin", "25"]


def _segment(*args, preexec_fn=None, checkpoint_every_window: bool = False) -> subprocess.CompletedProcess:
    """``glnet segment ARGS`` in a child process (optionally with a checkpoint after every window)."""
    argv = ["segment", *[str(a) for a in args]]
    if not checkpoint_every_window:
        return subprocess.run(GLNET + argv, capture_output=True, text=True, preexec_fn=preexec_fn, timeout=300)
    code = ("import sys\nfrom glnet.glnet_core.engine import resume\nresume.CHECKPOINT_SECONDS = 0\n"
            "from glnet.glnet_core.cli.main import main\nsys.exit(main(sys.argv[1:]))\n")
    return subprocess.run([PY, "-c", code, *argv], capture_output=True, text=True, preexec_fn=preexec_fn, timeout=300)


def _limit_file_size_to(limit: int):
    def setup() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    return setup


def _engine_script(src: Path, bundle: Path, mask: Path, body: str, confidence: Optional[Path] = None) -> str:
    """A child that runs the engine with a progress hook ``on_progress(p)`` defined by ``body``."""
    conf = "None" if confidence is None else repr(str(confidence))
    return textwrap.dedent("""
        import os, signal, sys, time
        from pathlib import Path
        from glnet.glnet_core.engine import resume
        resume.CHECKPOINT_SECONDS = 0
        from glnet.glnet_core.callbacks import Callbacks
        from glnet.glnet_core.engine.options import EngineOptions, OutputOptions
        from glnet.glnet_core.engine.segment import segment
    """) + textwrap.dedent(body) + textwrap.dedent(f"""
        segment({str(src)!r}, {str(bundle)!r}, OutputOptions({str(mask)!r}, {conf}),
                EngineOptions(window=256, margin=25), callbacks=Callbacks(progress=on_progress))
    """)


_KILL_AFTER_3 = """
    def on_progress(p):
        if p.windows_done == 3:
            os.kill(os.getpid(), signal.SIGKILL)
"""


def _killed_run(src: Path, bundle: Path, mask: Path, confidence: Optional[Path] = None) -> None:
    """A run of ``src`` into ``mask`` killed after three windows (checkpointed after each)."""
    proc = subprocess.run([PY, "-c", _engine_script(src, bundle, mask, _KILL_AFTER_3, confidence)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert (mask.parent / f".{mask.name}.part").is_file()
    assert (mask.parent / f".{mask.name}.glnet-resume.json").is_file()


def _refused(capsys, *args, status: int = 2, contains: Optional[str] = None) -> str:
    """``glnet segment ARGS`` in this process (as ``glnet`` runs it); assert the one-line contract; return the line."""
    from glnet.glnet_core.cli.main import main

    capsys.readouterr()
    code = main(["segment", *[str(a) for a in args]])
    err = capsys.readouterr().err
    return assert_refused(subprocess.CompletedProcess([], code, "", err), status, contains)


def _without_locks(snap: Dict[str, str]) -> Dict[str, str]:
    return {k: v for k, v in snap.items() if not k.endswith(".lock")}


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


# ------------------------------------------------------------------ two runs, one output


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float = 240) -> None:
    """Poll until ``path`` exists (the other run reached its pause); not a timing assertion."""
    end = time.monotonic() + seconds
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the first run ended early: {proc.communicate()[1]}")
        if time.monotonic() > end:
            proc.kill()
            raise AssertionError("the first run never reached its pause")
        time.sleep(0.1)


_PAUSE_AFTER_1 = """
    def on_progress(p):
        if p.windows_done == 1 and not Path({paused!r}).exists():
            Path({paused!r}).write_text("paused")
            while not Path({go!r}).exists():
                time.sleep(0.05)
"""


@pytest.fixture
def paused_run(tmp_path, demo_bundle, make_raster):
    """A first run writing out/mask.tif (and out/conf.tif), paused after its first window until released."""
    src = make_raster(size=600)
    out = tmp_path / "out"
    out.mkdir()
    paused, go = tmp_path / "paused", tmp_path / "go"
    body = _PAUSE_AFTER_1.format(paused=str(paused), go=str(go))
    proc = subprocess.Popen([PY, "-c", _engine_script(src, demo_bundle, out / "mask.tif", body, out / "conf.tif")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(paused, proc)
        yield src, out, proc, go
    finally:
        go.write_text("go")
        if proc.poll() is None:
            try:
                proc.wait(timeout=240)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_a_second_run_on_the_same_output_refuses_at_once_and_the_first_completes(paused_run, demo_bundle):
    src, out, first, go = paused_run
    before = snapshot(out)
    assert (out / ".mask.tif.lock").is_file()
    second = _segment(src, "--model", demo_bundle, "--out-mask", out / "mask.tif", *WINDOWS)
    line = assert_refused(second, 2, contains="another glnet run is writing")  # a second process, as users do
    assert line.startswith("glnet: error: --out-mask: ") and str(out / "mask.tif") in line
    assert f"process {first.pid}" in line
    assert snapshot(out) == before, "the refused run touched the first run's files"
    go.write_text("go")
    assert first.wait(timeout=240) == 0, first.communicate()[1]
    assert _read(out / "mask.tif").shape == (600, 600)
    assert_no_parts(out)
    assert sorted(p.name for p in out.iterdir()) == ["conf.qml", "conf.tif", "mask.qml", "mask.tif", "mask.tif.aux.xml"]


def test_a_second_run_sharing_only_the_confidence_output_refuses(paused_run, demo_bundle, tmp_path, capsys):
    src, out, first, _go = paused_run
    other = tmp_path / "other"
    other.mkdir()
    before = snapshot(out)
    line = _refused(capsys, src, "--model", demo_bundle, "--out-mask", other / "mask.tif", "--out-confidence",
                    out / "conf.tif", *WINDOWS, contains="another glnet run is writing")
    assert line.startswith("glnet: error: --out-confidence: ")
    assert snapshot(out) == before
    assert list(other.iterdir()) == [], "the refused run left its own lock or parts behind"


def test_a_second_run_with_resume_or_overwrite_refuses_too(paused_run, demo_bundle, capsys):
    src, out, _first, _go = paused_run
    before = snapshot(out)
    for extra in (["--resume"], ["--overwrite"], ["--out-confidence", out / "conf.tif", "--overwrite"]):
        _refused(capsys, src, "--model", demo_bundle, "--out-mask", out / "mask.tif", *WINDOWS, *extra,
                 contains="another glnet run is writing")
        assert snapshot(out) == before, extra


def test_the_lock_dies_with_a_killed_run_so_resume_works(tmp_path, demo_bundle, make_raster):
    src = make_raster(size=600)
    ref = tmp_path / "ref.tif"
    assert _segment(src, "--model", demo_bundle, "--out-mask", ref, *WINDOWS, "--quiet").returncode == 0
    out = tmp_path / "out"
    out.mkdir()
    _killed_run(src, demo_bundle, out / "mask.tif")
    assert lock_path(out / "mask.tif").is_file()  # left by the kill, but no longer held
    r = _segment(src, "--model", demo_bundle, "--out-mask", out / "mask.tif", *WINDOWS, "--resume")
    assert r.returncode == 0, r.stderr
    assert "resuming: 3 of 9 windows" in r.stderr
    assert np.array_equal(_read(out / "mask.tif"), _read(ref))
    assert_no_parts(out)
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def test_part_lock_in_two_processes(tmp_path):
    target = tmp_path / "mask.tif"
    holder = subprocess.Popen(
        [PY, "-c", "import sys, time\nfrom glnet.glnet_core.formats.part_lock import PartLock\n"
                   f"lock = PartLock({str(target)!r})\nprint('held', flush=True)\nsys.stdin.readline()\nlock.release()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OutputPathError, match=rf"^--out-mask: another glnet run is writing .*mask\.tif \(process {holder.pid}\)"):
            PartLock(target, "--out-mask")
        # PartLocks takes all or none: the first lock is released when the second fails.
        free = tmp_path / "free.tif"
        with pytest.raises(OutputPathError):
            PartLocks([(free, "--out-confidence"), (target, "--out-mask")])
        assert not lock_path(free).exists()
        with PartLock(free):
            pass
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=60)
    assert not lock_path(target).exists(), "the holder removes its lock file when it ends"
    with PartLock(target) as lock:
        assert lock.held and lock_path(target).read_text() == str(os.getpid())
    assert not lock_path(target).exists()


@pytest.mark.parametrize("command", ["vectorize", "evaluate", "synth"])
def test_every_atomic_writer_refuses_an_output_another_run_is_writing(tmp_path, demo_bundle, command):
    """Not only segment: every output written under a part name is locked, so a second run never removes the first's part."""
    from glnet.glnet_core.formats.class_mask_writer import MaskWriter
    from glnet.glnet_core.formats.classes import load_class_table

    mask = tmp_path / "mask.tif"
    w = MaskWriter(mask, width=64, height=64, crs="EPSG:32633",
                   transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000), classes=load_class_table("deepglobe"))
    w.write(0, 0, np.repeat(np.arange(8, dtype=np.uint8) % 7, 512).reshape(64, 64))
    w.commit()
    target, argv = {
        "vectorize": (tmp_path / "p.gpkg", ["vectorize", str(mask), "--out", str(tmp_path / "p.gpkg")]),
        "evaluate": (tmp_path / "s.json", ["evaluate", str(mask), str(mask), "--json", str(tmp_path / "s.json"), "--quiet"]),
        "synth": (tmp_path / "set", ["synth", "--out", str(tmp_path / "set"), "--n", "1", "--size", "64", "--quiet"]),
    }[command]
    holder = subprocess.Popen(
        [PY, "-c", "import sys, pathlib\nfrom glnet.glnet_core.formats.part_lock import PartLock\n"
                   f"lock = PartLock({str(target)!r})\npathlib.Path({str(tmp_path / 'part')!r}).write_text('work')\n"
                   "print('held', flush=True)\nsys.stdin.readline()\nlock.release()\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = snapshot(tmp_path)
        r = subprocess.run(GLNET + argv, capture_output=True, text=True, timeout=300)
        assert_refused(r, 2, contains=f"another glnet run is writing {target}")
        assert snapshot(tmp_path) == before and not target.exists()
    finally:
        holder.stdin.write("\n")
        holder.stdin.close()
        holder.wait(timeout=60)
    r = subprocess.run(GLNET + argv, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert target.exists()
    assert_no_parts(tmp_path)


# ------------------------------------------------------------------ full disk, refused writes


@pytest.mark.parametrize("limit", [600, 4096, 60_000], ids=["state-file", "tile-flush-on-close", "part-writes"])
def test_a_write_the_system_refuses_is_one_line_exit_1_and_nothing_left(tmp_path, demo_bundle, make_raster, limit):
    """Three places a full disk hits: the resume state (~1.3 KB), the tiles GDAL flushes only on close, the tiles."""
    src = make_raster(size=600 if limit < 60_000 else 1400)
    out = tmp_path / "out"
    out.mkdir()
    before = snapshot(tmp_path)
    r = _segment(src, "--model", demo_bundle, "--out-mask", out / "mask.tif", "--out-confidence", out / "conf.tif",
                 *WINDOWS, "--quiet", preexec_fn=_limit_file_size_to(limit))
    line = assert_refused(r, 1, contains="File too large")
    assert line.startswith("glnet: error: --out-mask: cannot write ") or line.startswith(
        "glnet: error: --out-confidence: cannot write "), line
    assert "cannot resume" not in line and "_tiff" not in r.stderr and "ERROR" not in r.stderr
    assert list(out.iterdir()) == [], "no part, state, temporary or lock file is left"
    assert {k: v for k, v in snapshot(tmp_path).items() if not k.startswith("out")} == before


@pytest.mark.parametrize("limit", [3000, 40_000], ids=["first-tiles", "flush-on-close"])
def test_synth_on_a_full_disk_is_one_line_exit_1_and_keeps_the_folder(tmp_path, limit):
    """`glnet synth` writes its images with GDAL too: a failed tile write or close flush is caught, nothing is committed."""
    out = tmp_path / "set"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    r = subprocess.run(GLNET + ["synth", "--out", str(out), "--n", "1", "--size", "512", "--overwrite", "--quiet"],
                       capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size_to(limit))
    line = assert_refused(r, 1, contains="File too large")
    assert "cannot write" in line and "_tiff" not in r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["set"]


@pytest.mark.parametrize("limit", [3000, 60_000], ids=["first-tiles", "flush-on-close"])
def test_the_minimum_mapping_unit_on_a_full_disk_is_one_write_error(tmp_path, limit):
    """The sieve (--min-area) rewrites a complete mask with GDAL: a refused write is an OutputWriteError, nothing left."""
    from glnet.glnet_core.formats.class_mask_writer import MaskWriter
    from glnet.glnet_core.formats.classes import load_class_table

    src = tmp_path / "mask.tif"
    noisy = np.random.default_rng(3).integers(0, 7, (1000, 1000), dtype=np.uint8)  # about 400 KB compressed
    w = MaskWriter(src, width=1000, height=1000, crs="EPSG:32633",
                   transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000), classes=load_class_table("deepglobe"))
    w.write(0, 0, noisy)
    w.commit()
    before = snapshot(tmp_path)
    script = textwrap.dedent(f"""
        import resource, signal, sys
        from glnet.glnet_core.errors import OutputWriteError
        from glnet.glnet_core.products.sieve import sieve_mask
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY))
        try:
            sieve_mask({str(src)!r}, {str(tmp_path / 'sieved.tif')!r}, min_area_m2=0.3)
        except OutputWriteError as exc:
            print("ERROR:", exc)
            sys.exit(3)
    """)
    r = subprocess.run([PY, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, (r.stdout, r.stderr)
    assert r.stdout.strip() == f"ERROR: cannot write {tmp_path / 'sieved.tif'}: File too large"
    assert r.stderr == "", "GDAL's or libtiff's own lines reached the terminal"
    assert snapshot(tmp_path) == before


def test_a_failed_checkpoint_flush_is_a_write_error_not_cannot_resume(tmp_path, demo_bundle, make_raster):
    """With a checkpoint after every window, the flush of the part hits the limit on a run without --resume."""
    src = make_raster(size=1400)
    out = tmp_path / "out"
    out.mkdir()
    r = _segment(src, "--model", demo_bundle, "--out-mask", out / "mask.tif", *WINDOWS, "--quiet",
                 preexec_fn=_limit_file_size_to(20_000), checkpoint_every_window=True)
    line = assert_refused(r, 1)
    assert f"--out-mask: cannot write {out / 'mask.tif'}: File too large" in line
    assert "resume" not in line
    assert list(out.iterdir()) == []


def test_the_mask_writer_sees_a_tile_flush_that_fails_on_close(tmp_path):
    """GDAL raises nothing when the tiles it flushes on close do not fit; the writer still fails, in one error."""
    script = textwrap.dedent(f"""
        import resource, signal, sys
        import numpy as np
        from affine import Affine
        from glnet.glnet_core.errors import OutputWriteError
        from glnet.glnet_core.formats.class_mask_writer import MaskWriter
        from glnet.glnet_core.formats.classes import load_class_table
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (5000, resource.RLIM_INFINITY))
        w = MaskWriter({str(tmp_path / 'm.tif')!r}, width=3000, height=3000, crs="EPSG:32633",
                       transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000), classes=load_class_table("deepglobe"))
        try:
            w.write(0, 0, np.full((3000, 3000), 3, np.uint8))  # kept in GDAL's cache until the file is closed
            print("written")
            w.commit()
        except OutputWriteError as exc:
            w.abort()
            print("ERROR:", exc)
            sys.exit(3)
    """)
    r = subprocess.run([PY, "-c", script], capture_output=True, text=True, timeout=120)
    assert r.returncode == 3, r.stderr
    assert r.stdout.split("\n")[:2] == ["written", f"ERROR: cannot write {tmp_path / 'm.tif'}: File too large"]
    assert r.stderr == "", "libtiff's own lines reached the terminal"
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_gdal_write_errors_turns_printed_errors_into_one_error(tmp_path, capfd):
    target = tmp_path / "x.tif"
    with pytest.raises(OutputWriteError, match=rf"^--out: cannot write {target}: File too large$"):
        with gdal_write_errors(target, "--out"):
            os.write(2, b"_tiffWriteProc: File too large.\nERROR 1: TIFFAppendToStrip:Write error at scanline 1\n")
    with pytest.raises(OutputWriteError, match=r"cannot write .*x\.tif: Disk quota exceeded$"):
        with gdal_write_errors(target):
            raise OSError(122, "Disk quota exceeded")
    with gdal_write_errors(target):  # a warning is not a failure, and is passed on
        os.write(2, b"Warning 1: something GDAL finds odd\n")
    with pytest.raises(ValueError):  # not a write failure: unchanged
        with gdal_write_errors(target):
            raise ValueError("a bug")
    assert capfd.readouterr().err == "Warning 1: something GDAL finds odd\n"
    with captured_gdal_messages() as outer:
        with captured_gdal_messages():
            os.write(2, b"_tiffSeekProc: File too large.\n")
    assert outer.first_error == "File too large"


# ------------------------------------------------------------------ damaged resume states


@pytest.fixture(scope="module")
def killed(tmp_path_factory, demo_bundle):
    """(input, bundle, folder) of a run killed after three of its nine windows; copy the folder to damage it."""
    base = tmp_path_factory.mktemp("killed")
    rng = np.random.default_rng(3)
    src = base / "in.tif"
    data = np.clip(rng.normal(128, 40, (3, 600, 600)), 0, 255).astype(np.uint8)
    with rasterio.open(src, "w", driver="GTiff", width=600, height=600, count=3, dtype="uint8", crs="EPSG:32633",
                       transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000)) as ds:
        ds.write(data)
    out = base / "out"
    out.mkdir()
    _killed_run(src, demo_bundle, out / "mask.tif")
    return src, demo_bundle, out


def _state_file(folder: Path) -> Path:
    return folder / ".mask.tif.glnet-resume.json"


def _damage(killed, tmp_path, change) -> Path:
    _src, _bundle, out = killed
    folder = tmp_path / "copy"
    shutil.copytree(out, folder)
    state = _state_file(folder)
    text = state.read_text()
    state.write_text(change(text) if callable(change) else change)
    return folder


def _edit(**changes):
    def change(text: str) -> str:
        data = json.loads(text)
        data.update(changes)
        return json.dumps(data)

    return change


@pytest.mark.parametrize("change, says", [
    (_edit(done=10 ** 6), "'done' is 1000000, the run has 9 windows"),
    (_edit(done=-1), "'done' is -1"),
    (_edit(done="3"), "'done' is str"),
    (_edit(done=[0, 1, 2]), "'done' is list"),
    (_edit(done=True), "'done' is bool"),
    (_edit(done=None), "'done' is NoneType"),
    (lambda text: text[: len(text) // 2], "is damaged"),
    ("[1, 2, 3]\n", "a JSON list, not an object"),
    ("\x00\xff garbage", "is damaged"),
], ids=["index-out-of-range", "negative", "string", "old-list", "bool", "null", "truncated", "list", "binary"])
def test_a_damaged_state_is_one_line_and_keeps_the_part_files(killed, tmp_path, capsys, change, says):
    src, bundle, _out = killed
    folder = _damage(killed, tmp_path, change)
    before = snapshot(folder)
    line = _refused(capsys, src, "--model", bundle, "--out-mask", folder / "mask.tif", *WINDOWS, "--resume", contains=says)
    assert "cannot resume" in line and "kept for inspection" in line
    assert _without_locks(snapshot(folder)) == _without_locks(before), "the part files and the state are kept"
    assert (folder / ".mask.tif.part").is_file()


@pytest.mark.parametrize("change, says", [
    (_edit(format="glnet-stats-report"), "is not the state of an interrupted glnet segment run"),
    (lambda text: json.dumps({"classes": [], "zones": 3}), "is not the state of an interrupted glnet segment run"),
    (_edit(version=1), "another version of glnet"),
    (_edit(windows=4), "different windows"),
    (_edit(input_sample="0" * 64), "different input content"),
], ids=["other-format", "other-command-json", "old-version", "other-window-count", "other-content"])
def test_a_state_of_another_run_is_refused_and_kept(killed, tmp_path, capsys, change, says):
    src, bundle, _out = killed
    folder = _damage(killed, tmp_path, change)
    before = snapshot(folder)
    _refused(capsys, src, "--model", bundle, "--out-mask", folder / "mask.tif", *WINDOWS, "--resume", contains=says)
    assert _without_locks(snapshot(folder)) == _without_locks(before)


@pytest.mark.parametrize("damage", ["truncated", "missing", "another-grid"])
def test_a_part_file_that_cannot_resume_is_refused_and_kept(killed, tmp_path, capsys, damage):
    src, bundle, _out = killed
    folder = _damage(killed, tmp_path, lambda text: text)
    part = folder / ".mask.tif.part"
    if damage == "truncated":
        part.write_bytes(part.read_bytes()[:200])
    elif damage == "missing":
        part.unlink()
    else:
        with rasterio.open(part, "w", driver="GTiff", width=300, height=600, count=1, dtype="uint8") as ds:
            ds.write(np.zeros((1, 600, 300), np.uint8))
    before = snapshot(folder)
    line = _refused(capsys, src, "--model", bundle, "--out-mask", folder / "mask.tif", *WINDOWS, "--resume",
                    contains="cannot resume")
    assert "kept for inspection" in line
    assert _without_locks(snapshot(folder)) == _without_locks(before)


def test_starting_over_without_resume_replaces_a_damaged_state(killed, tmp_path):
    src, bundle, _out = killed
    folder = _damage(killed, tmp_path, _edit(done=10 ** 6))
    r = _segment(src, "--model", bundle, "--out-mask", folder / "mask.tif", *WINDOWS, "--quiet")
    assert r.returncode == 0, r.stderr
    assert_no_parts(folder)
    assert sorted(p.name for p in folder.iterdir()) == ["mask.qml", "mask.tif", "mask.tif.aux.xml"]


# ------------------------------------------------------------------ the fingerprint covers the content


def _rewrite_keeping_size_and_time(path: Path, seed: int) -> None:
    st = path.stat()
    with rasterio.open(path, "r+") as ds:
        rng = np.random.default_rng(seed)
        ds.write(np.clip(rng.normal(128, 40, (3, ds.height, ds.width)), 0, 255).astype(np.uint8))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


@pytest.mark.parametrize("what", ["all-pixels", "one-block"])
def test_resume_refuses_an_input_whose_content_changed_behind_the_same_size_and_time(killed, tmp_path, what):
    src0, bundle, _out = killed
    src = tmp_path / "in.tif"
    shutil.copy2(src0, src)
    folder = tmp_path / "out"
    folder.mkdir()
    _killed_run(src, bundle, folder / "mask.tif")
    if what == "all-pixels":
        _rewrite_keeping_size_and_time(src, seed=99)
    else:  # a 64 x 64 block at the centre: a pixel sample of the fingerprint
        st = src.stat()
        with rasterio.open(src, "r+") as ds:
            ds.write(np.zeros((3, 64, 64), np.uint8), window=rasterio.windows.Window(268, 268, 64, 64))
        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
    before = snapshot(folder)
    r = _segment(src, "--model", bundle, "--out-mask", folder / "mask.tif", *WINDOWS, "--resume")
    assert_refused(r, 2, contains="different input content")
    assert "size" not in r.stderr and "mtime" not in r.stderr
    assert _without_locks(snapshot(folder)) == _without_locks(before)


# ------------------------------------------------------------------ GCPs and rasters without georeferencing


def _gcp_raster(path: Path, size: int = 300) -> List[GroundControlPoint]:
    gcps = [GroundControlPoint(row=r, col=c, x=500000 + c * 0.5 + r * 0.01, y=5000000 - r * 0.5, z=0.0, id=str(i))
            for i, (r, c) in enumerate([(0, 0), (0, size), (size, 0), (size, size), (size / 2, size / 3)])]
    rng = np.random.default_rng(5)
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8",
                       gcps=gcps, crs="EPSG:32633") as ds:
        ds.write(np.clip(rng.normal(128, 40, (3, size, size)), 0, 255).astype(np.uint8))
    return gcps


def test_gcp_georeferencing_is_kept_in_the_mask_and_the_confidence(tmp_path, demo_bundle):
    src = tmp_path / "scan.tif"
    gcps = _gcp_raster(src)
    r = _segment(src, "--model", demo_bundle, "--out-mask", tmp_path / "m.tif", "--out-confidence", tmp_path / "c.tif")
    assert r.returncode == 0, r.stderr
    assert "georeferenced by 5 ground control points" in r.stderr
    for out in ("m.tif", "c.tif"):
        with rasterio.open(tmp_path / out) as ds:
            got, crs = ds.gcps
            assert crs == rasterio.crs.CRS.from_epsg(32633), out
            assert len(got) == len(gcps)
            for g, want in zip(got, gcps):
                assert (g.row, g.col, g.x, g.y) == pytest.approx((want.row, want.col, want.x, want.y))
            assert ds.transform.is_identity and (ds.width, ds.height) == (300, 300)


def test_gcp_georeferencing_survives_the_minimum_mapping_unit(tmp_path, demo_bundle):
    """--min-area rewrites the mask (the sieve): the GCPs stay, and their fit gives the pixel area."""
    src = tmp_path / "scan.tif"
    gcps = _gcp_raster(src)
    r = _segment(src, "--model", demo_bundle, "--out-mask", tmp_path / "m.tif", "--out-vector", tmp_path / "p.gpkg",
                 "--min-area", "50")
    assert r.returncode == 0, r.stderr
    # 50 m2 is 200 pixels of 0.25 m2 (the GCPs' fit), and GDAL had nothing to warn about.
    assert "regions under 200 px" in r.stderr and "Warning" not in r.stderr
    with rasterio.open(tmp_path / "m.tif") as ds:
        got, crs = ds.gcps
        assert crs == rasterio.crs.CRS.from_epsg(32633) and len(got) == len(gcps)
        assert ds.transform.is_identity


def test_gcp_input_resumes_onto_its_gcp_part(tmp_path, demo_bundle):
    src = tmp_path / "scan.tif"
    _gcp_raster(src, 600)
    ref = tmp_path / "ref.tif"
    assert _segment(src, "--model", demo_bundle, "--out-mask", ref, *WINDOWS, "--quiet").returncode == 0
    out = tmp_path / "out"
    out.mkdir()
    _killed_run(src, demo_bundle, out / "mask.tif")
    r = _segment(src, "--model", demo_bundle, "--out-mask", out / "mask.tif", *WINDOWS, "--resume", "--quiet")
    assert r.returncode == 0, r.stderr
    assert np.array_equal(_read(out / "mask.tif"), _read(ref))
    with rasterio.open(out / "mask.tif") as ds:
        assert len(ds.gcps[0]) == 5


def test_a_raster_without_georeferencing_says_so(tmp_path, demo_bundle):
    src = tmp_path / "plain.tif"
    rng = np.random.default_rng(1)
    with rasterio.open(src, "w", driver="GTiff", width=200, height=200, count=3, dtype="uint8") as ds:
        ds.write(np.clip(rng.normal(128, 40, (3, 200, 200)), 0, 255).astype(np.uint8))
    r = _segment(src, "--model", demo_bundle, "--out-mask", tmp_path / "m.tif")
    assert r.returncode == 0, r.stderr
    assert "is not georeferenced" in r.stderr and "outputs are not georeferenced either" in r.stderr
    with rasterio.open(tmp_path / "m.tif") as ds:
        assert ds.crs is None and not ds.gcps[0]


def test_rpcs_are_kept(tmp_path, demo_bundle):
    from rasterio.rpc import RPC

    rpc = RPC(height_off=100.0, height_scale=500.0, lat_off=45.0, lat_scale=0.1, line_den_coeff=[1.0] + [0.0] * 19,
              line_num_coeff=[0.0, 0.0, -1.0] + [0.0] * 17, line_off=100.0, line_scale=100.0, long_off=15.0,
              long_scale=0.1, samp_den_coeff=[1.0] + [0.0] * 19, samp_num_coeff=[0.0, 1.0] + [0.0] * 18,
              samp_off=100.0, samp_scale=100.0)
    src = tmp_path / "rpc.tif"
    rng = np.random.default_rng(2)
    with rasterio.open(src, "w", driver="GTiff", width=200, height=200, count=3, dtype="uint8", rpcs=rpc) as ds:
        ds.write(np.clip(rng.normal(128, 40, (3, 200, 200)), 0, 255).astype(np.uint8))
    r = _segment(src, "--model", demo_bundle, "--out-mask", tmp_path / "m.tif", "--quiet")
    assert r.returncode == 0, r.stderr
    with rasterio.open(tmp_path / "m.tif") as ds:
        assert ds.rpcs is not None and ds.rpcs.lat_off == pytest.approx(45.0)
