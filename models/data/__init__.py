"""Training data for ``glnet train``: folders of image/mask pairs turned into network inputs and labels.

One module per concept:

- :mod:`.pairs`: folder layouts, the image/mask pairs, the validation split;
- :mod:`.images`: images read as ``glnet segment`` reads them (band choice,
  stretch to 8 bits, validity, pixel size): the one input path of training
  and inference;
- :mod:`.labels`: reference masks decoded to class ids, labels resized to the
  network's outputs;
- :mod:`.label_sources`: a large image's labels, from a mask or from polygons
  burnt window by window, on the image's model grid;
- :mod:`.scenes`: large labelled images cut into training and held-out
  validation areas (``glnet train --images ... --labels ...``);
- :mod:`.sampling`: crops, augmentation, validation tiles, the epoch order;
- :mod:`.dataset`: the samples and the map-style dataset for
  ``torch.utils.data.DataLoader``.

None of them imports torch. The names below are the public interface, each
imported on first use.
"""

from typing import TYPE_CHECKING

from ..lazy_exports import lazy_exports

if TYPE_CHECKING:
    from .dataset import TrainingDataset, load_pair, read_labels
    from .images import Box, ImageReading, pair_size, pixel_size_m, raster_size, read_image
    from .label_sources import LabelSource, MaskLabels, PolygonLabelSource
    from .labels import logits_size, read_mask, resize_labels
    from .pairs import IMAGE_EXTENSIONS, LAYOUTS, MASK_EXTENSIONS, PairList, SamplePair, default_class_spec, detect_layout, find_pairs, split_validation
    from .samples import TrainSample, make_sample
    from .sampling import EpochSampler, augment, random_crop_box, validation_tiles, window_around
    from .scenes import AreaSplit, LabelSpec, background_class, labelled_areas

# The names by module, imported on first use: the training steps import
# .samples and .labels without the raster readers (rasterio, GDAL) that
# .images, .dataset and .scenes need.
_LAZY = {
    "TrainingDataset": "dataset",
    "TrainSample": "samples",
    "load_pair": "dataset",
    "make_sample": "samples",
    "read_labels": "dataset",
    "Box": "images",
    "ImageReading": "images",
    "pair_size": "images",
    "pixel_size_m": "images",
    "raster_size": "images",
    "read_image": "images",
    "LabelSource": "label_sources",
    "MaskLabels": "label_sources",
    "PolygonLabelSource": "label_sources",
    "logits_size": "labels",
    "read_mask": "labels",
    "resize_labels": "labels",
    "IMAGE_EXTENSIONS": "pairs",
    "LAYOUTS": "pairs",
    "MASK_EXTENSIONS": "pairs",
    "PairList": "pairs",
    "SamplePair": "pairs",
    "default_class_spec": "pairs",
    "detect_layout": "pairs",
    "find_pairs": "pairs",
    "split_validation": "pairs",
    "EpochSampler": "sampling",
    "augment": "sampling",
    "random_crop_box": "sampling",
    "validation_tiles": "sampling",
    "window_around": "sampling",
    "AreaSplit": "scenes",
    "LabelSpec": "scenes",
    "background_class": "scenes",
    "labelled_areas": "scenes",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())


__all__ = [
    "LAYOUTS",
    "IMAGE_EXTENSIONS",
    "MASK_EXTENSIONS",
    "SamplePair",
    "PairList",
    "Box",
    "ImageReading",
    "TrainSample",
    "find_pairs",
    "detect_layout",
    "default_class_spec",
    "split_validation",
    "raster_size",
    "pair_size",
    "pixel_size_m",
    "read_image",
    "read_mask",
    "load_pair",
    "read_labels",
    "LabelSource",
    "MaskLabels",
    "PolygonLabelSource",
    "LabelSpec",
    "AreaSplit",
    "background_class",
    "labelled_areas",
    "window_around",
    "logits_size",
    "resize_labels",
    "augment",
    "random_crop_box",
    "validation_tiles",
    "make_sample",
    "TrainingDataset",
    "EpochSampler",
]
