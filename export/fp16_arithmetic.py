"""Turn an exported float32 subgraph into one whose arithmetic is float16 (``fp16-gpu`` bundles).

The graph keeps its float32 inputs and outputs, so the engine, the bundle
checks and every caller see the same interface as an fp32 bundle: a ``Cast``
to float16 follows each float32 graph input and a ``Cast`` back to float32
precedes each graph output. Between them the backbone, the FPN and every
resize run in float16: their weights are stored as float16, so Conv, Add,
Relu, MaxPool and Resize take and give float16 tensors (on CUDA, tensor-core
convolutions; see docs/bundle-format.md).

What stays float32, and why:

* the classifiers (a ``Conv`` to ``n_classes`` channels, the same rule as
  ``glnet quantize``'s :func:`~glnet.glnet_core.engine.quantize.float_nodes`)
  and everything downstream of them (the aggregation's ``Add``): logits are
  the largest values of the network and decide the argmax directly. Measured
  on the ``lite`` configuration (random weights with strong heads), emulated
  float16 logits reached 66 000, past float16's largest finite value (65 504),
  and became inf; the feature maps stayed below 11 000. A classifier is a tiny
  share of the arithmetic (``n_classes`` output channels);
* the ``scales`` and ``roi`` inputs of ``Resize``: ONNX types ``scales`` as
  float32 only, and the sampling coordinates are computed from them (the
  exported graphs give ``sizes`` as int64, so today none is present; the rule
  keeps a future graph safe);
* integer tensors (shapes, slice bounds, sizes), which are untouched.

There is no BatchNormalization (folded into the convs by the export's
constant folding) and no Softmax in the subgraphs, so no normalisation has to
be guarded against float16 range or rounding; :func:`to_fp16_arithmetic`
refuses a graph holding an op it has no rule for rather than convert it
silently (:data:`FP16_OPS`): an op whose attributes depend on the element type
(``Cast`` targets, ``ConstantOfShape`` values, ...) would need its own rule.
"""

from __future__ import annotations

from typing import Dict, List, Set, Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

__all__ = ["FP16_OPS", "FLOAT32_INPUTS", "to_fp16_arithmetic", "float32_nodes", "fp16_rounding_emulation",
           "float_initializer_types"]

# Ops of the exported subgraphs that compute on float tensors and accept float16 as such.
FP16_OPS = frozenset({"Conv", "Relu", "MaxPool", "Add", "Resize", "Concat", "Identity"})
# Ops on shapes only: integer inputs and outputs, unaffected by the float type.
_SHAPE_OPS = frozenset({"Shape", "Slice", "Gather", "Unsqueeze", "Squeeze", "Constant"})
# (op, input index) that ONNX types as float32 whatever the data type: kept float32.
FLOAT32_INPUTS: Dict[str, Tuple[int, ...]] = {"Resize": (1, 2)}
_HALF = "__fp16"
_FULL = "__fp32"


def float32_nodes(proto: onnx.ModelProto, n_classes: int) -> Set[str]:
    """Output names of the nodes kept in float32: the classifiers and every node downstream of one.

    Parameters
    ----------
    proto:
        A float32 glnet subgraph.
    n_classes:
        The bundle's class count (a classifier is a ``Conv`` to that many channels).

    Returns
    -------
    set of str
        The first output name of each such node (exported nodes need not have names).
    """
    shapes = {i.name: tuple(i.dims) for i in proto.graph.initializer}
    tainted: Set[str] = set()
    kept: Set[str] = set()
    for node in proto.graph.node:  # ONNX graphs list nodes in topological order
        weight = shapes.get(node.input[1]) if node.op_type == "Conv" and len(node.input) > 1 else None
        if (weight is not None and weight[0] == n_classes) or any(i in tainted for i in node.input):
            kept.add(node.output[0])
            tainted.update(node.output)
    return kept


def _float32_only_names(graph: onnx.GraphProto) -> Set[str]:
    names: Set[str] = set()
    for node in graph.node:
        for index in FLOAT32_INPUTS.get(node.op_type, ()):
            if index < len(node.input) and node.input[index]:
                names.add(node.input[index])
    return names


def _half_tensor(tensor: TensorProto, name: str) -> TensorProto:
    array = numpy_helper.to_array(tensor)
    # Clip into float16's finite range first: a weight beyond 65504 would become inf.
    finite = np.finfo(np.float16).max
    return numpy_helper.from_array(np.clip(array, -finite, finite).astype(np.float16), name)


