"""A graph's inputs and outputs as the bundle manifest records them (``graphs.NAME.inputs`` / ``outputs``).

Written by the exporter (``export/onnx_export.py``) and by ``glnet quantize``
(:mod:`.quantize`), from the ONNX model proto; read back by
:class:`~glnet.glnet_core.engine.bundle.Bundle` to check sessions. Needs the
``onnx`` package, imported when called (the engine itself does not need it).
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List

__all__ = ["graph_io_spec"]


def graph_io_spec(values: Iterable[Any]) -> List[Dict[str, Any]]:
    """``[{"name", "shape", "dtype"}]`` of ONNX ``ValueInfoProto`` entries (a graph's ``input`` or ``output``).

    Parameters
    ----------
    values:
        ``model.graph.input`` or ``model.graph.output``.

    Returns
    -------
    list of dict
        ``shape`` holds ints for fixed dimensions and the symbol (or ``"?"``)
        for the others; ``dtype`` is numpy's name (``"float32"``).
    """
    import onnx

    out = []
    for v in values:
        t = v.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in t.shape.dim]
        out.append({"name": v.name, "shape": dims, "dtype": onnx.helper.tensor_dtype_to_np_dtype(t.elem_type).name})
    return out
