"""The plugin's language follows QGIS's; the engine's lines are translated; progress text is throttled.

- ``qgis --lang de`` hands "de" to ``QgsApplication.setTranslation()`` before the application exists and
  sets neither ``locale/overrideFlag`` nor what ``QgsApplication.locale()`` reads: a subprocess of QGIS's
  Python starts QGIS that way and loads the plugin through ``glnet.classFactory``.
- The real desktop, ``qgis --lang de`` (and ``--lang en``) with a fresh profile where the plugin is enabled,
  on its own Xvfb display (QGIS 3.22's desktop crashes offscreen in ``QgsClipboard::hasFormat``): a
  ``--code`` script records the menu, toolbar, algorithm and engine texts to JSON and quits QGIS.
- glnet:segment in German and in English: the engine's catalogue lines (providers, polygons written) and the
  plugin's "Done" line, with the right plural for 1 and for N.
- The window text reaches the feedback at most every 5 % of a run (the bar still moves at every report),
  checked with a real QgsProcessingFeedback over the engine's own progress reports of a 1936-window run,
  and through ``qgis_process.bin`` (which prints every progress text as a line) on a raster of 144 windows.
"""

from __future__ import annotations

import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, Iterator

import numpy as np
import pytest
from conftest import BASE_ENV, LINK_PARENT, REPO, recording_feedback

from glnet.glnet_plugin import dependencies

sys.path.insert(0, str(REPO / "i18n"))
import refresh_translations  # noqa: E402

# Started like QGIS's src/app/main.cpp with --lang: setTranslation() before the QgsApplication exists.
_STARTUP = r"""
import json, os, sys
sys.path.insert(0, {link!r})
from qgis.core import QgsApplication, QgsSettings
lang = {lang!r}
if lang:
    QgsApplication.setTranslation(lang)
app = QgsApplication([], False)
app.initQgis()
import glnet
plugin = glnet.classFactory(None)
plugin.initProcessing()
from glnet.glnet_plugin.i18n import ui_locale
alg = QgsApplication.processingRegistry().algorithmById("glnet:segment")
print(json.dumps({{"name": alg.displayName(), "ui_locale": ui_locale(), "qgis_locale": QgsApplication.locale(),
                  "override": QgsSettings().value("locale/overrideFlag")}}), flush=True)
os._exit(0)  # QGIS 3.22's bindings may crash while Python tears the application down
"""


def _german() -> Dict[str, str]:
    path = REPO / "i18n" / "glnet_de.ts"
    return {src: text for src, (text, _kind) in refresh_translations.read_ts(path).items()}


@pytest.mark.parametrize("lang", ["de", ""])
def test_plugin_follows_qgis_lang(tmp_path, lang):
    """As `qgis --lang de` starts QGIS (a fresh profile, an English system locale): the plugin is German."""
    env = dict(BASE_ENV, QGIS_CUSTOM_CONFIG_PATH=str(tmp_path), LANG="C.UTF-8", LC_ALL="C.UTF-8",
               QT_QPA_PLATFORM="offscreen")
    env[dependencies.DEPS_ENV] = os.environ[dependencies.DEPS_ENV]  # the private onnxruntime conftest found
    script = _STARTUP.format(link=str(LINK_PARENT), lang=lang)
    proc = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr[-2000:]
    seen = json.loads(proc.stdout.strip().splitlines()[-1])
    english = "Segment land cover (GLNet)"
    # What the settings say (the rule the plugin used to follow) is not German here:
    assert not seen["qgis_locale"].startswith("de") and seen["override"] is None
    if lang:
        assert seen["ui_locale"] == "de" and seen["name"] == _german()[english] != english
    else:
        assert seen["name"] == english


# ------------------------------------------------------------------ the real desktop

#: The virtual X server (Debian package xvfb, in the Makefile's QGIS_APT_PACKAGES).
XVFB = "Xvfb"
#: The QGIS desktop launcher (Debian's wrapper script that execs qgis.bin).
QGIS_DESKTOP = os.environ.get("QGIS_DESKTOP", "/usr/bin/qgis")
#: Seconds one desktop start may take before the test kills it (a start is about 8 s here).
DESKTOP_TIMEOUT = 120

