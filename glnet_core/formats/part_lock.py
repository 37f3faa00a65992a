"""One writer per output at a time: an exclusive lock held while a run writes an output's part files.

Part names are deterministic (``.NAME.part``, :mod:`.outputs`), so that a
resumed run finds the files of the interrupted one; two runs writing the
same output at once would share them and destroy each other's work (seen:
both failed and no mask remained). :class:`PartLock` is an advisory,
exclusive lock on a hidden file beside the output, ``.NAME.lock``, taken
before any part file is touched (a stale part may be another run's, still
being written) and held for the whole run; a second run refuses at once with
one line. Every part writer takes it: :func:`.outputs.atomic_file`,
:func:`.outputs.atomic_folder`, :func:`.output_entries.atomic_entries`, the
mask writer and the vector layer writer; ``segment()`` takes the locks of all
its outputs up front. A thread that locks an output it already holds gets a
nested lock (the outer one counts); another thread is refused like another
process.

The lock is the operating system's (``fcntl.flock``; ``msvcrt.locking`` on
Windows), not the file's existence: a process that is killed loses it, so
``--resume`` after a kill works, and a lock file left by a killed run is
taken over by the next one. A run that ends (commit, failure, cancel)
removes the file while it still holds the lock.
"""

from __future__ import annotations

import errno
import os
import threading
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple, Union

from ..errors import OutputPathError, OutputWriteError

__all__ = ["LOCK_SUFFIX", "lock_path", "PartLock", "PartLocks"]

PathLike = Union[str, "os.PathLike[str]"]

#: The ending of a lock file: ``.NAME.lock`` guards the part files of ``NAME``.
LOCK_SUFFIX = ".lock"

# Locks this process holds: (lock file, thread) -> how many PartLocks share it.
_HELD: Dict[Tuple[str, int], int] = {}
_HELD_GUARD = threading.Lock()

# File systems that cannot lock at all (some network ones): the run goes on
# unlocked, as it did before there were locks, rather than not at all.
_CANNOT_LOCK = frozenset(e for e in (errno.ENOLCK, getattr(errno, "EOPNOTSUPP", None), errno.ENOSYS, errno.EINVAL)
                         if e is not None)

try:  # POSIX
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        except OSError as exc:
            if exc.errno in _CANNOT_LOCK:
                return True
            raise
        return True

except ImportError:  # pragma: no cover - Windows (QGIS)
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            return False
        return True


def lock_path(target: PathLike) -> Path:
    """The lock file of ``target``: ``.NAME.lock`` beside it (hidden, on the same file system)."""
    target = Path(target)
    return target.with_name(f".{target.name}{LOCK_SUFFIX}")


def _holder(path: Path) -> str:
    """' (process N)' from the lock file, where the holder wrote its process id."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (process {text})" if text.isdigit() else ""


class PartLock:
    """The exclusive lock of one output, taken at creation (not blocking).

    Parameters
    ----------
    target:
        The output whose part files the run writes.
    option:
        The option that named it (``"--out-mask"``), for the message.

    Raises
    ------
    OutputPathError
        Another run holds the lock: ``OPTION: another glnet run is writing
        TARGET (process N); wait for it to end or choose another output``.
        Nothing of the other run is touched.
    OutputWriteError
        The lock file cannot be created or locked (a full disk, a read-only
        folder); a file system that cannot lock at all is run on unlocked.
    """

    def __init__(self, target: PathLike, option: Optional[str] = None) -> None:
        self.target = Path(target)
        self.path = lock_path(self.target)
        self._fd: Optional[int] = None
        self._nested = False
        # The same thread may lock an output again (segment() locks the
        # polygons, whose atomic write locks them too): the inner lock is the
        # outer one. Another thread, as another process, is refused.
        self._key = (os.path.abspath(os.fspath(self.path)), threading.get_ident())
        with _HELD_GUARD:
            if self._key in _HELD:
                _HELD[self._key] += 1
                self._nested = True
                return
        self._take(option)
        with _HELD_GUARD:
            _HELD[self._key] = 1

    def _take(self, option: Optional[str]) -> None:
        prefix = f"{option}: " if option else ""
        # A run that ends removes the file while holding it; a run that opened
        # the file just before that would hold a lock on a removed file. So the
        # lock counts only if the path still names the file locked: else again.
        for _ in range(20):
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise OutputWriteError(f"{prefix}cannot write {self.target}: cannot create its lock file "
                                       f"{self.path.name}: {exc.strerror or exc}") from None
            try:
                got = _try_lock(fd)
            except OSError as exc:
                os.close(fd)
                raise OutputWriteError(f"{prefix}cannot write {self.target}: cannot lock {self.path.name}: "
                                       f"{exc.strerror or exc}") from None
            if not got:
                os.close(fd)
                raise OutputPathError(f"{prefix}another glnet run is writing {self.target}{_holder(self.path)}; "
                                      "wait for it to end or choose another output")
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except OSError:
                same = False
            if same:
                self._fd = fd
                break
            os.close(fd)
        else:  # pragma: no cover - twenty runs ending in a row while this one starts
            raise OutputPathError(f"{prefix}another glnet run is writing {self.target}; "
                                  "wait for it to end or choose another output")
        try:  # who holds it, for the other run's message (best effort)
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode("ascii"))
        except OSError:
            pass

    @property
    def held(self) -> bool:
        """Whether this object still holds the lock."""
        return self._fd is not None or self._nested

    def release(self) -> None:
        """Remove the lock file and release the lock (a second call does nothing).

        A nested lock (the same output locked again by the same thread) only
        gives its turn back; the outermost one removes the file.
        """
        if self._nested:
            self._nested = False
            with _HELD_GUARD:
                _HELD[self._key] -= 1
            return
        fd, self._fd = self._fd, None
        if fd is None:
            return
        with _HELD_GUARD:
            _HELD.pop(self._key, None)
        try:
            self.path.unlink()
        except OSError:
            pass  # hidden, and taken over by the next run
        os.close(fd)  # closing the descriptor releases the lock

    def __enter__(self) -> "PartLock":
        return self

    def __exit__(self, *exc) -> None:
        self.release()


class PartLocks:
    """The locks of all outputs of one run, taken together or not at all.

    Parameters
    ----------
    targets:
        ``(path, option)`` of each output.

    Raises
    ------
    OutputPathError, OutputWriteError
        As :class:`PartLock`; the locks already taken are released.
    """

    def __init__(self, targets: Sequence[Tuple[PathLike, Optional[str]]]) -> None:
        self.locks: List[PartLock] = []
        seen = set()
        try:
            for path, option in targets:
                key = os.path.abspath(os.fspath(path))
                if key in seen:
                    continue
                seen.add(key)
                self.locks.append(PartLock(path, option))
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Release every lock (a second call does nothing)."""
        for lock in reversed(self.locks):
            lock.release()

    def __enter__(self) -> "PartLocks":
        return self

    def __exit__(self, *exc) -> None:
        self.release()
