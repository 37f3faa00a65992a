"""Tests of glnet_core.formats.class_mask_writer: format, colour table, category names, atomic commit, resume.

Outputs are real GeoTIFFs in ``tmp_path``, reopened with rasterio; category
names are checked in the PAM sidecar and, where GDAL's command line tools or
Python bindings are installed, by GDAL itself.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning

from glnet.glnet_core.errors import InputError
from glnet.glnet_core.formats.class_mask_writer import MaskWriter
from glnet.glnet_core.formats.classes import PRESETS, load_class_table
from glnet.glnet_core.formats.cog_layout import check_cog

CRS = rasterio.crs.CRS.from_epsg(32633)
TRANSFORM = Affine(0.25, 0.0, 640000.0, 0.0, -0.25, 5800000.0)
WIDTH, HEIGHT = 1300, 1100  # not multiples of 512: partial edge tiles
DEEPGLOBE = PRESETS["deepglobe"]


def new_writer(path: Path, **kwargs) -> MaskWriter:
    options = dict(width=WIDTH, height=HEIGHT, crs=CRS, transform=TRANSFORM, classes=DEEPGLOBE)
    options.update(kwargs)
    return MaskWriter(path, **options)


def category_names(aux: Path):
    root = ET.parse(aux).getroot()
    assert root.tag == "PAMDataset"
    band = [b for b in root.findall("PAMRasterBand") if b.get("band") == "1"]
    assert len(band) == 1
    return [c.text or "" for c in band[0].find("CategoryNames").findall("Category")]


def test_format_grid_and_unwritten_nodata(tmp_path, rng):
    out = tmp_path / "mask.tif"
    w = new_writer(out, tags={"glnet_model": "deepglobe-lite", "glnet_version": "0.1.0"})
    block = rng.integers(0, 7, (512, 512), dtype=np.uint8)
    w.write(0, 0, block)
    assert w.commit() == out
    with rasterio.open(out) as ds:
        assert (ds.width, ds.height, ds.count) == (WIDTH, HEIGHT, 1)
        assert ds.crs == CRS and ds.transform == TRANSFORM
        assert ds.dtypes[0] == "uint8" and ds.nodata == 255
        assert ds.block_shapes[0] == (512, 512)
        assert ds.compression == rasterio.enums.Compression.deflate
        assert ds.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR", "1") == "1"
        assert ds.tags()["glnet_model"] == "deepglobe-lite" and ds.tags()["glnet_version"] == "0.1.0"
        assert ds.tags()["glnet_kind"] == "classes"
        data = ds.read(1)
    np.testing.assert_array_equal(data[:512, :512], block)
    data[:512, :512] = 255
    assert (data == 255).all()  # never written: nodata
    assert out.read_bytes()[2:4] == b"\x2a\x00"  # little-endian classic TIFF: IF_SAFER chose no BigTIFF for a small file


def test_colour_table_and_category_names(tmp_path):
    out = tmp_path / "classes.tif"
    w = new_writer(out)
    w.write(0, 0, np.arange(7, dtype=np.uint8).reshape(1, 7))
    w.commit()
    with rasterio.open(out) as ds:
        cmap = ds.colormap(1)
        assert ds.descriptions[0] == "land-cover class"
    for c in DEEPGLOBE.classes:
        assert cmap[c.id][:3] == c.colour
    assert cmap[255][:3] == (0, 0, 0)
    aux = Path(str(out) + ".aux.xml")
    assert category_names(aux) == DEEPGLOBE.names
    gdalinfo = shutil.which("gdalinfo")
    if gdalinfo:  # GDAL itself reads the names (optional: gdal-bin may not be installed)
        info = json.loads(subprocess.run([gdalinfo, "-json", str(out)], capture_output=True, text=True, check=True).stdout)
        assert info["bands"][0]["categories"] == DEEPGLOBE.names
        assert info["bands"][0]["colorInterpretation"] == "Palette"
    try:
        from osgeo import gdal  # noqa: F401
    except ImportError:
        return
    ds = gdal.Open(str(out))
    assert ds.GetRasterBand(1).GetCategoryNames() == DEEPGLOBE.names


def test_category_names_are_xml_escaped(tmp_path):
    table = tmp_path / "t.json"
    table.write_text(json.dumps({"classes": [{"id": 0, "name": "a<b & c"}, {"id": 1, "name": "wald \u00fc"}]}))
    classes = load_class_table(table)
    out = tmp_path / "esc.tif"
    new_writer(out, classes=classes).commit()
    assert category_names(Path(str(out) + ".aux.xml")) == ["a<b & c", "wald \u00fc"]


def test_blocks_at_any_offset_and_edges(tmp_path, rng):
    out = tmp_path / "blocks.tif"
    expected = np.full((HEIGHT, WIDTH), 255, np.uint8)
    w = new_writer(out)
    # Unaligned blocks, blocks ending exactly at the right / bottom edges, and
    # blocks running past them or starting above / left of the raster (clipped).
    blocks = [
        (0, 0, 300, 700),
        (250, 650, 400, 300),
        (HEIGHT - 100, WIDTH - 200, 100, 200),
        (HEIGHT - 50, 0, 120, 512),
        (700, WIDTH - 30, 512, 512),
        (-20, 900, 60, 60),
        (500, -10, 10, 40),
        (HEIGHT + 5, 0, 10, 10),  # entirely outside: nothing
    ]
    for row, col, h, wd in blocks:
        block = rng.integers(0, 7, (h, wd), dtype=np.uint8)
        w.write(row, col, block)
        r0, c0 = max(row, 0), max(col, 0)
        r1, c1 = min(row + h, HEIGHT), min(col + wd, WIDTH)
        if r0 < r1 and c0 < c1:
            expected[r0:r1, c0:c1] = block[r0 - row : r1 - row, c0 - col : c1 - col]
    w.commit()
    with rasterio.open(out) as ds:
        np.testing.assert_array_equal(ds.read(1), expected)


def test_atomic_commit_and_abort(tmp_path):
    out = tmp_path / "atomic.tif"
    w = new_writer(out)
    assert w.part_path == tmp_path / ".atomic.tif.part"
    w.write(0, 0, np.ones((10, 10), np.uint8))
    assert w.part_path.is_file() and not out.exists()
    assert not Path(str(out) + ".aux.xml").exists()
    w.commit()
    assert out.is_file() and not w.part_path.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["atomic.qml", "atomic.tif", "atomic.tif.aux.xml"]

    # abort removes the part files and keeps an existing output untouched
    before = out.read_bytes()
    w = new_writer(out, overwrite=True)
    w.write(0, 0, np.zeros((10, 10), np.uint8))
    w.abort()
    assert not w.part_path.exists() and not Path(str(w.part_path) + ".aux.xml").exists()
    assert out.read_bytes() == before
    with pytest.raises(ValueError):
        w.write(0, 0, np.zeros((1, 1), np.uint8))


def test_overwrite(tmp_path):
    out = tmp_path / "exists.tif"
    new_writer(out).commit()
    with pytest.raises(InputError) as info:
        new_writer(out)
    assert str(info.value) == f"{out} already exists; pass --overwrite to replace it"
    assert not (tmp_path / ".exists.tif.part").exists()  # refused before creating anything
    # Replacing a class mask by a confidence map also drops its category sidecar.
    w = new_writer(out, overwrite=True, kind="confidence", classes=None)
    w.write(0, 0, np.full((4, 4), 87, np.uint8))
    w.commit()
    assert not Path(str(out) + ".aux.xml").exists()
    with rasterio.open(out) as ds:
        assert ds.read(1, window=rasterio.windows.Window(0, 0, 4, 4)).tolist() == [[87] * 4] * 4


def test_confidence_kind(tmp_path):
    out = tmp_path / "conf.tif"
    w = new_writer(out, kind="confidence", classes=None, tags={"glnet_model": "m"})
    w.write(0, 0, np.array([[0, 50, 100]], np.uint8))
    w.commit()
    with rasterio.open(out) as ds:
        with pytest.raises(ValueError):
            ds.colormap(1)  # no colour table
        assert ds.units[0] == "percent"
        assert "confidence" in ds.descriptions[0]
        assert ds.tags()["glnet_kind"] == "confidence" and ds.tags()["glnet_model"] == "m"
        assert ds.nodata == 255
        assert ds.read(1)[0, :3].tolist() == [0, 50, 100]


def test_no_georeferencing(tmp_path):
    out = tmp_path / "plain.tif"
    w = MaskWriter(out, width=100, height=60, crs=None, transform=Affine.identity(), classes=DEEPGLOBE)
    w.write(0, 0, np.zeros((60, 100), np.uint8))
    w.commit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(out) as ds:
            assert ds.crs is None
            assert ds.transform == Affine.identity()
            assert (ds.width, ds.height) == (100, 60)


def test_resume_keeps_written_blocks(tmp_path, rng):
    out = tmp_path / "resume.tif"
    first = rng.integers(0, 7, (512, 512), dtype=np.uint8)
    second = rng.integers(0, 7, (300, 400), dtype=np.uint8)
    with new_writer(out) as w:
        w.write(0, 0, first)
    # leaving the block without commit keeps the part file for --resume
    assert w.part_path.is_file() and not out.exists()
    w = new_writer(out, resume=True)
    np.testing.assert_array_equal(w.read(0, 0, 512, 512), first)
    w.write(HEIGHT - 300, WIDTH - 400, second)
    w.commit()
    with rasterio.open(out) as ds:
        data = ds.read(1)
        assert ds.colormap(1)[1][:3] == DEEPGLOBE.classes[1].colour  # the colour table survived
    np.testing.assert_array_equal(data[:512, :512], first)
    np.testing.assert_array_equal(data[HEIGHT - 300 :, WIDTH - 400 :], second)
    assert category_names(Path(str(out) + ".aux.xml")) == DEEPGLOBE.names


def test_a_part_left_as_a_cog_by_a_killed_commit_resumes(tmp_path, rng):
    # commit() replaces the part by its COG copy before the rename: a kill in
    # between leaves a COG as the part, which GDAL 3.10 updates only when told
    # its layout may break. The resumed run writes, flushes and commits it.
    blocks = [rng.integers(0, 7, (512, 512), dtype=np.uint8) for _ in range(2)]
    with new_writer(tmp_path / "a.tif") as w:
        w.write(0, 0, blocks[0])
    part = w.part_path
    rasterio.shutil.copy(str(part), str(tmp_path / "cog.tif"), driver="COG", compress="deflate", blocksize=512)
    shutil.move(str(tmp_path / "cog.tif"), str(part))
    assert rasterio.open(part).tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
    w = new_writer(tmp_path / "a.tif", resume=True)
    np.testing.assert_array_equal(w.read(0, 0, 512, 512), blocks[0])
    w.write(512, 512, blocks[1])
    w.flush()
    w.commit()
    ref = new_writer(tmp_path / "b.tif")
    ref.write(0, 0, blocks[0])
    ref.write(512, 512, blocks[1])
    ref.commit()
    assert (tmp_path / "a.tif").read_bytes() == (tmp_path / "b.tif").read_bytes()
    check_cog(tmp_path / "a.tif", ghost_header=True, require_overviews=True)


def test_resume_errors_and_stale_part(tmp_path):
    out = tmp_path / "r.tif"
    with pytest.raises(InputError, match=r"cannot resume: .*\.r\.tif\.part does not exist"):
        new_writer(out, resume=True)
    with new_writer(out) as w:
        w.write(0, 0, np.ones((8, 8), np.uint8))
    with pytest.raises(InputError, match="another grid"):
        new_writer(out, resume=True, width=WIDTH + 1)
    with pytest.raises(InputError, match="another transform"):
        new_writer(out, resume=True, transform=Affine(0.25, 0.0, 640001.0, 0.0, -0.25, 5800000.0))
    with pytest.raises(InputError, match="another CRS"):
        new_writer(out, resume=True, crs="EPSG:32632")
    # Without resume a stale part file is replaced by a fresh one.
    w = new_writer(out)
    assert (w.read(0, 0, 8, 8) == 255).all()
    w.abort()


def test_flush_survives_a_killed_process(tmp_path):
    # A process that writes, flushes, writes more and dies without closing:
    # a resumed writer finds exactly the flushed block.
    out = tmp_path / "killed.tif"
    script = textwrap.dedent(
        f"""
        import os, numpy as np
        from affine import Affine
        from glnet.glnet_core.formats.classes import PRESETS
        from glnet.glnet_core.formats.class_mask_writer import MaskWriter
        w = MaskWriter({str(out)!r}, width={WIDTH}, height={HEIGHT}, crs="EPSG:32633",
                       transform=Affine(*{tuple(TRANSFORM)[:6]!r}), classes=PRESETS["deepglobe"])
        w.write(0, 0, np.full((512, 512), 3, np.uint8))
        w.flush()
        w.write(512, 512, np.full((512, 512), 4, np.uint8))
        os._exit(9)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 9, proc.stderr
    w = new_writer(out, resume=True)
    assert (w.read(0, 0, 512, 512) == 3).all()
    w.write(512, 512, np.full((512, 512), 4, np.uint8))
    w.commit()
    with rasterio.open(out) as ds:
        data = ds.read(1)
    assert (data[:512, :512] == 3).all() and (data[512:1024, 512:1024] == 4).all()
    assert (data[1024:] == 255).all()


