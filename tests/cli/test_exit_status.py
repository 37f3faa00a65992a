"""Exit statuses: 2 for bad input (a bad output path included), 1 for a failure of the machine.

The real failure is a write the kernel refuses: the command runs in a child
process whose ``RLIMIT_FSIZE`` is a few KiB (``SIGXFSZ`` ignored, so the write
returns ``EFBIG`` as a full disk returns ``ENOSPC``). This suite runs as root,
where a read-only folder does not stop a write, and it cannot mount a small
file system; the file-size limit is the failure it can cause for real.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys

import pytest

from glnet.glnet_core.cli import main as cli
from glnet.glnet_core.errors import InputError, OutputPathError, OutputWriteError

GLNET = [sys.executable, "-m", "glnet.glnet_core"]


def _limit_file_size_to(limit: int):
    def setup() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of being killed
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))

    return setup


_limit_file_size = _limit_file_size_to(4096)


def test_a_failed_checkpoint_write_exits_1_and_leaves_nothing(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "m.ckpt"
    proc = subprocess.run(
        GLNET + ["init-model", "--config", "tiny", "--out", str(out)],
        capture_output=True, text=True, preexec_fn=_limit_file_size,
    )
    lines = proc.stderr.splitlines()
    assert proc.returncode == 1, proc.stderr
    assert len(lines) == 1 and lines[0].startswith(f"glnet: error: --out: cannot write {out}: "), proc.stderr
    assert list(tmp_path.iterdir()) == []  # neither the checkpoint nor its part file


def test_a_bad_output_path_exits_2(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "m.ckpt"
    out.write_bytes(b"precious")
    proc = subprocess.run(GLNET + ["init-model", "--config", "tiny", "--out", str(out)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"glnet: error: --out: {out} already exists; pass --overwrite to replace it"
    assert out.read_bytes() == b"precious"


@pytest.mark.parametrize(
    "raised, status, message",
    [
        (OutputWriteError("cannot write x.tif: No space left on device"), 1, "cannot write x.tif: No space left on device"),
        (MemoryError(), 1, "out of memory"),
        (OutputPathError("x.tif already exists; pass --overwrite to replace it"), 2, "x.tif already exists; pass --overwrite to replace it"),
        (InputError("bad input"), 2, "bad input"),
    ],
    ids=["write-failed", "out-of-memory", "bad-path", "bad-input"],
)
def test_main_maps_errors_to_exit_statuses(tmp_path, monkeypatch, capsys, raised, status, message):
    (tmp_path / "cmd_raises.py").write_text(
        "RAISED = None\ndef add_arguments(p):\n    pass\ndef run(args):\n    raise RAISED\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import cmd_raises

    monkeypatch.setattr(cmd_raises, "RAISED", raised)
    build = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: build((cli.CommandSpec("boom", "cmd_raises", "raises"),)))
    assert cli.main(["boom"]) == status
    assert capsys.readouterr().err == f"glnet: error: {message}\n"


def test_a_failed_report_write_exits_1_and_leaves_nothing(tmp_path):
    """``glnet evaluate --json`` under a 256-byte file-size limit: the rasters are read, the JSON report cannot be written."""
    import numpy as np
    import rasterio

    masks = tmp_path / "in"
    masks.mkdir()
    values = np.arange(64 * 64, dtype=np.uint8).reshape(64, 64) % 7
    for name in ("pred.tif", "ref.tif"):
        with rasterio.open(masks / name, "w", driver="GTiff", width=64, height=64, count=1, dtype="uint8",
                           crs="EPSG:32633", transform=rasterio.transform.from_origin(500000, 5000000, 1, 1)) as ds:
            ds.write(values, 1)
    out = tmp_path / "report.json"
    proc = subprocess.run(
        GLNET + ["evaluate", str(masks / "pred.tif"), str(masks / "ref.tif"), "--classes", "deepglobe", "--json", str(out), "--quiet"],
        capture_output=True, text=True, preexec_fn=_limit_file_size_to(256),
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.strip() == f"glnet: error: --json: cannot write {out}: File too large"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
