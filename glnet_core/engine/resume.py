"""Resuming a killed run: the state file next to the outputs, and the fingerprint it must match.

While :func:`glnet_core.engine.segment.segment` runs, a small JSON file,
``.MASK.glnet-resume.json`` next to the mask, records the run's fingerprint
(input file, bundle, options that change the result, outputs) and the windows
finished so far; each window's blocks are flushed to the part files before
the window is recorded. A cancelled or failed run removes the file with its
part files; a killed process leaves both, and ``resume=True`` continues from
the recorded windows if, and only if, the fingerprint is the same.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..errors import InputError
from ..formats.outputs import write_json
from ..formats.raster_input import RasterInput
from .bundle import Bundle
from .options import EngineOptions, InputOptions

__all__ = ["STATE_VERSION", "state_path", "fingerprint", "ResumeState"]

STATE_VERSION = 1

#: How a fingerprint key is named in the "different ..." message, where its
#: own name does not read well.
_KEY_NAMES = {"finish": "minimum mapping unit or polygon output"}


def state_path(out_mask: Path) -> Path:
    """The state file of a run writing ``out_mask``: ``.NAME.glnet-resume.json`` beside it."""
    return out_mask.with_name(f".{out_mask.name}.glnet-resume.json")


def fingerprint(input_path: Path, raster: RasterInput, bundle: Bundle, engine: EngineOptions, reading: InputOptions,
                confidence: Optional[Path], n_windows: int, finish: Any = None) -> Dict[str, Any]:
    """What a resumed run must share with the interrupted one (JSON values).

    Parameters
    ----------
    input_path, raster:
        The input file (its size and modification time are recorded) and its
        opened raster (size, bands used).
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
    """
    st = input_path.stat()
    manifest_hash = hashlib.sha256(json.dumps(bundle.manifest, sort_keys=True).encode()).hexdigest()
    return {
        "version": STATE_VERSION,
        "input": str(input_path.resolve()),
        "input_size": st.st_size,
        "input_mtime_ns": st.st_mtime_ns,
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
        :func:`fingerprint` of the run.
    """

    def __init__(self, out_mask: Path, fingerprint: Dict[str, Any]):
        self.path = state_path(out_mask)
        # Through JSON, so that it compares equal to what a later run reads back.
        self.fingerprint: Dict[str, Any] = json.loads(json.dumps(fingerprint))

    def load(self) -> List[int]:
        """The windows the interrupted run finished.

        Raises
        ------
        InputError
            No state file, a damaged one, or a different fingerprint (the
            message names what differs).
        """
        if not self.path.is_file():
            raise InputError(f"nothing to resume: no interrupted run of this output ({self.path.name} is missing)")
        try:
            state = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise InputError(f"cannot resume: {self.path} is damaged ({exc})") from None
        if not isinstance(state, dict):
            raise InputError(f"cannot resume: {self.path} is damaged")
        for key, value in self.fingerprint.items():
            if state.get(key) != value:
                name = _KEY_NAMES.get(key, key.replace("_", " "))
                raise InputError(f"cannot resume: the interrupted run used a different {name}; "
                                 "run again without --resume to start over")
        done = state.get("done")
        if not isinstance(done, list) or not all(isinstance(i, int) for i in done):
            raise InputError(f"cannot resume: {self.path} is damaged")
        return done

    def save(self, done: List[int]) -> None:
        """Record ``done`` (atomically: a kill leaves the old state or the new one)."""
        write_json(self.path, dict(self.fingerprint, done=list(done)), overwrite=True, indent=None)

    def remove(self) -> None:
        """Delete the state file (missing is fine)."""
        self.path.unlink(missing_ok=True)
