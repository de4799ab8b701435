"""The Slack bot on localhost over real HTTP, the way API Gateway serves it on AWS.

On AWS, Slack POSTs to an API Gateway HTTP API, which hands ``bot.app.handler`` a payload-2.0
event. :class:`BotServer` does the same on ``127.0.0.1``: it takes the raw request — headers and
body byte for byte, so Slack's signature still verifies — wraps it with
:func:`~switchboard_local.slack.requests.api_gateway_v2_event` and calls the handler with a context
from the local Lambda endpoint, so Bolt's lazy listeners re-invoke the function there. Anything that
speaks HTTP can then talk to the bot: ``curl``, the terminal Slack console, or a real Slack app
through a tunnel (point its request URLs at ``<tunnel>/slack/events`` and give the bot the app's
signing secret).

When the stack's Slack stand-in is served too, a few local-only endpoints under ``/_local/`` give the
terminal console (possibly in another process) what a Slack client would see: the Web API calls and
``response_url`` posts the stand-in recorded (after the bot's lazy listeners finished), trigger ids
the stand-in will accept, and closing a modal. They exist only on this local server, never on AWS.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from switchboard_local.http_server import LocalHttpServer
from switchboard_local.slack.requests import DEFAULT_PATH, api_gateway_v2_event
from switchboard_local.slack.standin import RecordedCall

if TYPE_CHECKING:
    from switchboard_local.aws.lambda_endpoint import LambdaEndpoint, LambdaHandler
    from switchboard_local.slack.standin import SlackStandIn
    from switchboard_local.stack import LocalStack

LOCAL_PREFIX = "/_local/"
MAX_BODY = 1024 * 1024  # Slack's requests are small; API Gateway's own limit is 10 MB


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, headers, body."""

    status: int
    headers: dict[str, str]
    body: bytes

    @classmethod
    def of_json(cls, status: int, body: Any) -> Reply:
        return cls(status, {"Content-Type": "application/json"}, json.dumps(body).encode("utf-8"))

    @classmethod
    def of_text(cls, status: int, text: str) -> Reply:
        return cls(status, {"Content-Type": "text/plain; charset=utf-8"}, text.encode("utf-8"))


def call_to_json(call: RecordedCall) -> dict[str, Any]:
    """A recorded stand-in call as JSON (for the console's ``/_local/activity``)."""
    return dataclasses.asdict(call)


def call_from_json(data: Mapping[str, Any]) -> RecordedCall:
    """The inverse of :func:`call_to_json`."""
    names = {f.name for f in dataclasses.fields(RecordedCall)}
    return RecordedCall(**{key: value for key, value in data.items() if key in names})


