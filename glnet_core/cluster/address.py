"""What ``--dask`` names: a local cluster of N processes, a running scheduler, or a scheduler file.

Plain Python (no Dask import): :class:`~glnet_core.engine.options.EngineOptions`
checks the value when it is made, and ``glnet segment --help`` must work
without the extra.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from ..errors import InputError

__all__ = ["ClusterSpec", "parse_cluster", "MAX_LOCAL_WORKERS", "SCHEMES"]

#: The most worker processes ``local:N`` starts (more than any one machine has cores).
MAX_LOCAL_WORKERS = 1024

#: Address schemes a Dask scheduler listens on.
SCHEMES = ("tcp", "tls", "ucx", "ws", "wss")


@dataclass(frozen=True)
class ClusterSpec:
    """A parsed ``--dask`` value.

    Attributes
    ----------
    text:
        The value as given (what messages and the resume state show).
    workers:
        ``local:N``: the number of worker processes to start; else None.
    address:
        ``SCHEME://HOST:PORT`` of a running scheduler; else None.
    scheduler_file:
        A scheduler file (``dask scheduler --scheduler-file``); else None.
    """

    text: str
    workers: Optional[int] = None
    address: Optional[str] = None
    scheduler_file: Optional[Path] = None

    @property
    def is_local(self) -> bool:
        """Whether the run starts (and stops) its own cluster on this machine."""
        return self.workers is not None


def parse_cluster(text: str, option: str = "--dask") -> ClusterSpec:
    """Parse a ``--dask`` value.

    Parameters
    ----------
    text:
        ``local:N`` (N worker processes on this machine, 1 thread each),
        ``SCHEME://HOST:PORT`` (a running scheduler, e.g. ``tcp://10.0.0.5:8786``)
        or the path of a scheduler file (``.json``).
    option:
        The option named in messages.

    Returns
    -------
    ClusterSpec

    Raises
    ------
    InputError
        For an empty value, a ``local:`` count that is not a whole number
        from 1 to :data:`MAX_LOCAL_WORKERS`, an address without a port or
        with an unknown scheme, or a scheduler file that does not exist.
    """
    value = str(text).strip()
    if not value:
        raise InputError(f"{option}: empty; give local:N, tcp://HOST:PORT or SCHEDULER.json")
    if value.lower().startswith("local"):
        m = re.fullmatch(r"local:(\d+)", value, flags=re.IGNORECASE)
        if not m or not 1 <= int(m.group(1)) <= MAX_LOCAL_WORKERS:
            raise InputError(f"{option}: {value!r}: local:N needs a whole number of workers from 1 to {MAX_LOCAL_WORKERS}")
        return ClusterSpec(value, workers=int(m.group(1)))
    if "://" in value:
        scheme = value.split("://", 1)[0].lower()
        if scheme not in SCHEMES:
            raise InputError(f"{option}: {value!r}: unknown scheme {scheme!r}; a scheduler address is "
                             f"{', '.join(s + '://' for s in SCHEMES)}HOST:PORT")
        if not re.fullmatch(r"[a-z]+://(\[[0-9a-fA-F:]+\]|[^\s:/\[\]]+):\d{1,5}/?", value, flags=re.IGNORECASE):
            raise InputError(f"{option}: {value!r}: a scheduler address is SCHEME://HOST:PORT, e.g. tcp://10.0.0.5:8786")
        return ClusterSpec(value, address=value.rstrip("/"))
    path = Path(value)
    if not path.is_file():
        raise InputError(f"{option}: {value!r} is neither local:N, a scheduler address (tcp://HOST:PORT) "
                         "nor an existing scheduler file")
    return ClusterSpec(value, scheduler_file=path)
