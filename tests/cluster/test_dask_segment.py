"""``glnet segment --dask`` (issue #15): windows as tasks of a real Dask cluster, the same files as one process.

Everything real: LocalClusters of two worker processes on 127.0.0.1 (started
and stopped by each test), a scheduler and workers started from this
environment's ``dask`` command for the scheduler-loss test, the shipped demo
bundle through onnxruntime on every worker, GeoTIFFs through rasterio.
``--window 256 --margin 25`` cuts small rasters into many windows, so that
both workers are busy and a kill lands mid-run. Every wait is bounded.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Callable, Dict, List

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from affine import Affine

from glnet.glnet_core.callbacks import Callbacks, Progress
from glnet.glnet_core.cluster.connect import shared_cluster
from glnet.glnet_core.engine.options import EngineOptions, OutputOptions
from glnet.glnet_core.engine.segment import segment
from glnet.glnet_core.engine.windows import raster_windows
from glnet.glnet_core.errors import Cancelled
from tests.adversarial.conftest import DEMO_BUNDLE, assert_no_parts, assert_refused

PY = sys.executable
DASK = str(Path(sys.executable).with_name("dask"))
WINDOWS = ["--window", "256", "--margin", "25"]
ENGINE = dict(window=256, margin=25)
#: The most any one step of these tests may take.
LIMIT_S = 120


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    dest = tmp_path_factory.mktemp("demo") / "demo-lite.glnet"
    shutil.copytree(DEMO_BUNDLE, dest)
    return dest


def _raster(path: Path, size: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    bands = [np.sin(xx / 13 + k) * np.cos(yy / 9 - k) * 100 + 128 + rng.normal(0, 5, xx.shape) for k in range(3)]
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8", crs="EPSG:32633",
                       transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000), tiled=True, compress="deflate") as ds:
        ds.write(np.clip(np.stack(bands), 0, 255).astype(np.uint8))
    return path


def _n_windows(size: int) -> int:
    return len(raster_windows(size, size, 256, 25))


def _hashes(folder: Path, suffixes=(".tif", ".xml")) -> Dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())
            if p.suffix in suffixes}


def _glnet(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([PY, "-m", "glnet.glnet_core", *[str(a) for a in args]], capture_output=True, text=True,
                          timeout=LIMIT_S, **kw)


def _reference(bundle: Path, src: Path, folder: Path) -> Dict[str, str]:
    """The outputs of a single-process run."""
    folder.mkdir()
    segment(src, bundle, OutputOptions(folder / "mask.tif", folder / "conf.tif"), EngineOptions(**ENGINE))
    return _hashes(folder)


def _wait_for(condition: Callable[[], bool], what: str, limit_s: float = LIMIT_S) -> None:
    end = time.monotonic() + limit_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _done_in_state(mask: Path) -> int:
    state = mask.with_name(f".{mask.name}.glnet-resume.json")
    try:
        return int(json.loads(state.read_text())["done"])
    except (OSError, ValueError, KeyError):
        return -1


def _kill_group(proc: subprocess.Popen) -> None:
    """Kill ``proc``'s whole process group (it was started in a session of its own) and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=LIMIT_S)


def _group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


# Runs `glnet` with a checkpoint after every window, so that the state file shows the progress.
_CHECKPOINT_EVERY_WINDOW = ("import sys\nfrom glnet.glnet_core.engine import resume\nresume.CHECKPOINT_SECONDS = 0\n"
                            "from glnet.glnet_core.cli.main import main\nsys.exit(main(sys.argv[1:]))\n")


# ------------------------------------------------------------------ the same files


