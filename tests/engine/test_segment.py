"""`glnet segment` and glnet_core.segment: real rasters, a real tiny bundle, real onnxruntime."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine

from glnet.export.onnx_export import export_bundle
from glnet.glnet_core.callbacks import Callbacks
from glnet.glnet_core.engine.bundle import load_bundle
from glnet.glnet_core.engine.options import EngineOptions, InputOptions, OutputOptions
from glnet.glnet_core.engine.predictor import WindowPredictor
from glnet.glnet_core.engine.preprocess import prepare_window
from glnet.glnet_core.engine.runtime import create_sessions
from glnet.glnet_core.engine.segment import segment
from glnet.glnet_core.engine.windows import raster_windows
from glnet.glnet_core.errors import Cancelled
from glnet.glnet_core.formats.classes import load_class_table
from glnet.models.checkpoint import Checkpoint, save_checkpoint
from glnet.models.inference import predict_window

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "ortho_utm33n_rgba.tif"
GLNET = [sys.executable, "-m", "glnet.glnet_core"]


def _glnet(*args, **kw):
    return subprocess.run(GLNET + [str(a) for a in args], capture_output=True, text=True, **kw)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, trained_like_model):
    """(model, bundle path) of a tiny GLNet; the bundle states 0.5 m/px."""
    d = tmp_path_factory.mktemp("tinybundle")
    model = trained_like_model()
    ckpt = Checkpoint(model, load_class_table("deepglobe"), resolution_m=0.5, provenance={"source": "test"})
    save_checkpoint(ckpt, d / "tiny.ckpt")
    export_bundle(ckpt, d / "tiny.glnet", log=lambda *_: None, verify_windows=1)
    return model, d / "tiny.glnet"


@pytest.fixture(scope="module")
def tiny_nores(tiny, tmp_path_factory):
    """The same model without a stated ground resolution (no resampling)."""
    model, _ = tiny
    d = tmp_path_factory.mktemp("tinynores")
    ckpt = Checkpoint(model, load_class_table("deepglobe"), resolution_m=None, provenance={"source": "test"})
    export_bundle(ckpt, d / "tiny.glnet", log=lambda *_: None, verify_windows=1)
    return model, d / "tiny.glnet"


def _scene(h: int, w: int, seed: int = 0, bands: int = 3, dtype=np.uint8) -> np.ndarray:
    """A structured (not white-noise) scene, (bands, h, w)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = [np.sin(xx / 37 + k) * np.cos(yy / 23 - k) for k in range(bands)]
    img = (np.stack(base) * 0.45 + 0.5) * 255 + rng.normal(0, 10, (bands, h, w))
    img = np.clip(img, 0, 255)
    if dtype == np.uint16:
        return (img * 40).astype(np.uint16)
    return img.astype(dtype)


def _write(path: Path, data: np.ndarray, crs="EPSG:32633", transform=None, **kw) -> Path:
    bands, h, w = data.shape
    transform = transform if transform is not None else Affine(0.5, 0, 500000, 0, -0.5, 5000000)
    profile = dict(driver="GTiff", width=w, height=h, count=bands, dtype=data.dtype, crs=crs, transform=transform)
    profile.update(kw)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data)
    return path


def _read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def _no_leftovers(folder: Path) -> None:
    left = [p.name for p in folder.iterdir() if p.name.startswith(".") or p.suffix in (".part", ".tmp")]
    assert not left, left


# ---------------------------------------------------------------- windows


def test_windows_partition_every_raster():
    for h, w in [(1, 1), (100, 37), (512, 512), (513, 2000), (3000, 1111)]:
        wins = raster_windows(h, w, 512)
        cover = np.zeros((h, w), np.int32)
        for win in wins:
            cover[win.core_rows.start : win.core_rows.stop, win.core_cols.start : win.core_cols.stop] += 1
            assert win.rows.start <= win.core_rows.start and win.core_rows.stop <= win.rows.stop <= h
            assert win.rows.size == min(512, h) and win.cols.size == min(512, w)
        assert (cover == 1).all()


# -------------------------------------------------------------- fidelity


def test_single_window_equals_pytorch_with_nearest(tiny_nores, tmp_path):
    """One window, nearest upsampling: the engine gives the PyTorch model's classes
    (which equal the published implementation's: docs/benchmarks.md)."""
    model, bundle = tiny_nores
    data = _scene(512, 512)
    src = _write(tmp_path / "in.tif", data)
    segment(src, bundle, tmp_path / "mask.tif", EngineOptions(upsample="nearest"))
    ref, _ = predict_window(model, data.transpose(1, 2, 0), "full")
    got = _read(tmp_path / "mask.tif")
    assert (got == ref).mean() >= 0.999


