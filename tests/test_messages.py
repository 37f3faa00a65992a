"""The engine's message catalogue (glnet_core/messages.py): English lines with right plurals, one
translatable place for every user-facing log line, and every template in the translation files."""

from __future__ import annotations

import ast
import pickle
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from glnet.glnet_core import messages
from glnet.glnet_core.callbacks import Callbacks
from glnet.glnet_core.messages import (
    CATALOGUE,
    DASK_CLUSTER,
    HOSTS,
    POLYGONS_WRITTEN,
    PROVIDERS,
    RESUMING,
    WARNING,
    WORKERS,
    Entry,
    LogLine,
    plural_form,
)

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "i18n"))
import refresh_translations  # noqa: E402


def _german() -> dict:
    """The committed German translations, ``{English: German}``."""
    return {src: text for src, (text, _kind) in refresh_translations.read_ts(ROOT / "i18n" / "glnet_de.ts").items()}


def test_plural_rule_of_english_and_german():
    assert [plural_form(n, "one", "other") for n in (0, 1, 2, 21, -1)] == ["other", "one", "other", "other", "one"]


def test_lines_are_english_with_the_right_plural():
    assert POLYGONS_WRITTEN(count=1, path="a.gpkg") == "1 polygon written to a.gpkg"
    assert POLYGONS_WRITTEN(count=0, path="a.gpkg") == "0 polygons written to a.gpkg"
    assert POLYGONS_WRITTEN(count=12, path="a.gpkg") == "12 polygons written to a.gpkg"
    assert RESUMING(done=1, total=1) == "resuming: 1 of 1 window already done"
    assert RESUMING(done=1, total=3) == "resuming: 1 of 3 windows already done"
    one = DASK_CLUSTER(address="tcp://h:8786", workers=WORKERS(count=1), hosts=HOSTS(count=1))
    many = DASK_CLUSTER(address="tcp://h:8786", workers=WORKERS(count=4), hosts=HOSTS(count=2))
    assert (one, many) == ("Dask cluster tcp://h:8786: 1 worker on 1 host", "Dask cluster tcp://h:8786: 4 workers on 2 hosts")
    assert messages.MINIMUM_MAPPING_UNIT(area=2.5, pixels=10) == (
        "minimum mapping unit 2.5 m2: regions under 10 px merged into their neighbours")


def test_a_line_is_a_plain_string_that_keeps_its_entry():
    line = PROVIDERS(providers="CPUExecutionProvider")
    assert isinstance(line, str) and str(line) == f"{line}" == "onnxruntime providers: CPUExecutionProvider"
    assert line.entry is PROVIDERS and line.values == {"providers": "CPUExecutionProvider"}
    copy = pickle.loads(pickle.dumps(WARNING(warning=POLYGONS_WRITTEN(count=2, path="p.gpkg"))))
    assert copy == "warning: 2 polygons written to p.gpkg" and copy.entry == WARNING
    assert isinstance(copy.values["warning"], LogLine)


def test_lines_render_through_the_german_translations():
    """What the plugin does with Qt's tr(), here with the committed .ts: the form chosen, then translated."""
    german = _german()

    def translate(template: str) -> str:
        return german[template]

    assert POLYGONS_WRITTEN(count=1, path="a.gpkg").render(translate) == "1 Polygon nach a.gpkg geschrieben"
    assert POLYGONS_WRITTEN(count=3, path="a.gpkg").render(translate) == "3 Polygone nach a.gpkg geschrieben"
    cluster = DASK_CLUSTER(address="tcp://h:1", workers=WORKERS(count=2), hosts=HOSTS(count=1))
    assert cluster.render(translate) == "Dask-Cluster tcp://h:1: 2 Worker auf 1 Rechner"
    nested = WARNING(warning=messages.UNNAMED_CLASS_IDS(ids="3, 4", count=2))
    assert nested.render(translate) == "Warnung: Klassen-IDs 3, 4 haben keinen Namen; verwende class_<id>"
    assert nested.render() == nested == "warning: class ids 3, 4 have no name; using class_<id>"


