"""Small ONNX "glue" graphs: the engine's crops and merges, as graphs that run where the tensors are.

The host chain (:class:`glnet_core.engine.predictor.WindowPredictor`) crops
the global tensors for each patch and merges the local tensors into global
coordinates in numpy (:mod:`glnet_core.engine.feature_ops`). The device chain
(:mod:`glnet_core.engine.device_chain`) runs the same operations inside
onnxruntime, on the device that holds the tensors, with the graphs built
here by :mod:`onnx.helper` when its sessions are opened. All the layout
arithmetic (which rows and columns, which bilinear weights) stays on the
host, in small index and weight tensors computed with the host chain's own
functions; the graphs only gather and multiply:

``crop``
    For each input ``x_k`` of ``(1, C_k, H_k, W_k)`` and its index tensor
    ``idx_g`` of ``(N, h, w)`` int64 flat positions ``row * W_k + col``:
    ``Flatten(axis=2) -> (C, H*W)``, ``Gather(axis=1) -> (C, N, h, w)``,
    ``Transpose -> (N, C, h, w)``: the stacked crops of
    :func:`~glnet_core.engine.feature_ops.crop_boxes`. Tensors of the same
    spatial size share one index tensor.
``merge``
    For each local tensor ``l_k`` of ``(N, C, h, w)``, with the per-patch
    column matrices ``b_g`` of ``(N, 1, w, W)`` and the row matrices of the
    batch side by side ``a_g`` of ``(H, N*h)``: ``sum_i A_i @ l_i @ B_i`` as
    ``MatMul(l, b) -> (N, C, h, W)``, ``Transpose, Reshape -> (C, N*h, W)``,
    ``MatMul(a, .) -> (C, H, W)``: each patch's bilinear resize to its
    footprint, placed there and summed over the batch in two matrix products
    (the patch sum is the contraction over ``N*h``). With ``accumulate`` the
    running sums ``acc_k`` are inputs and ``acc_k + ...`` the outputs.
``divide``
    ``s_k / count_g``: the merged sums divided by the patch count map
    resized to their size (:class:`~glnet_core.engine.feature_ops.LocalMerger`).

Every dimension that changes between windows or batches (``N``, crop sizes)
is symbolic; the global tensors' channels and sizes, fixed by the bundle, are
given. Inputs and outputs are float32 (int64 for indices).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List, Sequence, Tuple

if TYPE_CHECKING:
    import onnx

__all__ = ["GLUE_OPSET", "crop_graph", "merge_graph", "divide_graph"]

#: The glue graphs' opset and IR version: every op used has been stable since
#: opset 13; 17 / IR 8 is read by onnxruntime 1.16 (the oldest glnet accepts).
GLUE_OPSET = 17
_IR_VERSION = 8


def _model(nodes: List["onnx.NodeProto"], inputs: List["onnx.ValueInfoProto"], outputs: List["onnx.ValueInfoProto"],
           name: str, initializers: Sequence["onnx.TensorProto"] = ()) -> "onnx.ModelProto":
    from onnx import checker, helper

    graph = helper.make_graph(nodes, name, inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", GLUE_OPSET)], producer_name="glnet")
    model.ir_version = _IR_VERSION
    checker.check_model(model)
    return model


def crop_graph(names: Sequence[str], shapes: Sequence[Tuple[int, int, int]], groups: Sequence[int]) -> "onnx.ModelProto":
    """The graph that crops global tensors for a batch of patches.

    Parameters
    ----------
    names:
        The tensors' names: input ``x_<name>`` ``(1, C, H, W)``, output
        ``g_<name>`` ``(N, C, h, w)``.
    shapes:
        ``(C, H, W)`` of each tensor.
    groups:
        For each tensor, which index input ``idx_<group>`` (``(N, h, w)``
        int64 flat positions into ``H * W``) selects its crop.

    Returns
    -------
    onnx.ModelProto
        A checked model (:data:`GLUE_OPSET`).
    """
    from onnx import TensorProto, helper

    f, i64 = TensorProto.FLOAT, TensorProto.INT64
    nodes, inputs, outputs = [], [], []
    for g in sorted(set(groups)):
        inputs.append(helper.make_tensor_value_info(f"idx_{g}", i64, ["N", f"h{g}", f"w{g}"]))
    for name, (c, h, w), g in zip(names, shapes, groups):
        inputs.append(helper.make_tensor_value_info(f"x_{name}", f, [1, c, h, w]))
        nodes += [
            helper.make_node("Flatten", [f"x_{name}"], [f"{name}_flat"], axis=2),
            helper.make_node("Gather", [f"{name}_flat", f"idx_{g}"], [f"{name}_cnhw"], axis=1),
            helper.make_node("Transpose", [f"{name}_cnhw"], [f"g_{name}"], perm=[1, 0, 2, 3]),
        ]
        outputs.append(helper.make_tensor_value_info(f"g_{name}", f, ["N", c, f"h{g}", f"w{g}"]))
    return _model(nodes, inputs, outputs, "glnet_crop")


def merge_graph(names: Sequence[str], local_shapes: Sequence[Tuple[int, int, int]],
                global_shapes: Sequence[Tuple[int, int, int]], groups: Sequence[int],
                accumulate: bool) -> "onnx.ModelProto":
    """The graph that adds a batch of local tensors, resized to their footprints, into global-size sums.

    Parameters
    ----------
    names:
        The tensors' names: inputs ``l_<name>`` ``(N, C, h, w)`` (and
        ``acc_<name>`` ``(1, C, H, W)`` with ``accumulate``), outputs
        ``s_<name>`` ``(1, C, H, W)``.
    local_shapes, global_shapes:
        ``(C, h, w)`` of each local tensor and ``(C, H, W)`` of the global
        one it merges into.
    groups:
        For each tensor, which weight inputs ``a_<group>`` ``(H, N*h)`` and
        ``b_<group>`` ``(N, 1, w, W)`` resize and place it.
    accumulate:
        Add to running sums (``acc_*`` inputs); False for a window's first batch.

    Returns
    -------
    onnx.ModelProto
        A checked model (:data:`GLUE_OPSET`).
    """
    from onnx import TensorProto, helper

    f = TensorProto.FLOAT
    nodes, inputs, outputs, inits = [], [], [], []
    seen = set()
    for (_, _h, w), (_, gh, gw), g in zip(local_shapes, global_shapes, groups):
        if g in seen:
            continue
        seen.add(g)
        inputs += [helper.make_tensor_value_info(f"a_{g}", f, [gh, f"Nh{g}"]),
                   helper.make_tensor_value_info(f"b_{g}", f, ["N", 1, w, gw])]
    for name, (c, h, w), (gc, gh, gw), g in zip(names, local_shapes, global_shapes, groups):
        inputs.append(helper.make_tensor_value_info(f"l_{name}", f, ["N", c, h, w]))
        # (C, N*h, W): 0 copies C; -1 is N*h.
        inits.append(helper.make_tensor(f"{name}_shape", TensorProto.INT64, [3], [0, -1, gw]))
        inits.append(helper.make_tensor(f"{name}_shape4", TensorProto.INT64, [4], [1, gc, gh, gw]))
        total = f"s_{name}" if not accumulate else f"{name}_batch"
        nodes += [
            helper.make_node("MatMul", [f"l_{name}", f"b_{g}"], [f"{name}_cols"]),  # (N, C, h, W)
            helper.make_node("Transpose", [f"{name}_cols"], [f"{name}_cnhw"], perm=[1, 0, 2, 3]),
            helper.make_node("Reshape", [f"{name}_cnhw", f"{name}_shape"], [f"{name}_stack"]),  # (C, N*h, W)
            helper.make_node("MatMul", [f"a_{g}", f"{name}_stack"], [f"{name}_sum"]),  # (C, H, W)
            helper.make_node("Reshape", [f"{name}_sum", f"{name}_shape4"], [total]),
        ]
        if accumulate:
            inputs.append(helper.make_tensor_value_info(f"acc_{name}", f, [1, gc, gh, gw]))
            nodes.append(helper.make_node("Add", [f"acc_{name}", total], [f"s_{name}"]))
        outputs.append(helper.make_tensor_value_info(f"s_{name}", f, [1, gc, gh, gw]))
    return _model(nodes, inputs, outputs, "glnet_merge_add" if accumulate else "glnet_merge", inits)


def divide_graph(names: Sequence[str], shapes: Sequence[Tuple[int, int, int]], groups: Sequence[int]) -> "onnx.ModelProto":
    """The graph that divides merged sums by the patch count map: the ``l2g`` graph's ``m_*`` inputs.

    Parameters
    ----------
    names:
        Inputs ``s_<name>`` ``(1, C, H, W)``, outputs ``m_<name>``.
    shapes:
        ``(C, H, W)`` of each.
    groups:
        For each tensor, which count input ``count_<group>`` ``(1, 1, H, W)`` divides it.

    Returns
    -------
    onnx.ModelProto
        A checked model (:data:`GLUE_OPSET`).
    """
    from onnx import TensorProto, helper

    f = TensorProto.FLOAT
    nodes, inputs, outputs = [], [], []
    seen = set()
    for (_, h, w), g in zip(shapes, groups):
        if g not in seen:
            seen.add(g)
            inputs.append(helper.make_tensor_value_info(f"count_{g}", f, [1, 1, h, w]))
    for name, (c, h, w), g in zip(names, shapes, groups):
        inputs.append(helper.make_tensor_value_info(f"s_{name}", f, [1, c, h, w]))
        nodes.append(helper.make_node("Div", [f"s_{name}", f"count_{g}"], [f"m_{name}"]))
        outputs.append(helper.make_tensor_value_info(f"m_{name}", f, [1, c, h, w]))
    return _model(nodes, inputs, outputs, "glnet_divide")
