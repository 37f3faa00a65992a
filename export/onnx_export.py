"""Export a glnet checkpoint to a model bundle: ONNX subgraphs plus manifest.json.

The bundle is written to its hidden part folder beside the target
(:func:`glnet.glnet_core.formats.outputs.atomic_folder`), verified
(onnxruntime against PyTorch, see :mod:`export.verify`) and only then renamed
into place, so a failed or interrupted export leaves nothing behind.
"""

from __future__ import annotations

import datetime as _dt
import json
import warnings
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from ..glnet_core.engine.bundle import FORMAT, FORMAT_VERSION, FP16_GPU, write_manifest
from ..glnet_core.engine.bundle_files import sha256_file
from ..glnet_core.engine.graph_spec import graph_io_spec
from ..glnet_core.engine.modes import MODE_NAMES, graphs_for_modes
from ..glnet_core.engine.predictor import SHARED_NAMES
from ..glnet_core.engine.tiling import patch_layout
from ..glnet_core.errors import ExportError
from ..glnet_core.formats.output_plan import InputSource, OutputTarget, check_outputs
from ..glnet_core.formats.outputs import atomic_folder
from ..models.checkpoint import Checkpoint
from ..models.glnet import GLNet, crop_boxes, crop_shared
from .fp16_arithmetic import to_fp16_arithmetic
from .subgraphs import AggregationGraph, GlobalGraph, L2GGraph, LocalGraph
from .verify import verification_failure, verify_bundle_dir

__all__ = ["export_bundle", "PRECISIONS", "DEFAULT_OPSET"]

#: fp16-gpu: float16 arithmetic inside the graphs (for CUDA GPUs), float32 inputs and outputs.
PRECISIONS = ("fp32", "fp16", FP16_GPU)
DEFAULT_OPSET = 17
BAND_NAMES = {1: ["grey"], 3: ["red", "green", "blue"], 4: ["red", "green", "blue", "nir"]}


def _example_inputs(model: GLNet) -> Dict[str, Tuple[torch.Tensor, ...]]:
    """Example tensors for tracing each graph, from a real forward pass."""
    cfg = model.config
    g = torch.rand(1, cfg.in_channels, cfg.size_g, cfg.size_g)
    window = (max(cfg.window, cfg.size_p), max(cfg.window, cfg.size_p))
    boxes = patch_layout(window[0], window[1], cfg.size_p, cfg.min_overlap)[:2]
    with torch.no_grad():
        gout = model.forward_global(g)
        crops = crop_shared(gout.shared, boxes, window)
        patches = torch.rand(len(boxes), cfg.in_channels, cfg.size_p, cfg.size_p)
        loc = model.forward_local(patches, crops)
    agg_local = torch.zeros(len(boxes), model.n_classes, *loc.ps3.shape[-2:])
    g_ps3 = crop_boxes(gout.ps3, boxes, window)
    return {
        "global": (g,),
        "local": (patches, *crops.tensors()),
        "aggregation_g2l": (agg_local, g_ps3),
        "aggregation_full": (agg_local, g_ps3),
        "l2g": (g, *[t.clone() for t in gout.shared.tensors()]),
    }


def _dynamic_axes(name: str) -> Dict[str, Dict[int, str]]:
    if name == "local":
        axes = {"patches": {0: "N"}}
        for n in SHARED_NAMES:
            axes["g_" + n] = {0: "N", 2: f"h_{n}", 3: f"w_{n}"}
        axes.update({n: {0: "N"} for n in SHARED_NAMES + ("agg_g2l", "agg_full")})
        return axes
    if name.startswith("aggregation"):
        return {"agg_local": {0: "N"}, "g_ps3": {0: "N", 2: "h_ps3", 3: "w_ps3"}, "logits": {0: "N"}}
    return {}


