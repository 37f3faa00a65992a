"""GDAL settings for glnet's streaming passes over rasters, and what GDAL raises, warns and prints.

:func:`gdal_write_errors` is the one rule for every GeoTIFF (any GDAL)
writer of glnet: whatever GDAL or libtiff reports while a file is written or
closed becomes one :class:`~glnet.glnet_core.errors.OutputWriteError` naming
the output, and nothing of theirs reaches the terminal.

rasterio is imported inside the functions, so that importing a command
module (``glnet --help``) stays light.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import tempfile
import threading
import warnings
from contextlib import contextmanager
from typing import IO, Callable, Iterator, List, Optional, Tuple, Type, TypeVar, Union

from ..errors import OutputWriteError

__all__ = [
    "GDAL_CACHE_MB",
    "bounded_gdal_cache",
    "with_bounded_gdal_cache",
    "gdal_errors",
    "gdal_error_text",
    "ignore_not_georeferenced",
    "GdalMessages",
    "captured_gdal_messages",
    "gdal_write_errors",
    "outside_gdal_capture",
]

#: GDAL's raster block cache while glnet streams a raster, in MB.
GDAL_CACHE_MB = 64

F = TypeVar("F", bound=Callable)


def bounded_gdal_cache():
    """A ``rasterio.Env`` with a small GDAL block cache, for streaming passes.

    GDAL caches blocks up to 5 % of the machine's memory by default, so one
    pass over a large raster would grow the process with the raster. glnet
    reads each block once or twice, so a small cache costs nothing.
    """
    import rasterio  # here, so that importing a command module stays light

    return rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB)


def with_bounded_gdal_cache(func: F) -> F:
    """Decorator: run ``func`` inside :func:`bounded_gdal_cache`."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with bounded_gdal_cache():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@functools.lru_cache(maxsize=None)
def gdal_errors() -> Tuple[Type[BaseException], ...]:
    """Everything GDAL can raise through rasterio for a bad file, for ``except gdal_errors():``.

    ``RasterioIOError`` is listed on its own: in rasterio 1.3 it derives from
    ``OSError``, not ``RasterioError``; ``CPLE_BaseError`` covers the GDAL
    errors that rasterio does not wrap in ``RasterioError``.
    """
    from rasterio.errors import RasterioError, RasterioIOError

    try:  # the same private module in rasterio 1.3 and 1.4
        from rasterio._err import CPLE_BaseError
    except ImportError:  # pragma: no cover - a future rasterio without it
        return (RasterioError, RasterioIOError)
    return (RasterioError, RasterioIOError, CPLE_BaseError)


@contextmanager
def ignore_not_georeferenced() -> Iterator[None]:
    """Silence rasterio's ``NotGeoreferencedWarning`` in the block.

    Rasters without georeferencing (plain JPEG/PNG, masks on a pixel grid)
    are fine here: readers and writers handle that case themselves.
    """
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        yield


# -- what GDAL and libtiff print ---------------------------------------------------

# libtiff reports some failures through its process-wide handler, which GDAL
# leaves at libtiff's default: it prints "module: message." on file
# descriptor 2 (seen: "_tiffSeekProc: File too large." when a tile flush fails
# on close, with no error in GDAL or rasterio). GDAL's own default handler
# prints "ERROR n: ..." there too outside a rasterio.Env. Neither passes
# through Python, so they are caught on the descriptor itself.
# Errors: GDAL's "ERROR n: text" and libtiff's "module: text" (its warnings
# read "module: Warning, text"); anything else printed in the block (GDAL's
# "Warning n:", a Python warning) is passed on.
_GDAL_ERROR = re.compile(r"^ERROR \d+: (.*)$")
_LIBTIFF_ERROR = re.compile(r"^_?[A-Za-z]\w*: (?!Warning, )(.*)$")
# One capture at a time in the process: descriptor 2 is shared by every thread.
_CAPTURE_LOCK = threading.RLock()
_capture_depth = 0


class GdalMessages:
    """What GDAL and libtiff printed on standard error during a :func:`captured_gdal_messages` block.

    Attributes
    ----------
    lines:
        The lines printed, in order (empty until the block ends).
    """

    def __init__(self) -> None:
        self.lines: List[str] = []

    @property
    def errors(self) -> List[str]:
        """The error lines of GDAL and libtiff."""
        return [line for line in self.lines if _GDAL_ERROR.match(line) or _LIBTIFF_ERROR.match(line)]

    @property
    def first_error(self) -> Optional[str]:
        """The first error as a reason (``File too large``), without GDAL's ``ERROR n:`` or libtiff's ``module:``."""
        for line in self.errors:
            m = _GDAL_ERROR.match(line) or _LIBTIFF_ERROR.match(line)
            text = (m.group(1) if m else line).strip().rstrip(".").strip()
            if text:
                return text
        return None

    def replay(self) -> None:
        """Print the lines on standard error again (after a block that did not fail)."""
        if self.lines and sys.stderr is not None:  # None in some GUI hosts
            try:
                sys.stderr.write("".join(line + "\n" for line in self.lines))
                sys.stderr.flush()
            except (OSError, ValueError):
                pass


