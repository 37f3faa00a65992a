"""Where a segmentation run spends its time, and its peak memory.

:class:`StepTimes` accumulates seconds per step while a run goes;
:meth:`StepTimes.freeze` gives the frozen :class:`Timings` a
:class:`~glnet_core.engine.segment.SegmentResult` carries (and ``glnet
segment --profile`` writes). :func:`peak_rss_mb` measures the process's peak
resident memory the way that stays right for processes started from a large
parent.
"""

from __future__ import annotations

import resource
import time
from dataclasses import asdict, dataclass, field
from typing import Dict

from .predictor import WindowTimes

__all__ = ["StepTimes", "Timings", "peak_rss_mb"]


def peak_rss_mb() -> float:
    """Peak resident memory of this process in MB.

    Linux's ``VmHWM`` where available: ``ru_maxrss`` also counts the memory of
    the process that started this one (it is carried over exec), which made
    small runs started from a large parent look large.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@dataclass(frozen=True)
class Timings:
    """Seconds per step of a run (rounded to milliseconds).

    ``network_s`` is ``global_s + local_s + aggregation_s`` (time inside
    onnxruntime); ``read_s``, ``prepare_s`` and ``write_s`` are the work of
    reading windows, preparing the network's inputs and writing the cores,
    wherever it ran; ``postprocess_s`` turns scores into classes and
    confidence; ``finish_s`` is the work on the complete outputs before they
    are committed (the pipeline's sieve and polygons).

    ``input_wait_s`` and ``output_wait_s`` are what the network's thread
    waited for: the next window's input (read and prepared), and the writer
    (the previous window's blocks and the resume checkpoints). Run one after
    the other they are the whole of reading and preparing, and of writing and
    checkpointing; a pipelined run (:mod:`glnet_core.engine.window_pipeline`)
    waits only for what the network did not hide. ``overlap_s`` is the read,
    prepare and write work hidden behind the network (0 when run one after
    the other). ``other_s`` is the rest of ``total_s`` (opening the bundle and
    sessions, bookkeeping): ``total_s = network_s + postprocess_s + finish_s
    + input_wait_s + output_wait_s + other_s``.
    """

    total_s: float
    network_s: float
    read_s: float
    prepare_s: float
    global_s: float
    local_s: float
    aggregation_s: float
    postprocess_s: float
    write_s: float
    finish_s: float
    other_s: float
    input_wait_s: float = 0.0
    output_wait_s: float = 0.0
    overlap_s: float = 0.0

    def as_dict(self) -> Dict[str, float]:
        """The fields by name."""
        return asdict(self)


@dataclass
class StepTimes:
    """Running sums of a run's step times (an accumulator; see :class:`Timings`)."""

    start: float = field(default_factory=time.perf_counter)
    read_s: float = 0.0
    prepare_s: float = 0.0
    post_s: float = 0.0
    write_s: float = 0.0
    finish_s: float = 0.0
    input_wait_s: float = 0.0
    output_wait_s: float = 0.0
    net: WindowTimes = field(default_factory=WindowTimes)

    def freeze(self) -> Timings:
        """The times so far; ``total_s`` runs from this object's creation to now."""
        total = time.perf_counter() - self.start
        # What the network's thread did besides the network (see Timings).
        steps = self.post_s + self.finish_s + self.input_wait_s + self.output_wait_s
        hidden = self.read_s + self.prepare_s + self.write_s - self.input_wait_s - self.output_wait_s
        return Timings(
            total_s=round(total, 3),
            network_s=round(self.net.network_s, 3),
            read_s=round(self.read_s, 3),
            prepare_s=round(self.prepare_s, 3),
            global_s=round(self.net.global_s, 3),
            local_s=round(self.net.local_s, 3),
            aggregation_s=round(self.net.aggregation_s, 3),
            postprocess_s=round(self.post_s, 3),
            write_s=round(self.write_s, 3),
            finish_s=round(self.finish_s, 3),
            # Not below 0: in a Dask run the network seconds are summed over the workers.
            other_s=round(max(0.0, total - self.net.network_s - steps), 3),
            input_wait_s=round(self.input_wait_s, 3),
            output_wait_s=round(self.output_wait_s, 3),
            overlap_s=round(max(0.0, hidden), 3),
        )
