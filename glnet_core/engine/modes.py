"""GLNet's inference modes: their names, the ONNX subgraphs each runs, what each is.

The one table of modes. The engine, the bundle checks, the exporter, the
PyTorch model, the command line and the QGIS plugin all take mode names and
their graphs from here.

``full``
    The published "mode 3": stage-1 global branch, local branch, then the
    local-to-global pass over the merged local tensors and the stage-3
    aggregation.
``g2l``
    Global-to-local only: stage-1 global branch, local branch and the stage-2
    aggregation (faster; no stage-3 graphs needed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Tuple

from ..errors import InputError

__all__ = [
    "FULL",
    "G2L",
    "DEFAULT_MODE",
    "GRAPH_NAMES",
    "Mode",
    "MODES",
    "MODE_NAMES",
    "MODES_HELP",
    "graphs_for_modes",
    "check_mode",
    "UPSAMPLING",
]

FULL = "full"
G2L = "g2l"
DEFAULT_MODE = FULL

#: How patch logits are upsampled to the patch size
#: (:func:`glnet_core.engine.feature_ops.accumulate_patches`); plain Python,
#: so that the command line's ``--help`` can offer them.
UPSAMPLING: Tuple[str, ...] = ("bilinear", "nearest")

#: The subgraphs a bundle may hold, in the order they run.
GRAPH_NAMES: Tuple[str, ...] = ("global", "local", "aggregation_g2l", "l2g", "aggregation_full")


@dataclass(frozen=True)
class Mode:
    """One inference mode.

    Attributes
    ----------
    name:
        As the command line, the plugin and the manifest spell it.
    graphs:
        The subgraphs it runs, in :data:`GRAPH_NAMES` order.
    description:
        One phrase for help texts.
    """

    name: str
    graphs: Tuple[str, ...]
    description: str


#: Every mode by name, the default first.
MODES: Mapping[str, Mode] = {
    FULL: Mode(FULL, ("global", "local", "l2g", "aggregation_full"), "GLNet with the local-to-global pass (best)"),
    G2L: Mode(G2L, ("global", "local", "aggregation_g2l"), "global-to-local only (faster)"),
}

#: The mode names, the default first.
MODE_NAMES: Tuple[str, ...] = tuple(MODES)

#: One line on the modes for help texts: ``full (default): ...; g2l: ...``.
MODES_HELP = "; ".join(f"{m.name}{' (default)' if m.name == DEFAULT_MODE else ''}: {m.description}" for m in MODES.values())


def check_mode(name: str) -> Mode:
    """The mode called ``name``.

    Raises
    ------
    InputError
        For a name that is no mode (one line naming the choices).
    """
    mode = MODES.get(name)
    if mode is None:
        raise InputError(f"unknown mode {name!r}; choose {' or '.join(MODE_NAMES)}")
    return mode


def graphs_for_modes(modes: Iterable[str]) -> Tuple[str, ...]:
    """The graphs the given modes need together, in :data:`GRAPH_NAMES` order.

    Raises
    ------
    InputError
        For a name that is no mode.
    """
    needed = {g for name in modes for g in check_mode(name).graphs}
    return tuple(g for g in GRAPH_NAMES if g in needed)
