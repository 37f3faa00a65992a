"""Fixtures shared by the model and training tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Run torch on one thread in a module (``pytestmark = pytest.mark.usefixtures("one_torch_thread")``).

    The tiny models are dominated by per-op overhead; on a 2-core machine
    shared with other processes, two OpenMP threads make each op up to 100x
    slower (measured: 0.6 s instead of 2 ms for a tiny global pass).
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