def test_an_entry_has_both_plural_and_count_or_neither():
    with pytest.raises(ValueError):
        Entry("{n} thing", "{n} things")
    with pytest.raises(ValueError):
        Entry("{n} thing", count="n")


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_both_forms_have_the_same_placeholders(name):
    import string

    entry = CATALOGUE[name]
    fields = [{f for _, f, _, _ in string.Formatter().parse(t) if f} for t in entry.templates]
    assert all(f == fields[0] for f in fields), name


def test_every_template_is_collected_and_translated():
    """refresh_translations.py puts the catalogue into the .ts files (test_every_text_is_translated covers them)."""
    collected = refresh_translations.collect_messages()
    templates = [t for entry in CATALOGUE.values() for t in entry.templates]
    assert templates and all(t in collected for t in templates)
    assert all(loc[0] == "glnet_core/messages.py" for t in templates for loc in collected[t].locations)
    german = _german()
    assert all(german.get(t) for t in templates)


def test_the_plugin_plural_texts_are_collected():
    collected = refresh_translations.collect_messages()
    assert "{n} window" in collected and "{n} windows" in collected


def test_every_engine_log_line_is_a_catalogue_entry():
    """Every ``.message(...)`` call in glnet_core passes an entry of the catalogue, never a literal or f-string."""
    calls = []
    for path in sorted((ROOT / "glnet_core").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "message":
                calls.append((path.name, node))
    assert len(calls) >= 9  # segment's and the pipeline's lines
    for name, node in calls:
        (arg,) = node.args
        assert isinstance(arg, ast.Call) and isinstance(arg.func, ast.Name) and arg.func.id in CATALOGUE, (
            name, node.lineno)


# ------------------------------------------------------------------ a real run


@pytest.fixture(scope="module")
def bundle(tmp_path_factory, glnet_model) -> Path:
    from glnet.export.onnx_export import export_bundle
    from glnet.glnet_core.formats.classes import load_class_table
    from glnet.models.checkpoint import Checkpoint

    folder = tmp_path_factory.mktemp("messages-bundle")
    ckpt = Checkpoint(glnet_model("tiny"), load_class_table("deepglobe"), resolution_m=None, provenance={"source": "test"})
    export_bundle(ckpt, folder / "tiny.glnet", log=lambda *_: None, verify_windows=1)
    return folder / "tiny.glnet"


def _raster(path: Path, valid: np.ndarray) -> Path:
    """A random 3-band GeoTIFF (0.5 m pixels), nodata 0 where ``valid`` is false."""
    data = np.random.default_rng(3).integers(1, 255, (3, *valid.shape), dtype=np.uint8)
    data[:, ~valid] = 0
    with rasterio.open(path, "w", driver="GTiff", width=valid.shape[1], height=valid.shape[0], count=3, dtype="uint8",
                       crs="EPSG:32633", transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000), nodata=0) as ds:
        ds.write(data)
    return path


def test_pipeline_logs_catalogue_lines_with_the_right_plural(bundle, tmp_path):
    """Four valid quadrants (each one region after the sieve) and a single valid square: 4 and 1 polygons."""
    from glnet.glnet_core.products.pipeline import PolygonOptions, run_pipeline

    cross = np.ones((200, 200), bool)
    cross[90:110, :] = cross[:, 90:110] = False
    island = np.zeros((200, 200), bool)
    island[50:130, 40:120] = True
    seen = {}
    for name, valid in (("cross", cross), ("island", island)):
        lines: list = []
        src = _raster(tmp_path / f"{name}.tif", valid)
        vector = tmp_path / f"{name}.gpkg"
        # 1500 m2 (6000 px at 0.25 m2) leaves one region in each quadrant (8100 px) and in the island (6400 px).
        result = run_pipeline(src, bundle, tmp_path / f"{name}-mask.tif",
                              polygons=PolygonOptions(vector, min_area_m2=1500.0),
                              callbacks=Callbacks(log=lines.append))
        assert lines and all(isinstance(line, LogLine) for line in lines)
        count = result.vector.count
        form = "polygon" if count == 1 else "polygons"
        assert f"{count} {form} written to {vector}" in lines
        assert "onnxruntime providers: CPUExecutionProvider" in lines
        seen[name] = count
    assert seen == {"cross": 4, "island": 1}
