"""Model bundles: loading, checks before any session exists, session I/O checks, `glnet info`.

Test bundles are built here from small real ONNX graphs (Identity / Sum
nodes with the declared inputs and outputs), so onnxruntime can open them;
the exporter's bundles are tested with the exporter.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from glnet.glnet_core.cli import info as info_command
from glnet.glnet_core.engine.bundle import (
    FORMAT,
    FORMAT_VERSION,
    Bundle,
    load_bundle,
    session_io_spec,
    validate_manifest,
)
from glnet.glnet_core.engine.bundle_files import sha256_file
from glnet.glnet_core.engine.manifest_schema import SCHEMA_PATH, load_schema, schema_problem
from glnet.glnet_core.engine.modes import GRAPH_NAMES
from glnet.glnet_core.engine.modes import graphs_for_modes as required_graphs
from glnet.glnet_core.engine.preprocess import Normalisation
from glnet.glnet_core.errors import BundleError, GlnetError
from glnet.glnet_core.formats.classes import PRESETS

SIZE_G, SIZE_P, WINDOW, OVERLAP = 64, 32, 128, 8

# (inputs, outputs) per graph: (name, shape). Several inputs are summed.
GRAPH_IO: Dict[str, Tuple[List[Tuple[str, list]], List[Tuple[str, list]]]] = {
    "global": ([("image_g", [1, 3, SIZE_G, SIZE_G])], [("features_g", [1, 3, SIZE_G, SIZE_G])]),
    "local": ([("patches", ["N", 3, SIZE_P, SIZE_P])], [("features_l", ["N", 3, SIZE_P, SIZE_P])]),
    # Class scores have one channel per class (7: deepglobe), as bundle_shapes checks.
    "aggregation_g2l": (
        [("features_l", ["N", 7, SIZE_P, SIZE_P]), ("crops_g", ["N", 7, SIZE_P, SIZE_P])],
        [("logits", ["N", 7, SIZE_P, SIZE_P])],
    ),
    "l2g": (
        [("features_g", [1, 3, SIZE_G, SIZE_G]), ("patch_map", [1, 3, SIZE_G, SIZE_G])],
        [("fused_g", [1, 3, SIZE_G, SIZE_G])],
    ),
    "aggregation_full": (
        [("features_l", ["N", 7, SIZE_P, SIZE_P]), ("fused_crops", ["N", 7, SIZE_P, SIZE_P])],
        [("logits", ["N", 7, SIZE_P, SIZE_P])],
    ),
}
ONNX_TYPES = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16}


def onnx_graph(name: str, dtype: str = "float32") -> bytes:
    """A real, valid ONNX model with ``GRAPH_IO[name]``'s inputs and outputs."""
    inputs, outputs = GRAPH_IO[name]
    elem = ONNX_TYPES[dtype]
    op = "Identity" if len(inputs) == 1 else "Sum"
    nodes = [helper.make_node(op, [i for i, _ in inputs], [o]) for o, _ in outputs]
    graph = helper.make_graph(
        nodes,
        f"glnet_test_{name}",
        [helper.make_tensor_value_info(n, elem, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, elem, s) for n, s in outputs],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="glnet-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model.SerializeToString()


def tensor_entries(items: Sequence[Tuple[str, list]], dtype: str) -> List[Dict[str, Any]]:
    return [{"name": n, "shape": list(s), "dtype": dtype} for n, s in items]


def base_manifest(modes: Sequence[str] = ("full", "g2l"), precision: str = "fp32") -> Dict[str, Any]:
    """A valid manifest without the graph checksums (``write_bundle`` fills them in)."""
    dtype = "float16" if precision == "fp16" else "float32"
    config = {
        "name": "tiny",
        "backbone": {"block": "basic", "layers": [1, 1, 1, 1], "stem_width": 8, "widths": [8, 16, 32, 32]},
        "fpn_channels": 16,
        "head_channels": 8,
        "size_g": SIZE_G,
        "size_p": SIZE_P,
        "window": WINDOW,
        "min_overlap": OVERLAP,
        "in_channels": 3,
    }
    graphs = {
        name: {
            "file": f"{name}.onnx",
            "sha256": "0" * 64,
            "inputs": tensor_entries(GRAPH_IO[name][0], dtype),
            "outputs": tensor_entries(GRAPH_IO[name][1], dtype),
        }
        for name in required_graphs(modes)
    }
    return {
        "format": "glnet-bundle",
        "format_version": 1,
        "model": {"name": "test-model", "config": config},
        "classes": PRESETS["deepglobe"].to_dict(),
        "size_g": SIZE_G,
        "size_p": SIZE_P,
        "window": WINDOW,
        "min_overlap": OVERLAP,
        "input": {"bands": 3, "band_names": ["red", "green", "blue"]},
        "normalisation": {"scale": 1 / 255, "mean": [0.0, 0.0, 0.0], "std": [1.0, 1.0, 1.0]},
        "resolution_m": 0.5,
        "modes": list(modes),
        "precision": precision,
        "opset": 17,
        "graphs": graphs,
        "provenance": {
            "checkpoint": {"name": "tiny.ckpt", "sha256": "ab" * 32},
            "source": "tests/test_bundle.py",
            "training_data": "none: random weights",
            "created": "2026-01-01T00:00:00+00:00",
            "metrics": {"miou": 0.4321, "per_class": [0.1, 0.2]},
        },
        "verification": {
            "fp32": {"max_rel_error": 1.5e-6, "argmax_agreement": 0.99995, "windows": 4, "modes": {"full": {"windows": 2}}}
        },
    }


def write_bundle(folder: Path, manifest: Optional[Dict[str, Any]] = None, **kwargs: Any) -> Path:
    """Write ``folder/`` with real graphs and a manifest whose checksums match them."""
    manifest = copy.deepcopy(manifest if manifest is not None else base_manifest(**kwargs))
    folder.mkdir(parents=True, exist_ok=True)
    dtype = "float16" if manifest["precision"] == "fp16" else "float32"
    for name, graph in manifest["graphs"].items():
        path = folder / graph["file"]
        path.write_bytes(onnx_graph(name, dtype))
        graph["sha256"] = sha256_file(path)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return folder


def zip_folder(folder: Path, out: Path, inside: Optional[str], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """Zip a bundle folder's files under ``inside/`` (or at the top level when ``None``)."""
    with zipfile.ZipFile(out, "w", compression) as zf:
        for path in sorted(folder.iterdir()):
            zf.write(path, f"{inside}/{path.name}" if inside else path.name)
    return out


def read_manifest(folder: Path) -> Dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def rewrite_manifest(folder: Path, manifest: Dict[str, Any]) -> None:
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


@pytest.fixture()
def bundle_dir(tmp_path: Path) -> Path:
    return write_bundle(tmp_path / "test.glnet")


def session(source: Any) -> ort.InferenceSession:
    return ort.InferenceSession(source, providers=["CPUExecutionProvider"])


def single_line(exc_info: Any) -> str:
    message = str(exc_info.value)
    assert "\n" not in message
    return message


# --------------------------------------------------------------------------- loading


def test_valid_folder_bundle_loads_and_runs(bundle_dir: Path) -> None:
    b = load_bundle(bundle_dir)
    assert isinstance(b, Bundle)
    assert b.path == bundle_dir and not b.zipped
    assert (b.size_g, b.size_p, b.window, b.min_overlap, b.bands) == (SIZE_G, SIZE_P, WINDOW, OVERLAP, 3)
    assert b.modes == ("full", "g2l") and b.precision == "fp32" and b.opset == 17
    assert b.resolution_m == 0.5 and b.band_names == ("red", "green", "blue")
    assert b.classes == PRESETS["deepglobe"]
    assert b.normalisation == Normalisation(1 / 255, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0))
    assert b.graph_names == GRAPH_NAMES
    assert b.graphs_for_mode("g2l") == ("global", "local", "aggregation_g2l")
    assert b.name == "test-model" and b.config["name"] == "tiny"
    for name in b.graph_names:
        src = b.graph_source(name)
        assert isinstance(src, str) and Path(src) == bundle_dir / f"{name}.onnx"
        assert b.graph_size(name) == (bundle_dir / f"{name}.onnx").stat().st_size
        s = session(src)
        b.check_session_io(name, s)
    # The graphs really run.
    import numpy as np

    out = session(b.graph_source("aggregation_g2l")).run(
        None, {"features_l": np.ones((2, 7, SIZE_P, SIZE_P), np.float32), "crops_g": np.ones((2, 7, SIZE_P, SIZE_P), np.float32)}
    )[0]
    assert out.shape == (2, 7, SIZE_P, SIZE_P) and float(out.max()) == 2.0


def test_g2l_only_bundle(tmp_path: Path) -> None:
    b = load_bundle(write_bundle(tmp_path / "g2l.glnet", modes=("g2l",)))
    assert b.graph_names == ("global", "local", "aggregation_g2l")
    with pytest.raises(BundleError, match="does not support mode 'full'"):
        b.graphs_for_mode("full")
    with pytest.raises(BundleError, match="has no graph 'l2g'"):
        b.graph_source("l2g")


def test_fp16_bundle_loads_and_io_matches(tmp_path: Path) -> None:
    b = load_bundle(write_bundle(tmp_path / "half.glnet", precision="fp16"))
    assert b.precision == "fp16"
    for name in b.graph_names:
        b.check_session_io(name, session(b.graph_source(name)))


@pytest.mark.parametrize("inside", ["test.glnet", None], ids=["folder-in-zip", "top-level-zip"])
def test_zipped_bundle_loads(bundle_dir: Path, tmp_path: Path, inside: Optional[str]) -> None:
    z = zip_folder(bundle_dir, tmp_path / "test.glnet.zip", inside)
    b = load_bundle(z)
    assert b.zipped and b.path == z
    assert b.manifest == read_manifest(bundle_dir)
    for name in b.graph_names:
        src = b.graph_source(name)
        assert isinstance(src, bytes) and src == (bundle_dir / f"{name}.onnx").read_bytes()
        b.check_session_io(name, session(src))
    # A plain .zip name works too; the folder inside may have any name.
    z2 = zip_folder(bundle_dir, tmp_path / "anything.zip", "other-name" if inside else None)
    assert load_bundle(str(z2)).graph_names == GRAPH_NAMES


def test_manifest_path_stands_for_its_folder(bundle_dir: Path, tmp_path: Path) -> None:
    # File pickers (QGIS's parameter widgets) pick a file or a folder, not
    # either: the folder's manifest.json selects the bundle.
    b = load_bundle(bundle_dir / "manifest.json")
    assert b.path == bundle_dir and not b.zipped
    assert b.manifest == read_manifest(bundle_dir)
    # Another file called manifest.json that is not in a bundle folder is still an error.
    stray = tmp_path / "elsewhere" / "manifest.json"
    stray.parent.mkdir()
    stray.write_text("{}", encoding="utf-8")
    with pytest.raises(BundleError) as e:
        load_bundle(stray)
    single_line(e)


def test_zip_with_macos_resource_folder_loads(bundle_dir: Path, tmp_path: Path) -> None:
    z = zip_folder(bundle_dir, tmp_path / "mac.zip", "test.glnet")
    with zipfile.ZipFile(z, "a") as zf:
        zf.writestr("__MACOSX/test.glnet/._manifest.json", b"\x00\x05\x16\x07")
        zf.writestr("__MACOSX/manifest.json", b"junk")
    assert load_bundle(z).graph_names == GRAPH_NAMES


def test_zip_with_two_bundles_is_refused(bundle_dir: Path, tmp_path: Path) -> None:
    z = zip_folder(bundle_dir, tmp_path / "two.zip", "a.glnet")
    with zipfile.ZipFile(z, "a") as zf:
        for path in bundle_dir.iterdir():
            zf.write(path, f"b.glnet/{path.name}")
    with pytest.raises(BundleError, match="several bundles") as e:
        load_bundle(z)
    single_line(e)


def test_zip_without_manifest(bundle_dir: Path, tmp_path: Path) -> None:
    (bundle_dir / "manifest.json").unlink()
    z = zip_folder(bundle_dir, tmp_path / "nomanifest.zip", "test.glnet")
    with pytest.raises(BundleError, match="no manifest.json") as e:
        load_bundle(z)
    single_line(e)


@pytest.mark.parametrize("member", ["../evil.onnx", "/abs/evil.onnx", "test.glnet/../../evil.onnx", "C:/evil.onnx"])
def test_zip_with_unsafe_member_is_refused(bundle_dir: Path, tmp_path: Path, member: str) -> None:
    z = zip_folder(bundle_dir, tmp_path / "evil.zip", "test.glnet")
    with zipfile.ZipFile(z, "a") as zf:
        zf.writestr(zipfile.ZipInfo(member), b"x")
    with pytest.raises(BundleError, match="unsafe path"):
        load_bundle(z)


def test_zip_member_damaged_inside_archive(bundle_dir: Path, tmp_path: Path) -> None:
    # Stored (uncompressed), so one byte of the graph can be changed in place:
    # zipfile's CRC check fails before our checksum is computed.
    z = zip_folder(bundle_dir, tmp_path / "stored.zip", "test.glnet", zipfile.ZIP_STORED)
    data = bytearray(z.read_bytes())
    graph = (bundle_dir / "local.onnx").read_bytes()
    at = bytes(data).index(graph) + len(graph) // 2
    data[at] ^= 0xFF
    z.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="local.onnx") as e:
        load_bundle(z)
    single_line(e)


