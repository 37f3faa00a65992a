"""One line for every bad value: usage errors, numbers out of their rules, inputs that are not regular files.

Every case runs the command line as a user does (in-process through
``glnet_core.cli.main.main``, or as a subprocess where a hang must be caught
by a timeout) and checks the contract: exit status 2, exactly one stderr line
``glnet: error: ...`` naming the option, no traceback, nothing written, the
inputs unchanged.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from glnet.glnet_core.cli.main import main
from glnet.glnet_core.engine.options import EngineOptions
from glnet.glnet_core.errors import InputError
from glnet.glnet_core.formats.input_paths import check_input_path, local_path_of
from glnet.glnet_core.option_rules import MIN_AREA, SCENE_SIZE, WINDOW, NumberRule
from tests.adversarial.conftest import assert_no_parts, assert_refused, snapshot

GLNET = [sys.executable, "-m", "glnet.glnet_core"]


def glnet(capsys, *args: str) -> subprocess.CompletedProcess:
    """``glnet ARGS`` in-process, as a finished process (status, stdout, stderr)."""
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), status, out.out, out.err)


def refused(capsys, folder: Path, *args: str, contains: str) -> str:
    """Run ``glnet ARGS``; assert the one-line refusal and that ``folder`` is unchanged; return the line."""
    before = snapshot(folder)
    line = assert_refused(glnet(capsys, *args), status=2, contains=contains)
    assert snapshot(folder) == before
    assert_no_parts(folder)
    return line


# --------------------------------------------------------------------------- usage errors: one line


@pytest.fixture
def segment_args(tmp_path, make_raster, demo_bundle) -> List[str]:
    return ["segment", str(make_raster()), "--model", str(demo_bundle), "--out-mask", str(tmp_path / "mask.tif")]


@pytest.mark.parametrize(
    "extra, contains",
    [
        (["--bands", "0"], "--bands: band numbers start at 1, got 0"),
        (["--bands", "1.5,2,3"], "--bands: expected band numbers like 1,2,3"),
        (["--input-range", "5,1"], "--input-range: the input range must be two finite numbers"),
        (["--input-range", "0,nan"], "--input-range:"),
        (["--window", "abc"], "--window: expected a whole number, got 'abc'"),
        (["--mode", "fast"], "--mode: invalid choice: 'fast'"),
        (["--colour", "red"], "unrecognized arguments: --colour red"),
        (["--window"], "--window: expected one argument"),
    ],
    ids=["bands-0", "bands-float", "range-inverted", "range-nan", "window-text", "choice", "unknown", "no-value"],
)
def test_usage_errors_are_one_line(capsys, tmp_path, segment_args, extra, contains):
    line = refused(capsys, tmp_path, *segment_args, *extra, contains=contains)
    # One line that ends with where to read more, not argparse's usage block.
    assert line.endswith("(see 'glnet segment --help')") and "usage:" not in line


@pytest.mark.parametrize(
    "args, contains",
    [
        (["segment", "in.tif"], "the following arguments are required: --model, --out-mask"),
        (["vectorize", "mask.tif"], "the following arguments are required: --out"),
        (["stats", "mask.tif", "--out", "s.csv"], "required: --zones, --zone-field"),
        (["train", "--init", "a.ckpt", "--config", "tiny", "--out", "x.ckpt"], "--config: not allowed with argument --init"),
        (["segmnt"], "COMMAND: invalid choice: 'segmnt'"),
        (["--colour"], "unrecognized arguments: --colour (see 'glnet --help')"),
    ],
    ids=["segment-required", "vectorize-required", "stats-required", "exclusive", "unknown-command", "root-unknown"],
)
def test_usage_errors_of_every_command_are_one_line(capsys, tmp_path, monkeypatch, args, contains):
    monkeypatch.chdir(tmp_path)
    refused(capsys, tmp_path, *args, contains=contains)


def test_help_and_version_still_work(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["segment", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: glnet segment") and "--window PX" in out
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip().startswith("glnet ")


def test_a_usage_error_as_a_subprocess(tmp_path):
    """The installed entry point: status 2 and one line, nothing on stdout."""
    proc = subprocess.run(GLNET + ["segment", "x.tif", "--model", "m", "--out-mask", "o.tif", "--threads", "0"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert assert_refused(proc, contains="--threads: must be at least 1, got 0")
    assert proc.stdout == "" and list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- numbers: zero, negative, NaN, inf, absurd


@pytest.mark.parametrize(
    "extra, contains",
    [
        (["--window", "0"], "--window: must be at least 16, got 0"),
        (["--window", "1"], "--window: must be at least 16, got 1"),
        (["--window", "1000000000"], "--window: must be at most 65536, got 1000000000"),
        (["--margin", "-1"], "--margin: must be at least 0, got -1"),
        (["--margin", "1e9"], "--margin: expected a whole number, got '1e9'"),
        (["--margin", "1000000000"], "--margin: must be at most 32767"),
        (["--window", "300", "--margin", "150"], "--margin: must be less than half the window (300 px), got 150"),
        (["--threads", "0"], "--threads: must be at least 1, got 0"),
        (["--threads", "-1"], "--threads: must be at least 1, got -1"),
        (["--threads", "1e9"], "--threads: expected a whole number, got '1e9'"),
        (["--threads", "1000000000"], "--threads: must be at most 1024"),
        (["--batch", "0"], "--batch: must be at least 1, got 0"),
        (["--batch", "100000"], "--batch: must be at most 256"),
        (["--min-area", "inf"], "--min-area: must be a finite number, got inf"),
        (["--min-area", "nan"], "--min-area: must be a finite number, got nan"),
        (["--min-area", "1e300"], "--min-area: must be at most 5.1e+14, got 1e+300"),
        (["--min-area", "-1"], "--min-area: must be at least 0, got -1"),
        (["--simplify", "-1"], "--simplify: must be at least 0, got -1"),
        (["--simplify", "nan"], "--simplify: must be a finite number, got nan"),
        (["--simplify", "1e400"], "--simplify: must be a finite number, got inf"),
    ],
)
def test_segment_refuses_bad_numbers(capsys, tmp_path, segment_args, extra, contains):
    refused(capsys, tmp_path, *segment_args, *extra, contains=contains)


@pytest.mark.parametrize(
    "extra, contains",
    [
        (["--out-vector", "{tmp}/p.tif"], "--out-vector: cannot tell the vector format of p.tif from its extension; use --vector-format"),
        (["--out-vector", "{tmp}/p.gpkg", "--vector-format", "KML"], "--vector-format: unknown vector format 'KML'"),
    ],
)
def test_segment_names_its_own_vector_options(capsys, tmp_path, segment_args, extra, contains):
    """The polygon rules are vectorize's, but segment's messages name segment's options."""
    refused(capsys, tmp_path, *segment_args, *[a.format(tmp=tmp_path) for a in extra], contains=contains)