def test_a_dask_run_writes_the_same_mask_confidence_and_polygons_as_one_process(bundle, tmp_path):
    src = _raster(tmp_path / "in.tif", 700)
    outs = {}
    for name, extra in (("one", []), ("dask", ["--dask", "local:2"])):
        out = tmp_path / name
        out.mkdir()
        r = _glnet("segment", src, "--model", bundle, "--out-mask", out / "mask.tif", "--out-confidence",
                   out / "conf.tif", "--out-vector", out / "poly.gpkg", "--min-area", "2", *WINDOWS, *extra,
                   "--profile", tmp_path / f"{name}.json", "--quiet")
        assert r.returncode == 0, r.stderr
        assert r.stderr == "", "no line of Dask's own"
        outs[name] = out
    assert _hashes(outs["dask"]) == _hashes(outs["one"])
    assert sorted(_hashes(outs["one"])) == ["conf.tif", "mask.tif", "mask.tif.aux.xml"]
    one, dask = (gpd.read_file(outs[n] / "poly.gpkg", layer="poly") for n in ("one", "dask"))
    assert len(one) > 10
    assert one.drop(columns="geometry").equals(dask.drop(columns="geometry"))
    assert list(one.geometry.to_wkb()) == list(dask.geometry.to_wkb())
    prof = json.loads((tmp_path / "dask.json").read_text())
    assert (prof["dask"], prof["workers"], prof["pipeline"]) == ("local:2", 2, False)
    assert prof["windows"] == prof["windows_classified"] == 16
    assert prof["other_s"] >= 0


def test_progress_counts_windows_in_order_with_an_eta(bundle, tmp_path):
    src = _raster(tmp_path / "in.tif", 700)
    seen: List[Progress] = []
    logs: List[str] = []
    r = segment(src, bundle, tmp_path / "mask.tif", EngineOptions(dask="local:2", **ENGINE),
                callbacks=Callbacks(progress=seen.append, log=logs.append))
    assert (r.dask, r.workers, r.windows) == ("local:2", 2, 16)
    done = [p.windows_done for p in seen]
    assert done == sorted(done) and done[-1] == 16 and seen[-1].done == seen[-1].total == r.patches
    assert any(p.eta_s is not None for p in seen[1:])
    assert any(line.startswith("Dask cluster local:2: 2 workers") for line in logs)


def test_workers_read_their_windows_themselves_over_http(bundle, tmp_path):
    from glnet.benchmarks.range_server import serve

    www = tmp_path / "www"
    www.mkdir()
    src = _raster(www / "scene.tif", 600, seed=2)
    ref = _reference(bundle, src, tmp_path / "ref")
    out = tmp_path / "out"
    out.mkdir()
    with serve(www) as server:
        r = _glnet("segment", f"/vsicurl/{server.url}/scene.tif", "--model", bundle, "--out-mask", out / "mask.tif",
                   "--out-confidence", out / "conf.tif", *WINDOWS, "--dask", "local:2", "--quiet")
        requests = server.requests
    assert r.returncode == 0, r.stderr
    assert _hashes(out) == ref
    assert requests > 0


# ------------------------------------------------------------------ faults


def test_a_worker_killed_during_a_run_has_its_windows_recomputed_and_the_files_are_the_same(bundle, tmp_path):
    src = _raster(tmp_path / "in.tif", 1200, seed=3)
    ref = _reference(bundle, src, tmp_path / "ref")
    out = tmp_path / "out"
    out.mkdir()
    with shared_cluster("local:2") as client:
        before = client.run(os.getpid)
        killed: List[int] = []

        def kill_one(p: Progress) -> None:
            if p.windows_done >= 3 and not killed:
                pid = sorted(before.values())[0]
                os.kill(pid, signal.SIGKILL)  # mid-run: the other windows are queued or running on both workers
                killed.append(pid)

        r = segment(src, bundle, OutputOptions(out / "mask.tif", out / "conf.tif"),
                    EngineOptions(dask="local:2", **ENGINE), callbacks=Callbacks(progress=kill_one))
        assert killed, "the worker was killed before the run ended"
        _wait_for(lambda: len(client.scheduler_info(n_workers=-1)["workers"]) == 2, "the nanny's new worker")
        after = client.run(os.getpid)
    assert killed[0] not in after.values()
    assert r.windows == r.windows_classified == _n_windows(1200)
    assert _hashes(out) == ref
    assert_no_parts(tmp_path)


