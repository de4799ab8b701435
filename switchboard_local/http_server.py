"""The one way the local stack serves HTTP: a ``ThreadingHTTPServer`` on a daemon thread.

The Chime SDK Voice emulator, the Slack Web API stand-in, the Lambda Invoke endpoint and the bot
server all listen on loopback with an OS-chosen port by default, start and stop idempotently, and
work as context managers; subclasses only say how requests are handled.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self

# How long stop() waits for the serving loop to notice (and so how fast tests tear down).
POLL_INTERVAL = 0.05


class LocalHttpServer:
    """Base class: override :meth:`_request_handler`; optionally :meth:`_address`, the hooks."""

    #: Names the thread, and the server in "not started" errors.
    server_name = "local HTTP server"

    def __init__(self) -> None:
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def _address(self) -> tuple[str, int]:
        return ("127.0.0.1", 0)

    def _on_start(self) -> None:
        """Called before the server starts listening."""

    def _on_stop(self) -> None:
        """Called after the server has stopped."""

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def origin(self) -> str:
        """``http://host:port`` of the running server."""
        if self._httpd is None:
            raise RuntimeError(f"the {self.server_name} is not started")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        self._on_start()
        self._httpd = ThreadingHTTPServer(self._address(), self._request_handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name=self.server_name.replace(" ", "-"),
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = None
        self._thread = None
        self._on_stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