def to_fp16_arithmetic(proto: onnx.ModelProto, n_classes: int) -> onnx.ModelProto:
    """Convert an fp32 glnet subgraph in place to float16 arithmetic with float32 inputs and outputs.

    Parameters
    ----------
    proto:
        A subgraph as exported by :mod:`export.onnx_export` (float32 throughout).
    n_classes:
        The bundle's class count: its classifiers and what follows them stay
        float32 (:func:`float32_nodes`).

    Returns
    -------
    onnx.ModelProto
        ``proto`` itself, converted: the weights of the float16 nodes stored
        as float16 (``Resize`` scales excepted, :data:`FLOAT32_INPUTS`); a
        ``Cast`` wherever a float32 value (a graph input, a float32 weight)
        meets a float16 node and wherever a float16 value meets a float32
        node or a graph output; intermediate type annotations dropped
        (onnxruntime infers them again).

    Raises
    ------
    ValueError
        If the graph holds an op outside :data:`FP16_OPS` and the shape ops,
        or a float ``Constant``, or a weight shared by float16 and float32 nodes.
    """
    graph = proto.graph
    unknown = sorted({n.op_type for n in graph.node} - FP16_OPS - _SHAPE_OPS)
    if unknown:
        raise ValueError(f"graph {graph.name!r}: no float16 rule for op(s) {', '.join(unknown)}")
    for node in graph.node:
        if node.op_type == "Constant" and any(
            a.name in ("value_float", "value_floats") or (a.name == "value" and a.t.data_type == TensorProto.FLOAT)
            for a in node.attribute
        ):
            raise ValueError(f"graph {graph.name!r}: no float16 rule for the float Constant {node.output[0]!r}")
    keep32 = _float32_only_names(graph)
    full_nodes = float32_nodes(proto, n_classes)
    integers = _integer_values(proto)  # before any change: inference needs consistent types
    init_names = {i.name for i in graph.initializer if i.data_type == TensorProto.FLOAT}
    input_names = {i.name for i in graph.input if i.type.tensor_type.elem_type == TensorProto.FLOAT}
    output_names = {o.name for o in graph.output if o.type.tensor_type.elem_type == TensorProto.FLOAT}

    # Which float values each node side reads, to place the boundary casts.
    half_reads: Set[str] = set()
    full_reads: Set[str] = set()
    for node in graph.node:
        reads = [i for k, i in enumerate(node.input) if i and k not in FLOAT32_INPUTS.get(node.op_type, ())]
        (full_reads if node.output[0] in full_nodes else half_reads).update(reads)
    shared = sorted(init_names & half_reads & full_reads)
    if shared:
        raise ValueError(f"graph {graph.name!r}: weight(s) {', '.join(shared)} used by float16 and float32 nodes")

    kept: List[TensorProto] = []
    for init in graph.initializer:
        half = init.data_type == TensorProto.FLOAT and init.name not in keep32 and init.name in half_reads
        kept.append(_half_tensor(init, init.name) if half else init)
    del graph.initializer[:]
    graph.initializer.extend(kept)

    # Float values produced by float16 nodes: every producer output that is a float (not a shape).
    half_values: Set[str] = set()
    for node in graph.node:
        if node.output[0] not in full_nodes and node.op_type in FP16_OPS:
            half_values.update(node.output)
    half_values -= integers

    head: List[onnx.NodeProto] = []
    for name in sorted(input_names & half_reads):  # a float32 input read by float16 nodes
        head.append(helper.make_node("Cast", [name], [name + _HALF], name=f"cast_in_{name}", to=TensorProto.FLOAT16))
    crossing = sorted(half_values & (full_reads | output_names))  # float16 values read as float32
    for node in graph.node:
        full = node.output[0] in full_nodes
        for k, name in enumerate(node.input):
            if k in FLOAT32_INPUTS.get(node.op_type, ()):
                continue
            if not full and name in input_names:
                node.input[k] = name + _HALF
            elif full and name in crossing:
                node.input[k] = name + _FULL
        for k, name in enumerate(node.output):
            if name in output_names and name in half_values:
                node.output[k] = name + _HALF
    # A float16 value that is a graph output keeps the output's name once cast back.
    for node in graph.node:
        if node.output[0] in full_nodes:
            continue
        for k, name in enumerate(node.input):
            if name in output_names and name in half_values:
                node.input[k] = name + _HALF
    tail: List[onnx.NodeProto] = []
    for name in crossing:
        source = name + _HALF if name in output_names else name
        if name in full_reads:
            tail.append(helper.make_node("Cast", [source], [name + _FULL], name=f"cast_full_{name}", to=TensorProto.FLOAT))
        if name in output_names:
            tail.append(helper.make_node("Cast", [source], [name], name=f"cast_out_{name}", to=TensorProto.FLOAT))
    # Each cast right after its producer keeps the list topological.
    order: List[onnx.NodeProto] = list(head)
    by_source: Dict[str, List[onnx.NodeProto]] = {}
    for cast in tail:
        by_source.setdefault(cast.input[0], []).append(cast)
    for node in graph.node:
        order.append(node)
        for out in node.output:
            order.extend(by_source.pop(out, []))
    if by_source:
        raise ValueError(f"graph {graph.name!r}: no producer for {', '.join(sorted(by_source))}")
    del graph.node[:]
    graph.node.extend(order)
    # The exporter's float32 annotations of intermediate values are wrong now.
    del graph.value_info[:]
    return proto


def _integer_values(proto: onnx.ModelProto) -> Set[str]:
    """Values that ONNX's type inference finds are not float (shape arithmetic through Concat, Identity ...)."""
    inferred = onnx.shape_inference.infer_shapes(proto)
    return {v.name for v in inferred.graph.value_info if v.type.tensor_type.elem_type != TensorProto.FLOAT}


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
