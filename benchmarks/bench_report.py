"""The tables of ``docs/performance.md``, from the JSON ``benchmarks/bench.py`` writes.

The page is hand-written text with generated tables between marker
comments, ``<!-- bench:NAME:start -->`` and ``<!-- bench:NAME:end -->``;
:func:`update_markdown` replaces only what lies between a pair and leaves
everything else as it was. The tables: ``machine`` (machine, versions,
measured peaks), ``runs`` (every ``glnet segment`` run), ``side-by-side``
(glnet beside eager PyTorch, the tiled single-branch model and the published
implementation, same weights, same rasters, same run).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

#: The generated tables, in page order.
TABLES = ("machine", "runs", "side-by-side")


def marker(name: str, end: bool = False) -> str:
    """The marker comment opening (or closing) generated table ``name``."""
    return f"<!-- bench:{name}:{'end' if end else 'start'} -->"


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _pct(v: Optional[float], digits: int = 2) -> str:
    return "-" if v is None else f"{100 * v:.{digits}f} %"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def machine_table(report: Mapping[str, Any]) -> str:
    """The machine, versions, date, load and measured peaks as a two-column table."""
    m, peaks, v = report["machine"], report["peaks"], report["machine"]["versions"]
    flags = ", ".join(f for f, on in m["flags"].items() if on) or "none of " + ", ".join(m["flags"])
    load = report.get("load", {})
    rows = [
        ["date", m["date"]],
        ["CPU", f"{m['cpu']}, {m['cores']} cores usable"],
        ["flags that matter", flags],
        ["RAM", f"{m['ram_gb']} GB"],
        ["load average (1 min) at start / end", f"{_fmt(load.get('start'))} / {_fmt(load.get('end'))}"],
        ["fp32 peak (onnxruntime MatMul or 3x3 Conv)", f"{peaks['fp32_gflops']} GFLOP/s (n = {peaks['n']}, best of {peaks['repeats']}, start and end)"],
        ["int8 peak (MatMulInteger or QLinearConv)", f"{peaks['int8_gops']} GOP/s"],
        ["peaks at start / end (fp32 GFLOP/s, int8 GOP/s)",
         f"{_fmt(peaks.get('start', {}).get('fp32_gflops'))}, {_fmt(peaks.get('start', {}).get('int8_gops'))} / "
         f"{_fmt(peaks.get('end', {}).get('fp32_gflops'))}, {_fmt(peaks.get('end', {}).get('int8_gops'))}"],
        ["versions", ", ".join(f"{k} {val}" for k, val in v.items() if k != "glnet_commit")],
        ["glnet commit", str(v.get("glnet_commit"))],
        ["command", report["options"]["command"].strip() + (" (the defaults: `make bench`)"
                                                            if report["options"]["command"].strip() == "benchmarks/bench.py" else "")],
        ["duration of the whole run", f"{report['duration_s'] / 60:.1f} min"],
    ]
    return _table(["", ""], rows)


def runs_table(report: Mapping[str, Any]) -> str:
    """Every ``glnet segment`` run: speed, memory, stages, achieved fraction, agreement with fp32."""
    rows = []
    for r in report["runs"]:
        if r["kind"] != "glnet":
            continue
        s = r["stages"]
        rows.append([r["model"], r["precision"], _fmt(r["raster_mp"], 1), r["mode"], _fmt(r["wall_s"], 1), _fmt(r["mp_per_s"], 3),
                     _fmt(r["peak_rss_mb"], 0), _fmt(s["network_s"], 1), f"{_fmt(s['global_s'], 1)} / {_fmt(s['local_s'], 1)} / "
                     f"{_fmt(s['aggregation_s'], 1)}", f"{_fmt(s['read_s'], 1)} / {_fmt(s['prepare_s'], 1)} / {_fmt(s['write_s'], 1)}",
                     _fmt(r["gops"], 1), _pct(r["achieved_fraction"], 1), _pct(r.get("agreement_with_fp32"))])
    return _table(["model", "precision", "MP", "mode", "wall s", "MP/s", "peak RSS MiB", "network s", "global / local / aggr. s",
                   "read / prepare / write s", "network GOP", "of peak", "classes = fp32"], rows)


def side_by_side_table(report: Mapping[str, Any]) -> str:
    """glnet beside the other implementations on the same rasters: wall, MP/s, RSS, speed ratio, agreement."""
    runs: List[Dict[str, Any]] = list(report["runs"])
    rows = []
    order = {"tiny": 0, "lite": 1, "paper": 2}
    keys = sorted({(r["model"], r["raster_mp"], r.get("mode")) for r in runs if r["kind"] != "glnet"},
                  key=lambda k: (order.get(k[0], 9), k[1], str(k[2])))
    for model, mp, mode in keys:
        same = [r for r in runs if r["model"] == model and r["raster_mp"] == mp and (r.get("mode") in (mode, None))]
        ref = next((r for r in same if r["kind"] == "glnet" and r["precision"] == "fp32" and r.get("mode") == mode and
                    not r.get("extra")), None)
        if ref is None:
            continue
        for r in same:
            if r["kind"] == "glnet" and (r.get("mode") != mode or r["precision"] not in ("fp32", "int8")):
                continue
            if r["kind"] == "tiled" and mode not in ("full", None):
                continue
            label = {"glnet": f"glnet segment, {r.get('precision')}" + (f" ({r['extra']})" if r.get("extra") else ""),
                     "eager": "eager PyTorch GLNet (fp32)", "tiled": "tiled single-branch (onnxruntime fp32)",
                     "published": "published implementation (PyTorch fp32)"}[r["kind"]]
            rows.append([model, _fmt(mp, 1), _fmt(mode), label, _fmt(r["wall_s"], 1), _fmt(r["mp_per_s"], 3), _fmt(r["peak_rss_mb"], 0),
                         f"{r['wall_s'] / ref['wall_s']:.2f}", _pct(r.get("agreement_with_glnet_fp32", r.get("agreement_with_fp32")))])
    return _table(["model", "MP", "mode", "implementation", "wall s", "MP/s", "peak RSS MiB", "time / glnet fp32",
                   "classes = glnet fp32"], rows)


RENDERERS: Dict[str, Callable[[Mapping[str, Any]], str]] = {
    "machine": machine_table, "runs": runs_table, "side-by-side": side_by_side_table,
}


def skeleton() -> str:
    """A page with every table's markers, for a markdown file that does not exist yet."""
    parts = ["# Performance\n"]
    for name in TABLES:
        parts.append(f"## {name}\n\n{marker(name)}\n{marker(name, end=True)}\n")
    return "\n".join(parts)


def update_markdown(path: Path, report: Mapping[str, Any], template: Optional[Path] = None) -> None:
    """Replace the generated tables of ``path`` (only between the markers).

    Parameters
    ----------
    path:
        The markdown file; when missing it starts as a copy of ``template`` (or :func:`skeleton`).
    report:
        The benchmark's JSON object.
    template:
        The page to start from when ``path`` does not exist.

    Raises
    ------
    ValueError
        If a table's markers are missing or out of order in the page.
    """
    if path.exists():
        text = path.read_text(encoding="utf-8")
    elif template is not None and template.exists():
        text = template.read_text(encoding="utf-8")
    else:
        text = skeleton()
    for name in TABLES:
        start, end = marker(name), marker(name, end=True)
        pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
        if not pattern.search(text):
            raise ValueError(f"{path}: no {start} ... {end} pair")
        replacement = f"{start}\n{RENDERERS[name](report)}\n{end}"
        text = pattern.sub(lambda _m: replacement, text, count=1)  # noqa: B023 (used at once, inside the loop)
    part = path.with_name(f".{path.name}.part")
    part.write_text(text, encoding="utf-8")
    part.replace(path)
