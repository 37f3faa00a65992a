"""The files of a model bundle: a folder or a zip, the manifest's bytes, checksummed graphs.

:func:`open_bundle_files` gives a :class:`BundleFiles` for a bundle folder
``NAME.glnet/`` or a zip (of such a folder, or with the bundle's files at its
top level). It reads ``manifest.json`` (at most :data:`MAX_MANIFEST_BYTES`)
and hands out each graph only after its SHA-256 matched the manifest's: a
path for a folder (onnxruntime reads it itself), the checked bytes for a zip
member (nothing is extracted). :func:`parse_manifest` is the strict JSON
reading of the manifest (UTF-8, no duplicate keys, no NaN / Infinity).

Every failure is a :class:`~glnet.glnet_core.errors.BundleError` with a
one-line message naming the bundle.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any, Dict, List, Optional, Tuple, Union

from ..errors import BundleError

__all__ = [
    "MANIFEST_NAME",
    "MAX_MANIFEST_BYTES",
    "BundleFiles",
    "open_bundle_files",
    "parse_manifest",
    "sha256_file",
    "sha256_bytes",
]

MANIFEST_NAME = "manifest.json"

# A manifest is a few kilobytes; the cap keeps a corrupt or hostile bundle
# from making us read (or decompress) gigabytes before failing.
MAX_MANIFEST_BYTES = 16 * 1024 * 1024

_HASH_BLOCK = 1 << 20


# --------------------------------------------------------------------------- checksums

def sha256_file(path: Union[str, Path]) -> str:
    """SHA-256 of a file's contents, as 64 lowercase hex digits.

    Parameters
    ----------
    path:
        The file; read in 1 MiB blocks, so size does not matter.

    Returns
    -------
    str

    Raises
    ------
    OSError
        If the file cannot be read.
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_HASH_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """SHA-256 of ``data``, as 64 lowercase hex digits."""
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------- reading