class BotServer(LocalHttpServer):
    """``handler`` (normally ``bot.app.handler``) behind ``POST http://127.0.0.1:PORT/slack/events``.

    ``lambdas`` provides the invocation context (function ``function``), so lazy re-invocations land
    on that endpoint. ``port=0`` picks a free port. ``slack``, when given, enables the ``/_local/``
    console endpoints. ``settle``, when given, is called once the bot is idle, before the activity
    is read: the stack's stream pump drains there, so the channel announcements of the changes just
    made (posted by ``bot.notifier`` from the table's stream) belong to the command that made them.
    Use as a context manager or :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        handler: LambdaHandler,
        lambdas: LambdaEndpoint,
        *,
        function: str = "switchboard-bot",
        host: str = "127.0.0.1",
        port: int = 0,
        path: str = DEFAULT_PATH,
        slack: SlackStandIn | None = None,
        settle: Callable[[float], None] | None = None,
    ) -> None:
        self.handler = handler
        self.settle = settle
        self.lambdas = lambdas
        self.function = function
        self.host = host
        self.port = port
        self.path = path
        self.slack = slack
        super().__init__()

    @classmethod
    def for_stack(cls, stack: LocalStack, *, port: int = 0) -> BotServer:
        """The bot of a started ``LocalStack(with_slack=True)``."""
        from switchboard_local.stack import BOT_FUNCTION

        if stack.bot_handler is None or stack.lambdas is None:
            raise RuntimeError("the stack has no Slack side: start LocalStack(with_slack=True)")
        pump = stack.pump
        return cls(
            stack.bot_handler,
            stack.lambdas,
            function=BOT_FUNCTION,
            port=port,
            slack=stack.slack,
            settle=pump.drain if pump is not None else None,
        )

    # ---------------------------------------------------------------- server

    server_name = "bot server"

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_class(self)

    def _address(self) -> tuple[str, int]:
        return (self.host, self.port)

    @property
    def url(self) -> str:
        """The Slack request URL (slash commands, interactivity, events)."""
        return self.origin + self.path

    # ---------------------------------------------------------------- requests

    def handle(
        self, method: str, target: str, headers: Mapping[str, str], body: bytes, source_ip: str = "127.0.0.1"
    ) -> Reply:
        """Answer one HTTP request (``target`` is the request line's path and query)."""
        parts = urlsplit(target)
        path = unquote(parts.path)
        if path.startswith(LOCAL_PREFIX):
            return self._local(method, path.removeprefix(LOCAL_PREFIX), dict(parse_qsl(parts.query)))
        if path == self.path and method in ("POST", "GET"):
            return self._slack(method, path, parts.query, headers, body, source_ip=source_ip)
        if path == "/" and method == "GET":
            return Reply.of_text(200, f"switchboard bot (local): Slack requests go to POST {self.url}\n")
        return Reply.of_json(404, {"message": "Not Found"})

    def _slack(
        self,
        method: str,
        path: str,
        query: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        source_ip: str,
    ) -> Reply:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return Reply.of_json(400, {"message": "the body is not UTF-8"})
        event = api_gateway_v2_event(
            text, headers, method=method, path=path, query=dict(parse_qsl(query)) or None, source_ip=source_ip
        )
        try:
            response = self.handler(event, self.lambdas.context(self.function))
        except Exception:
            # On AWS this is in CloudWatch; locally the developer's terminal is the place for it.
            sys.stderr.write(f"{self.function} failed on {method} {path}:\n{traceback.format_exc()}")
            return Reply.of_json(500, {"message": "Internal Server Error"})  # what API Gateway answers
        if not isinstance(response, Mapping):
            return Reply.of_json(500, {"message": "Internal Server Error"})
        status = int(response.get("statusCode", 200))
        out_headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
        raw = response.get("body") or ""
        data = base64.b64decode(str(raw)) if response.get("isBase64Encoded") else str(raw).encode("utf-8")
        return Reply(status, out_headers, data)

    def _local(self, method: str, name: str, query: Mapping[str, str]) -> Reply:
        slack = self.slack
        if slack is None:
            return Reply.of_json(404, {"message": "no local Slack stand-in (the bot talks to real Slack)"})
        if name == "info" and method == "GET":
            return Reply.of_json(200, {"response_url": slack.response_url(""), "team_id": slack.team_id})
        if name == "trigger" and method == "POST":
            return Reply.of_json(200, {"trigger_id": slack.trigger_id()})
        if name.startswith("views/") and name.endswith("/close") and method == "POST":
            slack.close_view(name.removeprefix("views/").removesuffix("/close"))
            return Reply.of_json(200, {"ok": True})
        if name == "activity" and method == "GET":
            return Reply.of_json(200, self._activity(query))
        if name.startswith("groups/") and method == "POST":
            return self._change_group(slack, name.removeprefix("groups/"), query)
        return Reply.of_json(404, {"message": f"no local endpoint {method} {LOCAL_PREFIX}{name}"})

    @staticmethod
    def _change_group(slack: SlackStandIn, group: str, query: Mapping[str, str]) -> Reply:
        """``POST /_local/groups/S…?add=U…`` (or ``remove=U…``): a workspace admin edits a user
        group; the stand-in sends ``subteam_members_changed`` to the bot, as Slack does."""
        if group not in slack.usergroups:
            return Reply.of_json(
                404, {"message": f"no user group {group}", "groups": sorted(slack.usergroups)}
            )
        members = list(slack.usergroups[group])
        added, removed = query.get("add", ""), query.get("remove", "")
        if added and added not in members:
            members.append(added)
        if removed:
            members = [member for member in members if member != removed]
        slack.set_group_members(group, members)
        return Reply.of_json(200, {"ok": True, "group": group, "members": members})

    def _activity(self, query: Mapping[str, str]) -> dict[str, Any]:
        """What happened in the local workspace after the given cursor, once the bot is idle.

        ``wait`` (seconds, default 20) bounds the wait for lazy listeners; ``calls``, ``responses``
        and ``invocations`` are the counts already seen. ``failed`` lists lazy invocations that
        raised (their error documents), which a Slack user would only notice as silence.
        """
        slack = self.slack
        assert slack is not None
        try:
            wait = min(float(query.get("wait", "20")), 120.0)
            seen = {key: max(0, int(query.get(key, "0"))) for key in ("calls", "responses", "invocations")}
        except ValueError:
            seen, wait = {"calls": 0, "responses": 0, "invocations": 0}, 20.0
        idle = True
        try:
            invocations = self.lambdas.wait_idle(timeout=wait)
            if self.settle is not None:
                self.settle(max(wait, 1.0))
        except TimeoutError:
            idle = False
            invocations = self.lambdas.invocations
        calls, responses = slack.calls, slack.responses
        return {
            "idle": idle,
            "calls": [call_to_json(c) for c in calls[seen["calls"] :]],
            "responses": [call_to_json(c) for c in responses[seen["responses"] :]],
            "failed": [i.error for i in invocations[seen["invocations"] :] if i.error is not None],
            "cursor": {"calls": len(calls), "responses": len(responses), "invocations": len(invocations)},
        }


def _handler_class(server: BotServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        wbufsize = -1  # headers and body in one write
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                reply = Reply.of_json(411, {"message": "Content-Length required"})
            else:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY:
                    reply = Reply.of_json(413, {"message": "Request Entity Too Large"})
                    self.close_connection = True
                else:
                    body = self.rfile.read(length) if length else b""
                    headers: dict[str, str] = {}
                    for name, value in self.headers.items():  # repeated headers joined, as API Gateway does
                        key = name.lower()
                        headers[key] = f"{headers[key]},{value}" if key in headers else value
                    reply = server.handle(self.command, self.path, headers, body, self.client_address[0])
            self.send_response(reply.status)
            for name, value in reply.headers.items():
                if name.lower() not in ("content-length", "connection", "transfer-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(reply.body)

        do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the console and ``switchboard dev`` print what matters."""

    return Handler
