"""Find tensors an ONNX file keeps in external data files, without the ``onnx`` package.

A graph whose weights live in other files (``data_location: EXTERNAL``) would
run with bytes no bundle checksum covers, so bundles refuse such graphs (the
exporter never writes them). QGIS's Python has no ``onnx`` package, so this
module reads just enough of the protobuf wire format: it walks the messages
that can hold a tensor (``ModelProto.graph`` and ``functions``, a graph's
``initializer``, ``sparse_initializer`` and nodes, a node's attributes with
their tensors and subgraphs, ``training_info``) and looks at each tensor's
``external_data`` (field 13) and ``data_location`` (field 14). Everything
else, weights included, is skipped by its length, so a large graph costs one
pass over its field headers and no copy (give it an ``mmap``).
"""

from __future__ import annotations

from typing import Dict, List, Optional, Tuple, Union

__all__ = ["external_tensor", "MalformedModel"]

Buffer = Union[bytes, bytearray, memoryview]

# Per message type: {field number: message type of that field}; the fields
# that are neither are skipped. Field numbers from onnx/onnx.proto (IR v10).
_MODEL, _GRAPH, _NODE, _ATTRIBUTE, _FUNCTION, _TENSOR, _SPARSE, _TRAINING = range(8)
_CHILDREN: Dict[int, Dict[int, int]] = {
    _MODEL: {7: _GRAPH, 20: _TRAINING, 25: _FUNCTION},
    _GRAPH: {1: _NODE, 5: _TENSOR, 15: _SPARSE},
    _NODE: {5: _ATTRIBUTE},
    _ATTRIBUTE: {5: _TENSOR, 6: _GRAPH, 10: _TENSOR, 11: _GRAPH, 22: _SPARSE, 23: _SPARSE},
    _FUNCTION: {7: _NODE},
    _SPARSE: {1: _TENSOR, 2: _TENSOR},
    _TRAINING: {1: _GRAPH, 2: _GRAPH},
    _TENSOR: {},
}
_TENSOR_NAME, _TENSOR_EXTERNAL_DATA, _TENSOR_DATA_LOCATION = 8, 13, 14
_EXTERNAL = 1  # TensorProto.DataLocation.EXTERNAL

# Subgraphs nest (an If inside a Loop ...); real models stay far below this.
_MAX_DEPTH = 64


class MalformedModel(ValueError):
    """The bytes are not a protobuf message of the ONNX layout."""


def _varint(data: Buffer, pos: int, end: int) -> Tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise MalformedModel("truncated or overlong varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def external_tensor(data: Buffer) -> Optional[str]:
    """The name of the first tensor kept in an external data file, or ``None`` if there is none.

    Parameters
    ----------
    data:
        A serialized ``onnx.ModelProto`` (bytes, or a memoryview of an mmap).

    Returns
    -------
    str or None
        The tensor's name (``"(unnamed)"`` when it has none).

    Raises
    ------
    MalformedModel
        If the bytes do not parse as protobuf messages where the ONNX layout
        has messages (a truncated or foreign file).
    """
    # Views released on the way out, even on an error: an mmap cannot be
    # closed while a view of it lives (a traceback would keep one).
    with memoryview(data) as raw, raw.cast("B") as view:
        return _walk(view)


def _walk(view: memoryview) -> Optional[str]:
    # (message type, start, end, depth) still to walk.
    todo: List[Tuple[int, int, int, int]] = [(_MODEL, 0, len(view), 0)]
    while todo:
        kind, pos, end, depth = todo.pop()
        if depth > _MAX_DEPTH:
            raise MalformedModel("messages nested too deeply")
        children = _CHILDREN[kind]
        name = "(unnamed)"
        external = False
        while pos < end:
            key, pos = _varint(view, pos, end)
            field, wire = key >> 3, key & 7
            if field == 0:
                raise MalformedModel("field number 0")
            if wire == 0:
                value, pos = _varint(view, pos, end)
                if kind == _TENSOR and field == _TENSOR_DATA_LOCATION and value == _EXTERNAL:
                    external = True
            elif wire == 1:
                pos += 8
            elif wire == 5:
                pos += 4
            elif wire == 2:
                length, pos = _varint(view, pos, end)
                start, pos = pos, pos + length
                if pos > end:
                    break  # reported below as truncated
                if field in children:
                    todo.append((children[field], start, pos, depth + 1))
                elif kind == _TENSOR and field == _TENSOR_EXTERNAL_DATA:
                    external = True
                elif kind == _TENSOR and field == _TENSOR_NAME:
                    name = bytes(view[start:pos]).decode("utf-8", "replace")
            else:
                raise MalformedModel(f"unsupported wire type {wire}")
        if pos > end:
            raise MalformedModel("a field runs past the end of its message")
        if external:
            return name
    return None
