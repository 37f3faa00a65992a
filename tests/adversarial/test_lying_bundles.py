"""Bundles and checkpoints that lie: each is refused with one line, before anything runs.

Lying bundles are copies of the shipped demo bundle with an edited manifest or
member; the manifest's checksums are signed again after each edit, so that it
is the rule under test that refuses, not the checksum. Lying checkpoints are
real tiny glnet checkpoints, loaded, edited and saved again with torch.
Users meet these through ``glnet segment``, ``glnet info --check-io``,
``glnet export``, ``glnet train --resume`` and ``glnet import-original``;
each case goes through the command line, some also through ``load_bundle``.
"""

from __future__ import annotations

import fractions
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, Callable, Dict, List

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from glnet.glnet_core.cli.main import main
from glnet.glnet_core.engine.bundle import load_bundle
from glnet.glnet_core.engine.bundle_files import MAX_GRAPH_BYTES
from glnet.glnet_core.engine.onnx_external_data import MalformedModel, external_tensor
from glnet.glnet_core.engine.tiling import (
    MAX_PATCHES_PER_WINDOW,
    WindowLayouts,
    check_window_patches,
    largest_window,
    window_patch_count,
    window_patch_problem,
)
from glnet.glnet_core.errors import BundleError, InputError
from tests.adversarial.conftest import assert_no_parts, assert_refused, snapshot

# --------------------------------------------------------------------------- helpers


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lying_copy(demo_bundle: Path, tmp_path: Path, name: str = "lie.glnet") -> Path:
    dest = tmp_path / name
    shutil.copytree(demo_bundle, dest, symlinks=True)
    return dest


def resign(folder: Path) -> None:
    """Sign the manifest's graph checksums again, after an edit of the manifest or of a graph."""
    path = folder / "manifest.json"
    m = json.loads(path.read_text(encoding="utf-8"))
    for graph in m["graphs"].values():
        graph["sha256"] = _sha(folder / graph["file"])
    path.write_text(json.dumps(m, indent=2), encoding="utf-8")


def edit_manifest(folder: Path, change: Callable[[Dict[str, Any]], None]) -> None:
    path = folder / "manifest.json"
    m = json.loads(path.read_text(encoding="utf-8"))
    change(m)
    path.write_text(json.dumps(m, indent=2), encoding="utf-8")
    resign(folder)


def refused_in_process(capsys: pytest.CaptureFixture, argv: List[str], contains: str, status: int = 2) -> str:
    """Run ``glnet argv`` in this process; assert the one-line contract; return the line."""
    code = main(argv)
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == status, err
    assert len(err) == 1 and err[0].startswith("glnet: error: "), err
    assert "Traceback" not in err[0]
    assert contains.lower() in err[0].lower(), err[0]
    return err[0]


def segment_refused(capsys, bundle: Path, raster: Path, contains: str, *extra: str) -> str:
    """``glnet segment`` with ``bundle`` is refused: one line, no output, no part file, input unchanged."""
    folder = raster.parent
    before = snapshot(folder)
    out = folder / "mask.tif"
    line = refused_in_process(capsys, ["segment", str(raster), "--model", str(bundle), "--out-mask", str(out),
                                       "--quiet", *extra], contains)
    assert not out.exists()
    assert_no_parts(folder)
    assert snapshot(folder) == before
    return line


def info_refused(capsys, bundle: Path, contains: str, check_io: bool = True) -> str:
    return refused_in_process(capsys, ["info", str(bundle), *(["--check-io"] if check_io else [])], contains)


def class_tensors(m: Dict[str, Any]):
    """The manifest's entries of the tensors whose channels are the classes."""
    for graph in m["graphs"].values():
        for kind, names in (("outputs", ("logits", "agg_g2l", "agg_full")), ("inputs", ("agg_local",))):
            for t in graph[kind]:
                if t["name"] in names:
                    yield t


def add_class(m: Dict[str, Any]) -> None:
    m["classes"]["classes"].append({"id": 7, "name": "snow", "colour": [250, 250, 250], "ignore": False})


# --------------------------------------------------------------------------- manifest vs graphs


def test_the_unedited_copy_passes_every_check(demo_bundle, tmp_path, capsys):
    # The control: copying and re-signing alone changes nothing.
    b = lying_copy(demo_bundle, tmp_path)
    resign(b)
    assert main(["info", str(b), "--check-io"]) == 0
    assert "inputs/outputs OK" in capsys.readouterr().out


