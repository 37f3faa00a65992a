"""A model bundle described for people: what ``glnet info`` prints and the QGIS "Model info" algorithm logs.

:func:`format_summary` describes a loaded bundle (model, classes, window
geometry, input, graphs, provenance, verification); :func:`check_graph_io`
opens every graph with onnxruntime and checks its inputs and outputs against
the manifest (``glnet info --check-io``). Importing this module needs neither
torch nor onnxruntime.
"""

from __future__ import annotations

from typing import Any, Dict, List

__all__ = ["format_summary", "check_graph_io"]

# What a precision means where its name alone may mislead (fp16-gpu runs on a CPU too, slowly).
_PRECISION_NOTES = {"fp16-gpu": " (float16 arithmetic inside the graphs, float32 inputs and outputs: for CUDA GPUs)"}


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _numbers(values: List[Any]) -> str:
    return "[" + ", ".join(_number(v) for v in values) + "]"


def _compact(value: Any, nested: bool = False) -> str:
    """``{"miou": 0.43217, "n": [1, 2]}`` -> ``miou 0.43217, n [1, 2]`` (braces when nested)."""
    if isinstance(value, dict):
        text = ", ".join(f"{k} {_compact(v, True)}" for k, v in value.items())
        return "{" + text + "}" if nested else text
    if isinstance(value, list):
        return "[" + ", ".join(_compact(v, True) for v in value) + "]"
    if value is None:
        return "none"
    return _number(value)


def format_summary(bundle: Any, io_checked: bool = False) -> str:
    """A readable, multi-line description of a loaded bundle.

    Parameters
    ----------
    bundle:
        A :class:`~.bundle.Bundle` from :func:`~.bundle.load_bundle` (so its
        checksums are verified).
    io_checked:
        Whether every graph's inputs / outputs were checked against a session.

    Returns
    -------
    str
        Without a trailing newline.
    """
    m: Dict[str, Any] = bundle.manifest
    config = bundle.config
    lines = [
        f"bundle        {bundle.path}{'  (zip)' if bundle.zipped else ''}",
        f"format        {m['format']} version {m['format_version']}",
        f"model         {bundle.name} (configuration {config['name']}, "
        f"{config['backbone']['block']} backbone {'-'.join(str(n) for n in config['backbone']['layers'])})",
        f"modes         {', '.join(bundle.modes)}",
        f"precision     {bundle.precision}{_PRECISION_NOTES.get(bundle.precision, '')}, ONNX opset {bundle.opset}",
        f"sizes         global image {bundle.size_g} px, patch {bundle.size_p} px, "
        f"window {bundle.window} px, min overlap {bundle.min_overlap} px",
        f"input         {bundle.bands} bands ({', '.join(bundle.band_names)})",
        f"normalisation (value * {_number(bundle.normalisation.scale)} - mean) / std, "
        f"mean {_numbers(list(bundle.normalisation.mean))}, std {_numbers(list(bundle.normalisation.std))}",
        "resolution    "
        + (f"{_number(bundle.resolution_m)} m/pixel" if bundle.resolution_m is not None else "not set"),
        f"classes       {bundle.classes.name}, {len(bundle.classes)} classes",
    ]
    width = max(len(c.name) for c in bundle.classes.classes)
    label_width = max(len(label) for label in bundle.classes.labels)
    for c, label in zip(bundle.classes.classes, bundle.classes.labels):
        r, g, b = c.colour
        notes = []
        if c.ignore:
            notes.append("ignored")
        if c.value is not None and c.value != c.id:
            notes.append(f"mask value {c.value}")
        lines.append(f"  {c.id:>3}  {c.name:<{width}}  {label:<{label_width}}  #{r:02x}{g:02x}{b:02x}  {', '.join(notes)}".rstrip())

    lines.append("graphs")
    check = "checksum OK, inputs/outputs OK" if io_checked else "checksum OK"
    name_width = max(len(n) for n in bundle.graph_names)
    file_width = max(len(bundle.graph_file(n)) for n in bundle.graph_names)
    for name in bundle.graph_names:
        lines.append(
            f"  {name:<{name_width}}  {bundle.graph_file(name):<{file_width}}  {_size(bundle.graph_size(name)):>10}  {check}"
        )

    lines.append("provenance")
    prov: Dict[str, Any] = bundle.provenance
    if not prov:
        lines.append("  (none recorded)")
    for key, value in prov.items():
        if key == "checkpoint" and isinstance(value, dict):
            text = f"{value.get('name', '?')} (sha256 {str(value.get('sha256', '?'))[:16]}...)"
            extra = {k: v for k, v in value.items() if k not in ("name", "sha256")}
            if extra:
                text += " " + _compact(extra)
        elif key == "metrics" and isinstance(value, dict):
            text = _compact(value) or "(none)"
        else:
            text = "not recorded" if value is None else (value if isinstance(value, str) else _compact(value))
        lines.append(f"  {key.replace('_', ' '):<14}{text}")

    quantization = bundle.quantization
    if quantization:
        lines.extend(_quantization_lines(quantization))
    verification = bundle.verification
    if not verification and quantization:
        lines.append("verification  against the source bundle: see quantization")
    elif not verification:
        lines.append("verification  none recorded (the export was not verified against the PyTorch model)")
    else:
        lines.append("verification")
        for precision, figures in verification.items():
            lines.append(
                f"  {precision}: max relative error {figures['max_rel_error']:.3g}, "
                f"argmax agreement {100 * figures['argmax_agreement']:.3f} %, {figures['windows']} window{'s' if figures['windows'] != 1 else ''}"
            )
            for mode, detail in (figures.get("modes") or {}).items():
                lines.append(f"    {mode}: {_compact(detail)}")
            emulated = figures.get("fp16_emulated")
            if isinstance(emulated, dict):
                lines.append(
                    f"    emulated float16 arithmetic: max relative error {emulated['max_rel_error']:.3g}, "
                    f"argmax agreement {100 * emulated['argmax_agreement']:.3f} %"
                )
            extra = {k: v for k, v in figures.items()
                     if k not in ("max_rel_error", "argmax_agreement", "windows", "modes", "fp16_emulated")}
            for key, value in extra.items():
                lines.append(f"    {key.replace('_', ' ')}: {_compact(value)}")
    return "\n".join(lines)


