"""A local AWS Lambda ``Invoke`` endpoint: Python handlers behind the real Lambda REST-JSON API.

Why: the bot runs Slack work in Bolt *lazy listeners*. On Lambda, Bolt's ``SlackRequestHandler``
acks the request and then re-invokes **the same function** asynchronously through the unmodified
boto3 client (``slack_bolt.adapter.aws_lambda.lazy_listener_runner.LambdaLazyListenerRunner``)::

    boto3.client("lambda").invoke(
        FunctionName=request.context["aws_lambda_invoked_function_arn"],   # the ARN, not the name
        InvocationType="Event",
        Payload=json.dumps(event),  # the API Gateway event, headers + x-slack-bolt-lazy-only: "1",
    )                               # x-slack-bolt-lazy-function-name: <func.__name__>

Pointing ``AWS_ENDPOINT_URL_LAMBDA`` (boto3's own per-service endpoint variable) at :attr:`LambdaEndpoint.url`
makes that call land here, so the whole ack → lazy round trip runs locally with production code.

What it implements of ``POST /2015-03-31/functions/{FunctionName}/invocations`` (Lambda API reference):

* ``FunctionName`` as a name, ``name:qualifier``, a partial ARN (``123456789012:function:name``) or
  a full ARN (region and account are not checked); ``Qualifier`` query parameter. Only ``$LATEST``
  exists; another qualifier, or an unknown function, is ``ResourceNotFoundException`` (404, with
  ``x-amzn-ErrorType`` so botocore raises ``client.exceptions.ResourceNotFoundException``).
  A qualifier in the name that differs from ``Qualifier`` → ``InvalidParameterValueException``.
* ``X-Amz-Invocation-Type``: ``RequestResponse`` (default) runs the handler inline → 200 with the
  JSON result and ``X-Amz-Executed-Version: $LATEST``; a handler exception → 200 with
  ``X-Amz-Function-Error: Unhandled`` and the runtime's error document ``{"errorMessage",
  "errorType", "requestId", "stackTrace"}``; an unserialisable result → ``Runtime.MarshalError``.
  ``Event`` → 202 at once, the handler runs on a background thread, its exception is recorded (as
  CloudWatch would show it), never raised. ``DryRun`` → 204, nothing runs.
* ``X-Amz-Client-Context`` (base64 JSON) becomes ``context.client_context`` — synchronous only, as
  in Lambda. ``X-Amz-Log-Type: Tail`` → ``X-Amz-Log-Result`` (base64 of the last 4 KB of
  START / captured log records / END / REPORT lines).
* Payload must be JSON (``InvalidRequestContentException``); at most 6 MB synchronous, 1 MB
  ``Event`` (``RequestTooLargeException``).

Differences from Lambda, on purpose: handlers run as threads of this process (module state is shared
between concurrent invocations, where Lambda would use separate execution environments), failed
``Event`` invocations are not retried (Lambda retries twice, minutes apart), and the function
timeout is reported (``Invocation.timed_out``) rather than enforced.

Tests assert on :attr:`LambdaEndpoint.invocations` after :meth:`LambdaEndpoint.wait_idle`.
:class:`LocalLambdaContext` is the ``context`` object for invoking a handler directly (API Gateway
calls ``bot.app.handler`` synchronously; build its context with :meth:`LambdaEndpoint.context`
so Bolt's lazy re-invocation resolves to a function registered here).
"""

from __future__ import annotations

import base64
import binascii
import decimal
import json
import logging
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from switchboard_local.http_server import LocalHttpServer

LambdaHandler = Callable[[Any, Any], object]

EVENT = "Event"
REQUEST_RESPONSE = "RequestResponse"
DRY_RUN = "DryRun"
LATEST = "$LATEST"
DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT = "123456789012"
MAX_SYNC_PAYLOAD = 6 * 1024 * 1024
MAX_EVENT_PAYLOAD = 1024 * 1024
MAX_CLIENT_CONTEXT = 3583
_LOG_TAIL = 4096

_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations/?$")
# The model's NamespacedFunctionName pattern, with the parts named.
_FUNCTION_NAME = re.compile(
    r"^(?:arn:(?:aws[a-zA-Z-]*)?:lambda:)?"
    r"(?:(?P<region>(?:eusc-)?[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d):)?"
    r"(?:(?P<account>\d{12}):)?"
    r"(?:function:)?"
    r"(?P<name>[a-zA-Z0-9\-_.]+)"
    r"(?::(?P<qualifier>\$LATEST(?:\.PUBLISHED)?|[a-zA-Z0-9\-_]+))?$"
)

