"""The machine a benchmark ran on: CPU, flags, memory, versions, and its measured fp32 and int8 peaks.

Part of ``benchmarks/bench.py`` (``make bench``). The peaks are measured,
not taken from a data sheet: one large onnxruntime ``MatMul`` in float32 and
one ``MatMulInteger`` (uint8 x int8 -> int32) of the same size, best of a few
runs, with all cores. They are what onnxruntime reaches on a dense, cache-friendly
kernel on this machine, so a network's achieved fraction of them says how much
speed is left in the kernels rather than in glnet's code around them.
"""

from __future__ import annotations

import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

REPO = Path(__file__).resolve().parents[1]

#: CPU flags that decide which onnxruntime kernels run (fp32 vectors, int8 dot products, matrix tiles).
FLAGS_THAT_MATTER = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")


def _cpuinfo() -> Dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty off Linux)."""
    fields: Dict[str, str] = {}
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return fields
    for line in text.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def _ram_gb() -> Optional[float]:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except (OSError, ValueError):
        pass
    return None


def _version(module: str) -> Optional[str]:
    try:
        mod = __import__(module)
    except ImportError:
        return None
    return str(getattr(mod, "__version__", "unknown"))


def git_commit() -> Optional[str]:
    """The checkout's commit, with ``+changes`` when tracked files differ from it (None outside git)."""
    try:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+changes" if dirty else "")


