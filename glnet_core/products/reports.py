"""The reports of ``glnet evaluate``: the readable text and the JSON file.

:func:`format_report` is what the command prints (per-class scores, summary,
confusion matrix); :func:`write_json` writes ``EvaluationResult.to_dict()``
atomically, and :func:`check_json_output` checks its path before any work
(never PRED, REF or the class table: :func:`evaluation_sources`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, List, Optional, Sequence, Union

from ..formats import outputs
from ..formats.output_plan import InputSource, OutputTarget, check_outputs, spec_sources

if TYPE_CHECKING:  # evaluate imports nothing from here; the result type only annotates
    from .evaluate import EvaluationResult

__all__ = ["format_report", "evaluation_sources", "check_json_output", "write_json"]

PathLike = Union[str, Path]


def _fmt(v: Optional[float]) -> str:
    return "-" if v is None else f"{v:.4f}"


def format_report(result: "EvaluationResult") -> str:
    """The readable report ``glnet evaluate`` prints: per-class scores, summary, confusion matrix.

    Classes appear with their display labels (``Urban land``), as legends
    show them; the JSON report (:func:`write_json`) keeps the names
    (identifiers such as ``urban_land``, what ``--ignore`` takes).
    """
    m = result.metrics
    labels = result.classes.labels
    label_of = dict(zip(result.classes.names, labels))
    width = max(12, max(len(s) for s in labels))
    lines = [f"{'class':<{width}}  {'IoU':>7}  {'precision':>9}  {'recall':>7}  {'F1':>7}  {'ref px':>12}  {'pred px':>12}"]
    for label, e in zip(labels, m["per_class"]):  # per_class is in id order
        tag = "  (ignored)" if e["ignored"] else ""
        lines.append(
            f"{label:<{width}}  {_fmt(e['iou']):>7}  {_fmt(e['precision']):>9}  {_fmt(e['recall']):>7}  "
            f"{_fmt(e['f1']):>7}  {e['ref_pixels']:>12}  {e['pred_pixels']:>12}{tag}"
        )
    lines.append("")
    averaged = ", ".join(label_of.get(n, n) for n in m["miou_classes"]) or "none"
    lines.append(f"mIoU              {_fmt(m['miou'])}  (mean over {len(m['miou_classes'])} classes: {averaged})")
    lines.append(f"overall accuracy  {_fmt(m['overall_accuracy'])}")
    lines.append(f"pixels evaluated  {m['pixels_evaluated']}  (nodata in PRED or REF: {result.nodata_pixels})")
    if result.ref_unknown_pixels:
        lines.append(f"REF pixels with a value or colour not in the class table (counted as nodata): {result.ref_unknown_pixels}")
    lines.append("")
    lines.append("confusion matrix (rows = reference, columns = prediction; class ids as in the table above)")
    cm = result.confusion
    cw = max(8, len(str(int(cm.max()))) + 1 if cm.size else 8)
    lines.append(" " * (width + 2) + "".join(f"{i:>{cw}}" for i in range(len(labels))))
    for i, row in enumerate(cm):
        lines.append(f"{str(i) + ' ' + labels[i]:<{width + 2}}"[: width + 2] + "".join(f"{int(v):>{cw}}" for v in row))
    return "\n".join(lines)


def evaluation_sources(pred: PathLike, ref: PathLike, classes: Optional[str] = None) -> List[InputSource]:
    """What ``glnet evaluate`` reads: PRED, REF (with their sidecars) and a class-table file, as output-check inputs."""
    return [InputSource(Path(pred), "the prediction PRED"), InputSource(Path(ref), "the reference REF"),
            *spec_sources(classes, "the class table (--classes)")]


def check_json_output(path: PathLike, *, overwrite: bool = True, inputs: Sequence[InputSource] = ()) -> Path:
    """Check, before any work, that a JSON report can be written at ``path``.

    Parameters
    ----------
    path:
        The report file.
    overwrite:
        An existing file may be replaced (the command line's ``--overwrite``;
        the QGIS plugin asks the user itself).
    inputs:
        What the evaluation reads (:func:`evaluation_sources`): the report
        may be none of them.

    Raises
    ------
    OutputPathError
        The report would be an input, the folder is missing, ``path`` is a
        folder or not a regular file, or exists without ``overwrite``
        (:func:`~glnet.glnet_core.formats.output_plan.check_outputs`).
    """
    check_outputs([OutputTarget(Path(path), "--json")], inputs, overwrite=overwrite)
    return Path(path)


def write_json(result: "EvaluationResult", path: PathLike, *, overwrite: bool = True) -> Path:
    """Write ``result.to_dict()`` as JSON at ``path``, atomically.

    Checked again (:func:`check_json_output`) against the files the result
    was computed from, so that a report never replaces PRED or REF; written
    under its hidden part name and renamed
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
    check_json_output(path, overwrite=overwrite, inputs=evaluation_sources(result.pred_path, result.ref_path))
    return outputs.write_json(path, result.to_dict(), overwrite=overwrite, option="--json")
