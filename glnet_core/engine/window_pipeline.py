"""The pipelined window loop: window k+1 is read and prepared, and window k-1 written, while the network runs on k.

:func:`run_pipelined` runs the steps of :class:`glnet_core.engine.window_loop.WindowStages`
in three threads:

* a reader thread owns the input (every read of its GDAL dataset, and the
  preparation of the network's inputs: :meth:`StagedClassifier.prepare`);
* the calling thread runs the network (:meth:`StagedClassifier.classify`)
  and the caller's ``on_window`` hook (progress, cancellation);
* a writer thread owns the writers (every write, flush and close of their
  GDAL datasets, and ``on_written``: the resume checkpoints).

GDAL datasets are not safe to share between threads, so each has one owner
at a time; the hand-offs go through queues, which order the memory of one
thread's work before the next's. onnxruntime and GDAL release the GIL while
they compute, so the three overlap.

What stays as in the sequential loop:

* **The same outputs.** The same calls on the same objects, in window order
  in every thread: windows are written in order, one at a time, so the
  pixels, tags and sidecars are the same. (Where GDAL stores a tile it
  writes out early can depend on timing, in a sequential run too: the
  files may differ in that dead space, never in what they hold.)
* **The resume state.** A window is handed to the writer only once the
  writer has finished the one before (so at most one window is behind), and
  ``on_written`` runs right after its writes, in order: a checkpoint counts
  exactly the first k windows, all written. ``on_window`` (the progress the
  caller sees) is called for window k-1 once the writer is done with it,
  while the writer is idle, so a state checkpointed at every window records
  exactly the windows the progress has reported.
* **Bounded memory.** The reader reads window k+1 only once the calling
  thread has taken window k: one window ahead, one behind, whatever the
  raster's size.
* **Failures.** An exception in the reader or the writer (a damaged input's
  ``InputError``, a full disk's ``OutputWriteError``) is passed to the
  calling thread and raised there, the same object; an exception in the
  calling thread (``Cancelled``, ``KeyboardInterrupt``, a network error)
  stops both threads. Either way both threads have ended (each finishes at
  most the read or write it is in) before :func:`run_pipelined` raises, so
  the caller owns the input and the writers again and can abort them.
"""

from __future__ import annotations

import queue
import threading
import time
from typing import Any, Callable, Iterable, List, Optional

from ..formats.gdal_env import bounded_gdal_cache
from .runtime import release_free_memory
from .window_loop import WindowStages
from .windows import RasterWindow

__all__ = ["run_pipelined"]


class _Failure:
    """An exception raised in a stage thread, on its way to the calling thread."""

    def __init__(self, exc: BaseException):
        self.exc = exc


#: End of the windows (reader to caller), or end of the run (caller to writer).
_END = object()


class _StageThread(threading.Thread):
    """A stage's thread: its own GDAL environment (rasterio's is per thread), any exception passed on."""

    def __init__(self, name: str, body: Callable[[], None], failures: "queue.Queue[Any]"):
        super().__init__(name=name, daemon=True)  # daemon: a hung read cannot keep the process alive
        self._body = body
        self._failures = failures

    def run(self) -> None:
        try:
            with bounded_gdal_cache():  # the same settings as the caller's; rasterio keeps them per thread
                self._body()
        except BaseException as exc:  # noqa: BLE001 - every failure goes to the calling thread
            self._failures.put(_Failure(exc))


def run_pipelined(steps: WindowStages, windows: Iterable[RasterWindow],
                  on_window: Optional[Callable[[RasterWindow], None]] = None) -> None:
    """Run ``windows`` through ``steps`` with reading and writing overlapping the network.

    Parameters
    ----------
    steps:
        The run's steps; their raster is read only in the reader thread and
        their writers are used only in the writer thread until this returns.
    windows:
        The windows, in order.
    on_window:
        Called in this thread, in order, once a window is written and its
        ``on_written`` hook returned.

    Raises
    ------
    BaseException
        The first failure of any thread (the same exception object); both
        threads have stopped when it is raised.
    """
    times = steps.times
    stop = threading.Event()
    slot = threading.Semaphore(1)  # the reader's one window ahead
    inbox: "queue.Queue[Any]" = queue.Queue()  # reader -> caller: (window, prepared) or _END or _Failure
    outbox: "queue.Queue[Any]" = queue.Queue()  # caller -> writer: (window, core) or _END
    done: "queue.Queue[Any]" = queue.Queue()  # writer -> caller: a written window or _Failure

    def read_all() -> None:
        for w in windows:
            slot.acquire()
            if stop.is_set():
                return
            inbox.put((w, steps.read(w)))
        inbox.put(_END)

    def write_all() -> None:
        while True:
            item = outbox.get()
            if item is _END or stop.is_set():
                return
            w, core = item
            steps.write(w, core)
            done.put(w)

    reader = _StageThread("glnet-reader", read_all, inbox)
    writer = _StageThread("glnet-writer", write_all, done)
    threads: List[threading.Thread] = [reader, writer]
    for t in threads:
        t.start()
    in_writer = False

    def settle() -> None:
        """Wait until the writer has finished the window handed to it; then tell the caller."""
        t0 = time.perf_counter()
        got = done.get()
        times.output_wait_s += time.perf_counter() - t0
        if isinstance(got, _Failure):
            raise got.exc
        if on_window is not None:
            on_window(got)

    try:
        while True:
            t0 = time.perf_counter()
            item = inbox.get()
            times.input_wait_s += time.perf_counter() - t0
            if isinstance(item, _Failure):
                raise item.exc
            if item is _END:
                break
            slot.release()  # the reader reads the next window while this one runs
            w, prepared = item
            del item
            core = None
            if prepared is not None:
                core = steps.classify(w, prepared)
                del prepared
                release_free_memory()  # so that each window starts from the same footprint
            if in_writer:
                settle()
            outbox.put((w, core))
            in_writer = True
            del core
        if in_writer:
            settle()
    except BaseException:
        stop.set()
        raise
    finally:
        # Wake both threads wherever they wait; each returns after at most the read or write it is in.
        slot.release()
        outbox.put(_END)
        for t in threads:
            t.join()
