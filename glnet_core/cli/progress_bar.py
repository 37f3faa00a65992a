"""A dependency-free one-line progress bar for the command line (training, segmentation)."""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO

__all__ = ["ProgressBar"]


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
        self.start = time.monotonic()
        self._last = 0.0
        self._width = 0
        self._draw(force=True)

    def update(self, n: int = 1, info: Optional[str] = None) -> None:
        """Advance by ``n`` steps; ``info`` replaces the text after the bar."""
        self.set(self.done + n, info)

    def set(self, done: int, info: Optional[str] = None) -> None:
        """Move to ``done`` steps; ``info`` replaces the text after the bar."""
        self.done = max(0, min(self.total, int(done)))
        if info is not None:
            self.info = info
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
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        text = f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {elapsed:.0f}s"
        if self.done and self.done < self.total:
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
