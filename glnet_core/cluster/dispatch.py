"""The client's side of a Dask run: windows submitted a bounded number ahead, results taken back in order.

:func:`run_on_cluster` is what :func:`glnet_core.engine.segment.segment`
runs instead of its window loop when ``EngineOptions(dask=...)`` is set. The
run's process stays the one writer: it hands windows to the cluster as tasks
(:func:`glnet_core.cluster.window_tasks.classify_window`), at most
:func:`tasks_ahead` beyond the next window to be written, and takes their
results back in window order, so it writes exactly what a single-process run
writes, in the same order (the same bytes), with the same checkpoints
(``--resume`` works unchanged), and memory bounded by the tasks in flight,
whatever the raster's size.

Faults:

* a task that raises (a damaged input's ``InputError``) stops the run with
  that exception; the caller removes its outputs;
* a worker that dies has its windows recomputed elsewhere by Dask itself
  (the scheduler reschedules the tasks of a lost worker, up to
  ``distributed.scheduler.allowed-failures`` times); the results are the
  same, so the output is too. A window that kills every worker it runs on
  ends the run with one line (:class:`WindowLost`);
* a scheduler that goes away ends the run with :class:`ClusterLost`, a
  :class:`~glnet_core.errors.ResumableStop`: the caller keeps its part files
  and state, so ``--resume`` continues once the cluster is back;
* cancel (the callbacks, Ctrl-C) cancels every future of the run; the
  caller removes its outputs.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from concurrent.futures import CancelledError
from typing import Any, Callable, Dict, List, Sequence, Tuple

from ..engine.windows import RasterWindow
from ..errors import MachineError, ResumableStop
from .window_tasks import WindowJob, WindowOutcome, WorkerReady, classify_window, warm_up

__all__ = ["ClusterLost", "WindowLost", "workers_by_host", "tasks_ahead", "prepare_workers", "run_on_cluster",
           "POLL_S", "WORKERS_TIMEOUT_S"]

#: Seconds between polls of cancellation while waiting for a window.
POLL_S = 0.2

#: Seconds to wait for a first worker to join the cluster.
WORKERS_TIMEOUT_S = 60.0


class ClusterLost(ResumableStop):
    """The Dask scheduler went away during a run (the part files and state are kept for ``--resume``)."""


class WindowLost(MachineError):
    """A window's task failed on every worker it was given to (each one died running it)."""


def workers_by_host(client: Any) -> Tuple[Tuple[str, int], ...]:
    """``(host, worker processes)`` of every host of the cluster, sorted."""
    per_host: Dict[str, int] = {}
    for address in client.scheduler_info(n_workers=-1)["workers"]:
        host = address.rsplit(":", 1)[0]
        per_host[host] = per_host.get(host, 0) + 1
    return tuple(sorted(per_host.items()))


def tasks_ahead(workers: int) -> int:
    """Windows in flight beyond the next one to be written: each worker with one in the network, one read ahead."""
    return max(4, 2 * workers + 2)


def _is_lost_connection(client: Any, exc: BaseException) -> bool:
    """Whether ``exc`` means the scheduler went away (not that a task failed)."""
    if client.status not in ("running", "connecting", "newly-created"):
        return True
    # Our own futures are cancelled by the scheduler only when it drops the client.
    return isinstance(exc, CancelledError) or type(exc).__name__ in ("CommClosedError", "StreamClosedError")


def prepare_workers(client: Any, job: WindowJob, where: str) -> List[WorkerReady]:
    """Open the bundle's sessions on every worker before any window (a bundle or device problem costs no work).

    Parameters
    ----------
    client:
        A connected ``distributed.Client``.
    job:
        The run's job.
    where:
        The cluster as the user named it, for messages.

    Returns
    -------
    list of WorkerReady
        One per worker.

    Raises
    ------
    ClusterLost
        If no worker joins within :data:`WORKERS_TIMEOUT_S`, or the scheduler goes away.
    BundleError, DeviceError
        What a worker raised loading the bundle or opening its sessions.
    """
    try:
        # Workers may still be starting (a batch system's jobs, a LocalCluster's processes): wait for one.
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
    except TimeoutError:
        raise ClusterLost(f"--dask: no worker joined the Dask cluster at {where} within {WORKERS_TIMEOUT_S:g} s") from None
    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    token = uuid.uuid4().hex
    futures = [client.submit(warm_up, job, key=f"glnet-warm-up-{token}-{i}", workers=[addr], allow_other_workers=False,
                             pure=False)
               for i, addr in enumerate(workers)]
    try:
        return [f.result() for f in futures]
    except BaseException as exc:
        client.cancel(futures)
        if _is_lost_connection(client, exc):
            raise ClusterLost(f"--dask: lost the Dask scheduler at {where} while the workers loaded the bundle") from None
        raise


def run_on_cluster(
    client: Any,
    job: WindowJob,
    windows: Sequence[RasterWindow],
    deliver: Callable[[RasterWindow, WindowOutcome], None],
    poll: Callable[[], None],
    where: str,
    ahead: int,
) -> None:
    """Run ``windows`` as tasks of ``client``'s cluster; hand each result to ``deliver`` in window order.

    Parameters
    ----------
    client:
        A connected ``distributed.Client``.
    job:
        What every task shares.
    windows:
        The windows, in order (a resumed run leaves out the finished ones).
    deliver:
        Called in this thread, in order, with each window and its outcome
        (the run's writer, checkpoints and progress).
    poll:
        Called every :data:`POLL_S` while waiting (cancellation); what it
        raises stops the run.
    where:
        The cluster as the user named it, for messages.
    ahead:
        Windows in flight beyond the next to be written (:func:`tasks_ahead`).

    Raises
    ------
    ClusterLost
        If the scheduler goes away.
    WindowLost
        If a window's task killed every worker it ran on.
    BaseException
        What a task, ``deliver`` or ``poll`` raised; every future of the run
        is cancelled first.
    """
    token = uuid.uuid4().hex
    futures: Dict[int, Any] = {}
    submitted = 0
    done = 0

    def submit_up_to(limit: int) -> None:
        nonlocal submitted
        while submitted < min(limit, len(windows)):
            w = windows[submitted]
            # Highest priority to the earliest window: the writer waits for it.
            futures[submitted] = client.submit(classify_window, job, w, key=f"glnet-window-{token}-{w.index}",
                                               pure=False, priority=-submitted)
            submitted += 1

    try:
        for i, w in enumerate(windows):
            submit_up_to(i + 1 + ahead)
            # Waited for with an event, not result(timeout=...): each timed-out wait of Dask's leaves the future
            # in a reference cycle, so the cluster would keep its result until Python's garbage collector ran.
            ready = threading.Event()
            futures[i].add_done_callback(lambda _f, ready=ready: ready.set())
            while not ready.wait(POLL_S):
                poll()
            outcome = WindowOutcome.from_result(futures.pop(i).result())  # ours now: the cluster forgets it
            deliver(w, outcome)
            done += 1
    except BaseException as exc:
        with contextlib.suppress(Exception):
            client.cancel(list(futures.values()), reason="glnet run stopped")
        futures.clear()
        if type(exc).__name__ == "KilledWorker":
            raise WindowLost(f"--dask: window {windows[done].index} was lost with every worker that ran it "
                             f"(each one died: out of memory?): {exc}") from None
        if not isinstance(exc, (KeyboardInterrupt, SystemExit)) and not isinstance(exc, MachineError) \
                and _is_lost_connection(client, exc):
            raise ClusterLost(f"--dask: lost the Dask scheduler at {where}") from None
        raise
