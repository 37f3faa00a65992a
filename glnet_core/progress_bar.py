"""A dependency-free one-line progress bar for the command line (training, segmentation).

:class:`BarCallbacks` draws glnet_core's :class:`~glnet_core.callbacks.Callbacks`
with it (segment, demo, vectorize).
"""

from __future__ import annotations

import enum
import sys
import time
from typing import TYPE_CHECKING, Optional, TextIO, Union

if TYPE_CHECKING:
    from .callbacks import Callbacks, Progress

__all__ = ["ProgressBar", "BarCallbacks"]


class _Own(enum.Enum):
    """The default of :meth:`ProgressBar.set`'s ``eta``: the bar estimates it."""

    ETA = 0


class ProgressBar:
    """A one-line progress bar on a terminal (no dependency).

    Drawn only when ``enabled`` (default: the stream is a terminal); redraws
    at most ten times a second.

    Parameters
    ----------
    total:
        Number of steps.
    label:
        Text in front of the bar.
    stream:
        Where to draw (default ``sys.stderr``).
    enabled:
        Force on / off; None: on when ``stream`` is a terminal.
    """

    def __init__(self, total: int, label: str, stream: Optional[TextIO] = None, enabled: Optional[bool] = None):
        self.total = max(0, int(total))
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        if enabled is None:
            enabled = bool(getattr(self.stream, "isatty", lambda: False)())
        self.enabled = enabled
        self.done = 0
        self.info = ""
        self.eta: Union[float, None, _Own] = _Own.ETA
        self.start = time.monotonic()
        self._last = 0.0
        self._width = 0
        self._draw(force=True)

    def update(self, n: int = 1, info: Optional[str] = None) -> None:
        """Advance by ``n`` steps; ``info`` replaces the text after the bar."""
        self.set(self.done + n, info)

    def set(self, done: int, info: Optional[str] = None, eta: Union[float, None, _Own] = _Own.ETA) -> None:
        """Move to ``done`` steps; ``info`` replaces the text after the bar.

        ``eta``: seconds left as the caller estimates them (a resumed run
        knows which steps were done before it started; None: not known yet,
        none shown); by default the bar estimates them from its own speed.
        """
        self.done = max(0, min(self.total, int(done)))
        if info is not None:
            self.info = info
        self.eta = eta
        self._draw(force=self.done == self.total)

    def _draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        frac = self.done / self.total if self.total else 1.0
        width = 24
        filled = int(round(frac * width))
        elapsed = now - self.start
        if self.eta is _Own.ETA:
            eta: Optional[float] = elapsed / self.done * (self.total - self.done) if self.done else None
        else:
            eta = self.eta
        text = f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {elapsed:.0f}s"
        if eta is not None and self.done < self.total:
            text += f" eta {eta:.0f}s"
        if self.info:
            text += f"  {self.info}"
        pad = max(0, self._width - len(text))
        self._width = len(text)
        self.stream.write("\r" + text + " " * pad)
        self.stream.flush()

    def close(self) -> None:
        """Erase the bar (the caller prints a summary line instead)."""
        if self.enabled and self._width:
            self.stream.write("\r" + " " * self._width + "\r")
            self.stream.flush()
        self._width = 0


class BarCallbacks:
    """glnet_core :class:`~glnet_core.callbacks.Callbacks` drawn on the terminal.

    Progress becomes a :class:`ProgressBar` (made at the first report, when
    the total is known), log lines go to ``stream`` with the bar erased
    first. Use as a context manager: the bar is erased on leaving.

    Parameters
    ----------
    label:
        Text in front of the bar.
    quiet:
        Draw nothing and print no log lines.
    stream:
        Where to draw (default ``sys.stderr``).
    """

    def __init__(self, label: str, quiet: bool = False, stream: Optional[TextIO] = None):
        self.label = label
        self.quiet = quiet
        self.stream = stream if stream is not None else sys.stderr
        self.bar: Optional[ProgressBar] = None

    def progress(self, p: "Progress") -> None:
        """Draw ``p``; segment's reports name the window being run."""
        if self.quiet:
            return
        if self.bar is None:
            self.bar = ProgressBar(p.total, self.label, self.stream)
        info = f"window {min(p.windows_done + 1, p.windows_total)}/{p.windows_total}" if p.windows_total else None
        self.bar.set(p.done, info, p.eta_s)

    def log(self, message: str) -> None:
        """Print one line under the bar."""
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.close()
        print(message, file=self.stream, flush=True)

    def callbacks(self, log: bool = True) -> "Callbacks":
        """The hooks (``log=False``: progress only)."""
        from .callbacks import Callbacks

        return Callbacks(progress=self.progress, log=self.log if log else None)

    def close(self) -> None:
        """Erase the bar."""
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> "BarCallbacks":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
