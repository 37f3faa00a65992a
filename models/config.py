"""GLNet configurations: the architecture and window geometry as data.

A configuration says everything about the network's shape and how a window is
cut into patches; the number of classes comes from the class table, and the
weights from a checkpoint. Named configurations:

``paper``
    ResNet-50 with the published FPN (256 / 128 channels), size_g = size_p =
    508, 2448 px windows: exactly the published DeepGlobe model.
``lite``
    A half-width ResNet-18 and a narrow FPN, 256 px patches, 1024 px windows:
    trainable and usable on a 2-core CPU.
``tiny``
    A minimal network for tests: a 512 px window runs in about a second on
    2 CPU cores.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, Tuple

__all__ = ["BackboneConfig", "GLNetConfig", "CONFIGS", "get_config"]


@dataclass(frozen=True)
class BackboneConfig:
    """A ResNet: stem then four stages at strides 4, 8, 16, 32.

    ``block`` is ``"bottleneck"`` (expansion 4, as ResNet-50) or ``"basic"``
    (expansion 1, as ResNet-18); ``widths`` are the stages' inner widths.
    """

    block: str = "bottleneck"
    layers: Tuple[int, int, int, int] = (3, 4, 6, 3)
    stem_width: int = 64
    widths: Tuple[int, int, int, int] = (64, 128, 256, 512)

    @property
    def expansion(self) -> int:
        return 4 if self.block == "bottleneck" else 1

    @property
    def out_channels(self) -> Tuple[int, int, int, int]:
        """Channels of c2, c3, c4, c5."""
        return tuple(w * self.expansion for w in self.widths)  # type: ignore[return-value]

    def __post_init__(self) -> None:
        if self.block not in ("bottleneck", "basic"):
            raise ValueError(f"unknown block type {self.block!r}")
        if len(self.layers) != 4 or len(self.widths) != 4:
            raise ValueError("a backbone has exactly four stages")


@dataclass(frozen=True)
class GLNetConfig:
    """Architecture and window geometry of a GLNet.

    Attributes
    ----------
    name:
        Configuration name, stored in checkpoints and bundles.
    backbone:
        The ResNet of each branch.
    fpn_channels:
        Channels of the top-down pathway and first smoothing (256 published).
    head_channels:
        Channels after the second smoothing; the head concatenates four
        levels, so ps3 has ``4 * head_channels`` channels (512 published).
    size_g:
        Side of the downsampled global image, pixels.
    size_p:
        Side of a local patch, pixels.
    window:
        Default side of the window the global branch sees, pixels.
    min_overlap:
        Minimum overlap of neighbouring patches, pixels.
    in_channels:
        Input bands (3: RGB).
    """

    name: str
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    fpn_channels: int = 256
    head_channels: int = 128
    size_g: int = 508
    size_p: int = 508
    window: int = 2448
    min_overlap: int = 50
    in_channels: int = 3

    @property
    def ps3_channels(self) -> int:
        return 4 * self.head_channels

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "GLNetConfig":
        values = dict(data)
        bb = dict(values.pop("backbone"))
        bb["layers"] = tuple(bb["layers"])
        bb["widths"] = tuple(bb["widths"])
        return cls(backbone=BackboneConfig(**bb), **values)


CONFIGS: Dict[str, GLNetConfig] = {
    "paper": GLNetConfig(name="paper"),
    "lite": GLNetConfig(
        name="lite",
        backbone=BackboneConfig(block="basic", layers=(2, 2, 2, 2), stem_width=32, widths=(32, 64, 128, 256)),
        fpn_channels=64,
        head_channels=32,
        size_g=256,
        size_p=256,
        window=1024,
        min_overlap=32,
    ),
    "tiny": GLNetConfig(
        name="tiny",
        backbone=BackboneConfig(block="basic", layers=(1, 1, 1, 1), stem_width=8, widths=(8, 16, 32, 32)),
        fpn_channels=16,
        head_channels=8,
        size_g=128,
        size_p=128,
        window=512,
        min_overlap=16,
    ),
}


def get_config(name: str) -> GLNetConfig:
    """The named configuration.

    Raises
    ------
    KeyError
        With the list of known names, if ``name`` is unknown.
    """
    try:
        return CONFIGS[name]
    except KeyError:
        raise KeyError(f"unknown configuration {name!r}; choose one of {', '.join(CONFIGS)}") from None