_log = logging.getLogger(__name__)


# --------------------------------------------------------------------------------------------------
# The context object (mirrors awslambdaric.lambda_context.LambdaContext)


@dataclass
class MobileClient:
    """``context.client_context.client`` (Mobile SDK client information)."""

    installation_id: str | None = None
    app_title: str | None = None
    app_version_name: str | None = None
    app_version_code: str | None = None
    app_package_name: str | None = None


@dataclass
class ClientContext:
    """``context.client_context``: decoded from the ``X-Amz-Client-Context`` header."""

    custom: Any = None
    env: Any = None
    client: MobileClient | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ClientContext:
        client = data.get("client")
        fields = MobileClient.__dataclass_fields__
        mobile = (
            MobileClient(**{k: v for k, v in client.items() if k in fields})
            if isinstance(client, Mapping)
            else None
        )
        return cls(custom=data.get("custom"), env=data.get("env"), client=mobile)


@dataclass
class CognitoIdentity:
    """``context.identity`` (set only for Mobile SDK invocations)."""

    cognito_identity_id: str | None = None
    cognito_identity_pool_id: str | None = None


class LocalLambdaContext:
    """The ``context`` a Python Lambda handler receives, for invoking a handler locally.

    Same attributes as the runtime's: ``function_name``, ``function_version`` (``$LATEST``),
    ``invoked_function_arn`` (with ``:qualifier`` when invoked through one), ``memory_limit_in_mb``
    (a **string**, as the runtime reads it from ``AWS_LAMBDA_FUNCTION_MEMORY_SIZE``),
    ``aws_request_id`` (a UUID), ``log_group_name`` (``/aws/lambda/<name>``), ``log_stream_name``,
    ``client_context``, ``identity``, ``tenant_id``, and :meth:`get_remaining_time_in_millis`
    counting down from ``timeout`` seconds after construction.
    """

    def __init__(
        self,
        function_name: str = "switchboard-bot",
        *,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT,
        qualifier: str | None = None,
        memory_limit_in_mb: int | str = 512,
        timeout: float = 30.0,
        aws_request_id: str | None = None,
        client_context: ClientContext | None = None,
        invoked_function_arn: str | None = None,
    ) -> None:
        self.function_name = function_name
        self.function_version = LATEST
        arn = function_arn(function_name, region, account_id)
        self.invoked_function_arn = invoked_function_arn or (f"{arn}:{qualifier}" if qualifier else arn)
        self.memory_limit_in_mb = str(memory_limit_in_mb)
        self.aws_request_id = aws_request_id or str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = f"{datetime.now(UTC):%Y/%m/%d}/[{LATEST}]{uuid.uuid4().hex}"
        self.client_context = client_context
        self.identity = CognitoIdentity()
        self.tenant_id: str | None = None
        self.timeout = timeout
        self._deadline_ms = int(time.time() * 1000 + timeout * 1000)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))

    def __repr__(self) -> str:
        return (
            f"LocalLambdaContext(function_name={self.function_name!r}, "
            f"invoked_function_arn={self.invoked_function_arn!r}, aws_request_id={self.aws_request_id!r})"
        )


def function_arn(name: str, region: str = DEFAULT_REGION, account_id: str = DEFAULT_ACCOUNT) -> str:
    """``arn:aws:lambda:<region>:<account>:function:<name>``."""
    return f"arn:aws:lambda:{region}:{account_id}:function:{name}"


def parse_function_name(function_name: str) -> tuple[str, str | None]:
    """(name, qualifier or None) from any form Invoke accepts; ``ValueError`` if none matches."""
    match = _FUNCTION_NAME.match(function_name)
    if match is None:
        raise ValueError(f"invalid function name {function_name!r}")
    return match.group("name"), match.group("qualifier")


# --------------------------------------------------------------------------------------------------
# Invocations