@pytest.mark.parametrize(
    "extra, contains",
    [
        (["--min-area", "nan"], "--min-area: must be a finite number, got nan"),
        (["--min-area=-inf"], "--min-area: must be a finite number, got -inf"),
        (["--min-area", "1e300"], "--min-area: must be at most 5.1e+14"),
        (["--simplify", "-0.5"], "--simplify: must be at least 0, got -0.5"),
        (["--simplify", "inf"], "--simplify: must be a finite number, got inf"),
        (["--simplify", "1e12"], "--simplify: must be at most 4.0075e+07"),
    ],
)
def test_vectorize_refuses_bad_numbers(capsys, tmp_path, make_raster, extra, contains):
    refused(capsys, tmp_path, "vectorize", str(make_raster()), "--out", str(tmp_path / "p.gpkg"), *extra, contains=contains)


@pytest.mark.parametrize("count, contains", [("0", "at least 2, got 0"), ("1", "at least 2, got 1"),
                                             ("100000000", "at most 255, got 100000000"), ("256", "at most 255")])
def test_class_counts_are_bounded_in_evaluate_stats_and_init(capsys, tmp_path, make_raster, count, contains):
    # 100000000 classes once built a table of 10^8 colours and was killed for memory.
    raster = str(make_raster())
    message = f"--classes: a class count must be {contains}"
    refused(capsys, tmp_path, "evaluate", raster, raster, "--classes", count, contains=message)
    refused(capsys, tmp_path, "stats", raster, "--zones", raster, "--zone-field", "id", "--out", str(tmp_path / "s.csv"),
            "--classes", count, contains=message)
    refused(capsys, tmp_path, "init-model", "--config", "tiny", "--out", str(tmp_path / "m.ckpt"), "--classes", count,
            contains=message)