def test_zip_member_tampered_with_valid_crc(bundle_dir: Path, tmp_path: Path) -> None:
    # Rewritten through zipfile: the CRC is right, only the sha256 catches it.
    data = bytearray((bundle_dir / "global.onnx").read_bytes())
    data[-1] ^= 0x01
    (bundle_dir / "global.onnx").write_bytes(bytes(data))
    z = zip_folder(bundle_dir, tmp_path / "tampered.zip", None)
    with pytest.raises(BundleError, match=r"global\.onnx fails its checksum"):
        load_bundle(z)


def test_missing_path_and_plain_file(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="no such file or folder") as e:
        load_bundle(tmp_path / "nope.glnet")
    single_line(e)
    f = tmp_path / "model.onnx"
    f.write_bytes(b"not a zip")
    with pytest.raises(BundleError, match="neither a bundle folder"):
        load_bundle(f)


# --------------------------------------------------------------------------- damaged files


def test_tampered_graph_file(bundle_dir: Path) -> None:
    path = bundle_dir / "local.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit of one byte
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"local\.onnx fails its checksum") as e:
        load_bundle(bundle_dir)
    assert str(bundle_dir) in single_line(e)


def test_truncated_graph_file(bundle_dir: Path) -> None:
    path = bundle_dir / "aggregation_full.onnx"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(BundleError, match=r"aggregation_full\.onnx fails its checksum") as e:
        load_bundle(bundle_dir)
    single_line(e)


