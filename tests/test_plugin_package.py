"""The plugin archive: ``make plugin-zip`` builds what the QGIS plugin repository accepts.

The archive is really built (``build_zip`` and ``make plugin-zip``), checked
with the same :func:`repository_checks` the build runs, unpacked by the real
``unzip`` as an unprivileged user, and every check is shown to fail on an
archive that breaks its rule. No QGIS needed (the QGIS side, help links and
icons, is in ``tests/qgis/test_plugin_package_qgis.py``).
"""

from __future__ import annotations

import copy
import os
import pwd
import re
import shutil
import struct
import subprocess
import tempfile
import zipfile
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

import pytest

from glnet.glnet_core.errors import InputError
from glnet.glnet_plugin import plugin_zip
from glnet.glnet_plugin.plugin_metadata import placeholder_fields, read_metadata
from glnet.glnet_plugin.plugin_zip import (
    CATEGORIES,
    DIR_MODE,
    FILE_MODE,
    MAX_ARCHIVE_BYTES,
    build_zip,
    plugin_files,
    repository_checks,
)

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "glnet_plugin" / "plugin_zip.py"
#: The interpreter `make plugin-zip` uses (QGIS's); any Python 3 runs the script.
MAKE_PYTHON = "/usr/bin/python3"
REAL_ADDRESSES = {"email": "maintainers@glnet-project.eu", "repository": "https://github.com/glnet-project/glnet",
                  "tracker": "https://github.com/glnet-project/glnet/issues", "homepage": "https://glnet-project.eu"}


def _checkout_placeholders() -> List[str]:
    return placeholder_fields(read_metadata((ROOT / "metadata.txt").read_text(encoding="utf-8")))


def _set_field(text: str, field: str, value: Optional[str]) -> str:
    """metadata.txt with ``field`` set to ``value`` (a new line if absent), or removed (None)."""
    pattern = re.compile(rf"^{re.escape(field)}=.*$\n?", re.M)
    if value is None:
        return pattern.sub("", text)
    if pattern.search(text):
        return pattern.sub(lambda _m: f"{field}={value}\n", text, count=1)
    return text.rstrip("\n") + f"\n{field}={value}\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    return build_zip(ROOT, tmp_path_factory.mktemp("zip") / "glnet.zip")


@pytest.fixture(scope="module")
def members(built) -> List[Tuple[zipfile.ZipInfo, bytes]]:
    with zipfile.ZipFile(built) as zf:
        return [(info, zf.read(info)) for info in zf.infolist()]


# ----------------------------------------------------------------------------- the built archive


def test_built_archive_passes_the_repository_checks(built):
    assert repository_checks(built) == []
    release = repository_checks(built, release=True)
    placeholders = _checkout_placeholders()
    if placeholders:  # until the project has a public home: only the release switch objects
        assert len(release) == 1 and release[0].startswith("not a release: metadata.txt has placeholder " + ", ".join(placeholders))
    else:
        assert release == []


