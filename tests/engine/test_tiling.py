"""Patch layout and feature-map boxes (glnet_core/tiling.py).

The reference for the layout is the published rule (see docs / the notes):
``n = ceil(x / p)``; add patches while the overlap ``p - (x - p) / (n - 1)`` is
under the minimum; patch ``i`` starts at ``numpy.round(i * step)``, the last at
``x - p``. It is re-implemented here independently, with numpy's rounding.
"""

from __future__ import annotations

import math
from typing import List

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from glnet.glnet_core.engine.tiling import (
    MAX_PATCHES_PER_WINDOW,
    FeatureBox,
    PatchBox,
    WindowLayouts,
    axis_patch_count,
    axis_starts,
    check_window_patches,
    feature_box,
    largest_window,
    padded_size,
    patch_layout,
    round_half_even,
    window_patch_count,
    window_patch_problem,
)
from glnet.glnet_core.errors import InputError, LayoutError


def published_starts(length: int, patch: int, min_overlap: int) -> List[int]:
    """The published layout rule for ``length > patch``, written from its description."""
    n = 1
    while length > n * patch:
        n += 1
    n = max(n, 2)
    while patch - (length - patch) / (n - 1) < min_overlap:
        n += 1
    step = (length - patch) / (n - 1)
    return [int(np.round(i * step)) for i in range(n - 1)] + [length - patch]


# Lengths from one patch to several windows; patch sizes of the three configs
# and odd ones; minimum overlaps below the patch size.
layouts = st.integers(min_value=2, max_value=600).flatmap(
    lambda p: st.tuples(
        st.integers(min_value=p, max_value=6 * p + 17),
        st.just(p),
        st.integers(min_value=0, max_value=p - 1),
    )
)


# ---------------------------------------------------------------- axis_starts
def test_2448_side_with_508_patches_gives_six():
    starts = axis_starts(2448, 508, 50)
    assert starts == [0, 388, 776, 1164, 1552, 1940]


def test_window_equal_to_patch_gives_one_patch():
    assert axis_starts(508, 508, 50) == [0]
    boxes = patch_layout(508, 508, 508, 50)
    assert boxes == [PatchBox(0, 0, 508, 508)]


def test_overlap_rule_adds_patches():
    # 1016 = 2 x 508: two patches would not overlap at all, so a third is added.
    assert axis_starts(1016, 508, 50) == [0, 254, 508]
    # 958: two patches overlap by exactly 58 >= 50; 967 leaves 49 < 50, so three.
    assert len(axis_starts(958, 508, 50)) == 2
    assert len(axis_starts(967, 508, 50)) == 3


@pytest.mark.parametrize("length", [509, 600, 1000, 1016, 1243, 2448, 2449, 5000])
def test_matches_published_rule_paper(length):
    assert axis_starts(length, 508, 50) == published_starts(length, 508, 50)


@settings(max_examples=300, deadline=None)
@given(layouts)
def test_matches_published_rule(layout):
    length, patch, min_overlap = layout
    if length == patch:
        # The published code divides by zero here; glnet defines one patch.
        assert axis_starts(length, patch, min_overlap) == [0]
    else:
        assert axis_starts(length, patch, min_overlap) == published_starts(length, patch, min_overlap)


@settings(max_examples=300, deadline=None)
@given(layouts)
def test_layout_properties(layout):
    length, patch, min_overlap = layout
    starts = axis_starts(length, patch, min_overlap)
    assert starts[0] == 0
    # The last patch ends exactly at the edge.
    assert starts[-1] + patch == length
    assert all(b > a for a, b in zip(starts, starts[1:])), starts
    # Neighbours overlap by at least the minimum.
    for a, b in zip(starts, starts[1:]):
        assert a + patch - b >= min_overlap, (starts, a, b)
    # Every pixel is covered.
    covered = np.zeros(length, dtype=bool)
    for s in starts:
        covered[s : s + patch] = True
    assert covered.all()
    # No more patches than needed: one fewer would break the overlap rule.
    n = len(starts)
    if n > max(2, math.ceil(length / patch)):
        assert patch - (length - patch) / (n - 2) < min_overlap


def test_layout_is_row_major():
    boxes = patch_layout(600, 1100, 508, 50)
    rows = axis_starts(600, 508, 50)
    cols = axis_starts(1100, 508, 50)
    assert [(b.top, b.left) for b in boxes] == [(r, c) for r in rows for c in cols]
    assert all((b.size_rows, b.size_cols) == (508, 508) for b in boxes)
    assert boxes[-1].bottom == 600 and boxes[-1].right == 1100


@pytest.mark.parametrize(
    "length, patch, min_overlap",
    [
        (507, 508, 50),  # shorter than a patch: pad first
        (0, 508, 50),
        (100, 0, 0),
        (100, -5, 0),
        (600, 508, 508),  # overlap as large as a patch: no progress possible
        (600, 508, 600),
    ],
)
def test_layout_errors(length, patch, min_overlap):
    with pytest.raises(LayoutError):
        axis_starts(length, patch, min_overlap)
    with pytest.raises(LayoutError):
        patch_layout(length, max(length, 1), patch, min_overlap)


def test_layout_error_is_a_value_error():
    assert issubclass(LayoutError, ValueError)