def test_class_count_disagreeing_with_declared_channels(demo_bundle, tmp_path, capsys, make_raster):
    b = lying_copy(demo_bundle, tmp_path)
    edit_manifest(b, add_class)
    line = info_refused(capsys, b, "manifest says 8 classes", check_io=False)
    assert "with 7 channels" in line and "onnx" in line
    segment_refused(capsys, b, make_raster(), "manifest says 8 classes")


def test_class_count_disagreeing_with_the_graphs_themselves(demo_bundle, tmp_path, capsys, make_raster):
    # The manifest's declarations are edited too: only the graphs can tell.
    b = lying_copy(demo_bundle, tmp_path)

    def lie(m):
        add_class(m)
        for t in class_tensors(m):
            t["shape"][1] = 8

    edit_manifest(b, lie)
    load_bundle(b)  # nothing without onnxruntime can see it
    line = info_refused(capsys, b, "manifest says 8 classes but")
    assert "gives logits with 7 channels" in line
    segment_refused(capsys, b, make_raster(), "manifest says 8 classes but")


def test_fewer_classes_than_the_graphs_give(demo_bundle, tmp_path, capsys):
    b = lying_copy(demo_bundle, tmp_path)

    def lie(m):
        m["classes"]["classes"].pop()
        for t in class_tensors(m):
            t["shape"][1] = 6

    edit_manifest(b, lie)
    info_refused(capsys, b, "manifest says 6 classes but")


def _set_size_p(m: Dict[str, Any], size: int, declared: bool) -> None:
    m["size_p"] = m["model"]["config"]["size_p"] = size
    if declared:
        m["graphs"]["local"]["inputs"][0]["shape"][2:] = [size, size]


def test_size_p_disagreeing_with_the_declared_patches(demo_bundle, tmp_path, capsys):
    b = lying_copy(demo_bundle, tmp_path)
    edit_manifest(b, lambda m: _set_size_p(m, 224, declared=False))
    info_refused(capsys, b, "manifest says size_p 224 but local.onnx is declared to take patches of 256 x 256 px",
                 check_io=False)


def test_size_p_disagreeing_with_the_graph(demo_bundle, tmp_path, capsys, make_raster):
    b = lying_copy(demo_bundle, tmp_path)
    edit_manifest(b, lambda m: _set_size_p(m, 224, declared=True))
    info_refused(capsys, b, "manifest says size_p 224 but local.onnx takes patches of 256 x 256 px")
    segment_refused(capsys, b, make_raster(), "size_p 224")


def test_size_g_disagreeing_with_the_graphs(demo_bundle, tmp_path, capsys, make_raster):
    b = lying_copy(demo_bundle, tmp_path)

    def lie(m):
        m["size_g"] = m["model"]["config"]["size_g"] = 320
        for name in ("global", "l2g"):
            m["graphs"][name]["inputs"][0]["shape"][2:] = [320, 320]

    edit_manifest(b, lie)
    info_refused(capsys, b, "manifest says size_g 320 but global.onnx takes image_g of 256 x 256 px")
    segment_refused(capsys, b, make_raster(), "size_g 320")


def test_band_count_disagreeing_with_the_graphs(demo_bundle, tmp_path, capsys):
    b = lying_copy(demo_bundle, tmp_path)

    def lie(m):
        m["input"] = {"bands": 4, "band_names": ["red", "green", "blue", "nir"]}
        m["model"]["config"]["in_channels"] = 4
        m["normalisation"]["mean"] = [0.0] * 4
        m["normalisation"]["std"] = [1.0] * 4

    edit_manifest(b, lie)
    info_refused(capsys, b, "manifest says 4 bands but global.onnx is declared to take image_g with 3 channels",
                 check_io=False)


def test_feature_width_disagreeing_between_declared_graphs(demo_bundle, tmp_path, capsys):
    b = lying_copy(demo_bundle, tmp_path)

    def lie(m):
        for t in m["graphs"]["local"]["inputs"]:
            if t["name"] == "g_c3":
                t["shape"][1] = 32

    edit_manifest(b, lie)
    info_refused(capsys, b, "global.onnx is declared to give c3 with 64 channels but local.onnx is declared to take "
                            "g_c3 with 32", check_io=False)


