"""A local HTTP server with byte ranges, for reading rasters through GDAL's ``/vsicurl/``.

GDAL reads a remote GeoTIFF with ``Range: bytes=a-b`` requests; Python's own
``http.server`` ignores ranges (GDAL then refuses the server). This one
serves a folder's files with ranges, on 127.0.0.1 only, in a daemon thread
that :func:`serve` stops when its ``with`` block ends. The pipeline benchmark
and the remote-input tests use it. Read the files it serves from another
process: an open of one of them in the server's own process hung (the
open appears to hold the GIL, so the server thread never answers).
"""

from __future__ import annotations

import contextlib
import http.server
import re
import threading
import time
from pathlib import Path
from typing import Any, Iterator

__all__ = ["RangeServer", "serve"]


class _RangeHandler(http.server.SimpleHTTPRequestHandler):
    """GET (with or without ``Range: bytes=a-b``) and HEAD of the server's folder; counts requests."""

    server: "RangeServer"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # quiet

    def _file(self):
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(404)
            return None
        return path

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self.server.requests += 1
        if self.server.delay_s:
            time.sleep(self.server.delay_s)
        path = self._file()
        if path is None:
            return
        size = path.stat().st_size
        m = re.match(r"bytes=(\d+)-(\d*)$", self.headers.get("Range", ""))
        start, end = (int(m.group(1)), int(m.group(2) or size - 1)) if m else (0, size - 1)
        end = min(end, size - 1)
        self.send_response(206 if m else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(end - start + 1))
        if m:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        with open(path, "rb") as f:
            f.seek(start)
            self.wfile.write(f.read(end - start + 1))

    def do_HEAD(self) -> None:  # noqa: N802
        path = self._file()
        if path is None:
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(path.stat().st_size))
        self.end_headers()


class RangeServer(http.server.ThreadingHTTPServer):
    """The server: ``folder`` served at ``url``; ``requests`` counts GETs; ``delay_s`` is added to each."""

    daemon_threads = True

    def __init__(self, folder: Path, delay_s: float = 0.0):
        self.folder = Path(folder)
        self.delay_s = float(delay_s)
        self.requests = 0
        super().__init__(("127.0.0.1", 0), lambda *a, **kw: _RangeHandler(*a, directory=str(self.folder), **kw))
        self.timeout = 1.0

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, without a trailing slash."""
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextlib.contextmanager
def serve(folder: Path, delay_s: float = 0.0) -> Iterator[RangeServer]:
    """Serve ``folder`` on 127.0.0.1 (a free port) for the ``with`` block; stopped and closed at its end."""
    server = RangeServer(folder, delay_s)
    thread = threading.Thread(target=server.serve_forever, name="glnet-test-http", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