# Run by `qgis --code`: after the plugins are loaded, before the event loop. What it records waits for the
# loop (a zero timer) so the main window is complete; the JSON is written under a temporary name and
# renamed, so a file that exists is complete.
_DESKTOP_CODE = r"""
import json, os
from qgis.core import QgsApplication
from qgis.PyQt.QtCore import QTimer
from qgis.utils import iface, plugins

def record():
    try:
        from glnet.glnet_core.messages import POLYGONS_WRITTEN
        from glnet.glnet_plugin.i18n import translate_line, ui_locale
        seen = {"translation": QgsApplication.instance().translation(), "ui_locale": ui_locale(),
                "qgis_locale": QgsApplication.locale(),
                "plugins": sorted(plugins), "menu": None, "menu_action": None, "toolbar": None, "tooltip": None}
        for entry in iface.rasterMenu().actions():
            sub = entry.menu()
            for action in (sub.actions() if sub is not None else []):
                if action.objectName() == "glnetSegmentAction":
                    seen["menu"], seen["menu_action"] = sub.title(), action.text()
        for action in iface.pluginToolBar().actions():
            if action.objectName() == "glnetSegmentAction":
                seen["toolbar"], seen["tooltip"] = action.text(), action.toolTip()
        alg = QgsApplication.processingRegistry().algorithmById("glnet:segment")
        seen["algorithm"] = alg.displayName() if alg is not None else None
        seen["engine_line"] = translate_line(POLYGONS_WRITTEN(count=4, path="/data/out.gpkg"))
    except Exception as error:  # the test shows it; QGIS would only print it to its log
        seen = {"error": repr(error), "plugins": sorted(plugins)}
    try:
        out = os.environ["GLNET_DESKTOP_OUT"]
        with open(out + ".part", "w", encoding="utf-8") as f:
            json.dump(seen, f, ensure_ascii=False)
        os.replace(out + ".part", out)
    finally:
        iface.actionExit().trigger()

QTimer.singleShot(0, record)
"""


