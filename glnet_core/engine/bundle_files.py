"""The files of a model bundle: a folder or a zip, the manifest's bytes, checksummed graphs.

:func:`open_bundle_files` gives a :class:`BundleFiles` for a bundle folder
``NAME.glnet/`` or a zip (of such a folder, or with the bundle's files at its
top level). It reads ``manifest.json`` (at most :data:`MAX_MANIFEST_BYTES`)
and hands out each graph only after its SHA-256 matched the manifest's and
it was found to keep no tensor in an external data file (which no checksum
would cover; :mod:`.onnx_external_data`): a path for a folder (onnxruntime
reads it itself), the checked bytes for a zip member (nothing is extracted).
:func:`parse_manifest` is the strict JSON reading of the manifest (UTF-8, no
duplicate keys, no NaN / Infinity).

What a bundle may not do:

* folder: a member that is a symbolic link leading outside the bundle
  folder, or is not a regular file;
* zip: members with absolute or ``..`` names, two members of one name,
  symbolic links, more than :data:`MAX_ZIP_MEMBERS` members, a member larger
  than its cap (:data:`MAX_GRAPH_BYTES`, :data:`MAX_MANIFEST_BYTES`) or
  inflating more than :data:`MAX_INFLATION` times, local headers that
  disagree with the central directory, and a stream longer or shorter than
  its declared size. Members are hashed as they are decompressed, in 1 MiB
  blocks, and a graph is held in memory only once its checksum matched.

Every failure is a :class:`~glnet.glnet_core.errors.BundleError` with a
one-line message naming the bundle.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import re
import stat
import struct
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any, Dict, List, Optional, Tuple, Union

from ..errors import BundleError
from .onnx_external_data import MalformedModel, external_tensor

__all__ = [
    "MANIFEST_NAME",
    "MAX_MANIFEST_BYTES",
    "MAX_GRAPH_BYTES",
    "MAX_INFLATION",
    "MAX_ZIP_MEMBERS",
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

#: An ONNX file without external data is one protobuf message, which cannot
#: exceed 2 GiB; a larger graph file cannot be a glnet graph.
MAX_GRAPH_BYTES = 2**31 - 1

#: Zip members larger than ``_INFLATION_FLOOR`` may inflate at most this many
#: times: network weights barely compress (1.1x for the demo bundle), so a
#: member that inflates 30x is a zip bomb, refused before it is read.
MAX_INFLATION = 32
_INFLATION_FLOOR = 1 << 20

#: A bundle has a manifest and five graphs; a zip of thousands of members is
#: not one (and its directory alone would cost memory).
MAX_ZIP_MEMBERS = 1000

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
        """Check a graph file's checksum and that it needs no other file; return what onnxruntime should open, and its size."""
        raise NotImplementedError

    def close(self) -> None:
        pass

    def _checksum_error(self, file: str, actual: str, expected: str, size: int) -> BundleError:
        return BundleError(
            f"bundle {self.source}: {file} fails its checksum (sha256 {actual[:12]}..., manifest says "
            f"{expected[:12]}...; {size} bytes): the file is damaged or was changed after export; "
            "download or export the bundle again"
        )

    def _check_self_contained(self, file: str, data: Any) -> None:
        """Refuse a graph that keeps weights in other files: no checksum would cover them."""
        try:
            tensor = external_tensor(data)
        except MalformedModel as exc:
            raise BundleError(f"bundle {self.source}: {file} is not a valid ONNX file ({exc})") from None
        if tensor is not None:
            raise BundleError(
                f"bundle {self.source}: {file} keeps tensor {tensor!r} in an external data file, which no checksum "
                "covers; glnet bundles hold every weight inside their graph files (export the bundle again)"
            )


