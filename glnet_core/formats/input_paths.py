"""The one check of every input path: a pipe, a device or a socket is refused before it is opened.

Opening a named pipe (FIFO) blocks until something writes to it, a character
device such as ``/dev/zero`` or ``/dev/urandom`` never ends, and a socket
cannot be read as a file: any of them given as an input would hang glnet or
fill its memory. :func:`check_input_path` refuses them at once, with one line
naming the option, and lets everything else through to the reader (which
says itself when a file is missing or not what it should be):

* regular files and folders (a bundle may be a folder, an ESRI grid is one);
* paths that do not exist (the reader's own message names them);
* GDAL virtual paths and URLs (``/vsicurl/...``, ``https://...``), which are
  not local files. An archive path (``/vsizip/ARCHIVE/member``,
  ``zip://ARCHIVE!member``) is checked on the local archive it names.

Every command calls it for each input path it reads: the command line through
the argparse type :func:`glnet_core.cli.input_options.input_path`, library
callers where a file is first opened (:func:`glnet_core.formats.raster_input.open_raster`...).

Plain Python (``os`` and ``stat`` only): the command line's parser uses it.
"""

from __future__ import annotations

import os
import stat
from pathlib import PurePosixPath
from typing import Optional, Union

from ..errors import InputError

__all__ = ["check_input_path", "local_path_of"]

PathLike = Union[str, "os.PathLike[str]"]

# GDAL virtual file systems that read a local archive: the archive is the
# local file to check. Every other /vsi... prefix is not a local file.
_ARCHIVE_PREFIXES = ("/vsizip/", "/vsigzip/", "/vsitar/", "/vsi7z/", "/vsirar/")
# rasterio / fiona URL schemes of local files (``zip://a.zip!b.tif``).
_LOCAL_SCHEMES = ("file://", "zip://", "tar://", "gzip://", "zip+file://", "tar+file://", "gzip+file://")

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def local_path_of(path: PathLike) -> Optional[str]:
    """The local file system path that ``path`` reads, or None for a remote or virtual one.

    Parameters
    ----------
    path:
        A path as a user gives it: a file name, a GDAL ``/vsi...`` path or a URL.

    Returns
    -------
    str or None
        ``path`` itself for a plain path; the archive for ``/vsizip/ARCHIVE/...``
        and ``zip://ARCHIVE!...`` (as far as it can be told: the longest leading
        part that exists); None for ``/vsicurl/``, ``/vsis3/``, ``https://`` and
        other paths that are not on this machine.
    """
    text = os.fspath(path)
    if text.startswith(_ARCHIVE_PREFIXES):
        inner = text[text.index("/", 1) + 1:]
        inner = inner[1:inner.index("}")] if inner.startswith("{") and "}" in inner else inner
        return _existing_prefix(inner)
    if text.startswith("/vsi"):
        return None
    for scheme in _LOCAL_SCHEMES:
        if text.startswith(scheme):
            return text[len(scheme):].split("!", 1)[0] or None
    if "://" in text:
        return None
    return text


def _existing_prefix(path: str) -> Optional[str]:
    """The longest leading part of ``path`` that exists (an archive inside a virtual path)."""
    candidate = PurePosixPath(path)
    for part in (candidate, *candidate.parents):
        text = str(part)
        if text in ("", ".", "/"):
            break
        if os.path.lexists(text):
            return text
    return None


def check_input_path(path: PathLike, what: Optional[str] = None) -> str:
    """``path`` as a string, unless it is a pipe, a device or a socket.

    Parameters
    ----------
    path:
        An input path (a raster, a bundle folder or zip, a checkpoint, zones,
        a reference, a class table, a JSON file).
    what:
        The option or parameter to name at the start of the message
        (``"INPUT"``, ``"--model"``); None: no prefix.

    Returns
    -------
    str
        ``path`` unchanged (as a string).

    Raises
    ------
    InputError
        ``<what>: <path> is a named pipe (FIFO), not a regular file`` (or a
        character device, block device, socket), also through a symbolic link.
    """
    text = os.fspath(path)
    local = local_path_of(text)
    if local is None:
        return text
    try:
        mode = os.stat(local).st_mode  # follows symbolic links: a link to /dev/zero is /dev/zero
    except (OSError, ValueError):
        # Missing, unreadable, a name too long or holding a NUL: the reader's own message says so.
        return text
    for test, kind in _KINDS:
        if test(mode):
            prefix = f"{what}: " if what else ""
            shown = text if local == text else f"{text} ({local})"
            raise InputError(f"{prefix}{shown} is {kind}, not a regular file")
    return text
