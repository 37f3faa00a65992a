"""The scenes of a batch: glob patterns and list files expanded into rasters, each named by its stem.

``glnet batch`` (and :func:`glnet_core.products.batch.run_batch`) takes its
scenes as command-line words, each one of:

* a **glob pattern** (``'scenes/*.tif'``, ``'tiles/**/*.tif'``), expanded by
  glnet (quoted, so the shell does not), matches sorted by name; hidden files
  and folders are not matched, as with any glob;
* a **list file** (a local file ending in ``.txt`` or ``.lst``): one raster per
  line; blank lines and lines starting with ``#`` are skipped; a relative
  path is relative to the list file's folder; ``/vsicurl/`` paths and URLs are
  kept as they are, as ``glnet segment`` takes them;
* a **raster** (a plain path, a GDAL ``/vsi...`` path or a URL).

Each scene's outputs are named after its stem (``scenes/a.tif`` -> ``a``), so
two scenes with the same stem (compared without case, as a case-insensitive
file system would) would write onto each other: :func:`expand_scenes`
refuses them before any work, as it refuses a pattern or a list that names
no raster and a plain path that does not exist. A raster a list names that
is missing or damaged is not refused here: the batch reports it as that
scene's failure and goes on with the others.

Plain Python (``glob``, ``os``): no raster is opened here.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Dict, List, Sequence, Union

from ..errors import InputError
from .input_paths import check_input_path, local_path_of

__all__ = ["LIST_SUFFIXES", "Scene", "scene_stem", "read_scene_list", "expand_scenes"]

PathLike = Union[str, "os.PathLike[str]"]

#: Endings of the local files read as lists of scenes (no raster format uses them).
LIST_SUFFIXES = (".txt", ".lst")

#: The characters that make a word a glob pattern.
_GLOB_MAGIC = ("*", "?", "[")


@dataclass(frozen=True)
class Scene:
    """One raster of a batch.

    Attributes
    ----------
    path:
        The raster as segment opens it: a local path (relative to the
        working folder, or joined to its list file's folder), a ``/vsi...``
        path or a URL.
    stem:
        What its outputs are named after (:func:`scene_stem`).
    """

    path: str
    stem: str

    @property
    def name(self) -> str:
        """The file name (the stem and its extension): what the batch's summary shows."""
        return _last_component(self.path)


def _last_component(path: str) -> str:
    text = path
    if "://" in text:
        # A URL's query and fragment are not part of its name (?token=... on a signed URL).
        text = text.split("#", 1)[0].split("?", 1)[0]
        if text.endswith("/") or "/" not in text.split("://", 1)[1]:
            return ""  # a host or a folder: no file to name the outputs after
    return PurePosixPath(text.replace("\\", "/")).name


def scene_stem(path: str) -> str:
    """The name a scene's outputs get: its file name without the last extension.

    ``scenes/a.tif`` -> ``a``; ``/vsicurl/https://host/b.tif?sig=x`` -> ``b``;
    ``c.tar.tif`` -> ``c.tar``.

    Raises
    ------
    InputError
        When the path has no file name to take one from (a URL ending in ``/``).
    """
    stem = PurePosixPath(_last_component(path)).stem
    if not stem or stem in (".", ".."):
        raise InputError(f"SCENES: {path} has no file name to name its outputs after; give the raster's own path")
    return stem


def _is_list_file(word: str) -> bool:
    return local_path_of(word) == word and word.lower().endswith(LIST_SUFFIXES)


def _is_pattern(word: str) -> bool:
    # Only local paths are patterns: a URL's "?" starts its query.
    return local_path_of(word) == word and any(c in word for c in _GLOB_MAGIC) and not os.path.lexists(word)


def read_scene_list(path: PathLike) -> List[str]:
    """The rasters a list file names, in its order.

    Parameters
    ----------
    path:
        A UTF-8 text file: one raster per line; blank lines and lines whose
        first non-blank character is ``#`` are skipped; surrounding blanks
        are stripped. A relative local path is joined to the list file's
        folder; ``/vsi...`` paths and URLs are kept as written.

    Returns
    -------
    list of str

    Raises
    ------
    InputError
        If the file does not exist, is not a regular file (a pipe would
        hang), cannot be read or is not UTF-8 text.
    """
    text_path = os.fspath(path)
    check_input_path(text_path, "SCENES")
    if not os.path.exists(text_path):
        raise InputError(f"SCENES: list file {text_path} does not exist")
    if os.path.isdir(text_path):
        raise InputError(f"SCENES: {text_path} is a folder; give a list file or a quoted pattern such as '{text_path}/*.tif'")
    try:
        with open(text_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except UnicodeDecodeError:
        raise InputError(f"SCENES: list file {text_path} is not UTF-8 text (one raster per line)") from None
    except OSError as exc:
        raise InputError(f"SCENES: cannot read list file {text_path}: {exc.strerror or exc}") from None
    folder = os.path.dirname(text_path)
    out: List[str] = []
    for line in lines:
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        if local_path_of(entry) == entry and not os.path.isabs(entry):
            entry = os.path.join(folder, entry)
        out.append(entry)
    return out


def expand_scenes(words: Sequence[str]) -> List[Scene]:
    """The scenes that glob patterns, list files and raster paths name, in order, checked for collisions.

    Parameters
    ----------
    words:
        What the user gave (see the module docstring): patterns (matches
        sorted by name; folders skipped), list files, rasters.

    Returns
    -------
    list of Scene
        In the order of ``words`` (each pattern's matches sorted).

    Raises
    ------
    InputError
        Before any work: a pattern that matches no file, a list that names
        no raster, a plain local path that does not exist, or two scenes
        whose stems are equal (without case), which would write the same
        outputs (``SCENES: a/x.tif and b/x.tif have the same name x ...``).
    """
    paths: List[str] = []
    for word in words:
        if _is_list_file(word):
            listed = read_scene_list(word)
            if not listed:
                raise InputError(f"SCENES: list file {word} names no raster (blank lines and # comments only)")
            paths.extend(listed)
        elif _is_pattern(word):
            matches = sorted(m for m in glob.glob(word, recursive=True) if not os.path.isdir(m))
            if not matches:
                raise InputError(f"SCENES: {word} matches no file")
            paths.extend(matches)
        else:
            local = local_path_of(word)
            if local == word and not os.path.lexists(word):
                raise InputError(f"SCENES: {word} does not exist")
            paths.append(word)
    scenes = [Scene(p, scene_stem(p)) for p in paths]
    seen: Dict[str, Scene] = {}
    for s in scenes:
        key = s.stem.casefold()
        first = seen.get(key)
        if first is not None:
            how = "the same scene" if os.path.normpath(first.path) == os.path.normpath(s.path) else "two scenes"
            raise InputError(f"SCENES: {first.path} and {s.path} are {how} with the name {s.stem}: their outputs "
                             "would collide; give each scene once, with names that differ")
        seen[key] = s
    return scenes
