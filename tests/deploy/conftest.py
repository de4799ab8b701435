"""CloudFormation's side of the custom resource protocol: a local ResponseURL and a Lambda context."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

# --- CloudFormation's side ---------------------------------------------------------------------


@dataclass
class CloudFormation:
    """Collects the responses the helper PUTs to ResponseURL."""

    url: str
    responses: list[dict[str, Any]] = field(default_factory=list)
    content_types: list[str | None] = field(default_factory=list)
    fail_next: int = 0
    attempts: int = 0

    def only_response(self) -> dict[str, Any]:
        assert len(self.responses) == 1, self.responses
        return self.responses[0]


@pytest.fixture
def cloudformation() -> Iterator[CloudFormation]:
    state = CloudFormation(url="")

    class ResponseUrl(http.server.BaseHTTPRequestHandler):
        def do_PUT(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.attempts += 1
            if state.fail_next:
                state.fail_next -= 1
                self.send_response(503)
                self.end_headers()
                return
            state.content_types.append(self.headers.get("Content-Type"))
            state.responses.append(json.loads(body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), ResponseUrl)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/cloudformation-response?signature=abc"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class FakeContext:
    """The Lambda context attributes the helper reads."""

    remaining_ms: int = 120_000
    log_group_name: str = "/aws/lambda/switchboard-DeployHelperFunction-xyz"
    log_stream_name: str = "2026/01/01/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
