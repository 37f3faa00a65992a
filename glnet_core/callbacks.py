"""Progress, log lines and cancellation: the one set of hooks of glnet's long runs.

:func:`glnet_core.engine.segment.segment`, the products (vectorize, evaluate,
zonal stats) and the pipeline take one :class:`Callbacks`. The command line
draws its progress as a bar (:mod:`glnet_core.progress_bar`); the QGIS
plugin has one adapter onto ``QgsProcessingFeedback``
(``glnet_plugin/algorithms/base.py``).

Every line the engine logs is a :class:`glnet_core.messages.LogLine` of the
message catalogue: a ``str`` holding the English line (what the command line
prints), which a user interface can render in its own language through the
same catalogue (the plugin's ``glnet_plugin.i18n.translate_line``).

Every hook is optional. ``progress`` and ``log`` are called from the running
thread; ``is_cancelled`` is polled between steps (a patch batch of segment, a
block of rows of the products), and a true answer stops the run with
:class:`glnet_core.errors.Cancelled` after its partial outputs are removed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Callable, Optional

from .errors import Cancelled

__all__ = ["Progress", "Callbacks", "ProgressCounter"]


@dataclass(frozen=True)
class Progress:
    """Where a run stands; passed to :attr:`Callbacks.progress`.

    Attributes
    ----------
    done, total:
        Steps done and in all (``total`` may be 0: nothing to do).
    unit:
        What a step is: ``"patches"`` (segment), ``"rows"`` (the products).
    elapsed_s:
        Seconds since the run started counting.
    eta_s:
        Estimated seconds left, or None before a step was timed.
    windows_done, windows_total:
        GLNet windows finished and in all (segment; 0 elsewhere).
    """

    done: int
    total: int
    unit: str
    elapsed_s: float = 0.0
    eta_s: Optional[float] = None
    windows_done: int = 0
    windows_total: int = 0

    @property
    def fraction(self) -> float:
        """``done / total`` (1.0 when there is nothing to do)."""
        return self.done / self.total if self.total else 1.0


@dataclass(frozen=True)
class Callbacks:
    """Hooks for progress, log lines and cancellation (all optional).

    Attributes
    ----------
    progress:
        Called with a :class:`Progress` after each step.
    log:
        Called with one line of text (no newline) for the user: a
        :class:`~glnet_core.messages.LogLine` for the engine's own lines.
    is_cancelled:
        Polled between steps; true stops the run with :class:`Cancelled`.
    """

    progress: Optional[Callable[[Progress], None]] = None
    log: Optional[Callable[[str], None]] = None
    is_cancelled: Optional[Callable[[], bool]] = None

    def message(self, text: str) -> None:
        """Pass one line to :attr:`log`, if set.

        Parameters
        ----------
        text:
            The line: a :class:`~glnet_core.messages.LogLine` (an entry of the
            catalogue with its values) for every user-facing line of the engine.
        """
        if self.log is not None:
            self.log(text)

    def check_cancelled(self) -> None:
        """Poll :attr:`is_cancelled`.

        Raises
        ------
        Cancelled
            When it answers true.
        """
        if self.is_cancelled is not None and self.is_cancelled():
            raise Cancelled("cancelled")

    def without_progress(self) -> "Callbacks":
        """The same log and cancellation hooks, no progress (for a step whose progress is not shown)."""
        return replace(self, progress=None)

    def counter(self, total: int, unit: str, done: int = 0) -> "ProgressCounter":
        """A :class:`ProgressCounter` of ``total`` steps reporting to these hooks."""
        return ProgressCounter(self, total, unit, done)


class ProgressCounter:
    """Turns step counts into :class:`Progress` reports, with elapsed time and ETA.

    Parameters
    ----------
    callbacks:
        Where to report.
    total, unit:
        As :class:`Progress`.
    done:
        Steps already done before this run (a resumed run): they count
        towards ``done`` but not towards the speed the ETA is estimated from.
    """

    def __init__(self, callbacks: Callbacks, total: int, unit: str, done: int = 0):
        self.callbacks = callbacks
        self.total = int(total)
        self.unit = unit
        self.before = int(done)
        self.start = time.perf_counter()

    def step(self, done: int, windows_done: int = 0, windows_total: int = 0) -> None:
        """Report ``done`` steps (cancellation is polled by the caller, where its steps allow)."""
        if self.callbacks.progress is None:
            return
        elapsed = time.perf_counter() - self.start
        new = done - self.before
        eta = elapsed / new * (self.total - done) if new > 0 else None
        self.callbacks.progress(Progress(int(done), self.total, self.unit, elapsed, eta, windows_done, windows_total))
