"""``glnet train --window``: a new model's window side, stored in its checkpoint.

The demo benchmark trains its local-only baseline with ``--window`` equal to
the patch size, so the global branch sees full-resolution crops without
context; these tests check that the override reaches the checkpoint, the
training crops and the validation tiles, and that misuse is a one-line error.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from glnet.glnet_core.cli import train as train_command
from glnet.glnet_core.errors import InputError
from glnet.glnet_core.formats.classes import load_class_table
from glnet.models.checkpoint import load_checkpoint
from glnet.models.config import get_config
from glnet.models.data import TrainingDataset, find_pairs

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/models/conftest.py


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="glnet train")
    train_command.add_arguments(parser)
    return parser.parse_args(list(argv))


def write_set(folder: Path, n: int, size: int, seed: int = 0) -> Path:
    """``n`` PNG images (two colours = two classes, in 32 px blocks) with index masks."""
    rng = np.random.default_rng(seed)
    (folder / "images").mkdir(parents=True)
    (folder / "masks").mkdir()
    for i in range(n):
        labels = np.kron(rng.integers(0, 2, (size // 32, size // 32)), np.ones((32, 32), int)).astype(np.uint8)
        image = np.where(labels[..., None] == 1, [200, 60, 60], [60, 60, 200]).astype(np.uint8)
        Image.fromarray(image).save(folder / "images" / f"im{i}.png")
        Image.fromarray(labels).save(folder / "masks" / f"im{i}.png")
    return folder


def test_window_reaches_checkpoint_crops_and_validation(tmp_path):
    data = write_set(tmp_path / "data", n=2, size=320)
    val = write_set(tmp_path / "val", n=1, size=256, seed=1)
    out = tmp_path / "local.ckpt"
    argv = ["--data", str(data), "--val", str(val), "--config", "tiny", "--classes", "2", "--window", "128",
            "--stage", "global", "--epochs", "1", "--batch-size", "2", "--lr", "1e-3", "--quiet", "--out", str(out)]
    assert train_command.run(parse(*argv)) == 0
    ckpt = load_checkpoint(out)
    assert ckpt.config.window == 128
    assert (ckpt.config.size_g, ckpt.config.size_p) == (128, 128)  # only the window changed
    assert ckpt.provenance["final_val_miou"]["global"] is not None

    # Training samples are window-sized crops: 128 px, not the 320 px images.
    ds = TrainingDataset(find_pairs(data), load_class_table("2"), ckpt.config, ckpt.normalisation, augment=False)
    assert ds.sample(0).window.shape[1:] == (128, 128)
    # Without the override the same images are whole windows (tiny's window is 512).
    whole = TrainingDataset(find_pairs(data), load_class_table("2"), get_config("tiny"), ckpt.normalisation, augment=False)
    assert whole.sample(0).window.shape[1:] == (320, 320)


def test_window_errors(tmp_path):
    data = write_set(tmp_path / "data", n=2, size=128)
    base = ["--data", str(data), "--classes", "2", "--stage", "global", "--epochs", "1", "--quiet"]
    with pytest.raises(InputError, match=r"--window 64 is smaller than the tiny patch size \(128 px\)"):
        train_command.run(parse(*base, "--config", "tiny", "--window", "64", "--out", str(tmp_path / "a.ckpt")))
    assert not (tmp_path / "a.ckpt").exists()
    first = tmp_path / "b.ckpt"
    assert train_command.run(parse(*base, "--config", "tiny", "--out", str(first))) == 0
    with pytest.raises(InputError, match="use it with --config"):
        train_command.run(parse("--data", str(data), "--init", str(first), "--window", "256", "--quiet",
                                "--out", str(tmp_path / "c.ckpt")))
    with pytest.raises(InputError, match="use it with --config"):
        train_command.run(parse("--out", str(first), "--resume", "--window", "256"))


def test_window_on_the_command_line(tmp_path, run_glnet):
    data = write_set(tmp_path / "data", n=2, size=128)
    out = tmp_path / "m.ckpt"
    proc = run_glnet("train", "--data", str(data), "--config", "tiny", "--classes", "2", "--window", "100",
                     "--out", str(out), env={"OMP_NUM_THREADS": "1"})
    assert proc.returncode == 2
    assert proc.stderr.strip() == "glnet: error: --window 100 is smaller than the tiny patch size (128 px); use at least 128"
    help_text = run_glnet("train", "--help").stdout
    assert "--window PX" in help_text
