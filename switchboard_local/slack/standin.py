"""A local Slack Web API for tests and the terminal Slack console.

The bot talks to Slack through ``slack_sdk.WebClient``; pointing that client's ``base_url`` (the
bot's ``SLACK_API_URL`` setting) at :attr:`SlackStandIn.api_url` runs the unmodified client code
— HTTP, JSON / form encoding, bearer token, error and rate-limit handling — against this server::

    with SlackStandIn(tokens=["xoxb-test"], usergroups={"S0ADMINS": ["U1"]}) as slack:
        client = WebClient(token="xoxb-test", base_url=slack.api_url)
        client.chat_postMessage(channel="C1", text="hi")
        assert slack.messages("C1")[0]["text"] == "hi"

What it answers, like Slack (``{"ok": true, ...}`` or HTTP 200 ``{"ok": false, "error": ...}``):

* Token from ``Authorization: Bearer …`` (or a ``token`` form / query field, never a JSON body
  field — Slack ignores those): missing → ``not_authed``; not one of ``tokens`` → ``invalid_auth``.
* ``auth.test``, ``chat.postMessage`` (``thread_ts``; a ``U…`` channel is a DM answered as ``D…``),
  ``chat.postEphemeral``, ``chat.update``, ``views.open`` / ``views.push`` / ``views.update``
  (``view_id`` or ``external_id``, ``hash`` checked → ``hash_conflict``), ``views.publish``,
  ``usergroups.users.list`` (unknown group → ``no_such_subteam``), ``usergroups.list``,
  ``users.info``, ``users.profile.get`` (the ``phones`` given), ``conversations.info``. Any other
  method → ``unknown_method``. ``scopes``, when given, are the app's granted scopes: a method that
  needs another answers ``missing_scope`` with ``needed``, as Slack does.
* The directory changes as in Slack: :meth:`SlackStandIn.set_group_members`,
  :meth:`SlackStandIn.rename_group` and :meth:`SlackStandIn.set_phone` change it and send
  ``subteam_members_changed`` / ``subteam_updated`` / ``user_change`` (Events API envelopes) to
  ``event_sink`` (the local stack posts them to the bot, signed); ``deliver=False`` changes the
  directory without the event (a missed event), and the returned body can be delivered later (a
  late or repeated one).
* Block Kit is checked against the limits Slack enforces (block counts, text lengths, plain_text
  where required, duplicate ``block_id``, modal title ≤ 24, ``submit`` required with input blocks):
  messages → ``invalid_blocks``, views → ``invalid_arguments``, with ``response_metadata.messages``
  naming the JSON pointer. A bot bug that real Slack would refuse is refused here.
* Files, as Slack's external upload flow (what ``WebClient.files_upload_v2`` does):
  ``files.getUploadURLExternal`` (``filename``, ``length``) answers a ``file_id`` and an
  ``upload_url`` on this server; the bytes POSTed there are kept (a length that differs from the
  announced one is refused, as Slack does); ``files.completeUploadExternal`` (``files`` = JSON list of
  ``{"id", "title"}``, optional ``channel_id``, ``thread_ts``, ``initial_comment``) shares them as one
  message carrying ``files`` in that channel / thread. Unknown or not uploaded ids → ``file_not_found``.
  :meth:`SlackStandIn.file` returns a file's bytes and metadata.
* Configured ``channels`` / ``users`` restrict lookups (``channel_not_found``, ``user_not_found``;
  a channel with ``"is_member": false`` → ``not_in_channel`` on post); left unset, any ID is
  accepted and described plausibly.
* Trigger ids issued by :meth:`SlackStandIn.trigger_id` are single-use and expire after
  ``trigger_ttl`` seconds (``expired_trigger_id``), like Slack's 3 seconds; others are accepted
  unless ``strict_triggers``.

Tests inject faults with :meth:`SlackStandIn.fail_next` (HTTP 429 + ``Retry-After`` for
``ratelimited``; HTTP 200 ``ok: false`` for any other error), capture ``respond()`` posts with
:meth:`SlackStandIn.response_url`, and read what happened from :attr:`SlackStandIn.calls`,
:meth:`SlackStandIn.messages`, :attr:`SlackStandIn.home_views`, :attr:`SlackStandIn.open_views`,
waiting for lazy listeners with :meth:`SlackStandIn.wait_for`. :func:`render` turns a recorded
call into terminal text (what the Slack console prints).
"""

from __future__ import annotations

import contextlib
import copy
import html
import itertools
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

from switchboard_local.http_server import LocalHttpServer

JSON = dict[str, Any]
T = TypeVar("T")

RATELIMITED = "ratelimited"
RESPONSE_URL = "response_url"  # RecordedCall.method of a response_url post
_JSON_FIELDS = ("blocks", "attachments", "view", "metadata", "files")
UPLOAD = "upload"  # RecordedCall.method of the bytes POSTed to an upload_url


@dataclass(frozen=True)
class RecordedCall:
    """One request the stand-in received: a Web API call, or a post to a response_url.

    ``args`` are the decoded arguments (query, form or JSON; ``blocks`` / ``view`` decoded from JSON
    strings), ``token`` the token presented, ``at`` the ``time.time()`` of arrival. ``response`` is
    what the stand-in answered and ``status`` its HTTP status; ``name`` is the response_url name for
    ``method == "response_url"``.
    """

    method: str
    args: JSON
    token: str | None
    at: float
    response: JSON = field(default_factory=dict)
    status: int = 200
    name: str | None = None

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok", False))

    @property
    def error(self) -> str | None:
        error = self.response.get("error")
        return None if error is None else str(error)


@dataclass(frozen=True)
class _Failure:
    error: str
    status: int
    retry_after: int


class SlackError(Exception):
    """An ``ok: false`` answer (raised inside the stand-in's method implementations)."""

    def __init__(self, error: str, messages: Iterable[str] = (), status: int = 200) -> None:
        super().__init__(error)
        self.error = error
        self.messages = list(messages)
        self.status = status

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error": self.error}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return body


# --------------------------------------------------------------------------------------------------
# Block Kit validation (the limits Slack enforces; https://docs.slack.dev/reference/block-kit)

