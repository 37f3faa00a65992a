"""From raw window pixels to the two network inputs: the global image and the window.

Shared by the PyTorch model (training, reference inference) and the
onnxruntime engine, so both feed the network identically:

1. A window narrower than a patch is zero-padded at the bottom / right up to
   the patch size (:func:`glnet_core.tiling.padded_size`).
2. The global image is the padded window resized to ``size_g x size_g`` with
   Pillow's bilinear filter (:mod:`glnet_core.resample`); 8-bit windows are
   resized in 8 bits, exactly as the published code's PIL images are.
3. Both are normalised: ``(value * scale - mean) / std`` per band, and laid
   out band-first (``C, H, W``) as float32.

The published DeepGlobe models use ``scale = 1/255``, mean 0 and std 1.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Tuple

import numpy as np

from .resample import resize_float, resize_uint8
from .tiling import padded_size

__all__ = ["Normalisation", "PreparedWindow", "prepare_window", "pad_window"]


@dataclass(frozen=True)
class Normalisation:
    """Per-band affine normalisation: ``(value * scale - mean) / std``."""

    scale: float = 1.0 / 255.0
    mean: Tuple[float, ...] = (0.0, 0.0, 0.0)
    std: Tuple[float, ...] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        if len(self.mean) != len(self.std):
            raise ValueError("mean and std need one value per band")
        if any(s == 0 for s in self.std):
            raise ValueError("std values must be non-zero")

    def apply(self, image_hwc: np.ndarray) -> np.ndarray:
        """Normalised ``(C, H, W)`` float32 array from an ``(H, W, C)`` array."""
        bands = image_hwc.shape[2]
        if bands != len(self.mean):
            raise ValueError(f"normalisation is for {len(self.mean)} bands, image has {bands}")
        # Band by band and in place: a 2448 px window is 72 MB as float32, and
        # whole-array expressions would hold several such temporaries at once.
        out = np.empty((bands,) + image_hwc.shape[:2], dtype=np.float32)
        for c in range(bands):
            band = out[c]
            band[...] = image_hwc[:, :, c]
            band *= np.float32(self.scale)
            band -= np.float32(self.mean[c])
            band /= np.float32(self.std[c])
        return out

    def to_dict(self) -> Dict[str, Any]:
        return {"scale": self.scale, "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "Normalisation":
        return cls(float(data["scale"]), tuple(float(v) for v in data["mean"]), tuple(float(v) for v in data["std"]))


@dataclass(frozen=True)
class PreparedWindow:
    """Network inputs for one window.

    ``image_g`` is ``(C, size_g, size_g)``, ``window`` is ``(C, H', W')`` with
    ``H', W'`` the padded size; ``valid`` is the unpadded ``(H, W)``.
    """

    image_g: np.ndarray
    window: np.ndarray
    valid: Tuple[int, int]


def pad_window(image_hwc: np.ndarray, patch: int) -> np.ndarray:
    """Zero-pad an ``(H, W, C)`` window at the bottom / right to at least ``patch`` per side."""
    h, w = image_hwc.shape[:2]
    ph, pw = padded_size(h, w, patch)
    if (ph, pw) == (h, w):
        return image_hwc
    out = np.zeros((ph, pw) + image_hwc.shape[2:], dtype=image_hwc.dtype)
    out[:h, :w] = image_hwc
    return out


def prepare_window(image_hwc: np.ndarray, size_g: int, size_p: int, norm: Normalisation) -> PreparedWindow:
    """Global image and normalised window for an ``(H, W, C)`` window of any numeric dtype."""
    if image_hwc.ndim != 3:
        raise ValueError(f"expected an (H, W, C) window, got shape {image_hwc.shape}")
    valid = image_hwc.shape[:2]
    padded = pad_window(image_hwc, size_p)
    if padded.dtype == np.uint8:
        small = resize_uint8(padded, size_g, size_g)
    else:
        small = resize_float(padded, size_g, size_g)
    return PreparedWindow(norm.apply(small), norm.apply(padded), (int(valid[0]), int(valid[1])))