def test_missing_graph_file(bundle_dir: Path) -> None:
    (bundle_dir / "l2g.onnx").unlink()
    with pytest.raises(BundleError, match=r"graph file l2g\.onnx is missing") as e:
        load_bundle(bundle_dir)
    single_line(e)


def test_missing_manifest(bundle_dir: Path) -> None:
    (bundle_dir / "manifest.json").unlink()
    with pytest.raises(BundleError, match="has no manifest.json") as e:
        load_bundle(bundle_dir)
    single_line(e)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("{not json", "is not valid JSON"),
        ("", "is not valid JSON"),
        ('{"format": NaN}', "NaN is not a JSON number"),
        ('{"format": "glnet-bundle", "format": "glnet-bundle"}', "key 'format' twice"),
        ("[1, 2]", r"\(top level\): expected an object"),
    ],
)
def test_manifest_not_json(bundle_dir: Path, text: str, expected: str) -> None:
    (bundle_dir / "manifest.json").write_text(text, encoding="utf-8")
    with pytest.raises(BundleError, match=expected) as e:
        load_bundle(bundle_dir)
    single_line(e)


def test_manifest_not_utf8(bundle_dir: Path) -> None:
    (bundle_dir / "manifest.json").write_bytes(b'{"format": "\xff"}')
    with pytest.raises(BundleError, match="not UTF-8"):
        load_bundle(bundle_dir)


