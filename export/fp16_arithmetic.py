"""Turn an exported float32 subgraph into one whose arithmetic is float16 (``fp16-gpu`` bundles).

The graph keeps its float32 inputs and outputs, so the engine, the bundle
checks and every caller see the same interface as an fp32 bundle: a ``Cast``
to float16 follows each float32 graph input and a ``Cast`` back to float32
precedes each graph output. Everything between runs in float16: every float
initializer and float ``Constant`` is stored as float16, so Conv, Add, Relu,
MaxPool and Resize take and give float16 tensors (on CUDA, tensor-core
convolutions; see docs/bundle-format.md).

What stays float32, and why:

* the ``scales`` and ``roi`` inputs of ``Resize``: ONNX types ``scales`` as
  float32 only, and the sampling coordinates are computed from them, so
  rounding them to float16 would move the sampling grid of large tensors
  (the exported graphs give ``sizes`` as int64, so today none is present;
  the rule keeps a future graph safe);
* integer tensors (shapes, slice bounds, sizes), which are untouched.

There is no BatchNormalization (folded into the convs by the export's
constant folding) and no Softmax in the subgraphs, so no normalisation has to
be guarded against float16 range or rounding; :func:`to_fp16_arithmetic`
refuses a graph holding such an op rather than convert it silently.

The conversion is specific to the op set of the glnet subgraphs
(:data:`FP16_OPS`); an unknown op is refused (:class:`ValueError`), because an
op whose type constraints or attributes depend on the element type (``Cast``
targets, ``ConstantOfShape`` values, ...) would need its own rule.
"""

from __future__ import annotations

from typing import Dict, List, Set, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["FP16_OPS", "FLOAT32_INPUTS", "to_fp16_arithmetic", "fp16_rounding_emulation", "float_initializer_types"]

# Ops of the exported subgraphs that compute on float tensors and accept float16 as such.
FP16_OPS = frozenset({"Conv", "Relu", "MaxPool", "Add", "Resize", "Concat", "Identity"})
# Ops on shapes only: integer inputs and outputs, unaffected by the float type.
_SHAPE_OPS = frozenset({"Shape", "Slice", "Gather", "Unsqueeze", "Squeeze", "Constant"})
# (op, input index) that ONNX types as float32 whatever the data type: kept float32.
FLOAT32_INPUTS: Dict[str, Tuple[int, ...]] = {"Resize": (1, 2)}
_SUFFIX = "__fp16"


def _float32_only_names(graph: onnx.GraphProto) -> Set[str]:
    names: Set[str] = set()
    for node in graph.node:
        for index in FLOAT32_INPUTS.get(node.op_type, ()):
            if index < len(node.input) and node.input[index]:
                names.add(node.input[index])
    return names


def _half_tensor(tensor: TensorProto) -> TensorProto:
    array = numpy_helper.to_array(tensor)
    # Clip into float16's finite range first: a weight beyond 65504 would become inf.
    finite = np.finfo(np.float16).max
    return numpy_helper.from_array(np.clip(array, -finite, finite).astype(np.float16), tensor.name)


def to_fp16_arithmetic(proto: onnx.ModelProto) -> onnx.ModelProto:
    """Convert an fp32 glnet subgraph in place to float16 arithmetic with float32 inputs and outputs.

    Parameters
    ----------
    proto:
        A subgraph as exported by :mod:`export.onnx_export` (float32 throughout).

    Returns
    -------
    onnx.ModelProto
        ``proto`` itself, converted: float initializers and float ``Constant``
        values stored as float16 (except those that ONNX types as float32,
        :data:`FLOAT32_INPUTS`), a ``Cast`` after each float32 input and
        before each float32 output, intermediate type annotations dropped
        (onnxruntime infers them again).

    Raises
    ------
    ValueError
        If the graph holds an op outside :data:`FP16_OPS` and the shape ops,
        or a ``Cast`` (whose target type would need its own rule).
    """
    graph = proto.graph
    unknown = sorted({n.op_type for n in graph.node} - FP16_OPS - _SHAPE_OPS)
    if unknown:
        raise ValueError(f"graph {graph.name!r}: no float16 rule for op(s) {', '.join(unknown)}")
    keep32 = _float32_only_names(graph)

    kept: List[TensorProto] = []
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT and init.name not in keep32:
            kept.append(_half_tensor(init))
        else:
            kept.append(init)
    del graph.initializer[:]
    graph.initializer.extend(kept)

    for node in graph.node:
        if node.op_type != "Constant" or any(o in keep32 for o in node.output):
            continue
        for attr in node.attribute:
            if attr.name == "value" and attr.t.data_type == TensorProto.FLOAT:
                attr.t.CopyFrom(_half_tensor(attr.t))
            elif attr.name in ("value_float", "value_floats"):
                raise ValueError(f"graph {graph.name!r}: Constant {node.name!r} has a {attr.name} attribute")

    # Boundary casts: graph input X (float32) -> X__fp16 for every consumer;
    # every producer of graph output Y writes Y__fp16, cast back to float32 as Y.
    inputs = {i.name for i in graph.input if i.type.tensor_type.elem_type == TensorProto.FLOAT}
    outputs = {o.name for o in graph.output if o.type.tensor_type.elem_type == TensorProto.FLOAT}
    for node in graph.node:
        for k, name in enumerate(node.input):
            if name in inputs or name in outputs:
                node.input[k] = name + _SUFFIX
        for k, name in enumerate(node.output):
            if name in outputs:
                node.output[k] = name + _SUFFIX
    head = [helper.make_node("Cast", [i.name], [i.name + _SUFFIX], name=f"cast_in_{i.name}", to=TensorProto.FLOAT16)
            for i in graph.input if i.name in inputs]
    tail = [helper.make_node("Cast", [o.name + _SUFFIX], [o.name], name=f"cast_out_{o.name}", to=TensorProto.FLOAT)
            for o in graph.output if o.name in outputs]
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend(head + nodes + tail)
    # The exporter's float32 annotations of intermediate values are wrong now.
    del graph.value_info[:]
    return proto