def _quantization_lines(q: Dict[str, Any]) -> List[str]:
    """The ``quantization`` block of an int8 bundle (``glnet quantize``): source, agreement, calibration."""
    src = q.get("source") or {}
    modes = ", ".join(f"{m} {100 * a:.2f} %" for m, a in (q.get("modes") or {}).items())
    names = [str(c.get("name", "?")) for c in q.get("calibration") or []]
    cal = ", ".join(names) + (" (the last one verified, not calibrated)" if len(names) > 1 else "")
    lines = [
        "quantization",
        f"  agreement   {100 * q['agreement']:.2f} % of pixels of the source's class" + (f" ({modes})" if modes else "")
        + f", on {q['windows']} held-out window{'s' if q['windows'] != 1 else ''}"
        + (" (WARNING: under 99 %)" if q["agreement"] < 0.99 else ""),
        f"  source      {src.get('name', '?')} ({src.get('precision', '?')}, manifest sha256 {str(src.get('sha256', '?'))[:16]}...)",
        f"  calibration {q.get('calibration_windows', '?')} window(s) of {cal}",
    ]
    method = q.get("method")
    if isinstance(method, dict):
        lines.append("  method      " + _compact({k: v for k, v in method.items() if k != "graphs"}))
    return lines


def check_graph_io(bundle: Any) -> None:
    """Open each graph of a bundle with onnxruntime (CPU) and compare its inputs and outputs with the manifest.

    Parameters
    ----------
    bundle:
        A :class:`~.bundle.Bundle` from :func:`~.bundle.load_bundle`.

    Raises
    ------
    BundleError
        If onnxruntime cannot open a graph, or its inputs or outputs differ
        from the manifest's.
    DeviceError
        If onnxruntime is not installed.
    """
    from .runtime import open_bundle_sessions  # here, not at import: describing a bundle needs no onnxruntime

    # Only the graphs' signatures are needed: no optimisation passes.
    open_bundle_sessions(bundle, device="cpu", optimise=False)
