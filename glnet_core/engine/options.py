"""Options of a segmentation run: frozen values, each checked where it is made.

Three groups, apart because different callers decide them:

* :class:`EngineOptions`: how the network runs (mode, device, window and
  margin, patch-logit upsampling, batch, threads);
* :class:`InputOptions`: how the raster is read (bands, value range, ground
  resolution matching);
* :class:`OutputOptions`: what is written (mask, confidence) and how
  (overwrite, resume).

A bad value raises :class:`~glnet_core.errors.InputError` (one line, naming
the command-line option) when the value is made, before any file is opened.
Checks that need the bundle (the window's default, the modes it holds) or the
file system (an existing output) are made by
:func:`glnet_core.engine.segment.segment`, before any work.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

from ..cluster.address import parse_cluster
from ..errors import InputError
from ..formats.input_rules import checked_bands, checked_range
from ..formats.output_plan import InputSource, OutputTarget, check_distinct, check_outputs, raster_sidecars
from ..option_rules import BATCH, GPU_MEMORY, MARGIN, THREADS, WINDOW, check_margin
from .modes import DEFAULT_MODE, UPSAMPLING, check_mode
from .runtime import CHAINS, DEVICES

__all__ = ["EngineOptions", "InputOptions", "OutputOptions", "check_margin"]

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class EngineOptions:
    """How the network runs (the command line's options of the same names).

    Attributes
    ----------
    mode:
        Inference mode (:data:`glnet_core.engine.modes.MODE_NAMES`).
    device:
        ``auto``, ``cpu`` or ``cuda`` (:mod:`glnet_core.engine.runtime`).
    window:
        GLNet window side in model-grid pixels; None: the bundle's.
    margin:
        Minimum distance from a written core to its window's edge; None: a
        twentieth of the window (:func:`glnet_core.engine.windows.default_margin`).
    upsample:
        How patch logits reach the patch size: ``bilinear`` or ``nearest``
        (as published).
    batch:
        Patches per local-subgraph run; None: :func:`glnet_core.engine.segment.default_batch`.
    threads:
        onnxruntime threads; None: all cores.
    pipeline:
        Read and prepare the next window, and write the previous one, in
        threads of their own while the network runs
        (:mod:`glnet_core.engine.window_pipeline`); False runs the steps one
        after the other. The outputs hold the same pixels either way.
    chain:
        ``auto``, ``host`` or ``device``: whether feature tensors cross to
        the host between subgraphs or stay on the sessions' device
        (:func:`glnet_core.engine.device_chain.make_predictor`; ``auto``:
        the device chain on CUDA).
    gpu_memory:
        CUDA memory arena limit per onnxruntime session, MiB; None: no
        limit (:func:`glnet_core.engine.runtime.cuda_provider_options`).
    dask:
        Run the windows as tasks of a Dask cluster
        (:func:`glnet_core.cluster.address.parse_cluster`: ``local:N``,
        ``tcp://HOST:PORT`` or a scheduler file); None: in this process.
        The outputs are the same bytes either way.

    Raises
    ------
    InputError
        For an unknown mode, device or upsampling, or a size out of the
        range of its rule in :mod:`glnet_core.option_rules` (the command
        line's ``--window``, ``--margin``, ``--batch``, ``--threads``,
        ``--gpu-memory``), an unknown chain, or a ``dask`` value that
        names no cluster.
    """

    mode: str = DEFAULT_MODE
    device: str = "auto"
    window: Optional[int] = None
    margin: Optional[int] = None
    upsample: str = "bilinear"
    batch: Optional[int] = None
    threads: Optional[int] = None
    pipeline: bool = True
    chain: str = "auto"
    gpu_memory: Optional[int] = None
    dask: Optional[str] = None

    def __post_init__(self) -> None:
        check_mode(self.mode)
        if self.device not in DEVICES:
            raise InputError(f"unknown device {self.device!r}; choose {', '.join(DEVICES[:-1])} or {DEVICES[-1]}")
        if self.upsample not in UPSAMPLING:
            raise InputError(f"unknown upsampling {self.upsample!r}; choose {' or '.join(UPSAMPLING)}")
        if self.chain not in CHAINS:
            raise InputError(f"--chain: unknown chain {self.chain!r}; choose {', '.join(CHAINS)}")
        # The command line's rules (glnet_core.option_rules), so library callers get the same checks.
        for name, rule in (("window", WINDOW), ("margin", MARGIN), ("batch", BATCH), ("threads", THREADS),
                           ("gpu_memory", GPU_MEMORY)):
            object.__setattr__(self, name, rule.check_optional(getattr(self, name)))
        if self.window is not None and self.margin is not None:
            check_margin(self.window, self.margin)
        if self.dask is not None:
            parse_cluster(self.dask)


@dataclass(frozen=True)
class InputOptions:
    """How the raster is read.

    Attributes
    ----------
    bands:
        Raster bands (1-based) for the model's inputs, in the model's order;
        None: the raster's own when their count fits.
    input_range:
        ``(min, max)`` mapped to 0..255 for 16-bit and float rasters; None:
        each band's 2nd and 98th percentiles.
    match_resolution:
        Resample windows to the model's ground resolution when the raster's
        differs (the output keeps the raster's grid).

    Raises
    ------
    InputError
        For band numbers below 1 or an empty or inverted range.
    """

    bands: Optional[Tuple[int, ...]] = None
    input_range: Optional[Tuple[float, float]] = None
    match_resolution: bool = True

    def __post_init__(self) -> None:
        if self.bands is not None:
            object.__setattr__(self, "bands", checked_bands(self.bands, option="--bands"))
        if self.input_range is not None:
            object.__setattr__(self, "input_range", checked_range(self.input_range, option="--input-range"))


@dataclass(frozen=True, init=False)
class OutputOptions:
    """What a run writes, and how.

    Attributes
    ----------
    mask:
        Class-mask GeoTIFF to write.
    confidence:
        Optional GeoTIFF of the top class probability (0-100).
    overwrite:
        Replace existing outputs (each only once the new one is complete).
    resume:
        Continue the interrupted (killed) run of the same outputs.
    side_outputs:
        Further files the caller writes after the run (``--profile``),
        checked with the run's outputs before any work.

    Raises
    ------
    OutputPathError
        If two outputs name the same file (the mask and the confidence
        raster, or one of them and a side output).
    """

    mask: Path
    confidence: Optional[Path] = None
    overwrite: bool = False
    resume: bool = False
    side_outputs: Tuple[OutputTarget, ...] = ()

    def __init__(self, mask: PathLike, confidence: Optional[PathLike] = None, overwrite: bool = False,
                 resume: bool = False, side_outputs: Sequence[OutputTarget] = ()):
        object.__setattr__(self, "mask", Path(mask))
        object.__setattr__(self, "confidence", Path(confidence) if confidence else None)
        object.__setattr__(self, "overwrite", bool(overwrite))
        object.__setattr__(self, "resume", bool(resume))
        object.__setattr__(self, "side_outputs", tuple(side_outputs))
        check_distinct(self.targets)

    @property
    def paths(self) -> Tuple[Path, ...]:
        """The files a run writes, the mask first."""
        return (self.mask,) if self.confidence is None else (self.mask, self.confidence)

    @property
    def targets(self) -> Tuple[OutputTarget, ...]:
        """Every file written: the rasters with their ``.aux.xml`` sidecars, then the side outputs."""
        rasters = [OutputTarget(p, option, sidecars=raster_sidecars(p))
                   for p, option in zip(self.paths, ("--out-mask", "--out-confidence"))]
        return (*rasters, *self.side_outputs)

    def check(self, extra: Sequence[Union[OutputTarget, Tuple[Path, str]]] = (),
              inputs: Sequence[InputSource] = ()) -> None:
        """Check every output before any work (:func:`glnet_core.formats.output_plan.check_outputs`).

        A resumed run checks that the mask's folder exists, that no output
        is an input, that the outputs are distinct and the side outputs as
        any run does; the rasters' targets are checked when their part files
        are reopened.

        Parameters
        ----------
        extra:
            Further outputs of the same run (the pipeline's polygons), as
            :class:`OutputTarget` or ``(path, option)``.
        inputs:
            What the run reads (the raster, the bundle): no output may be one.

        Raises
        ------
        OutputPathError
            An output that is an input, two outputs naming one file, an
            output that exists without ``overwrite``, a missing folder, a
            folder or device where a file is wanted.
        """
        more = [t if isinstance(t, OutputTarget) else OutputTarget(Path(t[0]), t[1]) for t in extra]
        if self.resume and not self.mask.parent.is_dir():
            raise InputError(f"--out-mask: output folder {self.mask.parent} does not exist")
        check_outputs([*self.targets, *more], inputs, overwrite=self.overwrite, check_targets=not self.resume)
        if self.resume:
            # Side outputs have no part to resume: checked now, or they would fail after the commit.
            check_outputs(self.side_outputs, overwrite=self.overwrite)