def fp16_rounding_emulation(proto16: onnx.ModelProto) -> onnx.ModelProto:
    """A float32 twin of an ``fp16-gpu`` subgraph that rounds every float16 tensor of it to float16.

    onnxruntime's CPU execution provider has no float16 kernels for most of
    these ops on x86: it computes them in float32 and drops the casts between
    consecutive ones, so running an ``fp16-gpu`` graph on the CPU measures
    little more than its float16 weights. This twin computes each op in
    float32 and rounds its result to float16 (an explicit ``Cast`` pair,
    which onnxruntime keeps), the arithmetic of a GPU that keeps float16
    tensors and accumulates in float32. The export's verification runs it
    beside the bundle (``fp16_emulated`` in the manifest). It is an
    emulation: a GPU's kernels may round inside an op as well, and no GPU
    was used to check it.

    Parameters
    ----------
    proto16:
        A graph converted by :func:`to_fp16_arithmetic` (not modified).

    Returns
    -------
    onnx.ModelProto
        A new graph with the same inputs and outputs.
    """
    proto = onnx.ModelProto()
    proto.CopyFrom(proto16)
    inferred = onnx.shape_inference.infer_shapes(proto)
    graph = inferred.graph
    half = {v.name for v in graph.value_info if v.type.tensor_type.elem_type == TensorProto.FLOAT16}
    inits: List[TensorProto] = []
    for init in graph.initializer:
        if init.data_type == TensorProto.FLOAT16:
            init = numpy_helper.from_array(numpy_helper.to_array(init).astype(np.float32), init.name)
        inits.append(init)
    del graph.initializer[:]
    graph.initializer.extend(inits)

    def rounded(source: str, target: str) -> List[onnx.NodeProto]:
        return [helper.make_node("Cast", [source], [target + "__half"], to=TensorProto.FLOAT16),
                helper.make_node("Cast", [target + "__half"], [target], to=TensorProto.FLOAT)]

    nodes: List[onnx.NodeProto] = []
    for node in graph.node:
        to = next((a.i for a in node.attribute if a.name == "to"), None) if node.op_type == "Cast" else None
        if to == TensorProto.FLOAT16:  # an input boundary: round the float32 input
            nodes.extend(rounded(node.input[0], node.output[0]))
            continue
        if to == TensorProto.FLOAT:  # an output boundary: the value is float32 already
            nodes.append(helper.make_node("Identity", [node.input[0]], [node.output[0]]))
            continue
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value" and attr.t.data_type == TensorProto.FLOAT16:
                    attr.t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(attr.t).astype(np.float32), attr.t.name))
            nodes.append(node)
            continue
        tails: List[onnx.NodeProto] = []
        for k, name in enumerate(node.output):
            if name in half and node.op_type not in ("Identity", "Concat"):
                node.output[k] = name + "__exact"
                tails.extend(rounded(name + "__exact", name))
        nodes.append(node)
        nodes.extend(tails)
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.value_info[:]
    return inferred


def float_initializer_types(proto: onnx.ModelProto) -> Dict[str, int]:
    """Element type of each floating-point initializer and ``Constant`` value (for checks and tests).

    Parameters
    ----------
    proto:
        Any ONNX model.

    Returns
    -------
    dict
        ``{name: onnx.TensorProto data type}`` for float32, float16, bfloat16
        and float64 tensors.
    """
    floats = {TensorProto.FLOAT, TensorProto.FLOAT16, TensorProto.BFLOAT16, TensorProto.DOUBLE}
    found = {t.name: t.data_type for t in proto.graph.initializer if t.data_type in floats}
    for node in proto.graph.node:
        if node.op_type == "Constant":
            for attr in node.attribute:
                if attr.name == "value" and attr.t.data_type in floats:
                    found[node.output[0]] = attr.t.data_type
    return found
