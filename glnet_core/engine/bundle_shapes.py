"""The graphs' tensor shapes against the manifest: classes, bands, sizes, feature widths.

One set of rules applied to two sources of shapes: the ``inputs`` /
``outputs`` a manifest declares (checked by :func:`~.bundle.load_bundle`
before onnxruntime is involved) and the shapes of the graphs themselves, read
from onnxruntime sessions (:meth:`~.bundle.Bundle.check_sessions`, which
every command that opens a bundle's sessions goes through, ``glnet info
--check-io`` included). The rules (docs/subgraphs.md has the tensors):

* every tensor carrying class scores (``logits``, ``agg_g2l``, ``agg_full``,
  ``agg_local``) is 4-d with a fixed channel count equal to the number of
  classes;
* ``image_g`` is ``(1, bands, size_g, size_g)`` and ``patches``
  ``(N, bands, size_p, size_p)`` wherever their dimensions are fixed;
* a feature tensor (``c2`` .. ``ps2_2``, ``ps3``) has the same channel count
  in every graph that gives or takes it (``g_`` and ``m_`` prefixes name the
  crops and merges of the same tensor), and the merged tensors ``m_*`` of
  ``l2g`` have the global graph's feature sizes.

Only fixed dimensions are compared: a symbolic one says nothing without
running the graph.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .predictor import SHARED_NAMES

__all__ = ["TensorShapes", "GraphShapes", "shape_problem", "CLASS_TENSORS"]

#: ``[(tensor name, shape)]``; a dimension is fixed when it is a positive int.
TensorShapes = Sequence[Tuple[str, Sequence[Any]]]
#: ``{"inputs": TensorShapes, "outputs": TensorShapes}`` of one graph.
GraphShapes = Mapping[str, TensorShapes]

#: (kind, tensor name) of the tensors whose channels are the classes.
CLASS_TENSORS = frozenset({("outputs", "logits"), ("outputs", "agg_g2l"), ("outputs", "agg_full"),
                           ("inputs", "agg_local")})

_FEATURES = frozenset(SHARED_NAMES) | {"ps3"}


def _fixed(dim: Any) -> bool:
    return isinstance(dim, int) and not isinstance(dim, bool) and dim > 0


def _feature_name(kind: str, name: str) -> Optional[str]:
    """The feature a tensor is (``g_c3`` -> ``c3``), or ``None`` for other tensors."""
    if kind == "inputs" and name[:2] in ("g_", "m_"):
        name = name[2:]
    elif kind == "inputs":
        return None
    return name if name in _FEATURES else None


def shape_problem(
    graphs: Mapping[str, GraphShapes],
    files: Mapping[str, str],
    n_classes: int,
    bands: int,
    size_g: int,
    size_p: int,
    declared: bool,
) -> Optional[str]:
    """The first way the graphs' shapes disagree with the manifest or each other, or ``None``.

    Parameters
    ----------
    graphs:
        ``{graph name: {"inputs": [(name, shape)], "outputs": [...]}}``.
    files:
        ``{graph name: file name}``, for messages.
    n_classes, bands, size_g, size_p:
        What the manifest says.
    declared:
        Whether the shapes are the manifest's declarations (the message then
        says so) rather than the graphs' own.

    Returns
    -------
    str or None
        One line, e.g. ``manifest says 7 classes but local.onnx gives agg_g2l
        with 5 channels``.
    """

    def who(graph: str, kind: str, tensor: str) -> str:
        verb = "gives" if kind == "outputs" else "takes"
        if declared:
            return f"{files[graph]} is declared to {verb[:-1]} {tensor}"
        return f"{files[graph]} {verb} {tensor}"

    features: Dict[str, List[Tuple[str, str, str, Sequence[Any]]]] = {}
    for graph, io in graphs.items():
        for kind in ("inputs", "outputs"):
            for tensor, shape in io.get(kind, ()):
                shape = list(shape)
                if (kind, tensor) in CLASS_TENSORS:
                    if len(shape) != 4:
                        return f"{who(graph, kind, tensor)} with {len(shape)} dimensions (class scores have 4)"
                    if not _fixed(shape[1]):
                        return (f"{who(graph, kind, tensor)} without a fixed channel count "
                                f"(it must be the {n_classes} classes)")
                    if shape[1] != n_classes:
                        return f"manifest says {n_classes} classes but {who(graph, kind, tensor)} with {shape[1]} channels"
                if kind == "inputs" and tensor in ("image_g", "patches"):
                    side, key = (size_g, "size_g") if tensor == "image_g" else (size_p, "size_p")
                    if len(shape) != 4:
                        return f"{who(graph, kind, tensor)} with {len(shape)} dimensions (an image batch has 4)"
                    if _fixed(shape[1]) and shape[1] != bands:
                        return f"manifest says {bands} bands but {who(graph, kind, tensor)} with {shape[1]} channels"
                    for dim in shape[2:]:
                        if _fixed(dim) and dim != side:
                            return (f"manifest says {key} {side} but {who(graph, kind, tensor)} of "
                                    f"{_dims(shape[2:])} px")
                feature = _feature_name(kind, tensor)
                if feature is not None and len(shape) == 4:
                    features.setdefault(feature, []).append((graph, kind, tensor, shape))
    for seen in features.values():
        with_channels = [entry for entry in seen if _fixed(entry[3][1])]
        for graph, kind, tensor, shape in with_channels[1:]:
            g0, k0, t0, s0 = with_channels[0]
            if shape[1] != s0[1]:
                return (f"{who(g0, k0, t0)} with {s0[1]} channels but {who(graph, kind, tensor)} "
                        f"with {shape[1]}")
        # l2g takes the merged local features at the global features' sizes.
        global_out = [e for e in seen if e[0] == "global" and e[1] == "outputs"]
        merged = [e for e in seen if e[0] == "l2g" and e[1] == "inputs"]
        for g0, k0, t0, s0 in global_out:
            for graph, kind, tensor, shape in merged:
                if any(_fixed(a) and _fixed(b) and a != b for a, b in zip(s0[2:], shape[2:])):
                    return (f"{who(g0, k0, t0)} of {_dims(s0[2:])} px but {who(graph, kind, tensor)} "
                            f"of {_dims(shape[2:])} px")
    return None


def _dims(dims: Sequence[Any]) -> str:
    return " x ".join(str(d) for d in dims)