@dataclass
class Invocation:
    """One Invoke call: what was asked, and (once ``done``) what the handler returned or raised.

    ``error`` is the runtime's error document (``errorMessage``, ``errorType``, ``requestId``,
    ``stackTrace``); ``logs`` are the log records emitted on the handler's thread that reached the
    root logger (like the function's CloudWatch stream).
    """

    function: str
    invocation_type: str
    payload: Any
    request_id: str
    qualifier: str | None = None
    client_context: ClientContext | None = None
    timeout: float = 30.0
    started: float = field(default_factory=time.time)
    finished: float | None = None
    result: Any = None
    error: dict[str, Any] | None = None
    logs: list[str] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return self.finished is not None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def duration(self) -> float | None:
        return None if self.finished is None else self.finished - self.started

    @property
    def timed_out(self) -> bool:
        """The handler ran longer than the function timeout (Lambda would have stopped it)."""
        return self.duration is not None and self.duration > self.timeout


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, *, message_key: str = "message") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.message_key = message_key


def _not_found(arn: str) -> _ApiError:
    return _ApiError(404, "ResourceNotFoundException", f"Function not found: {arn}", message_key="Message")


class _JsonEncoder(json.JSONEncoder):
    """The runtime encodes ``Decimal`` as a JSON number (DynamoDB items come back as Decimals)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, decimal.Decimal):
            return int(o) if o == o.to_integral_value() else float(o)
        return super().default(o)


def _marshal(result: object) -> bytes:
    if isinstance(result, bytes):
        return result
    return json.dumps(result, cls=_JsonEncoder).encode("utf-8")


def _error_document(error: BaseException, request_id: str) -> dict[str, Any]:
    frames = traceback.extract_tb(error.__traceback__)[1:]  # drop the endpoint's own frame
    return {
        "errorMessage": str(error),
        "errorType": type(error).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(frames),
    }


class _LogCapture(logging.Handler):
    """Routes log records to the invocation running on the emitting thread."""

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)
        self.active: dict[int, Invocation] = {}
        self.setFormatter(logging.Formatter("[%(levelname)s]\t%(name)s\t%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        invocation = self.active.get(threading.get_ident())
        if invocation is not None:
            try:
                invocation.logs.append(self.format(record))
            except Exception:  # a logging handler must not raise
                self.handleError(record)


class LambdaEndpoint(LocalHttpServer):
    """Python Lambda handlers served over the Lambda Invoke API on 127.0.0.1 (free port).

    ``functions`` maps function names (or ARNs, reduced to their name) to handlers
    ``handler(event, context)``. Use as a context manager or :meth:`start` / :meth:`stop`; point
    boto3 at :attr:`url` (``endpoint_url=`` or ``AWS_ENDPOINT_URL_LAMBDA``).
    """

    def __init__(
        self,
        functions: Mapping[str, LambdaHandler] | None = None,
        *,
        region: str = DEFAULT_REGION,
        account_id: str = DEFAULT_ACCOUNT,
        memory_limit_in_mb: int = 512,
        timeout: float = 30.0,
        max_sync_payload: int = MAX_SYNC_PAYLOAD,
        max_event_payload: int = MAX_EVENT_PAYLOAD,
    ) -> None:
        self.region = region
        self.account_id = account_id
        self.memory_limit_in_mb = memory_limit_in_mb
        self.timeout = timeout
        self.max_sync_payload = max_sync_payload
        self.max_event_payload = max_event_payload
        self._functions: dict[str, LambdaHandler] = {}
        for name, handler in (functions or {}).items():
            self.register(name, handler)
        self._lock = threading.Condition()
        self._invocations: list[Invocation] = []
        self._pending = 0
        self._capture = _LogCapture()
        super().__init__()

    # ---------------------------------------------------------------- configuration

    def register(self, name: str, handler: LambdaHandler) -> None:
        """Serve ``handler`` as function ``name`` (a name or an ARN ending with it)."""
        self._functions[parse_function_name(name)[0]] = handler

    def arn(self, name: str) -> str:
        return function_arn(name, self.region, self.account_id)

    def context(self, name: str, **overrides: Any) -> LocalLambdaContext:
        """A context for invoking ``name`` directly (e.g. as API Gateway does), consistent with this
        endpoint's region, account, memory and timeout, so a re-invocation by ARN lands here."""
        settings: dict[str, Any] = {
            "region": self.region,
            "account_id": self.account_id,
            "memory_limit_in_mb": self.memory_limit_in_mb,
            "timeout": self.timeout,
        }
        settings.update(overrides)
        return LocalLambdaContext(name, **settings)

    # ---------------------------------------------------------------- server

    server_name = "Lambda endpoint"

    @property
    def url(self) -> str:
        return self.origin

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_class(self)

    def _on_start(self) -> None:
        logging.getLogger().addHandler(self._capture)

    def _on_stop(self) -> None:
        logging.getLogger().removeHandler(self._capture)

    # ---------------------------------------------------------------- test API

    @property
    def invocations(self) -> list[Invocation]:
        """Every accepted Invoke call, in arrival order (DryRun included)."""
        with self._lock:
            return list(self._invocations)

    def invocations_of(self, name: str, invocation_type: str | None = None) -> list[Invocation]:
        with self._lock:
            return [
                i
                for i in self._invocations
                if i.function == name and invocation_type in (None, i.invocation_type)
            ]

    @property
    def failed(self) -> list[Invocation]:
        """Finished invocations whose handler raised (or returned something unserialisable)."""
        with self._lock:
            return [i for i in self._invocations if i.failed]

    def clear(self) -> None:
        with self._lock:
            self._invocations.clear()

    def wait_idle(self, timeout: float = 10.0) -> list[Invocation]:
        """Wait until no ``Event`` invocation is running — including ones those started — and return
        all invocations. Raises ``TimeoutError`` if some still run after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    running = [i.function for i in self._invocations if not i.done]
                    raise TimeoutError(f"background invocations still running after {timeout} s: {running}")
                self._lock.wait(remaining)
            return list(self._invocations)

    # ---------------------------------------------------------------- invoking

    def _resolve(self, raw_name: str, query_qualifier: str | None) -> tuple[str, str | None, str]:
        """(name, qualifier, invoked ARN) or an API error."""
        try:
            name, qualifier = parse_function_name(raw_name)
        except ValueError as error:
            raise _ApiError(400, "ValidationException", str(error)) from error
        if qualifier and query_qualifier and qualifier != query_qualifier:
            raise _ApiError(
                400,
                "InvalidParameterValueException",
                "The derived qualifier from the function name does not match the specified qualifier.",
            )
        qualifier = qualifier or query_qualifier
        arn = self.arn(name) + (f":{qualifier}" if qualifier else "")
        if name not in self._functions or qualifier not in (None, LATEST):
            raise _not_found(arn)
        return name, qualifier, arn

    def _run(self, invocation: Invocation, arn: str) -> None:
        context = self.context(
            invocation.function,
            aws_request_id=invocation.request_id,
            client_context=invocation.client_context,
            invoked_function_arn=arn,
        )
        handler = self._functions[invocation.function]
        self._capture.active[threading.get_ident()] = invocation
        try:
            result = handler(invocation.payload, context)
            try:
                _marshal(result)
                invocation.result = result
            except (TypeError, ValueError) as error:
                invocation.error = {
                    "errorMessage": f"Unable to marshal response: {error}",
                    "errorType": "Runtime.MarshalError",
                    "requestId": invocation.request_id,
                    "stackTrace": [],
                }
        except Exception as error:
            invocation.error = _error_document(error, invocation.request_id)
            _log.warning(
                "%s %s invocation %s failed: %s: %s",
                invocation.function,
                invocation.invocation_type,
                invocation.request_id,
                type(error).__name__,
                error,
            )
        finally:
            self._capture.active.pop(threading.get_ident(), None)
            invocation.finished = time.time()

    def _run_in_background(self, invocation: Invocation, arn: str) -> None:
        try:
            self._run(invocation, arn)
        finally:
            with self._lock:
                self._pending -= 1
                self._lock.notify_all()

    def invoke(
        self,
        raw_name: str,
        invocation_type: str,
        body: bytes,
        *,
        qualifier: str | None = None,
        client_context: str | None = None,
        tail: bool = False,
    ) -> tuple[int, dict[str, str], bytes]:
        """Handle one Invoke request: (HTTP status, headers, body). Raises ``_ApiError``."""
        name, qualifier, arn = self._resolve(raw_name, qualifier)
        if invocation_type not in (EVENT, REQUEST_RESPONSE, DRY_RUN):
            raise _ApiError(
                400,
                "InvalidParameterValueException",
                f"Unsupported invocation type {invocation_type!r}: use Event, RequestResponse or DryRun",
            )
        limit = self.max_event_payload if invocation_type == EVENT else self.max_sync_payload
        if len(body) > limit:
            raise _ApiError(
                413,
                "RequestTooLargeException",
                f"{len(body)} byte payload is too large for the {invocation_type} invocation type "
                f"(limit {limit} bytes)",
            )
        try:
            payload = json.loads(body) if body.strip() else {}
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise _ApiError(
                400, "InvalidRequestContentException", f"Could not parse request body into json: {error}"
            ) from error
        context = self._client_context(client_context) if invocation_type == REQUEST_RESPONSE else None
        invocation = Invocation(
            function=name,
            invocation_type=invocation_type,
            payload=payload,
            request_id=str(uuid.uuid4()),
            qualifier=qualifier,
            client_context=context,
            timeout=self.timeout,
        )
        headers = {"x-amzn-RequestId": invocation.request_id}
        with self._lock:
            self._invocations.append(invocation)
            if invocation_type == EVENT:
                self._pending += 1
        if invocation_type == DRY_RUN:
            invocation.finished = invocation.started
            return 204, headers, b""
        if invocation_type == EVENT:
            threading.Thread(
                target=self._run_in_background,
                args=(invocation, arn),
                name=f"lambda-{name}-{invocation.request_id[:8]}",
                daemon=True,
            ).start()
            return 202, headers, b""
        self._run(invocation, arn)
        headers["X-Amz-Executed-Version"] = LATEST
        if tail:
            headers["X-Amz-Log-Result"] = self._log_tail(invocation)
        if invocation.error is not None:
            headers["X-Amz-Function-Error"] = "Unhandled"
            return 200, headers, json.dumps(invocation.error).encode("utf-8")
        return 200, headers, _marshal(invocation.result)

    @staticmethod
    def _client_context(header: str | None) -> ClientContext | None:
        if not header:
            return None
        if len(header) > MAX_CLIENT_CONTEXT:
            raise _ApiError(400, "InvalidRequestContentException", "Client context is too large.")
        try:
            data = json.loads(base64.b64decode(header, validate=True))
        except (binascii.Error, ValueError) as error:
            raise _ApiError(
                400,
                "InvalidRequestContentException",
                "Client context must be a valid Base64-encoded JSON object.",
            ) from error
        if not isinstance(data, dict):
            raise _ApiError(
                400,
                "InvalidRequestContentException",
                "Client context must be a valid Base64-encoded JSON object.",
            )
        return ClientContext.from_dict(data)

    def _log_tail(self, invocation: Invocation) -> str:
        request = invocation.request_id
        duration_ms = (invocation.duration or 0.0) * 1000
        lines = [
            f"START RequestId: {request} Version: {LATEST}",
            *invocation.logs,
            f"END RequestId: {request}",
            f"REPORT RequestId: {request}\tDuration: {duration_ms:.2f} ms\tBilled Duration: "
            f"{max(1, int(duration_ms + 0.999))} ms\tMemory Size: {self.memory_limit_in_mb} MB\t",
        ]
        tail = ("\n".join(lines) + "\n").encode("utf-8")[-_LOG_TAIL:]
        return base64.b64encode(tail).decode("ascii")


def _handler_class(endpoint: LambdaEndpoint) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as botocore's connection pool expects
        # Headers and body in one write, sent at once: otherwise Nagle + delayed ACK cost 40 ms a call.
        wbufsize = -1
        disable_nagle_algorithm = True

        def _reply(self, status: int, headers: Mapping[str, str], body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            if body:
                self.wfile.write(body)

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            try:
                match = _INVOKE_PATH.match(parts.path)
                if self.command != "POST" or match is None:
                    raise _ApiError(
                        404, "UnknownOperationException", f"{self.command} {parts.path} is not Lambda Invoke"
                    )
                query = parse_qs(parts.query)
                status, headers, data = endpoint.invoke(
                    unquote(match.group("name")),
                    self.headers.get("X-Amz-Invocation-Type") or REQUEST_RESPONSE,
                    body,
                    qualifier=query["Qualifier"][0] if query.get("Qualifier") else None,
                    client_context=self.headers.get("X-Amz-Client-Context"),
                    tail=(self.headers.get("X-Amz-Log-Type") or "").lower() == "tail",
                )
            except _ApiError as error:
                status = error.status
                headers = {"x-amzn-ErrorType": error.code, "x-amzn-RequestId": str(uuid.uuid4())}
                data = json.dumps({"Type": "User", error.message_key: error.message}).encode("utf-8")
            except Exception as error:  # an endpoint bug: say so rather than drop the connection
                status = 500
                headers = {"x-amzn-ErrorType": "ServiceException"}
                data = json.dumps({"Type": "Service", "Message": f"endpoint error: {error!r}"}).encode(
                    "utf-8"
                )
            self._reply(status, headers, data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests print what matters themselves."""

    return Handler
