"""Installing the plugin: `make qgis-setup`'s result, the plugin zip, missing dependencies.

All through the real QGIS: qgis_process.bin with the user's profile (where
`make qgis-setup` linked and enabled this checkout) or with a fresh profile.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import BASE_ENV, DEFAULT_PROFILE, LINK_PARENT, REPO

from glnet.glnet_plugin import dependencies
from glnet.glnet_plugin.plugin_zip import build_zip

ALGORITHMS = ("glnet:segment", "glnet:vectorize", "glnet:evaluate", "glnet:zonal_stats", "glnet:model_info")


def test_qgis_setup_linked_and_enabled(qgis_process):
    """`make qgis-setup` linked this checkout as plugin glnet; qgis_process lists every algorithm."""
    link = DEFAULT_PROFILE / "python" / "plugins" / "glnet"
    assert link.is_symlink() and link.resolve() == REPO.resolve()
    proc = qgis_process("list")
    assert proc.returncode == 0, proc.stderr
    for alg in ALGORITHMS:
        assert alg in proc.stdout


def test_qgis_setup_is_idempotent():
    """A second `make qgis-setup` installs nothing and changes nothing."""
    link = DEFAULT_PROFILE / "python" / "plugins" / "glnet"
    before = os.lstat(link).st_mtime_ns
    proc = subprocess.run(["make", "--no-print-directory", "-C", str(REPO), "qgis-setup"], env=BASE_ENV,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout
    assert "apt-get" not in proc.stdout and "pip" not in proc.stdout.replace("pip-install", "")
    assert "all Python dependencies are available" in proc.stdout
    assert os.lstat(link).st_mtime_ns == before


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory) -> Path:
    return build_zip(REPO, tmp_path_factory.mktemp("zip") / "glnet.zip")


def test_zip_layout(plugin_zip):
    names = zipfile.ZipFile(plugin_zip).namelist()
    assert all(n.startswith("glnet/") for n in names)
    # QGIS's installer takes the folder of the first metadata.txt as the plugin name.
    assert sorted(n for n in names if n.endswith("metadata.txt")) == ["glnet/metadata.txt"]
    for required in ("glnet/__init__.py", "glnet/glnet_plugin/plugin.py", "glnet/glnet_plugin/provider.py",
                     "glnet/glnet_core/engine/segment.py", "glnet/glnet_core/engine/manifest.schema.json",
                     "glnet/glnet_core/products/vectorize.py"):
        assert required in names
    assert any(n.startswith("glnet/i18n/") and n.endswith(".qm") for n in names)
    for banned in ("tests/", "benchmarks/", "models/", "export/", ".venv/", "__pycache__", ".pyc", "Makefile",
                   "glnet_core/cli/", "glnet_core/samples/", ".onnx"):
        assert not any(banned in n for n in names), banned
    meta = configparser.ConfigParser()
    meta.read_string(zipfile.ZipFile(plugin_zip).read("glnet/metadata.txt").decode())
    import glnet

    assert meta["general"]["version"] == glnet.__version__


def test_zip_installs_into_fresh_profile_and_runs(qgis_app, plugin_zip, fresh_profile, qgis_process, ortho, tiny_bundle, tmp_path):
    """What Plugins > Install from ZIP does (QGIS's own unzip into the profile's plugin folder), then a headless run."""
    from pyplugin_installer.unzip import unzip

    plugins = fresh_profile / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    unzip(str(plugin_zip), str(plugins))
    assert (plugins / "glnet" / "metadata.txt").is_file()

    # The fresh profile has no private onnxruntime; use the one make qgis-setup installed.
    env = {dependencies.DEPS_ENV: str(dependencies.deps_dir(DEFAULT_PROFILE))}
    proc = qgis_process("plugins", "enable", "glnet", profile=fresh_profile, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listing = qgis_process("list", profile=fresh_profile, env=env)
    assert "glnet:segment" in listing.stdout

    mask = tmp_path / "mask.tif"
    run = qgis_process("run", "glnet:segment", "--", f"INPUT={ortho}", f"MODEL={tiny_bundle}", f"OUTPUT_MASK={mask}",
                       profile=fresh_profile, env=env)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert mask.is_file()


def test_missing_dependency_is_explained(fresh_profile, qgis_process, ortho, tiny_bundle, tmp_path):
    """Without onnxruntime the algorithms still list, and running one says what is missing and how to fix it."""
    plugins = fresh_profile / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    (plugins / "glnet").symlink_to(REPO, target_is_directory=True)
    empty = tmp_path / "no-deps"
    empty.mkdir()
    env = {dependencies.DEPS_ENV: str(empty)}
    assert qgis_process("plugins", "enable", "glnet", profile=fresh_profile, env=env).returncode == 0
    assert "glnet:segment" in qgis_process("list", profile=fresh_profile, env=env).stdout

    mask = tmp_path / "mask.tif"
    run = qgis_process("run", "glnet:segment", "--", f"INPUT={ortho}", f"MODEL={tiny_bundle}", f"OUTPUT_MASK={mask}",
                       profile=fresh_profile, env=env)
    assert run.returncode != 0
    text = run.stdout + run.stderr
    assert "onnxruntime" in text and "pip install" in text and str(empty) in text
    assert not mask.exists()
    # Headless runs never install: the private folder stays empty.
    assert list(empty.iterdir()) == []


def test_dependency_tool_explains_without_installing(tmp_path):
    """`python3 -m glnet.glnet_plugin.dependencies` (what make qgis-setup runs) without --install only explains."""
    env = dict(BASE_ENV, PYTHONPATH=str(LINK_PARENT))
    env.pop(dependencies.DEPS_ENV, None)
    profile = tmp_path / "profile"
    proc = subprocess.run([sys.executable, "-m", "glnet.glnet_plugin.dependencies", "--profile", str(profile)],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.returncode == 1
    folder = profile / "glnet-deps" / f"python{sys.version_info[0]}.{sys.version_info[1]}"
    assert "onnxruntime" in proc.stderr and f"--target {folder}" in proc.stderr
    assert not folder.exists()


def test_check_reports_unimportable_and_old_modules():
    """Real imports: a module that does not exist, and one older than required."""
    import numpy

    missing = dependencies.Requirement(("glnet_no_such_module",), (1, 0), "python3-glnet-no-such")
    too_old = dependencies.Requirement(("numpy",), (99, 0), "python3-numpy")
    problems = dependencies.check([missing, too_old])
    assert [p.requirement for p in problems] == [missing, too_old]
    assert numpy.__version__ in problems[1].detail
    text = dependencies.explain(problems, Path("/x"))
    assert "apt-get install python3-glnet-no-such python3-numpy" in text


class _Desktop:
    """The two parts of the desktop's QgisInterface the installer offer uses, as real Qt/QGIS widgets."""

    def __init__(self):
        from qgis.gui import QgsMessageBar
        from qgis.PyQt.QtWidgets import QMainWindow

        self.window = QMainWindow()
        self.bar = QgsMessageBar(self.window)

    def mainWindow(self):  # noqa: N802 - QgisInterface's name
        return self.window

    def messageBar(self):  # noqa: N802
        return self.bar