# --------------------------------------------------------------------------- manifest validation


def test_unknown_format_version(bundle_dir: Path) -> None:
    m = read_manifest(bundle_dir)
    m["format_version"] = 7
    m["something_new"] = {"only": "in version 7"}  # must not hide the version message
    rewrite_manifest(bundle_dir, m)
    with pytest.raises(BundleError) as e:
        load_bundle(bundle_dir)
    assert single_line(e) == (
        f"bundle {bundle_dir}: unsupported bundle format version 7 (this glnet reads version 1); update glnet"
    )


def test_not_a_glnet_manifest() -> None:
    m = base_manifest()
    m["format"] = "something-else"
    with pytest.raises(BundleError, match=r"manifest.json: format: \"something-else\" is not 'glnet-bundle'"):
        validate_manifest(m, "x.glnet")


def test_missing_required_field(bundle_dir: Path) -> None:
    m = read_manifest(bundle_dir)
    del m["graphs"]["local"]["sha256"]
    rewrite_manifest(bundle_dir, m)
    with pytest.raises(BundleError) as e:
        load_bundle(bundle_dir)
    assert single_line(e) == f"bundle {bundle_dir}: manifest.json: graphs.local: missing required property 'sha256'"


def test_graph_required_by_mode_absent(bundle_dir: Path) -> None:
    m = read_manifest(bundle_dir)
    del m["graphs"]["l2g"]
    rewrite_manifest(bundle_dir, m)
    with pytest.raises(BundleError, match=r"manifest.json: graphs: mode 'full' needs graph 'l2g', which is missing") as e:
        load_bundle(bundle_dir)
    single_line(e)


def _mutate(m: Dict[str, Any], path: str, value: Any) -> Dict[str, Any]:
    """A copy of ``m`` with the dotted ``path`` set to ``value`` (``DELETE`` removes it)."""
    m = copy.deepcopy(m)
    parts: List[Any] = [int(p) if p.isdigit() else p for p in path.split(".")]
    node = m
    for p in parts[:-1]:
        node = node[p]
    if value is DELETE:
        del node[parts[-1]]
    else:
        node[parts[-1]] = value
    return m


DELETE = object()

# (path, new value, expected message fragment): each makes the manifest invalid.
SCHEMA_CASES = [
    ("graphs.local.sha256", "ABC", r"graphs\.local\.sha256: \"ABC\" does not match pattern \^\[0-9a-f\]\{64\}\$"),
    ("graphs.local.file", "../local.onnx", r"graphs\.local\.file: .* does not match pattern"),
    ("graphs.local.inputs.0.dtype", "int64", r"graphs\.local\.inputs\[0\]\.dtype: must be one of \"float32\", \"float16\""),
    ("graphs.local.inputs.0.shape.1", 0, r"graphs\.local\.inputs\[0\]\.shape\[1\]: 0 is less than the minimum 1"),
    ("graphs.local.inputs.0.shape.1", True, r"graphs\.local\.inputs\[0\]\.shape\[1\]: expected integer or string, got boolean true"),
    ("graphs.local.inputs.0.shape.0", "", r"graphs\.local\.inputs\[0\]\.shape\[0\]: must not be empty"),
    ("graphs.local.inputs", [], r"graphs\.local\.inputs: needs at least 1 items"),
    ("graphs.extra", {"file": "x.onnx"}, r"graphs: unexpected property 'extra'"),
    ("size_g", "508", r"size_g: expected integer, got string"),
    ("size_g", True, r"size_g: expected integer, got boolean"),
    ("size_g", 1.5, r"size_g: expected integer, got number"),
    ("window", 0, r"window: 0 is less than the minimum 1"),
    ("modes", ["full", "full"], r"modes\[1\]: repeats item 0"),
    ("modes", [], r"modes: needs at least 1 items"),
    ("modes", ["fast"], r"modes\[0\]: must be one of"),
    ("precision", "int4", r"precision: must be one of \"fp32\", \"fp16\", \"int8\""),
    ("format_version", "1", r"format_version: must be 1"),
    ("resolution_m", 0, r"resolution_m: 0 must be greater than 0"),
    ("resolution_m", "0.5", r"resolution_m: expected number or null"),
    ("normalisation.std.1", 0, r"normalisation\.std\[1\]: 0 must be greater than 0"),
    ("normalisation.scale", -1, r"normalisation\.scale"),
    ("classes.classes.1.colour", [0, 255], r"classes\.classes\[1\]\.colour: needs at least 3 items"),
    ("classes.classes.1.colour", [0, 255, 256], r"classes\.classes\[1\]\.colour\[2\]: 256 is more than the maximum 255"),
    ("classes.classes.1.ignore", "no", r"classes\.classes\[1\]\.ignore: expected boolean"),
    ("classes.classes.1.colour_name", "cyan", r"classes\.classes\[1\]: unexpected property 'colour_name'"),
    ("model.config.backbone.layers", [1, 1, 1], r"model\.config\.backbone\.layers: needs at least 4 items"),
    ("model.config.backbone.block", "dense", r"model\.config\.backbone\.block: must be one of"),
    ("model.name", "", r"model\.name: must not be empty"),
    ("provenance.checkpoint.sha256", "xyz", r"provenance\.checkpoint\.sha256: .* does not match pattern"),
    ("provenance", [], r"provenance: expected object, got array"),
    ("verification.fp32.argmax_agreement", 99.9, r"verification\.fp32\.argmax_agreement: 99\.9 is more than the maximum 1"),
    ("verification.int8", {}, r"verification: unexpected property 'int8'"),
    ("verification", {}, r"verification: needs at least 1 entries"),
    ("opset", 5, r"opset: 5 is less than the minimum 7"),
    ("input.band_names.0", 5, r"input\.band_names\[0\]: expected string"),
    ("graphs.local.outputs", DELETE, r"graphs\.local: missing required property 'outputs'"),
    ("normalisation", DELETE, r"\(top level\): missing required property 'normalisation'"),
    ("unexpected_top", 1, r"\(top level\): unexpected property 'unexpected_top'"),
]

