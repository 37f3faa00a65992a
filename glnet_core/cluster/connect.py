"""A ``distributed.Client`` for a ``--dask`` value, and one cluster shared by the runs of a batch.

``local:N`` starts a LocalCluster of N worker processes, one thread each, on
127.0.0.1 only and without a dashboard (nothing listens beyond this machine),
and stops it when the run ends. An address or a scheduler file connects to a
running scheduler, which is left running.

:func:`shared_cluster` keeps one client open for several runs (``glnet batch``):
inside it, every :func:`cluster_client` for the same value returns that
client, so a LocalCluster is started once and the workers keep their
sessions from scene to scene.

Dask's own log lines (worker start and stop, retries, reconnection attempts)
are silenced in the client, and kept to errors in the workers it starts: the
user sees glnet's progress and one-line errors, not the cluster's chatter
(what fails reaches the run as an exception and becomes that one line).
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import warnings
from typing import Any, Dict, Iterator, Optional

from ..errors import GlnetError, InputError, MissingExtraError
from .address import ClusterSpec, parse_cluster

__all__ = ["ClusterUnreachable", "cluster_client", "shared_cluster", "require_dask", "scheduler_file_address", "INSTALL_HINT",
           "CONNECT_TIMEOUT_S"]

#: What to install when Dask is missing.
INSTALL_HINT = "pip install 'glnet[dask]'"

#: Seconds to wait for a scheduler (and a LocalCluster's workers) before giving up.
CONNECT_TIMEOUT_S = 10.0

#: Loggers of Dask that speak for the cluster, kept quiet.
_DASK_LOGGERS = ("distributed", "dask", "tornado")

_shared: Dict[str, Any] = {}
_shared_lock = threading.Lock()


class ClusterUnreachable(GlnetError):
    """The scheduler named by ``--dask`` cannot be reached (or the local cluster did not start)."""


def require_dask(option: str = "--dask") -> Any:
    """``distributed``, imported.

    Raises
    ------
    MissingExtraError
        When Dask's distributed scheduler is not installed (one line, with :data:`INSTALL_HINT`).
    """
    try:
        import distributed
    except ImportError:
        raise MissingExtraError(f"{option} needs Dask's distributed scheduler, which is not installed: {INSTALL_HINT}",
                                command="segment", module="distributed") from None
    return distributed


def _quiet_dask() -> None:
    # Dask's configuration gives some child loggers (distributed.client...) levels of their own.
    for name in [*_DASK_LOGGERS, *logging.root.manager.loggerDict]:
        if name.split(".")[0] in _DASK_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)


@contextlib.contextmanager
def cluster_client(dask: str) -> Iterator[Any]:
    """A connected ``distributed.Client`` for ``dask`` (a ``--dask`` value), closed on exit.

    Inside :func:`shared_cluster` for the same value, the shared client (not closed on exit).

    Raises
    ------
    MissingExtraError
        Without Dask.
    ClusterUnreachable
        When the scheduler does not answer within :data:`CONNECT_TIMEOUT_S`,
        or the local cluster does not start.
    """
    spec = parse_cluster(dask)
    with _shared_lock:
        shared = _shared.get(spec.text)
    if shared is not None:
        yield shared
        return
    with _open(spec) as client:
        yield client


@contextlib.contextmanager
def shared_cluster(dask: Optional[str]) -> Iterator[Optional[Any]]:
    """Keep one client for ``dask`` open while inside (None: nothing to share; yields None)."""
    if dask is None:
        yield None
        return
    spec = parse_cluster(dask)
    with _open(spec) as client:
        with _shared_lock:
            _shared[spec.text] = client
        try:
            yield client
        finally:
            with _shared_lock:
                _shared.pop(spec.text, None)


@contextlib.contextmanager
def _open(spec: ClusterSpec) -> Iterator[Any]:
    distributed = require_dask()
    import dask

    _quiet_dask()
    # The workers a LocalCluster starts read this configuration too.
    config = {"logging.distributed": "error", "distributed.admin.system-monitor.gil.enabled": False}
    with dask.config.set(config):
        cluster = None
        try:
            if spec.is_local:
                with warnings.catch_warnings():
                    # Without a dashboard the scheduler still serves its health routes, on a free port when
                    # Dask's default one is taken: nothing the user must know.
                    warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
                    cluster = distributed.LocalCluster(
                        n_workers=spec.workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                        dashboard_address=None, silence_logs=logging.ERROR,
                    )
                client = distributed.Client(cluster, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
            elif spec.address is not None:
                client = distributed.Client(spec.address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
            else:
                client = distributed.Client(scheduler_file_address(spec), timeout=CONNECT_TIMEOUT_S,
                                            set_as_default=False)
        except (OSError, TimeoutError) as exc:
            if cluster is not None:
                cluster.close()
            where = f"a local cluster of {spec.workers} workers" if spec.is_local else f"the Dask scheduler {spec.text}"
            raise ClusterUnreachable(f"--dask: cannot reach {where}: {_first_line(exc)}") from None
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.close(timeout=10)
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close(timeout=10)


def scheduler_file_address(spec: ClusterSpec) -> str:
    """The scheduler address a scheduler file (``dask scheduler --scheduler-file``) holds.

    Read here rather than by Dask, which waits for a file it cannot parse
    and then fails with an assertion.

    Raises
    ------
    InputError
        If the file cannot be read, is not JSON, or holds no scheduler address.
    """
    assert spec.scheduler_file is not None
    try:
        data = json.loads(spec.scheduler_file.read_text(encoding="utf-8"))
        address = data["address"]
        return parse_cluster(address).address or ""  # an address, or the InputError of one that is not
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError, InputError):
        raise InputError(f"--dask: {spec.text} is not a Dask scheduler file (JSON with the scheduler's "
                         '"address", as dask scheduler --scheduler-file writes)') from None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
