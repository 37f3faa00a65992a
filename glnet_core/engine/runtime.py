"""onnxruntime sessions for a bundle's subgraphs: device choice and provider reporting."""

from __future__ import annotations

import ctypes
import os
from typing import Dict, List, Optional, Tuple

from ..errors import GlnetError

__all__ = ["RuntimeError_", "DEVICES", "import_onnxruntime", "providers_for", "create_sessions", "release_free_memory"]

DEVICES = ("auto", "cpu", "cuda")


class RuntimeError_(GlnetError):
    """onnxruntime is missing or cannot run on the requested device."""


def import_onnxruntime():
    """The onnxruntime module, or a one-line error saying how to install it."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise RuntimeError_(
            "onnxruntime is not installed: pip install 'glnet[cpu]' (or 'glnet[gpu]' for CUDA; never both)"
        ) from None
    return onnxruntime


def providers_for(device: str) -> List[str]:
    """Execution providers to request for ``device`` (``auto``, ``cpu`` or ``cuda``).

    Raises
    ------
    RuntimeError_
        ``cuda`` without onnxruntime's CUDA provider, or an unknown device.
    """
    ort = import_onnxruntime()
    if device not in DEVICES:
        raise RuntimeError_(f"unknown device {device!r}; choose auto, cpu or cuda")
    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "cuda":
        raise RuntimeError_(
            "--device cuda: onnxruntime has no CUDA provider here (install onnxruntime-gpu instead of onnxruntime, "
            "with a matching CUDA runtime)"
        )
    return ["CPUExecutionProvider"]


def create_sessions(
    sources: Dict[str, object], device: str = "auto", threads: Optional[int] = None
) -> Tuple[Dict[str, object], List[str]]:
    """Create one session per graph source (path or bytes).

    Returns
    -------
    (sessions, providers):
        ``providers`` is what the sessions really got (onnxruntime silently
        falls back to the CPU when CUDA cannot be initialised).

    Raises
    ------
    RuntimeError_
        If a session cannot be created, or ``cuda`` was required and a
        session did not get it.
    """
    ort = import_onnxruntime()
    wanted = providers_for(device)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    # Without the CPU arena, memory a run freed goes back to the allocator
    # instead of staying reserved at its peak: peak RSS drops by a third for
    # the paper model at a few percent of speed.
    opts.enable_cpu_mem_arena = False
    if threads:
        opts.intra_op_num_threads = int(threads)
    sessions: Dict[str, object] = {}
    used: List[str] = []
    # Largest graphs first, returning the loader's temporary copies to the
    # system after each: loading peaks at about 2.5x a graph's weights, and
    # doing the big ones while little else is resident keeps that peak low.
    for name, src in sorted(sources.items(), key=lambda kv: -_source_size(kv[1])):
        try:
            s = ort.InferenceSession(src, sess_options=opts, providers=wanted)
        except Exception as exc:  # onnxruntime raises its own exception types
            msg = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
            raise RuntimeError_(f"onnxruntime cannot load the {name} subgraph: {msg}") from None
        got = s.get_providers()
        if device == "cuda" and "CUDAExecutionProvider" not in got:
            raise RuntimeError_("--device cuda: onnxruntime could not initialise CUDA (check the CUDA and cuDNN libraries)")
        for p in got:
            if p not in used:
                used.append(p)
        sessions[name] = s
        release_free_memory()
    return {name: sessions[name] for name in sources}, used


def _source_size(src: object) -> int:
    if isinstance(src, (bytes, bytearray)):
        return len(src)
    try:
        return os.path.getsize(str(src))
    except OSError:
        return 0


def release_free_memory() -> None:
    """Return freed heap memory to the operating system (glibc only; a no-op elsewhere).

    glibc keeps freed blocks in its arenas, so resident memory stays at its
    highest point long after large temporary buffers are gone.
    """
    global _LIBC
    if _LIBC is None:
        try:
            _LIBC = ctypes.CDLL("libc.so.6")
            _LIBC.malloc_trim.argtypes = [ctypes.c_size_t]
        except (OSError, AttributeError):
            _LIBC = False
    if _LIBC:
        _LIBC.malloc_trim(0)


_LIBC = None
