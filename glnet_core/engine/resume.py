"""Resuming a killed run: the state file next to the outputs, the fingerprint it must match, and checkpoints.

While :func:`glnet_core.engine.segment.segment` runs, a small JSON file,
``.MASK.glnet-resume.json`` next to the mask, records the run's fingerprint
(input file and a sample of its content, bundle, options that change the
result, outputs) and how many windows, counted in the run's fixed window
order, are finished and durable in the part files. It is written at the
start and at each :class:`Checkpoints` checkpoint, every
:data:`CHECKPOINT_SECONDS` of work: the part files are flushed and synced
first, then the state is replaced atomically. Its size does not depend on
the number of windows, and windows that held nothing to write cost no write
at all. A kill loses at most the work since the last checkpoint.

A cancelled or failed run removes the file with its part files; a killed
process leaves both, and ``resume=True`` continues after the recorded
windows if, and only if, the fingerprint is the same. A state that cannot
be used (damaged, of another command or version) is refused with one line
and left in place with the part files, for inspection.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any, Dict, Optional, Sequence, Union

from ..errors import InputError
from ..formats.class_mask_writer import MaskWriter
from ..formats.input_paths import local_path_of
from ..formats.outputs import write_json
from ..formats.part_lock import PartLock
from ..formats.raster_input import RasterInput
from .bundle import Bundle
from .options import EngineOptions, InputOptions

PathLike = Union[str, "os.PathLike[str]"]

__all__ = [
    "STATE_FORMAT",
    "STATE_VERSION",
    "CHECKPOINT_SECONDS",
    "state_path",
    "content_sample",
    "fingerprint",
    "ResumeState",
    "Checkpoints",
]

#: What the state file says it is, so that no other JSON file is taken for one.
STATE_FORMAT = "glnet-segment-resume"
#: Version 2: ``done`` is a count of windows in order (version 1 listed them).
STATE_VERSION = 2

#: Seconds of work between checkpoints: the most a kill loses. A checkpoint
#: costs the part files' tile indexes, a sync and a state of about 1 KB.
CHECKPOINT_SECONDS = 10.0

#: How a fingerprint key is named in the "different ..." message, where its
#: own name does not read well.
_KEY_NAMES = {"finish": "minimum mapping unit or polygon output", "input_sample": "input content"}

#: The content sample: byte ranges of the file and pixel blocks of the raster.
_SAMPLE_RANGES = 16
_SAMPLE_BYTES = 4096
_SAMPLE_EDGE_BYTES = 65536
_SAMPLE_GRID = 3
_SAMPLE_PIXELS = 64


def state_path(out_mask: Path) -> Path:
    """The state file of a run writing ``out_mask``: ``.NAME.glnet-resume.json`` beside it."""
    return out_mask.with_name(f".{out_mask.name}.glnet-resume.json")


def content_sample(input_path: PathLike, raster: RasterInput) -> str:
    """A cheap hash of the input's content: a changed file almost surely gives another one.

    The size and modification time of a file can stay the same when its
    content changes (a copy that keeps the time, a file system with coarse
    times); reading all of a large raster would cost as much as the run. So
    this hashes a fixed sample: the first and last 64 KiB of the file (the
    TIFF header and directories), 16 ranges of 4 KiB spread over it, and
    3 x 3 blocks of 64 x 64 pixels of the raster as the model sees them (which
    also covers the files a VRT refers to). About 200 KB read, whatever the
    size.

    Parameters
    ----------
    input_path:
        The input as given (a ``/vsizip/`` path samples its local archive;
        ``/vsicurl/`` paths and URLs get the pixel sample only).
    raster:
        The opened raster.

    Returns
    -------
    str
        A SHA-256 hex digest.

    Raises
    ------
    InputError
        If reading the raster fails (a damaged file).
    """
    h = hashlib.sha256()
    local = local_path_of(input_path)
    try:
        size = os.path.getsize(local) if local is not None and os.path.isfile(local) else 0
    except OSError:
        size = 0
    if size:
        starts = {0, max(0, size - _SAMPLE_EDGE_BYTES)}
        starts.update((size - _SAMPLE_BYTES) * k // (_SAMPLE_RANGES - 1) for k in range(_SAMPLE_RANGES))
        try:
            with open(str(local), "rb") as f:
                for start in sorted(starts):
                    f.seek(max(0, start))
                    h.update(f.read(_SAMPLE_EDGE_BYTES if start in (0, size - _SAMPLE_EDGE_BYTES) else _SAMPLE_BYTES))
        except OSError:
            pass  # the pixel sample below still counts
    n = _SAMPLE_PIXELS
    for gy in range(_SAMPLE_GRID):
        for gx in range(_SAMPLE_GRID):
            row = max(0, (raster.height - n) * gy // (_SAMPLE_GRID - 1))
            col = max(0, (raster.width - n) * gx // (_SAMPLE_GRID - 1))
            image, valid = raster.read(row, col, min(n, raster.height), min(n, raster.width))
            h.update(image.tobytes())
            h.update(valid.tobytes())
    return h.hexdigest()


def fingerprint(input_path: PathLike, raster: RasterInput, bundle: Bundle, engine: EngineOptions, reading: InputOptions,
                confidence: Optional[Path], n_windows: int, finish: Any = None) -> Dict[str, Any]:
    """What a resumed run must share with the interrupted one (JSON values).

    Parameters
    ----------
    input_path, raster:
        The input as given (the local file's absolute path, size and
        modification time, and :func:`content_sample`, are recorded; a
        ``/vsicurl/`` path or URL is recorded as given, with the pixel
        sample) and its opened raster (size, bands used).
    bundle:
        The model (a hash of its manifest).
    engine, reading:
        The options that change the result.
    confidence:
        The confidence output, or None.
    n_windows:
        Number of windows of the run.
    finish:
        The settings of the work done on the complete outputs
        (:class:`glnet_core.engine.segment.FinishStep`), or None.

    Raises
    ------
    InputError
        If the input cannot be read for its content sample.
    """
    local = local_path_of(input_path)
    if local is not None:
        st = os.stat(local)
        where, size, mtime = str(Path(local).resolve()), st.st_size, st.st_mtime_ns
        if local != os.fspath(input_path):  # a member of a local archive
            where = os.fspath(input_path)
    else:
        where, size, mtime = os.fspath(input_path), None, None
    manifest_hash = hashlib.sha256(json.dumps(bundle.manifest, sort_keys=True).encode()).hexdigest()
    return {
        "input": where,
        "input_size": size,
        "input_mtime_ns": mtime,
        "input_sample": content_sample(input_path, raster),
        "raster": [raster.height, raster.width],
        "bundle": manifest_hash,
        "mode": engine.mode,
        "bands": list(raster.bands),
        "window": engine.window,
        "margin": engine.margin,
        "upsample": engine.upsample,
        "match_resolution": reading.match_resolution,
        "input_range": None if reading.input_range is None else list(reading.input_range),
        "confidence": None if confidence is None else str(confidence.resolve()),
        "windows": n_windows,
        "finish": finish,
    }


class ResumeState:
    """The state file of one run.

    Parameters
    ----------
    out_mask:
        The mask the run writes.
    fingerprint:
        :func:`fingerprint` of the run (its ``"windows"`` is the run's window count).

    Attributes
    ----------
    writes:
        How many times this object wrote the file.
    """

    def __init__(self, out_mask: Path, fingerprint: Dict[str, Any]):
        self.path = state_path(out_mask)
        self.out_mask = out_mask
        # Through JSON, so that it compares equal to what a later run reads back.
        self.fingerprint: Dict[str, Any] = json.loads(json.dumps(fingerprint))
        self.n_windows = int(self.fingerprint.get("windows", 0))
        self.writes = 0

    def _damaged(self, why: str) -> InputError:
        return InputError(f"cannot resume: {self.path} is damaged ({why}); it and the part files are kept for "
                          "inspection; run again without --resume to start over")

    def load(self) -> int:
        """How many windows (in the run's order) the interrupted run finished.

        Nothing is removed when the state cannot be used.

        Raises
        ------
        InputError
            No state file; a damaged one (not JSON, not an object, a window
            count that is not an integer from 0 to the run's windows); the
            state of another command or version; or a different fingerprint
            (the message names what differs).
        """
        if not self.path.is_file():
            raise InputError(f"nothing to resume: no interrupted run of this output ({self.path.name} is missing)")
        try:
            state = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise self._damaged(" ".join(str(exc).split()) or exc.__class__.__name__) from None
        if not isinstance(state, dict):
            raise self._damaged(f"a JSON {type(state).__name__}, not an object")
        if state.get("format") != STATE_FORMAT:
            raise InputError(f"cannot resume: {self.path} is not the state of an interrupted glnet segment run; "
                             "it and the part files are kept; run again without --resume to start over")
        if state.get("version") != STATE_VERSION:
            raise InputError(f"cannot resume: {self.path} was written by another version of glnet "
                             f"(state version {state.get('version')!r}, this one reads {STATE_VERSION}); "
                             "run again without --resume to start over")
        for key, value in self.fingerprint.items():
            if state.get(key) != value:
                name = _KEY_NAMES.get(key, key.replace("_", " "))
                raise InputError(f"cannot resume: the interrupted run used a different {name}; "
                                 "run again without --resume to start over")
        done = state.get("done")
        if not isinstance(done, int) or isinstance(done, bool):
            raise self._damaged(f"'done' is {type(done).__name__}, not a window count")
        if not 0 <= done <= self.n_windows:
            raise self._damaged(f"'done' is {done}, the run has {self.n_windows} windows")
        return done

    def save(self, done: int) -> None:
        """Record that the first ``done`` windows are finished (atomically and synced: a kill leaves the old state or the new one).

        Raises
        ------
        OutputWriteError
            If the write fails (``--out-mask: cannot write STATE: ...``); no
            temporary file is left.
        ValueError
            For a count outside ``0 .. windows``.
        """
        if not 0 <= int(done) <= self.n_windows:
            raise ValueError(f"done must be in 0..{self.n_windows}, got {done}")
        data = {"format": STATE_FORMAT, "version": STATE_VERSION, **self.fingerprint, "done": int(done)}
        write_json(self.path, data, overwrite=True, indent=None, option="--out-mask")
        self.writes += 1

    def remove(self) -> None:
        """Delete the state file (missing is fine), and the lock file a run killed while saving it left."""
        with PartLock(self.path):  # the run holds the mask's lock: nobody else writes this state
            self.path.unlink(missing_ok=True)


class Checkpoints:
    """When to make a run's progress durable: every :data:`CHECKPOINT_SECONDS`, at no cost per window.

    Parameters
    ----------
    state:
        The run's state file.
    writers:
        The run's open part writers, flushed (if written since their last
        flush) before the state records their windows.
    done:
        Windows finished before this run (a resumed run).
    interval_s:
        Seconds between checkpoints (default :data:`CHECKPOINT_SECONDS`,
        read when the object is made); 0 checkpoints after every window.

    Attributes
    ----------
    done:
        Windows finished so far, in order.
    count:
        Checkpoints made by this object.
    """

    def __init__(self, state: ResumeState, writers: Sequence[MaskWriter], done: int = 0,
                 interval_s: Optional[float] = None):
        self.state = state
        self.writers = list(writers)
        self.done = int(done)
        self.interval_s = CHECKPOINT_SECONDS if interval_s is None else float(interval_s)
        self.count = 0
        self._last = time.monotonic()

    def window_done(self, index: int) -> None:
        """Window ``index``, the next in order, is finished (written to the writers, not yet durable).

        Raises
        ------
        ValueError
            If ``index`` is not the next window.
        OutputWriteError
            If a checkpoint's flush or state write fails.
        """
        if index != self.done:
            raise ValueError(f"windows finish in order: expected window {self.done}, got {index}")
        self.done += 1
        if time.monotonic() - self._last >= self.interval_s:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Flush and sync the writers, then record the windows finished."""
        for w in self.writers:
            w.flush()
        self.state.save(self.done)
        self.count += 1
        self._last = time.monotonic()