_BLOCK_TYPES = {
    "actions",
    "context",
    "divider",
    "file",
    "header",
    "image",
    "input",
    "markdown",
    "rich_text",
    "section",
    "video",
}
_SELECTS = {
    "static_select",
    "external_select",
    "users_select",
    "conversations_select",
    "channels_select",
    "multi_static_select",
    "multi_external_select",
    "multi_users_select",
    "multi_conversations_select",
    "multi_channels_select",
}


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def fail(self, pointer: str, message: str) -> None:
        self.problems.append(f"[ERROR] {message} [json-pointer:{pointer}]")

    def text(self, obj: Any, pointer: str, *, limit: int, plain: bool = False, required: bool = True) -> None:
        if obj is None:
            if required:
                self.fail(pointer, "missing required field")
            return
        if not isinstance(obj, Mapping) or not isinstance(obj.get("text"), str):
            self.fail(pointer, "must provide an object with a 'type' and a string 'text'")
            return
        kind = obj.get("type")
        if kind not in ("plain_text", "mrkdwn") or (plain and kind != "plain_text"):
            allowed = "plain_text" if plain else "plain_text, mrkdwn"
            self.fail(f"{pointer}/type", f"must be one of [{allowed}]")
        text = obj["text"]
        if required and not text:
            self.fail(f"{pointer}/text", "must be more than 0 characters")
        if len(text) > limit:
            self.fail(f"{pointer}/text", f"must be less than {limit + 1} characters")

    def string(self, value: Any, pointer: str, *, limit: int) -> None:
        if value is not None and (not isinstance(value, str) or len(value) > limit):
            self.fail(pointer, f"must be a string of at most {limit} characters")

    def option(self, option: Any, pointer: str, *, plain: bool) -> None:
        if not isinstance(option, Mapping):
            self.fail(pointer, "must be an option object")
            return
        self.text(option.get("text"), f"{pointer}/text", limit=75, plain=plain)
        value = option.get("value")
        if not isinstance(value, str) or not value or len(value) > 150:
            self.fail(f"{pointer}/value", "must be a string of 1 to 150 characters")
        self.text(option.get("description"), f"{pointer}/description", limit=75, required=False)

    def element(self, element: Any, pointer: str, action_ids: set[str]) -> None:
        if not isinstance(element, Mapping) or not isinstance(element.get("type"), str):
            self.fail(pointer, "must be an element object with a 'type'")
            return
        kind = element["type"]
        action_id = element.get("action_id")
        if action_id is not None:
            self.string(action_id, f"{pointer}/action_id", limit=255)
            if action_id in action_ids:
                self.fail(f"{pointer}/action_id", f"action_id {action_id!r} already exists in this block")
            action_ids.add(str(action_id))
        self.text(element.get("placeholder"), f"{pointer}/placeholder", limit=150, plain=True, required=False)
        if kind == "button":
            self.text(element.get("text"), f"{pointer}/text", limit=75, plain=True)
            self.string(element.get("value"), f"{pointer}/value", limit=2000)
            self.string(element.get("url"), f"{pointer}/url", limit=3000)
            if element.get("style") not in (None, "primary", "danger"):
                self.fail(f"{pointer}/style", "must be one of [primary, danger]")
        elif kind in _SELECTS or kind in ("overflow", "radio_buttons", "checkboxes"):
            options = element.get("options")
            groups = element.get("option_groups")
            needs_options = kind in ("static_select", "multi_static_select", "overflow", "radio_buttons")
            needs_options = needs_options or kind == "checkboxes"
            if needs_options and not options and not groups:
                self.fail(f"{pointer}/options", "must provide options or option_groups")
            limit = {"overflow": 5, "radio_buttons": 10, "checkboxes": 10}.get(kind, 100)
            if options is not None and (not isinstance(options, list) or len(options) > limit):
                self.fail(f"{pointer}/options", f"must be a list of at most {limit} items")
            plain = kind in _SELECTS or kind == "overflow"
            for index, option in enumerate(options or []):
                self.option(option, f"{pointer}/options/{index}", plain=plain)
            for g_index, group in enumerate(groups or []):
                self.text(
                    group.get("label"), f"{pointer}/option_groups/{g_index}/label", limit=75, plain=True
                )
                for index, option in enumerate(group.get("options") or []):
                    self.option(option, f"{pointer}/option_groups/{g_index}/options/{index}", plain=True)
        elif kind == "plain_text_input":
            max_length = element.get("max_length")
            if max_length is not None and (not isinstance(max_length, int) or not 1 <= max_length <= 3000):
                self.fail(f"{pointer}/max_length", "must be between 1 and 3000")
            self.string(element.get("initial_value"), f"{pointer}/initial_value", limit=3000)

    def blocks(self, blocks: Any, pointer: str, *, limit: int) -> None:
        if not isinstance(blocks, list):
            self.fail(pointer, "must be an array of blocks")
            return
        if len(blocks) > limit:
            self.fail(pointer, f"no more than {limit} items allowed")
        block_ids: set[str] = set()
        for index, block in enumerate(blocks):
            self.block(block, f"{pointer}/{index}", block_ids)

    def block(self, block: Any, pointer: str, block_ids: set[str]) -> None:
        if not isinstance(block, Mapping) or block.get("type") not in _BLOCK_TYPES:
            self.fail(f"{pointer}/type", f"must be one of [{', '.join(sorted(_BLOCK_TYPES))}]")
            return
        kind = block["type"]
        block_id = block.get("block_id")
        if block_id is not None:
            self.string(block_id, f"{pointer}/block_id", limit=255)
            if block_id in block_ids:
                self.fail(f"{pointer}/block_id", f"block_id {block_id!r} already exists")
            block_ids.add(str(block_id))
        action_ids: set[str] = set()
        if kind == "header":
            self.text(block.get("text"), f"{pointer}/text", limit=150, plain=True)
        elif kind == "section":
            fields = block.get("fields")
            if block.get("text") is None and not fields:
                self.fail(pointer, "must provide either text or fields")
            self.text(block.get("text"), f"{pointer}/text", limit=3000, required=False)
            if fields is not None:
                if not isinstance(fields, list) or len(fields) > 10:
                    self.fail(f"{pointer}/fields", "no more than 10 items allowed")
                for index, item in enumerate(fields or []):
                    self.text(item, f"{pointer}/fields/{index}", limit=2000)
            if block.get("accessory") is not None:
                self.element(block["accessory"], f"{pointer}/accessory", action_ids)
        elif kind == "context":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 10:
                self.fail(f"{pointer}/elements", "must be a list of 1 to 10 elements")
            for index, item in enumerate(elements or []):
                if isinstance(item, Mapping) and item.get("type") in ("plain_text", "mrkdwn"):
                    self.text(item, f"{pointer}/elements/{index}", limit=3000)
        elif kind == "actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 25:
                self.fail(f"{pointer}/elements", "must be a list of 1 to 25 elements")
            for index, item in enumerate(elements or []):
                self.element(item, f"{pointer}/elements/{index}", action_ids)
        elif kind == "input":
            self.text(block.get("label"), f"{pointer}/label", limit=2000, plain=True)
            self.text(block.get("hint"), f"{pointer}/hint", limit=2000, plain=True, required=False)
            if block.get("element") is None:
                self.fail(f"{pointer}/element", "missing required field")
            else:
                self.element(block["element"], f"{pointer}/element", action_ids)
        elif kind == "image":
            self.string(block.get("alt_text"), f"{pointer}/alt_text", limit=2000)

    def view(self, view: Any) -> None:
        if not isinstance(view, Mapping):
            self.fail("/view", "must be a view object")
            return
        kind = view.get("type")
        if kind not in ("modal", "home"):
            self.fail("/view/type", "must be one of [modal, home]")
            return
        self.blocks(view.get("blocks"), "/view/blocks", limit=100)
        self.string(view.get("private_metadata"), "/view/private_metadata", limit=3000)
        self.string(view.get("callback_id"), "/view/callback_id", limit=255)
        self.string(view.get("external_id"), "/view/external_id", limit=255)
        if kind == "modal":
            self.text(view.get("title"), "/view/title", limit=24, plain=True)
            self.text(view.get("submit"), "/view/submit", limit=24, plain=True, required=False)
            self.text(view.get("close"), "/view/close", limit=24, plain=True, required=False)
            has_input = any(
                isinstance(block, Mapping) and block.get("type") == "input"
                for block in view.get("blocks") or []
            )
            if has_input and view.get("submit") is None:
                self.fail("/view/submit", "submit is required when an input block is within the blocks array")