class _FolderReader(BundleFiles):
    def __init__(self, folder: Path, source: str) -> None:
        self.folder = folder
        self.source = source
        # The bundle folder itself may be a link (models/current.glnet ->
        # v2.glnet); its members must lie inside wherever it leads.
        self.real = folder.resolve()

    def _member(self, file: str, what: str) -> Path:
        """The path of a member file that lies inside the bundle folder and is a regular file."""
        path = self.folder / file
        if path.is_symlink():
            target = path.resolve()
            if target.parent != self.real and self.real not in target.parents:
                raise BundleError(
                    f"bundle {self.source}: {what}{file} is a symbolic link to {target}, outside the bundle folder; "
                    "a bundle's files must lie inside it"
                )
        if not path.exists():
            raise BundleError(f"bundle {self.source}: {what}{file} is missing")
        if not path.is_file():
            raise BundleError(f"bundle {self.source}: {what}{file} is not a regular file")
        return path

    def manifest_bytes(self) -> bytes:
        if not os.path.lexists(self.folder / MANIFEST_NAME):
            raise BundleError(f"bundle {self.source}: the folder has no {MANIFEST_NAME}; is it a glnet bundle (NAME.glnet)?")
        path = self._member(MANIFEST_NAME, "")
        try:
            with open(path, "rb") as f:
                data = f.read(MAX_MANIFEST_BYTES + 1)
        except OSError as exc:
            raise BundleError(f"bundle {self.source}: cannot read {MANIFEST_NAME}: {exc.strerror or exc}") from None
        if len(data) > MAX_MANIFEST_BYTES:
            raise BundleError(f"bundle {self.source}: {MANIFEST_NAME} is larger than {MAX_MANIFEST_BYTES} bytes")
        return data

    def graph(self, file: str, expected_sha256: str) -> Tuple[Union[str, bytes], int]:
        path = self._member(file, "graph file ")
        try:
            with open(path, "rb") as f:
                size = os.fstat(f.fileno()).st_size
                if size > MAX_GRAPH_BYTES:
                    raise BundleError(
                        f"bundle {self.source}: {file} has {size} bytes, more than an ONNX file can hold ({MAX_GRAPH_BYTES})"
                    )
                h = hashlib.sha256()
                for block in iter(lambda: f.read(_HASH_BLOCK), b""):
                    h.update(block)
                actual = h.hexdigest()
                if actual != expected_sha256:
                    raise self._checksum_error(file, actual, expected_sha256, size)
                if size == 0:
                    raise BundleError(f"bundle {self.source}: {file} is empty")
                # Mapped, not read: the scan skips the weights by their
                # lengths, so a large graph is not brought into memory.
                with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
                    self._check_self_contained(file, mapped)
        except OSError as exc:
            raise BundleError(f"bundle {self.source}: cannot read {file}: {exc.strerror or exc}") from None
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


def _is_link(info: zipfile.ZipInfo) -> bool:
    # Unix modes live in the high 16 bits of external_attr (zip's "made by" Unix).
    return stat.S_ISLNK(info.external_attr >> 16)


