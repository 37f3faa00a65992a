"""``make bench`` (benchmarks/bench.py): its smoke run, its page tables, its operation counts and its memory figures.

The smoke run (``--quick``) really runs ``glnet segment``, eager PyTorch and
the tiled baseline on a small raster; it writes its JSON and page into a
temporary folder, never into the repository.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from glnet.benchmarks import bench_flops, bench_report, bench_runs

REPO = Path(__file__).resolve().parents[1]
PAGE = REPO / "docs" / "performance.md"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_quick_run_writes_json_and_tables(tmp_path):
    page_before = _digest(PAGE)
    results_before = sorted((REPO / "benchmarks" / "results").glob("*")) if (REPO / "benchmarks" / "results").exists() else []
    out, page = tmp_path / "bench.json", tmp_path / "performance.md"
    r = subprocess.run([sys.executable, str(REPO / "benchmarks" / "bench.py"), "--quick", "--cache", str(tmp_path / "cache"),
                        "--json", str(out), "--markdown", str(page)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    report = json.loads(out.read_text())
    assert report["schema"] == "glnet-bench/1"
    m = report["machine"]
    assert m["cores"] >= 1 and m["ram_gb"] > 0 and set(m["flags"]) >= {"avx2", "avx512f", "avx512_vnni", "amx_tile"}
    assert {"python", "numpy", "onnxruntime", "torch", "rasterio", "gdal", "glnet_commit"} <= set(m["versions"])
    assert report["peaks"]["fp32_gflops"] > 0 and report["peaks"]["int8_gops"] > 0
    kinds = [row["kind"] for row in report["runs"]]
    assert kinds.count("glnet") == 3 and "eager" in kinds and "tiled" in kinds
    for row in report["runs"]:
        assert row["wall_s"] > 0 and row["mp_per_s"] > 0 and row["peak_rss_mb"] > 20
    glnet = [row for row in report["runs"] if row["kind"] == "glnet"]
    for row in glnet:
        assert row["model"] == "tiny" and row["raster_mp"] == pytest.approx(0.262, abs=0.01)
        assert row["stages"]["network_s"] > 0 and row["stages"]["total_s"] >= row["stages"]["network_s"]
        assert row["gops"] > 0 and 0 < row["achieved_fraction"] < 1.5
        assert row["patches"] > 0 and row["windows"] == 1
    int8 = next(row for row in glnet if row["precision"] == "int8")
    assert 0.9 <= int8["agreement_with_fp32"] <= 1
    eager = next(row for row in report["runs"] if row["kind"] == "eager")
    assert eager["agreement_with_glnet_fp32"] > 0.9  # same weights and windows; upsampling differs at class edges
    assert set(report["bundles"]) == {"tiny-fp32", "tiny-int8"}
    assert len(out.read_bytes()) < 20_000  # commit-friendly
    text = page.read_text()
    for name in bench_report.TABLES:
        start, end = bench_report.marker(name), bench_report.marker(name, end=True)
        body = text.split(start, 1)[1].split(end, 1)[0]
        assert body.count("\n|") >= 3, name  # header, rule, at least one row
    assert "| tiny | int8 | 0.3 | full |" in text
    assert "## Targets of issue #14" in text and "## How it measures" in text  # the hand-written text is kept
    assert _digest(PAGE) == page_before
    now = sorted((REPO / "benchmarks" / "results").glob("*")) if (REPO / "benchmarks" / "results").exists() else []
    assert now == results_before


def _report() -> dict:
    glnet = {"kind": "glnet", "model": "tiny", "precision": "fp32", "mode": "full", "raster_mp": 1.0, "wall_s": 2.0,
             "mp_per_s": 0.5, "peak_rss_mb": 150.0, "gops": 3.0, "achieved_fraction": 0.2,
             "stages": {k: 0.1 for k in ("network_s", "global_s", "local_s", "aggregation_s", "read_s", "prepare_s", "write_s")}}
    return {"machine": {"date": "2026-12-02 00:00 UTC", "cpu": "CPU X", "cores": 2, "flags": {"avx2": True, "amx_tile": False},
                        "ram_gb": 24.0, "versions": {"python": "3.11", "glnet_commit": "abc"}},
            "peaks": {"fp32_gflops": 100.0, "int8_gops": 400.0, "n": 2048, "repeats": 5}, "load": {"start": 1.0, "end": 2.0},
            "options": {"command": "benchmarks/bench.py"}, "duration_s": 60.0,
            "runs": [glnet, {**glnet, "precision": "int8", "agreement_with_fp32": 0.99},
                     {"kind": "tiled", "model": "tiny", "mode": "full", "raster_mp": 1.0, "wall_s": 1.0, "mp_per_s": 1.0,
                      "peak_rss_mb": 100.0, "agreement_with_glnet_fp32": 0.1}]}


def test_page_tables_replace_only_between_markers(tmp_path):
    page = tmp_path / "p.md"
    names = bench_report.TABLES
    page.write_text("intro\n" + "".join(f"{bench_report.marker(n)}\nold {n}\n{bench_report.marker(n, True)}\ntext after {n}\n"
                                         for n in names))
    bench_report.update_markdown(page, _report())
    text = page.read_text()
    assert text.startswith("intro\n") and all(f"text after {n}\n" in text for n in names)
    assert "old " not in text
    assert "| tiny | int8 | 1.0 | full |" in text and "99.00 %" in text and "CPU X, 2 cores usable" in text
    assert "tiled single-branch" in text
    again = text
    bench_report.update_markdown(page, _report())
    assert page.read_text() == again  # a second run with the same figures changes nothing
    assert not list(tmp_path.glob(".*.part"))


def test_page_without_markers_is_refused_and_left_alone(tmp_path):
    page = tmp_path / "p.md"
    page.write_text(f"only one\n{bench_report.marker('machine')}\n")
    with pytest.raises(ValueError, match="bench:runs|bench:machine"):
        bench_report.update_markdown(page, _report())
    assert page.read_text() == f"only one\n{bench_report.marker('machine')}\n"


def test_operations_of_a_conv_and_a_matmul(tmp_path):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.zeros((8, 3, 3, 3), np.float32), "w")
    b = numpy_helper.from_array(np.zeros((12, 5), np.float32), "b")
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1]),  # (1, 8, 10, 12)
             helper.make_node("MatMul", ["y", "b"], ["z"])]  # (1, 8, 10, 5), K = 12
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, "h", "w"])],
                              [helper.make_tensor_value_info("z", TensorProto.FLOAT, None)], [w, b])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "g.onnx"
    onnx.save(model, str(path))
    got = bench_flops.graph_ops(path, {"x": [1, 3, 10, 12]})
    conv = 2 * (8 * 10 * 12) * (3 * 3 * 3)
    matmul = 2 * (8 * 10 * 5) * 12
    assert got == {"ops": conv + matmul, "counted": 2, "unknown": 0}
    profile = {"windows": 2, "patches": 10, "mode": "full"}
    per = {"global": {"ops": 5}, "local": {"ops": 7}, "aggregation_full": {"ops": 1}, "aggregation_g2l": {"ops": 100}, "l2g": {"ops": 3}}
    assert bench_flops.run_ops(per, profile) == 2 * 5 + 10 * (7 + 1) + 2 * 3
    assert bench_flops.run_ops(per, {**profile, "mode": "g2l"}) == 2 * 5 + 10 * (7 + 100)


def test_peak_rss_is_the_childs_own(tmp_path):
    ballast = np.ones(200 * 2**20 // 8)  # 200 MiB in this process: a forked child must not report it
    log = tmp_path / "log"
    small = bench_runs.measured([sys.executable, "-S", "-c", "pass"], log)
    big = bench_runs.measured([sys.executable, "-c", "import numpy as np; a = np.ones(100 * 2**20 // 8); print(a.sum())"], log)
    assert ballast.sum() > 0
    assert small["peak_rss_mb"] < 60 and small["wall_s"] > 0
    assert 100 < big["peak_rss_mb"] < 200
    with pytest.raises(bench_runs.BenchError, match="exit 3"):
        bench_runs.measured([sys.executable, "-S", "-c", "import sys; sys.exit(3)"], log)