# ----------------------------------------------------------------- patch counts
@settings(max_examples=400, deadline=None)
@given(layouts)
def test_axis_patch_count_is_the_published_loop_in_closed_form(layout):
    length, patch, min_overlap = layout
    expected = 1 if length == patch else len(published_starts(length, patch, min_overlap))
    assert axis_patch_count(length, patch, min_overlap) == expected
    assert len(axis_starts(length, patch, min_overlap)) == expected


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=2, max_value=600).flatmap(
    lambda p: st.tuples(st.just(p), st.integers(min_value=0, max_value=p - 1))))
def test_largest_window_is_the_last_one_within_the_bound(case):
    patch, min_overlap = case
    side = largest_window(patch, min_overlap)
    assert window_patch_count(side, side, patch, min_overlap) <= MAX_PATCHES_PER_WINDOW
    assert window_patch_count(side + 1, side + 1, patch, min_overlap) > MAX_PATCHES_PER_WINDOW
    assert window_patch_problem(side, patch, min_overlap) is None
    assert f"at most {side} px" in window_patch_problem(side + 1, patch, min_overlap)


def test_patch_count_grows_with_the_window():
    # Edge windows are smaller, so checking the full window bounds them all.
    counts = [window_patch_count(n, n, 128, 40) for n in range(1, 3000, 7)]
    assert counts == sorted(counts)


def test_window_patch_problem_refuses_impossible_layouts():
    assert "not positive" in window_patch_problem(0, 128, 16)
    assert "smaller than the patch size" in window_patch_problem(512, 128, 128)
    assert "not positive" in window_patch_problem(512, 0, 0)


def test_check_window_patches_names_the_option():
    with pytest.raises(InputError, match=r"^--window 600: a 600 px window needs 3481 patches of 256 px with 250 px overlap"):
        check_window_patches(600, 256, 250)
    check_window_patches(442, 256, 250)


def test_window_layouts_refuse_beyond_the_bound_and_cache_within():
    layouts = WindowLayouts(256, 250)
    assert layouts.for_window(442, 442) is layouts.for_window(442, 300 + 142)
    with pytest.raises(InputError, match=r"^--window: a 443 x 443 px window needs 1089 patches"):
        layouts.for_window(443, 443)


# ----------------------------------------------------------------- padding
def test_padded_size():
    assert padded_size(300, 200, 508) == (508, 508)
    assert padded_size(600, 200, 508) == (600, 508)
    assert padded_size(2448, 2448, 508) == (2448, 2448)


@pytest.mark.parametrize("size", [(0, 10), (10, 0), (-1, 5)])
def test_padded_size_errors(size):
    with pytest.raises(LayoutError):
        padded_size(size[0], size[1], 508)


# ---------------------------------------------------------------- rounding
@pytest.mark.parametrize("value", [0.5, 1.5, 2.5, -0.5, -1.5, 3.49, 3.51, 63.5, 31.75, 1e6 + 0.5])
def test_round_half_even_matches_numpy(value):
    assert round_half_even(value) == int(np.round(value))


# ------------------------------------------------------------ feature boxes
def test_feature_box_published_rule():
    # 2448 window, patch 508 at 388: rows round(388/2448*127) = 20 .. 20 + round(508/2448*127) = 26.
    box = feature_box(PatchBox(388, 1940, 508, 508), (2448, 2448), (127, 127))
    assert box == FeatureBox(20, 46, 101, 127)
    assert (box.height, box.width) == (26, 26)


def test_feature_box_that_would_overflow_is_shifted_inside():
    # Paper sizes: a 1016 px window has patches at 0, 254, 508. On the 127-row
    # c2 map the last one starts at round(63.5) = 64 and is round(63.5) = 64
    # rows long: the published rule gives rows 64..128 of a 127-row map.
    assert round_half_even(508 / 1016 * 127) + round_half_even(508 / 1016 * 127) > 127
    box = feature_box(PatchBox(508, 0, 508, 508), (1016, 1016), (127, 127))
    assert box == FeatureBox(63, 127, 0, 64)


@settings(max_examples=300, deadline=None)
@given(layouts, st.integers(min_value=1, max_value=300), st.integers(min_value=1, max_value=300))
def test_feature_boxes_stay_inside_and_keep_their_size(layout, rows, cols):
    length, patch, min_overlap = layout
    # A non-square window: the same length on rows, a little more on columns.
    window = (length, length + patch // 3)
    boxes = patch_layout(window[0], window[1], patch, min_overlap)
    fboxes = [feature_box(b, window, (rows, cols)) for b in boxes]
    exp_h = max(1, min(rows, round_half_even(patch / window[0] * rows)))
    exp_w = max(1, min(cols, round_half_even(patch / window[1] * cols)))
    for b, f in zip(boxes, fboxes):
        assert 0 <= f.row0 < f.row1 <= rows and 0 <= f.col0 < f.col1 <= cols, (b, f)
        assert (f.height, f.width) == (exp_h, exp_w), (b, f)
        # Where the published rule stays inside the map, the box is exactly it.
        r0 = round_half_even(b.top / window[0] * rows)
        if r0 + exp_h <= rows:
            assert f.row0 == r0
        else:
            assert f.row1 == rows  # shifted back to end at the edge
        c0 = round_half_even(b.left / window[1] * cols)
        if c0 + exp_w <= cols:
            assert f.col0 == c0
        else:
            assert f.col1 == cols


def test_overflow_case_exists_in_property_range():
    # Guards the property test above against testing only the easy branch:
    # some layout in its range does need the shift.
    hits = [
        (length, f)
        for length in range(128, 800)
        for f in (17, 25, 32, 33)
        for s in axis_starts(length, 128, 16)
        if round_half_even(s / length * f) + round_half_even(128 / length * f) > f
    ]
    assert hits