def check_blocks(blocks: Any) -> list[str]:
    """Slack's complaints about message ``blocks`` (empty when Slack would accept them)."""
    checker = _Checker()
    checker.blocks(blocks, "/blocks", limit=50)
    return checker.problems


def check_view(view: Any) -> list[str]:
    """Slack's complaints about a modal or Home ``view`` (empty when Slack would accept it)."""
    checker = _Checker()
    checker.view(view)
    return checker.problems


# --------------------------------------------------------------------------------------------------
# The stand-in


class _MissingScopeError(Exception):
    def __init__(self, needed: str, provided: list[str]) -> None:
        super().__init__(needed)
        self.needed = needed
        self.provided = provided


def _require(args: Mapping[str, Any], name: str, error: str = "invalid_arguments") -> Any:
    value = args.get(name)
    if value in (None, ""):
        raise SlackError(error, [f"[ERROR] missing required field: {name}"])
    return value


def _json_arg(value: Any, name: str) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise SlackError("invalid_arguments", [f"[ERROR] {name}: invalid JSON ({error.msg})"]) from error
    return value


class SlackStandIn(LocalHttpServer):
    """An in-memory Slack workspace behind a Slack Web API HTTP server on 127.0.0.1 (free port).

    ``tokens`` are the valid bot tokens; ``usergroups`` maps ``S…`` group IDs to member user IDs;
    ``users`` / ``channels`` map IDs to extra fields of their ``users.info`` / ``conversations.info``
    objects (left ``None``, any ID is accepted). Thread-safe; use as a context manager or
    :meth:`start` / :meth:`stop`.
    """

    def __init__(
        self,
        tokens: Iterable[str] = ("xoxb-test",),
        *,
        usergroups: Mapping[str, Iterable[str]] | None = None,
        users: Mapping[str, Mapping[str, Any]] | None = None,
        channels: Mapping[str, Mapping[str, Any]] | None = None,
        team_id: str = "T0SWITCHBD",
        team_name: str = "Switchboard",
        bot_user_id: str = "U0SWITCHBOT",
        bot_id: str = "B0SWITCHBOT",
        bot_name: str = "switchboard",
        app_id: str = "A0SWITCHBD",
        trigger_ttl: float = 3.0,
        strict_triggers: bool = False,
        phones: Mapping[str, str] | None = None,
        group_handles: Mapping[str, str] | None = None,
        scopes: Iterable[str] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> None:
        self.tokens = set(tokens)
        self.names: dict[str, str] = dict(names or {})  # display names (any user id accepted)
        self.phones: dict[str, str] = dict(phones or {})
        self.group_handles: dict[str, str] = dict(group_handles or {})
        self.scopes: set[str] | None = None if scopes is None else set(scopes)
        # Where Events API deliveries go (a JSON body; the caller signs and posts it); None: nowhere.
        self.event_sink: Callable[[str], None] | None = None
        self.events_sent: list[JSON] = []
        self.usergroups: dict[str, list[str]] = {k: list(v) for k, v in (usergroups or {}).items()}
        self.users: dict[str, JSON] | None = None if users is None else {k: dict(v) for k, v in users.items()}
        self.channels: dict[str, JSON] | None = (
            None if channels is None else {k: dict(v) for k, v in channels.items()}
        )
        self.team_id = team_id
        self.team_name = team_name
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.app_id = app_id
        self.trigger_ttl = trigger_ttl
        self.strict_triggers = strict_triggers

        self._lock = threading.Condition()
        self._calls: list[RecordedCall] = []
        self._responses: list[RecordedCall] = []
        self._failures: dict[str, deque[_Failure]] = defaultdict(deque)
        self._messages: dict[str, list[JSON]] = defaultdict(list)
        self._views: dict[str, JSON] = {}
        self._home: dict[str, JSON] = {}
        self._triggers: dict[str, float] = {}
        self._files: dict[str, JSON] = {}  # file id → metadata, with "data" once uploaded
        self._ids = itertools.count(1)
        self._generation = 0  # bumped on every recorded request; wakes wait_for
        self._ts_base = int(time.time())

        super().__init__()
        self.methods: dict[str, Callable[[JSON, str], JSON]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "usergroups.users.list": self._usergroups_users_list,
            "usergroups.list": self._usergroups_list,
            "users.info": self._users_info,
            "users.profile.get": self._users_profile_get,
            "conversations.info": self._conversations_info,
            "files.getUploadURLExternal": self._files_get_upload_url_external,
            "files.completeUploadExternal": self._files_complete_upload_external,
        }

    # ---------------------------------------------------------------- server

    server_name = "Slack stand-in"

    def _request_handler(self) -> type[BaseHTTPRequestHandler]:
        return _handler_class(self)

    @property
    def api_url(self) -> str:
        """The Web API base URL, ``http://127.0.0.1:PORT/api/`` — ``SLACK_API_URL`` / ``base_url``."""
        return f"{self.origin}/api/"

    @property
    def url(self) -> str:
        """Same as :attr:`api_url`."""
        return self.api_url

    # ---------------------------------------------------------------- test API

    def response_url(self, name: str) -> str:
        """A response_url on this server; JSON posted to it is recorded under ``name``."""
        return f"{self.origin}/response/{name}"

    def trigger_id(self) -> str:
        """A trigger id that is valid once, for ``trigger_ttl`` seconds (like Slack's)."""
        with self._lock:
            trigger = f"{self._ts_base}{next(self._ids):04d}.{self.team_id}.standin"
            self._triggers[trigger] = time.monotonic() + self.trigger_ttl
            return trigger

    def fail_next(
        self,
        method: str,
        error: str = RATELIMITED,
        status: int | None = None,
        retry_after: int = 1,
        times: int = 1,
    ) -> None:
        """Make the next ``times`` calls to ``method`` fail with ``error``.

        ``status`` defaults to 429 for ``ratelimited`` (with a ``Retry-After: retry_after`` header,
        as Slack rate-limits) and to 200 otherwise (Slack's ``{"ok": false, "error": …}``).
        """
        code = status if status is not None else (429 if error == RATELIMITED else 200)
        with self._lock:
            for _ in range(times):
                self._failures[method].append(_Failure(error, code, retry_after))

    @property
    def calls(self) -> list[RecordedCall]:
        """Every Web API call received, in order (failed ones included; see ``RecordedCall.ok``)."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[RecordedCall]:
        with self._lock:
            return [call for call in self._calls if call.method == method]

    @property
    def responses(self) -> list[RecordedCall]:
        """Posts to response_urls (``method == "response_url"``, ``name``, ``args`` = the JSON)."""
        with self._lock:
            return list(self._responses)

    def responses_to(self, name: str) -> list[RecordedCall]:
        with self._lock:
            return [call for call in self._responses if call.name == name]

    @property
    def home_views(self) -> dict[str, JSON]:
        """The App Home view last published for each user."""
        with self._lock:
            return copy.deepcopy(self._home)

    @property
    def open_views(self) -> dict[str, JSON]:
        """Modals opened / pushed / updated, by view id (their latest version)."""
        with self._lock:
            return {k: copy.deepcopy(v) for k, v in self._views.items() if v.get("type") == "modal"}

    def view(self, view_id: str) -> JSON:
        """A view (modal or Home) by id, as Slack last returned it."""
        with self._lock:
            return copy.deepcopy(self._views[view_id])

    def close_view(self, view_id: str) -> None:
        """Close a modal (the user cancelled, or a submission's ack closed it): it leaves
        :attr:`open_views`, and ``views.update`` on it is then ``not_found``, as in Slack."""
        with self._lock:
            if self._views.get(view_id, {}).get("type") == "modal":
                del self._views[view_id]

    def messages(self, channel: str) -> list[JSON]:
        """Messages posted in ``channel`` (thread replies included), as currently shown (after updates)."""
        with self._lock:
            return copy.deepcopy(self._messages.get(self._conversation_id(channel), []))

    def file(self, file_id: str) -> JSON:
        """A file by id: its metadata (``name``, ``title``, ``size``, ``mimetype``, ``shares``) and
        ``data`` (the uploaded bytes; absent until uploaded)."""
        with self._lock:
            return copy.deepcopy(self._files[file_id])

    @property
    def files(self) -> list[JSON]:
        """Every file whose upload was completed, in order (with ``data``)."""
        with self._lock:
            return [copy.deepcopy(f) for f in self._files.values() if f.get("completed")]

    def clear(self) -> None:
        """Forget calls, responses, messages, views and queued failures (configuration stays)."""
        with self._lock:
            self._files.clear()
            self._calls.clear()
            self._responses.clear()
            self._failures.clear()
            self._messages.clear()
            self._views.clear()
            self._home.clear()
            self._triggers.clear()

    def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:
        """Wait until ``predicate()`` is truthy (re-checked after every request) and return its value.

        The predicate runs without the stand-in's lock, so it may itself call the stand-in. Raises
        ``TimeoutError`` after ``timeout`` seconds — e.g. a lazy listener that never posted.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                generation = self._generation
            value = predicate()
            if value:
                return value
            remaining = deadline - time.monotonic()
            with self._lock:
                if remaining <= 0:
                    raise TimeoutError(f"condition not met within {timeout} s; calls: {self._summary()}")
                if self._generation == generation:  # nothing arrived since the predicate looked
                    self._lock.wait(min(remaining, 0.5))

    def wait_for_call(self, method: str, count: int = 1, timeout: float = 5.0) -> list[RecordedCall]:
        """Wait until ``method`` was called ``count`` times; return those calls."""

        def enough() -> list[RecordedCall]:
            calls = self.calls_to(method)
            return calls if len(calls) >= count else []

        return self.wait_for(enough, timeout)

    def _summary(self) -> str:
        names = [f"{c.method}{'' if c.ok else '!' + str(c.error)}" for c in self._calls]
        names += [f"response_url:{c.name}" for c in self._responses]
        return ", ".join(names) or "none"

    # ---------------------------------------------------------------- request handling

    def handle_api(self, method: str, args: JSON, token: str | None) -> tuple[int, dict[str, str], JSON]:
        """Answer one Web API call and record it: (HTTP status, extra headers, JSON body)."""
        headers: dict[str, str] = {}
        status = 200
        try:
            implementation = self.methods.get(method)
            if implementation is None:
                raise SlackError("unknown_method")
            with self._lock:
                queued = self._failures.get(method)
                failure = queued.popleft() if queued else None
            if failure is not None:
                status = failure.status
                if failure.status == 429:
                    headers["Retry-After"] = str(failure.retry_after)
                raise SlackError(failure.error, status=failure.status)
            if not token:
                raise SlackError("not_authed")
            if token not in self.tokens:
                raise SlackError("invalid_auth")
            with self._lock:
                body = {"ok": True, **implementation(args, token)}
        except SlackError as error:
            status = error.status
            body = error.body()
            if error.error == "unknown_method":
                body["req_method"] = method
        except _MissingScopeError as error:
            body = {
                "ok": False,
                "error": "missing_scope",
                "needed": error.needed,
                "provided": ",".join(error.provided),
            }
        with self._lock:
            self._calls.append(RecordedCall(method, args, token, time.time(), body, status))
            self._generation += 1
            self._lock.notify_all()
        return status, headers, body

    def handle_upload(self, file_id: str, data: bytes) -> tuple[int, str]:
        """The bytes of a file POSTed to its ``upload_url``: (HTTP status, body text), like Slack's
        upload endpoint (``OK - <length>``)."""
        with self._lock:
            meta = self._files.get(file_id)
            failure = self._failures.get(UPLOAD)
            queued = failure.popleft() if failure else None
            if queued is not None:
                status, body = (queued.status if queued.status != 200 else 500), queued.error
            elif meta is None:
                status, body = 404, "file_not_found"
            elif len(data) != int(meta["size"]):
                status, body = 400, f"length mismatch: announced {meta['size']}, received {len(data)}"
            else:
                meta["data"] = bytes(data)
                status, body = 200, f"OK - {len(data)}"
            self._calls.append(
                RecordedCall(
                    UPLOAD,
                    {"file_id": file_id, "length": len(data)},
                    None,
                    time.time(),
                    {"ok": status == 200, **({} if status == 200 else {"error": body})},
                    status,
                )
            )
            self._generation += 1
            self._lock.notify_all()
        return status, body

    def handle_response_url(self, name: str, payload: JSON) -> None:
        with self._lock:
            self._responses.append(
                RecordedCall(RESPONSE_URL, payload, None, time.time(), {"ok": True}, 200, name)
            )
            self._generation += 1
            self._lock.notify_all()

    # ---------------------------------------------------------------- helpers (lock held)

    def _next_ts(self) -> str:
        return f"{self._ts_base}.{next(self._ids):06d}"

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}0{next(self._ids):09d}"

    def _conversation_id(self, channel: str) -> str:
        return f"D{channel[1:]}" if channel[:1] in ("U", "W") else channel

    def _channel_info(self, channel: str) -> JSON:
        conversation = self._conversation_id(channel)
        if self.channels is not None and conversation not in self.channels and conversation[:1] != "D":
            raise SlackError("channel_not_found")
        extra = (self.channels or {}).get(conversation, {})
        is_im = conversation.startswith("D")
        info: JSON = {
            "id": conversation,
            "name": extra.get("name", conversation.lower()),
            "is_channel": not is_im,
            "is_group": False,
            "is_im": is_im,
            "is_mpim": False,
            "is_private": conversation.startswith("G"),
            "is_archived": False,
            "is_general": False,
            "is_member": True,
            "created": self._ts_base,
            "creator": "U0CREATOR",
            "context_team_id": self.team_id,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
        }
        if is_im:
            info["user"] = f"U{conversation[1:]}"
        info.update(extra)
        return info

    def _postable_channel(self, args: JSON) -> str:
        channel = str(_require(args, "channel", "channel_not_found"))
        info = self._channel_info(channel)
        if info.get("is_archived"):
            raise SlackError("is_archived")
        if not info.get("is_member", True):
            raise SlackError("not_in_channel")
        return str(info["id"])

    def _message_content(self, args: JSON) -> JSON:
        content: JSON = {}
        if "blocks" in args:
            blocks = _json_arg(args["blocks"], "blocks")
            problems = check_blocks(blocks)
            if problems:
                raise SlackError("invalid_blocks", problems)
            content["blocks"] = blocks
        if "attachments" in args:
            content["attachments"] = _json_arg(args["attachments"], "attachments")
        text = args.get("text")
        if text not in (None, ""):
            content["text"] = str(text)
        elif "blocks" not in content and "attachments" not in content:
            raise SlackError("no_text")
        else:
            content["text"] = ""
        if "metadata" in args:
            content["metadata"] = _json_arg(args["metadata"], "metadata")
        return content

    def _bot_message(self, content: JSON) -> JSON:
        return {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "bot_profile": {"id": self.bot_id, "app_id": self.app_id, "name": self.bot_name},
            **content,
        }

    def _use_trigger(self, args: JSON) -> None:
        trigger = str(_require(args, "trigger_id"))
        expires = self._triggers.pop(trigger, None)
        if expires is None:
            if self.strict_triggers or trigger.endswith(".standin"):
                raise SlackError("invalid_trigger_id")
            return
        if time.monotonic() > expires:
            raise SlackError("expired_trigger_id")

    def _parse_view(self, args: JSON) -> JSON:
        view = _json_arg(_require(args, "view"), "view")
        problems = check_view(view)
        if problems:
            raise SlackError("invalid_arguments", problems)
        return dict(view)

    def _store_view(
        self, view: JSON, *, view_id: str | None = None, root: str | None = None, previous: str | None = None
    ) -> JSON:
        ident = view_id or self._new_id("V")
        external_id = view.get("external_id", "")
        if external_id:
            for other_id, other in self._views.items():
                if other_id != ident and other.get("external_id") == external_id:
                    raise SlackError("duplicate_external_id")
        stored: JSON = {
            "id": ident,
            "team_id": self.team_id,
            "type": view["type"],
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{next(self._ids):08d}",
            "title": view.get("title"),
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "close": view.get("close"),
            "submit": view.get("submit"),
            "previous_view_id": previous,
            "root_view_id": root or ident,
            "app_id": self.app_id,
            "external_id": external_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        self._views[ident] = stored
        return copy.deepcopy(stored)

    # ---------------------------------------------------------------- methods (lock held)

    def _auth_test(self, args: JSON, token: str) -> JSON:
        return {
            "url": f"https://{self.team_name.lower()}.slack.com/",
            "team": self.team_name,
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, args: JSON, token: str) -> JSON:
        channel = self._postable_channel(args)
        content = self._message_content(args)
        ts = self._next_ts()
        message = self._bot_message(content)
        message["ts"] = ts
        thread_ts = args.get("thread_ts")
        if thread_ts:
            thread = [m for m in self._messages[channel] if m["ts"] == thread_ts]
            if not thread:
                raise SlackError("thread_not_found")
            message["thread_ts"] = str(thread_ts)
            parent = thread[0]
            parent.setdefault("thread_ts", parent["ts"])
            parent["reply_count"] = int(parent.get("reply_count", 0)) + 1
        self._messages[channel].append(message)
        return {"channel": channel, "ts": ts, "message": copy.deepcopy(message)}

    def _chat_post_ephemeral(self, args: JSON, token: str) -> JSON:
        self._postable_channel(args)
        _require(args, "user", "user_not_found")
        self._message_content(args)
        return {"message_ts": self._next_ts()}

    def _chat_update(self, args: JSON, token: str) -> JSON:
        channel = self._conversation_id(str(_require(args, "channel", "channel_not_found")))
        ts = str(_require(args, "ts", "message_not_found"))
        found = [m for m in self._messages.get(channel, []) if m["ts"] == ts]
        if not found:
            raise SlackError("message_not_found")
        message = found[0]
        content = self._message_content(args)
        if "blocks" not in content and "blocks" in message and "text" in args:
            message.pop("blocks")  # Slack drops blocks a text-only update does not repeat
        message.update(content)
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "channel": channel,
            "ts": ts,
            "text": message.get("text", ""),
            "message": copy.deepcopy(message),
        }

    def _views_open(self, args: JSON, token: str) -> JSON:
        self._use_trigger(args)
        view = self._parse_view(args)
        if view["type"] != "modal":
            raise SlackError("invalid_arguments", ["[ERROR] must be a modal view [json-pointer:/view/type]"])
        return {"view": self._store_view(view)}

    def _views_push(self, args: JSON, token: str) -> JSON:
        self._use_trigger(args)
        view = self._parse_view(args)
        if view["type"] != "modal":
            raise SlackError("invalid_arguments", ["[ERROR] must be a modal view [json-pointer:/view/type]"])
        return {"view": self._store_view(view)}

    def _views_update(self, args: JSON, token: str) -> JSON:
        view = self._parse_view(args)
        ident = args.get("view_id")
        if not ident and args.get("external_id"):
            matches = [k for k, v in self._views.items() if v.get("external_id") == args["external_id"]]
            ident = matches[0] if matches else None
        if not ident and not args.get("external_id"):
            raise SlackError("invalid_arguments", ["[ERROR] view_id or external_id is required"])
        if not ident or ident not in self._views:
            raise SlackError("not_found")
        current = self._views[str(ident)]
        if args.get("hash") and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        stored = self._store_view(
            view, view_id=str(ident), root=current["root_view_id"], previous=current["previous_view_id"]
        )
        for user, home in self._home.items():
            if home["id"] == ident:
                self._home[user] = copy.deepcopy(stored)
        return {"view": stored}

    def _views_publish(self, args: JSON, token: str) -> JSON:
        user = str(_require(args, "user_id"))
        view = self._parse_view(args)
        if view["type"] != "home":
            raise SlackError("invalid_arguments", ["[ERROR] must be a home view [json-pointer:/view/type]"])
        current = self._home.get(user)
        if current is not None and args.get("hash") and args["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        stored = self._store_view(view, view_id=None if current is None else current["id"])
        self._home[user] = copy.deepcopy(stored)
        return {"view": stored}

    def _need(self, scope: str) -> None:
        if self.scopes is not None and scope not in self.scopes:
            raise _MissingScopeError(scope, sorted(self.scopes))

    def _usergroups_list(self, args: JSON, token: str) -> JSON:
        self._need("usergroups:read")
        groups = [
            {
                "id": group,
                "team_id": self.team_id,
                "handle": self.group_handles.get(group, group.lower()),
                "name": self.group_handles.get(group, group),
                "users": list(members) if args.get("include_users") else None,
            }
            for group, members in self.usergroups.items()
        ]
        return {"usergroups": [{k: v for k, v in g.items() if v is not None} for g in groups]}

    def _users_profile_get(self, args: JSON, token: str) -> JSON:
        self._need("users.profile:read")
        user = str(_require(args, "user", "user_not_found"))
        if self.users is not None and user not in self.users and user not in self.phones:
            raise SlackError("user_not_found")
        extra = (self.users or {}).get(user, {})
        name = str(extra.get("name", self.names.get(user, user.lower())))
        real_name = str(extra.get("real_name", f"User {user}"))
        return {
            "profile": {
                "real_name": real_name,
                "display_name": name,
                "phone": self.phones.get(user, ""),
                "team": self.team_id,
            }
        }

    # ---------------------------------------------------------------- directory changes (events)

    def set_group_members(self, group: str, members: Iterable[str], *, deliver: bool = True) -> str:
        """Change a user group's members (in order) as an admin would in Slack; returns the
        ``subteam_members_changed`` event body, sent to :attr:`event_sink` when ``deliver``."""
        with self._lock:
            before = list(self.usergroups.get(group, []))
            after = list(dict.fromkeys(members))
            self.usergroups[group] = after
        added = [u for u in after if u not in before]
        removed = [u for u in before if u not in after]
        now = int(time.time())
        event: JSON = {
            "type": "subteam_members_changed",
            "subteam_id": group,
            "team_id": self.team_id,
            "date_previous_update": now - 60,
            "date_update": now,
            "added_users": added,
            "added_users_count": str(len(added)),
            "removed_users": removed,
            "removed_users_count": str(len(removed)),
            "event_ts": f"{now}.{next(self._ids):06d}",
        }
        return self._event(event, deliver)

    def rename_group(self, group: str, handle: str, *, deliver: bool = True) -> str:
        """Change a user group's handle as an admin would in Slack; returns the ``subteam_updated``
        event body (the group as it is now), sent to :attr:`event_sink` when ``deliver``."""
        with self._lock:
            self.group_handles[group] = handle
            members = list(self.usergroups.get(group, []))
        now = int(time.time())
        event: JSON = {
            "type": "subteam_updated",
            "subteam": {
                "id": group,
                "team_id": self.team_id,
                "is_usergroup": True,
                "name": handle,
                "handle": handle,
                "date_update": now,
                "users": members,
                "user_count": len(members),
            },
            "event_ts": f"{now}.{next(self._ids):06d}",
        }
        return self._event(event, deliver)

    def set_phone(self, user: str, phone: str, *, deliver: bool = True) -> str:
        """Change a user's profile phone; returns the ``user_change`` event body (sent when ``deliver``)."""
        with self._lock:
            self.phones[user] = phone
        extra = (self.users or {}).get(user, {})
        now = int(time.time())
        event: JSON = {
            "type": "user_change",
            "user": {
                "id": user,
                "team_id": self.team_id,
                "name": str(extra.get("name", user.lower())),
                "deleted": False,
                "profile": {"phone": phone, "display_name": str(extra.get("name", user.lower()))},
            },
            "cache_ts": now,
            "event_ts": f"{now}.{next(self._ids):06d}",
        }
        return self._event(event, deliver)

    def event_body(self, event: JSON) -> str:
        """An Events API ``event_callback`` envelope around ``event``, as Slack posts it."""
        return json.dumps(
            {
                "token": "standin-verification-token",
                "team_id": self.team_id,
                "api_app_id": self.app_id,
                "event": event,
                "type": "event_callback",
                "event_id": f"Ev{next(self._ids):010d}",
                "event_time": int(time.time()),
                "authorizations": [{"team_id": self.team_id, "user_id": self.bot_user_id, "is_bot": True}],
            }
        )

    def _event(self, event: JSON, deliver: bool) -> str:
        body = self.event_body(event)
        sink = self.event_sink
        if deliver and sink is not None:
            with self._lock:
                self.events_sent.append(event)
            sink(body)
        return body

    def _usergroups_users_list(self, args: JSON, token: str) -> JSON:
        self._need("usergroups:read")
        group = str(_require(args, "usergroup", "no_such_subteam"))
        if group not in self.usergroups:
            raise SlackError("no_such_subteam")
        return {"users": list(self.usergroups[group])}

    def _users_info(self, args: JSON, token: str) -> JSON:
        user = str(_require(args, "user", "user_not_found"))
        if self.users is not None and user not in self.users and user != self.bot_user_id:
            raise SlackError("user_not_found")
        extra = (self.users or {}).get(user, {})
        name = str(extra.get("name", self.names.get(user, user.lower())))
        real_name = str(extra.get("real_name", f"User {user}"))
        info: JSON = {
            "id": user,
            "team_id": self.team_id,
            "name": name,
            "deleted": False,
            "real_name": real_name,
            "tz": "America/New_York",
            "tz_label": "Eastern Standard Time",
            "tz_offset": -18000,
            "is_admin": False,
            "is_owner": False,
            "is_bot": user == self.bot_user_id,
            "is_app_user": False,
            "profile": {"real_name": real_name, "display_name": name, "team": self.team_id},
        }
        info.update(extra)
        return {"user": info}

    def _conversations_info(self, args: JSON, token: str) -> JSON:
        channel = str(_require(args, "channel", "channel_not_found"))
        return {"channel": self._channel_info(channel)}

    def _files_get_upload_url_external(self, args: JSON, token: str) -> JSON:
        filename = str(_require(args, "filename"))
        length = str(_require(args, "length"))
        if not length.isdecimal() or int(length) < 1:
            raise SlackError("invalid_arguments", ["[ERROR] length must be a positive integer"])
        file_id = self._new_id("F")
        self._files[file_id] = {
            "id": file_id,
            "name": filename,
            "title": filename,
            "size": int(length),
            "mimetype": _mimetype(filename),
            "alt_txt": str(args.get("alt_txt") or ""),
            "completed": False,
            "shares": [],
        }
        return {"upload_url": f"{self.origin}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload_external(self, args: JSON, token: str) -> JSON:
        files = _json_arg(_require(args, "files"), "files")
        if not isinstance(files, list) or not files:
            raise SlackError("invalid_arguments", ["[ERROR] files must be a non-empty list"])
        channel = str(args.get("channel_id") or "")
        if channel:
            channel = self._postable_channel({"channel": channel})
        chosen: list[JSON] = []
        for entry in files:
            meta = self._files.get(str((entry or {}).get("id", "")))
            if meta is None or "data" not in meta:
                raise SlackError("file_not_found")
            chosen.append(meta)
        shared: list[JSON] = []
        for meta, entry in zip(chosen, files, strict=True):
            meta["completed"] = True
            if entry.get("title"):
                meta["title"] = str(entry["title"])
            shared.append({k: v for k, v in meta.items() if k != "data"})
        if channel:
            message = self._bot_message({"text": str(args.get("initial_comment") or ""), "files": shared})
            message["ts"] = self._next_ts()
            thread_ts = args.get("thread_ts")
            if thread_ts:
                thread = [m for m in self._messages[channel] if m["ts"] == thread_ts]
                if not thread:
                    raise SlackError("thread_not_found")
                message["thread_ts"] = str(thread_ts)
                thread[0].setdefault("thread_ts", thread[0]["ts"])
                thread[0]["reply_count"] = int(thread[0].get("reply_count", 0)) + 1
            self._messages[channel].append(message)
            for meta in chosen:
                meta["shares"].append({"channel": channel, "ts": message["ts"], "thread_ts": thread_ts or ""})
        return {"files": [{"id": f["id"], "title": f["title"]} for f in shared]}


def _mimetype(filename: str) -> str:
    suffix = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    return {"wav": "audio/wav", "mp3": "audio/mpeg", "txt": "text/plain", "json": "application/json"}.get(
        suffix, "application/octet-stream"
    )


def _handler_class(standin: SlackStandIn) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body in one write, sent at once: otherwise Nagle + delayed ACK cost 40 ms a call.
        wbufsize = -1
        disable_nagle_algorithm = True

        def _reply(self, status: int, body: bytes, headers: Mapping[str, str], content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, status: int, body: JSON, headers: Mapping[str, str] | None = None) -> None:
            data = json.dumps(body).encode("utf-8")
            self._reply(status, data, headers or {}, "application/json; charset=utf-8")

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            path = unquote(parts.path)
            try:
                if path.startswith("/api/"):
                    self._api(path.removeprefix("/api/"), parts.query, raw)
                elif path.startswith("/response/") and self.command == "POST":
                    self._response_url(path.removeprefix("/response/"), raw)
                elif path.startswith("/upload/") and self.command == "POST":
                    status, text = standin.handle_upload(path.removeprefix("/upload/"), raw)
                    self._reply(status, text.encode("utf-8"), {}, "text/plain; charset=utf-8")
                else:
                    self._reply(404, b"Not Found", {}, "text/plain")
            except Exception as error:  # a stand-in bug: say so rather than drop the connection
                self._json(500, {"ok": False, "error": "fatal_error", "detail": repr(error)})

        def _api(self, method: str, query: str, raw: bytes) -> None:
            args: JSON = dict(parse_qsl(query, keep_blank_values=True))
            token = args.pop("token", None)
            content_type = (self.headers.get("Content-Type") or "").split(";", 1)[0].strip().lower()
            if raw and content_type == "application/json":
                try:
                    decoded = json.loads(raw)
                except json.JSONDecodeError:
                    self._json(200, {"ok": False, "error": "invalid_json"})
                    return
                if isinstance(decoded, dict):
                    decoded.pop("token", None)  # Slack does not read a token from a JSON body
                    args.update(decoded)
            elif raw:
                form = dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
                token = form.pop("token", token)
                args.update(form)
            for name in _JSON_FIELDS:
                if isinstance(args.get(name), str):
                    with contextlib.suppress(json.JSONDecodeError):  # else the method reports it
                        args[name] = json.loads(args[name])
            authorization = self.headers.get("Authorization") or ""
            if authorization.startswith("Bearer "):
                token = authorization.removeprefix("Bearer ").strip()
            status, headers, body = standin.handle_api(method, args, token)
            self._json(status, body, headers)

        def _response_url(self, name: str, raw: bytes) -> None:
            try:
                payload = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                self._reply(400, b"invalid_payload", {}, "text/plain")
                return
            standin.handle_response_url(name, payload if isinstance(payload, dict) else {"payload": payload})
            self._json(200, {"ok": True})

        do_GET = do_POST = _serve  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests and the console print what matters themselves."""

    return Handler


# --------------------------------------------------------------------------------------------------
# Rendering for the terminal

_RULE = "─" * 40
_SPECIAL = re.compile(r"<([^<>]+)>")


def mrkdwn(text: str) -> str:
    """Slack ``mrkdwn`` as terminal text: mentions and links resolved, entities unescaped.

    ``*bold*``, ``_italic_``, `` `code` `` and line breaks are kept as they are.
    """

    def replace(match: re.Match[str]) -> str:
        inner = match.group(1)
        target, _, label = inner.partition("|")
        if target.startswith("@"):
            return f"@{label or target[1:]}"
        if target.startswith("#"):
            return f"#{label or target[1:]}"
        if target.startswith("!subteam^"):
            return label or f"@{target.removeprefix('!subteam^')}"
        if target.startswith("!date^"):
            return label or target
        if target.startswith("!"):
            return f"@{target[1:]}"
        return f"{label} ({target})" if label and label != target else target

    return html.unescape(_SPECIAL.sub(replace, text))


def _text(obj: Any) -> str:
    if isinstance(obj, str):
        return obj
    if not isinstance(obj, Mapping):
        return ""
    text = str(obj.get("text", ""))
    return mrkdwn(text) if obj.get("type") == "mrkdwn" else text


def _option_text(option: Mapping[str, Any]) -> str:
    return _text(option.get("text"))


def _all_options(element: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    options: list[Mapping[str, Any]] = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _element(element: Mapping[str, Any]) -> str:
    """A compact one-line rendering of an interactive element."""
    kind = str(element.get("type", ""))
    if kind == "button":
        return f"[{_text(element.get('text'))}]"
    if kind in _SELECTS:
        initial = element.get("initial_option")
        shown = _option_text(initial) if isinstance(initial, Mapping) else _text(element.get("placeholder"))
        return f"[{shown or kind} ▾]"
    if kind == "overflow":
        return "[⋯ " + " | ".join(_option_text(o) for o in _all_options(element)) + "]"
    if kind in ("radio_buttons", "checkboxes"):
        return _choices(element)
    if kind == "datepicker":
        return f"[date: {element.get('initial_date') or _text(element.get('placeholder'))}]"
    if kind == "timepicker":
        return f"[time: {element.get('initial_time') or _text(element.get('placeholder'))}]"
    if kind == "image":
        return f"[image: {element.get('alt_text', '')}]"
    if kind in ("plain_text", "mrkdwn"):
        return _text(element)
    return f"[{kind}]"


def _choices(element: Mapping[str, Any]) -> str:
    kind = element.get("type")
    chosen: list[Any] = []
    if isinstance(element.get("initial_option"), Mapping):
        chosen.append(element["initial_option"].get("value"))
    chosen.extend(o.get("value") for o in element.get("initial_options") or [])
    on, off = ("(•)", "( )") if kind == "radio_buttons" else ("[x]", "[ ]")
    return "  ".join(
        f"{on if o.get('value') in chosen else off} {_option_text(o)}" for o in _all_options(element)
    )


def _rich_text(element: Any) -> str:
    if isinstance(element, Mapping):
        if element.get("type") == "text":
            return str(element.get("text", ""))
        if element.get("type") == "link":
            return str(element.get("text") or element.get("url", ""))
        if element.get("type") == "user":
            return f"@{element.get('user_id', '')}"
        if element.get("type") == "channel":
            return f"#{element.get('channel_id', '')}"
        if element.get("type") == "emoji":
            return f":{element.get('name', '')}:"
        return "".join(_rich_text(e) for e in element.get("elements") or [])
    return ""


def render_blocks(blocks: Iterable[Mapping[str, Any]]) -> list[str]:
    """Block Kit blocks as terminal lines (buttons as ``[Label]``, dividers as rules)."""
    lines: list[str] = []
    for block in blocks:
        kind = block.get("type")
        if kind == "header":
            lines.append(f"# {_text(block.get('text'))}")
        elif kind == "section":
            text = _text(block.get("text"))
            if text:
                lines.extend(text.splitlines())
            for item in block.get("fields") or []:
                lines.append("  " + " ".join(_text(item).splitlines()))
            if isinstance(block.get("accessory"), Mapping):
                lines.append(f"  → {_element(block['accessory'])}")
        elif kind == "divider":
            lines.append(_RULE)
        elif kind == "context":
            lines.append("  " + "  ·  ".join(_element(e) for e in block.get("elements") or []))
        elif kind == "actions":
            lines.append(" ".join(_element(e) for e in block.get("elements") or []))
        elif kind == "input":
            lines.extend(_input_lines(block))
        elif kind == "image":
            lines.append(f"[image: {block.get('alt_text', '')}]")
        elif kind == "rich_text":
            lines.extend("".join(_rich_text(e) for e in block.get("elements") or []).splitlines())
        elif kind == "markdown":
            lines.extend(str(block.get("text", "")).splitlines())
        else:
            lines.append(f"[{kind} block]")
    return lines


def _input_lines(block: Mapping[str, Any]) -> list[str]:
    element: Mapping[str, Any] = block.get("element") or {}
    kind = str(element.get("type", ""))
    label = _text(block.get("label"))
    optional = " (optional)" if block.get("optional") else ""
    details = f"{kind} {element.get('action_id', '')}".strip()
    if element.get("multiline"):
        details += ", multiline"
    lines = [f"{label}{optional}  ({details})"]
    if kind in ("radio_buttons", "checkboxes"):
        lines.append(f"    {_choices(element)}")
    elif kind in _SELECTS or kind == "overflow":
        options = _all_options(element)
        if options:
            lines.append("    options: " + " | ".join(_option_text(o) for o in options))
    initial = (
        element.get("initial_value")
        or _option_text(element.get("initial_option") or {})
        or ", ".join(_option_text(o) for o in element.get("initial_options") or [])
        or element.get("initial_date")
        or element.get("initial_time")
        or element.get("initial_user")
        or element.get("initial_conversation")
        or element.get("initial_channel")
    )
    if initial and kind not in ("radio_buttons", "checkboxes"):
        lines.append(f"    initial: {initial}")
    placeholder = _text(element.get("placeholder"))
    if placeholder:
        lines.append(f'    placeholder: "{placeholder}"')
    hint = _text(block.get("hint"))
    if hint:
        lines.append(f"    hint: {hint}")
    return lines


def render_message(message: Mapping[str, Any]) -> list[str]:
    """A message's content (blocks if any, else text; attachments after) as terminal lines."""
    lines: list[str] = []
    blocks = message.get("blocks")
    if blocks:
        lines.extend(render_blocks(blocks))
    elif message.get("text"):
        lines.extend(mrkdwn(str(message["text"])).splitlines())
    for attachment in message.get("attachments") or []:
        inner = render_message(attachment) if attachment.get("blocks") else []
        if not inner and attachment.get("text"):
            inner = mrkdwn(str(attachment["text"])).splitlines()
        if not inner:
            inner = [str(attachment.get("fallback", ""))]
        lines.extend(f"▌ {line}" for line in inner)
    for shared in message.get("files") or []:
        lines.append(f"📎 {shared.get('title') or shared.get('name')} ({_file_size(shared)})")
    return lines


def _file_size(shared: Mapping[str, Any]) -> str:
    size = int(shared.get("size") or 0)
    kind = str(shared.get("mimetype") or "file")
    return f"{kind}, {size / 1024:.0f} KB" if size >= 1024 else f"{kind}, {size} bytes"


def render_view(view: Mapping[str, Any]) -> list[str]:
    """A modal as a form (title, inputs with type / options / initial value, buttons) or a Home tab."""
    if view.get("type") == "home":
        return render_blocks(view.get("blocks") or [])
    title = _text(view.get("title"))
    callback = view.get("callback_id")
    head = f"┌─ {title} " + "─" * max(2, 30 - len(title))
    if callback:
        head += f" ({callback})"
    lines = [head]
    lines.extend(f"│ {line}" for line in render_blocks(view.get("blocks") or []))
    buttons = [f"[{_text(view.get('close')) or 'Cancel'}]"]
    if view.get("submit"):
        buttons.append(f"[{_text(view.get('submit'))}]")
    lines.append("└─ " + " ".join(buttons))
    return lines


def _indent(lines: Iterable[str]) -> str:
    return "\n".join(f"  {line}" if line else "" for line in lines)


def render(call: RecordedCall) -> str:
    """A recorded call as the text a terminal "Slack console" shows for it."""
    args = call.args
    if call.method == RESPONSE_URL:
        if args.get("delete_original"):
            return f"[response {call.name}] (deletes the original message)"
        visibility = "in channel" if args.get("response_type") == "in_channel" else "only visible to you"
        replace = ", replaces the original" if args.get("replace_original") else ""
        return f"[response {call.name}] ({visibility}{replace}):\n{_indent(render_message(args))}"
    if not call.ok:
        return f"{call.method} ✗ {call.error}"
    channel = str(call.response.get("channel") or args.get("channel", ""))
    if call.method == "chat.postMessage":
        thread = f" (thread {args['thread_ts']})" if args.get("thread_ts") else ""
        return f"[#{channel}]{thread} {_author(call)}:\n{_indent(render_message(args))}"
    if call.method == "chat.postEphemeral":
        return f"[#{channel}] (only visible to @{args.get('user', '')}):\n{_indent(render_message(args))}"
    if call.method == "files.completeUploadExternal":
        thread = f" (thread {args['thread_ts']})" if args.get("thread_ts") else ""
        files = args.get("files")
        listed = files if isinstance(files, list) else []
        names = ", ".join(str(f.get("title") or f.get("id")) for f in listed if isinstance(f, Mapping))
        where = f"[#{args['channel_id']}]" if args.get("channel_id") else "(not shared)"
        return f"{where}{thread} {_author(call)} shared 📎 {names}"
    if call.method == "chat.update":
        return f"[#{channel}] message {args.get('ts', '')} edited:\n{_indent(render_message(args))}"
    if call.method in ("views.open", "views.push", "views.update"):
        view = call.response.get("view") or args.get("view") or {}
        verb = {"views.open": "opened", "views.push": "pushed", "views.update": "updated"}[call.method]
        return f"(modal {verb}: {view.get('id', '')})\n" + "\n".join(render_view(view))
    if call.method == "views.publish":
        view = call.response.get("view") or args.get("view") or {}
        return f"[App Home of @{args.get('user_id', '')}]\n{_indent(render_view(view))}"
    return f"{call.method} {json.dumps(args, sort_keys=True)}"


def _author(call: RecordedCall) -> str:
    message = call.response.get("message")
    if isinstance(message, Mapping):
        profile = message.get("bot_profile")
        if isinstance(profile, Mapping) and profile.get("name"):
            return str(profile["name"])
    return "bot"
