"""The engine's small values: options checked where they are made, the modes table, the patch-layout cache,
the model grid, progress reports."""

from __future__ import annotations

import pytest

from glnet.glnet_core.callbacks import Callbacks, Progress
from glnet.glnet_core.engine.grid import ModelGrid
from glnet.glnet_core.engine.modes import GRAPH_NAMES, MODE_NAMES, MODES, check_mode, graphs_for_modes
from glnet.glnet_core.engine.options import EngineOptions, InputOptions, OutputOptions
from glnet.glnet_core.engine.tiling import WindowLayouts, patch_layout
from glnet.glnet_core.engine.windows import raster_windows
from glnet.glnet_core.errors import Cancelled, InputError


@pytest.mark.parametrize(
    "kwargs,message",
    [
        (dict(mode="fast"), "unknown mode 'fast'; choose full or g2l"),
        (dict(device="tpu"), "unknown device 'tpu'; choose auto, cpu or cuda"),
        (dict(upsample="cubic"), "unknown upsampling 'cubic'; choose bilinear or nearest"),
        (dict(batch=0), "--batch: must be at least 1, got 0"),
        (dict(threads=0), "--threads: must be at least 1, got 0"),
        (dict(window=0), "--window: must be at least 16, got 0"),
        (dict(margin=-1), "--margin: must be at least 0, got -1"),
        (dict(window=300, margin=150), "--margin: must be less than half the window (300 px), got 150"),
    ],
)
def test_engine_options_are_checked_where_made(kwargs, message):
    with pytest.raises(InputError) as exc:
        EngineOptions(**kwargs)
    assert str(exc.value) == message


def test_options_are_frozen_values(tmp_path):
    opts = EngineOptions(mode="g2l", window=300, margin=30)
    with pytest.raises(AttributeError):
        opts.mode = "full"  # type: ignore[misc]
    assert InputOptions(bands=[3, 2, 1], input_range=(0, 10)).bands == (3, 2, 1)
    with pytest.raises(InputError, match="--bands: band numbers start at 1"):
        InputOptions(bands=(0, 1, 2))
    with pytest.raises(InputError, match="--input-range: .*LOW < HIGH"):
        InputOptions(input_range=(5, 5))
    out = OutputOptions(str(tmp_path / "m.tif"), tmp_path / "c.tif")
    assert out.paths == (tmp_path / "m.tif", tmp_path / "c.tif")
    with pytest.raises(InputError, match="different file names"):
        OutputOptions(tmp_path / "m.tif", str(tmp_path / "m.tif"))


def test_output_check_refuses_before_any_work(tmp_path):
    (tmp_path / "m.tif").write_bytes(b"precious")
    with pytest.raises(InputError, match="--out-mask: .* already exists"):
        OutputOptions(tmp_path / "m.tif").check()
    OutputOptions(tmp_path / "m.tif", overwrite=True).check()
    with pytest.raises(InputError, match="--out-confidence: output folder .* does not exist"):
        OutputOptions(tmp_path / "x.tif", tmp_path / "no" / "c.tif").check()
    with pytest.raises(InputError, match="--out-vector: .* already exists"):
        OutputOptions(tmp_path / "x.tif").check(extra=[(tmp_path / "m.tif", "--out-vector")])
    assert (tmp_path / "m.tif").read_bytes() == b"precious"


def test_one_modes_table():
    assert MODE_NAMES == ("full", "g2l") and check_mode("g2l") is MODES["g2l"]
    assert graphs_for_modes(["g2l"]) == ("global", "local", "aggregation_g2l")
    assert graphs_for_modes(MODE_NAMES) == GRAPH_NAMES
    for mode in MODES.values():
        assert mode.graphs == graphs_for_modes([mode.name]) and mode.description


def test_window_layouts_are_computed_once_per_size():
    layouts = WindowLayouts(128, 20)
    wins = raster_windows(900, 700, 400, 40)
    lists = [layouts.for_window(w.rows.size, w.cols.size) for w in wins]
    assert all(a is lists[0] for a in lists)  # every window is 400 x 400: one layout object
    assert lists[0] == patch_layout(400, 400, 128, 20)
    assert layouts.for_window(50, 300) == patch_layout(128, 300, 128, 20)  # padded first


def test_model_grid_spans_tile_the_raster():
    grid = ModelGrid((401, 603), (0.5, 0.5))
    assert grid.resampled and grid.size == (200, 302)
    covered = 0
    for w in raster_windows(*grid.size, 100, 10):
        (r0, r1), (c0, c1) = grid.core_on_raster(w)
        covered += (r1 - r0) * (c1 - c0)
    assert covered == 401 * 603
    assert not ModelGrid((10, 10)).resampled


def test_progress_counter_reports_and_cancellation_is_polled():
    seen = []
    cb = Callbacks(progress=seen.append, is_cancelled=lambda: len(seen) >= 2)
    counter = cb.counter(10, "rows", done=4)
    counter.step(4)
    counter.step(7, windows_done=1, windows_total=3)
    assert [(p.done, p.total, p.unit) for p in seen] == [(4, 10, "rows"), (7, 10, "rows")]
    assert seen[0].eta_s is None and seen[1].eta_s is not None and seen[1].fraction == 0.7
    assert seen[1].windows_done == 1 and Progress(0, 0, "rows").fraction == 1.0
    with pytest.raises(Cancelled):
        cb.check_cancelled()
    Callbacks().check_cancelled()  # no hooks: nothing happens