def _wrapper(model: GLNet, name: str) -> Union[GlobalGraph, LocalGraph, L2GGraph, AggregationGraph]:
    if name == "global":
        return GlobalGraph(model)
    if name == "local":
        return LocalGraph(model)
    if name == "l2g":
        return L2GGraph(model)
    return AggregationGraph(model.aggregation if name == "aggregation_g2l" else model.l2g_aggregation)


def _weights_to_fp16(proto: onnx.ModelProto) -> None:
    """Store float weights as float16, cast back to float32 when the graph runs.

    Halves the bundle; arithmetic stays float32 on every execution provider,
    so results differ from fp32 only by the weights' rounding.
    """
    graph = proto.graph
    casts: List[onnx.NodeProto] = []
    kept: List[onnx.TensorProto] = []
    for init in graph.initializer:
        if init.data_type == onnx.TensorProto.FLOAT and np.prod(init.dims, dtype=np.int64) >= 16:
            half = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float16), init.name + "__fp16")
            kept.append(half)
            casts.append(onnx.helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT))
        else:
            kept.append(init)
    del graph.initializer[:]
    graph.initializer.extend(kept)
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(casts + nodes)


def _export_graph(model: GLNet, name: str, example: Tuple[torch.Tensor, ...], path: Path, opset: int) -> None:
    wrapper = _wrapper(model, name).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and tracer notes
        torch.onnx.export(
            wrapper,
            example,
            str(path),
            dynamo=False,
            opset_version=opset,
            input_names=list(wrapper.input_names),
            output_names=list(wrapper.output_names),
            dynamic_axes=_dynamic_axes(name) or None,
            do_constant_folding=True,
        )


def _metadata(manifest: Dict[str, Any], graph: str) -> Dict[str, str]:
    """The key manifest fields, so that a lone .onnx file still says what it is."""
    return {
        "glnet.format": FORMAT,
        "glnet.format_version": str(FORMAT_VERSION),
        "glnet.graph": graph,
        "glnet.model": manifest["model"]["name"],
        "glnet.classes": json.dumps(manifest["classes"]),
        "glnet.size_g": str(manifest["size_g"]),
        "glnet.size_p": str(manifest["size_p"]),
        "glnet.window": str(manifest["window"]),
        "glnet.min_overlap": str(manifest["min_overlap"]),
        "glnet.input": json.dumps(manifest["input"]),
        "glnet.normalisation": json.dumps(manifest["normalisation"]),
        "glnet.resolution_m": json.dumps(manifest["resolution_m"]),
        "glnet.precision": manifest["precision"],
        "glnet.provenance": json.dumps(manifest["provenance"]),
    }


def build_manifest_base(ckpt: Checkpoint, precision: str, opset: int, modes: Sequence[str], source: Optional[Path]) -> Dict[str, Any]:
    cfg = ckpt.config
    provenance: Dict[str, Any] = {k: v for k, v in ckpt.provenance.items() if k != "files"}
    provenance["created"] = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    if source is not None:
        provenance["checkpoint"] = {"name": source.name, "sha256": sha256_file(source)}
    provenance.setdefault("source", "export")
    provenance.setdefault("training_data", ckpt.provenance.get("data", "unknown"))
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": {"name": cfg.name, "config": cfg.to_dict()},
        "classes": ckpt.classes.to_dict(),
        "size_g": cfg.size_g,
        "size_p": cfg.size_p,
        "window": cfg.window,
        "min_overlap": cfg.min_overlap,
        "input": {"bands": cfg.in_channels, "band_names": BAND_NAMES.get(cfg.in_channels, [f"band_{i + 1}" for i in range(cfg.in_channels)])},
        "normalisation": ckpt.normalisation.to_dict(),
        "resolution_m": ckpt.resolution_m,
        "modes": list(modes),
        "precision": precision,
        "opset": opset,
        "graphs": {},
        "provenance": provenance,
    }


