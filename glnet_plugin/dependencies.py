"""The Python packages the plugin needs inside QGIS, and how to get them.

QGIS runs its own Python. glnet uses what is importable there: numpy,
rasterio, shapely, geopandas and fiona (or pyogrio) as the system provides
them (on Debian the ``python3-*`` packages, built against QGIS's own GDAL,
which is why a pip wheel with its own GDAL must not be loaded beside it),
and onnxruntime from a plugin-private folder, :func:`deps_dir`, and is
filled with ``pip --no-deps`` only, so that QGIS's numpy is never replaced.

Dask is an optional group of that folder (:data:`DASK_PACKAGES`), needed
only by ``glnet:segment``'s Dask scheduler parameter: :func:`check` leaves
it out, :func:`dask_problems` checks it when the parameter is set, and
:func:`install` puts it into the folder on request (the desktop's "Install
Dask" button, ``make qgis-setup``).

This module imports no QGIS at module level (``make qgis-setup`` runs it as
``python3 -m glnet.glnet_plugin.dependencies``) and never installs anything by
itself: :func:`install` runs only when a person asked for it (the opt-in
dialog of the desktop plugin, or ``make qgis-setup``).
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

from .plugin_metadata import readme_url

__all__ = [
    "Requirement",
    "Problem",
    "REQUIREMENTS",
    "PRIVATE_PACKAGES",
    "DASK_VERSION",
    "DASK_PACKAGES",
    "DASK_REQUIREMENTS",
    "README_URL",
    "deps_dir",
    "activate",
    "check",
    "explain",
    "dask_problems",
    "explain_dask",
    "qgis_python",
    "install_command",
    "install",
    "MissingDependencies",
]

#: Where users read how to install the plugin: the README's QGIS section
#: (the homepage's, or the README shipped in the plugin folder; see plugin_metadata).
README_URL = readme_url("qgis-plugin")

#: Overrides :func:`deps_dir` (administrators, tests, several QGIS installs).
DEPS_ENV = "GLNET_DEPS_DIR"

#: What pip puts into the private folder; the upper bound keeps wheels that
#: still import with numpy 1.24 (Debian 12's QGIS).
PRIVATE_PACKAGES: Tuple[str, ...] = ("onnxruntime>=1.16,<1.33",)

#: The Dask release of the project's workers (``make install``'s .venv):
#: the client in QGIS and the workers must run the same one.
DASK_VERSION = "2026.8.0"

#: The optional Dask group of the private folder: dask and distributed, and
#: what they import that Debian's QGIS Python lacks (QGIS itself brings
#: pyyaml, jinja2 and markupsafe; rasterio click; geopandas packaging). Exact
#: versions, those of the .venv's workers: pip runs with ``--no-deps``, so
#: nothing unlisted arrives, and cloudpickle, msgpack, toolz and tornado are
#: compared by Dask between the client and its workers.
DASK_PACKAGES: Tuple[str, ...] = (
    f"dask=={DASK_VERSION}",
    f"distributed=={DASK_VERSION}",
    "cloudpickle==3.1.3",
    "msgpack==1.2.4",
    "toolz==1.2.0",
    "tornado==6.6.1",
    "tblib==3.2.2",
    "zict==3.0.0",
    "sortedcontainers==2.4.0",
    "psutil==7.2.2",
    "partd==1.4.2",
    "locket==1.0.0",
    "fsspec==2026.9.0",
    # dask imports importlib_metadata on Python < 3.12; it needs zipp and lazy-importer.
    "importlib_metadata==10.2.0",
    "zipp==4.1.2",
    "lazy-importer==0.1.0",
)


@dataclass(frozen=True)
class Requirement:
    """One importable module the plugin needs.

    Attributes
    ----------
    modules:
        Import names; any one of them satisfies the requirement (geopandas
        writes files through fiona or pyogrio).
    minimum:
        Lowest version of ``modules[0]`` glnet is tested with.
    debian:
        The Debian/Ubuntu package that provides it, or ``None`` when it comes
        from pip into the private folder.
    alternative_minimum:
        Lowest version of the other ``modules`` (their version numbers are
        their own: pyogrio is at 0.x where fiona is at 1.x).
    """

    modules: Tuple[str, ...]
    minimum: Tuple[int, ...]
    debian: Optional[str]
    alternative_minimum: Tuple[int, ...] = (0,)

    @property
    def name(self) -> str:
        return " or ".join(self.modules)


#: In import order: a failure of numpy explains the failures after it.
REQUIREMENTS: Tuple[Requirement, ...] = (
    Requirement(("numpy",), (1, 24), "python3-numpy"),
    Requirement(("rasterio",), (1, 3), "python3-rasterio"),
    Requirement(("shapely",), (1, 8), "python3-shapely"),
    Requirement(("fiona", "pyogrio"), (1, 8), "python3-fiona", alternative_minimum=(0, 5)),
    Requirement(("geopandas",), (0, 12), "python3-geopandas"),
    Requirement(("onnxruntime",), (1, 16), None),
)


@dataclass(frozen=True)
class Problem:
    """A requirement that is not met: what, and the import error or found version."""

    requirement: Requirement
    detail: str


class MissingDependencies(RuntimeError):
    """Raised when glnet is used while a requirement is not met; the message explains the fix."""


def _version_tuple(text: str) -> Tuple[int, ...]:
    parts = []
    for piece in text.split(".")[:3]:
        match = re.match(r"\d+", piece)
        if not match:
            break
        parts.append(int(match.group()))
    return tuple(parts)


#: What the Dask scheduler parameter needs (minimums: distributed's own);
#: ``debian=None``: from :data:`DASK_PACKAGES` into the private folder.
DASK_REQUIREMENTS: Tuple[Requirement, ...] = (
    Requirement(("yaml",), (5, 4), "python3-yaml"),
    Requirement(("jinja2",), (2, 10), "python3-jinja2"),
    Requirement(("click",), (8, 0), "python3-click"),
    Requirement(("packaging",), (20, 0), "python3-packaging"),
    Requirement(("cloudpickle",), (3, 0), None),
    Requirement(("msgpack",), (1, 0), None),
    Requirement(("toolz",), (0, 12), None),
    Requirement(("tornado",), (6, 2), None),
    Requirement(("tblib",), (1, 6), None),
    Requirement(("zict",), (3, 0), None),
    Requirement(("sortedcontainers",), (2, 0), None),
    Requirement(("psutil",), (5, 8), None),
    Requirement(("partd",), (1, 4), None),
    Requirement(("fsspec",), (2021, 9), None),
    *((Requirement(("importlib_metadata",), (4, 13), None),) if sys.version_info < (3, 12) else ()),
    Requirement(("dask",), _version_tuple(DASK_VERSION)[:2], None),
    Requirement(("distributed",), _version_tuple(DASK_VERSION)[:2], None),
)


def _distribution_version(module: str) -> str:
    # Some modules keep no __version__ (tornado, importlib_metadata): their
    # installed distribution of the same name says it.
    from importlib import metadata

    try:
        return metadata.version(module)
    except metadata.PackageNotFoundError:
        return "0"


def deps_dir(settings_dir: Optional[os.PathLike] = None) -> Path:
    """The plugin-private folder that holds onnxruntime (and the optional Dask group) for this Python.

    ``$GLNET_DEPS_DIR`` when set; otherwise
    ``<QGIS profile>/glnet-deps/python<X.Y>``. The Python version is part of
    the path because compiled wheels only load into the Python they were
    built for (a QGIS upgrade may bring a new one).

    Parameters
    ----------
    settings_dir:
        The QGIS profile folder; default ``QgsApplication.qgisSettingsDirPath()``
        (QGIS must then be importable).
    """
    override = os.environ.get(DEPS_ENV)
    if override:
        return Path(override)
    if settings_dir is None:
        from qgis.core import QgsApplication

        settings_dir = QgsApplication.qgisSettingsDirPath()
    return Path(settings_dir) / "glnet-deps" / f"python{sys.version_info[0]}.{sys.version_info[1]}"


def activate(folder: Optional[Path] = None) -> Optional[Path]:
    """Make the private folder importable (appended to ``sys.path``, once).

    Appended, not prepended, so that a system package always wins over
    anything in the private folder.

    Returns
    -------
    pathlib.Path or None
        The folder, or ``None`` when it does not exist.
    """
    folder = Path(folder) if folder is not None else deps_dir()
    if not folder.is_dir():
        return None
    if str(folder) not in sys.path:
        sys.path.append(str(folder))
    return folder


def check(requirements: Sequence[Requirement] = REQUIREMENTS) -> List[Problem]:
    """The requirements that cannot be imported, or are too old.

    Imports each module (this is the only reliable test: a package can be
    present and still fail to load, e.g. a wheel built for another numpy).

    Returns
    -------
    list of Problem
        Empty when everything is usable.
    """
    problems = []
    for req in requirements:
        errors = []
        for i, module in enumerate(req.modules):
            try:
                mod = importlib.import_module(module)
            except Exception as exc:  # ImportError, but also a wheel's RuntimeError
                errors.append(f"{module}: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": "))
                continue
            version = str(getattr(mod, "__version__", "") or _distribution_version(module))
            minimum = req.minimum if i == 0 else req.alternative_minimum
            if _version_tuple(version) < minimum:
                errors.append(f"{module} {version} is older than {'.'.join(map(str, minimum))}")
                continue
            errors = []
            break
        if errors:
            problems.append(Problem(req, "; ".join(errors)))
    return problems


def explain(problems: Sequence[Problem], folder: Optional[Path] = None) -> str:
    """A message that says what is missing and exactly how to fix it (several lines).

    Parameters
    ----------
    problems:
        From :func:`check`.
    folder:
        The private folder (default :func:`deps_dir`).
    """
    if not problems:
        return "glnet: all Python dependencies are available."
    folder = folder if folder is not None else _safe_deps_dir()
    lines = ["glnet cannot run: these Python packages are missing in QGIS's Python (" + sys.executable + "):"]
    for p in problems:
        lines.append(f"  - {p.requirement.name}: {p.detail}")
    apt = [p.requirement.debian for p in problems if p.requirement.debian]
    private = [p for p in problems if p.requirement.debian is None]
    if apt:
        lines.append("Install them from your system's packages (they must be built against QGIS's GDAL),")
        lines.append("on Debian/Ubuntu: sudo apt-get install " + " ".join(apt))
    dask = [p for p in private if p.requirement in DASK_REQUIREMENTS]
    if len(dask) < len(private):
        cmd = " ".join(install_command(folder))
        lines.append(f"onnxruntime goes into the plugin's private folder {folder}:")
        lines.append(f"  {cmd}")
        lines.append("(or, in the QGIS desktop, accept the plugin's offer to install it; from a checkout: make qgis-setup)")
    if dask:
        lines.append("Dask (for glnet:segment's Dask scheduler parameter only) goes into the same folder:")
        lines.append("  " + " ".join(install_command(folder, DASK_PACKAGES)))
    lines.append(f"See {README_URL}")
    return "\n".join(lines)


def dask_problems() -> List[Problem]:
    """What the Dask scheduler parameter needs and cannot import (:data:`DASK_REQUIREMENTS`).

    Returns
    -------
    list of Problem
        Empty when a Dask client can run in this Python.
    """
    return check(DASK_REQUIREMENTS)


def explain_dask(problems: Sequence[Problem], option: str, folder: Optional[Path] = None) -> str:
    """One line: Dask is missing for ``option``, and how to install it.

    Parameters
    ----------
    problems:
        From :func:`dask_problems` (non-empty).
    option:
        The parameter, as messages name it.
    folder:
        The private folder (default :func:`deps_dir`).
    """
    folder = folder if folder is not None else _safe_deps_dir()
    what = (f"{problems[0].requirement.name}: {problems[0].detail}" if len(problems) == 1
            else "missing: " + ", ".join(p.requirement.name for p in problems))
    apt = [p.requirement.debian for p in problems if p.requirement.debian]
    how = f"sudo apt-get install {' '.join(apt)}, then " if apt else ""
    return (f"{option}: Dask is not installed in QGIS's Python ({what}); {how}install Dask {DASK_VERSION} into the "
            f"plugin's folder {folder} with the 'Install Dask' button the QGIS desktop offers for this parameter, "
            "or from a checkout: make qgis-setup")


def _safe_deps_dir() -> Path:
    try:
        return deps_dir()
    except ImportError:  # outside QGIS and no override: describe the default
        return Path("~/.local/share/QGIS/QGIS3/profiles/default/glnet-deps") / (
            f"python{sys.version_info[0]}.{sys.version_info[1]}"
        )


def qgis_python() -> str:
    """The Python interpreter QGIS runs (``sys.executable`` is the QGIS program itself in the desktop)."""
    exe = Path(sys.executable)
    if exe.name.lower().startswith("python"):
        return str(exe)
    candidates = [
        Path(sys.exec_prefix) / "bin" / f"python{sys.version_info[0]}.{sys.version_info[1]}",
        Path(sys.exec_prefix) / "bin" / "python3",
        Path(sys.exec_prefix) / "python.exe",
        Path(sys.exec_prefix) / "python3.exe",
    ]
    for c in candidates:
        if c.is_file():
            return str(c)
    return "python3"


def install_command(folder: Optional[Path] = None, packages: Sequence[str] = PRIVATE_PACKAGES) -> List[str]:
    """The pip command that installs ``packages`` into the private folder.

    ``--no-deps``: onnxruntime's own dependency on numpy must not replace
    QGIS's numpy; ``--only-binary``: never compile inside a user's QGIS.
    """
    folder = folder if folder is not None else _safe_deps_dir()
    return [
        qgis_python(), "-m", "pip", "install", "--no-deps", "--only-binary=:all:", "--upgrade",
        "--target", str(folder), *packages,
    ]


def install(
    folder: Optional[Path] = None,
    packages: Sequence[str] = PRIVATE_PACKAGES,
    log: Optional[Callable[[str], None]] = None,
) -> Path:
    """Install ``packages`` into the private folder with pip, then activate it.

    Only ever called on a person's explicit request.

    Raises
    ------
    MissingDependencies
        When pip is unavailable or fails; the message has pip's last lines.
    """
    folder = folder if folder is not None else deps_dir()
    folder.mkdir(parents=True, exist_ok=True)
    cmd = install_command(folder, packages)
    if log:
        log("running: " + " ".join(cmd))
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if log and proc.stdout:
        for line in proc.stdout.splitlines():
            log(line)
    if proc.returncode != 0:
        tail = " | ".join(proc.stdout.strip().splitlines()[-3:]) if proc.stdout else ""
        if "No module named pip" in (proc.stdout or ""):
            tail = "pip is not installed for QGIS's Python (Debian/Ubuntu: sudo apt-get install python3-pip)"
        raise MissingDependencies(f"installing {' '.join(packages)} into {folder} failed: {tail}")
    activate(folder)
    importlib.invalidate_caches()
    return folder


def main(argv: Optional[Sequence[str]] = None) -> int:
    """``python3 -m glnet.glnet_plugin.dependencies [--install] [--dask] [--profile DIR]``: check or install."""
    parser = argparse.ArgumentParser(
        prog="python3 -m glnet.glnet_plugin.dependencies",
        description="Check the Python packages glnet needs inside QGIS's Python, or install onnxruntime (and, "
        "with --dask, Dask) into the plugin's private folder (nothing else is ever installed).",
    )
    parser.add_argument("--profile", metavar="DIR", help="QGIS profile folder (default: the default profile)")
    parser.add_argument("--install", action="store_true", help="pip-install onnxruntime into the private folder when missing")
    parser.add_argument("--dask", action="store_true",
                        help="also check (with --install: install) the optional Dask group for glnet:segment's "
                        "Dask scheduler parameter")
    parser.add_argument("--print-dir", action="store_true", help="print the private folder and exit")
    args = parser.parse_args(argv)
    profile = Path(args.profile).expanduser() if args.profile else Path.home() / ".local/share/QGIS/QGIS3/profiles/default"
    folder = deps_dir(profile)
    if args.print_dir:
        print(folder)
        return 0
    activate(folder)
    groups = [(REQUIREMENTS, PRIVATE_PACKAGES)] + ([(DASK_REQUIREMENTS, DASK_PACKAGES)] if args.dask else [])
    problems: List[Problem] = []
    for requirements, packages in groups:
        found = check(requirements)
        if found and args.install and all(p.requirement.debian is None for p in found):
            install(folder, packages, log=print)
            found = check(requirements)
        problems += found
    if problems:
        print(explain(problems, folder), file=sys.stderr)
        return 1
    extra = f"; Dask {DASK_VERSION} too" if args.dask else ""
    print(f"glnet: all Python dependencies are available (private folder: {folder}{extra})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