def test_archive_ships_the_mit_license_and_a_png_icon(built):
    with zipfile.ZipFile(built) as zf:
        names = zf.namelist()
        license_text = zf.read("glnet/LICENSE").decode("utf-8")
        meta = read_metadata(zf.read("glnet/metadata.txt").decode("utf-8"))
        icon = zf.read(f"glnet/{meta['icon']}")
    assert license_text == (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert license_text.startswith("MIT License") and "Copyright (c) 2026 glnet developers" in license_text
    assert 'license = {text = "MIT"}' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert meta["icon"] == "glnet_plugin/icon.png"
    # PNG signature, then the IHDR chunk: width and height.
    assert icon[:8] == b"\x89PNG\r\n\x1a\n" and icon[12:16] == b"IHDR"
    assert struct.unpack(">II", icon[16:24]) == (128, 128)
    assert "glnet/glnet_plugin/icon.svg" in names  # the source stays (the provider's icon)


def test_metadata_values_are_ones_qgis_and_the_repository_allow(built):
    with zipfile.ZipFile(built) as zf:
        meta = read_metadata(zf.read("glnet/metadata.txt").decode("utf-8"))
    assert meta["category"] == "Raster" and meta["category"] in CATEGORIES
    tags = [t.strip() for t in meta["tags"].split(",")]
    assert "glnet" in tags and "land cover" in tags and "deepglobe" in tags
    assert not {"raster", "processing", "python", "vector", "qgis"} & {t.lower() for t in tags}
    assert meta["qgisMinimumVersion"] == "3.22" and meta["hasProcessingProvider"] == "yes"


def test_archive_holds_the_plugin_only(built):
    with zipfile.ZipFile(built) as zf:
        names = zf.namelist()
    assert names[0] == "glnet/"
    assert {n for n in names if not n.endswith("/")} == {name for _src, name in plugin_files(ROOT)}
    for banned in ("tests/", "benchmarks/", "models/", "export/", "glnet_core/cli/", "glnet_core/samples/", "/."):
        assert not any(banned in n for n in names), banned


def test_entries_are_0644_files_and_0755_folders(built, members):
    folders = [info for info, _ in members if info.is_dir()]
    files = [info for info, _ in members if not info.is_dir()]
    assert folders and files
    assert all(info.external_attr >> 16 == DIR_MODE and info.external_attr & 0x10 for info in folders)
    assert all(info.external_attr >> 16 == FILE_MODE for info in files)
    assert all(info.create_system == 3 for info, _ in members)
    # Every folder of every file has its own entry.
    names = {info.filename for info, _ in members}
    assert all(str(Path(info.filename).parent) + "/" in names for info in files)
    # The archive itself is readable by whoever it is handed to.
    assert built.stat().st_mode & 0o777 == 0o644


def _as_unprivileged(cmd: List[str]) -> List[str]:
    """``cmd`` run as ``nobody`` when the tests run as root; as the current (unprivileged) user otherwise."""
    if os.geteuid() != 0:
        return cmd
    nobody = pwd.getpwnam("nobody")
    return ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}", "--clear-groups", *cmd]


def test_unzip_as_an_unprivileged_user_gives_a_readable_plugin(built):
    """The real `unzip`, under umask 077, as a user who owns nothing here: every folder lists, every file reads."""
    assert shutil.which("unzip"), "the unzip program is missing (apt-get install unzip)"
    work = Path(tempfile.mkdtemp(prefix="glnet-unzip-"))
    try:
        work.chmod(0o777)  # writable for nobody; mkdtemp makes it 0700
        archive = work / "glnet.zip"
        shutil.copyfile(built, archive)
        archive.chmod(0o644)
        script = ("umask 077 && unzip -q glnet.zip -d out && find out -type d -exec ls {} + >/dev/null "
                  "&& find out -type f -exec cat {} + >/dev/null")
        proc = subprocess.run(_as_unprivileged(["/bin/sh", "-c", script]), cwd=work, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-2000:]
        plugin = work / "out" / "glnet"
        assert (plugin / "metadata.txt").is_file() and (plugin / "LICENSE").is_file()
        for path in [plugin, *plugin.rglob("*")]:
            mode = path.stat().st_mode & 0o777
            assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))
    finally:
        shutil.rmtree(work, ignore_errors=True)


# ----------------------------------------------------------------------------- make plugin-zip


def _make_plugin_zip(out: Path, release: bool) -> subprocess.CompletedProcess:
    args = ["make", "--no-print-directory", "-C", str(ROOT), "plugin-zip", f"PLUGIN_ZIP={out}"]
    return subprocess.run(args + (["RELEASE=1"] if release else []), capture_output=True, text=True, timeout=300)


def test_make_plugin_zip_builds_a_checked_local_archive(tmp_path):
    out = tmp_path / "glnet.zip"
    proc = _make_plugin_zip(out, release=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert repository_checks(out) == []
    notes = [line for line in proc.stdout.splitlines() if line.startswith("note: not a release archive")]
    placeholders = _checkout_placeholders()
    assert len(notes) == (1 if placeholders else 0)
    if placeholders:
        assert ", ".join(placeholders) in notes[0] and "RELEASE=1" in notes[0]


def test_make_plugin_zip_release_refuses_placeholders(tmp_path):
    out = tmp_path / "glnet.zip"
    proc = _make_plugin_zip(out, release=True)
    placeholders = _checkout_placeholders()
    if not placeholders:  # the project has its public home: a release builds and passes
        assert proc.returncode == 0 and repository_checks(out, release=True) == []
        return
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("glnet: error:")]
    assert len(errors) == 1 and "not a release" in errors[0]
    assert all(field in errors[0] for field in placeholders)
    assert "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []  # no archive, no part file


