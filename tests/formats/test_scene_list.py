"""Tests of glnet_core.formats.scene_list: glob patterns, list files, stems and their collisions."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from glnet.glnet_core.errors import InputError
from glnet.glnet_core.formats.scene_list import Scene, expand_scenes, read_scene_list, scene_stem


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    return path


def test_patterns_are_expanded_sorted_without_folders_or_hidden_files(tmp_path):
    for name in ("c.tif", "a.tif", "b.tif", ".a.tif.part", "notes.md"):
        touch(tmp_path / name)
    (tmp_path / "d.tif").mkdir()
    scenes = expand_scenes([str(tmp_path / "*.tif")])
    assert [s.name for s in scenes] == ["a.tif", "b.tif", "c.tif"]
    assert [s.stem for s in scenes] == ["a", "b", "c"]
    touch(tmp_path / "deep" / "er" / "e.tif")
    assert [s.name for s in expand_scenes([str(tmp_path / "**" / "e.tif")])] == ["e.tif"]


def test_list_files_skip_comments_and_resolve_relative_paths(tmp_path):
    touch(tmp_path / "data" / "x.tif")
    other = touch(tmp_path / "other" / "y.tif")
    lst = tmp_path / "data" / "scenes.txt"
    lst.write_text(f"# the scenes\n\nx.tif\n   {other}  \n  # later\n/vsicurl/https://example.org/z.tif?sig=1\n",
                   encoding="utf-8")
    assert read_scene_list(lst) == [str(tmp_path / "data" / "x.tif"), str(other),
                                    "/vsicurl/https://example.org/z.tif?sig=1"]
    scenes = expand_scenes([str(lst), "https://example.org/w.tif"])
    assert [s.stem for s in scenes] == ["x", "y", "z", "w"]
    assert scenes[2].name == "z.tif"
    # A listed raster that is missing is the batch's to report, not a refusal here.
    lst.write_text("missing.tif\n", encoding="utf-8")
    assert expand_scenes([str(lst)]) == [Scene(str(tmp_path / "data" / "missing.tif"), "missing")]


@pytest.mark.parametrize("words, message", [
    (["{d}/*.tif"], "matches no file"),
    (["{d}/none.tif"], "none.tif does not exist"),
    (["{d}/empty.txt"], "names no raster"),
    (["{d}/nolist.txt"], "list file .*nolist.txt does not exist"),
    (["{d}/binary.lst"], "is not UTF-8 text"),
])
def test_what_names_no_scene_is_refused(tmp_path, words, message):
    (tmp_path / "empty.txt").write_text("# nothing\n\n", encoding="utf-8")
    (tmp_path / "binary.lst").write_bytes(b"\xff\xfe\x00\x81")
    with pytest.raises(InputError, match=f"^SCENES: .*{message}"):
        expand_scenes([w.format(d=tmp_path) for w in words])


def test_a_list_that_is_a_pipe_is_refused_before_it_is_read(tmp_path):
    fifo = tmp_path / "scenes.txt"
    os.mkfifo(fifo)
    with pytest.raises(InputError, match="named pipe"):
        expand_scenes([str(fifo)])


def test_scenes_with_the_same_stem_are_refused(tmp_path):
    a = touch(tmp_path / "a" / "x.tif")
    b = touch(tmp_path / "b" / "X.TIF")
    with pytest.raises(InputError, match=r"SCENES: .*a/x.tif and .*b/X.TIF are two scenes with the name X"):
        expand_scenes([str(tmp_path / "a" / "*.tif"), str(b)])
    with pytest.raises(InputError, match=r"are the same scene"):
        expand_scenes([str(a), str(a)])
    touch(tmp_path / "a" / "x.jp2")
    with pytest.raises(InputError, match="the name x"):
        expand_scenes([str(tmp_path / "a" / "x.*")])


def test_stems():
    assert scene_stem("scenes/a.tif") == "a"
    assert scene_stem("c.tar.tif") == "c.tar"
    assert scene_stem("/vsicurl/https://host/path/b.tif?X-Amz-Signature=abc#f") == "b"
    assert scene_stem("/vsizip/archive.zip/inner/d.tif") == "d"
    with pytest.raises(InputError, match="no file name"):
        scene_stem("https://host/")
