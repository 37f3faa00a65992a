"""Bad values of ``glnet segment --chain`` and ``--gpu-memory``, and the device chain without its package.

Each case runs the command line as a user does and checks the contract:
exit status 2, exactly one ``glnet: error:`` line naming the option, no
traceback, nothing written, the inputs (and an output that exists) unchanged.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import List

import pytest

from glnet.glnet_core.cli.main import main
from glnet.glnet_core.engine.device_chain import NO_ONNX
from glnet.glnet_core.engine.options import EngineOptions
from glnet.glnet_core.errors import InputError
from tests.adversarial.conftest import assert_no_parts, assert_refused, snapshot


def _glnet(capsys, *args: str) -> subprocess.CompletedProcess:
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), status, out.out, out.err)


@pytest.fixture
def segment_args(tmp_path, make_raster, demo_bundle) -> List[str]:
    return ["segment", str(make_raster()), "--model", str(demo_bundle), "--out-mask", str(tmp_path / "mask.tif")]


@pytest.mark.parametrize(
    "extra, contains",
    [
        (["--chain", "gpu"], "--chain: invalid choice"),
        (["--chain", "DEVICE"], "--chain: invalid choice"),
        (["--chain", ""], "--chain: invalid choice"),
        (["--gpu-memory", "0"], "--gpu-memory: must be at least 1, got 0"),
        (["--gpu-memory", "-512"], "--gpu-memory: must be at least 1, got -512"),
        (["--gpu-memory", "1.5"], "--gpu-memory: expected a whole number"),
        (["--gpu-memory", "lots"], "--gpu-memory: expected a whole number"),
        (["--gpu-memory", "nan"], "--gpu-memory: expected a whole number"),
        (["--gpu-memory", "1048577"], "--gpu-memory: must be at most 1048576, got 1048577"),
        (["--gpu-memory", "9" * 400], "--gpu-memory: must be at most 1048576"),
    ],
)
def test_bad_chain_options_are_one_line(capsys, tmp_path, demo_bundle, segment_args, extra, contains):
    before, bundle_before = snapshot(tmp_path), snapshot(demo_bundle)
    assert_refused(_glnet(capsys, *segment_args, *extra), status=2, contains=contains)
    assert snapshot(tmp_path) == before and snapshot(demo_bundle) == bundle_before
    assert_no_parts(tmp_path)


@pytest.mark.parametrize("bad", [None, "Device", "cuda", 3])
def test_engine_options_refuse_unknown_chains(bad):
    with pytest.raises(InputError, match="--chain: unknown chain"):
        EngineOptions(chain=bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [0, -1, 1.25, float("nan"), True, "64"])
def test_engine_options_refuse_bad_gpu_memory(bad):
    with pytest.raises(InputError, match="--gpu-memory: "):
        EngineOptions(gpu_memory=bad)  # type: ignore[arg-type]


NO_ONNX_MAIN = textwrap.dedent(
    """
    import sys
    sys.modules["onnx"] = None  # an install without the onnx package
    from glnet.glnet_core.cli.main import main
    sys.exit(main(sys.argv[1:]))
    """
)


@pytest.mark.parametrize("extra", [[], ["--overwrite"], ["--out-confidence", "CONF", "--overwrite", "--mode", "g2l"]])
def test_chain_device_without_onnx_touches_nothing(tmp_path, make_raster, demo_bundle, extra):
    """The refusal comes before any output is opened: an existing mask survives even with --overwrite."""
    src = make_raster()
    mask = tmp_path / "mask.tif"
    mask.write_bytes(b"an older mask the user asked to replace only if the run works")
    args = ["segment", str(src), "--model", str(demo_bundle), "--out-mask", str(mask), "--chain", "device"]
    args += [str(tmp_path / "conf.tif") if a == "CONF" else a for a in extra]
    if "--overwrite" not in extra:
        mask.unlink()
    before, bundle_before = snapshot(tmp_path), snapshot(demo_bundle)
    proc = subprocess.run([sys.executable, "-c", NO_ONNX_MAIN, *args], capture_output=True, text=True, timeout=300)
    assert assert_refused(proc, status=2) == f"glnet: error: {NO_ONNX}"
    assert snapshot(tmp_path) == before and snapshot(demo_bundle) == bundle_before
    assert_no_parts(tmp_path)
    assert not Path(tmp_path / "conf.tif").exists()
