"""Build the archive QGIS's "Plugins > Install from ZIP" accepts.

The archive holds one folder, ``glnet/``, with ``metadata.txt`` and what the
plugin runs: the root ``__init__.py``, ``glnet_plugin/``, ``glnet_core/``,
the compiled translations and the README. Tests, benchmarks, docs, training
and export code (they need torch, which QGIS does not have), virtual
environments and caches stay out.

Run with any Python 3 (``make plugin-zip``)::

    python3 glnet_plugin/plugin_zip.py --out dist/glnet.zip
"""

from __future__ import annotations

import argparse
import importlib
import sys
import zipfile
from pathlib import Path
from typing import Iterator, List, Optional, Sequence, Tuple

if __package__:
    from ..glnet_core.formats import outputs
else:  # run as a script (make plugin-zip): the checkout's glnet_core as a top-level package
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    outputs = importlib.import_module("glnet_core.formats.outputs")

__all__ = ["PLUGIN_FOLDER", "plugin_files", "build_zip"]

#: The folder name inside the archive; QGIS installs the plugin under it.
PLUGIN_FOLDER = "glnet"

# Top-level files and folders of the checkout that the plugin needs.
_FILES = ("metadata.txt", "__init__.py", "README.md", "LICENSE")
_FOLDERS = ("glnet_plugin", "glnet_core")
# Parts of those folders the plugin never imports: the command line and the
# sample data (synthetic scenes, the demo model and scene, about 21 MB).
_LEFT_OUT = ("glnet_core/cli", "glnet_core/samples")
_SKIP_SUFFIXES = (".pyc", ".pyo")
_SKIP_DIRS = ("__pycache__",)


def _walk(folder: Path) -> Iterator[Path]:
    for path in sorted(folder.rglob("*")):
        if any(part in _SKIP_DIRS for part in path.relative_to(folder).parts):
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


def build_zip(root: Path, out: Path, overwrite: bool = True) -> Path:
    """Write the plugin archive ``out`` atomically (its hidden part file, then renamed).

    Parameters
    ----------
    root:
        The checkout (the folder holding ``metadata.txt``).
    out:
        The archive to write; missing folders above it are created.
    overwrite:
        Replace an existing ``out`` (the default: ``make plugin-zip`` rebuilds it).

    Returns
    -------
    Path
        ``out``.

    Raises
    ------
    OutputPathError
        When ``out`` exists and ``overwrite`` is false, or is a folder.
    OutputWriteError
        When writing fails (a full disk); nothing is left behind.
    FileNotFoundError
        When ``root`` is not the checkout (see :func:`plugin_files`).
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with outputs.atomic_file(out, overwrite=overwrite, option="--out") as part:
        with zipfile.ZipFile(part, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(zipfile.ZipInfo(f"{PLUGIN_FOLDER}/"), "")
            for src, name in plugin_files(root):
                zf.write(src, name)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Build the glnet QGIS plugin archive (for Install from ZIP).")
    parser.add_argument("--out", default="dist/glnet.zip", help="archive to write (default dist/glnet.zip)")
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent), help="the checkout")
    args = parser.parse_args(argv)
    out = build_zip(Path(args.root), Path(args.out))
    with zipfile.ZipFile(out) as zf:
        n = len(zf.namelist())
    print(f"wrote {out} ({n} entries, {out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