def test_feature_width_disagreeing_between_the_graphs(demo_bundle, tmp_path, capsys, make_raster):
    # local.onnx itself takes a 32-channel g_c3 (its manifest entry agrees):
    # only comparing the graphs with each other finds it.
    b = lying_copy(demo_bundle, tmp_path)
    model = onnx.load(str(b / "local.onnx"))
    for value in model.graph.input:
        if value.name == "g_c3":
            value.type.tensor_type.shape.dim[1].dim_value = 32
    onnx.save(model, str(b / "local.onnx"))

    def declare(m):
        # Every declaration of c3 says 32, so the manifest agrees with itself.
        for graph in m["graphs"].values():
            for t in graph["inputs"] + graph["outputs"]:
                if t["name"] in ("c3", "g_c3", "m_c3"):
                    t["shape"][1] = 32

    edit_manifest(b, declare)
    line = info_refused(capsys, b, "local.onnx takes g_c3 with 32")
    assert "c3 with 64 channels" in line
    segment_refused(capsys, b, make_raster(), "g_c3 with 32")


# --------------------------------------------------------------------------- patches per window


def test_overlap_that_makes_a_window_need_too_many_patches(demo_bundle, tmp_path, capsys, make_raster):
    # 255 px overlap on 256 px patches: a 1024 px window would need 769 x 769 patches.
    b = lying_copy(demo_bundle, tmp_path)

    def lie(m):
        m["min_overlap"] = m["model"]["config"]["min_overlap"] = 255

    edit_manifest(b, lie)
    line = info_refused(capsys, b, "window: a 1024 px window needs 591361 patches", check_io=False)
    assert f"at most {MAX_PATCHES_PER_WINDOW}" in line
    segment_refused(capsys, b, make_raster(), "591361 patches")


def test_manifest_window_beyond_the_patch_bound(demo_bundle, tmp_path, capsys):
    b = lying_copy(demo_bundle, tmp_path)

    def lie(m):
        m["window"] = m["model"]["config"]["window"] = 9000

    edit_manifest(b, lie)
    info_refused(capsys, b, "at most 7200 px with these patches", check_io=False)


def test_run_window_beyond_the_patch_bound(demo_bundle, tmp_path, capsys, make_raster):
    # A valid bundle whose overlap leaves room for windows of 442 px at most
    # (patch 256, overlap 250): --window 600 on a 700 px raster is refused
    # before any output exists.
    b = lying_copy(demo_bundle, tmp_path)

    def overlap(m):
        m["min_overlap"] = m["model"]["config"]["min_overlap"] = 250
        m["window"] = m["model"]["config"]["window"] = 384

    edit_manifest(b, overlap)
    load_bundle(b)
    assert largest_window(256, 250) == 442
    segment_refused(capsys, b, make_raster(size=700), "--window", "--window", "600")


def test_the_published_example_and_the_rule_itself():
    assert window_patch_count(512, 512, 128, 127) == 148_225
    problem = window_patch_problem(512, 128, 127)
    assert problem is not None and "148225 patches" in problem and "at most 159 px" in problem
    # Every named configuration's own window is well inside the bound.
    assert window_patch_problem(2448, 508, 50) is None and window_patch_count(2448, 2448, 508, 50) == 36
    assert window_patch_problem(1024, 256, 32) is None
    # The count is computed, not looped: an absurd window costs nothing.
    assert window_patch_count(10**9, 10**9, 256, 32) > 10**13
    with pytest.raises(InputError, match=r"^--window 8192: a 8192 px window needs 1369 patches"):
        check_window_patches(8192, 256, 32)
    check_window_patches(7200, 256, 32)
    with pytest.raises(InputError, match=r"^--window: a 7201 x 7201 px window needs 1089 patches"):
        WindowLayouts(256, 32).for_window(7201, 7201)
    assert len(WindowLayouts(256, 32).for_window(7200, 7200)) == MAX_PATCHES_PER_WINDOW


# --------------------------------------------------------------------------- external data, links


def _to_external(folder: Path, graph: str, location: str) -> None:
    model = onnx.load(str(folder / f"{graph}.onnx"))
    onnx.save_model(model, str(folder / f"{graph}.onnx"), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=location, size_threshold=0)


def test_graph_with_external_weights(demo_bundle, tmp_path, capsys, make_raster):
    b = lying_copy(demo_bundle, tmp_path)
    _to_external(b, "aggregation_g2l", "aggregation_g2l.data")
    resign(b)
    line = info_refused(capsys, b, "aggregation_g2l.onnx keeps tensor", check_io=False)
    assert "external data file" in line
    segment_refused(capsys, b, make_raster(), "external data file")


