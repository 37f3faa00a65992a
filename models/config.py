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
``resnet18``
    Exactly torchvision's ResNet-18 as backbone (so it can start from the
    ImageNet weights, ``--backbone-weights resnet18-f37072fd.pth``) with a
    CPU-sized FPN (128 / 64 channels), 256 px patches, 1024 px windows.
``tiny``
    A minimal network for tests: a 512 px window runs in about a second on
    2 CPU cores.

``paper`` and ``resnet18`` have torchvision's backbones (ResNet-50 and
ResNet-18): :func:`glnet.models.backbone_weights.load_backbone_weights` loads
the ImageNet weights torchvision publishes into them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Dict, Tuple

__all__ = ["BackboneConfig", "GLNetConfig", "LIMITS", "CONFIGS", "get_config"]


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
    def from_dict(cls, data: Any) -> "GLNetConfig":
        """The configuration a dict (``to_dict()`` form, e.g. from a checkpoint) describes, checked.

        Every key must be present (a missing one is never filled with a
        default: a missing ``size_p`` once became 508 silently), no other
        key may be, and each value must be an integer (or name) within
        :data:`LIMITS`, so a damaged or hostile checkpoint cannot make the
        model allocate absurd amounts of memory. The window obeys the
        engine's patch-count rule
        (:func:`glnet.glnet_core.engine.tiling.window_patch_problem`).

        Parameters
        ----------
        data:
            The dict.

        Returns
        -------
        GLNetConfig

        Raises
        ------
        ValueError
            One line naming the key: ``config.backbone.widths[2]: -4 is
            less than 1``.
        """
        return _config_from_dict(data)


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
    # torchvision's resnet18(): BasicBlock, [2, 2, 2, 2], 64-wide stem.
    "resnet18": GLNetConfig(
        name="resnet18",
        backbone=BackboneConfig(block="basic", layers=(2, 2, 2, 2), stem_width=64, widths=(64, 128, 256, 512)),
        fpn_channels=128,
        head_channels=64,
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


#: Inclusive bounds of the integer fields. Far above every named
#: configuration (the paper model: widths up to 512, 256 FPN channels, 508 px
#: patches, 2448 px windows), far below what would exhaust memory before a
#: single weight is compared with the checkpoint. Sizes as in the bundle
#: manifest's schema.
LIMITS: Dict[str, Tuple[int, int]] = {
    "layers": (1, 64),
    "stem_width": (1, 1024),
    "widths": (1, 4096),
    "fpn_channels": (1, 4096),
    "head_channels": (1, 4096),
    "size_g": (1, 4096),
    "size_p": (1, 4096),
    "window": (1, 16384),
    "min_overlap": (0, 4095),
    "in_channels": (1, 64),
}
_BACKBONE_KEYS = ("block", "layers", "stem_width", "widths")
_CONFIG_KEYS = ("name", "backbone", "fpn_channels", "head_channels", "size_g", "size_p", "window", "min_overlap",
                "in_channels")


def _keys(data: Any, where: str, keys: Tuple[str, ...]) -> Dict[str, Any]:
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a dict, got {type(data).__name__}")
    for key in keys:
        if key not in data:
            raise ValueError(f"{where}: missing key {key!r}")
    extra = [str(k) for k in data if k not in keys]
    if extra:
        raise ValueError(f"{where}: unexpected key {extra[0]!r}")
    return data


def _int(value: Any, where: str, limit: str) -> int:
    low, high = LIMITS[limit]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}: expected an integer, got {type(value).__name__} {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{where}: {value} is out of range ({low} to {high})")
    return value


def _four(value: Any, where: str, limit: str) -> Tuple[int, int, int, int]:
    if not isinstance(value, (list, tuple)) or len(value) != 4:
        raise ValueError(f"{where}: expected 4 integers, got {value!r}")
    return tuple(_int(v, f"{where}[{i}]", limit) for i, v in enumerate(value))  # type: ignore[return-value]


def _config_from_dict(data: Any) -> GLNetConfig:
    from ..glnet_core.engine.tiling import window_patch_problem  # plain Python, no GDAL or onnxruntime

    c = _keys(data, "config", _CONFIG_KEYS)
    if not isinstance(c["name"], str) or not c["name"]:
        raise ValueError(f"config.name: expected a non-empty string, got {c['name']!r}")
    bb = _keys(c["backbone"], "config.backbone", _BACKBONE_KEYS)
    if bb["block"] not in ("bottleneck", "basic"):
        raise ValueError(f"config.backbone.block: {bb['block']!r} is neither 'bottleneck' nor 'basic'")
    backbone = BackboneConfig(
        block=bb["block"],
        layers=_four(bb["layers"], "config.backbone.layers", "layers"),
        stem_width=_int(bb["stem_width"], "config.backbone.stem_width", "stem_width"),
        widths=_four(bb["widths"], "config.backbone.widths", "widths"),
    )
    values = {key: _int(c[key], f"config.{key}", key) for key in _CONFIG_KEYS[2:]}
    if values["min_overlap"] >= values["size_p"]:
        raise ValueError(f"config.min_overlap: {values['min_overlap']} must be smaller than size_p {values['size_p']}")
    problem = window_patch_problem(values["window"], values["size_p"], values["min_overlap"])
    if problem:
        raise ValueError(f"config.window: {problem}")
    return GLNetConfig(name=c["name"], backbone=backbone, **values)


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
