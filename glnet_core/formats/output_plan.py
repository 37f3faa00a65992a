"""The outputs of one command, checked together before any work: :func:`check_outputs`.

:mod:`.outputs` checks one target at a time; a command writes several files
(a mask, its ``.aux.xml`` and ``.qml``, a confidence raster, polygons, a ``--profile``)
and reads others (the input raster, a model bundle, zones, a reference, a
class table). Checking them one by one let a run replace its own input
(``segment --out-mask IN.tif --overwrite``), write two outputs onto one file,
or fail on a bad ``--profile`` after the mask was written. Every command and
every library entry point the QGIS plugin calls describes its outputs as
:class:`OutputTarget` values and its inputs as :class:`InputSource` values
and calls :func:`check_outputs` before any work. It refuses, with one line
naming the option:

1. an output that is one of the inputs or one of their sidecars (same path,
   through ``..`` or a symbolic link, or the same file by
   :func:`os.path.samefile`: a hard link), an output inside an input folder
   (a bundle folder), and an output folder that holds an input (``export
   --out`` around its own checkpoint), **with or without overwrite**;
2. two outputs (or an output and a sidecar or part file of another) that
   name the same file, or an output inside another output folder;
3. each target as :func:`.outputs.check_file_target` /
   :func:`.outputs.check_folder_target` do (an existing file without
   overwrite; a folder, device, FIFO or socket even with it), and the same
   for the sidecars it writes or deletes beside it.

The checks compare names after resolving symbolic links
(:func:`os.path.realpath`), so a link to a device is refused as the device
is. What cannot be told before the files exist (two new names on a
case-insensitive file system) is not refused; the commit renames the part
files, so nothing existing is lost to it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Sequence, Tuple, Type, Union

from ..errors import GlnetError, OutputPathError
from .input_paths import local_path_of
from .layer_style import qml_sidecar_path
from .outputs import OVERWRITE_HINT, check_file_target, check_folder_target, part_path

__all__ = [
    "KINDS",
    "RASTER_SIDECARS",
    "SHAPEFILE_SIDECARS",
    "OutputTarget",
    "InputSource",
    "raster_sources",
    "raster_sidecars",
    "sidecar_part_path",
    "qml_part_path",
    "related_files",
    "check_outputs",
    "check_distinct",
    "check_not_inputs",
    "spec_sources",
]

PathLike = Union[str, "os.PathLike[str]"]

#: What a target is: a file, a folder replaced whole, or an entry (file or
#: folder) of a folder that the run creates or keeps (``glnet demo --out DIR``).
KINDS = ("file", "folder", "entry")

#: Endings of the files GDAL keeps beside a raster (PAM metadata, overviews, masks).
RASTER_SIDECARS = (".aux.xml", ".ovr", ".msk")

#: The files that make up a Shapefile besides its ``.shp``.
SHAPEFILE_SIDECARS = (".shx", ".dbf", ".prj", ".cpg", ".qix", ".sbn", ".sbx", ".qmd")


def raster_sidecars(path: PathLike) -> Tuple[Path, ...]:
    """The sidecars glnet's raster writers write or delete beside ``path``.

    ``PATH.aux.xml`` (GDAL's PAM metadata: the class names) and ``NAME.qml``
    (the QGIS default style, :func:`.layer_style.qml_sidecar_path`).
    """
    return (Path(os.fspath(path) + ".aux.xml"), qml_sidecar_path(path))


def sidecar_part_path(target: PathLike, sidecar: PathLike) -> Optional[Path]:
    """The hidden name a sidecar of ``target`` is written under until the target is committed.

    A sidecar named after the target (``NAME.tif.aux.xml``) gets the target
    part's name with the same ending (``.NAME.tif.part.aux.xml``, as GDAL
    names a part's PAM file); the QGIS style ``NAME.qml`` gets
    ``.NAME.tif.part.qml``. Other sidecars (a Shapefile's) have no part name here: None.
    """
    t, c = os.fspath(target), os.fspath(sidecar)
    part = os.fspath(part_path(target))
    if c.startswith(t):
        return Path(part + c[len(t):])
    if Path(c) == qml_sidecar_path(t):
        return qml_part_path(target)
    return None


def qml_part_path(target: PathLike) -> Path:
    """The part name of ``target``'s QGIS style ``NAME.qml``: ``.NAME.tif.part.qml`` beside it."""
    return Path(os.fspath(part_path(target)) + ".qml")


def related_files(path: PathLike) -> Tuple[Path, ...]:
    """``path`` and the files beside it that belong to it when it is read.

    GDAL's sidecars of a raster (``PATH.aux.xml``, ``PATH.ovr``,
    ``PATH.msk``), QGIS's default style ``NAME.qml`` and, for a Shapefile,
    its ``.shx``, ``.dbf``, ``.prj`` and the others: replacing one of them
    changes what the input means or shows (a mask's class names live in its
    ``.aux.xml``).
    """
    p = Path(path)
    # NAME.qml: the QGIS style a file is shown with (a mask's classes, a layer's look).
    files = [p] + [Path(os.fspath(p) + s) for s in RASTER_SIDECARS] + [qml_sidecar_path(p)]
    if p.suffix.lower() == ".shp":
        files += [p.with_suffix(s) for s in SHAPEFILE_SIDECARS]
    return tuple(files)


@dataclass(frozen=True)
class OutputTarget:
    """One output of a command.

    Attributes
    ----------
    path:
        The file or folder written.
    option:
        The command-line option that named it (``"--out-mask"``), or None;
        messages start with it.
    kind:
        ``"file"``, ``"folder"`` (replaced whole) or ``"entry"`` (a file or
        folder inside an output folder that may not exist yet: its parent is
        not checked).
    sidecars:
        Files written, replaced or deleted beside ``path`` (a raster's
        ``.aux.xml``, a Shapefile's ``.dbf``): they obey overwrite as the
        target does and must not be inputs or other outputs.

    Raises
    ------
    ValueError
        For an unknown ``kind`` (a bug in the caller).
    """

    path: Path
    option: Optional[str] = None
    kind: str = "file"
    sidecars: Tuple[Path, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "sidecars", tuple(Path(p) for p in self.sidecars))

    def written(self) -> Iterator[Tuple[Path, str]]:
        """Every path the target's writing touches, with how messages call it.

        The target, its sidecars, its hidden part (removed as stale when a
        run starts) and the parts of its sidecars (:func:`sidecar_part_path`:
        ``.NAME.part.aux.xml``, ``.NAME.part.qml``).
        """
        yield self.path, "target"
        for p in self.sidecars:
            yield p, "sidecar"
        yield part_path(self.path), "part"
        for p in self.sidecars:
            part = sidecar_part_path(self.path, p)
            if part is not None:
                yield part, "part"


@dataclass(frozen=True)
class InputSource:
    """One input of a command: a file or folder it reads.

    Attributes
    ----------
    path:
        The file or folder (a bundle folder: every file inside it is input).
    role:
        How messages call it, e.g. ``"the input raster"``, ``"the model
        bundle"``, ``"the zones (--zones)"``.
    files:
        The files compared with outputs; default :func:`related_files`.
    """

    path: Path
    role: str
    files: Tuple[Path, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        object.__setattr__(self, "files", tuple(Path(p) for p in self.files) or related_files(self.path))


def _key(path: Path) -> str:
    # realpath resolves symbolic links before "..", as the system does.
    return os.path.realpath(os.fspath(path))


def _same(a: Path, b: Path) -> bool:
    """Whether ``a`` and ``b`` are one file: the same resolved name, or (existing) the same inode."""
    if _key(a) == _key(b):
        return True
    try:
        return os.path.exists(a) and os.path.exists(b) and os.path.samefile(a, b)
    except OSError:
        return False


def _inside(child: Path, folder: Path) -> bool:
    """Whether ``child`` lies strictly inside ``folder`` (both resolved)."""
    c, f = _key(child), _key(folder)
    if c == f:
        return False
    try:
        return os.path.commonpath([c, f]) == f
    except ValueError:  # different drives (Windows)
        return False


def _prefix(option: Optional[str]) -> str:
    return f"{option}: " if option else ""


def _shown(t: OutputTarget, p: Path, how: str) -> str:
    if how == "target":
        return str(p)
    if how == "sidecar":
        return f"{p} (written beside {t.path})"
    return f"{p} (the part file of {t.path})"


def _what(src: InputSource, matched: Path, shown_path: Path) -> str:
    """``the input raster`` or ``the input raster /x/in.tif``: the name added when it differs from the output's."""
    if str(matched) == str(shown_path):
        return src.role
    return f"{src.role} {matched}"


def _stat_key(path: Path) -> Optional[Tuple[int, int]]:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


class _Resolver:
    """Resolved names and inodes of many files, with one ``lstat`` per file.

    :func:`os.path.realpath` costs a system call per path component; the
    inputs of a command such as ``glnet train`` are thousands of files in a
    few folders, so each folder is resolved once and a file that is not a
    symbolic link takes its folder's resolved name.
    """

    def __init__(self) -> None:
        self._folders: Dict[str, str] = {}

    def __call__(self, path: Path) -> Tuple[str, Optional[Tuple[int, int]]]:
        import stat

        text = os.fspath(path)
        folder, name = os.path.split(text)
        try:
            st = os.lstat(text)
        except (OSError, ValueError):
            st = None
        if name in ("", ".", "..") or (st is not None and stat.S_ISLNK(st.st_mode)):
            return _key(path), _stat_key(path)
        if folder not in self._folders:
            self._folders[folder] = os.path.realpath(folder or os.curdir)
        inode = None if st is None else (st.st_dev, st.st_ino)
        return os.path.join(self._folders[folder], name), inode


def check_not_inputs(
    targets: Sequence[OutputTarget], inputs: Sequence[InputSource], *, error: Type[GlnetError] = OutputPathError
) -> None:
    """Refuse an output that is, is inside, or holds an input (with or without overwrite).

    Inputs are indexed once by resolved name and by inode, so that a
    command reading thousands of files (``glnet train``) checks them quickly.

    Raises
    ------
    OutputPathError
        (or ``error``) ``OPTION: PATH is ROLE; give another path``, ``OPTION:
        PATH is inside ROLE FOLDER; ...`` or ``OPTION: PATH holds ROLE FILE;
        ...``.
    """
    by_name: Dict[str, Tuple[InputSource, Path]] = {}
    by_inode: Dict[Tuple[int, int], Tuple[InputSource, Path]] = {}
    folders = [src for src in inputs if src.path.is_dir()]
    resolve = _Resolver()
    for src in inputs:
        for f in src.files:
            name, inode = resolve(f)
            by_name.setdefault(name, (src, f))
            if inode is not None:
                by_inode.setdefault(inode, (src, f))
    for t in targets:
        for p, how in t.written():
            inode = _stat_key(p)
            hit = by_name.get(_key(p)) or (by_inode.get(inode) if inode is not None else None)
            if hit is not None:
                raise error(f"{_prefix(t.option)}{_shown(t, p, how)} is {_what(hit[0], hit[1], p)}; give another path")
            for src in folders:
                if _inside(p, src.path):
                    raise error(f"{_prefix(t.option)}{_shown(t, p, how)} is inside {src.role} {src.path}; give another path")
        if t.kind != "file":
            for src in inputs:
                if _inside(src.path, t.path):
                    raise error(f"{_prefix(t.option)}{t.path} holds {src.role} {src.path}; give another path")


def _pair_message(a: OutputTarget, b: OutputTarget, path: Path) -> str:
    if a.option == b.option:
        return f"{_prefix(a.option)}names {path} twice; give different file names"
    return f"{a.option or 'an output'} and {b.option or 'another output'} both name {path}; give different file names"


def check_distinct(targets: Sequence[OutputTarget], *, error: Type[GlnetError] = OutputPathError) -> None:
    """Refuse two outputs of one command that name one file (or its sidecar or part), or nest.

    Raises
    ------
    OutputPathError
        (or ``error``) ``--out-confidence and --out-vector both name PATH;
        give different file names``, or ``A and B overlap: PATH is inside FOLDER``.
    """
    for i, a in enumerate(targets):
        for b in targets[i + 1 :]:
            for pa, how_a in a.written():
                for pb, how_b in b.written():
                    if how_a == "part" and how_b == "part":
                        continue  # two parts are equal only when their targets are, which is checked
                    if _same(pa, pb):
                        raise error(_pair_message(a, b, pb if how_a == "part" else pa))
            for outer, inner in ((a, b), (b, a)):
                if outer.kind != "file" and _inside(inner.path, outer.path):
                    opts = f"{outer.option or 'an output'} and {inner.option or 'another output'}"
                    raise error(f"{opts} overlap: {inner.path} is inside {outer.path}; give different file names")


def _check_sidecar(path: Path, overwrite: bool, t: OutputTarget, hint: str, error: Type[GlnetError]) -> None:
    if not os.path.lexists(path):
        return
    if path.is_dir():
        raise error(f"{_prefix(t.option)}{path} (written beside {t.path}) is a folder; remove it or give another path")
    if path.exists() and not path.is_file():
        raise error(f"{_prefix(t.option)}{path} (written beside {t.path}) is not a regular file (a device, pipe or socket)")
    if not overwrite:
        raise error(f"{_prefix(t.option)}{path} (written beside {t.path}) already exists; {hint}")


def _check_entry(t: OutputTarget, overwrite: bool, hint: str, error: Type[GlnetError]) -> None:
    p = t.path
    if p.exists() and not (p.is_file() or p.is_dir()):
        raise error(f"{_prefix(t.option)}{p} is not a regular file (a device, pipe or socket); remove it or give another folder")
    if os.path.lexists(p) and not overwrite:
        raise error(f"{_prefix(t.option)}{p} already exists; {hint}")


def check_outputs(
    targets: Iterable[OutputTarget],
    inputs: Iterable[InputSource] = (),
    *,
    overwrite: bool,
    check_targets: bool = True,
    hint: str = OVERWRITE_HINT,
    error: Type[GlnetError] = OutputPathError,
) -> None:
    """Check every output of one command against its inputs and each other, before any work.

    Parameters
    ----------
    targets:
        The command's outputs (side outputs such as ``--profile`` and
        ``--json`` included).
    inputs:
        Every path the command reads.
    overwrite:
        Existing targets (and sidecars) may be replaced.
    check_targets:
        Also check each target's kind, existence and folder (false for a
        resumed run, whose targets are checked when its parts are reopened).
    hint, error:
        As for :func:`.outputs.check_file_target`.

    Raises
    ------
    OutputPathError
        (or ``error``) The first problem, in this order: an output that is,
        is inside or holds an input; two outputs naming one file; a target
        that cannot be used (:func:`.outputs.check_file_target`,
        :func:`.outputs.check_folder_target`, and the same for sidecars).
    """
    ts: List[OutputTarget] = list(targets)
    check_not_inputs(ts, list(inputs), error=error)
    check_distinct(ts, error=error)
    if not check_targets:
        return
    for t in ts:
        if t.kind == "file":
            check_file_target(t.path, overwrite=overwrite, option=t.option, hint=hint, error=error)
        elif t.kind == "folder":
            check_folder_target(t.path, overwrite=overwrite, option=t.option, hint=hint, error=error)
        else:
            _check_entry(t, overwrite, hint, error)
        for s in t.sidecars:
            _check_sidecar(s, overwrite, t, hint, error)


def raster_sources(path: PathLike, role: str) -> List[InputSource]:
    """The local file an input raster reads, as the source outputs are checked against.

    ``/vsicurl/`` paths and URLs read nothing on this machine: no source; a
    ``/vsizip/`` path reads its local archive
    (:func:`~glnet_core.formats.input_paths.local_path_of`).
    """
    local = local_path_of(path)
    return [] if local is None else [InputSource(Path(local), role)]


def spec_sources(spec: Optional[PathLike], role: str) -> List[InputSource]:
    """The input named by a value that may be a file or not (``--classes``: a preset, a count or a JSON file).

    Returns
    -------
    list of InputSource
        One source when ``spec`` names an existing file or folder, else none.
    """
    if spec is None or not os.fspath(spec) or not os.path.lexists(os.fspath(spec)):
        return []
    return [InputSource(Path(spec), role)]
