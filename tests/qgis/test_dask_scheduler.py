"""glnet:segment's Dask scheduler parameter (DASK_SCHEDULER) with a real Dask cluster, through qgis_process.bin.

The cluster is the project's own workers: a scheduler and two workers
started from the .venv (glnet from this checkout, numpy 2), listening on
127.0.0.1 only, bounded by ``timeout`` and killed when the module's tests
end, failed or not. The client is QGIS's Python (numpy 1.24 on Debian 12)
with the Dask group ``make qgis-setup`` put into the plugin's private folder.
Every run is a real ``qgis_process.bin run glnet:segment`` on the real RGBA
orthophoto with a tiny random-weights bundle.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, Iterator, List

import pytest
from conftest import BASE_ENV, DEFAULT_PROFILE, REPO

from glnet.glnet_plugin import dependencies

#: The .venv's Dask command line (the workers' side).
DASK_CLI = REPO / ".venv" / "bin" / "dask"
VENV_PYTHON = REPO / ".venv" / "bin" / "python"
#: Seconds any process of the cluster may live (`timeout` ends it even if pytest is killed).
CLUSTER_LIFETIME_S = 600
#: Seconds to wait for the scheduler file and for both workers.
START_TIMEOUT_S = 90


def _venv_env() -> Dict[str, str]:
    """The environment of the .venv processes: nothing of QGIS's Python leaks into them."""
    env = {k: v for k, v in BASE_ENV.items() if k not in ("PYTHONPATH", "PYTHONHOME", dependencies.DEPS_ENV)}
    env["DASK_LOGGING__DISTRIBUTED"] = "warning"
    return env


def _stop(procs: List[subprocess.Popen]) -> None:
    """End every process of the cluster (each leads its own process group: the nanny's worker goes too)."""
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in procs:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory) -> Iterator[Dict[str, str]]:
    """A Dask scheduler and two one-thread workers from the .venv, on 127.0.0.1: ``address`` and ``file``."""
    assert DASK_CLI.exists(), f"{DASK_CLI} is missing; run make install"
    folder = tmp_path_factory.mktemp("dask-cluster")
    scheduler_file = folder / "scheduler.json"
    procs: List[subprocess.Popen] = []

    def start(name: str, *args: object) -> None:
        log = open(folder / f"{name}.log", "w")
        procs.append(subprocess.Popen(["timeout", str(CLUSTER_LIFETIME_S), str(DASK_CLI), *map(str, args)], cwd=folder,
                                      env=_venv_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        log.close()

    def logs() -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-1500:]}" for p in sorted(folder.glob("*.log")))

    try:
        start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", "0", "--scheduler-file", scheduler_file,
              "--no-dashboard")
        deadline = time.monotonic() + START_TIMEOUT_S
        address = None
        while address is None:
            assert time.monotonic() < deadline and procs[0].poll() is None, "the scheduler did not start\n" + logs()
            try:
                address = json.loads(scheduler_file.read_text())["address"]
            except (OSError, ValueError, KeyError):
                time.sleep(0.2)
        for i in range(2):
            start(f"worker{i}", "worker", "--nthreads", "1", "--scheduler-file", scheduler_file, "--host", "127.0.0.1",
                  "--no-dashboard", "--name", f"glnet-test-{i}", "--local-directory", folder / f"worker{i}")
        wait = subprocess.run(
            [str(VENV_PYTHON), "-c", "import sys, distributed; c = distributed.Client(scheduler_file=sys.argv[1], timeout=30); "
             "c.wait_for_workers(2, timeout=float(sys.argv[2])); c.close()", str(scheduler_file), str(START_TIMEOUT_S)],
            env=_venv_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=START_TIMEOUT_S + 30)
        assert wait.returncode == 0, wait.stdout[-2000:] + logs()
        yield {"address": address, "file": str(scheduler_file)}
    finally:
        _stop(procs)