class _ZipReader(BundleFiles):
    """Reads members into memory after streaming them through their checks; nothing is extracted."""

    def __init__(self, path: Path, source: str) -> None:
        self.source = source
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
            raise BundleError(f"bundle {source}: not a readable zip file ({exc})") from None
        try:
            infos = self.zip.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:
                raise BundleError(
                    f"bundle {source}: the zip has {len(infos)} members, more than a bundle has ({MAX_ZIP_MEMBERS} at most)"
                )
            seen = set()
            for info in infos:
                if _unsafe_member(info.filename):
                    raise BundleError(
                        f"bundle {source}: zip member {info.filename!r} has an unsafe path (absolute or with '..'); refusing the zip"
                    )
                # Two members of one name: which one is "the" file depends on
                # the tool that reads the zip.
                if info.filename in seen:
                    raise BundleError(f"bundle {source}: zip member {info.filename!r} appears twice; refusing the zip")
                seen.add(info.filename)
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

    def _info(self, file: str, limit: int) -> zipfile.ZipInfo:
        """The member of ``file``, after the checks its headers allow (nothing is decompressed)."""
        info = self.members.get(self.prefix + file)
        what = "graph file " if file != MANIFEST_NAME else ""
        if info is None:
            raise BundleError(f"bundle {self.source}: {what}{file} is missing from the zip")
        if _is_link(info):
            raise BundleError(f"bundle {self.source}: {what}{file} is a symbolic link in the zip; a bundle holds plain files")
        if info.file_size > limit:
            raise BundleError(f"bundle {self.source}: {file} is larger than {limit} bytes ({info.file_size} in the zip)")
        if info.file_size > _INFLATION_FLOOR and info.file_size > MAX_INFLATION * max(info.compress_size, 1):
            raise BundleError(
                f"bundle {self.source}: {file} inflates from {info.compress_size} to {info.file_size} bytes "
                f"(more than {MAX_INFLATION} times); model files do not compress like that: refusing a zip bomb"
            )
        problem = self._local_header_problem(info)
        if problem:
            raise BundleError(f"bundle {self.source}: zip member {info.filename!r}: {problem}; refusing the zip")
        return info

    def _local_header_problem(self, info: zipfile.ZipInfo) -> Optional[str]:
        """How a member's local header disagrees with the central directory, or ``None``."""
        fp = self.zip.fp
        if fp is None:
            return "the zip is closed"
        fp.seek(info.header_offset)
        header = fp.read(30)
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            return "no local header where the central directory says"
        flags, = struct.unpack("<H", header[6:8])
        crc, csize, usize = struct.unpack("<III", header[14:26])
        if flags & 0x08:
            return None  # sizes follow the data (a data descriptor); zipfile checks the CRC there
        if crc != info.CRC:
            return "its local header and the central directory give different CRCs"
        if 0xFFFFFFFF not in (csize, usize) and (csize, usize) != (info.compress_size, info.file_size):
            return (f"its local header says {usize} bytes ({csize} compressed), the central directory "
                    f"{info.file_size} ({info.compress_size})")
        return None

    def _stream(self, info: zipfile.ZipInfo, file: str, keep: bool) -> Tuple[str, Optional[bytes]]:
        """SHA-256 of a member read in blocks (and its bytes when ``keep``), holding it to its declared size."""
        h = hashlib.sha256()
        count = 0
        blocks: List[bytes] = []
        try:
            with self.zip.open(info) as f:
                while True:
                    block = f.read(_HASH_BLOCK)
                    if not block:
                        break
                    count += len(block)
                    if count > info.file_size:
                        raise BundleError(
                            f"bundle {self.source}: {file} inflates past its declared {info.file_size} bytes; refusing the zip"
                        )
                    h.update(block)
                    if keep:
                        blocks.append(block)
        except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, NotImplementedError, ValueError, zlib.error) as exc:
            # Bad CRC, truncated archive, encrypted member, unknown compression.
            raise BundleError(f"bundle {self.source}: cannot read {file} from the zip ({exc})") from None
        if count != info.file_size:
            raise BundleError(
                f"bundle {self.source}: {file} holds {count} bytes but the zip declares {info.file_size}; refusing the zip"
            )
        return h.hexdigest(), b"".join(blocks) if keep else None

    def manifest_bytes(self) -> bytes:
        info = self._info(MANIFEST_NAME, MAX_MANIFEST_BYTES)
        _, data = self._stream(info, MANIFEST_NAME, keep=True)
        assert data is not None
        return data

    def graph(self, file: str, expected_sha256: str) -> Tuple[Union[str, bytes], int]:
        info = self._info(file, MAX_GRAPH_BYTES)
        # First only through the hash, so a member that fails its checksum
        # never sits in memory; then kept for onnxruntime and hashed again,
        # so what runs is exactly what was checked.
        actual, _ = self._stream(info, file, keep=False)
        if actual != expected_sha256:
            raise self._checksum_error(file, actual, expected_sha256, info.file_size)
        actual, data = self._stream(info, file, keep=True)
        assert data is not None
        if actual != expected_sha256:
            raise self._checksum_error(file, actual, expected_sha256, info.file_size)
        if not data:
            raise BundleError(f"bundle {self.source}: {file} is empty")
        self._check_self_contained(file, data)
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