def _copy_checkout(dest: Path, metadata: Optional[Callable[[str], str]] = None, drop: Tuple[str, ...] = ()) -> Path:
    """The plugin's files of the checkout (what the archive takes), with metadata.txt changed and files left out."""
    for src, name in plugin_files(ROOT):
        rel = name.split("/", 1)[1]
        if rel in drop:
            continue
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
    if metadata:
        path = dest / "metadata.txt"
        path.write_text(metadata(path.read_text(encoding="utf-8")), encoding="utf-8")
    return dest


def _with_real_addresses(text: str) -> str:
    for field, value in REAL_ADDRESSES.items():
        text = _set_field(text, field, value)
    return text


def test_release_builds_once_the_addresses_are_real(tmp_path):
    root = _copy_checkout(tmp_path / "checkout", metadata=_with_real_addresses)
    out = tmp_path / "dist" / "glnet.zip"
    proc = subprocess.run([MAKE_PYTHON, str(SCRIPT), "--root", str(root), "--out", str(out), "--release"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "note:" not in proc.stdout
    assert repository_checks(out, release=True) == []


def test_release_script_refuses_each_placeholder_field(tmp_path):
    def metadata(text: str) -> str:
        text = _set_field(_with_real_addresses(text), "tracker", "http://localhost:8000/issues")
        return _set_field(text, "homepage", "")

    root = _copy_checkout(tmp_path / "checkout", metadata=metadata)
    out = tmp_path / "dist" / "glnet.zip"
    proc = subprocess.run([MAKE_PYTHON, str(SCRIPT), "--root", str(root), "--out", str(out), "--release"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [proc.stderr.strip()]  # one line
    assert proc.stderr.startswith("glnet: error: not a release: metadata.txt has placeholder tracker, homepage;")
    assert not out.exists() and (not out.parent.exists() or list(out.parent.iterdir()) == [])


def test_a_failing_check_leaves_no_archive(tmp_path, capsys):
    root = _copy_checkout(tmp_path / "checkout", drop=("LICENSE",))
    out = tmp_path / "dist" / "glnet.zip"
    with pytest.raises(InputError, match=r"glnet/LICENSE is missing"):
        build_zip(root, out)
    assert not out.exists() and list(out.parent.iterdir()) == []
    assert plugin_zip.main(["--root", str(root), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("glnet: error: glnet.zip would not pass the QGIS plugin repository's checks: ") and err.count("\n") == 1
    assert not out.exists()


def test_placeholder_rule():
    real = dict(REAL_ADDRESSES)
    assert placeholder_fields(real) == []
    cases = {"https://example.org/glnet": True, "https://docs.example.com/x": True, "http://example.net": True,
             "http://localhost/x": True, "http://127.0.0.1:8000": True, "http://bugs": True, "": True,
             "https://glnet.invalid/": True, "https://github.com/example/glnet": False, "https://example.org.eu": False}
    for url, placeholder in cases.items():
        assert (placeholder_fields(dict(real, homepage=url)) == ["homepage"]) == placeholder, url
    assert placeholder_fields({k: v for k, v in real.items() if k != "tracker"}) == ["tracker"]
    assert placeholder_fields(dict(real, email="glnet-dev@example.org")) == ["email"]
    assert placeholder_fields(dict(real, email="nobody")) == ["email"]


# ----------------------------------------------------------------------------- each check can fail

Members = List[Tuple[zipfile.ZipInfo, bytes]]


def _info(name: str, mode: int, like: zipfile.ZipInfo) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=like.date_time)
    info.create_system = 3
    info.external_attr = (mode << 16) | (0x10 if name.endswith("/") else 0)
    return info


def _file(name: str, data: bytes = b"x = 1\n", mode: int = FILE_MODE) -> Callable[[Members], Members]:
    def add(ms: Members) -> Members:
        return ms + [(_info(name, mode, ms[0][0]), data)]
    return add


def _drop(name: str) -> Callable[[Members], Members]:
    return lambda ms: [(i, d) for i, d in ms if i.filename != name]


def _meta(field: str, value: Optional[str]) -> Callable[[Members], Members]:
    def change(ms: Members) -> Members:
        return [(i, _set_field(d.decode(), field, value).encode() if i.filename == "glnet/metadata.txt" else d) for i, d in ms]
    return change


def _mode(name: str, mode: int) -> Callable[[Members], Members]:
    def change(ms: Members) -> Members:
        out = []
        for info, data in ms:
            if info.filename == name:
                info = _info(name, mode, info)
            out.append((info, data))
        return out
    return change


def _rename_top(new: str) -> Callable[[Members], Members]:
    def change(ms: Members) -> Members:
        out = []
        for info, data in ms:
            clone = _info(new + info.filename[len("glnet"):], info.external_attr >> 16, info)
            out.append((clone, data))
        return out
    return change


BROKEN: Dict[str, Tuple[Callable[[Members], Members], str]] = {
    "no LICENSE": (_drop("glnet/LICENSE"), "glnet/LICENSE is missing"),
    "no __init__.py": (_drop("glnet/__init__.py"), "glnet/__init__.py is missing"),
    "no metadata.txt": (_drop("glnet/metadata.txt"), "glnet/metadata.txt is missing"),
    "category Analysis": (_meta("category", "Analysis"), "category 'Analysis' is not one QGIS knows"),
    "a .pyc inside": (_file("glnet/glnet_core/x.cpython-311.pyc", b"\x00" * 16), "x.cpython-311.pyc: compiled code"),
    "a __pycache__ folder": (_file("glnet/glnet_core/__pycache__/x.py"), "inside a __pycache__ folder"),
    "a shared library": (_file("glnet/glnet_core/fast.so", b"\x7fELF\x02\x01"), "fast.so: compiled code or an executable"),
    "an executable without a suffix": (_file("glnet/glnet_core/helper", b"\x7fELF\x02\x01\x01"), "helper: an executable or library"),
    "a Windows executable": (_file("glnet/tool.exe", b"MZ\x90\x00"), "tool.exe: compiled code or an executable"),
    "a hidden file": (_file("glnet/glnet_core/.DS_Store", b"junk"), ".DS_Store: a hidden file"),
    "a .git folder": (_file("glnet/.git/config", b"[core]\n"), "inside a .git folder"),
    "a 0600 folder entry": (_mode("glnet/", 0o600), "glnet/: folder entry stored with mode 0o600"),
    "a 0700 folder entry": (_mode("glnet/glnet_core/", DIR_MODE & ~0o077), "glnet/glnet_core/: folder entry stored with mode 0o40700"),
    "a 0600 file": (_mode("glnet/metadata.txt", 0o100600), "glnet/metadata.txt: stored with mode 0o100600"),
    "an executable bit": (_mode("glnet/__init__.py", 0o100755), "glnet/__init__.py: stored with mode 0o100755"),
    "a folder without its entry": (_drop("glnet/i18n/"), "glnet/i18n/: the folder has no entry of its own"),
    "two top folders": (_file("other/readme.txt", b"hi"), "exactly one top folder, the plugin; it has: glnet, other"),
    "a file beside the folder": (_file("README.txt", b"hi"), "exactly one top folder"),
    "a top folder that is no identifier": (_rename_top("glnet-plugin"), "top folder 'glnet-plugin' is not a valid plugin name"),
    "a path with ..": (_file("glnet/../evil.py"), "glnet/../evil.py: an absolute path, a drive, a backslash or '..'"),
    "a backslash": (_file("glnet\\evil.py"), "a backslash"),
    "no email": (_meta("email", None), "metadata.txt lacks required fields: email"),
    "empty about": (_meta("about", ""), "metadata.txt lacks required fields: about"),
    "no tracker and repository": (lambda ms: _meta("repository", None)(_meta("tracker", None)(ms)), "lacks required fields: tracker, repository"),
    "a word as version": (_meta("version", "first"), "version 'first' is not dotted numbers"),
    "QGIS 2": (_meta("qgisMinimumVersion", "2.18"), "qgisMinimumVersion 2.18 is older than QGIS 3"),
    "a bad minimum": (_meta("qgisMinimumVersion", "latest"), "qgisMinimumVersion 'latest' is not a QGIS version"),
    "a maximum below the minimum": (_meta("qgisMaximumVersion", "3.10"), "qgisMaximumVersion 3.10 is below qgisMinimumVersion 3.22"),
    "not an e-mail": (_meta("email", "glnet developers"), "email 'glnet developers' is not an e-mail address"),
    "the template tracker": (_meta("tracker", "http://bugs"), "tracker 'http://bugs' is not a web address"),
    "an ftp repository": (_meta("repository", "ftp://example.org/glnet"), "repository 'ftp://example.org/glnet' is not a web address"),
    "a slash in author": (_meta("author", "glnet/QGIS developers"), "author contains a slash"),
    "HTML in about": (_meta("about", "Segments <b>land cover</b> with GLNet."), "about contains HTML"),
    "about repeats description": (lambda ms: _meta("about", _description(ms))(ms), "about repeats description"),
    "a two-line description": (_meta("description", "Land cover.\n    And more."), "description has more than one line"),
    "a flag that is no flag": (_meta("experimental", "maybe"), "experimental 'maybe' is not True or False"),
    "generic tags": (_meta("tags", "glnet,raster,Processing,python"), "tags too general to find the plugin by: raster, processing, python"),
    "no icon field": (_meta("icon", None), "metadata.txt has no icon"),
    "an icon not in the archive": (_meta("icon", "glnet_plugin/missing.png"), "the icon glnet_plugin/missing.png named in metadata.txt is not in the archive"),
    "an SVG icon": (_meta("icon", "glnet_plugin/icon.svg"), "the icon glnet_plugin/icon.svg is not a PNG or JPEG image"),
    "metadata without [general]": (lambda ms: [(i, b"[plugin]\nname=x\n" if i.filename == "glnet/metadata.txt" else d) for i, d in ms],
                                   "glnet/metadata.txt cannot be read: no [general] section"),
}


def _description(ms: Members) -> str:
    meta = next(d for i, d in ms if i.filename == "glnet/metadata.txt")
    return read_metadata(meta.decode())["description"]


def _write(path: Path, ms: Members, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression=compression) as zf:
        for info, data in ms:
            info = copy.copy(info)  # writestr fills in sizes and offsets; the fixture's entries stay as read
            info.compress_type = compression
            zf.writestr(info, data)
    return path


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_check_can_fail(case, members, tmp_path):
    change, expected = BROKEN[case]
    problems = repository_checks(_write(tmp_path / "broken.zip", change(list(members))))
    assert any(expected in p for p in problems), problems
    # Only the one fault is reported (and the unbroken archive passes: test_built_archive_passes_the_repository_checks).
    assert len(problems) <= 2, problems


def test_an_unchanged_rewrite_passes(members, tmp_path):
    """The rewriting the cases above use keeps a good archive good, so each of them fails for its own fault."""
    assert repository_checks(_write(tmp_path / "same.zip", list(members))) == []


def test_too_large_archive_fails(members, tmp_path):
    # Random bytes do not compress: the archive grows past the limit for real.
    noise = os.urandom(MAX_ARCHIVE_BYTES + 1000)
    path = _write(tmp_path / "big.zip", _file("glnet/glnet_core/weights.bin", noise)(list(members)), compression=zipfile.ZIP_STORED)
    assert path.stat().st_size > MAX_ARCHIVE_BYTES
    problems = repository_checks(path)
    assert any("the repository takes at most 25 MB" in p for p in problems), problems


def test_damaged_archive_fails(members, tmp_path):
    path = _write(tmp_path / "damaged.zip", list(members), compression=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    at = data.find(b"Permission is hereby granted")  # inside the stored LICENSE
    assert at > 0
    data[at] ^= 0xFF
    path.write_bytes(bytes(data))
    problems = repository_checks(path)
    assert any(p.startswith("glnet/LICENSE: damaged in the archive") for p in problems), problems


def test_not_a_zip_fails(tmp_path):
    path = tmp_path / "glnet.zip"
    path.write_text("not a zip", encoding="utf-8")
    (problem,) = repository_checks(path)
    assert problem.startswith("glnet.zip is not a readable zip archive")


def test_script_runs_without_the_package(tmp_path):
    """`make plugin-zip` runs the file as a script with QGIS's Python, outside any virtual environment."""
    out = tmp_path / "glnet.zip"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    proc = subprocess.run([MAKE_PYTHON, str(SCRIPT), "--out", str(out)], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"wrote {out} (") and repository_checks(out) == []
