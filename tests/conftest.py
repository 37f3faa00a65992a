"""Shared fixtures of the glnet test suite.

torch is imported only inside the fixtures that build models, so the tests of
the pure core modules (tiling, resampling, class tables) run without it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, Optional

import numpy as np
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

# tests/qgis/ runs inside QGIS's own Python (`make test-qgis`), not in .venv.
collect_ignore = ["qgis"]


@pytest.fixture
def rng() -> np.random.Generator:
    """A fixed-seed numpy generator, fresh for every test (tests stay independent)."""
    return np.random.default_rng(20190616)


@pytest.fixture(scope="session")
def glnet_executable() -> Path:
    """The ``glnet`` console script of the environment running the tests.

    It sits next to the interpreter in a virtual environment (``.venv/bin``);
    falling back to ``PATH`` keeps other set-ups working.
    """
    candidate = Path(sys.executable).parent / "glnet"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return candidate
    found = shutil.which("glnet")
    if found is None:
        pytest.fail("the glnet console script is not installed; run `make install`")
    return Path(found)


@pytest.fixture(scope="session")
def run_glnet(glnet_executable: Path) -> Callable[..., subprocess.CompletedProcess]:
    """Run the ``glnet`` console script; returns the completed process (text output).

    Parameters (of the returned function)
    -------------------------------------
    *args:
        Command-line arguments.
    cwd:
        Working directory (default: the current one).
    env:
        Extra environment variables.
    """

    def run(*args: str, cwd: Optional[Path] = None, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
        full_env = dict(os.environ)
        full_env.update(env or {})
        return subprocess.run(
            [str(glnet_executable), *args],
            cwd=cwd,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    return run


@pytest.fixture(scope="session")
def glnet_model() -> Callable[..., "object"]:
    """Factory of randomly initialised GLNets in eval mode, cached per session.

    ``glnet_model(config, n_classes=7, seed=0)``: ``config`` is a
    configuration name or a ``GLNetConfig``. The cache avoids building the
    100 M-parameter ``paper`` model more than once.
    """
    import torch

    from glnet.models.config import GLNetConfig, get_config
    from glnet.models.glnet import GLNet

    cache: Dict[tuple, GLNet] = {}

    def make(config, n_classes: int = 7, seed: int = 0) -> GLNet:
        cfg = config if isinstance(config, GLNetConfig) else get_config(config)
        key = (cfg, n_classes, seed)
        if key not in cache:
            torch.manual_seed(seed)
            cache[key] = GLNet(cfg, n_classes).eval()
        return cache[key]

    return make



@pytest.fixture
def cli_error(capsys) -> Callable[[list], str]:
    """Run ``glnet`` in-process with ``argv``; assert one ``glnet: error:`` line and exit 2; return the line."""
    from glnet.glnet_core.cli.main import main

    def run(argv) -> str:
        status = main(argv)
        err = capsys.readouterr().err.strip().splitlines()
        assert status == 2
        assert len(err) == 1 and err[0].startswith("glnet: error: "), err
        return err[0]

    return run


@pytest.fixture(scope="session")
def trained_like_model() -> Callable[..., "object"]:
    """Factory of GLNets that behave like trained ones: distinct classes, non-trivial BatchNorm.

    ``trained_like_model(config="tiny", n_classes=7, seed=0, strong_heads=True)``
    gives a new model in eval mode: BatchNorm buffers drawn at random (so a
    swapped or dropped buffer shows in the outputs) and, with
    ``strong_heads``, the convs initialised at std 0.01 (the heads) made 20
    times stronger, so that classes differ clearly rather than tie and argmax
    agreement is a meaningful figure.
    """
    import torch

    from glnet.models.config import GLNetConfig, get_config
    from glnet.models.glnet import GLNet

    def make(config="tiny", n_classes: int = 7, seed: int = 0, strong_heads: bool = True) -> GLNet:
        torch.manual_seed(seed)
        model = GLNet(config if isinstance(config, GLNetConfig) else get_config(config), n_classes)
        g = torch.Generator().manual_seed(seed + 1)
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) * 0.2 - 0.1)
                    m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
                if strong_heads and isinstance(m, torch.nn.Conv2d) and m.weight.std() < 0.02:
                    m.weight.mul_(20)
        return model.eval()

    return make


@pytest.fixture(scope="session")
def wavy_scene() -> Callable[[Path, int, int], Path]:
    """Factory of small synthetic RGB GeoTIFFs: ``wavy_scene(path, size, seed) -> path``.

    Smooth sine patterns with noise (uint8, EPSG:32633, 0.5 m pixels): classes
    that change across the scene, different for each seed; cheap to make.
    """
    import rasterio
    from affine import Affine

    def make(path: Path, size: int, seed: int) -> Path:
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
        img = np.stack([np.sin(xx / (31 + 5 * k) + seed) * np.cos(yy / 23 - k) for k in range(3)]) * 0.45 + 0.5
        data = np.clip(img * 255 + rng.normal(0, 10, img.shape), 0, 255).astype(np.uint8)
        with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8",
                           crs="EPSG:32633", transform=Affine(0.5, 0, 500000, 0, -0.5, 5000000)) as ds:
            ds.write(data)
        return path

    return make