def test_graph_with_external_weights_outside_the_bundle(demo_bundle, tmp_path, capsys):
    # onnx itself refuses to write a location with '..'; edit the proto's entries.
    b = lying_copy(demo_bundle, tmp_path)
    _to_external(b, "local", "local.data")
    shutil.move(str(b / "local.data"), tmp_path / "weights.bin")
    model = onnx.load(str(b / "local.onnx"), load_external_data=False)
    for tensor in model.graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                entry.value = "../weights.bin"
    (b / "local.onnx").write_bytes(model.SerializeToString())
    resign(b)
    info_refused(capsys, b, "local.onnx keeps tensor")


def test_external_data_found_in_nested_graphs_and_constants():
    const = numpy_helper.from_array(np.ones(4, np.float32), "hidden")
    const.ClearField("raw_data")
    const.data_location = TensorProto.EXTERNAL
    entry = const.external_data.add()
    entry.key, entry.value = "location", "/etc/passwd"
    branch = helper.make_graph([helper.make_node("Constant", [], ["z"], value=const)], "branch", [],
                               [helper.make_tensor_value_info("z", TensorProto.FLOAT, [4])])
    graph = helper.make_graph([helper.make_node("If", ["c"], ["z"], then_branch=branch, else_branch=branch)], "g",
                              [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, [4])])
    assert external_tensor(helper.make_model(graph).SerializeToString()) == "hidden"
    plain = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "p",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
                              [numpy_helper.from_array(np.ones(3, np.float32), "w")])
    assert external_tensor(helper.make_model(plain).SerializeToString()) is None
    with pytest.raises(MalformedModel):
        external_tensor(b"\x3a\xff\xff\xff\x0f")  # a graph field longer than the file


def test_not_an_onnx_file_with_a_valid_checksum(demo_bundle, tmp_path, capsys):
    b = lying_copy(demo_bundle, tmp_path)
    (b / "aggregation_g2l.onnx").write_bytes(b"\x3a\xff\xff\xff\x0f" + b"x" * 100)
    resign(b)
    info_refused(capsys, b, "aggregation_g2l.onnx is not a valid ONNX file", check_io=False)


