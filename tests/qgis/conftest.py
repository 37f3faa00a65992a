"""Fixtures of the QGIS tests: real QGIS 3.22, its own Python, no mocks.

These tests run under QGIS's Python (``make test-qgis``), where the system's
rasterio, geopandas and shapely and the plugin-private onnxruntime that
``make qgis-setup`` installed are what the plugin really gets. torch is not
importable here: bundles are made by the ``.venv`` command line.

The package ``glnet`` is this checkout, imported through a link named
``glnet`` (the plugin folder name QGIS uses).
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Sequence

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
#: The environment before qgis.testing.start_app(), which points
#: QGIS_CUSTOM_CONFIG_PATH at a throw-away profile: subprocesses (qgis_process,
#: make) start from this one so they see the user's real profile.
BASE_ENV = dict(os.environ)

#: The checkout (the plugin folder).
REPO = Path(__file__).resolve().parents[2]
#: The real sample rasters CI places beside the checkout.
SHARED_DATA = REPO.parent / "shared" / "data"
#: QGIS's command-line runner (the wrapper /usr/bin/qgis_process fails on Debian 12).
QGIS_PROCESS = os.environ.get("QGIS_PROCESS", "/usr/bin/qgis_process.bin")
#: The QGIS profile `make qgis-setup` linked the plugin into.
DEFAULT_PROFILE = Path(os.environ.get("QGIS_PROFILE", str(Path.home() / ".local/share/QGIS/QGIS3/profiles/default")))
#: The .venv command line, for what needs torch (making bundles).
GLNET_CLI = REPO / ".venv" / "bin" / "glnet"

# Make `import glnet` mean this checkout, under the plugin's folder name.
LINK_PARENT = Path(tempfile.mkdtemp(prefix="glnet-qgis-tests-"))
(LINK_PARENT / "glnet").symlink_to(REPO, target_is_directory=True)
sys.path.insert(0, str(LINK_PARENT))
# rmtree removes the link itself, never what it points to.
atexit.register(shutil.rmtree, LINK_PARENT, True)

from glnet.glnet_plugin import dependencies  # noqa: E402  (needs the link above)

# qgis.testing.start_app() uses a throw-away profile, so point the plugin at
# the private folder of the profile `make qgis-setup` prepared.
os.environ.setdefault(dependencies.DEPS_ENV, str(dependencies.deps_dir(DEFAULT_PROFILE)))


def _run(cmd: Sequence[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(list(map(str, cmd)), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.fixture(scope="session")
def qgis_app():
    """A started QgsApplication (offscreen) with Processing and the glnet provider.

    Fails, not skips, when the set-up is incomplete: that is a CI failure.
    """
    from qgis.testing import start_app

    app = start_app()
    from qgis.core import QgsApplication

    # Where QGIS keeps its Python parts (processing, pyplugin_installer); the
    # desktop and qgis_process put these on sys.path themselves.
    python_dir = Path(QgsApplication.pkgDataPath()) / "python"
    for folder in (python_dir, python_dir / "plugins"):
        if str(folder) not in sys.path:
            sys.path.append(str(folder))
    from processing.core.Processing import Processing

    Processing.initialize()
    import glnet

    plugin = glnet.classFactory(None)
    plugin.initProcessing()
    assert QgsApplication.processingRegistry().providerById("glnet") is not None, "glnet provider not registered"
    yield app
    plugin.unload()


def recording_feedback(cancel_after_progress: bool = False, cancelled: bool = False):
    """A real QgsProcessingFeedback (a subclass) that records what it is told.

    It keeps ``infos``, ``warnings``, ``texts`` (progress texts) and
    ``progress``. ``cancel_after_progress``: cancels as soon as the first
    progress above 0 arrives (the user pressing Cancel mid-run);
    ``cancelled``: cancelled before the run starts.
    """
    from qgis.core import QgsProcessingFeedback

    class Recorder(QgsProcessingFeedback):
        def __init__(self) -> None:
            super().__init__()
            self.infos: List[str] = []
            self.warnings: List[str] = []
            self.texts: List[str] = []
            self.progress: List[float] = []

        def pushInfo(self, info: str) -> None:  # noqa: N802 - QGIS API name
            self.infos.append(info)
            super().pushInfo(info)

        def pushWarning(self, warning: str) -> None:  # noqa: N802
            self.warnings.append(warning)
            super().pushWarning(warning)

        def setProgressText(self, text: str) -> None:  # noqa: N802
            self.texts.append(text)
            super().setProgressText(text)

        def setProgress(self, progress: float) -> None:  # noqa: N802
            self.progress.append(progress)
            super().setProgress(progress)
            if cancel_after_progress and progress > 0:
                self.cancel()

    fb = Recorder()
    if cancelled:
        fb.cancel()
    return fb


@pytest.fixture(scope="session")
def ortho() -> Path:
    """A real 4-band (RGB + alpha) UTM 33N orthophoto."""
    path = SHARED_DATA / "ortho_utm33n_rgba.tif"
    assert path.is_file(), f"{path} is missing (CI places shared/ beside the checkout)"
    return path


@pytest.fixture(scope="session")
def make_bundle(tmp_path_factory) -> Callable[..., Path]:
    """Make a random-weights bundle with the .venv command line (cached per arguments)."""
    cache: Dict[tuple, Path] = {}

    def make(config: str = "tiny", classes: str = "deepglobe", seed: int = 1, modes: str = "full,g2l") -> Path:
        key = (config, classes, seed, modes)
        if key not in cache:
            assert GLNET_CLI.exists(), f"{GLNET_CLI} is missing; run make install"
            folder = tmp_path_factory.mktemp("bundle")
            ckpt = folder / "model.ckpt"
            bundle = folder / f"{config}.glnet"
            for cmd in (
                [GLNET_CLI, "init-model", "--config", config, "--classes", classes, "--seed", str(seed), "--out", ckpt],
                [GLNET_CLI, "export", ckpt, "--out", bundle, "--modes", modes],
            ):
                proc = _run(cmd)
                assert proc.returncode == 0, proc.stderr
            cache[key] = bundle
        return cache[key]

    return make


@pytest.fixture(scope="session")
def tiny_bundle(make_bundle) -> Path:
    """A tiny random-weights DeepGlobe bundle folder (modes full and g2l)."""
    return make_bundle()


@pytest.fixture(scope="session")
def qgis_process() -> Callable[..., subprocess.CompletedProcess]:
    """Run ``qgis_process.bin ARGS`` headless.

    Keyword arguments: ``profile`` (a QGIS profile root for
    ``QGIS_CUSTOM_CONFIG_PATH``; default: the user's profiles, where
    ``make qgis-setup`` enabled the plugin), ``env`` (extra variables),
    ``timeout`` (seconds).
    """

    def run(*args, profile: Optional[Path] = None, env: Optional[Dict[str, str]] = None, timeout: float = 600):
        full_env = dict(BASE_ENV)
        # The test process's own override must not leak into a run meant to
        # exercise the default private folder of the profile.
        full_env.pop(dependencies.DEPS_ENV, None)
        if profile is not None:
            full_env["QGIS_CUSTOM_CONFIG_PATH"] = str(profile)
        full_env.update(env or {})
        return _run([QGIS_PROCESS, *args], env=full_env, timeout=timeout)

    return run


@pytest.fixture
def fresh_profile(tmp_path) -> Iterator[Path]:
    """An empty QGIS configuration root (pass as ``profile=`` to ``qgis_process``)."""
    root = tmp_path / "qgis-config"
    root.mkdir()
    yield root


# QGIS 3.22's Python bindings can crash while the interpreter tears down the
# QgsApplication and the objects the tests left to the garbage collector
# (a segmentation fault *after* every result is reported). The exit status
# must be pytest's, so leave without that teardown once pytest is done.
_exit_status = {"value": 0}


def pytest_sessionfinish(session, exitstatus):
    _exit_status["value"] = int(exitstatus)


def pytest_unconfigure(config):
    shutil.rmtree(LINK_PARENT, True)  # atexit handlers do not run after os._exit
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status["value"])