@pytest.mark.parametrize("shape", [(300, 200), (100, 90), (40, 500)])
def test_small_and_narrow_rasters(tiny_nores, tmp_path, shape):
    model, bundle = tiny_nores
    data = _scene(*shape, seed=3)
    src = _write(tmp_path / "in.tif", data)
    segment(src, bundle, tmp_path / "mask.tif", EngineOptions(upsample="nearest", mode="g2l"))
    ref, _ = predict_window(model, data.transpose(1, 2, 0), "g2l")
    got = _read(tmp_path / "mask.tif")
    assert got.shape == shape
    assert (got == ref).mean() >= 0.999


def test_mosaic_cores_equal_their_windows(tiny_nores, tmp_path):
    """Several windows: each core of the mosaic is what its window alone gives."""
    _, bundle = tiny_nores
    data = _scene(700, 900, seed=1)
    src = _write(tmp_path / "in.tif", data)
    res = segment(src, bundle, tmp_path / "mask.tif", EngineOptions(window=400, margin=40))
    assert res.windows > 4
    got = _read(tmp_path / "mask.tif")
    b = load_bundle(bundle)
    sessions, _ = create_sessions({n: b.graph_source(n) for n in b.graph_names}, "cpu")
    engine = WindowPredictor(sessions, b.size_p, b.min_overlap, len(b.classes))
    for w in raster_windows(700, 900, 400, 40):
        image = data[:, w.rows.start : w.rows.stop, w.cols.start : w.cols.stop].transpose(1, 2, 0)
        prep = prepare_window(image, b.size_g, b.size_p, b.normalisation)
        scores = engine.predict(prep.image_g, prep.window, "full", upsample="bilinear")
        cls = scores.argmax(0)
        core = cls[w.core_rows.start - w.rows.start : w.core_rows.stop - w.rows.start,
                   w.core_cols.start - w.cols.start : w.core_cols.stop - w.cols.start]
        assert np.array_equal(core, got[w.core_rows.start : w.core_rows.stop, w.core_cols.start : w.core_cols.stop])


# ----------------------------------------------------------- georeferencing


@pytest.mark.parametrize(
    "crs,transform",
    [
        ("EPSG:32633", Affine(0.5, 0, 500000, 0, -0.5, 5000000)),
        ("EPSG:3857", Affine(0.7, 0, 1_500_000, 0, -0.7, 6_000_000)),
        ("EPSG:4326", Affine(5e-6, 0, 14.0, 0, -5e-6, 48.0)),
    ],
)
def test_output_grid_is_the_input_grid(tiny_nores, tmp_path, crs, transform):
    _, bundle = tiny_nores
    src = _write(tmp_path / "in.tif", _scene(260, 330), crs=crs, transform=transform)
    segment(src, bundle, OutputOptions(tmp_path / "mask.tif", tmp_path / "conf.tif"))
    for out in ("mask.tif", "conf.tif"):
        with rasterio.open(src) as a, rasterio.open(tmp_path / out) as b:
            assert b.crs == a.crs and b.transform == a.transform and (b.width, b.height) == (a.width, a.height)
            assert b.dtypes[0] == "uint8" and b.nodata == 255
            assert b.profile.get("tiled") and b.block_shapes[0] == (512, 512)
            assert b.profile["compress"].lower() == "deflate"
    with rasterio.open(tmp_path / "mask.tif") as m:
        assert m.colormap(1)[1][:3] == (0, 255, 255)  # urban_land
    conf = _read(tmp_path / "conf.tif")
    assert conf.max() <= 100 and conf.min() >= 0


def test_sample_orthophoto_alpha_is_nodata(tiny, tmp_path):
    _, bundle = tiny
    res = segment(SAMPLE, bundle, tmp_path / "mask.tif", input_options=InputOptions(match_resolution=False))
    with rasterio.open(SAMPLE) as src:
        alpha = src.read(4)
        assert res.profile["raster"] == [src.width, src.height]
    mask = _read(tmp_path / "mask.tif")
    assert ((alpha == 0) == (mask == 255)).all()
    assert (mask[alpha > 0] < 7).all()