@pytest.fixture(scope="module")
def plugin_profile(tmp_path_factory) -> Path:
    """A QGIS configuration root whose default profile has this checkout enabled as plugin ``glnet``."""
    root = tmp_path_factory.mktemp("qgis-config")
    plugins = root / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "glnet").symlink_to(REPO, target_is_directory=True)
    return root


def _env(deps: Path = None) -> Dict[str, str]:
    # The private folder make qgis-setup filled (onnxruntime and the Dask group).
    return {dependencies.DEPS_ENV: str(deps or dependencies.deps_dir(DEFAULT_PROFILE))}


@pytest.fixture(scope="module")
def segment(plugin_profile, qgis_process):
    """Run ``qgis_process.bin run glnet:segment -- NAME=VALUE...`` in :func:`plugin_profile`."""
    enabled = qgis_process("plugins", "enable", "glnet", profile=plugin_profile, env=_env())
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr

    def run(*params: str, deps: Path = None) -> subprocess.CompletedProcess:
        return qgis_process("run", "glnet:segment", "--", *params, profile=plugin_profile, env=_env(deps), timeout=300)

    return run


def _error_line(proc: subprocess.CompletedProcess) -> str:
    """The one line of glnet's message in qgis_process's report (after QGIS's own line for a refused value)."""
    lines = (proc.stdout + proc.stderr).splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("ERROR:"))
    first = lines[at][len("ERROR:"):].strip()
    if first == "An error was encountered while checking parameter values":
        return lines[at + 1].strip()
    return first


def test_the_parameter_is_advanced_optional_and_empty_by_default(qgis_app):
    from qgis.core import QgsApplication, QgsProcessingParameterDefinition

    alg = QgsApplication.processingRegistry().algorithmById("glnet:segment")
    param = alg.parameterDefinition("DASK_SCHEDULER")
    assert param.type() == "string" and param.defaultValue() == ""
    assert param.flags() & QgsProcessingParameterDefinition.FlagAdvanced
    assert param.flags() & QgsProcessingParameterDefinition.FlagOptional
    assert "tcp://HOST:PORT" in alg.shortHelpString() and dependencies.DASK_VERSION in alg.shortHelpString()


