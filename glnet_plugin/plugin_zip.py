"""Build the plugin archive, and check it the way the QGIS plugin repository does.

The archive holds one folder, ``glnet/``, with ``metadata.txt``, ``LICENSE``
and what the plugin runs: the root ``__init__.py``, ``glnet_plugin/``,
``glnet_core/``, the compiled translations and the README. Tests,
benchmarks, docs, training and export code (they need torch, which QGIS does
not have), virtual environments, caches and hidden files stay out. Every
folder has its own entry; folders are stored as ``0755`` and files as
``0644``, so ``unzip`` as any user gives a readable plugin.

:func:`repository_checks` replays, in this project's own words, what the QGIS
plugin repository (plugins.qgis.org, ``plugins/validator.py`` of
qgis/QGIS-Plugins-Website) refuses on upload: the size limit, paths, compiled
and binary files, hidden and VCS entries, one top folder with a valid name,
``__init__.py``, ``metadata.txt`` with its required fields and their formats,
``LICENSE``; plus this project's own rules (a PNG icon, entry modes, the
categories QGIS knows, specific tags). It cannot check that the URLs answer
(no network at build time); :func:`~glnet_plugin.plugin_metadata.placeholder_fields` names the addresses
that are still placeholders, and a release build (``--release``, ``make
plugin-zip RELEASE=1``) refuses them. :func:`build_zip` runs the checks on
the archive before it is committed, so ``make plugin-zip`` fails on a
problem and leaves no archive.

Run with any Python 3 (``make plugin-zip``)::

    python3 glnet_plugin/plugin_zip.py --out dist/glnet.zip [--release]
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import stat
import sys
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Iterator, List, Mapping, Optional, Sequence, Tuple, Union
from urllib.parse import urlsplit

if __package__:
    from ..glnet_core import errors
    from ..glnet_core.formats import outputs
    from .plugin_metadata import placeholder_fields, read_metadata
else:  # run as a script (make plugin-zip): the checkout's packages as top-level packages
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    outputs = importlib.import_module("glnet_core.formats.outputs")
    errors = importlib.import_module("glnet_core.errors")
    _metadata = importlib.import_module("glnet_plugin.plugin_metadata")
    placeholder_fields, read_metadata = _metadata.placeholder_fields, _metadata.read_metadata

__all__ = [
    "PLUGIN_FOLDER",
    "MAX_ARCHIVE_BYTES",
    "REQUIRED_FIELDS",
    "CATEGORIES",
    "FILE_MODE",
    "DIR_MODE",
    "plugin_files",
    "repository_checks",
    "build_zip",
]

PathLike = Union[str, "os.PathLike[str]"]

#: The folder name inside the archive; QGIS installs the plugin under it.
PLUGIN_FOLDER = "glnet"

#: The repository's upload limit (its PLUGIN_MAX_UPLOAD_SIZE, 25 MB).
MAX_ARCHIVE_BYTES = 25_000_000

#: Fields the repository refuses an upload without.
REQUIRED_FIELDS = ("name", "description", "version", "qgisMinimumVersion", "author", "email", "about", "tracker", "repository")

#: The values QGIS allows for ``category`` (plugins without one go under Plugins).
CATEGORIES = ("Raster", "Vector", "Database", "Mesh", "Web")

#: Fields whose value the repository and QGIS read as a yes/no flag.
_FLAG_FIELDS = ("experimental", "deprecated", "server", "hasProcessingProvider")
_FLAG_VALUES = ("true", "false", "yes", "no", "1", "0")

#: Of those, the web addresses (the repository requests each one).
_URL_FIELDS = ("tracker", "repository", "homepage")
# The plugin builder's template values, which the repository refuses by name.
_TEMPLATE_URLS = ("http://bugs", "http://repo", "http://homepage")

#: Tags too general to help anyone find this plugin (every raster plugin is "raster").
_GENERIC_TAGS = ("python", "qgis", "plugin", "processing", "raster", "vector", "analysis", "tool", "tools")

#: Modes of the archive's entries: regular files 0644, folders 0755.
FILE_MODE = stat.S_IFREG | 0o644
DIR_MODE = stat.S_IFDIR | 0o755
# The MS-DOS "directory" attribute, the low byte of external_attr; zip tools set it on folder entries.
_MSDOS_DIR = 0x10
# ZipInfo.create_system for Unix: only then do unzip tools apply the stored modes.
_UNIX = 3

# Compiled code, executables and scripts the repository flags as binary or suspicious.
_BINARY_SUFFIXES = (".pyc", ".pyo", ".so", ".pyd", ".dll", ".exe", ".dylib", ".bat", ".cmd", ".ps1", ".sh")
# Executables without a telling name: ELF, Windows PE, Mach-O (both byte orders, 32/64 bit, fat).
_EXECUTABLE_MAGIC = (b"\x7fELF", b"MZ", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe",
                     b"\xca\xfe\xba\xbe")
# Folders of version control and of other tools' leftovers.
_VCS_DIRS = ("__pycache__", "__MACOSX", ".git", ".svn", ".hg")
# Raster formats for the icon: every QGIS and the repository's pages show them alike.
_ICON_MAGIC = {"PNG": b"\x89PNG\r\n\x1a\n", "JPEG": b"\xff\xd8\xff"}
# The repository's rule for the top folder's name (a Python identifier, too, for new plugins).
_FOLDER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]+")
_VERSION = re.compile(r"\d+(\.\d+){0,3}([-.]?[A-Za-z]+\d*)?")
_QGIS_VERSION = re.compile(r"\d+\.\d+(\.\d+)?")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z0-9-]+")
_HTML_TAG = re.compile(r"<\s*/?\s*[A-Za-z][^>]*>")
# What reading a damaged member raises.
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, OSError, EOFError)

# Top-level files and folders of the checkout that the plugin needs.
_FILES = ("metadata.txt", "__init__.py", "README.md", "LICENSE")
_FOLDERS = ("glnet_plugin", "glnet_core")
# Parts of those folders the plugin never imports: the command line and the
# sample data (synthetic scenes, the demo model and scene, about 21 MB).
_LEFT_OUT = ("glnet_core/cli", "glnet_core/samples")
_SKIP_SUFFIXES = (".pyc", ".pyo")
_SKIP_DIRS = ("__pycache__",)


def _metadata_problems(meta: Mapping[str, str], names: Sequence[str], top: str, release: bool) -> List[str]:
    problems = []
    missing = [f for f in REQUIRED_FIELDS if not meta.get(f)]
    if missing:
        problems.append("metadata.txt lacks required fields: " + ", ".join(missing))
    version = meta.get("version", "")
    if version and not _VERSION.fullmatch(version):
        problems.append(f"metadata.txt: version {version!r} is not dotted numbers (e.g. 1.2.0, 1.2.0-beta)")
    minimum = meta.get("qgisMinimumVersion", "")
    if minimum:
        if not _QGIS_VERSION.fullmatch(minimum):
            problems.append(f"metadata.txt: qgisMinimumVersion {minimum!r} is not a QGIS version (e.g. 3.22)")
        elif int(minimum.split(".")[0]) < 3:
            # QGIS takes a missing qgisMaximumVersion as the minimum's major version .99.
            problems.append(f"metadata.txt: qgisMinimumVersion {minimum} is older than QGIS 3, which would not load the plugin")
    maximum = meta.get("qgisMaximumVersion", "")
    if maximum:
        if not _QGIS_VERSION.fullmatch(maximum):
            problems.append(f"metadata.txt: qgisMaximumVersion {maximum!r} is not a QGIS version (e.g. 3.99)")
        elif _QGIS_VERSION.fullmatch(minimum) and _version_tuple(maximum) < _version_tuple(minimum):
            problems.append(f"metadata.txt: qgisMaximumVersion {maximum} is below qgisMinimumVersion {minimum}")
    if "/" in meta.get("author", ""):
        problems.append("metadata.txt: author contains a slash")
    email = meta.get("email", "")
    if email and not _EMAIL.fullmatch(email):
        problems.append(f"metadata.txt: email {email!r} is not an e-mail address")
    for field in _URL_FIELDS:
        url = meta.get(field, "")
        if not url:
            continue
        try:
            parts = urlsplit(url)
            valid = parts.scheme in ("http", "https") and bool(parts.netloc)
        except ValueError:
            valid = False
        if not valid or url.rstrip("/") in _TEMPLATE_URLS:
            problems.append(f"metadata.txt: {field} {url!r} is not a web address (http:// or https://)")
    description, about = meta.get("description", ""), meta.get("about", "")
    if "\n" in description:
        problems.append("metadata.txt: description has more than one line (the long text belongs in about)")
    for field, value in (("description", description), ("about", about)):
        if _HTML_TAG.search(value):
            problems.append(f"metadata.txt: {field} contains HTML, which the repository shows as text")
    if description and about and " ".join(about.split()) == " ".join(description.split()):
        problems.append("metadata.txt: about repeats description; say more about the plugin there")
    category = meta.get("category", "")
    if category and category not in CATEGORIES:
        problems.append(f"metadata.txt: category {category!r} is not one QGIS knows ({', '.join(CATEGORIES)})")
    for field in _FLAG_FIELDS:
        value = meta.get(field, "")
        if value and value.lower() not in _FLAG_VALUES:
            problems.append(f"metadata.txt: {field} {value!r} is not True or False")
    tags = [t.strip().lower() for t in meta.get("tags", "").split(",") if t.strip()]
    generic = [t for t in tags if t in _GENERIC_TAGS]
    if generic:
        problems.append("metadata.txt: tags too general to find the plugin by: " + ", ".join(generic))
    icon = meta.get("icon", "")
    if not icon:
        problems.append("metadata.txt has no icon")
    elif _icon_entry(meta, top) not in names:
        problems.append(f"the icon {icon} named in metadata.txt is not in the archive")
    placeholders = placeholder_fields(meta) if release else []
    if placeholders:
        problems.append(_not_a_release(placeholders))
    return problems


def _not_a_release(placeholders: Sequence[str]) -> str:
    return ("not a release: metadata.txt has placeholder " + ", ".join(placeholders)
            + "; put the project's public addresses there, or build without RELEASE=1 for a local install")


def _icon_entry(meta: Mapping[str, str], top: str) -> str:
    # The repository strips a leading "./" from the icon path.
    icon = meta.get("icon", "")
    return f"{top}/{icon[2:] if icon.startswith('./') else icon}"


def _version_tuple(version: str) -> Tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def _entry_problems(infos: Sequence[zipfile.ZipInfo]) -> List[str]:
    problems = []
    names = [i.filename for i in infos]
    if len(set(names)) != len(names):
        problems.append("the archive has duplicate entries: " + ", ".join(sorted({n for n in names if names.count(n) > 1})))
    folders = {n for n in names if n.endswith("/")}
    needed = set()
    for info in infos:
        name = info.filename
        parts = [p for p in name.split("/") if p]
        if name.startswith("/") or "\\" in name or re.match(r"[A-Za-z]:", name) or ".." in parts:
            problems.append(f"{name}: an absolute path, a drive, a backslash or '..' in the name")
            continue
        if len(parts) > 1:
            needed.add("/".join(parts[:-1]) + "/")
        if ".pyc" in name or name.lower().endswith(_BINARY_SUFFIXES):
            problems.append(f"{name}: compiled code or an executable")
        vcs = [p for p in parts if p in _VCS_DIRS]
        if vcs:
            problems.append(f"{name}: inside a {vcs[0]} folder")
        elif any(p.startswith(".") for p in parts):
            problems.append(f"{name}: a hidden file or folder")
        mode = info.external_attr >> 16
        if info.is_dir():
            if mode != DIR_MODE or not info.external_attr & _MSDOS_DIR:
                problems.append(f"{name}: folder entry stored with mode {oct(mode)}, not a folder with 0755")
        elif mode != FILE_MODE:
            problems.append(f"{name}: stored with mode {oct(mode)}, not a regular file with 0644")
        if info.create_system != _UNIX:
            problems.append(f"{name}: not stored as a Unix entry, so unzip ignores its mode")
    for folder in sorted(needed - folders):
        problems.append(f"{folder}: the folder has no entry of its own")
    return problems


def repository_checks(path: PathLike, *, release: bool = False) -> List[str]:
    """What the QGIS plugin repository, and this project, would refuse in the archive ``path``.

    The repository's upload checks, replayed: the archive's size (at most
    :data:`MAX_ARCHIVE_BYTES`); entry names (no absolute paths, drives,
    backslashes or ``..``); no compiled or binary files (``.pyc``, ``.so``,
    ``.dll``, ``.exe``... or an executable's signature), no ``__pycache__``,
    VCS or hidden entries; intact data (CRC); exactly one top folder, whose
    name starts with a letter and is a Python identifier; ``__init__.py``,
    ``metadata.txt`` (a ``[general]`` section with :data:`REQUIRED_FIELDS`,
    a dotted ``version``, a QGIS 3 ``qgisMinimumVersion``, an e-mail
    address, ``http(s)`` URLs, an author without slashes, yes/no flags, a
    one-line ``description`` and an ``about`` that adds to it, neither in
    HTML) and ``LICENSE`` in that folder. This project's own rules: the icon
    the metadata names is in the archive and a PNG or JPEG image, a
    ``category`` among :data:`CATEGORIES`, no generic tags, every entry
    stored by Unix rules as :data:`FILE_MODE` or :data:`DIR_MODE`, and every
    folder with its own entry. That the URLs answer cannot be checked here.

    Parameters
    ----------
    path:
        The archive.
    release:
        Also refuse placeholder addresses (:func:`placeholder_fields`).

    Returns
    -------
    list of str
        One line per problem; empty when the archive passes.
    """
    path = Path(path)
    problems: List[str] = []
    try:
        size = path.stat().st_size
        archive = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        return [f"{path.name} is not a readable zip archive ({exc})"]
    if size > MAX_ARCHIVE_BYTES:
        problems.append(f"the archive has {size / 1e6:.1f} MB; the repository takes at most {MAX_ARCHIVE_BYTES / 1e6:.0f} MB")
    with archive:
        infos = archive.infolist()
        if not infos:
            return problems + ["the archive is empty"]
        names = [i.filename for i in infos]
        problems += _entry_problems(infos)
        try:
            bad = archive.testzip()
        except _READ_ERRORS as exc:
            bad = f"? ({exc})"
        if bad:
            problems.append(f"{bad}: damaged in the archive (CRC or data error)")
        tops = sorted({n.split("/")[0] for n in names})
        if len(tops) != 1 or "/" not in names[0]:
            return problems + ["the archive must hold exactly one top folder, the plugin; it has: " + ", ".join(tops)]
        top = tops[0]
        if not _FOLDER_NAME.fullmatch(top) or not top.isidentifier():
            problems.append(f"the top folder {top!r} is not a valid plugin name (a letter, then letters, digits or '_')")
        for required in ("__init__.py", "metadata.txt", "LICENSE"):
            if f"{top}/{required}" not in names:
                problems.append(f"{top}/{required} is missing")
        if f"{top}/metadata.txt" in names:
            try:
                meta = read_metadata(archive.read(f"{top}/metadata.txt").decode("utf-8"))
            except (ValueError, *_READ_ERRORS) as exc:  # UnicodeDecodeError is a ValueError
                problems.append(f"{top}/metadata.txt cannot be read: {exc}")
            else:
                problems += _metadata_problems(meta, names, top, release)
                icon = meta.get("icon", "")
                if icon and _icon_entry(meta, top) in names:
                    head = _head(archive, archive.getinfo(_icon_entry(meta, top)), 8)
                    if head is not None and not any(head.startswith(magic) for magic in _ICON_MAGIC.values()):
                        problems.append(f"the icon {icon} is not a PNG or JPEG image (keep SVG as the source only)")
        for info in infos:
            if not info.is_dir() and not info.filename.lower().endswith(_BINARY_SUFFIXES):
                head = _head(archive, info, 4)
                if head is not None and any(head.startswith(magic) for magic in _EXECUTABLE_MAGIC):
                    problems.append(f"{info.filename}: an executable or library")
    return problems


def _head(archive: zipfile.ZipFile, info: zipfile.ZipInfo, n: int) -> Optional[bytes]:
    # The first n bytes of a member; None when it cannot be read (the CRC check reports that).
    try:
        with archive.open(info) as member:
            return member.read(n)
    except _READ_ERRORS:
        return None


def _walk(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        parts = path.relative_to(folder).parts
        # Hidden files are editor and tool leftovers (swap files, .part files of a run), never the plugin.
        if any(part in _SKIP_DIRS or part.startswith(".") for part in parts):
            continue
        if path.is_file() and path.suffix not in _SKIP_SUFFIXES:
            yield path


def plugin_files(root: Path) -> List[Tuple[Path, str]]:
    """The files of the plugin and their names inside the archive.

    Parameters
    ----------
    root:
        The checkout (the folder holding ``metadata.txt``).

    Returns
    -------
    list of (source path, archive name)
        Sorted by archive name, every name under ``glnet/``.

    Raises
    ------
    FileNotFoundError
        When ``root`` has no ``metadata.txt`` (not a plugin folder).
    """
    root = Path(root)
    if not (root / "metadata.txt").is_file():
        raise FileNotFoundError(f"{root} has no metadata.txt; not the glnet checkout")
    entries = [(root / name, name) for name in _FILES if (root / name).is_file()]
    for folder in _FOLDERS:
        entries += [(p, p.relative_to(root).as_posix()) for p in _walk(root / folder)
                    if not p.relative_to(root).as_posix().startswith(tuple(f"{d}/" for d in _LEFT_OUT))]
    # Compiled translations only: QGIS loads .qm files; the .ts sources are for translators.
    entries += [(p, p.relative_to(root).as_posix()) for p in sorted((root / "i18n").glob("*.qm"))]
    return sorted(((src, f"{PLUGIN_FOLDER}/{name}") for src, name in entries), key=lambda e: e[1])


def _folder_entries(root: Path, files: Sequence[Tuple[Path, str]]) -> List[Tuple[Path, str]]:
    # Every folder above a file, the top one included, as (source folder, "name/").
    folders = {}
    for _src, name in files:
        parent = PurePosixPath(name).parent
        while str(parent) != ".":
            rel = PurePosixPath(*parent.parts[1:])
            folders[f"{parent}/"] = root / rel
            parent = parent.parent
    return [(src, name) for name, src in folders.items()]


def _entry(src: Path, name: str) -> zipfile.ZipInfo:
    # Modes are set, not copied from the checkout: a 0600 file or a folder
    # made under umask 077 must not end up unreadable in someone's plugins folder.
    info = zipfile.ZipInfo.from_file(src, name, strict_timestamps=False)  # a pre-1980 mtime is clamped, not an error
    info.create_system = _UNIX
    if name.endswith("/"):
        info.external_attr = (DIR_MODE << 16) | _MSDOS_DIR
    else:
        info.external_attr = FILE_MODE << 16
        info.compress_type = zipfile.ZIP_DEFLATED
    return info


def build_zip(root: Path, out: Path, overwrite: bool = True, release: bool = False) -> Path:
    """Write the plugin archive ``out`` atomically, after it passes :func:`repository_checks`.

    The archive is written under its hidden part name, checked, made
    readable for everyone (``0644``: it is meant to be handed on) and renamed
    onto ``out``; when a check fails nothing is left behind.

    Parameters
    ----------
    root:
        The checkout (the folder holding ``metadata.txt``).
    out:
        The archive to write; missing folders above it are created.
    overwrite:
        Replace an existing ``out`` (the default: ``make plugin-zip`` rebuilds it).
    release:
        Refuse placeholder addresses in ``metadata.txt`` (:func:`placeholder_fields`).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    InputError
        When the archive fails a check (one line naming every problem), or,
        with ``release``, when ``metadata.txt`` has placeholder addresses.
    OutputPathError
        When ``out`` exists and ``overwrite`` is false, or is a folder.
    OutputWriteError
        When writing fails (a full disk); nothing is left behind.
    FileNotFoundError
        When ``root`` is not the checkout (see :func:`plugin_files`).
    """
    root, out = Path(root), Path(out)
    files = plugin_files(root)
    if release:  # refused before any work; the archive's own check below repeats it
        try:
            placeholders = placeholder_fields(read_metadata((root / "metadata.txt").read_text(encoding="utf-8")))
        except (ValueError, UnicodeDecodeError) as exc:
            raise errors.InputError(f"{root / 'metadata.txt'} cannot be read: {exc}") from None
        if placeholders:
            raise errors.InputError(_not_a_release(placeholders))
    entries = sorted(_folder_entries(root, files) + files, key=lambda e: e[1])
    out.parent.mkdir(parents=True, exist_ok=True)
    with outputs.atomic_file(out, overwrite=overwrite, option="--out") as part:
        with zipfile.ZipFile(part, "w") as zf:
            for src, name in entries:
                info = _entry(src, name)
                if name.endswith("/"):
                    zf.writestr(info, b"")
                else:
                    zf.writestr(info, src.read_bytes())
        problems = repository_checks(part, release=release)
        if problems:
            raise errors.InputError(f"{out.name} would not pass the QGIS plugin repository's checks: " + "; ".join(problems))
        os.chmod(part, 0o644)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python3 glnet_plugin/plugin_zip.py``: build the archive; 0 on success, 2 when a check fails."""
    parser = argparse.ArgumentParser(description="Build the glnet QGIS plugin archive (for Install from ZIP, "
                                     "or the QGIS plugin repository with --release).")
    parser.add_argument("--out", default="dist/glnet.zip", help="archive to write (default dist/glnet.zip)")
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent), help="the checkout")
    parser.add_argument("--release", action="store_true",
                        help="build a release: refuse placeholder addresses (e-mail, tracker, repository, homepage) in metadata.txt")
    args = parser.parse_args(argv)
    root = Path(args.root)
    try:
        out = build_zip(root, Path(args.out), release=args.release)
    except (errors.GlnetError, FileNotFoundError) as exc:
        print(f"glnet: error: {exc}", file=sys.stderr)
        # As the glnet command line: 1 when the system refused a write, 2 for what the user can fix.
        return 1 if isinstance(exc, errors.MachineError) else 2
    with zipfile.ZipFile(out) as zf:
        n = len(zf.namelist())
    print(f"wrote {out} ({n} entries, {out.stat().st_size / 1e6:.1f} MB)")
    if not args.release:
        placeholders = placeholder_fields(read_metadata((root / "metadata.txt").read_text(encoding="utf-8")))
        if placeholders:
            print(f"note: not a release archive: metadata.txt has placeholder {', '.join(placeholders)} "
                  "(make plugin-zip RELEASE=1 refuses it until they are the project's public addresses)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