def test_bad_output_locations_and_arguments(tmp_path):
    with pytest.raises(InputError, match="output folder .*missing.* does not exist"):
        new_writer(tmp_path / "missing" / "m.tif")
    folder = tmp_path / "adir"
    folder.mkdir()
    with pytest.raises(InputError, match="is a folder"):
        new_writer(folder)
    with pytest.raises(ValueError):
        new_writer(tmp_path / "k.tif", kind="probabilities")
    w = new_writer(tmp_path / "d.tif")
    with pytest.raises(ValueError, match="uint8"):
        w.write(0, 0, np.zeros((4, 4), np.int32))
    with pytest.raises(ValueError, match="uint8"):
        w.write(0, 0, np.zeros(4, np.uint8))
    w.abort()
    assert list(tmp_path.iterdir()) == [folder]


def test_gcps_and_their_crs_are_written_when_there_is_no_transform(tmp_path):
    from rasterio.control import GroundControlPoint

    gcps = [GroundControlPoint(row=r, col=c, x=640000 + c * 0.25, y=5800000 - r * 0.25, id=str(i))
            for i, (r, c) in enumerate([(0, 0), (0, WIDTH), (HEIGHT, 0), (HEIGHT, WIDTH)])]
    w = new_writer(tmp_path / "g.tif", transform=None, gcps=gcps)
    w.write(0, 0, np.full((600, 600), 2, np.uint8))
    w.flush()
    w.close()
    w = new_writer(tmp_path / "g.tif", transform=None, gcps=gcps, resume=True)  # the GCP part resumes
    w.commit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(tmp_path / "g.tif") as ds:
            got, crs = ds.gcps
            assert crs == CRS and ds.crs is None and ds.transform.is_identity
            assert [(g.row, g.col, g.x, g.y) for g in got] == [(g.row, g.col, g.x, g.y) for g in gcps]
            assert (ds.read(1, window=rasterio.windows.Window(0, 0, 600, 600)) == 2).all()
    # With a transform, GCPs are not written (GDAL keeps one or the other).
    w = new_writer(tmp_path / "t.tif", gcps=gcps)
    w.commit()
    with rasterio.open(tmp_path / "t.tif") as ds:
        assert ds.transform == TRANSFORM and not ds.gcps[0]