def test_resampling_to_the_model_resolution(tiny, tmp_path):
    """A 0.25 m raster runs on the model's 0.5 m grid; the mask keeps the input grid."""
    _, bundle = tiny
    src = _write(tmp_path / "in.tif", _scene(400, 600, seed=4), transform=Affine(0.25, 0, 500000, 0, -0.25, 5000000))
    res = segment(src, bundle, tmp_path / "mask.tif", EngineOptions(upsample="nearest"))
    assert res.profile["model_grid"] == [300, 200]
    with rasterio.open(tmp_path / "mask.tif") as m, rasterio.open(src) as s:
        assert (m.width, m.height, m.transform) == (s.width, s.height, s.transform)
        mask = m.read(1)
    # The same computation by hand: read resampled, one window, sample back (nearest).
    from glnet.glnet_core.formats.raster_input import open_raster

    b = load_bundle(bundle)
    with open_raster(src, 3) as r:
        image, _ = r.read(0, 0, 400, 600, out_shape=(200, 300))
    sessions, _ = create_sessions({n: b.graph_source(n) for n in b.graph_names}, "cpu")
    prep = prepare_window(image, b.size_g, b.size_p, b.normalisation)
    cls = WindowPredictor(sessions, b.size_p, b.min_overlap, 7).predict(prep.image_g, prep.window, "full").argmax(0)
    expected = cls[(np.arange(400) + 0.5).astype(int) // 2][:, (np.arange(600) + 0.5).astype(int) // 2]
    assert np.array_equal(mask, expected)


# ------------------------------------------------------------- band input


def test_16bit_input_with_bands(tiny_nores, tmp_path):
    _, bundle = tiny_nores
    data = _scene(200, 240, bands=5, dtype=np.uint16)
    src = _write(tmp_path / "in16.tif", data)
    r = _glnet("segment", src, "--model", bundle, "--out-mask", tmp_path / "m.tif", "--quiet")
    assert r.returncode != 0 and "5 band" in r.stderr and "--bands" in r.stderr
    r = _glnet("segment", src, "--model", bundle, "--out-mask", tmp_path / "m.tif", "--bands", "3,2,1", "--quiet")
    assert r.returncode == 0, r.stderr
    assert _read(tmp_path / "m.tif").shape == (200, 240)
    # The same bands as 8 bits, mapped with the same fixed range, give the same classes.
    r = _glnet("segment", src, "--model", bundle, "--out-mask", tmp_path / "m2.tif", "--bands", "3,2,1",
               "--input-range", "0,10200", "--quiet")
    assert r.returncode == 0, r.stderr
    eight = np.clip(np.floor(data[[2, 1, 0]].astype(np.float64) / 10200 * 255 + 0.5), 0, 255).astype(np.uint8)
    segment(_write(tmp_path / "in8.tif", eight), bundle, tmp_path / "m8.tif")
    assert (_read(tmp_path / "m2.tif") == _read(tmp_path / "m8.tif")).mean() > 0.99


# ------------------------------------------------------- cancel and resume


def test_cancel_leaves_nothing(tiny_nores, tmp_path):
    _, bundle = tiny_nores
    src = _write(tmp_path / "in.tif", _scene(700, 700))
    out = tmp_path / "out"
    out.mkdir()
    calls = []

    def cancelled() -> bool:
        calls.append(1)
        return len(calls) > 3

    with pytest.raises(Cancelled):
        segment(src, bundle, OutputOptions(out / "mask.tif", out / "conf.tif"), EngineOptions(window=300, margin=30),
                callbacks=Callbacks(is_cancelled=cancelled))
    assert list(out.iterdir()) == []


def test_interrupt_leaves_nothing(tiny_nores, tmp_path):
    _, bundle = tiny_nores
    src = _write(tmp_path / "in.tif", _scene(700, 700))
    out = tmp_path / "out"
    out.mkdir()

    def ctrl_c(p):
        if p.windows_done >= 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        segment(src, bundle, out / "mask.tif", EngineOptions(window=300, margin=30), callbacks=Callbacks(progress=ctrl_c))
    assert list(out.iterdir()) == []


def test_resume_after_kill_gives_the_same_file(tiny_nores, tmp_path):
    _, bundle = tiny_nores
    src = _write(tmp_path / "in.tif", _scene(800, 700, seed=7))
    opts = ["--window", "300", "--margin", "30"]
    r = _glnet("segment", src, "--model", bundle, "--out-mask", tmp_path / "ref.tif", "--out-confidence",
               tmp_path / "refc.tif", *opts, "--quiet")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "run"
    out.mkdir()
    # A run killed (SIGKILL: no clean-up code runs) after three windows, with
    # a checkpoint after every window (the default is every few seconds).
    script = textwrap.dedent(f"""
        import os, signal
        from glnet.glnet_core.engine import resume
        resume.CHECKPOINT_SECONDS = 0
        from glnet.glnet_core.callbacks import Callbacks
        from glnet.glnet_core.engine.options import EngineOptions, OutputOptions
        from glnet.glnet_core.engine.segment import segment
        def progress(p):
            if p.windows_done == 3:
                os.kill(os.getpid(), signal.SIGKILL)
        segment({str(src)!r}, {str(bundle)!r}, OutputOptions({str(out / 'mask.tif')!r}, {str(out / 'conf.tif')!r}),
                EngineOptions(window=300, margin=30), callbacks=Callbacks(progress=progress))
    """)
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert r.returncode == -signal.SIGKILL
    assert not (out / "mask.tif").exists()
    r = _glnet("segment", src, "--model", bundle, "--out-mask", out / "mask.tif", "--out-confidence", out / "conf.tif",
               *opts, "--resume")
    assert r.returncode == 0, r.stderr
    assert "resuming: 3 of" in r.stderr
    assert np.array_equal(_read(out / "mask.tif"), _read(tmp_path / "ref.tif"))
    assert np.array_equal(_read(out / "conf.tif"), _read(tmp_path / "refc.tif"))
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")], "part and state files are gone"
    # Nothing to resume any more.
    r = _glnet("segment", src, "--model", bundle, "--out-mask", out / "mask.tif", *opts, "--resume", "--overwrite")
    assert r.returncode != 0 and "nothing to resume" in r.stderr


# ------------------------------------------------------------ bad inputs


def _bad_cases(tmp_path: Path, bundle: Path):
    good = _write(tmp_path / "good.tif", _scene(100, 100))
    text = tmp_path / "notes.txt"
    text.write_text("not a raster\n")
    truncated = tmp_path / "trunc.tif"
    _write(truncated, _scene(600, 600), tiled=True, blockxsize=256, blockysize=256)
    data = truncated.read_bytes()
    truncated.write_bytes(data[: len(data) * 2 // 3])
    empty = tmp_path / "empty.tif"
    empty.write_bytes(b"")
    two = _write(tmp_path / "two.tif", _scene(100, 100, bands=2))
    broken = tmp_path / "broken.glnet"
    import shutil

    shutil.copytree(bundle, broken)
    (broken / "global.onnx").write_bytes(b"garbage")
    out = tmp_path / "o" / "mask.tif"
    out.parent.mkdir()
    return {
        "missing input": (tmp_path / "nope.tif", bundle, out),
        "text file": (text, bundle, out),
        "truncated tiff": (truncated, bundle, out),
        "zero-size file": (empty, bundle, out),
        "wrong band count": (two, bundle, out),
        "missing bundle": (good, tmp_path / "nope.glnet", out),
        "corrupted bundle": (good, broken, out),
        "no output folder": (good, bundle, tmp_path / "missing" / "mask.tif"),
    }


def test_bad_inputs_give_one_line_and_no_output(tiny_nores, tmp_path):
    _, bundle = tiny_nores
    for name, (src, b, out) in _bad_cases(tmp_path, bundle).items():
        r = _glnet("segment", src, "--model", b, "--out-mask", out, "--out-confidence", out.with_name("c.tif"))
        assert r.returncode != 0, name
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("glnet: error: "), (name, r.stderr)
        if out.parent.is_dir():
            assert list(out.parent.iterdir()) == [], name


def test_existing_output_is_not_overwritten(tiny_nores, tmp_path):
    _, bundle = tiny_nores
    src = _write(tmp_path / "in.tif", _scene(100, 100))
    out = tmp_path / "mask.tif"
    out.write_bytes(b"precious")
    r = _glnet("segment", src, "--model", bundle, "--out-mask", out)
    assert r.returncode != 0 and "already exists" in r.stderr
    assert out.read_bytes() == b"precious"
    r = _glnet("segment", src, "--model", bundle, "--out-mask", out, "--overwrite", "--quiet")
    assert r.returncode == 0, r.stderr
    assert _read(out).shape == (100, 100)


def test_cuda_without_cuda_is_a_clear_error(tiny_nores, tmp_path):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this machine has CUDA: the error case cannot occur")  # the CPU CI never skips this
    _, bundle = tiny_nores
    src = _write(tmp_path / "in.tif", _scene(100, 100))
    r = _glnet("segment", src, "--model", bundle, "--out-mask", tmp_path / "m.tif", "--device", "cuda")
    assert r.returncode != 0 and "cuda" in r.stderr.lower() and r.stderr.count("\n") == 1
    assert not (tmp_path / "m.tif").exists()


def test_profile_and_providers(tiny_nores, tmp_path):
    _, bundle = tiny_nores
    src = _write(tmp_path / "in.tif", _scene(300, 300))
    r = _glnet("segment", src, "--model", bundle, "--out-mask", tmp_path / "m.tif", "--profile", tmp_path / "p.json")
    assert r.returncode == 0, r.stderr
    assert "onnxruntime providers: CPUExecutionProvider" in r.stderr
    prof = json.loads((tmp_path / "p.json").read_text())
    for key in ("read_s", "global_s", "local_s", "aggregation_s", "write_s", "network_s", "total_s", "peak_rss_mb"):
        assert prof[key] >= 0, key
    assert prof["network_s"] <= prof["total_s"]
    assert prof["providers"] == ["CPUExecutionProvider"]


# ------------------------------------------------------------- polygons


def test_out_vector_with_min_area_agrees_with_the_mask(tiny_nores, tmp_path):
    import geopandas as gpd
    from rasterio import features

    _, bundle = tiny_nores
    src = _write(tmp_path / "in.tif", _scene(300, 260, seed=2))  # 0.5 m pixels: 0.25 m2 each
    r = _glnet("segment", src, "--model", bundle, "--out-mask", tmp_path / "m.tif", "--out-confidence", tmp_path / "c.tif",
               "--out-vector", tmp_path / "p.gpkg", "--min-area", "5", "--quiet")
    assert r.returncode == 0, r.stderr
    mask = _read(tmp_path / "m.tif")
    # The minimum mapping unit (5 m2 = 20 px) holds in the mask it wrote ...
    from shapely.geometry import shape

    regions = [shape(g).area for g, v in features.shapes(mask, mask=mask != 255, connectivity=4)]
    assert len(regions) > 1 and min(regions) >= 20
    # ... and the polygons rasterize back to exactly that mask.
    polys = gpd.read_file(tmp_path / "p.gpkg", layer="p")
    assert {"class_id", "class_name", "area_m2", "confidence"} <= set(polys.columns)
    with rasterio.open(tmp_path / "m.tif") as m:
        back = features.rasterize(zip(polys.geometry, polys.class_id), out_shape=m.shape, transform=m.transform,
                                  fill=255, dtype="uint8")
    assert np.array_equal(back, mask)
    assert abs(polys.area_m2.sum() - (mask != 255).sum() * 0.25) < 1e-6 * polys.area_m2.sum()


def test_out_vector_failure_leaves_nothing(tiny_nores, tmp_path):
    _, bundle = tiny_nores
    src = _write(tmp_path / "in.tif", _scene(100, 100))
    out = tmp_path / "o"
    out.mkdir()
    r = _glnet("segment", src, "--model", bundle, "--out-mask", out / "m.tif", "--out-vector", out / "p.xyz")
    assert r.returncode != 0 and r.stderr.startswith("glnet: error: ")
    assert list(out.iterdir()) == []


def test_pipeline_returns_what_it_computed(tiny_nores, tmp_path):
    """The pipeline's result holds the class table, providers and the polygons' counts and areas: what the
    outputs hold, without re-reading them."""
    import geopandas as gpd

    from glnet.glnet_core.formats.class_mask import class_styles, mask_class_info
    from glnet.glnet_core.products.pipeline import PolygonOptions, run_pipeline

    _, bundle = tiny_nores
    src = _write(tmp_path / "in.tif", _scene(300, 260, seed=2))
    res = run_pipeline(src, bundle, OutputOptions(tmp_path / "m.tif", tmp_path / "c.tif"), EngineOptions(window=200, margin=20),
                       polygons=PolygonOptions(tmp_path / "p.gpkg", min_area_m2=5), callbacks=Callbacks())
    seg = res.segment
    assert seg.classes == load_bundle(bundle).classes and seg.providers == ("CPUExecutionProvider",)
    assert seg.windows > 1 and seg.raster_size == (260, 300) and seg.model_grid == (260, 300)
    assert res.sieve_px == 20 and res.vector is not None
    polys = gpd.read_file(tmp_path / "p.gpkg", layer="p")
    assert res.vector.count == len(polys)
    assert res.vector.counts == {int(k): int(v) for k, v in polys.class_id.value_counts().items()}
    for cid, area in res.vector.areas_m2.items():
        assert area == pytest.approx(polys.area_m2[polys.class_id == cid].sum(), rel=1e-9)
    info = mask_class_info(tmp_path / "m.tif")
    assert res.styles == class_styles(info.labels, info.colours)
    assert res.profile["vectorize_s"] >= 0 and res.profile["patches"] == seg.patches > 0
