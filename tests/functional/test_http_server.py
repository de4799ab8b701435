"""switchboard_local.http_server: the base every local HTTP server (emulator, stand-ins) shares."""

from __future__ import annotations

import urllib.request
from http.server import BaseHTTPRequestHandler

import pytest

from switchboard_local.http_server import LocalHttpServer


class Hello(LocalHttpServer):
    server_name = "hello server"

    def __init__(self) -> None:
        super().__init__()
        self.events: list[str] = []

    def _on_start(self) -> None:
        self.events.append("start")

    def _on_stop(self) -> None:
        self.events.append("stop")

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = b"hello"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        return Handler


def test_serves_on_a_free_loopback_port_and_starts_and_stops_once() -> None:
    server = Hello()
    with pytest.raises(RuntimeError, match="the hello server is not started"):
        _ = server.origin
    with server as running:
        assert running is server
        assert server.start() is server  # already running: no second listener
        assert server.origin.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(server.origin + "/") as response:
            assert response.read() == b"hello"
    server.stop()  # already stopped: nothing happens
    assert server.events == ["start", "stop"]
    assert not server.running
