"""The published plugin inside QGIS 3.22: its help links and icons.

While metadata.txt has no public homepage (a placeholder), every algorithm's
Help button and help text point at the README inside the plugin folder, in
this checkout and in a plugin installed from the zip by QGIS's own installer
code. The PNG icon the repository shows is the SVG source rendered by Qt.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import BASE_ENV, REPO

from glnet.glnet_plugin.plugin_metadata import placeholder_fields, read_metadata
from glnet.glnet_plugin.plugin_zip import build_zip


def _homepage_is_placeholder() -> bool:
    return "homepage" in placeholder_fields(read_metadata((REPO / "metadata.txt").read_text(encoding="utf-8")))


def _local_file(url: str) -> Path:
    from qgis.PyQt.QtCore import QUrl

    qurl = QUrl(url)
    assert qurl.isLocalFile(), url
    return Path(qurl.toLocalFile())


def test_every_algorithm_helps_with_the_shipped_readme(qgis_app):
    from qgis.core import QgsApplication

    provider = QgsApplication.processingRegistry().providerById("glnet")
    algorithms = provider.algorithms()
    assert algorithms
    homepage = read_metadata((REPO / "metadata.txt").read_text(encoding="utf-8"))["homepage"]
    for alg in algorithms:
        url = alg.helpUrl()
        assert url and f'href="{url}"' in alg.shortHelpString(), alg.id()
        if _homepage_is_placeholder():
            readme = _local_file(url)
            assert readme.is_file() and readme.resolve() == (REPO / "README.md").resolve(), (alg.id(), url)
            assert "example.org" not in alg.shortHelpString(), alg.id()
        else:
            assert url == homepage, alg.id()


def test_zip_installed_plugin_links_its_own_readme(qgis_app, tmp_path):
    """Installed from the zip (QGIS's installer unzip), the help link is the README in the installed folder."""
    from pyplugin_installer.unzip import unzip

    plugins = tmp_path / "plugins"
    unzip(str(build_zip(REPO, tmp_path / "glnet.zip")), str(plugins))
    code = "import glnet.glnet_plugin.algorithms.base as base; print(base.README_URL)"
    env = dict(BASE_ENV, PYTHONPATH=str(plugins), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    url = proc.stdout.strip().splitlines()[-1]
    if _homepage_is_placeholder():
        readme = _local_file(url)
        assert readme == plugins / "glnet" / "README.md" and readme.is_file()
        assert "## QGIS plugin" in readme.read_text(encoding="utf-8")
    else:
        assert url.startswith("https://")


def test_png_icon_is_the_svg_rendered(qgis_app):
    from qgis.PyQt.QtCore import Qt
    from qgis.PyQt.QtGui import QIcon, QImage, QPainter
    from qgis.PyQt.QtSvg import QSvgRenderer

    png = REPO / "glnet_plugin" / "icon.png"
    svg = REPO / "glnet_plugin" / "icon.svg"
    image = QImage(str(png))
    assert not image.isNull() and (image.width(), image.height()) == (128, 128)
    renderer = QSvgRenderer(str(svg))
    assert renderer.isValid()
    fresh = QImage(128, 128, QImage.Format_ARGB32)
    fresh.fill(Qt.transparent)
    painter = QPainter(fresh)
    painter.setRenderHint(QPainter.Antialiasing)
    renderer.render(painter)
    painter.end()
    image = image.convertToFormat(QImage.Format_ARGB32)
    differing = sum(image.pixel(x, y) != fresh.pixel(x, y) for y in range(0, 128, 4) for x in range(0, 128, 4))
    assert differing == 0, f"icon.png is not icon.svg rendered at 128 px ({differing} of 1024 sampled pixels differ)"
    assert not QIcon(str(png)).isNull() and not QIcon(str(svg)).isNull()


def test_provider_and_algorithm_icons_load(qgis_app):
    from qgis.core import QgsApplication

    from glnet.glnet_plugin.algorithms.base import ICON_PATH

    assert ICON_PATH.is_file()
    provider = QgsApplication.processingRegistry().providerById("glnet")
    assert not provider.icon().isNull()
    assert all(not alg.icon().isNull() for alg in provider.algorithms())
    # The plugin's metadata icon is in the folder QGIS shows it from.
    icon = read_metadata((REPO / "metadata.txt").read_text(encoding="utf-8"))["icon"]
    assert (REPO / icon).is_file() and icon.endswith(".png")
