"""Network operations of a glnet bundle, counted from its ONNX graphs (for ``benchmarks/bench.py``).

Only convolutions and matrix products count (``Conv``, ``ConvInteger``,
``QLinearConv``, ``ConvTranspose``, ``MatMul``, ``MatMulInteger``,
``QLinearMatMul``, ``Gemm``): a multiply-add is two operations, as in the
peaks of :mod:`bench_machine`. Their shapes come from ONNX shape inference
with every symbolic input dimension fixed: one patch (``N = 1``), and the
other branch's tensors at the sizes the global graph gives them (the
manifest records those). The bundle's graphs resize those inputs to the
tensor they join, so the count does not depend on the crop sizes the engine
feeds in.

A window's operations are then ``global + patches * (local + aggregation)
(+ l2g in full mode)``; :func:`run_ops` applies that to a ``--profile``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import numpy as np

#: Operators whose arithmetic is counted, with the index of the input holding the weight.
_CONV_WEIGHT = {"Conv": 1, "ConvInteger": 1, "QLinearConv": 3, "ConvTranspose": 1}
_MATMUL_A = {"MatMul": 0, "MatMulInteger": 0, "QLinearMatMul": 0, "Gemm": 0}
#: Operators a weight passes through between its initializer and the conv (fp16 casts, QDQ).
_PASS_THROUGH = ("Cast", "DequantizeLinear", "Identity")


def _dims(value_info: Any) -> List[Any]:
    return [d.dim_value if d.HasField("dim_value") else d.dim_param for d in value_info.type.tensor_type.shape.dim]


def _fix_inputs(model: Any, known: Mapping[str, List[int]]) -> None:
    """Replace every symbolic input dimension: batch 1, spatial sizes from ``known`` (by name, ``g_``/``m_`` stripped)."""
    for inp in model.graph.input:
        base = inp.name.split("_", 1)[1] if inp.name.startswith(("g_", "m_")) else inp.name
        ref = known.get(base)
        for k, d in enumerate(inp.type.tensor_type.shape.dim):
            if d.HasField("dim_value"):
                continue
            value = 1 if k == 0 else (ref[k] if ref is not None and k < len(ref) else 1)
            d.Clear()
            d.dim_value = int(value)


def graph_ops(path: Path, known: Optional[Mapping[str, List[int]]] = None) -> Dict[str, Any]:
    """Operations of one run of one ONNX graph, with its symbolic input sizes fixed.

    Parameters
    ----------
    path:
        The ``.onnx`` file (external data beside it is not needed: only shapes are read).
    known:
        Tensor name -> shape of the tensors other graphs produce (e.g. the global graph's outputs).

    Returns
    -------
    dict
        ``ops`` (multiply-add = 2), ``counted`` (nodes counted), ``unknown`` (nodes whose shapes stayed unknown).
    """
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    _fix_inputs(model, known or {})
    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True)
    g = inferred.graph
    shapes: Dict[str, List[Any]] = {}
    for vi in list(g.value_info) + list(g.input) + list(g.output):
        shapes[vi.name] = _dims(vi)
    for init in g.initializer:
        shapes[init.name] = list(init.dims)
    producer = {out: node for node in g.node for out in node.output}
    for node in g.node:  # Constant nodes holding weights
        if node.op_type == "Constant" and node.attribute and node.attribute[0].HasField("t"):
            shapes.setdefault(node.output[0], list(node.attribute[0].t.dims))

    def weight_shape(name: str) -> Optional[List[Any]]:
        # Follow the weight back through casts and dequantisation to a shape we know.
        for _ in range(4):
            if name in shapes and all(isinstance(d, int) and d > 0 for d in shapes[name]):
                return shapes[name]
            node = producer.get(name)
            if node is None or node.op_type not in _PASS_THROUGH:
                return None
            name = node.input[0]
        return None

    ops, counted, unknown = 0, 0, 0
    for node in g.node:
        out = shapes.get(node.output[0])
        if node.op_type in _CONV_WEIGHT:
            w = weight_shape(node.input[_CONV_WEIGHT[node.op_type]])
            src = shapes.get(node.input[0])
            if node.op_type == "ConvTranspose":
                ok = w is not None and src is not None and all(isinstance(d, int) and d > 0 for d in src)
                if ok:
                    assert w is not None and src is not None
                    ops += 2 * int(np.prod(src)) * int(np.prod(w[1:]))
            else:
                ok = w is not None and out is not None and all(isinstance(d, int) and d > 0 for d in out)
                if ok:
                    assert w is not None and out is not None
                    ops += 2 * int(np.prod(out)) * int(np.prod(w[1:]))
        elif node.op_type in _MATMUL_A:
            a = shapes.get(node.input[_MATMUL_A[node.op_type]])
            ok = a is not None and out is not None and all(isinstance(d, int) and d > 0 for d in list(a) + list(out))
            if ok:
                assert a is not None and out is not None
                k = a[0] if node.op_type == "Gemm" and any(at.name == "transA" and at.i for at in node.attribute) else a[-1]
                ops += 2 * int(np.prod(out)) * int(k)
        else:
            continue
        counted += ok
        unknown += not ok
    return {"ops": ops, "counted": counted, "unknown": unknown}


def bundle_ops(bundle: Path) -> Dict[str, Any]:
    """Operations per run of each graph of a bundle folder.

    Parameters
    ----------
    bundle:
        A ``.glnet`` folder (its ``manifest.json`` names the graphs and the global graph's output shapes).

    Returns
    -------
    dict
        Graph name (``global``, ``local``, ``l2g``, ``aggregation_full``, ...) -> :func:`graph_ops` result.
    """
    manifest = json.loads((bundle / "manifest.json").read_text(encoding="utf-8"))
    graphs = manifest["graphs"]
    known: Dict[str, List[int]] = {}
    for out in graphs["global"]["outputs"]:
        known[out["name"]] = out["shape"]
    for out in graphs.get("local", {}).get("outputs", []):
        if out["name"].startswith("agg_"):
            known["agg_local"] = [1 if not isinstance(d, int) else d for d in out["shape"]]
    return {name: graph_ops(bundle / spec["file"], known) for name, spec in graphs.items()}


def run_ops(per_graph: Mapping[str, Mapping[str, Any]], profile: Mapping[str, Any]) -> int:
    """Network operations of one ``glnet segment`` run, from its ``--profile`` (windows, patches, mode).

    Parameters
    ----------
    per_graph:
        :func:`bundle_ops` of the bundle that ran.
    profile:
        The run's profile (``windows_classified`` or ``windows``, ``patches``, ``mode``).

    Returns
    -------
    int
        Operations (multiply-add = 2) of the whole run.
    """
    windows = int(profile.get("windows_classified") or profile["windows"])
    patches = int(profile["patches"])
    mode = profile["mode"]

    def ops(name: str) -> int:
        return int(per_graph.get(name, {}).get("ops", 0))

    total = windows * ops("global") + patches * (ops("local") + ops(f"aggregation_{mode}"))
    if mode == "full":
        total += windows * ops("l2g")
    return total
