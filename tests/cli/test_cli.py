"""The ``glnet`` command line: help, version, error contract, and ``init-model``.

Commands run as real subprocesses of the installed console script, so the
tests see exactly what a user sees (exit status, stdout, stderr).
"""

from __future__ import annotations

import importlib
import inspect
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from glnet.glnet_core.cli.main import COMMANDS, build_parser

REPO_ROOT = Path(__file__).resolve().parents[2]

# The registry is strict (test_every_registered_command_module_imports): every
# registered command has its module, and every one must be offered.
PRESENT = list(COMMANDS)


def assert_one_line_error(proc: subprocess.CompletedProcess, contains: str = "") -> str:
    """The error contract: non-zero exit, exactly one stderr line ``glnet: error: ...``, no traceback."""
    assert proc.returncode != 0, proc
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("glnet: error: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert contains in lines[0], lines[0]
    return lines[0]


# -------------------------------------------------------------------- help
def test_help_lists_every_present_command(run_glnet):
    proc = run_glnet("--help")
    assert proc.returncode == 0, proc.stderr
    assert "init-model" in [c.name for c in PRESENT]
    for spec in PRESENT:
        assert re.search(rf"^\s+{re.escape(spec.name)}\b", proc.stdout, re.M), (spec.name, proc.stdout)
    for option in ("--version", "--debug", "--help"):
        assert option in proc.stdout


@pytest.mark.parametrize("spec", PRESENT, ids=lambda s: s.name)
def test_command_help(run_glnet, spec):
    proc = run_glnet(spec.name, "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"usage: glnet {spec.name}")
    # Every option in the usage line is explained below it.
    usage = proc.stdout.split("\n\n")[0]
    for option in set(re.findall(r"--[a-z][a-z0-9-]*", usage)):
        assert re.search(rf"^\s+{re.escape(option)}\b.*\S", proc.stdout, re.M), option


def test_init_model_help_explains_options(run_glnet):
    out = run_glnet("init-model", "--help").stdout
    for option in ("--config", "--classes", "--seed", "--out", "--overwrite", "--resolution"):
        assert option in out
    for name in ("paper", "lite", "tiny", "deepglobe"):
        assert name in out


def test_version(run_glnet):
    proc = run_glnet("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == "glnet 0.1.0"


def test_versions_agree():
    import glnet

    pyproject = (REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8")
    metadata = (REPO_ROOT / "metadata.txt").read_text(encoding="utf-8")
    assert re.search(rf'^version = "{re.escape(glnet.__version__)}"$', pyproject, re.M)
    assert re.search(rf"^version={re.escape(glnet.__version__)}$", metadata, re.M)


def test_no_command_shows_help(run_glnet):
    proc = run_glnet()
    assert proc.returncode == 2
    assert "init-model" in proc.stderr


def test_unknown_option_is_a_usage_error(run_glnet):
    proc = run_glnet("init-model", "--config", "tiny", "--out", "x.ckpt", "--colour")
    assert proc.returncode == 2
    line = assert_one_line_error(proc, "unrecognized arguments: --colour")
    assert line == "glnet: error: unrecognized arguments: --colour (see 'glnet init-model --help')"


def test_every_parser_reports_errors_on_one_line():
    # The root's class is inherited by every sub-command's parser (argparse
    # creates them with their parent's class), so no command prints a usage block.
    from glnet.glnet_core.cli.main import GlnetArgumentParser

    parser = build_parser()
    assert type(parser) is GlnetArgumentParser
    commands = parser._subparsers._group_actions[0].choices  # noqa: SLF001
    assert sorted(commands) == sorted(spec.name for spec in PRESENT)
    assert all(type(p) is GlnetArgumentParser for p in commands.values())


@pytest.mark.parametrize("spec", PRESENT, ids=lambda s: s.name)
def test_usage_errors_of_every_command_are_one_line(cli_error, spec):
    # An option no command has (or, first, its missing required options): one line
    # naming the command's help, status 2, instead of argparse's usage block.
    line = cli_error([spec.name, "--no-such-option"])
    assert line.endswith(f" (see 'glnet {spec.name} --help')") and "usage:" not in line
    assert "unrecognized arguments: --no-such-option" in line or "the following arguments are required" in line


@pytest.mark.parametrize(
    "argv, line",
    [
        (["segment", "in.tif", "--model", "m", "--out-mask", "o.tif", "--window", "0"],
         "glnet: error: --window: must be at least 16, got 0 (see 'glnet segment --help')"),
        (["segment", "in.tif"],
         "glnet: error: the following arguments are required: --model, --out-mask (see 'glnet segment --help')"),
        (["segment", "in.tif", "--model", "m", "--out-mask", "o.tif", "--mode", "fast"],
         "glnet: error: --mode: invalid choice: 'fast' (choose from 'full', 'g2l') (see 'glnet segment --help')"),
        (["vectorize", "m.tif", "--out", "p.gpkg", "--min-area", "nan"],
         "glnet: error: --min-area: must be a finite number, got nan (see 'glnet vectorize --help')"),
    ],
    ids=["value", "required", "choice", "nan"],
)
def test_usage_error_lines(cli_error, argv, line):
    assert cli_error(argv) == line


# ------------------------------------------------- help without the extras
NO_TORCH = textwrap.dedent(
    """
    import sys
    # Make torch (and the other training extras) unimportable, as on an
    # install without glnet[train].
    for name in ("torch", "onnx", "PIL"):
        sys.modules[name] = None
    from glnet.glnet_core.cli.main import main
    sys.exit(main(sys.argv[1:]))
    """
)


def run_without_torch(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", NO_TORCH, *args], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def test_help_works_without_torch(tmp_path):
    proc = run_without_torch("--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for spec in PRESENT:
        assert spec.name in proc.stdout


def test_parser_loads_neither_gdal_nor_onnxruntime(tmp_path):
    # `glnet --help` builds the parser from every command module; their
    # top-level imports must stay light (rasterio loads GDAL, about 0.1 s).
    code = textwrap.dedent(
        """
        import sys
        from glnet.glnet_core.cli.main import build_parser
        build_parser()
        print(sorted(m for m in ("rasterio", "onnxruntime", "torch", "geopandas", "shapely") if m in sys.modules))
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("spec", PRESENT, ids=lambda s: s.name)
def test_command_help_works_without_torch(tmp_path, spec):
    # Command modules must not import torch at import time: their options are
    # still explained, not replaced by the "needs the training extras" stub.
    proc = run_without_torch(spec.name, "--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "needs the training extras" not in proc.stdout, f"{spec.module} imports torch at import time"
    with_torch = build_parser()._subparsers._group_actions[0].choices[spec.name].format_help()  # noqa: SLF001
    assert proc.stdout == with_torch


def test_command_without_torch_says_how_to_install(tmp_path):
    out = tmp_path / "m.ckpt"
    proc = run_without_torch("init-model", "--config", "tiny", "--out", str(out), cwd=tmp_path)
    line = assert_one_line_error(proc)
    assert line == "glnet: error: 'init-model' needs the training extras: pip install 'glnet[train]'"
    assert proc.returncode == 2
    assert not out.exists()


# --------------------------------------------------------------- init-model
def test_init_model_round_trip(run_glnet, tmp_path):
    from glnet.models.checkpoint import load_checkpoint
    from glnet.models.config import get_config

    out = tmp_path / "tiny.ckpt"
    proc = run_glnet(
        "init-model", "--config", "tiny", "--classes", "deepglobe", "--seed", "7", "--resolution", "0.5", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert str(out) in proc.stdout
    ckpt = load_checkpoint(out)
    assert ckpt.config == get_config("tiny")
    assert ckpt.classes.name == "deepglobe" and len(ckpt.classes) == 7
    assert ckpt.model.n_classes == 7
    assert ckpt.resolution_m == 0.5
    assert ckpt.provenance["source"] == "init-model"
    assert ckpt.provenance["seed"] == 7
    assert ckpt.provenance["config"] == "tiny"
    assert "created" in ckpt.provenance
    # No stray temporary files next to the checkpoint.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.ckpt"]


def test_init_model_seeds(run_glnet, tmp_path):
    import torch

    from glnet.models.checkpoint import load_checkpoint

    paths = {}
    for name, seed in (("a", "3"), ("b", "3"), ("c", "4")):
        paths[name] = tmp_path / f"{name}.ckpt"
        proc = run_glnet("init-model", "--config", "tiny", "--classes", "5", "--seed", seed, "--out", str(paths[name]))
        assert proc.returncode == 0, proc.stderr
    a, b, c = (load_checkpoint(paths[n]).model.state_dict() for n in "abc")
    assert a.keys() == b.keys() == c.keys()
    assert all(torch.equal(a[k], b[k]) for k in a), "equal seeds must give equal weights"
    assert not all(torch.equal(a[k], c[k]) for k in a), "different seeds must give different weights"


def test_init_model_json_classes(run_glnet, tmp_path):
    from glnet.models.checkpoint import load_checkpoint

    table = tmp_path / "classes.json"
    table.write_text(
        '{"name": "two", "classes": [{"id": 0, "name": "land", "colour": [0, 0, 0]},'
        ' {"id": 1, "name": "water", "colour": [0, 0, 255]}]}',
        encoding="utf-8",
    )
    out = tmp_path / "two.ckpt"
    assert run_glnet("init-model", "--config", "tiny", "--classes", str(table), "--out", str(out)).returncode == 0
    ckpt = load_checkpoint(out)
    assert ckpt.classes.names == ["land", "water"] and ckpt.model.n_classes == 2


def test_init_model_refuses_to_overwrite(run_glnet, tmp_path):
    out = tmp_path / "m.ckpt"
    out.write_bytes(b"precious")
    proc = run_glnet("init-model", "--config", "tiny", "--out", str(out))
    assert_one_line_error(proc, "--overwrite")
    assert proc.returncode == 2
    assert out.read_bytes() == b"precious"

    proc = run_glnet("init-model", "--config", "tiny", "--out", str(out), "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() != b"precious"


@pytest.mark.parametrize(
    "args, message",
    [
        (["--out", "{tmp}/missing/m.ckpt"], "does not exist"),
        (["--out", "{tmp}"], "is a folder"),
        (["--out", "{tmp}/m.ckpt", "--classes", "1"], "--classes: a class count must be at least 2, got 1"),
        (["--out", "{tmp}/m.ckpt", "--classes", "{tmp}/none.json"], "neither a preset"),
    ],
    ids=["missing-folder", "folder", "one-class", "missing-table"],
)
def test_init_model_errors(run_glnet, tmp_path, args, message):
    args = [a.format(tmp=tmp_path) for a in args]
    proc = run_glnet("init-model", "--config", "tiny", *args)
    assert_one_line_error(proc, message)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert list(tmp_path.rglob("*.ckpt")) == [] and list(tmp_path.rglob("*.part")) == []


@pytest.mark.parametrize(
    "args", [["--seed", "-1"], ["--seed", "x"], ["--resolution", "0"], ["--resolution", "nan"], ["--config", "huge"]]
)
def test_init_model_bad_values_are_usage_errors(run_glnet, tmp_path, args):
    base = {"--config": "tiny", "--out": str(tmp_path / "m.ckpt")}
    base.update(dict(zip(args[::2], args[1::2])))
    proc = run_glnet("init-model", *[x for kv in base.items() for x in kv])
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "m.ckpt").exists()


def test_debug_shows_the_traceback(run_glnet, tmp_path):
    proc = run_glnet("--debug", "init-model", "--config", "tiny", "--out", str(tmp_path / "no" / "m.ckpt"))
    assert proc.returncode != 0
    assert "Traceback" in proc.stderr and "CheckpointError" in proc.stderr


def test_module_entry_point(tmp_path):
    # python -m glnet.glnet_core is the same command line.
    proc = subprocess.run(
        [sys.executable, "-m", "glnet.glnet_core", "--version"], capture_output=True, text=True, cwd=tmp_path
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "glnet 0.1.0"


# ------------------------------------------------------------ QGIS entry point
def test_class_factory_is_light(tmp_path):
    # QGIS imports the plugin package in its own Python: importing it and
    # creating the plugin must not pull in numpy, torch or qgis (the hooks
    # that register the provider need QGIS; tests/qgis/ runs them).
    code = textwrap.dedent(
        """
        import sys
        import glnet
        plugin = glnet.classFactory(None)
        plugin.unload()
        heavy = sorted(m for m in ("numpy", "torch", "qgis", "onnxruntime", "rasterio") if m in sys.modules)
        print(type(plugin).__name__, heavy)
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "GLNetPlugin []"


def test_metadata_has_required_fields():
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    parser.read(REPO_ROOT / "metadata.txt", encoding="utf-8")
    general = parser["general"]
    # Required by the QGIS plugin repository.
    for key in ("name", "qgisMinimumVersion", "description", "about", "version", "author", "email", "repository"):
        assert general.get(key, "").strip(), key
    assert general["name"] == "GLNet land cover"
    assert general["qgisMinimumVersion"] == "3.22"
    assert general["category"] == "Raster"
    assert general["hasProcessingProvider"] == "yes"
    assert general["experimental"] == "True"


# ---------------------------------------------------------------- registry
def test_every_registered_command_module_imports():
    """Each COMMANDS entry names an importable module with HELP (if any), add_arguments(parser) and run(args)."""
    assert len({spec.name for spec in COMMANDS}) == len(COMMANDS)
    for spec in COMMANDS:
        module = importlib.import_module(spec.module)  # a typo or a missing module fails here
        summary = getattr(module, "HELP", spec.help)
        assert isinstance(summary, str) and summary.strip() and "\n" not in summary, spec.module
        for name in ("add_arguments", "run"):
            func = getattr(module, name, None)
            assert callable(func), f"{spec.module} has no {name}()"
            assert len(inspect.signature(func).parameters) == 1, f"{spec.module}.{name} takes one argument"
    # The torch commands are the ones that say so (the CLI checks for torch before their run()).
    assert {spec.name for spec in COMMANDS if spec.extra == "train"} == {"init-model", "train", "import-original", "export"}


def test_registry_is_strict_and_stubs_missing_extras(tmp_path):
    # Four command modules: one not written (a typo in the registry), one
    # without run(), one that imports torch at import time (on an install
    # without torch), one that works.
    (tmp_path / "cmd_no_run.py").write_text("def add_arguments(p):\n    pass\n", encoding="utf-8")
    (tmp_path / "cmd_ok.py").write_text(
        "def add_arguments(p):\n    p.add_argument('--size', help='a size')\n"
        "def run(args):\n    print('ran', args.size)\n    return 3\n",
        encoding="utf-8",
    )
    (tmp_path / "cmd_torch.py").write_text(
        "import torch\ndef add_arguments(p):\n    pass\ndef run(args):\n    return 0\n", encoding="utf-8"
    )
    code = textwrap.dedent(
        """
        import sys
        sys.modules["torch"] = None
        from glnet.glnet_core.cli import main as cli
        from glnet.glnet_core.errors import MissingExtraError
        for broken in ("cmd_not_written", "cmd_no_run", "cmd_ok.sub"):
            try:
                cli.build_parser((cli.CommandSpec("ok", "cmd_ok", "works"), cli.CommandSpec("broken", broken, "broken")))
            except ImportError as exc:
                print("refused", broken, "broken" in str(exc) and broken in str(exc))
        specs = (
            cli.CommandSpec("needs-torch", "cmd_torch", "imports torch"),
            cli.CommandSpec("ok", "cmd_ok", "works"),
        )
        parser = cli.build_parser(specs)
        names = list(parser._subparsers._group_actions[0].choices)
        print(names)
        args = parser.parse_args(["ok", "--size", "5"])
        print("status", args._run(args))
        args, unknown = parser.parse_known_args(["needs-torch", "--anything"])
        assert args._stub and unknown == ["--anything"]
        try:
            args._run(args)
        except MissingExtraError as exc:
            print("error", exc)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)}
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "refused cmd_not_written True",
        "refused cmd_no_run True",
        "refused cmd_ok.sub True",
        "['needs-torch', 'ok']",
        "ran 5",
        "status 3",
        "error 'needs-torch' needs the training extras: pip install 'glnet[train]'",
    ]