@pytest.mark.parametrize(
    "extra, contains",
    [
        (["--epochs", "0"], "--epochs: must be at least 1, got 0"),
        (["--epochs", "1,2"], "--epochs: expected 1 or 3 values, got 2"),
        (["--epochs", "1,x,3"], "--epochs: expected a whole number, got 'x'"),
        (["--lr", "0"], "--lr: must be more than 0, got 0"),
        (["--lr", "nan"], "--lr: must be a finite number, got nan"),
        (["--lr", "1e-4,inf,1e-4"], "--lr: must be a finite number, got inf"),
        (["--lr", "-1"], "--lr: must be more than 0, got -1"),
        (["--batch-size", "0"], "--batch-size: must be at least 1, got 0"),
        (["--batch-size", "100000000"], "--batch-size: must be at most 4096"),
        (["--sub-batch", "-3"], "--sub-batch: must be at least 1, got -3"),
        (["--weight-decay", "nan"], "--weight-decay: must be a finite number, got nan"),
        (["--fmreg", "-1"], "--fmreg: must be at least 0, got -1"),
        (["--gamma", "inf"], "--gamma: must be a finite number, got inf"),
        (["--seed", "-1"], "--seed: must be at least 0, got -1"),
        (["--workers", "-1"], "--workers: must be at least 0, got -1"),
        (["--val-fraction", "1"], "--val-fraction: must be less than 1, got 1"),
        (["--val-fraction", "nan"], "--val-fraction: must be a finite number, got nan"),
        (["--window", "0"], "--window: must be at least 16, got 0"),
    ],
)
def test_train_refuses_bad_numbers(capsys, tmp_path, extra, contains):
    refused(capsys, tmp_path, "train", "--data", str(tmp_path), "--config", "tiny", "--out", str(tmp_path / "m.ckpt"),
            *extra, contains=contains)


def test_training_options_use_the_same_rules_for_library_callers():
    from glnet.models.training import TrainOptions

    for kwargs, message in [
        (dict(lr=(float("nan"),)), "--lr: must be a finite number, got nan"),
        (dict(epochs=(0,)), "--epochs: must be at least 1, got 0"),
        (dict(batch_size=0), "--batch-size: must be at least 1, got 0"),
        (dict(gamma=math.inf), "--gamma: must be a finite number, got inf"),
        (dict(workers=10**9), "--workers: must be at most 1024"),
    ]:
        with pytest.raises(InputError) as exc:
            TrainOptions(**kwargs).validate()
        assert str(exc.value).startswith(message), (kwargs, str(exc.value))
    TrainOptions(lr=(1e-4,), epochs=(2,)).validate()


@pytest.mark.parametrize(
    "args, contains",
    [
        (["init-model", "--config", "tiny", "--seed", "-1"], "--seed: must be at least 0, got -1"),
        (["init-model", "--config", "tiny", "--resolution", "0"], "--resolution: must be more than 0, got 0"),
        (["init-model", "--config", "tiny", "--resolution", "inf"], "--resolution: must be a finite number, got inf"),
        (["import-original", "--global", "g.pth", "--g2l", "a.pth", "--l2g", "b.pth", "--resolution", "-1"],
         "--resolution: must be at least 0, got -1"),
        (["import-original", "--global", "g.pth", "--g2l", "a.pth", "--l2g", "b.pth", "--resolution", "nan"],
         "--resolution: must be a finite number, got nan"),
        (["export", "c.ckpt", "--opset", "0"], "--opset: must be at least 7, got 0"),
        (["export", "c.ckpt", "--verify-windows", "0"], "--verify-windows: must be at least 1, got 0"),
        (["demo", "--threads", "0"], "--threads: must be at least 1, got 0"),
    ],
    ids=["init-seed", "init-resolution-0", "init-resolution-inf", "import-negative", "import-nan", "opset",
         "verify-windows", "demo-threads"],
)
def test_model_commands_refuse_bad_numbers(capsys, tmp_path, monkeypatch, args, contains):
    monkeypatch.chdir(tmp_path)
    refused(capsys, tmp_path, *args, "--out", str(tmp_path / "out"), contains=contains)


