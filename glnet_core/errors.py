"""Exception types of glnet: every exception class of the package is defined here.

The command line prints ``glnet: error: <message>`` for any :class:`GlnetError`
and exits with status 1 for a failure of the machine (:class:`MachineError`:
a full disk, a write the operating system refused), 2 for any other (an error
in what the user gave: a bad input, option or output path).
"""

from __future__ import annotations

from typing import Optional

__all__ = [
    "GlnetError",
    "InputError",
    "ClassTableError",
    "CheckpointError",
    "BundleError",
    "ExportError",
    "DeviceError",
    "MissingExtraError",
    "OutputPathError",
    "MachineError",
    "OutputWriteError",
    "ResumableStop",
    "CogLayoutError",
    "error_line",
    "LayoutError",
    "Cancelled",
]


class GlnetError(Exception):
    """An error the user can fix; its message is one line that says what and how."""


class InputError(GlnetError):
    """A bad input file or argument."""


class ClassTableError(GlnetError):
    """A class table that cannot be read or does not fit the data."""


class CheckpointError(GlnetError):
    """A model checkpoint that cannot be loaded or written."""


class BundleError(GlnetError):
    """A model bundle that cannot be used: missing, damaged, or inconsistent. One-line message."""


class ExportError(GlnetError):
    """A checkpoint that cannot be exported to a bundle, or an export that did not verify."""


class DeviceError(GlnetError):
    """onnxruntime is missing or cannot run on the requested device."""


class MissingExtraError(GlnetError):
    """A command needs an optional dependency that is not installed.

    Parameters
    ----------
    message:
        The one-line hint, e.g. ``'train' needs the training extras: pip install 'glnet[train]'``.
    command:
        The command that needs it.
    module:
        The top-level module that is missing (``torch``, ``onnxruntime``, ...).
    """

    def __init__(self, message: str, *, command: str, module: str) -> None:
        super().__init__(message)
        self.command = command
        self.module = module


class OutputPathError(InputError):
    """An output path that cannot be used: it exists, is the wrong kind, or its folder is missing.

    Raised by :mod:`glnet.glnet_core.formats.outputs` before any work is done.
    """


class MachineError(GlnetError):
    """The machine failed, not the input: a full disk, a refused write (``glnet`` exits with status 1)."""


class OutputWriteError(MachineError):
    """Writing, syncing or renaming an output failed with an operating-system error.

    Raised by :mod:`glnet.glnet_core.formats.outputs` (and writers using its
    :func:`~glnet.glnet_core.formats.outputs.write_failed`); the part files
    are removed first, so nothing is left behind.
    """


class LayoutError(ValueError):
    """Raised for sizes that admit no patch or window layout (zero or negative sizes).

    A ``ValueError`` rather than a :class:`GlnetError`: callers check sizes
    first, so reaching it is a programming error.
    """


class Cancelled(GlnetError):
    """The caller cancelled a run; its outputs were removed (nothing was written)."""


class CogLayoutError(InputError):
    """A GeoTIFF that is not laid out as a Cloud Optimized GeoTIFF, or is no TIFF at all
    (:mod:`glnet.glnet_core.formats.cog_layout`)."""


class ResumableStop(MachineError):
    """A run stopped by something outside it (its cluster went away) at a point it can continue from.

    :func:`glnet.glnet_core.engine.segment.segment` keeps the part files and
    the resume state, as after a kill, instead of removing them: the same
    command with ``--resume`` continues.
    """


def error_line(exc: BaseException) -> Optional[str]:
    """The one line ``glnet`` prints for an error the user can act on, or None for any other exception.

    A :class:`GlnetError` is its message; an ``OSError`` its reason and file
    (``No space left on device: /data/x.tif``); a ``MemoryError`` ``out of
    memory``. Shared by the command line (``glnet: error: LINE``) and the
    batch, which reports each failed scene with the same line.
    """
    if isinstance(exc, GlnetError):
        return str(exc)
    if isinstance(exc, OSError):
        if exc.strerror and exc.filename is not None:
            return f"{exc.strerror}: {exc.filename}"
        return str(exc) or exc.__class__.__name__
    if isinstance(exc, MemoryError):
        return "out of memory"
    return None