def test_graph_symlink_leaving_the_bundle(demo_bundle, tmp_path, capsys, make_raster):
    # The linked file is the real graph, so its checksum matches: the link is what is refused.
    b = lying_copy(demo_bundle, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(str(b / "local.onnx"), elsewhere / "local.onnx")
    (b / "local.onnx").symlink_to(elsewhere / "local.onnx")
    line = info_refused(capsys, b, "local.onnx is a symbolic link to", check_io=False)
    assert "outside the bundle folder" in line
    segment_refused(capsys, b, make_raster(), "outside the bundle folder")


def test_manifest_symlink_leaving_the_bundle(demo_bundle, tmp_path, capsys):
    b = lying_copy(demo_bundle, tmp_path)
    shutil.move(str(b / "manifest.json"), tmp_path / "manifest.json")
    (b / "manifest.json").symlink_to(tmp_path / "manifest.json")
    info_refused(capsys, b, "manifest.json is a symbolic link to", check_io=False)


def test_relative_symlink_escaping_through_dotdot(demo_bundle, tmp_path, capsys):
    b = lying_copy(demo_bundle, tmp_path)
    shutil.move(str(b / "global.onnx"), tmp_path / "global.onnx")
    os.symlink("../global.onnx", b / "global.onnx")
    info_refused(capsys, b, "global.onnx is a symbolic link to", check_io=False)


def test_links_that_stay_inside_are_accepted(demo_bundle, tmp_path, capsys):
    # A member linked to a file inside the bundle, and the bundle folder
    # itself reached through a link, are no lie.
    b = lying_copy(demo_bundle, tmp_path)
    (b / "graphs").mkdir()
    shutil.move(str(b / "local.onnx"), b / "graphs" / "local.onnx")
    os.symlink("graphs/local.onnx", b / "local.onnx")
    (tmp_path / "current.glnet").symlink_to(b)
    assert main(["info", str(tmp_path / "current.glnet"), "--check-io"]) == 0
    capsys.readouterr()


def test_graph_that_is_not_a_regular_file(demo_bundle, tmp_path, capsys):
    b = lying_copy(demo_bundle, tmp_path)
    (b / "aggregation_full.onnx").unlink()
    (b / "aggregation_full.onnx").mkdir()
    info_refused(capsys, b, "aggregation_full.onnx is not a regular file", check_io=False)
    (b / "aggregation_full.onnx").rmdir()
    os.mkfifo(b / "aggregation_full.onnx")
    info_refused(capsys, b, "aggregation_full.onnx is not a regular file", check_io=False)


# --------------------------------------------------------------------------- zips


def zip_bundle(folder: Path, out: Path, extra: Callable[[zipfile.ZipFile], None] = lambda z: None,
               skip: tuple = ()) -> Path:
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted(folder.iterdir()):
            if path.name not in skip:
                z.write(path, f"demo.glnet/{path.name}")
        extra(z)
    return out


def _zeros_member(z: zipfile.ZipFile, name: str, size: int) -> None:
    block = bytes(1 << 20)
    with z.open(name, "w", force_zip64=True) as f:
        for _ in range(size // len(block)):
            f.write(block)
        f.write(bytes(size % len(block)))


@pytest.fixture(scope="module")
def bomb(demo_bundle, tmp_path_factory) -> Path:
    """A 2 GiB zip bomb in a few MB: global.onnx (the first graph read) inflates to 2 GiB of zeros."""
    out = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    graphs = tuple(p.name for p in demo_bundle.glob("*.onnx"))
    zip_bundle(demo_bundle, out, lambda z: _zeros_member(z, "demo.glnet/global.onnx", 2 << 30), skip=graphs)
    return out


def test_zip_bomb_is_refused_without_inflating_it(bomb, run_glnet, glnet_executable):
    assert bomb.stat().st_size < 3 << 20
    assert_refused(run_glnet("info", str(bomb)), contains="global.onnx is larger than")
    # Peak memory of the refusing process (its own rusage, read by a parent
    # that ran nothing else): far from the 2 GiB the member inflates to.
    probe = ("import resource, subprocess, sys; "
             "p = subprocess.run(sys.argv[1:], capture_output=True); "
             "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe, str(glnet_executable), "info", str(bomb)],
                         capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "2"
    assert int(out[1]) < 400 * 1024, f"peak RSS {int(out[1]) // 1024} MiB"


def test_zip_member_inflating_far_more_than_weights_do(demo_bundle, tmp_path, capsys):
    # 64 MiB of zeros: under the size cap, over the inflation ratio.
    z = zip_bundle(demo_bundle, tmp_path / "ratio.zip", lambda z: _zeros_member(z, "demo.glnet/local.onnx", 64 << 20),
                   skip=("local.onnx",))
    info_refused(capsys, z, "refusing a zip bomb", check_io=False)


def _patch_sizes(zip_path: Path, member: str, new_size: int) -> None:
    """Make both headers of ``member`` declare ``new_size`` uncompressed bytes (a consistent lie)."""
    data = bytearray(zip_path.read_bytes())
    with zipfile.ZipFile(zip_path) as z:
        info = z.getinfo(member)
    local = info.header_offset
    assert data[local:local + 4] == b"PK\x03\x04"
    struct.pack_into("<I", data, local + 22, new_size)
    name = member.encode()
    pos = 0
    while True:
        pos = data.find(b"PK\x01\x02", pos)
        assert pos >= 0
        name_len = struct.unpack_from("<H", data, pos + 28)[0]
        if bytes(data[pos + 46:pos + 46 + name_len]) == name:
            break
        pos += 4
    struct.pack_into("<I", data, pos + 24, new_size)
    zip_path.write_bytes(bytes(data))


def test_zip_member_longer_than_its_declared_size(demo_bundle, tmp_path, capsys):
    z = zip_bundle(demo_bundle, tmp_path / "longer.zip")
    _patch_sizes(z, "demo.glnet/global.onnx", 4 << 20)  # really 6 MB
    line = info_refused(capsys, z, "global.onnx", check_io=False)
    assert "cannot read" in line or "declares" in line


def test_zip_member_shorter_than_its_declared_size(demo_bundle, tmp_path, capsys):
    z = zip_bundle(demo_bundle, tmp_path / "shorter.zip")
    _patch_sizes(z, "demo.glnet/global.onnx", 6_200_000)  # really 6,146,626 bytes
    line = info_refused(capsys, z, "global.onnx", check_io=False)
    assert "cannot read" in line or "declares" in line


def test_zip_headers_that_disagree(demo_bundle, tmp_path, capsys):
    z = zip_bundle(demo_bundle, tmp_path / "headers.zip")
    data = bytearray(z.read_bytes())
    with zipfile.ZipFile(z) as zf:
        offset = zf.getinfo("demo.glnet/l2g.onnx").header_offset
    struct.pack_into("<I", data, offset + 22, 1234)  # only the local header lies
    z.write_bytes(bytes(data))
    info_refused(capsys, z, "its local header says 1234 bytes", check_io=False)


def test_zip_with_a_member_named_twice(demo_bundle, tmp_path, capsys):
    def twice(z):
        with pytest.warns(UserWarning, match="Duplicate name"):
            z.writestr("demo.glnet/aggregation_g2l.onnx", b"another graph")

    z = zip_bundle(demo_bundle, tmp_path / "twice.zip", twice)
    info_refused(capsys, z, "'demo.glnet/aggregation_g2l.onnx' appears twice", check_io=False)


@pytest.mark.parametrize("name", ["../evil.onnx", "/etc/evil.onnx", "demo.glnet/../../evil.onnx"])
def test_zip_member_with_an_unsafe_name(demo_bundle, tmp_path, capsys, name):
    z = zip_bundle(demo_bundle, tmp_path / "unsafe.zip", lambda zf: zf.writestr(name, b"x"))
    info_refused(capsys, z, "unsafe path", check_io=False)


def test_zip_member_that_is_a_symlink(demo_bundle, tmp_path, capsys):
    def link(z):
        info = zipfile.ZipInfo("demo.glnet/local.onnx")
        info.create_system = 3
        info.external_attr = (0o120777 << 16)
        z.writestr(info, "/etc/passwd")

    z = zip_bundle(demo_bundle, tmp_path / "link.zip", link, skip=("local.onnx",))
    info_refused(capsys, z, "local.onnx is a symbolic link in the zip", check_io=False)


def test_zip_with_an_external_data_graph(demo_bundle, tmp_path, capsys):
    b = lying_copy(demo_bundle, tmp_path)
    _to_external(b, "aggregation_full", "aggregation_full.data")
    resign(b)
    z = zip_bundle(b, tmp_path / "external.zip")
    info_refused(capsys, z, "keeps tensor", check_io=False)


def test_a_valid_zip_still_loads_and_checks(demo_bundle, tmp_path, capsys):
    z = zip_bundle(demo_bundle, tmp_path / "good.zip")
    assert main(["info", str(z), "--check-io"]) == 0
    assert "(zip)" in capsys.readouterr().out
    assert MAX_GRAPH_BYTES < 2 << 30


# --------------------------------------------------------------------------- checkpoints


@pytest.fixture(scope="module")
def checkpoint_data(tmp_path_factory) -> Dict[str, Any]:
    """The dict of a real tiny glnet checkpoint (as torch.load gives it)."""
    import torch

    from glnet.glnet_core.formats.classes import PRESETS
    from glnet.models.checkpoint import Checkpoint, save_checkpoint
    from glnet.models.config import get_config
    from glnet.models.glnet import GLNet

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "tiny.ckpt"
    save_checkpoint(Checkpoint(model=GLNet(get_config("tiny"), 7).eval(), classes=PRESETS["deepglobe"]), path)
    return torch.load(path, weights_only=True)


def write_checkpoint(data: Dict[str, Any], path: Path, change: Callable[[Dict[str, Any]], None]) -> Path:
    import copy

    import torch

    data = copy.deepcopy(data)
    change(data)
    torch.save(data, path)
    return path


def export_refused(capsys, ckpt: Path, contains: str) -> str:
    folder = ckpt.parent
    before = snapshot(folder)
    out = folder / "out.glnet"
    line = refused_in_process(capsys, ["export", str(ckpt), "--out", str(out), "--quiet"], contains)
    assert not out.exists()
    assert_no_parts(folder)
    assert snapshot(folder) == before
    return line


def test_the_unedited_checkpoint_loads(checkpoint_data, tmp_path):
    from glnet.models.checkpoint import load_checkpoint

    ckpt = load_checkpoint(write_checkpoint(checkpoint_data, tmp_path / "ok.ckpt", lambda d: None))
    assert ckpt.config.size_p == 128 and len(ckpt.classes) == 7
    assert all(p.device.type == "cpu" for p in ckpt.model.parameters())
    assert all(b.device.type == "cpu" for b in ckpt.model.buffers())
    assert all(p.requires_grad for p in ckpt.model.parameters())


def test_weights_of_another_float_precision_are_cast(checkpoint_data, tmp_path):
    import torch

    from glnet.models.checkpoint import load_checkpoint

    def double(d):
        d["state_dict"] = {k: v.double() if v.is_floating_point() else v for k, v in d["state_dict"].items()}

    ckpt = load_checkpoint(write_checkpoint(checkpoint_data, tmp_path / "f64.ckpt", double))
    assert {p.dtype for p in ckpt.model.parameters()} == {torch.float32}


def test_integer_weights_where_floats_belong(checkpoint_data, tmp_path, capsys):
    def ints(d):
        d["state_dict"]["aggregation.bias"] = d["state_dict"]["aggregation.bias"].long()

    export_refused(capsys, write_checkpoint(checkpoint_data, tmp_path / "int.ckpt", ints),
                   "1 keys of the wrong dtype (aggregation.bias torch.int64 != torch.float32)")


@pytest.mark.parametrize("change,contains", [
    (lambda d: d["config"].pop("size_p"), "config: missing key 'size_p'"),
    (lambda d: d["config"]["backbone"].pop("widths"), "config.backbone: missing key 'widths'"),
    (lambda d: d["config"]["backbone"].__setitem__("widths", (8, -16, 32, 32)), "config.backbone.widths[1]: -16 is out of range"),
    (lambda d: d["config"].__setitem__("fpn_channels", 10**6), "config.fpn_channels: 1000000 is out of range"),
    (lambda d: d["config"].__setitem__("head_channels", 8.5), "config.head_channels: expected an integer"),
    (lambda d: d["config"]["backbone"].__setitem__("layers", [1, 1, 1]), "config.backbone.layers: expected 4 integers"),
    (lambda d: d["config"].__setitem__("min_overlap", 127), "config.window: a 512 px window needs 148225 patches"),
    (lambda d: d["config"].__setitem__("surprise", 1), "config: unexpected key 'surprise'"),
])
def test_configuration_missing_or_absurd(checkpoint_data, tmp_path, capsys, change, contains):
    export_refused(capsys, write_checkpoint(checkpoint_data, tmp_path / "bad.ckpt", change), contains)


def test_widths_within_bounds_that_the_weights_do_not_have(checkpoint_data, tmp_path, capsys):
    # 4096-wide stages would be gigabytes of parameters: refused by comparing
    # shapes on torch's meta device, before any of it is allocated.
    def wide(d):
        d["config"]["backbone"]["widths"] = [4096] * 4
        d["config"]["fpn_channels"] = 4096

    export_refused(capsys, write_checkpoint(checkpoint_data, tmp_path / "wide.ckpt", wide), "weights do not fit the model")


@pytest.mark.parametrize("change,contains", [
    (lambda d: d["state_dict"].__setitem__("aggregation.bias", [0.0] * 7), "weight aggregation.bias is a list, not a tensor"),
    (lambda d: d.__setitem__("state_dict", [1, 2]), "the weights are a list, not a mapping"),
    (lambda d: d["state_dict"].__setitem__(3, d["state_dict"]["aggregation.bias"]), "weight name 3 is not a string"),
])
def test_weights_that_are_not_a_mapping_of_tensors(checkpoint_data, tmp_path, capsys, change, contains):
    export_refused(capsys, write_checkpoint(checkpoint_data, tmp_path / "bad.ckpt", change), contains)


def test_pickle_with_other_objects_gets_glnets_message(checkpoint_data, tmp_path, capsys):
    ckpt = write_checkpoint(checkpoint_data, tmp_path / "pickle.ckpt",
                            lambda d: d["provenance"].__setitem__("ratio", fractions.Fraction(1, 3)))
    line = export_refused(capsys, ckpt, "holds a Python object (fractions.Fraction)")
    assert "weights_only" not in line and "trust" not in line


def test_a_pickle_that_would_run_code(tmp_path, capsys):
    class Runs:
        def __reduce__(self):
            return (os.system, ("touch " + str(tmp_path / "ran"),))

    import pickle

    ckpt = tmp_path / "runs.ckpt"
    with open(ckpt, "wb") as f:
        pickle.dump({"format": "glnet-checkpoint", "x": Runs()}, f, protocol=2)
    export_refused(capsys, ckpt, "holds a Python object (posix.system)")
    assert not (tmp_path / "ran").exists()


@pytest.mark.parametrize("value,kind", [(float("nan"), "NaN"), (float("inf"), "infinite values")])
def test_non_finite_weights_are_named(checkpoint_data, tmp_path, capsys, value, kind):
    def poison(d):
        d["state_dict"]["local_branch.head.classify.weight"][0, 0, 0, 0] = value

    ckpt = write_checkpoint(checkpoint_data, tmp_path / "nan.ckpt", poison)
    export_refused(capsys, ckpt, f"weight local_branch.head.classify.weight holds {kind} (1 of")


def test_class_table_disagreeing_with_the_heads(checkpoint_data, tmp_path, capsys):
    ckpt = write_checkpoint(checkpoint_data, tmp_path / "classes.ckpt",
                            lambda d: d["classes"]["classes"].append(
                                {"id": 7, "name": "snow", "colour": [250, 250, 250], "ignore": False}))
    export_refused(capsys, ckpt, "the class table has 8 classes but the head global_branch.head.classify.weight gives 7")


def test_normalisation_that_does_not_fit(checkpoint_data, tmp_path, capsys):
    ckpt = write_checkpoint(checkpoint_data, tmp_path / "norm.ckpt",
                            lambda d: d["normalisation"].__setitem__("std", [1.0, 0.0, 1.0]))
    export_refused(capsys, ckpt, "normalisation.std values must be positive")


def test_train_resume_refuses_a_lying_checkpoint(checkpoint_data, tmp_path, capsys):
    def poison(d):
        d["state_dict"]["aggregation.weight"][0, 0, 0, 0] = float("nan")
        d["train_state"] = {"epoch": 1}

    ckpt = write_checkpoint(checkpoint_data, tmp_path / "run.ckpt", poison)
    before = snapshot(tmp_path)
    refused_in_process(capsys, ["train", "--resume", "--out", str(ckpt)], "weight aggregation.weight holds NaN")
    assert snapshot(tmp_path) == before


def test_export_verify_refuses_a_lying_checkpoint(checkpoint_data, demo_bundle, tmp_path, capsys):
    ckpt = write_checkpoint(checkpoint_data, tmp_path / "v.ckpt", lambda d: d["config"].pop("window"))
    refused_in_process(capsys, ["export", str(ckpt), "--verify", str(demo_bundle), "--quiet"],
                       "config: missing key 'window'")


@pytest.fixture(scope="module")
def published_files(tmp_path_factory):
    """Three published-layout stage files of a tiny GLNet (structurally real, the wrong size for `paper`)."""
    import torch

    from glnet.models.config import get_config
    from glnet.models.glnet import GLNet
    from glnet.models.published import export_published

    folder = tmp_path_factory.mktemp("published")
    stages = export_published(GLNet(get_config("tiny"), 7))
    paths = {}
    for stage, state in stages.items():
        paths[stage] = folder / f"{stage}.pth"
        torch.save(state, paths[stage])
    return paths


def _import_refused(capsys, files: Dict[str, Path], tmp_path: Path, contains: str) -> None:
    out = tmp_path / "imported.ckpt"
    refused_in_process(capsys, ["import-original", "--global", str(files["global"]), "--g2l", str(files["g2l"]),
                                "--l2g", str(files["l2g"]), "--out", str(out)], contains)
    assert not out.exists()
    assert_no_parts(tmp_path)


def test_import_original_names_a_nan_weight(published_files, tmp_path, capsys):
    import torch

    state = torch.load(published_files["g2l"], weights_only=True)
    key = next(k for k in state if k.endswith("ensemble_conv.weight"))
    state[key].view(-1)[5] = float("nan")
    files = dict(published_files, g2l=tmp_path / "g2l.pth")
    torch.save(state, files["g2l"])
    _import_refused(capsys, files, tmp_path, f"weight {key} holds NaN")


def test_import_original_refuses_non_tensor_content(published_files, tmp_path, capsys):
    import torch

    state = torch.load(published_files["l2g"], weights_only=True)
    files = dict(published_files)
    files["l2g"] = tmp_path / "l2g.pth"
    torch.save({**state, "module.extra": fractions.Fraction(2, 3)}, files["l2g"])
    _import_refused(capsys, files, tmp_path, "holds a Python object (fractions.Fraction)")
    torch.save({**state, "module.extra": "not a tensor"}, files["l2g"])
    _import_refused(capsys, files, tmp_path, "weight module.extra is a str, not a tensor")


def test_bundle_errors_are_one_line():
    with pytest.raises(BundleError) as e:
        load_bundle(Path("/nonexistent/x.glnet"))
    assert "\n" not in str(e.value)