@pytest.mark.parametrize(
    "extra, contains",
    [
        (["--n", "0"], "--n: must be at least 1, got 0"),
        (["--n", "-5"], "--n: must be at least 1, got -5"),
        (["--size", "10"], "--size: must be at least 64, got 10"),
        (["--size", "1000000"], "--size: must be at most 4096"),
        (["--jobs", "0"], "--jobs: must be at least 1, got 0"),
        (["--jobs", "100000"], "--jobs: must be at most 256"),
        (["--jpeg-quality", "101"], "--jpeg-quality: must be at most 100, got 101"),
        (["--pixel-size", "nan"], "--pixel-size: must be a finite number, got nan"),
        (["--pixel-size", "0"], "--pixel-size: must be more than 0, got 0"),
        (["--crs", "0"], "--crs: must be at least 1, got 0"),
        (["--seed", "-1"], "--seed: must be at least 0, got -1"),
    ],
)
def test_synth_refuses_bad_numbers(capsys, tmp_path, extra, contains):
    base = ["synth", "--out", str(tmp_path / "set"), "--n", "1", "--size", "64"]
    refused(capsys, tmp_path, *base, *extra, contains=contains)
    assert not (tmp_path / "set").exists()


def test_engine_options_use_the_same_rules_for_library_callers():
    for kwargs, message in [
        (dict(window=1), "--window: must be at least 16, got 1"),
        (dict(window=float("nan")), "--window: must be a finite number, got nan"),
        (dict(window=2.5), "--window: must be a whole number, got 2.5"),
        (dict(threads=10**9), "--threads: must be at most 1024, got 1000000000"),
        (dict(batch=True), "--batch: expected a number, got True"),
        (dict(margin=-1), "--margin: must be at least 0, got -1"),
    ]:
        with pytest.raises(InputError) as exc:
            EngineOptions(**kwargs)
        assert str(exc.value) == message
    assert EngineOptions(window=300.0, margin=30).window == 300  # a whole float becomes an int


def test_a_rule_states_its_bounds_once():
    from glnet.glnet_core.samples.landscape import MAX_SIZE, MIN_SIZE

    # synth's --help cannot import landscape (numpy); its rule repeats the numbers, checked here.
    assert (SCENE_SIZE.minimum, SCENE_SIZE.maximum) == (MIN_SIZE, MAX_SIZE)
    assert WINDOW.describe() == "16 to 65536"
    assert NumberRule("--f", False, 0, 1, below_maximum=True).describe() == "at least 0 and less than 1"
    assert MIN_AREA.check(0) == 0.0 and isinstance(MIN_AREA.check(3), float)
    with pytest.raises(InputError, match=r"^Minimum mapping unit: must be a finite number, got nan$"):
        MIN_AREA.check(float("nan"), name="Minimum mapping unit")


# --------------------------------------------------------------------------- inputs that are not regular files


@pytest.fixture
def fifo(tmp_path) -> Path:
    path = tmp_path / "pipe.tif"
    os.mkfifo(path)
    return path


