"""CloudFormation's side of the custom resource protocol (a local ResponseURL, the requests it sends,
a Lambda context), a moto server, and the fake AWS environment the deploy tests run in."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from moto.server import ThreadedMotoServer

from deploy import app

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/switchboard/guid"
SERVICE_TOKEN = "arn:aws:lambda:us-east-1:123456789012:function:switchboard-DeployHelperFunction-xyz"

# --- CloudFormation's side ---------------------------------------------------------------------


@dataclass
class CloudFormation:
    """Collects the responses the helper PUTs to ResponseURL."""

    url: str
    responses: list[dict[str, Any]] = field(default_factory=list)
    content_types: list[str | None] = field(default_factory=list)
    fail_next: int = 0
    attempts: int = 0

    sent: int = 0

    def only_response(self) -> dict[str, Any]:
        assert len(self.responses) == 1, self.responses
        return self.responses[0]

    def event(
        self,
        request_type: str,
        resource_type: str,
        properties: dict[str, Any] | None,
        *,
        logical_id: str = "Resource",
        request_id: str = "5d0c1c1e-request",
        physical_id: str | None = None,
        old_properties: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The request CloudFormation sends the deploy helper (no ResourceProperties when ``None``)."""
        event: dict[str, Any] = {
            "RequestType": request_type,
            "ServiceToken": SERVICE_TOKEN,
            "ResponseURL": self.url,
            "StackId": STACK_ID,
            "RequestId": request_id,
            "LogicalResourceId": logical_id,
            "ResourceType": resource_type,
        }
        if properties is not None:
            event["ResourceProperties"] = {"ServiceToken": "token", **properties}
        if physical_id is not None:
            event["PhysicalResourceId"] = physical_id
        if old_properties is not None:
            event["OldResourceProperties"] = {"ServiceToken": "token", **old_properties}
        return event

    def send(
        self,
        request_type: str,
        resource_type: str,
        properties: dict[str, Any] | None,
        *,
        logical_id: str,
        request_id: str = "",
        physical_id: str | None = None,
        old_properties: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Run ``deploy.app.handler`` on one request (``request-<n>`` unless ``request_id`` names a
        retry of an earlier one) and return its answer: there must be exactly one."""
        self.sent += 1
        event = self.event(
            request_type,
            resource_type,
            properties,
            logical_id=logical_id,
            request_id=request_id or f"request-{self.sent}",
            physical_id=physical_id,
            old_properties=old_properties,
        )
        app.handler(event, FakeContext())
        assert len(self.responses) == self.sent, "every request gets exactly one answer"
        response = self.responses[-1]
        assert response["RequestId"] == event["RequestId"]
        return response


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


# --- AWS -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def fake_aws_environment(monkeypatch: pytest.MonkeyPatch, region: str, **env: str) -> None:
    """Fake credentials in ``region`` plus ``env`` (endpoints, settings); nothing of the shell's AWS
    profile, endpoints or number limits leaks in."""
    for name in (
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL_CHIME_SDK_VOICE",
        "AWS_ENDPOINT_URL_DYNAMODB",
        "AWS_ENDPOINT_URL_CONNECT",
        "AWS_PROFILE",
        "MANAGED_NUMBERS",
        "ALLOWED_COUNTRIES",
    ):
        monkeypatch.delenv(name, raising=False)
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
        **env,
    }.items():
        monkeypatch.setenv(name, value)
