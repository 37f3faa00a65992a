"""Output paths: the checks made before any work, the hidden part name, atomic commits.

Every command and writer of glnet goes through this module to

* **check a target before the work starts** (:func:`check_file_target`,
  :func:`check_folder_target`): refuse an existing target without
  ``overwrite``, a folder where a file is wanted (and the reverse), a missing
  or unwritable parent folder and, even with ``overwrite``, a FIFO, device or
  socket (replacing ``/dev/null`` would be a disaster);
* **write under the hidden part name** :func:`part_path` (``.NAME.part`` next
  to ``NAME``) and **rename it onto the target when complete**: the context
  managers :func:`atomic_file`, :func:`atomic_folder` and
  :func:`.output_entries.atomic_entries` (entries of a folder the user
  keeps), which remove the part on failure or cancel; :func:`write_json` and :func:`write_text` for small files; the
  primitives :func:`commit_file`, :func:`commit_folder`, :func:`remove_part`
  for writers with a life of their own (the mask writer, which can resume).

A command's outputs are checked together, against each other and against
its inputs, by :func:`.output_plan.check_outputs`, which calls the checks of
this module for each target.

The part name is deterministic (no process id or random suffix) so that
``glnet segment --resume`` finds the part of an interrupted run and a later run
recognises a stale part by its name; two runs writing one target at the same
time would share it, which is not supported.

Errors: a target that cannot be used raises :class:`OutputPathError` (exit
status 2; or the ``error`` class the caller passes, e.g.
:class:`~glnet.glnet_core.errors.CheckpointError`) before anything is written;
a write, sync or rename the system refuses raises :class:`OutputWriteError`
(exit status 1) once the part is removed. Messages are one line, starting with
``option`` when given (``--out-mask: ...``). Common parameters: ``overwrite``
(an existing target may be replaced), ``option`` (the command-line option
that named the target, or None), ``hint`` (the end of the "already exists"
message), ``error`` (the class raised for an unusable target).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Optional, Sequence, Tuple, Type, Union

from ..errors import GlnetError, OutputPathError, OutputWriteError
from .part_lock import PartLock

__all__ = [
    "PART_SUFFIX",
    "OVERWRITE_HINT",
    "part_path",
    "check_file_target",
    "check_folder_target",
    "commit_file",
    "commit_folder",
    "new_part_folder",
    "remove_part",
    "atomic_file",
    "atomic_folder",
    "write_text",
    "write_json",
    "write_failed",
    "is_write_failure",
]

PathLike = Union[str, "os.PathLike[str]"]

#: The ending of every part name: ``.NAME.part`` holds ``NAME`` until it is complete.
PART_SUFFIX = ".part"

#: What the "already exists" message tells the user to do, unless the caller says otherwise.
OVERWRITE_HINT = "pass --overwrite to replace it"

# errno values that mean the machine (disk, file system, limits) failed the
# write, whichever file the error names.
_MACHINE_ERRNOS = frozenset(
    e for e in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EFBIG, errno.EROFS, errno.EIO) if e is not None
)
# fsync on file systems that cannot sync (some network and virtual ones).
_NO_SYNC_ERRNOS = frozenset(e for e in (errno.EINVAL, getattr(errno, "ENOTSUP", None), errno.EBADF) if e is not None)


# -- names --------------------------------------------------------------------


def _hidden_sibling(target: Path, role: str) -> Path:
    return target.with_name(f".{target.name}.{role}")


def part_path(target: PathLike) -> Path:
    """Where ``target`` (a file or folder) is written until complete: ``.NAME.part`` beside it.

    In the target's folder, so that the final rename stays on one file
    system; hidden, so that listings and globs for the output's extension
    skip it. GDAL names the part's sidecars after it (``.NAME.part.aux.xml``).
    """
    return _hidden_sibling(Path(target), PART_SUFFIX[1:])


def _old_path(target: Path) -> Path:
    """Where :func:`commit_folder` sets a replaced folder aside: ``.NAME.old``."""
    return _hidden_sibling(target, "old")


# -- checks -------------------------------------------------------------------


def _prefix(option: Optional[str]) -> str:
    return f"{option}: " if option else ""


def _check_parent(path: Path, option: Optional[str], error: Type[GlnetError]) -> None:
    parent = path.parent
    if not parent.exists():
        raise error(f"{_prefix(option)}output folder {parent} does not exist")
    if not parent.is_dir():
        raise error(f"{_prefix(option)}{parent} is not a folder; it cannot hold {path.name}")


def _check_writable(path: Path, option: Optional[str], error: Type[GlnetError]) -> None:
    # os.access is true for root whatever the mode; a write that still fails
    # later is an OutputWriteError.
    if not os.access(str(path.parent), os.W_OK | os.X_OK):
        raise error(f"{_prefix(option)}output folder {path.parent} is not writable")


def _check_file_kind(path: Path, overwrite: bool, option: Optional[str], hint: str, error: Type[GlnetError]) -> None:
    if path.is_dir():
        raise error(f"{_prefix(option)}{path} is a folder; give a file name")
    if path.exists():
        if not path.is_file():
            raise error(f"{_prefix(option)}{path} is not a regular file (a device, pipe or socket); give a file name")
        if not overwrite:
            raise error(f"{_prefix(option)}{path} already exists; {hint}")


def _check_folder_kind(path: Path, overwrite: bool, option: Optional[str], hint: str, error: Type[GlnetError]) -> None:
    if path.exists():
        if path.is_file():
            raise error(f"{_prefix(option)}{path} is a file; give a folder")
        if not path.is_dir():
            raise error(f"{_prefix(option)}{path} is not a folder (a device, pipe or socket); give a folder")
        if not overwrite:
            raise error(f"{_prefix(option)}{path} already exists; {hint}")


def check_file_target(
    path: PathLike,
    *,
    overwrite: bool,
    option: Optional[str] = None,
    hint: str = OVERWRITE_HINT,
    error: Type[GlnetError] = OutputPathError,
) -> Path:
    """Check that ``path`` can receive an output file, before any work is done; returns it as a Path.

    Raises
    ------
    OutputPathError
        (or ``error``) with one of these messages: ``output folder P does not
        exist``; ``P is not a folder; it cannot hold NAME``; ``PATH is a
        folder; give a file name``; ``PATH is not a regular file (a device,
        pipe or socket); give a file name`` (even with ``overwrite``);
        ``PATH already exists; pass --overwrite to replace it`` (``hint``);
        ``output folder P is not writable``.
    """
    path = Path(path)
    _check_parent(path, option, error)
    _check_file_kind(path, overwrite, option, hint, error)
    _check_writable(path, option, error)
    return path


def check_folder_target(
    path: PathLike,
    *,
    overwrite: bool,
    option: Optional[str] = None,
    hint: str = OVERWRITE_HINT,
    error: Type[GlnetError] = OutputPathError,
) -> Path:
    """Check that ``path`` can receive an output folder (replaced whole), before any work; returns it as a Path.

    Raises
    ------
    OutputPathError
        (or ``error``) as :func:`check_file_target`, with ``PATH is a file;
        give a folder`` and ``PATH is not a folder (a device, pipe or socket);
        give a folder`` (both even with ``overwrite``) for the wrong kind.
    """
    path = Path(path)
    _check_parent(path, option, error)
    _check_folder_kind(path, overwrite, option, hint, error)
    _check_writable(path, option, error)
    return path


# -- failures -----------------------------------------------------------------


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def write_failed(target: PathLike, exc: BaseException, option: Optional[str] = None) -> OutputWriteError:
    """The :class:`OutputWriteError` ``cannot write TARGET: REASON`` (raise it ``from None``).

    ``target`` is the output (not its part); ``exc`` what the write raised: an
    ``OSError`` gives its ``strerror``, a library's own error its message on
    one line.
    """
    if isinstance(exc, OSError) and exc.strerror:
        reason = exc.strerror
    else:
        reason = _one_line(str(exc)) or exc.__class__.__name__
    return OutputWriteError(f"{_prefix(option)}cannot write {target}: {reason}")


def is_write_failure(exc: BaseException, part: PathLike) -> bool:
    """Whether ``exc``, raised while writing ``part``, is a failure of the write.

    True for an ``OSError`` whose errno means the machine failed (no space,
    quota, file too large, read-only or failing file system, whichever file it
    names) or that names ``part`` or a file inside it. Other errors (reading
    an input, a bug) are not write failures.
    """
    if not isinstance(exc, OSError):
        return False
    if exc.errno in _MACHINE_ERRNOS:
        return True
    part_s = os.fspath(part)
    for name in (exc.filename, exc.filename2):
        if name is None:
            continue
        name_s = os.fsdecode(name) if isinstance(name, (str, bytes, os.PathLike)) else str(name)
        if name_s == part_s or name_s.startswith(part_s + os.sep):
            return True
    return False


# -- removing and committing ----------------------------------------------------


def new_part_folder(target: PathLike, option: Optional[str] = None) -> Path:
    """Create the empty part folder of ``target`` (removing a stale one) and return it.

    Raises
    ------
    OutputWriteError
        If the folder cannot be created (``cannot write TARGET: REASON``).
    """
    part = part_path(target)
    remove_part(part)
    try:
        part.mkdir()
    except OSError as exc:
        raise write_failed(target, exc, option) from None
    return part


def remove_part(*paths: PathLike) -> None:
    """Remove part files (and their sidecars) or part folders, best effort; missing ones are fine.

    Never pass a target: this is for the hidden names of :func:`part_path`.
    """
    for p in paths:
        p = Path(p)
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p, ignore_errors=True)
            else:
                p.unlink()
        except OSError:
            pass  # missing, or best effort: a leftover part is hidden and replaced by the next run


def _fsync_file(path: Path) -> None:
    fd = os.open(str(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _NO_SYNC_ERRNOS:
            raise
    finally:
        os.close(fd)


def _fsync_folder(path: Path) -> None:
    # Makes the rename durable; best effort (some file systems cannot open or sync folders).
    try:
        fd = os.open(str(path), os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit_file(
    part: PathLike,
    target: PathLike,
    *,
    overwrite: bool,
    option: Optional[str] = None,
    companions: Sequence[Tuple[PathLike, PathLike]] = (),
    hint: str = OVERWRITE_HINT,
    error: Type[GlnetError] = OutputPathError,
) -> Path:
    """Sync the complete file ``part`` to disk and rename it onto ``target``; returns ``target``.

    ``overwrite`` is checked again: the target may have appeared while the
    work ran. ``companions`` are ``(part sidecar, target sidecar)`` pairs
    (GDAL's ``.aux.xml``, a Shapefile's ``.dbf``): one that exists replaces
    its target; a target sidecar without one is deleted (it would describe
    the replaced file). Sidecars move first, so whoever sees the new file
    sees its sidecars.

    Raises
    ------
    OutputPathError
        (or ``error``) if ``target`` is of the wrong kind or exists without
        ``overwrite``; the part is kept (the caller removes it).
    OutputWriteError
        If syncing or renaming fails; the part is kept (the caller removes it).
    """
    part, target = Path(part), Path(target)
    _check_file_kind(target, overwrite, option, hint, error)
    try:
        _fsync_file(part)
        for part_c, target_c in companions:
            part_c, target_c = Path(part_c), Path(target_c)
            if part_c.is_file():
                _fsync_file(part_c)
                os.replace(part_c, target_c)
            elif target_c.is_file():
                target_c.unlink()
        os.replace(part, target)
    except OSError as exc:
        raise write_failed(target, exc, option) from None
    _fsync_folder(target.parent)
    return target


def commit_folder(
    part: PathLike,
    target: PathLike,
    *,
    overwrite: bool,
    option: Optional[str] = None,
    hint: str = OVERWRITE_HINT,
    error: Type[GlnetError] = OutputPathError,
) -> Path:
    """Rename the complete folder ``part`` onto ``target``; returns ``target``.

    An existing folder (with ``overwrite``, checked again here) is first
    renamed aside to ``.NAME.old`` and deleted once the new one is in place;
    if the rename of the new folder fails, the old one is put back.

    Raises
    ------
    OutputPathError
        (or ``error``) if ``target`` is not a folder or exists without
        ``overwrite``; the part is kept (the caller removes it).
    OutputWriteError
        If a rename fails; the part is kept, an existing ``target`` is intact.
    """
    part, target = Path(part), Path(target)
    old: Optional[Path] = None
    _check_folder_kind(target, overwrite, option, hint, error)
    if target.exists():
        old = _old_path(target)
        remove_part(old)
    try:
        if old is not None:
            os.replace(target, old)
        try:
            os.replace(part, target)
        except OSError:
            if old is not None:
                os.replace(old, target)
            raise
    except OSError as exc:
        raise write_failed(target, exc, option) from None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    _fsync_folder(target.parent)
    return target


# -- context managers -----------------------------------------------------------


@contextmanager
def atomic_file(
    target: PathLike,
    *,
    overwrite: bool,
    option: Optional[str] = None,
    hint: str = OVERWRITE_HINT,
    error: Type[GlnetError] = OutputPathError,
    in_folder: bool = False,
) -> Iterator[Path]:
    """Write ``target`` under its part name; commit when the block ends normally.

    Checks the target (:func:`check_file_target`), removes a stale part and
    yields :func:`part_path` for the block to write. On normal exit the part
    is renamed onto the target (:func:`commit_file`); on any exception,
    ``KeyboardInterrupt`` and :class:`~glnet.glnet_core.errors.Cancelled`
    included, the part is removed and the exception propagates, except that
    a write failure (:func:`is_write_failure`) becomes an
    :class:`OutputWriteError`.

    Example::

        with atomic_file(out, overwrite=args.overwrite, option="--out") as part:
            torch.save(payload, part)

    With ``in_folder`` the part is a folder and the block writes the file
    inside it under the target's own name (``.NAME.part/NAME``): for GDAL
    drivers, which pick the format by extension and put journals and sidecars
    next to the file; the folder goes with whatever else they left there.

    Yields the part file to write (it does not exist yet). Raises
    :class:`OutputPathError` (or ``error``) for an unusable target before the
    block runs, :class:`OutputWriteError` if writing, syncing or renaming fails.
    """
    target = check_file_target(target, overwrite=overwrite, option=option, hint=hint, error=error)
    # Before the stale part is removed: it may be another run's, still being written.
    with PartLock(target, option):
        if in_folder:
            part = new_part_folder(target, option)
        else:
            part = part_path(target)
            remove_part(part)
        written = part / target.name if in_folder else part
        try:
            yield written
            commit_file(written, target, overwrite=overwrite, option=option, hint=hint, error=error)
        except BaseException as exc:
            remove_part(part)
            if is_write_failure(exc, part):
                raise write_failed(target, exc, option) from None
            raise
        remove_part(part)  # the emptied part folder (in_folder); nothing otherwise


@contextmanager
def atomic_folder(
    target: PathLike,
    *,
    overwrite: bool,
    option: Optional[str] = None,
    hint: str = OVERWRITE_HINT,
    error: Type[GlnetError] = OutputPathError,
) -> Iterator[Path]:
    """Build the folder ``target`` under its part name; commit when the block ends normally.

    Like :func:`atomic_file` for a folder: checks the target
    (:func:`check_folder_target`), creates an empty part folder (removing a
    stale one), yields it, and renames it onto the target on normal exit
    (:func:`commit_folder`) or removes it on any exception. Yields the part
    folder to fill (it exists and is empty). Raises :class:`OutputPathError`
    (or ``error``) for an unusable target before the block runs,
    :class:`OutputWriteError` if creating, writing or renaming fails.
    """
    target = check_folder_target(target, overwrite=overwrite, option=option, hint=hint, error=error)
    with PartLock(target, option):  # before the stale part is removed: it may be another run's
        part = new_part_folder(target, option)
        try:
            yield part
            commit_folder(part, target, overwrite=overwrite, option=option, hint=hint, error=error)
        except BaseException as exc:
            remove_part(part)
            if is_write_failure(exc, part):
                raise write_failed(target, exc, option) from None
            raise


# -- small files ----------------------------------------------------------------


def write_text(
    target: PathLike,
    text: str,
    *,
    overwrite: bool,
    option: Optional[str] = None,
    hint: str = OVERWRITE_HINT,
    error: Type[GlnetError] = OutputPathError,
) -> Path:
    """Write a UTF-8 text file atomically (part name, sync, rename).

    Parameters
    ----------
    target:
        The output file.
    text:
        Its whole content.
    overwrite, option, hint, error:
        As for :func:`check_file_target`.

    Returns
    -------
    Path
        ``target``.

    Raises
    ------
    OutputPathError
        (or ``error``) for a target that cannot be used; nothing is written.
    OutputWriteError
        If the write fails (a full disk, a file-size limit); nothing is left.
    """
    with atomic_file(target, overwrite=overwrite, option=option, hint=hint, error=error) as part:
        try:
            with open(part, "x", encoding="utf-8", newline="") as f:
                f.write(text)
        except OSError as exc:
            raise write_failed(target, exc, option) from None
    return Path(target)


def write_json(
    target: PathLike,
    data: Any,
    *,
    overwrite: bool,
    option: Optional[str] = None,
    indent: Optional[int] = 2,
    hint: str = OVERWRITE_HINT,
    error: Type[GlnetError] = OutputPathError,
) -> Path:
    """Write ``data`` as a JSON file atomically, ending with a newline.

    Parameters
    ----------
    target:
        The output file.
    data:
        Anything ``json.dumps`` takes; NaN and infinities are refused
        (``allow_nan=False``: they are not JSON).
    indent:
        ``json.dumps``'s indent; ``None`` for one line.
    overwrite, option, hint, error:
        As for :func:`check_file_target`.

    Returns
    -------
    Path
        ``target``.

    Raises
    ------
    ValueError
        If ``data`` holds NaN or infinity (a bug in the caller), before anything is written.
    OutputPathError
        (or ``error``) for a target that cannot be used; nothing is written.
    OutputWriteError
        If the write fails; nothing is left.
    """
    text = json.dumps(data, indent=indent, allow_nan=False) + "\n"
    return write_text(target, text, overwrite=overwrite, option=option, hint=hint, error=error)