@pytest.fixture(scope="module")
def xvfb_display() -> Iterator[str]:
    """A private Xvfb server on a free display number (``":N"``), killed after the module's tests.

    Fails, not skips, when Xvfb is missing: ``make qgis-setup`` installs Debian's ``xvfb``.
    """
    binary = shutil.which(XVFB)
    assert binary, f"{XVFB} is missing: run `make qgis-setup` (Debian package xvfb)"
    read_end, write_end = os.pipe()
    # -displayfd: Xvfb picks a free display number and writes it to the pipe once it accepts connections.
    proc = subprocess.Popen([binary, "-displayfd", str(write_end), "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                            pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 30)
        number = os.read(read_end, 64).decode().strip() if ready else ""
        if not number.isdigit():
            # An empty read is Xvfb gone (its stderr says why); nothing within 30 s is Xvfb stuck.
            why = "none in 30 s"
            if ready:
                proc.wait(timeout=10)
                why = proc.stderr.read().decode()[-2000:]
            pytest.fail(f"Xvfb gave no display number: {why}")
        yield f":{number}"
    finally:
        os.close(read_end)
        # SIGTERM: Xvfb then removes its lock file and socket (SIGKILL would leave them behind).
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def _desktop_profile(root: Path) -> Path:
    """A fresh ``--profiles-path`` root: profile ``default`` with the checkout linked as plugin ``glnet``, enabled.

    QGIS 3.22 keeps the profiles in ``<root>/profiles/``, so ``root`` itself is what ``--profiles-path`` takes.
    """
    profile = root / "profiles" / "default"
    (profile / "python" / "plugins").mkdir(parents=True)
    (profile / "python" / "plugins" / "glnet").symlink_to(REPO, target_is_directory=True)
    (profile / "QGIS").mkdir()
    (profile / "QGIS" / "QGIS3.ini").write_text("[PythonPlugins]\nglnet=true\n")
    return root


def _run_desktop(tmp_path: Path, display: str, lang: str) -> Dict[str, Any]:
    """Start ``qgis --lang LANG`` with a fresh profile on ``display``; return what the --code script saw."""
    profiles = _desktop_profile(tmp_path / "qgis")
    code = tmp_path / "code.py"
    code.write_text(_DESKTOP_CODE)
    out = tmp_path / "seen.json"
    env = {k: v for k, v in BASE_ENV.items() if k != "QGIS_CUSTOM_CONFIG_PATH"}
    # An English system locale, so only --lang can make QGIS German; HOME in the test's folder keeps the run
    # away from the user's QGIS settings.
    env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb", LANG="C.UTF-8", LC_ALL="C.UTF-8", HOME=str(tmp_path),
               GLNET_DESKTOP_OUT=str(out))
    env[dependencies.DEPS_ENV] = os.environ[dependencies.DEPS_ENV]  # the private onnxruntime conftest found
    assert Path(QGIS_DESKTOP).is_file(), f"{QGIS_DESKTOP} is missing: run `make qgis-setup`"
    cmd = [QGIS_DESKTOP, "--lang", lang, "--profiles-path", str(profiles), "--profile", "default", "--nologo",
           "--noversioncheck", "--code", str(code)]
    # Its own session: a run past the timeout is killed with everything it started.
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        log, _ = proc.communicate(timeout=DESKTOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        log, _ = proc.communicate()
        pytest.fail(f"qgis --lang {lang} did not quit within {DESKTOP_TIMEOUT} s:\n{log[-3000:]}")
    # QGIS prints warnings and may crash while it tears down; the JSON is the evidence.
    assert out.is_file(), f"qgis --lang {lang} (exit {proc.returncode}) wrote no {out.name}:\n{log[-3000:]}"
    seen = json.loads(out.read_text(encoding="utf-8"))
    assert "error" not in seen, seen
    return seen


@pytest.mark.parametrize("lang", ["de", "en"])
def test_desktop_follows_lang(tmp_path, xvfb_display, lang):
    """The real desktop under ``qgis --lang de``: menu, toolbar, algorithm and engine lines in German."""
    seen = _run_desktop(tmp_path, xvfb_display, lang)
    english = {
        "menu": "GLNet land cover",
        "menu_action": "Segment land cover…",
        "toolbar": "Segment land cover…",
        "tooltip": "Segment a raster into land-cover classes with a GLNet model",
        "algorithm": "Segment land cover (GLNet)",
    }
    assert seen["translation"] == lang and seen["ui_locale"] == lang and "glnet" in seen["plugins"], seen
    # What the settings say (QgsApplication.locale(), the rule the plugin used to follow) is not German.
    assert not seen["qgis_locale"].startswith("de"), seen
    # The desktop shows a toolbar button's tooltip in bold: "<b>...</b>".
    seen["tooltip"] = re.sub(r"<[^>]*>", "", seen["tooltip"] or "")
    if lang == "de":
        german = _german()
        expected = {key: german[text] for key, text in english.items()}
        assert all(expected[key] != english[key] for key in english), expected  # the catalogue is German
        expected["engine_line"] = "4 Polygone nach /data/out.gpkg geschrieben"
    else:
        expected = dict(english, engine_line="4 polygons written to /data/out.gpkg")
    assert {key: seen[key] for key in expected} == expected


# ------------------------------------------------------------------ the engine's lines in QGIS


def _raster(path: Path, valid: np.ndarray) -> Path:
    """A random 3-band GeoTIFF with 0.5 m pixels, nodata 0 where ``valid`` is false."""
    import rasterio
    from affine import Affine

    data = np.random.default_rng(3).integers(1, 255, (3, *valid.shape), dtype=np.uint8)
    data[:, ~valid] = 0
    with rasterio.open(path, "w", driver="GTiff", width=valid.shape[1], height=valid.shape[0], count=3, dtype="uint8",
                       crs="EPSG:32633", transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000), nodata=0) as ds:
        ds.write(data)
    return path




@pytest.fixture(scope="module")
def scenes(tmp_path_factory) -> Dict[str, Path]:
    """Four valid quadrants (4 polygons after a 1500 m2 sieve) and one valid square (1 polygon)."""
    folder = tmp_path_factory.mktemp("language-scenes")
    cross = np.ones((200, 200), bool)
    cross[90:110, :] = cross[:, 90:110] = False
    island = np.zeros((200, 200), bool)
    island[50:130, 40:120] = True
    return {"cross": _raster(folder / "cross.tif", cross), "island": _raster(folder / "island.tif", island)}


def _segment(bundle: Path, src: Path, out: Path) -> Any:
    import processing

    fb = recording_feedback()
    out.mkdir()
    result = processing.run("glnet:segment", {
        "INPUT": str(src), "MODEL": str(bundle / "manifest.json"), "MODE": "full", "DEVICE": "cpu", "MIN_AREA": 1500.0,
        "OUTPUT_MASK": str(out / "mask.tif"), "OUTPUT_VECTOR": str(out / "poly.gpkg"),
    }, feedback=fb)
    return fb, result, out / "poly.gpkg"


def test_engine_lines_in_german_and_english(qgis_app, tmp_path, tiny_bundle, scenes):
    from glnet.glnet_plugin.i18n import install_translator, remove_translator

    try:
        assert install_translator("de") is not None
        de_cross, _, de_cross_vec = _segment(tiny_bundle, scenes["cross"], tmp_path / "de-cross")
        de_island, _, de_island_vec = _segment(tiny_bundle, scenes["island"], tmp_path / "de-island")
    finally:
        remove_translator()
    en_cross, _, en_cross_vec = _segment(tiny_bundle, scenes["cross"], tmp_path / "en-cross")
    en_island, _, en_island_vec = _segment(tiny_bundle, scenes["island"], tmp_path / "en-island")

    assert "onnxruntime-Anbieter: CPUExecutionProvider" in de_cross.infos
    assert f"4 Polygone nach {de_cross_vec} geschrieben" in de_cross.infos
    assert f"1 Polygon nach {de_island_vec} geschrieben" in de_island.infos
    assert any(re.match(r"Mindestkartierfläche 1500 m²: Flächen unter 6000 px", line) for line in de_cross.infos)
    assert any(re.match(r"Fertig: 1 Fenster, \d+ Ausschnitte in ", line) for line in de_cross.infos), de_cross.infos
    assert de_cross.texts == ["Fenster 1 von 1"]

    assert "onnxruntime providers: CPUExecutionProvider" in en_cross.infos
    assert f"4 polygons written to {en_cross_vec}" in en_cross.infos
    assert f"1 polygon written to {en_island_vec}" in en_island.infos
    assert any(re.match(r"Done: 1 window, \d+ patches in ", line) for line in en_cross.infos), en_cross.infos
    assert en_cross.texts == ["Window 1 of 1"]
    assert not any("polygons written" in line or "window(s)" in line for line in en_island.infos)


# ------------------------------------------------------------------ progress


def test_progress_text_at_most_every_five_percent(qgis_app):
    """The engine's own reports of a 20000 x 20000 px run (1936 windows of 25 patches) through core_callbacks."""
    from glnet.glnet_core.engine.segment import _Progress
    from glnet.glnet_core.engine.windows import raster_windows
    from glnet.glnet_plugin.algorithms.base import core_callbacks

    windows = raster_windows(20000, 20000, 512)
    n = len(windows)
    assert n == 1936
    fb = recording_feedback()
    progress = _Progress(core_callbacks(fb), [25] * len(windows), 0)
    for w in windows:
        for k in range(1, 26):
            progress.patches(w, k)
        progress.window_done(w)

    assert fb.texts[0] == f"Window 1 of {n}"
    assert not any(text.startswith("Window 0 ") for text in fb.texts)
    assert 15 <= len(fb.texts) <= 21, fb.texts
    shown = [int(t.split()[1]) for t in fb.texts]
    assert shown == sorted(set(shown)) and all(b - a >= n * 0.05 - 1 for a, b in zip(shown, shown[1:]))
    # The bar moves at every report.
    assert len(fb.progress) == n * 26 and fb.progress == sorted(fb.progress) and fb.progress[-1] == 100.0


def test_qgis_process_prints_about_twenty_progress_lines(tmp_path, tiny_bundle, qgis_process):
    """qgis_process prints each progress text as a line: 144 windows give at most 21, not 145."""
    small = tmp_path / "small.glnet"
    shutil.copytree(tiny_bundle, small)
    manifest = json.loads((small / "manifest.json").read_text())
    manifest["window"] = manifest["model"]["config"]["window"] = manifest["size_p"]  # one patch per window: fast
    (small / "manifest.json").write_text(json.dumps(manifest))
    src = _raster(tmp_path / "big.tif", np.ones((1300, 1300), bool))

    proc = qgis_process("run", "glnet:segment", "--", f"INPUT={src}", f"MODEL={small / 'manifest.json'}",
                        "MODE=g2l", "DEVICE=cpu", f"OUTPUT_MASK={tmp_path / 'mask.tif'}", timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    # Its progress bar ("0...10...20") shares the lines with the texts.
    texts = re.findall(r"Window (\d+) of (\d+)", proc.stdout)
    assert texts[0] == ("1", "144") and {total for _, total in texts} == {"144"}
    assert 10 <= len(texts) <= 21, proc.stdout
    assert (tmp_path / "mask.tif").is_file()