def test_cancel_cancels_the_tasks_and_leaves_nothing(bundle, tmp_path):
    src = _raster(tmp_path / "in.tif", 1200)
    out = tmp_path / "out"
    out.mkdir()
    with shared_cluster("local:2") as client:
        seen: List[int] = []

        def cancelled() -> bool:
            return bool(seen) and seen[-1] >= 2

        with pytest.raises(Cancelled):
            segment(src, bundle, OutputOptions(out / "mask.tif", out / "conf.tif"),
                    EngineOptions(dask="local:2", **ENGINE),
                    callbacks=Callbacks(progress=lambda p: seen.append(p.windows_done), is_cancelled=cancelled))
        assert list(out.iterdir()) == []
        # Every future of the run was cancelled: the cluster forgets its tasks.
        _wait_for(lambda: not any(client.processing().values()) and not client.who_has(), "the cluster to go idle",
                  limit_s=30)


def test_ctrl_c_stops_the_run_and_its_local_cluster_and_leaves_nothing(bundle, tmp_path):
    src = _raster(tmp_path / "in.tif", 1200)
    out = tmp_path / "out"
    out.mkdir()
    mask = out / "mask.tif"
    proc = subprocess.Popen([PY, "-c", _CHECKPOINT_EVERY_WINDOW, "segment", str(src), "--model", str(bundle),
                             "--out-mask", str(mask), *WINDOWS, "--dask", "local:2", "--quiet"],
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _wait_for(lambda: _done_in_state(mask) >= 2, "two windows written")
        os.kill(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=LIMIT_S)
    finally:
        if proc.poll() is None:
            _kill_group(proc)
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["glnet: error: interrupted"]
    assert list(out.iterdir()) == []
    _wait_for(lambda: _group_gone(proc.pid), "the local cluster's processes to end", limit_s=30)


def test_a_killed_client_resumes_to_the_same_files(bundle, tmp_path):
    src = _raster(tmp_path / "in.tif", 1200, seed=5)
    ref = _reference(bundle, src, tmp_path / "ref")
    out = tmp_path / "out"
    out.mkdir()
    mask = out / "mask.tif"
    args = ["segment", str(src), "--model", str(bundle), "--out-mask", str(mask), "--out-confidence",
            str(out / "conf.tif"), *WINDOWS, "--dask", "local:2", "--quiet"]
    # The client in a session of its own: killing its group kills it and the local cluster it started.
    proc = subprocess.Popen([PY, "-c", _CHECKPOINT_EVERY_WINDOW, *args], stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        _wait_for(lambda: _done_in_state(mask) >= 5, "five windows written")
    finally:
        _kill_group(proc)
    kept = _done_in_state(mask)
    assert 5 <= kept < _n_windows(1200), "killed mid-run"
    assert not mask.exists()
    r = _glnet(*args[:-1], "--resume", "--quiet")
    assert r.returncode == 0, r.stderr
    assert _hashes(out) == ref
    assert_no_parts(tmp_path)


def test_a_scheduler_that_goes_away_ends_the_run_with_one_line_and_a_resumable_state(bundle, tmp_path):
    src = _raster(tmp_path / "in.tif", 1500, seed=6)
    ref = _reference(bundle, src, tmp_path / "ref")
    out = tmp_path / "out"
    out.mkdir()
    mask = out / "mask.tif"
    scheduler_file = tmp_path / "scheduler.json"
    logs = (tmp_path / "scheduler.log").open("w")
    scheduler = subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(scheduler_file)], stdout=logs, stderr=logs,
                                 start_new_session=True)
    workers = None
    try:
        _wait_for(lambda: scheduler_file.exists() and scheduler_file.stat().st_size > 0, "the scheduler file", 60)
        workers = subprocess.Popen([DASK, "worker", "--nworkers", "2", "--nthreads", "1", "--host", "127.0.0.1",
                                    "--no-dashboard", "--scheduler-file", str(scheduler_file)], stdout=logs,
                                   stderr=logs, start_new_session=True)
        client = subprocess.Popen([PY, "-c", _CHECKPOINT_EVERY_WINDOW, "segment", str(src), "--model", str(bundle),
                                   "--out-mask", str(mask), "--out-confidence", str(out / "conf.tif"), *WINDOWS,
                                   "--dask", str(scheduler_file), "--quiet"], stderr=subprocess.PIPE, text=True)
        try:
            _wait_for(lambda: _done_in_state(mask) >= 3 or client.poll() is not None, "three windows written")
            assert client.poll() is None, client.communicate()[1]
            _kill_group(scheduler)
            _, err = client.communicate(timeout=LIMIT_S)
        finally:
            if client.poll() is None:
                client.kill()
                client.wait(timeout=LIMIT_S)
    finally:
        for p in (scheduler, workers):
            if p is not None:
                _kill_group(p)
        logs.close()
    line = assert_refused(subprocess.CompletedProcess([], client.returncode, "", err), 1,
                          contains="lost the Dask scheduler")
    assert "--resume" in line
    kept = _done_in_state(mask)
    n = _n_windows(1500)
    assert 3 <= kept < n and f"{kept} of {n} windows are kept" in line
    # The same command with --resume continues; here in this process (the cluster is gone): the same bytes.
    r = _glnet("segment", src, "--model", bundle, "--out-mask", mask, "--out-confidence", out / "conf.tif", *WINDOWS,
               "--resume", "--quiet")
    assert r.returncode == 0, r.stderr
    assert _hashes(out) == ref
    assert_no_parts(tmp_path)


