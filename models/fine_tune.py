"""Fine-tuning with other classes: a checkpoint's model with fresh class-dependent layers for a new class table.

Only the layers whose output channels are the classes depend on the class
count: the three branches' classifiers (``head.classify``) and the two
aggregation convs. :func:`adapt_to_classes` keeps every other weight (the
backbones, the FPNs) and gives those layers the values a new model of the new
class count starts with, so ``glnet train --init deepglobe.ckpt --classes
mytable.json`` trains a model for other classes from what the DeepGlobe model
learnt.
"""

from __future__ import annotations

from typing import List, Tuple

from ..glnet_core.formats.classes import ClassTable
from .checkpoint import _CLASS_HEADS, Checkpoint
from .glnet import GLNet

__all__ = ["CLASS_LAYERS", "adapt_to_classes"]

#: The modules whose output channels are the classes, in model order.
CLASS_LAYERS: Tuple[str, ...] = tuple(key[: -len(".weight")] for key in _CLASS_HEADS)


def _in_layer(key: str, layers: Tuple[str, ...]) -> bool:
    return any(key.startswith(layer + ".") for layer in layers)


def adapt_to_classes(ckpt: Checkpoint, classes: ClassTable) -> Tuple[Checkpoint, List[str]]:
    """``ckpt``'s model for the class table ``classes``, with fresh classifiers and aggregation convs.

    The fresh layers get the values of a newly built ``GLNet(config,
    len(classes))``, drawn from torch's global generator: seed it
    (``torch.manual_seed``) first for repeatable weights.

    Parameters
    ----------
    ckpt:
        The checkpoint to start from (not changed).
    classes:
        The new class table.

    Returns
    -------
    (Checkpoint, list of str)
        With the same classes as ``ckpt`` (equal class entries; the table's
        name does not count): ``ckpt`` itself and an empty list. Otherwise a
        new checkpoint (same configuration, normalisation and resolution;
        eval mode; no training state; provenance copied, with the
        re-initialised layers under ``reinitialised``) and the names of the
        re-initialised layers (:data:`CLASS_LAYERS`, and any other layer
        whose shape changed), every other tensor equal to ``ckpt``'s.
    """
    if classes.classes == ckpt.classes.classes:
        return ckpt, []
    model = GLNet(ckpt.config, len(classes))
    fresh = model.state_dict()
    old = ckpt.model.state_dict()
    keep = {k: v for k, v in old.items()
            if k in fresh and not _in_layer(k, CLASS_LAYERS) and tuple(v.shape) == tuple(fresh[k].shape)}
    model.load_state_dict({**fresh, **keep})
    model.eval()
    # Layer names (module paths) in model order, from the tensors not kept.
    names: List[str] = []
    for key in fresh:
        if key not in keep:
            layer = next((layer for layer in CLASS_LAYERS if key.startswith(layer + ".")), key.rsplit(".", 1)[0])
            if layer not in names:
                names.append(layer)
    provenance = dict(ckpt.provenance)
    provenance["reinitialised"] = list(names)
    adapted = Checkpoint(model=model, classes=classes, normalisation=ckpt.normalisation, resolution_m=ckpt.resolution_m,
                         provenance=provenance, train_state=None)
    return adapted, names
