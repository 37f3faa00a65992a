"""The raster-level window layout (glnet_core/windows.py): pure functions."""

from __future__ import annotations

import itertools

import pytest

from glnet.glnet_core.engine.windows import axis_windows, default_margin, raster_windows
from glnet.glnet_core.errors import LayoutError


@pytest.mark.parametrize(
    "length,window,margin",
    [c for c in itertools.product([1, 5, 100, 511, 512, 513, 2447, 2448, 2449, 5000, 10007], [128, 512, 2448], [0, 1, 16, 51, 244])
     if 2 * c[2] < c[1]],
)
def test_cores_partition_the_axis_and_keep_their_margin(length, window, margin):
    spans = axis_windows(length, window, margin)
    stop = 0
    for win, core in spans:
        assert core.start == stop and core.stop > core.start
        stop = core.stop
        assert 0 <= win.start <= core.start and core.stop <= win.stop <= length
        assert win.size == min(window, length)
        if core.start > 0:
            assert core.start - win.start >= margin
        if core.stop < length:
            assert win.stop - core.stop >= margin
    assert stop == length
    # As few windows as the margin allows.
    edge, inner = window - margin, window - 2 * margin
    if length <= window:
        assert len(spans) == 1
    elif length <= 2 * edge:
        assert len(spans) == 2
    else:
        assert len(spans) == 2 + -(-(length - 2 * edge) // inner)


def test_small_rasters_are_one_window():
    (win, core), = axis_windows(300, 2448, 244)
    assert (win.start, win.stop, core.start, core.stop) == (0, 300, 0, 300)
    assert len(raster_windows(1, 1, 512)) == 1


def test_raster_windows_are_row_major_and_indexed():
    wins = raster_windows(5000, 3000, 2448)
    assert [w.index for w in wins] == list(range(len(wins)))
    assert len(wins) == len({(w.core_rows, w.core_cols) for w in wins})
    assert wins[0].core_rows.start == 0 and wins[0].core_cols.start == 0
    assert default_margin(2448) == 122
    assert default_margin(1024) == 51


@pytest.mark.parametrize("length,window,margin", [(0, 512, 10), (10, 0, 0), (100, 512, 256), (100, 512, -1)])
def test_bad_layouts_are_refused(length, window, margin):
    with pytest.raises(LayoutError):
        axis_windows(length, window, margin)