# ------------------------------------------------------------------ the option itself

_WITHOUT_DASK = textwrap.dedent("""
    import importlib.abc, sys
    class HideDask(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path, target=None):
            if name.split(".")[0] in ("dask", "distributed"):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None
    sys.meta_path.insert(0, HideDask())
    from glnet.glnet_core.cli.main import main
    sys.exit(main(sys.argv[1:]))
""")


def test_without_dask_the_option_is_one_line_saying_how_to_install_it_and_nothing_else_changes(bundle, tmp_path):
    src = _raster(tmp_path / "in.tif", 300)
    args = ["segment", str(src), "--model", str(bundle), "--out-mask", str(tmp_path / "mask.tif"), *WINDOWS, "--quiet"]
    r = subprocess.run([PY, "-c", _WITHOUT_DASK, *args, "--dask", "local:2"], capture_output=True, text=True,
                       timeout=LIMIT_S)
    line = assert_refused(r, 2, contains="pip install 'glnet[dask]'")
    assert "--dask" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif"]
    r = subprocess.run([PY, "-c", _WITHOUT_DASK, *args], capture_output=True, text=True, timeout=LIMIT_S)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "mask.tif").exists()


@pytest.mark.parametrize("value, message", [
    ("local:0", "local:N needs a whole number of workers from 1 to 1024"),
    ("local:two", "local:N needs a whole number"),
    ("http://127.0.0.1:8786", "unknown scheme 'http'"),
    ("tcp://127.0.0.1", "SCHEME://HOST:PORT"),
    ("no-such-scheduler.json", "neither local:N, a scheduler address"),
])
def test_a_bad_dask_value_is_one_line_before_any_work(cli_error, tmp_path, value, message):
    src = _raster(tmp_path / "in.tif", 64)
    line = cli_error(["segment", str(src), "--model", str(DEMO_BUNDLE), "--out-mask", str(tmp_path / "m.tif"),
                      "--dask", value])
    assert line.startswith("glnet: error: --dask: ") and message in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif"]


@pytest.mark.parametrize("text", ['{"type": "Scheduler"}', "not json", '{"address": "http://x:1"}'])
def test_a_file_that_is_no_scheduler_file_is_one_line(cli_error, tmp_path, text):
    src = _raster(tmp_path / "in.tif", 64)
    (tmp_path / "scheduler.json").write_text(text)
    line = cli_error(["segment", str(src), "--model", str(DEMO_BUNDLE), "--out-mask", str(tmp_path / "m.tif"),
                      "--dask", str(tmp_path / "scheduler.json")])
    assert line == (f"glnet: error: --dask: {tmp_path / 'scheduler.json'} is not a Dask scheduler file (JSON with "
                    "the scheduler's \"address\", as dask scheduler --scheduler-file writes)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif", "scheduler.json"]


def test_a_scheduler_nobody_runs_is_one_line_and_nothing_written(bundle, tmp_path):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    src = _raster(tmp_path / "in.tif", 64)
    r = _glnet("segment", src, "--model", bundle, "--out-mask", tmp_path / "m.tif", "--dask", f"tcp://127.0.0.1:{port}")
    assert_refused(r, 2, contains=f"--dask: cannot reach the Dask scheduler tcp://127.0.0.1:{port}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif"]
