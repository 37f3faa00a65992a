"""onnxruntime sessions for a bundle's subgraphs: device choice and provider reporting.

The one place glnet opens onnxruntime sessions. :func:`open_bundle_sessions`
opens the subgraphs of a bundle and checks each one's inputs and outputs
against the manifest (segment, the export verification, ``glnet info
--check-io``); :func:`create_sessions` opens graphs from paths or bytes.
"""

from __future__ import annotations

import ctypes
import os
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from ..errors import BundleError, DeviceError, GlnetError

if TYPE_CHECKING:
    from .bundle import Bundle

__all__ = ["DEVICES", "CHAINS", "import_onnxruntime", "providers_for", "cuda_provider_options", "session_providers",
           "create_sessions", "open_bundle_sessions", "release_free_memory"]

DEVICES = ("auto", "cpu", "cuda")

#: The window chains (:func:`glnet_core.engine.device_chain.make_predictor`): ``auto`` (the device
#: chain on CUDA, the host chain elsewhere), ``host`` (tensors cross to numpy between subgraphs),
#: ``device`` (tensors stay on the sessions' device). Plain Python, for ``--help``.
CHAINS = ("auto", "host", "device")


def import_onnxruntime():
    """The onnxruntime module, or a one-line error saying how to install it."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        raise DeviceError(
            "onnxruntime is not installed: pip install 'glnet[cpu]' (or 'glnet[gpu]' for CUDA; never both)"
        ) from None
    return onnxruntime


def providers_for(device: str) -> List[str]:
    """Execution providers to request for ``device`` (``auto``, ``cpu`` or ``cuda``).

    Raises
    ------
    DeviceError
        ``cuda`` without onnxruntime's CUDA provider, or an unknown device.
    """
    ort = import_onnxruntime()
    if device not in DEVICES:
        raise DeviceError(f"unknown device {device!r}; choose auto, cpu or cuda")
    available = ort.get_available_providers()
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "cuda":
        raise DeviceError(
            "--device cuda: onnxruntime has no CUDA provider here (install onnxruntime-gpu instead of onnxruntime, "
            "with a matching CUDA runtime)"
        )
    return ["CPUExecutionProvider"]


def cuda_provider_options(limit_mb: Optional[int] = None) -> Dict[str, str]:
    """onnxruntime's CUDA provider options for glnet's sessions: a memory arena that grows only as needed.

    ``arena_extend_strategy = kSameAsRequested`` makes the arena grow by what
    a run asks for instead of doubling (``kNextPowerOfTwo``, onnxruntime's
    default), so the GPU memory held stays near the real peak;
    ``gpu_mem_limit`` caps each session's arena (each subgraph's session has
    its own; onnxruntime refuses a run that would pass it).

    Untested on a GPU here: the machines glnet is developed on have none;
    tests check only the options' contents.

    Parameters
    ----------
    limit_mb:
        Arena limit per session in MiB (``glnet segment --gpu-memory``); None: no limit.

    Returns
    -------
    dict
        ``{option: value}``, values as strings (onnxruntime's provider-option form).
    """
    options = {"arena_extend_strategy": "kSameAsRequested"}
    if limit_mb is not None:
        options["gpu_mem_limit"] = str(int(limit_mb) * 1024 * 1024)
    return options


def session_providers(wanted: Sequence[str], gpu_memory_mb: Optional[int] = None) -> List[Union[str, Tuple[str, Dict[str, str]]]]:
    """``providers=`` for ``onnxruntime.InferenceSession``: the CUDA provider with :func:`cuda_provider_options`."""
    return [(p, cuda_provider_options(gpu_memory_mb)) if p == "CUDAExecutionProvider" else p for p in wanted]


def _load_error(name: str, message: str) -> GlnetError:
    return DeviceError(f"onnxruntime cannot load the {name} subgraph: {message}")


def create_sessions(
    sources: Dict[str, object],
    device: str = "auto",
    threads: Optional[int] = None,
    optimise: bool = True,
    load_error: Callable[[str, str], GlnetError] = _load_error,
    gpu_memory_mb: Optional[int] = None,
) -> Tuple[Dict[str, Any], List[str]]:
    """Create one session per graph source (path or bytes).

    Parameters
    ----------
    sources:
        ``{graph name: path or serialized model}``.
    device:
        ``auto``, ``cpu`` or ``cuda`` (:func:`providers_for`).
    threads:
        onnxruntime's intra-op threads; None: all cores.
    optimise:
        Apply onnxruntime's graph optimisations (False when only the graphs'
        signatures are wanted: opening is then much faster).
    load_error:
        ``load_error(name, message)`` is the error raised when onnxruntime
        cannot load a graph.
    gpu_memory_mb:
        CUDA arena limit per session in MiB (:func:`cuda_provider_options`); None: no limit.

    Returns
    -------
    (sessions, providers):
        ``providers`` is what the sessions really got (onnxruntime silently
        falls back to the CPU when CUDA cannot be initialised).

    Raises
    ------
    DeviceError
        If a session cannot be created (or ``load_error``'s error), or
        ``cuda`` was required and a session did not get it.
    """
    ort = import_onnxruntime()
    wanted = providers_for(device)
    opts = ort.SessionOptions()
    level = ort.GraphOptimizationLevel
    opts.graph_optimization_level = level.ORT_ENABLE_ALL if optimise else level.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    # Without the CPU arena, memory a run freed goes back to the allocator
    # instead of staying reserved at its peak: peak RSS drops by a third for
    # the paper model at a few percent of speed.
    opts.enable_cpu_mem_arena = False
    if threads:
        opts.intra_op_num_threads = int(threads)
    sessions: Dict[str, Any] = {}
    used: List[str] = []
    # Largest graphs first, returning the loader's temporary copies to the
    # system after each: loading peaks at about 2.5x a graph's weights, and
    # doing the big ones while little else is resident keeps that peak low.
    for name, src in sorted(sources.items(), key=lambda kv: -_source_size(kv[1])):
        try:
            s = ort.InferenceSession(src, sess_options=opts, providers=session_providers(wanted, gpu_memory_mb))
        except Exception as exc:  # onnxruntime raises its own exception types
            msg = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
            raise load_error(name, msg) from None
        got = s.get_providers()
        if device == "cuda" and "CUDAExecutionProvider" not in got:
            raise DeviceError("--device cuda: onnxruntime could not initialise CUDA (check the CUDA and cuDNN libraries)")
        for p in got:
            if p not in used:
                used.append(p)
        sessions[name] = s
        release_free_memory()
    return {name: sessions[name] for name in sources}, used


def open_bundle_sessions(
    bundle: "Bundle",
    graphs: Optional[Sequence[str]] = None,
    device: str = "auto",
    threads: Optional[int] = None,
    optimise: bool = True,
    gpu_memory_mb: Optional[int] = None,
) -> Tuple[Dict[str, Any], List[str]]:
    """Sessions of a bundle's subgraphs, each checked against the manifest.

    Parameters
    ----------
    bundle:
        A loaded bundle (:func:`glnet_core.engine.bundle.load_bundle`).
    graphs:
        The graphs to open (e.g. a mode's, :data:`glnet_core.engine.modes.MODES`);
        None: every graph the bundle holds.
    device, threads, optimise, gpu_memory_mb:
        As :func:`create_sessions`.

    Returns
    -------
    (sessions, providers):
        As :func:`create_sessions`.

    Raises
    ------
    BundleError
        If onnxruntime cannot load a graph file, or the graphs disagree with
        the manifest or each other (:meth:`Bundle.check_sessions`: classes,
        bands, sizes, feature widths, declared inputs and outputs).
    DeviceError
        onnxruntime missing, or ``cuda`` without a working CUDA.
    """
    names = bundle.graph_names if graphs is None else tuple(graphs)

    def load_error(name: str, message: str) -> GlnetError:
        return BundleError(f"bundle {bundle.path}: onnxruntime cannot open {bundle.graph_file(name)}: {message}")

    sessions, providers = create_sessions({n: bundle.graph_source(n) for n in names}, device, threads, optimise, load_error,
                                          gpu_memory_mb)
    bundle.check_sessions(sessions)
    return sessions, providers


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
            libc = ctypes.CDLL("libc.so.6")
            libc.malloc_trim.argtypes = [ctypes.c_size_t]
            _LIBC = libc
        except (OSError, AttributeError):
            _LIBC = False
    if isinstance(_LIBC, ctypes.CDLL):
        _LIBC.malloc_trim(0)


#: glibc, once loaded; False where it cannot be (not glibc).
_LIBC: Union[ctypes.CDLL, bool, None] = None
