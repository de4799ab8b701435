"""The CloudFormation custom resource protocol: the request shape and the answer PUT to ResponseURL.

CloudFormation waits (up to an hour) for this answer, so every path through the helper must end
in :meth:`Responder.send`, and it must send at most once.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired, Protocol, TypedDict
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

Status = Literal["SUCCESS", "FAILED"]

# CloudFormation rejects a response body larger than 4 KiB; the reason is what gets cut.
MAX_BODY_BYTES = 4096
# PhysicalResourceId of a resource whose Create failed, so its rollback Delete knows nothing exists.
FAILED_CREATE_PREFIX = "create-failed-"
# Back-off between attempts to deliver the response (attempt n waits n times this).
RETRY_DELAY_SECONDS = 1.0
# Each attempt to deliver the response waits at most this long for S3 to answer.
PUT_TIMEOUT_SECONDS = 10.0
PUT_ATTEMPTS = 3


class Request(TypedDict):
    """A custom resource request as CloudFormation sends it to the Lambda function."""

    RequestType: Literal["Create", "Update", "Delete"]
    ResponseURL: str
    StackId: str
    RequestId: str
    ResourceType: str
    LogicalResourceId: str
    ResourceProperties: dict[str, Any]
    PhysicalResourceId: NotRequired[str]
    OldResourceProperties: NotRequired[dict[str, Any]]
    ServiceToken: NotRequired[str]


@dataclass(frozen=True, slots=True)
class ResourceResult:
    """What a resource handler produced: its physical id and the attributes ``!GetAtt`` reads."""

    physical_resource_id: str
    data: Mapping[str, str] = field(default_factory=dict)
    # What was done, shown by CloudFormation as the resource's status reason.
    reason: str = ""


class LambdaContext(Protocol):
    """The part of the Lambda context object the helper uses (no Powertools on this function)."""

    @property
    def log_group_name(self) -> str: ...

    @property
    def log_stream_name(self) -> str: ...

    def get_remaining_time_in_millis(self) -> int: ...


def is_failed_create(physical_resource_id: str) -> bool:
    """True for the placeholder id a failed Create answered with (nothing was created)."""
    return physical_resource_id.startswith(FAILED_CREATE_PREFIX)


def build_body(
    request: Request, status: Status, physical_resource_id: str, reason: str, data: Mapping[str, str]
) -> bytes:
    """Serialise the response, shortening the reason so the body stays under 4 KiB."""
    body: dict[str, Any] = {
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": physical_resource_id,
        "StackId": request["StackId"],
        "RequestId": request["RequestId"],
        "LogicalResourceId": request["LogicalResourceId"],
        "NoEcho": False,
        "Data": dict(data),
    }
    encoded = json.dumps(body).encode()
    excess = len(encoded) - MAX_BODY_BYTES
    if excess > 0:
        body["Reason"] = reason[: max(0, len(reason) - excess - 3)] + "..."
        encoded = json.dumps(body).encode()
    return encoded


def put(url: str, body: bytes, *, attempts: int = PUT_ATTEMPTS, timeout: float = PUT_TIMEOUT_SECONDS) -> None:
    """PUT ``body`` to the pre-signed ResponseURL, retrying transient failures.

    The Content-Type is empty because the URL is signed without one; urllib would otherwise add
    ``application/x-www-form-urlencoded`` and S3 would refuse the signature.
    """
    if urlsplit(url).scheme not in ("https", "http"):
        raise ValueError(f"ResponseURL must be an http(s) URL, not {url[:40]!r}")
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=body, method="PUT", headers={"Content-Type": "", "Content-Length": str(len(body))}
    )
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
                logger.info("CloudFormation response sent (HTTP %s)", response.status)
                return
        except (urllib.error.URLError, OSError):
            if attempt == attempts:
                raise
            logger.warning("CloudFormation response not accepted, retrying", exc_info=True)
            time.sleep(attempt * RETRY_DELAY_SECONDS)


class Responder:
    """Sends the one answer a request gets, whichever of the handler and the timeout guard is first."""

    def __init__(self, request: Request, context: LambdaContext) -> None:
        self._request = request
        self._context = context
        self._lock = threading.Lock()
        self.sent = False

    def log_hint(self) -> str:
        """Where the details are: CloudFormation shows the reason, the logs have the traceback."""
        return f"see CloudWatch Logs {self._context.log_group_name} stream {self._context.log_stream_name}"

    def send(
        self,
        status: Status,
        physical_resource_id: str,
        reason: str = "",
        data: Mapping[str, str] | None = None,
    ) -> bool:
        """Send the response unless one was already sent; never raises (nothing could catch it)."""
        with self._lock:
            if self.sent:
                return False
            self.sent = True
        try:
            body = build_body(
                self._request, status, physical_resource_id, reason or self.log_hint(), data or {}
            )
            put(self._request["ResponseURL"], body, timeout=PUT_TIMEOUT_SECONDS)
        except Exception:
            logger.exception(
                "could not send the CloudFormation response; the stack will wait for its timeout"
            )
            return False
        return True