def run_with_timeout(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    # A subprocess with a timeout: the bug this guards against is a hang.
    return subprocess.run(GLNET + [str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_a_fifo_as_the_raster_is_refused_at_once(tmp_path, fifo, demo_bundle):
    proc = run_with_timeout("segment", fifo, "--model", demo_bundle, "--out-mask", tmp_path / "m.tif", cwd=tmp_path)
    assert_refused(proc, contains=f"INPUT: {fifo} is a named pipe (FIFO), not a regular file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.tif"]


def test_a_device_as_the_bundle_is_refused_at_once(tmp_path, make_raster):
    raster = make_raster()
    before = snapshot(tmp_path)
    proc = run_with_timeout("segment", raster, "--model", "/dev/zero", "--out-mask", tmp_path / "m.tif", cwd=tmp_path)
    assert_refused(proc, contains="--model: /dev/zero is a character device, not a regular file")
    assert snapshot(tmp_path) == before


def test_a_link_to_a_fifo_is_refused(capsys, tmp_path, fifo, make_raster):
    link = tmp_path / "link.tif"
    link.symlink_to(fifo)
    refused(capsys, tmp_path, "vectorize", link, "--out", tmp_path / "p.gpkg",
            contains=f"MASK: {link} is a named pipe (FIFO)")


def test_a_socket_is_refused(capsys, tmp_path, make_raster):
    path = tmp_path / "ref.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        server.bind(str(path))
        refused(capsys, tmp_path, "evaluate", make_raster(), path, contains=f"REF: {path} is a socket, not a regular file")
    finally:
        server.close()


@pytest.mark.parametrize(
    "command",
    [
        ["stats", "{raster}", "--zones", "{fifo}", "--zone-field", "id", "--out", "{tmp}/s.csv"],
        ["evaluate", "{raster}", "{raster}", "--classes", "{fifo}"],
        ["vectorize", "{raster}", "--out", "{tmp}/p.gpkg", "--confidence", "{fifo}"],
        ["vectorize", "{raster}", "--out", "{tmp}/p.gpkg", "--model", "{fifo}"],
        ["train", "--data", "{tmp}", "--init", "{fifo}", "--out", "{tmp}/m.ckpt"],
        ["init-model", "--config", "tiny", "--classes", "{fifo}", "--out", "{tmp}/m.ckpt"],
        ["export", "{fifo}", "--out", "{tmp}/b.glnet"],
        ["export", "--verify", "{fifo}"],
        ["import-original", "--global", "{fifo}", "--g2l", "{raster}", "--l2g", "{raster}", "--out", "{tmp}/m.ckpt"],
        ["demo", "--scene", "{fifo}", "--out", "{tmp}/demo"],
    ],
    ids=["zones", "class-table", "confidence", "vectorize-bundle", "checkpoint", "init-classes", "export-checkpoint",
         "verify-bundle", "published-checkpoint", "demo-scene"],
)
def test_every_command_checks_its_input_paths(capsys, tmp_path, fifo, make_raster, command):
    raster = make_raster()
    args = [a.format(raster=raster, fifo=fifo, tmp=tmp_path) for a in command]
    refused(capsys, tmp_path, *args, contains=f"{fifo} is a named pipe (FIFO), not a regular file")


def test_library_callers_are_protected_where_the_raster_is_opened(tmp_path, fifo):
    from glnet.glnet_core.formats.raster_input import open_raster

    with pytest.raises(InputError, match=r"is a named pipe \(FIFO\), not a regular file"):
        open_raster(fifo, 3)
    with pytest.raises(InputError, match=r"^INPUT: /dev/null is a character device"):
        check_input_path("/dev/null", "INPUT")


def test_virtual_paths_pass_and_archives_are_checked_on_their_file(tmp_path, fifo):
    # GDAL reads these itself; they are not local files.
    for path in ("/vsicurl/https://example.org/a.tif", "https://example.org/a.tif", "/vsis3/bucket/a.tif"):
        assert local_path_of(path) is None and check_input_path(path) == path
    # Missing local files pass too: the reader names them with its context.
    assert check_input_path(tmp_path / "missing.tif") == str(tmp_path / "missing.tif")
    assert check_input_path(tmp_path) == str(tmp_path)  # a bundle may be a folder
    zipped = tmp_path / "bundle.zip"
    os.mkfifo(zipped)
    for path in (f"/vsizip/{zipped}/a.tif", f"/vsizip/{{{zipped}}}/a.tif", f"zip://{zipped}!a.tif"):
        assert local_path_of(path) == str(zipped)
        with pytest.raises(InputError, match="is a named pipe"):
            check_input_path(path, "INPUT")