def machine_info() -> Dict[str, Any]:
    """CPU model, cores, the flags that matter, RAM, the date and the versions of what runs.

    Returns
    -------
    dict
        ``cpu``, ``cores`` (usable by this process), ``flags`` (name -> bool for
        :data:`FLAGS_THAT_MATTER`), ``ram_gb``, ``date`` (UTC), ``versions``.
    """
    info = _cpuinfo()
    flags = set(info.get("flags", "").split())
    import rasterio

    versions = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "onnxruntime": _version("onnxruntime"),
        "onnx": _version("onnx"),
        "torch": _version("torch"),
        "rasterio": rasterio.__version__,
        "gdal": rasterio.__gdal_version__,
        "glnet_commit": git_commit(),
    }
    return {
        "cpu": info.get("model name") or platform.processor() or platform.machine(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "flags": {f: f in flags for f in FLAGS_THAT_MATTER},
        "ram_gb": _ram_gb(),
        "os": f"{platform.system()} {platform.release()}",
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "versions": versions,
    }


def _matmul_model(path: Path, n: int, integer: bool) -> None:
    """An ONNX graph with one n x n x n MatMul (float32) or MatMulInteger (uint8 x int8 -> int32)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    if integer:
        weight = numpy_helper.from_array(rng.integers(-127, 128, (n, n), dtype=np.int8), "w")
        node = helper.make_node("MatMulInteger", ["x", "w"], ["y"])
        x_type, y_type = TensorProto.UINT8, TensorProto.INT32
    else:
        weight = numpy_helper.from_array(rng.standard_normal((n, n), dtype=np.float32), "w")
        node = helper.make_node("MatMul", ["x", "w"], ["y"])
        x_type = y_type = TensorProto.FLOAT
    graph = helper.make_graph([node], "peak", [helper.make_tensor_value_info("x", x_type, [n, n])],
                              [helper.make_tensor_value_info("y", y_type, [n, n])], [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def _conv_model(path: Path, channels: int, side: int, integer: bool) -> None:
    """An ONNX graph with one 3 x 3 convolution, ``channels`` to ``channels`` on ``side`` x ``side``:
    float32 ``Conv`` or ``QLinearConv`` (uint8 x int8 -> uint8, what int8 bundles run)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    shape = [1, channels, side, side]
    if integer:
        inits = [numpy_helper.from_array(rng.integers(-127, 128, (channels, channels, 3, 3), dtype=np.int8), "w"),
                 numpy_helper.from_array(np.array(0.02, np.float32), "xs"), numpy_helper.from_array(np.array(128, np.uint8), "xz"),
                 numpy_helper.from_array(np.full(channels, 0.01, np.float32), "ws"),
                 numpy_helper.from_array(np.zeros(channels, np.int8), "wz"),
                 numpy_helper.from_array(np.array(0.5, np.float32), "ys"), numpy_helper.from_array(np.array(128, np.uint8), "yz")]
        node = helper.make_node("QLinearConv", ["x", "xs", "xz", "w", "ws", "wz", "ys", "yz"], ["y"], pads=[1, 1, 1, 1])
        dtype = TensorProto.UINT8
    else:
        inits = [numpy_helper.from_array(rng.standard_normal((channels, channels, 3, 3), dtype=np.float32) * 0.05, "w")]
        node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
        dtype = TensorProto.FLOAT
    graph = helper.make_graph([node], "peak", [helper.make_tensor_value_info("x", dtype, shape)],
                              [helper.make_tensor_value_info("y", dtype, shape)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def _best_rate(sess: Any, x: np.ndarray, ops: float, repeats: int) -> Tuple[float, List[float]]:
    """(operations per second of the fastest of ``repeats`` runs after one warm-up, the runs' seconds)."""
    sess.run(None, {"x": x})
    times: List[float] = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        sess.run(None, {"x": x})
        times.append(time.perf_counter() - t0)
    return ops / min(times), [round(t, 4) for t in times]


def measure_peaks(n: int = 2048, repeats: int = 5, threads: Optional[int] = None) -> Dict[str, Any]:
    """The machine's fp32 and int8 rates in onnxruntime: the better of a matrix product and a convolution.

    A large ``MatMul`` alone under-states what onnxruntime's convolution
    kernels reach on x86 (its blocked NCHWc convolutions ran 1.25 times
    faster on the development machine): a network's fraction of "peak" then
    came out above 100 %. Each precision is measured both ways, a 3 x 3
    convolution of ``n // 8`` channels on ``n // 32`` pixels square beside
    the ``n``-cube product, and the better is the peak.

    Parameters
    ----------
    n:
        Matrix side (``2 n**3`` operations per run); the convolution's size follows it.
    repeats:
        Timed runs after one warm-up; the best is kept (the least disturbed by other work).
    threads:
        onnxruntime intra-op threads (default: all usable cores, as ``glnet segment``).

    Returns
    -------
    dict
        ``fp32_gflops``, ``int8_gops`` (the peaks), the rates of each kind
        (``fp32_matmul_gflops``, ``fp32_conv_gflops``, ``int8_matmul_gops``,
        ``int8_conv_gops``), ``n``, ``repeats`` and the runs' seconds.
    """
    import onnxruntime as ort

    out: Dict[str, Any] = {"n": n, "repeats": repeats}
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0)
    rng = np.random.default_rng(1)
    channels, side = max(16, n // 8), max(8, n // 32)
    with tempfile.TemporaryDirectory(prefix="glnet-bench-peak-") as tmp:
        for prefix, unit, integer in (("fp32", "gflops", False), ("int8", "gops", True)):
            rates = {}
            for kind in ("matmul", "conv"):
                path = Path(tmp) / f"{prefix}-{kind}.onnx"
                shape: Tuple[int, ...]
                if kind == "matmul":
                    _matmul_model(path, n, integer)
                    shape, ops = (n, n), 2.0 * n**3
                else:
                    _conv_model(path, channels, side, integer)
                    shape, ops = (1, channels, side, side), 2.0 * channels * channels * 9 * side * side
                sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
                x = rng.integers(0, 256, shape, dtype=np.uint8) if integer else rng.standard_normal(shape, dtype=np.float32)
                rate, times = _best_rate(sess, x, ops, repeats)
                rates[kind] = round(rate / 1e9, 1)
                out[f"{prefix}_{kind}_{unit}"] = rates[kind]
                out[f"{prefix}_{kind}_s"] = times
            out[f"{prefix}_{unit}"] = max(rates.values())
    return out