def _flush_stderr() -> None:
    # Python's buffered text goes out on the descriptor it was meant for. sys.stderr
    # may be None or a host's own object (QGIS), hence the care.
    try:
        flush = getattr(sys.stderr, "flush", None)
        if flush is not None:
            flush()
    except Exception:  # noqa: BLE001 - whatever a host's stream raises, the capture goes on
        pass


def _capture_file() -> Optional[IO[bytes]]:
    # In memory where the system can (a full disk must not stop the capture).
    if hasattr(os, "memfd_create"):
        try:
            return os.fdopen(os.memfd_create("glnet-gdal-stderr"), "w+b")
        except OSError:
            pass
    try:
        return tempfile.TemporaryFile()
    except OSError:
        return None


@contextmanager
def captured_gdal_messages() -> Iterator[GdalMessages]:
    """Collect what GDAL and libtiff print on standard error in the block, instead of printing it.

    File descriptor 2 points to a private file for the duration of the block
    (one block at a time in the process; a block nested in another of the
    same thread shares the outer one's capture, which receives its lines).
    When nothing can hold the capture, the lines go to standard error as
    before.

    Yields
    ------
    GdalMessages
        Filled when the block ends (also when it raises).
    """
    global _capture_depth
    messages = GdalMessages()
    with _CAPTURE_LOCK:
        if _capture_depth:
            _capture_depth += 1
            try:
                yield messages
            finally:
                _capture_depth -= 1
            return
        capture = _capture_file()
        saved = -1
        if capture is not None:
            try:
                saved = os.dup(2)
            except OSError:  # no descriptor 2 (a GUI process without a console)
                capture.close()
        if capture is None or saved < 0:
            yield messages
            return
        _flush_stderr()
        _capture_depth = 1
        try:
            os.dup2(capture.fileno(), 2)
            try:
                yield messages
            finally:
                _flush_stderr()  # what Python printed in the block goes with the capture
                os.dup2(saved, 2)
        finally:
            _capture_depth = 0
            os.close(saved)
            try:
                capture.seek(0)
                text = capture.read().decode("utf-8", "replace")
            except OSError:
                text = ""
            capture.close()
            messages.lines = [line.rstrip() for line in text.splitlines() if line.strip()]


@contextmanager
def outside_gdal_capture() -> Iterator[None]:
    """Run the block while no other thread captures descriptor 2, so that what it prints reaches the terminal.

    A :func:`captured_gdal_messages` block redirects descriptor 2 for the
    whole process: a progress bar or log line that another thread printed
    meanwhile would be captured (and could even read as a GDAL error, or be
    replayed out of place). The pipelined engine, which writes in a thread of
    its own, runs its progress and log hooks in this block; a capture that
    another thread starts meanwhile waits for it to end. Within a capture of
    the same thread the block is captured as before.
    """
    with _CAPTURE_LOCK:
        yield


def gdal_error_text(exc: BaseException) -> str:
    """An exception's message on one line: GDAL's own, where rasterio says only 'see previous exception'.

    An ``OSError`` gives its ``strerror``; otherwise the messages of the
    exception and its causes, joined with ``"; "``.
    """
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    texts: List[str] = []
    e: Optional[BaseException] = exc
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        text = " ".join(str(e).split()).rstrip(".")
        if text and "See previous exception" not in text and not any(text in t for t in texts):
            texts.append(text)
        e = e.__cause__ or e.__context__
    return "; ".join(texts) or exc.__class__.__name__


@contextmanager
def gdal_write_errors(target: Union[str, "os.PathLike[str]"], option: Optional[str] = None) -> Iterator[None]:
    """Every failure GDAL or libtiff reports while the block writes ``target``, as one OutputWriteError.

    The rule of glnet's GDAL writers (creating, writing, flushing and closing
    a dataset; the mask writer, synthetic images, the sieve): an exception
    that GDAL raises through rasterio, an ``OSError``, and also an error GDAL
    or libtiff only *prints* (a tile flush on close that hits a full disk or
    a file-size limit prints ``_tiffSeekProc: File too large`` and raises
    nothing) all become ``OPTION: cannot write TARGET: REASON``. Their lines
    are not printed; warnings printed in a block that succeeds are.

    Parameters
    ----------
    target:
        The output the user named (not its part file), for the message.
    option:
        The option that named it (``"--out-mask"``), or None.

    Raises
    ------
    OutputWriteError
        For any such failure; the caller removes its part files.
    """
    failure: Optional[BaseException] = None
    errors = gdal_errors() + (OSError,)
    with captured_gdal_messages() as messages:
        try:
            yield
        except errors as exc:
            failure = exc
    reason = messages.first_error
    if failure is None and reason is None:
        messages.replay()
        return
    if reason is None and failure is not None:
        reason = gdal_error_text(failure)
    prefix = f"{option}: " if option else ""
    raise OutputWriteError(f"{prefix}cannot write {os.fspath(target)}: {reason}") from None