# Valid under the schema, invalid by the semantic checks.
SEMANTIC_CASES = [
    ("size_p", 256, r"size_p: patch size 256 is larger than the window 128"),
    ("min_overlap", 32, r"min_overlap: 32 must be smaller than the patch size 32"),
    ("model.config.size_g", 65, r"model\.config\.size_g: 65 disagrees with size_g 64"),
    ("model.config.in_channels", 4, r"model\.config\.in_channels: 4 disagrees with input\.bands 3"),
    ("input.band_names", ["red", "green"], r"input\.band_names: 2 names for 3 bands"),
    ("normalisation.mean", [0.0, 0.0], r"normalisation\.mean: 2 values for 3 bands"),
    ("classes.classes.3.id", 9, r"classes: class ids must be 0, 1, \.\.\., n-1"),
    ("classes.classes.3.name", "urban_land", r"classes: class names must be unique"),
    ("graphs.local.file", "global.onnx", r"graphs\.local\.file: global\.onnx is also the file of graphs\.global"),
    ("graphs.local.file", "local.onnx\n", r"graphs\.local\.file: .* is not a plain \.onnx file name"),
    ("graphs.l2g.inputs.1.name", "features_g", r"graphs\.l2g\.inputs\[1\]\.name: duplicate tensor name 'features_g'"),
]


@pytest.mark.parametrize("path, value, expected", SCHEMA_CASES + SEMANTIC_CASES, ids=lambda v: str(v)[:30])
def test_invalid_manifest_messages(path: str, value: Any, expected: str) -> None:
    m = _mutate(base_manifest(), path, value)
    with pytest.raises(BundleError, match=r"^bundle x\.glnet: manifest\.json: " + expected) as e:
        validate_manifest(m, "x.glnet")
    single_line(e)


def test_valid_manifest_variants_pass() -> None:
    m = base_manifest()
    validate_manifest(m, "x.glnet")
    for path, value in [
        ("resolution_m", None),
        ("verification", DELETE),
        ("provenance", {}),
        ("provenance.extra_key", {"anything": [1, 2]}),
        ("provenance.training_data", None),
        ("model.config.future_knob", 3),  # config may gain fields
        ("size_g", 64.0),  # JSON Schema: 64.0 is an integer
        ("classes.classes.1.value", 255),
        ("graphs.local.inputs.0.shape.0", 7),
    ]:
        validate_manifest(_mutate(m, path, value), "x.glnet")
    validate_manifest(base_manifest(modes=("g2l",), precision="fp16"), "x.glnet")
    # A graph no mode needs is allowed (harmless).
    g2l = base_manifest(modes=("g2l",))
    g2l["graphs"]["l2g"] = base_manifest()["graphs"]["l2g"]
    validate_manifest(g2l, "x.glnet")


def test_validate_manifest_checks_the_json_form() -> None:
    # An exporter validates its dict before writing it: tuples are arrays...
    from glnet.models.config import get_config  # the config as exporters pass it (tuples inside)

    m = base_manifest()
    cfg = get_config("tiny").to_dict()
    cfg.update(size_g=SIZE_G, size_p=SIZE_P, window=WINDOW, min_overlap=OVERLAP)
    assert isinstance(cfg["backbone"]["layers"], tuple)
    m["model"]["config"] = cfg
    m["modes"] = ("full", "g2l")
    validate_manifest(m, "x.glnet")
    # ...but what JSON cannot hold is an error.
    for path, value in [("resolution_m", float("nan")), ("normalisation.scale", float("inf")), ("provenance.source", Path("x"))]:
        with pytest.raises(BundleError, match=r"manifest\.json: \(top level\): not representable as JSON") as e:
            validate_manifest(_mutate(base_manifest(), path, value), "x.glnet")
        single_line(e)


# --------------------------------------------------------------------------- the built-in validator vs jsonschema


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)
    assert load_schema() == schema
    assert schema["properties"]["format"]["const"] == FORMAT
    assert schema["properties"]["format_version"]["const"] == FORMAT_VERSION