def export_bundle(
    ckpt: Checkpoint,
    out: Path,
    precision: str = "fp32",
    opset: int = DEFAULT_OPSET,
    modes: Sequence[str] = MODE_NAMES,
    overwrite: bool = False,
    checkpoint_path: Optional[Path] = None,
    verify_windows: int = 2,
    log=print,
) -> Dict[str, Any]:
    """Write a verified bundle folder at ``out``.

    Parameters
    ----------
    ckpt:
        The checkpoint to export.
    out:
        Bundle folder to create (conventionally ``NAME.glnet``).
    precision:
        ``"fp32"``, ``"fp16"`` (weights stored in float16, arithmetic in
        float32) or ``"fp16-gpu"`` (float16 weights and arithmetic inside
        the graphs, float32 inputs and outputs: for CUDA GPUs; see
        :mod:`export.fp16_arithmetic`).
    opset:
        ONNX opset.
    modes:
        Inference modes the bundle supports.
    overwrite:
        Replace an existing ``out``.
    checkpoint_path:
        The checkpoint file, recorded (name and sha256) in the provenance.
    verify_windows:
        Random windows per mode for the verification.
    log:
        Called with progress lines.

    Returns
    -------
    dict
        The manifest written.

    Raises
    ------
    ExportError
        If ``out`` is, holds or lies inside ``checkpoint_path``, exists
        (without ``overwrite``), is a file, its folder is missing (see
        :func:`~glnet.glnet_core.formats.output_plan.check_outputs`),
        or the verification fails (:data:`export.verify.VERIFY_LIMITS`: fp32,
        relative error above 1e-4 or argmax agreement below 99.9 %; fp16-gpu,
        argmax agreement below its limit, emulated float16 arithmetic included);
        the bundle is then not written.
    OutputWriteError
        If writing the bundle fails (a full disk); nothing is left behind.
    """
    out = Path(out)
    if precision not in PRECISIONS:
        raise ExportError(f"--precision: unknown precision {precision!r}; choose {', '.join(PRECISIONS)}")
    unknown = [m for m in modes if m not in MODE_NAMES]
    if unknown or not modes:
        raise ExportError(f"unknown mode(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(MODE_NAMES)}")
    # The bundle folder must not be, hold or lie inside the checkpoint it is made from.
    sources = [] if checkpoint_path is None else [InputSource(Path(checkpoint_path), "the checkpoint")]
    check_outputs([OutputTarget(out, "--out", kind="folder")], sources, overwrite=overwrite, error=ExportError)
    model = ckpt.model.eval()
    manifest = build_manifest_base(ckpt, precision, opset, modes, checkpoint_path)
    graphs = graphs_for_modes(modes)
    with atomic_folder(out, overwrite=overwrite, error=ExportError) as tmp:
        examples = _example_inputs(model)
        for name in graphs:
            path = tmp / f"{name}.onnx"
            log(f"exporting {name} subgraph")
            _export_graph(model, name, examples[name], path, opset)
            proto = onnx.load(str(path))
            if precision == "fp16":
                _weights_to_fp16(proto)
            elif precision == FP16_GPU:
                to_fp16_arithmetic(proto, model.n_classes)
            for k, v in _metadata(manifest, name).items():
                entry = proto.metadata_props.add()
                entry.key, entry.value = k, v
            proto.producer_name = "glnet"
            onnx.checker.check_model(proto)
            onnx.save(proto, str(path))
            manifest["graphs"][name] = {
                "file": path.name,
                "sha256": sha256_file(path),
                "inputs": graph_io_spec(proto.graph.input),
                "outputs": graph_io_spec(proto.graph.output),
            }
        write_manifest(manifest, tmp, str(out))
        log("verifying onnxruntime against PyTorch")
        figures = verify_bundle_dir(tmp, model, windows=verify_windows, log=log)
        manifest["verification"] = {precision: figures}
        write_manifest(manifest, tmp, str(out))
        _check_figures(figures, precision)
    return manifest



def _check_figures(figures: Dict[str, Any], precision: str) -> None:
    failure = verification_failure(figures, precision)
    if failure:
        raise ExportError(f"verification failed: {failure}")