def _buttons(bar):
    from qgis.PyQt.QtWidgets import QPushButton

    item = bar.currentItem()
    return sorted(b.text() for b in item.findChildren(QPushButton)) if item else []


def test_desktop_offers_install_only_for_the_private_folder(qgis_app):
    from glnet.glnet_plugin.dependency_dialog import offer_install

    onnx = next(r for r in dependencies.REQUIREMENTS if r.modules == ("onnxruntime",))
    rasterio = next(r for r in dependencies.REQUIREMENTS if r.modules == ("rasterio",))

    desktop = _Desktop()
    offer_install(desktop, [dependencies.Problem(onnx, "onnxruntime: ModuleNotFoundError")])
    assert "Install onnxruntime" in _buttons(desktop.bar)

    desktop = _Desktop()
    offer_install(desktop, [dependencies.Problem(rasterio, "rasterio: ModuleNotFoundError"),
                            dependencies.Problem(onnx, "onnxruntime: ModuleNotFoundError")])
    buttons = _buttons(desktop.bar)
    assert "Details" in buttons and "Install onnxruntime" not in buttons


def test_alternative_modules_have_their_own_minimum():
    """fiona or pyogrio: each is judged by its own version numbers."""
    import numpy

    either = dependencies.Requirement(("glnet_no_such_module", "numpy"), (99, 0), "python3-x", alternative_minimum=(1, 0))
    assert dependencies.check([either]) == []
    too_old = dependencies.Requirement(("glnet_no_such_module", "numpy"), (1, 0), "python3-x", alternative_minimum=(99, 0))
    (problem,) = dependencies.check([too_old])
    assert "glnet_no_such_module: ModuleNotFoundError" in problem.detail and numpy.__version__ in problem.detail