def _leaf_paths(value: Any, prefix: Tuple[Any, ...] = ()) -> List[Tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _leaf_paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _leaf_paths(v, prefix + (i,))
    return out


REPLACEMENTS = [None, True, False, 0, -1, 1, 2.5, 3.0, 1e9, "", "x", "N", "fp16", "a" * 64, [], [1], {}, {"a": 1}]


def _random_mutations(m: Dict[str, Any], count: int, seed: int) -> List[Dict[str, Any]]:
    rng = random.Random(seed)
    paths = _leaf_paths(m)
    out = []
    for _ in range(count):
        mutant = copy.deepcopy(m)
        for _ in range(rng.choice([1, 1, 2])):
            path = rng.choice(paths)
            node: Any = mutant
            try:
                for p in path[:-1]:
                    node = node[p]
                key = path[-1]
                action = rng.random()
                if action < 0.2 and isinstance(node, dict):
                    del node[key]
                elif action < 0.3 and isinstance(node, dict):
                    node["zz_extra"] = rng.choice(REPLACEMENTS)
                elif action < 0.4 and isinstance(node, list):
                    node.append(copy.deepcopy(node[key]))
                else:
                    node[key] = copy.deepcopy(rng.choice(REPLACEMENTS))
            except (KeyError, IndexError, TypeError):
                continue  # an earlier mutation removed this path
        out.append(mutant)
    return out


def test_builtin_validator_agrees_with_jsonschema() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = load_schema()
    reference = jsonschema.Draft202012Validator(schema)
    manifests = [base_manifest(), base_manifest(("g2l",), "fp16"), {}, [], "x", None]
    manifests += [_mutate(base_manifest(), p, v) for p, v, _ in SCHEMA_CASES + SEMANTIC_CASES]
    manifests += _random_mutations(base_manifest(), 600, seed=20260101)
    invalid = 0
    for m in manifests:
        ours = schema_problem(m)
        theirs = reference.is_valid(m)
        assert (ours is None) == theirs, f"built-in says {ours!r}, jsonschema says valid={theirs} for {json.dumps(m)[:300]}"
        invalid += ours is not None
    # The comparison means something only if both outcomes occur often.
    assert 100 < invalid < len(manifests) - 10


def test_builtin_validator_on_other_schemas() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = {
        "$defs": {"pos": {"type": "integer", "exclusiveMinimum": 0}},
        "type": "object",
        "properties": {
            "a": {"oneOf": [{"$ref": "#/$defs/pos"}, {"type": "integer", "maximum": 5}]},
            "b": {"type": ["string", "null"], "maxLength": 3},
            "c": {"type": "array", "maxItems": 2, "items": {"const": [1, {"x": True}]}},
            "d": {"additionalProperties": {"type": "number", "exclusiveMaximum": 1}, "maxProperties": 2},
        },
    }
    cases = [
        {"a": 3}, {"a": 9}, {"a": -2}, {"a": 0}, {"a": True}, {"b": None}, {"b": "abcd"}, {"b": "abc"},
        {"c": [[1, {"x": True}]]}, {"c": [[1, {"x": 1}]]}, {"c": [[1.0, {"x": True}]]}, {"c": [[1, {"x": True}]] * 3},
        {"d": {"p": 0.5}}, {"d": {"p": 1}}, {"d": {"p": 0, "q": 0, "r": 0}}, {"d": 3}, [],
    ]
    reference = jsonschema.Draft202012Validator(schema)
    for case in cases:
        assert (schema_problem(case, schema) is None) == reference.is_valid(case), case


def test_builtin_validator_refuses_unsupported_keywords() -> None:
    with pytest.raises(ValueError, match="'patternProperties' .* not supported"):
        schema_problem({}, {"type": "object", "properties": {"a": {"patternProperties": {}}}})
    with pytest.raises(ValueError, match="only local"):
        schema_problem(1, {"$ref": "https://example.org/s.json"})


# --------------------------------------------------------------------------- session I/O


def _with_graph_entry(bundle_dir: Path, graph: str, kind: str, index: int, key: str, value: Any) -> Bundle:
    m = read_manifest(bundle_dir)
    m["graphs"][graph][kind][index][key] = value
    rewrite_manifest(bundle_dir, m)
    return load_bundle(bundle_dir)  # checksums still match: only the manifest changed


def test_check_session_io_name_mismatch(bundle_dir: Path) -> None:
    b = _with_graph_entry(bundle_dir, "local", "inputs", 0, "name", "image")
    with pytest.raises(BundleError, match=r"manifest does not match the ONNX inputs of local\.onnx: .*'image'.*'patches'") as e:
        b.check_session_io("local", session(b.graph_source("local")))
    single_line(e)


def test_check_session_io_dtype_mismatch(bundle_dir: Path) -> None:
    b = _with_graph_entry(bundle_dir, "global", "outputs", 0, "dtype", "float16")
    with pytest.raises(BundleError, match=r"ONNX outputs of global\.onnx: features_g: dtype float16 in the manifest, float32"):
        b.check_session_io("global", session(b.graph_source("global")))


def test_check_session_io_fixed_dim_mismatch(bundle_dir: Path) -> None:
    b = _with_graph_entry(bundle_dir, "aggregation_g2l", "inputs", 1, "shape", ["N", 7, 16, SIZE_P])
    with pytest.raises(BundleError, match=r"crops_g: dimension 2 is 16 in the manifest, fixed to 32 in the graph"):
        b.check_session_io("aggregation_g2l", session(b.graph_source("aggregation_g2l")))


def test_declared_image_size_must_be_size_g(bundle_dir: Path) -> None:
    # image_g's declared size is held to size_g before any session exists.
    with pytest.raises(BundleError, match=r"manifest says size_g 64 but global\.onnx is declared to take image_g of 128 x 128 px") as e:
        _with_graph_entry(bundle_dir, "global", "inputs", 0, "shape", [1, 3, 128, 128])
    single_line(e)


def test_check_session_io_symbolic_where_graph_is_fixed(bundle_dir: Path) -> None:
    b = _with_graph_entry(bundle_dir, "global", "inputs", 0, "shape", ["B", 3, 64, 64])
    with pytest.raises(BundleError, match=r"dimension 0 is \"B\" in the manifest, fixed to 1"):
        b.check_session_io("global", session(b.graph_source("global")))


def test_check_session_io_outputs_conflict_only_between_fixed_sizes(bundle_dir: Path) -> None:
    # onnxruntime may infer fixed output dims that the file leaves symbolic:
    # a symbolic manifest output dim is fine, a different fixed one is not.
    b = _with_graph_entry(bundle_dir, "global", "outputs", 0, "shape", ["B", 3, "h", "w"])
    b.check_session_io("global", session(b.graph_source("global")))
    b = _with_graph_entry(bundle_dir, "global", "outputs", 0, "shape", [1, 3, 16, "w"])
    with pytest.raises(BundleError, match=r"ONNX outputs of global\.onnx: features_g: dimension 2 is 16 in the manifest, fixed to 64"):
        b.check_session_io("global", session(b.graph_source("global")))


def test_check_session_io_rank_and_count(bundle_dir: Path) -> None:
    b = _with_graph_entry(bundle_dir, "local", "outputs", 0, "shape", ["N", 3, SIZE_P])
    with pytest.raises(BundleError, match=r"ONNX outputs of local\.onnx: features_l: shape"):
        b.check_session_io("local", session(b.graph_source("local")))
    m = read_manifest(bundle_dir)
    m["graphs"]["aggregation_g2l"]["inputs"].pop()
    rewrite_manifest(bundle_dir, m)
    b = load_bundle(bundle_dir)
    with pytest.raises(BundleError, match=r"ONNX inputs of aggregation_g2l\.onnx"):
        b.check_session_io("aggregation_g2l", session(b.graph_source("aggregation_g2l")))


def test_check_session_io_fixed_manifest_dim_on_symbolic_graph_dim_is_fine(bundle_dir: Path) -> None:
    b = _with_graph_entry(bundle_dir, "local", "inputs", 0, "shape", [16, 3, SIZE_P, SIZE_P])
    b.check_session_io("local", session(b.graph_source("local")))


def test_session_io_spec_round_trips(bundle_dir: Path) -> None:
    b = load_bundle(bundle_dir)
    for name in b.graph_names:
        spec = session_io_spec(session(b.graph_source(name)))
        assert spec == {"inputs": b.graph_spec(name)["inputs"], "outputs": b.graph_spec(name)["outputs"]}


# --------------------------------------------------------------------------- glnet info


def _info(path: Path, **options: Any) -> argparse.Namespace:
    return argparse.Namespace(bundle=str(path), json=options.get("json", False), check_io=options.get("check_io", False))


def test_info_summary(bundle_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert info_command.run(_info(bundle_dir)) == 0
    out = capsys.readouterr().out
    for fragment in [
        "test-model (configuration tiny",
        "global image 64 px, patch 32 px, window 128 px, min overlap 8 px",
        "3 bands (red, green, blue)",
        "0.5 m/pixel",
        "modes         full, g2l",
        "precision     fp32, ONNX opset 17",
        "deepglobe, 7 classes",
        "#00ffff",
        "tiny.ckpt (sha256 abababababababab...)",
        "miou 0.4321",
        "fp32: max relative error 1.5e-06, argmax agreement 99.995 %, 4 windows",
    ]:
        assert fragment in out, fragment
    lines = out.splitlines()
    unknown = next(line for line in lines if " unknown " in line)
    assert "#000000" in unknown and "ignored" in unknown
    assert "ignored" not in next(line for line in lines if "urban_land" in line)
    graph_lines = [line for line in lines if ".onnx" in line]
    assert len(graph_lines) == 5 and all(line.endswith("checksum OK") for line in graph_lines)


def test_info_check_io_and_unverified(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    m = base_manifest(modes=("g2l",))
    del m["verification"]
    m["resolution_m"] = None
    folder = write_bundle(tmp_path / "g2l.glnet", m)
    assert info_command.run(_info(folder, check_io=True)) == 0
    out = capsys.readouterr().out
    assert "checksum OK, inputs/outputs OK" in out and "not set" in out and "verification  none recorded" in out
    m2 = read_manifest(folder)
    m2["graphs"]["local"]["inputs"][0]["dtype"] = "float16"
    rewrite_manifest(folder, m2)
    with pytest.raises(BundleError, match="manifest does not match the ONNX inputs of local.onnx"):
        info_command.run(_info(folder, check_io=True))


def test_info_json_prints_the_manifest(bundle_dir: Path, capsys: pytest.CaptureFixture) -> None:
    assert info_command.run(_info(bundle_dir, json=True)) == 0
    assert json.loads(capsys.readouterr().out) == read_manifest(bundle_dir)


def test_info_checksum_failure_is_an_error(bundle_dir: Path, capsys: pytest.CaptureFixture) -> None:
    (bundle_dir / "global.onnx").write_bytes(b"tampered")
    for as_json in (False, True):
        with pytest.raises(BundleError, match=r"global\.onnx fails its checksum"):
            info_command.run(_info(bundle_dir, json=as_json))
    assert capsys.readouterr().out == ""


def test_info_command_line(bundle_dir: Path, tmp_path: Path) -> None:
    from glnet.glnet_core.cli import main as cli

    if "info" not in {spec.name for spec in cli.COMMANDS}:
        # Until the CLI registers it, the module runs on its own.
        cmd = [sys.executable, "-m", "glnet.glnet_core.cli.info"]
    else:
        cmd = [sys.executable, "-m", "glnet.glnet_core", "info"]
    ok = subprocess.run(cmd + [str(bundle_dir)], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "checksum OK" in ok.stdout
    (bundle_dir / "local.onnx").write_bytes(b"")
    bad = subprocess.run(cmd + [str(bundle_dir)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert bad.stderr.startswith("glnet: error: bundle ") and "local.onnx fails its checksum" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_engine_modules_import_no_heavy_packages() -> None:
    # bundle.py, bundle_report.py and cli/info.py run inside QGIS: no torch, onnx or jsonschema there,
    # and onnxruntime only when a session is actually needed.
    code = (
        "import sys; import glnet.glnet_core.engine.bundle, glnet.glnet_core.engine.bundle_report, glnet.glnet_core.cli.info; "
        "print(sorted(m for m in ('torch', 'onnx', 'onnxruntime', 'jsonschema') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"


def test_bundle_error_is_a_glnet_error() -> None:
    assert issubclass(BundleError, GlnetError)


# --------------------------------------------------------------------------- shape rules


def _shapes(**graphs: Tuple[list, list]) -> Dict[str, Dict[str, list]]:
    return {name: {"inputs": list(ins), "outputs": list(outs)} for name, (ins, outs) in graphs.items()}


def _problem(graphs: Dict[str, Dict[str, list]], declared: bool = False) -> Optional[str]:
    from glnet.glnet_core.engine.bundle_shapes import shape_problem

    return shape_problem(graphs, {n: f"{n}.onnx" for n in graphs}, n_classes=7, bands=3, size_g=64, size_p=32,
                         declared=declared)


def test_shape_rules_accept_symbolic_dimensions() -> None:
    graphs = _shapes(
        global_=([("image_g", ["B", "C", "H", "W"])], [("c2", [1, 8, 16, 16]), ("logits", [1, 7, "h", "w"])]),
        local=([("patches", ["N", 3, 32, 32]), ("g_c2", ["N", 8, "h", "w"])], [("agg_g2l", ["N", 7, "h", "w"])]),
    )
    assert _problem(graphs) is None


@pytest.mark.parametrize("graphs,expected", [
    (_shapes(local=([], [("agg_full", ["N", "n", 8, 8])])), "local.onnx gives agg_full without a fixed channel count (it must be the 7 classes)"),
    (_shapes(local=([], [("agg_full", ["N", 7, 8])])), "local.onnx gives agg_full with 3 dimensions (class scores have 4)"),
    (_shapes(aggregation_g2l=([("agg_local", ["N", 5, 8, 8])], [])), "manifest says 7 classes but aggregation_g2l.onnx takes agg_local with 5 channels"),
    (_shapes(local=([("patches", ["N", 4, 32, 32])], [])), "manifest says 3 bands but local.onnx takes patches with 4 channels"),
    (_shapes(local=([("patches", ["N", 3, 32, 48])], [])), "manifest says size_p 32 but local.onnx takes patches of 32 x 48 px"),
    (_shapes(l2g=([("image_g", [1, 3, 60, 64])], [])), "manifest says size_g 64 but l2g.onnx takes image_g of 60 x 64 px"),
    (_shapes(aggregation_full=([("g_ps3", ["N", 32, "h", "w"])], []), l2g=([], [("ps3", [1, 16, 16, 16])])),
     "aggregation_full.onnx takes g_ps3 with 32 channels but l2g.onnx gives ps3 with 16"),
    (_shapes(**{"global": ([], [("ps0_2", [1, 16, 16, 16])])}, l2g=([("m_ps0_2", [1, 16, 8, 16])], [])),
     "global.onnx gives ps0_2 of 16 x 16 px but l2g.onnx takes m_ps0_2 of 8 x 16 px"),
])
def test_shape_rules(graphs: Dict[str, Any], expected: str) -> None:
    assert _problem(graphs) == expected


def test_shape_rules_say_when_the_shapes_are_declared() -> None:
    graphs = _shapes(local=([("patches", ["N", 3, 16, 16])], []))
    assert _problem(graphs, declared=True) == "manifest says size_p 32 but local.onnx is declared to take patches of 16 x 16 px"