class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: List[Tuple[str, Any]]) -> Dict[str, Any]:
    # json.loads keeps the last of duplicate keys silently; a manifest with
    # two "sha256" entries is ambiguous, so refuse it.
    out: Dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_manifest(data: bytes, source: str) -> Any:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BundleError(f"bundle {source}: {MANIFEST_NAME} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise BundleError(
            f"bundle {source}: {MANIFEST_NAME} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None
    except _DuplicateKey as exc:
        raise BundleError(f"bundle {source}: {MANIFEST_NAME} has the key {str(exc)!r} twice in one object") from None
    except ValueError as exc:
        raise BundleError(f"bundle {source}: {MANIFEST_NAME} is not valid JSON ({exc})") from None
    except RecursionError:
        raise BundleError(f"bundle {source}: {MANIFEST_NAME} is nested too deeply") from None


class BundleFiles:
    """Access to the files of a bundle, in a folder or a zip."""

    source: str

    def manifest_bytes(self) -> bytes:
        raise NotImplementedError

    def graph(self, file: str, expected_sha256: str) -> Tuple[Union[str, bytes], int]:
        """Check a graph file's checksum; return what onnxruntime should open, and its size."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def _checksum_error(self, file: str, actual: str, expected: str, size: int) -> BundleError:
        return BundleError(
            f"bundle {self.source}: {file} fails its checksum (sha256 {actual[:12]}..., manifest says "
            f"{expected[:12]}...; {size} bytes): the file is damaged or was changed after export; "
            "download or export the bundle again"
        )


class _FolderReader(BundleFiles):
    def __init__(self, folder: Path, source: str) -> None:
        self.folder = folder
        self.source = source

    def manifest_bytes(self) -> bytes:
        path = self.folder / MANIFEST_NAME
        if not path.is_file():
            raise BundleError(f"bundle {self.source}: the folder has no {MANIFEST_NAME}; is it a glnet bundle (NAME.glnet)?")
        try:
            if path.stat().st_size > MAX_MANIFEST_BYTES:
                raise BundleError(f"bundle {self.source}: {MANIFEST_NAME} is larger than {MAX_MANIFEST_BYTES} bytes")
            return path.read_bytes()
        except OSError as exc:
            raise BundleError(f"bundle {self.source}: cannot read {MANIFEST_NAME}: {exc.strerror or exc}") from None

    def graph(self, file: str, expected_sha256: str) -> Tuple[Union[str, bytes], int]:
        path = self.folder / file
        if not path.is_file():
            raise BundleError(f"bundle {self.source}: graph file {file} is missing")
        try:
            size = path.stat().st_size
            actual = sha256_file(path)
        except OSError as exc:
            raise BundleError(f"bundle {self.source}: cannot read {file}: {exc.strerror or exc}") from None
        if actual != expected_sha256:
            raise self._checksum_error(file, actual, expected_sha256, size)
        # A path, not bytes: onnxruntime reads it itself, so a large model is
        # not held in memory twice.
        return str(path), size


def _unsafe_member(name: str) -> bool:
    """Whether a zip member name could point outside the archive's folder."""
    if name.startswith(("/", "\\")) or "\\" in name or "\x00" in name:
        return True
    if re.match(r"[A-Za-z]:", name):  # a Windows drive
        return True
    return any(part == ".." for part in PurePosixPath(name).parts)


class _ZipReader(BundleFiles):
    """Reads members into memory; nothing is extracted, so nothing needs cleaning up."""

    def __init__(self, path: Path, source: str) -> None:
        self.source = source
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise BundleError(f"bundle {source}: not a readable zip file ({exc})") from None
        try:
            infos = self.zip.infolist()
            for info in infos:
                if _unsafe_member(info.filename):
                    raise BundleError(
                        f"bundle {source}: zip member {info.filename!r} has an unsafe path (absolute or with '..'); refusing the zip"
                    )
            self.members = {info.filename: info for info in infos if not info.is_dir()}
            self.prefix = self._find_prefix()
        except BaseException:
            self.zip.close()
            raise

    def _find_prefix(self) -> str:
        """The folder inside the zip that holds the bundle ("" for the top level)."""
        candidates = []
        for name in self.members:
            parts = name.split("/")
            if parts == [MANIFEST_NAME]:
                candidates.append("")
            # macOS Finder adds __MACOSX/ with resource forks; never a bundle.
            elif len(parts) == 2 and parts[1] == MANIFEST_NAME and parts[0] != "__MACOSX":
                candidates.append(parts[0] + "/")
        if not candidates:
            raise BundleError(
                f"bundle {self.source}: the zip has no {MANIFEST_NAME} at its top level or in a folder "
                "(NAME.glnet/); is it a glnet bundle?"
            )
        if len(candidates) > 1:
            folders = ", ".join(repr(c or "(top level)") for c in sorted(candidates))
            raise BundleError(f"bundle {self.source}: the zip holds several bundles ({folders}); put one bundle per zip")
        return candidates[0]

    def _read(self, file: str, limit: Optional[int] = None) -> bytes:
        info = self.members.get(self.prefix + file)
        if info is None:
            what = "graph file " if file != MANIFEST_NAME else ""
            raise BundleError(f"bundle {self.source}: {what}{file} is missing from the zip")
        if limit is not None and info.file_size > limit:
            raise BundleError(f"bundle {self.source}: {file} is larger than {limit} bytes")
        try:
            return self.zip.read(info)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, ValueError) as exc:
            # Bad CRC, truncated archive, encrypted member, unknown compression.
            raise BundleError(f"bundle {self.source}: cannot read {file} from the zip ({exc})") from None

    def manifest_bytes(self) -> bytes:
        return self._read(MANIFEST_NAME, MAX_MANIFEST_BYTES)

    def graph(self, file: str, expected_sha256: str) -> Tuple[Union[str, bytes], int]:
        data = self._read(file)
        actual = sha256_bytes(data)
        if actual != expected_sha256:
            raise self._checksum_error(file, actual, expected_sha256, len(data))
        # Bytes: onnxruntime.InferenceSession accepts a serialized model, and
        # keeping the checked bytes means what runs is what was checked.
        return data, len(data)

    def close(self) -> None:
        self.zip.close()


def open_bundle_files(path: Path, source: str) -> BundleFiles:
    if not path.exists():
        raise BundleError(f"bundle {source}: no such file or folder")
    if path.is_dir():
        return _FolderReader(path, source)
    if not path.is_file():
        raise BundleError(f"bundle {source}: neither a folder nor a file")
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise BundleError(f"bundle {source}: cannot read it: {exc.strerror or exc}") from None
    if not zipfile.is_zipfile(path):
        raise BundleError(f"bundle {source}: neither a bundle folder (NAME.glnet) nor a zip file")
    return _ZipReader(path, source)