def test_flush_is_free_without_new_blocks_and_marks_the_writer_clean(tmp_path):
    w = new_writer(tmp_path / "f.tif")
    assert not w.dirty
    w.write(0, 0, np.full((10, 10), 1, np.uint8))
    assert w.dirty
    w.flush()
    assert not w.dirty
    ds = w._ds
    w.flush()  # nothing written since: the dataset is not even reopened
    assert w._ds is ds
    w.commit()
    assert rasterio.open(tmp_path / "f.tif").read(1)[0, 0] == 1


def test_a_flush_the_disk_refuses_is_a_write_error_never_cannot_resume(tmp_path):
    """The file-size limit hits the flush (close, sync, reopen); the error names the output, and nothing leaks to stderr."""
    out = tmp_path / "m.tif"
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        import numpy as np
        from affine import Affine
        from glnet.glnet_core.errors import OutputWriteError
        from glnet.glnet_core.formats.classes import PRESETS
        from glnet.glnet_core.formats.class_mask_writer import MaskWriter
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (6000, resource.RLIM_INFINITY))
        w = MaskWriter({str(out)!r}, width=3000, height=3000, crs="EPSG:32633",
                       transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000), classes=PRESETS["deepglobe"],
                       option="--out-mask")
        try:
            w.write(0, 0, np.full((1000, 1000), 3, np.uint8))
            w.flush()
        except OutputWriteError as exc:
            w.abort()
            print(exc)
            sys.exit(3)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.strip() == f"--out-mask: cannot write {out}: File too large"
    assert proc.stderr == ""
    assert list(tmp_path.iterdir()) == []


