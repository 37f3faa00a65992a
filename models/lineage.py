"""A checkpoint's lineage: the files its weights were initialised from, each by name and SHA-256.

``provenance["lineage"]`` is a list of entries, oldest first::

    [{"kind": "backbone", "file": "resnet50-11ad3fa6.pth", "sha256": "..."},
     {"kind": "checkpoint", "file": "deepglobe.ckpt", "sha256": "...", "source": "train"}]

A model started from ``--backbone-weights F`` (``glnet init-model`` or
``glnet train --config``) gets an entry for ``F``; a model trained with
``--init X`` gets ``X``'s own lineage followed by an entry for ``X`` (whose
``source`` is ``X``'s provenance ``source``: ``init-model``, ``train``,
``import-original``). A fine-tuned one (``--classes`` other than ``X``'s)
also names the layers that were re-initialised. ``glnet export`` copies the
provenance, lineage included, into the bundle manifest, so a bundle says
which ImageNet file and which checkpoints it descends from.

Torch-free: plain dicts and :func:`~glnet.glnet_core.engine.bundle_files.sha256_file`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from ..glnet_core.engine.bundle_files import sha256_file

__all__ = ["LINEAGE_KEY", "lineage_entry", "stored_lineage", "checkpoint_lineage", "format_lineage"]

#: The provenance key holding the lineage.
LINEAGE_KEY = "lineage"


def lineage_entry(kind: str, path: Union[str, Path], sha256: Optional[str] = None, **extra: Any) -> Dict[str, Any]:
    """One lineage entry for a file.

    Parameters
    ----------
    kind:
        ``"checkpoint"`` (a glnet checkpoint given to ``--init``) or
        ``"backbone"`` (a ResNet state dict given to ``--backbone-weights``).
    path:
        The file; only its name is recorded (folders differ between machines,
        the checksum identifies the file).
    sha256:
        The file's SHA-256 when already known; otherwise it is computed.
    **extra:
        Further JSON-ready fields (``source``, ``reinitialised``).

    Returns
    -------
    dict
        ``{"kind", "file", "sha256", **extra}``.

    Raises
    ------
    ValueError
        For an unknown ``kind``.
    OSError
        If the file cannot be read for its checksum.
    """
    if kind not in ("checkpoint", "backbone"):
        raise ValueError(f"unknown lineage kind {kind!r}")
    entry: Dict[str, Any] = {"kind": kind, "file": Path(path).name, "sha256": sha256 or sha256_file(path)}
    entry.update(extra)
    return entry


def stored_lineage(provenance: Optional[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    """A copy of the lineage recorded in ``provenance`` (empty when none is).

    Checkpoints written before lineage was recorded have none; an entry that
    is not a dict (a hand-edited provenance) is dropped rather than failing a
    training run over bookkeeping.
    """
    value = (provenance or {}).get(LINEAGE_KEY)
    if not isinstance(value, list):
        return []
    return [dict(entry) for entry in value if isinstance(entry, dict)]


def checkpoint_lineage(path: Union[str, Path], provenance: Optional[Mapping[str, Any]],
                       reinitialised: Sequence[str] = ()) -> List[Dict[str, Any]]:
    """The lineage of a model initialised from the checkpoint ``path``.

    Parameters
    ----------
    path:
        The ``--init`` checkpoint file.
    provenance:
        Its provenance (as loaded).
    reinitialised:
        The layers fine-tuning re-initialised (recorded when not empty).

    Returns
    -------
    list of dict
        The checkpoint's own lineage followed by an entry for it.

    Raises
    ------
    OSError
        If the file cannot be read for its checksum.
    """
    extra: Dict[str, Any] = {"source": (provenance or {}).get("source")}
    if reinitialised:
        extra["reinitialised"] = list(reinitialised)
    return stored_lineage(provenance) + [lineage_entry("checkpoint", path, **extra)]


def format_lineage(lineage: Any) -> List[str]:
    """Readable lines for a lineage, oldest first: ``backbone resnet50-11ad3fa6.pth (sha256 11ad3fa6...)``.

    Parameters
    ----------
    lineage:
        A lineage as stored (anything else gives no lines).

    Returns
    -------
    list of str
    """
    lines = []
    for entry in stored_lineage({LINEAGE_KEY: lineage}):
        details = [str(entry["source"])] if entry.get("source") else []
        details.append(f"sha256 {str(entry.get('sha256', '?'))[:16]}...")
        if entry.get("reinitialised"):
            details.append(f"re-initialised {', '.join(map(str, entry['reinitialised']))}")
        lines.append(f"{entry.get('kind', '?')} {entry.get('file', '?')} ({', '.join(details)})")
    return lines
