"""The ``glnet`` command line: a thin dispatcher over command modules.

Each command lives in its own module, listed in :data:`COMMANDS`, which
provides two functions:

``add_arguments(parser: argparse.ArgumentParser) -> None``
    Declare the command's options; every option gets a ``help`` text.
``run(args: argparse.Namespace) -> int``
    Do the work and return the exit status (0 on success).

and optionally ``HELP`` (the one-line summary in ``glnet --help``; the
registry's otherwise) and ``DESCRIPTION`` (the text ``glnet COMMAND --help``
shows above the options; the module docstring otherwise). Description
paragraphs are separated by blank lines; paragraphs with indented lines are
shown as written, others are re-wrapped.

A command module must not import torch (or onnxruntime, onnx, PIL) at import
time: ``glnet --help`` and ``glnet COMMAND --help`` must work on an install
without the optional extras. Import heavy modules inside ``run``.

Argument errors (an unknown or missing option, a value its ``type=`` refuses:
the numeric rules of :mod:`glnet_core.option_rules`, the input paths of
:mod:`glnet_core.formats.input_paths`) are one line as well, not argparse's
usage block: :class:`GlnetArgumentParser`.

Errors: a :class:`~glnet.glnet_core.errors.GlnetError` (and an ``OSError``,
such as a file that cannot be written, and a ``MemoryError``) is printed as
one line ``glnet: error: <message>`` on stderr; ``--debug`` shows the
traceback instead. Exit statuses: 0 success, 1 a failure of the machine (a
:class:`~glnet.glnet_core.errors.MachineError` such as a write that failed, an
``OSError``, no memory left), 2 bad arguments or input (any other
:class:`~glnet.glnet_core.errors.GlnetError`), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import re
import sys
import textwrap
from dataclasses import dataclass
from types import ModuleType
from typing import Callable, Dict, List, NoReturn, Optional, Sequence, TextIO, Tuple

from ... import __version__
from ..errors import GlnetError, InputError, MachineError, MissingExtraError, error_line

__all__ = ["CommandSpec", "COMMANDS", "GlnetArgumentParser", "build_parser", "main"]

PROG = "glnet"

# Exit statuses (documented in the module docstring and in `glnet --help`).
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class CommandSpec:
    """One registered command.

    Attributes
    ----------
    name:
        The sub-command name, as typed after ``glnet``.
    module:
        Dotted path of the module that provides ``add_arguments`` and ``run``.
    help:
        One-line summary shown by ``glnet --help``.
    extra:
        The pip extra the command cannot run without (``"train"``: torch), or
        ``None``. Checked before ``run`` so that a missing extra gives a
        one-line hint instead of an ImportError.
    """

    name: str
    module: str
    help: str
    extra: Optional[str] = None


# The registry. Modules are imported when the parser is built; a module that
# does not exist (a typo, a module not written yet) is an error, not a command
# silently missing: tests/cli/test_cli.py imports every one.
COMMANDS: Tuple[CommandSpec, ...] = (
    CommandSpec(
        "init-model",
        "glnet.glnet_core.cli.init",
        "create a randomly initialised GLNet checkpoint",
        extra="train",
    ),
    CommandSpec(
        "train",
        "glnet.glnet_core.cli.train",
        "train a GLNet checkpoint on image / mask pairs (the three published stages)",
        extra="train",
    ),
    CommandSpec(
        "import-original",
        "glnet.glnet_core.cli.import_original",
        "convert the published GLNet .pth files into a glnet checkpoint",
        extra="train",
    ),
    CommandSpec(
        "export",
        "glnet.glnet_core.cli.export",
        "export a checkpoint to an ONNX model bundle",
        extra="train",
    ),
    CommandSpec(
        "info",
        "glnet.glnet_core.cli.info",
        "check a model bundle and describe it",
    ),
    CommandSpec(
        "segment",
        "glnet.glnet_core.cli.segment",
        "segment a raster of any size into a land-cover class mask GeoTIFF",
    ),
    CommandSpec(
        "batch",
        "glnet.glnet_core.cli.batch",
        "segment many scenes (a glob pattern or a list file) into one mask per scene, with an optional VRT mosaic",
    ),
    CommandSpec(
        "vectorize",
        "glnet.glnet_core.cli.vectorize",
        "turn a class mask into polygons (GeoPackage, GeoJSON, FlatGeobuf or Shapefile)",
    ),
    CommandSpec(
        "evaluate",
        "glnet.glnet_core.cli.evaluate",
        "score a class mask against a reference (per-class IoU, mIoU, F1, confusion matrix)",
    ),
    CommandSpec(
        "stats",
        "glnet.glnet_core.cli.stats",
        "class areas and shares per zone (districts, parcels) of a class mask",
    ),
    CommandSpec("demo", "glnet.glnet_core.cli.demo", "segment the shipped sample scene with the shipped demo model"),
    CommandSpec("synth", "glnet.glnet_core.cli.synth", "write synthetic land-cover scenes (images + DeepGlobe masks)"),
    CommandSpec(
        "quantize",
        "glnet.glnet_core.cli.quantize",
        "make an int8 bundle (static quantization), calibrated on rasters and verified against the source bundle",
        extra="quantize",
    ),
)

# Importable modules each extra provides, and the hint printed when one is
# missing. The top-level module name of a ModuleNotFoundError selects the hint.
_EXTRA_MODULES: Dict[str, Tuple[str, ...]] = {"train": ("torch",), "quantize": ("onnxruntime", "onnx")}
_MISSING_HINTS: Dict[str, str] = {
    "torch": "'{cmd}' needs the training extras: pip install 'glnet[train]'",
    "onnx": "'{cmd}' needs the training extras: pip install 'glnet[train]'",
    "PIL": "'{cmd}' needs the training extras: pip install 'glnet[train]'",
    "onnxruntime": "'{cmd}' needs onnxruntime: pip install 'glnet[cpu]' (or 'glnet[gpu]' for CUDA)",
}
# Where one command needs a module for another reason than the extra above names: (command, module) -> hint.
_COMMAND_HINTS: Dict[Tuple[str, str], str] = {
    ("quantize", "onnx"): "'{cmd}' needs the onnx package: pip install 'glnet[quantize]'",
}


def _missing_extra(command: str, module: str) -> MissingExtraError:
    """The one-line error for ``command`` missing the optional module ``module``."""
    hint = _COMMAND_HINTS.get((command, module)) or _MISSING_HINTS.get(
        module, "'{cmd}' needs the Python module '" + module + "', which is not installed")
    return MissingExtraError(hint.format(cmd=command), command=command, module=module)


class GlnetArgumentParser(argparse.ArgumentParser):
    """argparse's parser with its errors as one line: ``--window: must be at least 16, got 0``.

    argparse prints the usage block and exits on an error; this parser
    raises :class:`~glnet.glnet_core.errors.InputError` instead (printed by
    :func:`main` as every bad input: one line, status 2), with argparse's message made to
    start with the option (``argument --window: ...`` becomes ``--window:
    ...``) and ending with where to read more (``(see 'glnet segment
    --help')``). Sub-command parsers are of the same class (argparse
    creates them with the class of their parent), so every command gets
    it. ``--help`` and ``--version`` exit as argparse does.
    """

    def error(self, message: str) -> "NoReturn":  # type: ignore[override]
        text = _one_line(message)
        if text.startswith("argument "):
            text = text[len("argument "):]
        raise InputError(f"{text} (see '{self.prog} --help')")


class _Formatter(argparse.HelpFormatter):
    """Wraps descriptions paragraph by paragraph; wider option column than the default.

    Paragraphs are separated by blank lines. A paragraph with an indented line
    (a list, an example command) is kept as written; any other is re-wrapped
    to the terminal width, so one-line descriptions read well too.
    """

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        out = []
        for para in re.split(r"\n\s*\n", text.strip("\n")):
            lines = para.splitlines()
            if any(line[:1].isspace() for line in lines):
                out.append("\n".join(indent + line for line in lines))
            else:
                out.append(textwrap.fill(" ".join(line.strip() for line in lines), width, initial_indent=indent, subsequent_indent=indent))
        return "\n\n".join(out)


def _module_available(name: str) -> bool:
    """Whether ``import name`` would find a module, without importing it."""
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # ValueError: a module with no __spec__ in sys.modules
        return False


def _top_level(name: Optional[str]) -> str:
    return (name or "").split(".")[0]


def _load(spec: CommandSpec) -> Tuple[Optional[ModuleType], Optional[str]]:
    """Import a command's module.

    Returns
    -------
    (module, missing):
        ``(module, None)`` when it imports and provides ``add_arguments`` and
        ``run``; ``(None, dep)`` when it exists but imports an optional
        dependency ``dep`` that is missing (the command is listed, and
        running it prints the install hint).

    Raises
    ------
    ImportError
        When the registered module (or a package above it) does not exist,
        or lacks ``add_arguments`` or ``run``: a registry bug, shown rather
        than a command silently missing.
    Exception
        Whatever else the import raises: a broken command module is a bug
        and should be seen, not hidden.
    """
    try:
        module = importlib.import_module(spec.module)
    except ModuleNotFoundError as exc:
        if exc.name and (spec.module == exc.name or spec.module.startswith(exc.name + ".")):
            raise ImportError(
                f"command {spec.name!r} is registered with the module {spec.module}, which does not exist; "
                "fix COMMANDS in glnet_core/cli/main.py"
            ) from exc
        if _top_level(exc.name) in _MISSING_HINTS:
            return None, _top_level(exc.name)
        raise
    for name in ("add_arguments", "run"):
        if not callable(getattr(module, name, None)):
            raise ImportError(f"command {spec.name!r}: its module {spec.module} has no function {name}()")
    return module, None


def _description(module: ModuleType) -> str:
    text = getattr(module, "DESCRIPTION", None) or inspect.getdoc(module) or ""
    return text.strip()


def build_parser(commands: Sequence[CommandSpec] = COMMANDS) -> argparse.ArgumentParser:
    """The ``glnet`` argument parser with every registered command.

    Parameters
    ----------
    commands:
        The registry to build from (tests may pass their own).

    Returns
    -------
    argparse.ArgumentParser
        Parsing sets ``command`` (the name, or ``None`` when none was given);
        for a command, ``_spec`` (its :class:`CommandSpec`) and ``_run`` (its
        ``run`` function).
    """
    parser = GlnetArgumentParser(
        prog=PROG,
        formatter_class=_Formatter,
        description=(
            "GLNet land-cover segmentation of very large rasters\n"
            "(Chen et al., CVPR 2019: collaborative global-local networks)."
        ),
        epilog=(
            "Run 'glnet COMMAND --help' for the options of a command.\n\n"
            "Exit status: 0 success, 1 failure (e.g. a full disk), 2 bad arguments or input (one line "
            "'glnet: error: ...' on stderr), 130 interrupted."
        ),
    )
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}", help="print the version and exit")
    parser.add_argument(
        "--debug",
        action="store_true",
        help="on an error, show the full Python traceback instead of the one-line message",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for spec in commands:
        module, missing = _load(spec)
        if module is not None:
            summary = getattr(module, "HELP", None) or spec.help
            p = sub.add_parser(spec.name, help=summary, description=_description(module) or summary, formatter_class=_Formatter)
            module.add_arguments(p)
            p.set_defaults(_spec=spec, _run=module.run)
        else:
            # The module exists but cannot be imported here: list the command
            # and let running it print how to install what is missing.
            error = _missing_extra(spec.name, missing or "")
            p = sub.add_parser(
                spec.name, help=spec.help, description=f"{spec.help}.\n\n{error}", formatter_class=_Formatter
            )
            # Its options are unknown here: main() lets any arguments through.
            p.set_defaults(_spec=spec, _run=_raiser(error), _stub=True)
    return parser


def _raiser(error: Exception) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        raise error

    return run


def _one_line(message: str) -> str:
    """A message folded onto one line (the contract of ``glnet: error:``)."""
    parts = [line.strip() for line in str(message).splitlines() if line.strip()]
    return " ".join(parts) or "unknown error"


def _fail(message: str, stream: Optional[TextIO] = None) -> None:
    print(f"{PROG}: error: {_one_line(message)}", file=stream or sys.stderr)


def main(argv: Optional[List[str]] = None) -> int:
    """Run the ``glnet`` command line.

    Parameters
    ----------
    argv:
        Arguments without the program name; ``sys.argv[1:]`` when ``None``.

    Returns
    -------
    int
        The exit status (see the module docstring); an argument argparse
        refuses is one line and 2, as any bad input. ``--help`` and
        ``--version`` exit through ``SystemExit`` as argparse does.
    """
    debug = False
    try:
        parser = build_parser()
        args, unknown = parser.parse_known_args(argv)
        if unknown and not getattr(args, "_stub", False):
            # Named as the command's own error, with the command's help to read.
            where = f"{PROG} {args.command}" if getattr(args, "command", None) else PROG
            raise InputError(f"unrecognized arguments: {' '.join(unknown)} (see '{where} --help')")
        debug = bool(args.debug)
        if args.command is None:
            parser.print_help(sys.stderr)
            return EXIT_USAGE
        spec: CommandSpec = args._spec
        for dep in _EXTRA_MODULES.get(spec.extra or "", ()):
            if not _module_available(dep):
                raise _missing_extra(spec.name, dep)
        try:
            return int(args._run(args) or 0)
        except ModuleNotFoundError as exc:
            # A command imported an optional dependency lazily and it is missing.
            if _top_level(exc.name) in _MISSING_HINTS:
                raise _missing_extra(spec.name, _top_level(exc.name)) from exc
            raise
    except GlnetError as exc:
        if debug:
            raise
        _fail(str(exc))
        # The machine failed (a full disk): 1, like an OSError; the input was bad: 2.
        return EXIT_FAILURE if isinstance(exc, MachineError) else EXIT_USAGE
    except KeyboardInterrupt:
        if debug:
            raise
        _fail("interrupted")
        return EXIT_INTERRUPTED
    except OSError as exc:
        # A file that cannot be read or written, a full disk: the user can fix
        # these, so one line is more useful than a traceback.
        if debug:
            raise
        _fail(str(error_line(exc)))
        return EXIT_FAILURE
    except MemoryError as exc:
        if debug:
            raise
        _fail(str(error_line(exc)))
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
