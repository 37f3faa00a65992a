"""Outputs that are entries of a folder the user keeps: :func:`atomic_entries`.

``glnet demo --out DIR`` and ``glnet synth --out DIR`` write a few files (and
folders of files) into a folder that may hold the user's own files, or be
the shell's working folder (``--out .``). Everything is staged in the
folder's hidden part (:func:`.outputs.part_path`) and moved in at the end,
file by file, with the entries being replaced set aside first, so that a
failure leaves the folder as it was and nothing the run does not own is
touched.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple, Type, Union

from ..errors import GlnetError, OutputPathError
from .outputs import (
    OVERWRITE_HINT,
    _fsync_folder,
    _old_path,
    check_folder_target,
    commit_folder,
    is_write_failure,
    new_part_folder,
    remove_part,
    write_failed,
)
from .part_lock import PartLock

__all__ = ["atomic_entries"]

PathLike = Union[str, "os.PathLike[str]"]


def _prefix(option: Optional[str]) -> str:
    return f"{option}: " if option else ""


@contextmanager
def atomic_entries(
    folder: PathLike,
    names: Sequence[str],
    *,
    overwrite: bool,
    option: Optional[str] = None,
    hint: str = OVERWRITE_HINT,
    error: Type[GlnetError] = OutputPathError,
) -> Iterator[Path]:
    """Write a set of files and folders into ``folder``, all or none, keeping the folder itself.

    For outputs that share a folder with what the user keeps there (``glnet
    demo --out DIR``, ``glnet synth --out DIR``, ``--out .``): the block fills
    the part folder of ``folder`` (:func:`part_path`, beside it). On normal
    exit, a missing ``folder`` is the part folder renamed
    (:func:`commit_folder`); an existing one stays (it may be a shell's
    working folder) and gets the staged entries: its entries called ``names``
    and those the run staged are first moved aside (into ``.NAME.old``, so
    that a failure never mixes two runs' outputs), then every staged file is
    moved in, file by file (a staged ``images/a.tif`` joins an existing
    ``images`` folder, whose other files stay), then the old ones are
    deleted (and a sub-folder they leave empty). So an entry of ``names``
    that the run did not write disappears with the run it belonged to, and
    files neither in ``names`` nor staged (the user's) are never touched. On any exception the part folder is
    removed and ``folder`` is as it was.

    Parameters
    ----------
    folder:
        The output folder, new or existing; made absolute, so that ``.`` has
        a name and a parent.
    names:
        The entries the run owns in ``folder``, as paths relative to it
        (``summary.json``, ``images/synth_00000.tif``; a name that is a
        folder there is replaced whole): checked before the block runs (each
        must not exist without ``overwrite``) and replaced or removed at the
        commit. Staged files outside ``names`` (GDAL sidecars) are moved in
        too, replacing files of the same name.
    overwrite, option, hint, error:
        As for :func:`check_file_target`; ``overwrite`` allows replacing the
        entries of an earlier run.

    Yields
    ------
    Path
        The part folder (it exists and is empty).

    Raises
    ------
    OutputPathError
        (or ``error``) if ``folder`` is a file, its parent is missing or not
        writable, an entry of ``names`` exists without ``overwrite``, or an
        entry to replace is a device, FIFO or socket (even with ``overwrite``).
    OutputWriteError
        If creating, writing or moving fails.
    """
    folder = Path(os.path.abspath(os.fspath(folder)))
    check_folder_target(folder, overwrite=True, option=option, hint=hint, error=error)
    if folder.is_dir():
        _check_kinds(folder, names, option, error)
        if not overwrite:
            _check_no_entries(folder, names, option, hint, error)
    with PartLock(folder, option):  # before the stale part is removed: it may be another run's
        part = new_part_folder(folder, option)
        try:
            yield part
            if not folder.exists():
                commit_folder(part, folder, overwrite=False, option=option, hint=hint, error=error)
            else:
                _swap_entries(part, folder, names, overwrite=overwrite, option=option, hint=hint, error=error)
        except BaseException as exc:
            remove_part(part)
            if is_write_failure(exc, part):
                raise write_failed(folder, exc, option) from None
            raise


def _check_no_entries(folder: Path, names: Sequence[str], option: Optional[str], hint: str, error: Type[GlnetError]) -> None:
    """Refuse an existing entry of ``folder`` called one of ``names`` (no ``overwrite``)."""
    for name in names:
        if (folder / name).exists():
            raise error(f"{_prefix(option)}{folder / name} already exists; {hint}")


def _check_kinds(folder: Path, names: Sequence[str], option: Optional[str], error: Type[GlnetError]) -> None:
    """Refuse an entry of ``folder`` called one of ``names`` that is a device, FIFO or socket (even with ``overwrite``)."""
    for name in names:
        p = folder / name
        if p.exists() and not (p.is_file() or p.is_dir()):
            raise error(f"{_prefix(option)}{p} is not a regular file (a device, pipe or socket); remove it or give another folder")


def _staged(part: Path) -> Tuple[List[str], List[str]]:
    """The files (and links) staged under ``part`` as relative paths, and its empty folders."""
    files: List[str] = []
    empty: List[str] = []
    for root, dirs, names in os.walk(part):
        rel = Path(root).relative_to(part)
        for d in list(dirs):
            if (Path(root) / d).is_symlink():  # a link to a folder moves as the link it is
                files.append(str(rel / d))
                dirs.remove(d)
        files += [str(rel / n) for n in names]
        if not dirs and not names and Path(root) != part:
            empty.append(str(rel))
    return sorted(files), sorted(empty)


def _make_parents(folder: Path, rel: str, made: List[Path]) -> None:
    """Create the missing folders of ``folder / rel``'s parent, recording them in ``made`` (for undo)."""
    missing = []
    parent = (folder / rel).parent
    while parent != folder and not os.path.lexists(parent):
        missing.append(parent)
        parent = parent.parent
    for d in reversed(missing):
        d.mkdir()
        made.append(d)


def _prune(folder: Path) -> None:
    """Remove ``folder`` and its sub-folders where they are empty (best effort)."""
    for root, _dirs, _files in sorted(os.walk(folder), key=lambda e: -len(e[0])):
        try:
            os.rmdir(root)
        except OSError:
            pass


def _swap_entries(
    part: Path, folder: Path, names: Sequence[str], *, overwrite: bool, option: Optional[str], hint: str, error: Type[GlnetError]
) -> None:
    """Move the staged entries of ``part`` into the existing ``folder`` (see :func:`atomic_entries`).

    File by file, so that a staged ``images/a.tif`` joins an existing
    ``folder/images`` without touching the other files there.
    """
    staged, empty = _staged(part)
    # Parents first: an entry of ``names`` that is a folder moves aside whole, its files with it.
    replaced = sorted(set(names) | set(staged))
    _check_kinds(folder, replaced, option, error)
    if not overwrite:
        _check_no_entries(folder, replaced, option, hint, error)
    old = _old_path(folder)
    remove_part(old)
    set_aside: List[str] = []
    moved_in: List[str] = []
    made: List[Path] = []
    try:
        old.mkdir()
        try:
            for rel in replaced:
                if os.path.lexists(folder / rel):
                    (old / rel).parent.mkdir(parents=True, exist_ok=True)
                    os.replace(folder / rel, old / rel)
                    set_aside.append(rel)
            for rel in staged:
                _make_parents(folder, rel, made)
                os.replace(part / rel, folder / rel)
                moved_in.append(rel)
            for rel in empty:
                if not os.path.lexists(folder / rel):
                    _make_parents(folder, rel + "/-", made)  # the folder itself, as the parent of a name
        except OSError:
            # Undo: the new entries back into the part, the old ones back into place.
            for rel in reversed(moved_in):
                os.replace(folder / rel, part / rel)
            for d in reversed(made):
                try:
                    d.rmdir()
                except OSError:
                    pass
            for rel in reversed(set_aside):
                os.replace(old / rel, folder / rel)
            raise
    except OSError as exc:
        _prune(old)  # only what is empty: what could not be put back stays in .NAME.old
        raise write_failed(folder, exc, option) from None
    remove_part(old, part)
    _remove_emptied(folder, set_aside)
    _fsync_folder(folder)


def _remove_emptied(folder: Path, removed: Sequence[str]) -> None:
    """Remove the sub-folders of ``folder`` that held nothing but the removed entries (now empty)."""
    parents = {(folder / rel).parent for rel in removed}
    for d in sorted(parents, key=lambda p: -len(p.parts)):
        while d != folder and folder in d.parents:
            try:
                d.rmdir()  # only when empty
            except OSError:
                break
            d = d.parent
