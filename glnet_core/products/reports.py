"""The reports of ``glnet evaluate``: the readable text and the JSON file.

:func:`format_report` is what the command prints (per-class scores, summary,
confusion matrix); :func:`write_json` writes ``EvaluationResult.to_dict()``
atomically, and :func:`check_json_output` checks its path before any work.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

from ..formats import outputs
from ..formats.outputs import check_file_target

if TYPE_CHECKING:  # evaluate imports nothing from here; the result type only annotates
    from .evaluate import EvaluationResult

__all__ = ["format_report", "check_json_output", "write_json"]

PathLike = Union[str, Path]


def _fmt(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.4f}"


def format_report(result: "EvaluationResult") -> str:
    """The readable report ``glnet evaluate`` prints: per-class scores, summary, confusion matrix."""
    m = result.metrics
    names = result.classes.names
    width = max(12, max(len(s) for s in names))
    lines = [f"{'class':<{width}}  {'IoU':>7}  {'precision':>9}  {'recall':>7}  {'F1':>7}  {'ref px':>12}  {'pred px':>12}"]
    for e in m["per_class"]:
        tag = "  (ignored)" if e["ignored"] else ""
        lines.append(
            f"{e['name']:<{width}}  {_fmt(e['iou']):>7}  {_fmt(e['precision']):>9}  {_fmt(e['recall']):>7}  "
            f"{_fmt(e['f1']):>7}  {e['ref_pixels']:>12}  {e['pred_pixels']:>12}{tag}"
        )
    lines.append("")
    lines.append(f"mIoU              {_fmt(m['miou'])}  (mean over {len(m['miou_classes'])} classes: {', '.join(m['miou_classes']) or 'none'})")
    lines.append(f"overall accuracy  {_fmt(m['overall_accuracy'])}")
    lines.append(f"pixels evaluated  {m['pixels_evaluated']}  (nodata in PRED or REF: {result.nodata_pixels})")
    if result.ref_unknown_pixels:
        lines.append(f"REF pixels with a value or colour not in the class table (counted as nodata): {result.ref_unknown_pixels}")
    lines.append("")
    lines.append("confusion matrix (rows = reference, columns = prediction; class ids as in the table above)")
    cm = result.confusion
    cw = max(8, len(str(int(cm.max()))) + 1 if cm.size else 8)
    lines.append(" " * (width + 2) + "".join(f"{i:>{cw}}" for i in range(len(names))))
    for i, row in enumerate(cm):
        lines.append(f"{str(i) + ' ' + names[i]:<{width + 2}}"[: width + 2] + "".join(f"{int(v):>{cw}}" for v in row))
    return "\n".join(lines)


def check_json_output(path: PathLike) -> Path:
    """Check, before any work, that a JSON report can be written at ``path`` (replacing a file there).

    Raises
    ------
    OutputPathError
        The folder is missing, or ``path`` is a folder or not a regular file
        (:func:`~glnet.glnet_core.formats.outputs.check_file_target`).
    """
    return check_file_target(path, overwrite=True, option="--json")


def write_json(result: "EvaluationResult", path: PathLike) -> Path:
    """Write ``result.to_dict()`` as JSON at ``path``, replacing it atomically.

    Written under its hidden part name and renamed
    (:func:`~glnet.glnet_core.formats.outputs.write_json`), so a reader never
    sees a half-written report.

    Returns
    -------
    Path
        ``path``.

    Raises
    ------
    OutputPathError
        As :func:`check_json_output`.
    OutputWriteError
        If writing fails (a full disk); nothing is left behind.
    """
    return outputs.write_json(path, result.to_dict(), overwrite=True, option="--json")