def test_the_dask_group_is_installed_and_pinned_to_the_workers_versions():
    """make qgis-setup put the Dask group into the private folder, at the versions the .venv's workers run."""
    dependencies.activate(dependencies.deps_dir(DEFAULT_PROFILE))
    assert dependencies.dask_problems() == [], "run make qgis-setup"
    pins = dict(spec.split("==") for spec in dependencies.DASK_PACKAGES)
    proc = subprocess.run([str(VENV_PYTHON), "-c", "import json, sys; from importlib import metadata; "
                           "print(json.dumps({n: metadata.version(n) for n in sys.argv[1:]}))", *pins],
                          env=_venv_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == pins


def test_a_run_on_the_cluster_writes_the_bytes_of_a_run_in_qgis(segment, dask_cluster, tmp_path, ortho, tiny_bundle):
    """The same algorithm in QGIS, on the scheduler's address and on its scheduler file: the same mask bytes."""
    outputs = {}
    for name, value in (("here", None), ("address", dask_cluster["address"]), ("file", dask_cluster["file"])):
        folder = tmp_path / name
        folder.mkdir()
        params = [f"INPUT={ortho}", f"MODEL={tiny_bundle}", f"OUTPUT_MASK={folder / 'mask.tif'}",
                  f"OUTPUT_CONFIDENCE={folder / 'confidence.tif'}"]
        proc = segment(*params, *([f"DASK_SCHEDULER={value}"] if value else []))
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        if value:
            assert f"Dask cluster {value}: 2 workers on 1 host" in proc.stdout
        outputs[name] = {f.name: f.read_bytes() for f in folder.glob("*.tif")}
    assert set(outputs["here"]) == {"mask.tif", "confidence.tif"}
    assert outputs["address"] == outputs["here"]
    assert outputs["file"] == outputs["here"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("value, message", [
    ("tcp://127.0.0.1", "a scheduler address is SCHEME://HOST:PORT"),
    ("udp://127.0.0.1:8786", "unknown scheme 'udp'"),
    ("local:2", "local:N is not offered inside QGIS"),
    ("/nonexistent/scheduler.json", "nor an existing scheduler file"),
    ("closed port", "cannot reach the Dask scheduler tcp://127.0.0.1:"),
])
def test_a_bad_scheduler_gives_one_line_and_writes_nothing(segment, tmp_path, ortho, tiny_bundle, value, message):
    """Refused before any work (the value's checks), or when the scheduler does not answer (the engine's)."""
    refused_by_check = value != "closed port"
    if not refused_by_check:
        value = f"tcp://127.0.0.1:{_closed_port()}"
    out = tmp_path / "out"
    out.mkdir()
    proc = segment(f"INPUT={ortho}", f"MODEL={tiny_bundle}", f"OUTPUT_MASK={out / 'mask.tif'}",
                   f"DASK_SCHEDULER={value}")
    assert proc.returncode != 0
    line = _error_line(proc)
    assert message in line, proc.stdout[-2000:] + proc.stderr[-2000:]
    if refused_by_check:
        assert line.startswith("Dask scheduler") and "(DASK_SCHEDULER): " in line
    assert list(out.iterdir()) == []


def test_without_dask_the_parameter_says_how_to_install_and_runs_in_qgis_still_work(segment, tmp_path, ortho, tiny_bundle):
    """A private folder with onnxruntime only: Dask is optional, and asking for it says how to get it."""
    deps = tmp_path / "onnxruntime-only"
    deps.mkdir()
    for entry in dependencies.deps_dir(DEFAULT_PROFILE).glob("onnxruntime*"):
        (deps / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())
    out = tmp_path / "out"
    out.mkdir()
    proc = segment(f"INPUT={ortho}", f"MODEL={tiny_bundle}", f"OUTPUT_MASK={out / 'mask.tif'}",
                   "DASK_SCHEDULER=tcp://127.0.0.1:8786", deps=deps)
    assert proc.returncode != 0
    line = _error_line(proc)
    assert line.startswith("Dask scheduler") and "Dask is not installed in QGIS's Python" in line
    assert "distributed" in line and "'Install Dask'" in line and "make qgis-setup" in line and str(deps) in line
    assert list(out.iterdir()) == []

    here = segment(f"INPUT={ortho}", f"MODEL={tiny_bundle}", f"OUTPUT_MASK={out / 'mask.tif'}", deps=deps)
    assert here.returncode == 0, here.stdout[-2000:] + here.stderr[-2000:]
    assert (out / "mask.tif").is_file()


class _Desktop:
    """The two parts of the desktop's QgisInterface the install offer uses, as real Qt/QGIS widgets."""

    def __init__(self):
        from qgis.gui import QgsMessageBar
        from qgis.PyQt.QtWidgets import QMainWindow

        self.window = QMainWindow()
        self.bar = QgsMessageBar(self.window)

    def mainWindow(self):  # noqa: N802 - QgisInterface's names
        return self.window

    def messageBar(self):  # noqa: N802
        return self.bar

    def close_offer(self, item) -> None:
        """Close a message bar item as its close button does (deleted at once, not at the next event loop turn)."""
        from qgis.PyQt.QtCore import QCoreApplication, QEvent

        self.bar.popWidget(item)
        QCoreApplication.sendPostedEvents(None, QEvent.DeferredDelete)


def test_the_desktop_offers_the_dask_install(qgis_app):
    """The message bar offer the dialog check makes in the desktop when Dask is missing (nothing is installed)."""
    from qgis.PyQt.QtWidgets import QPushButton

    from glnet.glnet_plugin import dependency_dialog

    missing = dependencies.Requirement(("glnet_no_such_dask",), (1, 0), None)
    desktop = _Desktop()
    dependency_dialog.offer_dask_install(desktop, dependencies.check([missing]))
    item = desktop.bar.currentItem()
    assert item is not None and [b.text() for b in item.findChildren(QPushButton)] == ["Install Dask"]
    # One offer at a time.
    dependency_dialog.offer_dask_install(desktop, dependencies.check([missing]))
    assert len(desktop.bar.items()) == 1
    desktop.close_offer(item)
    assert dependency_dialog._dask_item is None
    # A system package (apt) is explained by the run's message, not offered.
    apt = dependencies.Requirement(("glnet_no_such_yaml",), (1, 0), "python3-glnet-no-such")
    other = _Desktop()
    dependency_dialog.offer_dask_install(other, dependencies.check([apt, missing]))
    assert other.bar.currentItem() is None


def test_the_dialogs_check_makes_the_offer_in_the_desktop(qgis_app, monkeypatch, tmp_path, ortho, tiny_bundle):
    """The dialog's check (checkParameterValues, the GUI thread) refuses in one line and offers the install."""
    import qgis.utils
    from qgis.core import QgsApplication, QgsProcessingContext
    from qgis.PyQt.QtWidgets import QPushButton

    desktop = _Desktop()
    # Dask "missing": one more module that does not exist among what the parameter needs.
    missing = dependencies.Requirement(("glnet_no_such_distributed",), (1, 0), None)
    monkeypatch.setattr(dependencies, "DASK_REQUIREMENTS", dependencies.DASK_REQUIREMENTS + (missing,))
    monkeypatch.setattr(qgis.utils, "iface", desktop)
    alg = QgsApplication.processingRegistry().createAlgorithmById("glnet:segment")
    params = {"INPUT": str(ortho), "MODEL": str(tiny_bundle), "OUTPUT_MASK": str(tmp_path / "mask.tif"),
              "DASK_SCHEDULER": "tcp://127.0.0.1:8786"}
    ok, message = alg.checkParameterValues(params, QgsProcessingContext())
    assert not ok and "\n" not in message
    assert message.startswith("Dask scheduler") and "glnet_no_such_distributed" in message
    item = desktop.bar.currentItem()
    assert item is not None and [b.text() for b in item.findChildren(QPushButton)] == ["Install Dask"]
    desktop.close_offer(item)
    # Without the parameter, nothing is asked of Dask.
    assert alg.checkParameterValues(dict(params, DASK_SCHEDULER=""), QgsProcessingContext())[0]


def test_the_toolbox_path_on_the_cluster_same_bytes_and_cancel(qgis_app, dask_cluster, tmp_path, ortho, tiny_bundle):
    """processing.run in this QGIS process (what the Toolbox runs): the same bytes; a cancel mid-run leaves nothing."""
    import processing
    from qgis.core import QgsProcessingException, QgsProcessingFeedback

    class CancelAtFirstProgress(QgsProcessingFeedback):
        def setProgress(self, progress: float) -> None:  # noqa: N802 - QGIS API name
            super().setProgress(progress)
            if progress > 0:
                self.cancel()

    masks = {}
    for name, value in (("here", ""), ("cluster", dask_cluster["address"])):
        mask = tmp_path / name / "mask.tif"
        mask.parent.mkdir()
        processing.run("glnet:segment", {"INPUT": str(ortho), "MODEL": str(tiny_bundle), "OUTPUT_MASK": str(mask),
                                         "DASK_SCHEDULER": value}, feedback=QgsProcessingFeedback())
        masks[name] = mask.read_bytes()
    assert masks["cluster"] == masks["here"]

    out = tmp_path / "cancelled"
    out.mkdir()
    feedback = CancelAtFirstProgress()
    with pytest.raises(QgsProcessingException, match="Cancelled; no output was written."):
        processing.run("glnet:segment", {"INPUT": str(ortho), "MODEL": str(tiny_bundle),
                                         "OUTPUT_MASK": str(out / "mask.tif"),
                                         "DASK_SCHEDULER": dask_cluster["address"]}, feedback=feedback)
    assert feedback.isCanceled() and list(out.iterdir()) == []