def test_the_committed_bytes_depend_only_on_the_content(tmp_path, rng):
    # The same pixels written in two orders, with flushes between unaligned
    # blocks in one (tiles rewritten after a flush leave dead space in the
    # part) and as one block in the other: commit copies the part tile by
    # tile into a COG whose overviews come from the pixels alone, so both
    # files are the same bytes, and no larger than needed.
    mask = rng.integers(0, 7, (HEIGHT, WIDTH), dtype=np.uint8)
    a, b = tmp_path / "a.tif", tmp_path / "b.tif"
    w = new_writer(a, tags={"glnet_model": "x"})
    for top in range(HEIGHT - 300, -300, -300):
        for left in range(0, WIDTH, 300):
            r0, c0 = max(top, 0), left
            w.write(r0, c0, mask[r0 : r0 + 300, c0 : c0 + 300])
            w.flush()
    part_size = w.part_path.stat().st_size
    w.commit()
    w = new_writer(b, tags={"glnet_model": "x"})
    w.write(0, 0, mask)
    w.commit()
    assert a.read_bytes() == b.read_bytes()
    assert (tmp_path / "a.tif.aux.xml").read_bytes() == (tmp_path / "b.tif.aux.xml").read_bytes()
    assert a.stat().st_size < part_size, "the rewritten tiles' dead space is gone"
    with rasterio.open(a) as ds:
        assert np.array_equal(ds.read(1), mask)
        assert ds.colormap(1)[DEEPGLOBE.classes[1].id][:3] == DEEPGLOBE.classes[1].colour
        assert ds.tags()["glnet_model"] == "x" and ds.descriptions == ("land-cover class",)
        assert ds.overviews(1) == [2, 4]
    check_cog(a, ghost_header=True, require_overviews=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.qml", "a.tif", "a.tif.aux.xml", "b.qml", "b.tif", "b.tif.aux.xml"]


def test_an_interrupt_while_the_part_is_being_created_leaves_nothing(tmp_path, monkeypatch):
    """Ctrl-C after GDAL created the part file but before the writer existed (seen: the part stayed)."""
    from glnet.glnet_core.formats import class_mask_writer

    def interrupted(_classes):
        assert (tmp_path / ".mask.tif.part").exists(), "the part file is there when the interrupt lands"
        raise KeyboardInterrupt

    monkeypatch.setattr(class_mask_writer, "colour_table", interrupted)
    with pytest.raises(KeyboardInterrupt):
        MaskWriter(tmp_path / "mask.tif", width=64, height=64, crs="EPSG:32633",
                   transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000), classes=DEEPGLOBE)
    assert list(tmp_path.iterdir()) == [], "no part, sidecar or lock file"
