"""A terminal Slack client for the local bot: type ``/forward …``, fill in modals, press buttons.

Without a Slack workspace there is nobody to type ``/forward``. The console plays the Slack client:
each line becomes the request Slack would send — signed with the stack's signing secret, built by
:mod:`switchboard_local.slack.requests` — posted over HTTP to the local bot
(:class:`~switchboard_local.slack.bot_server.BotServer`), and what a user would then see is printed: the
acknowledgement, ``response_url`` posts, ephemeral and channel messages, modals and the App Home,
all as the Slack stand-in recorded them (rendered by :func:`~switchboard_local.slack.standin.render`),
after the bot's lazy listeners have finished.

Commands: ``/forward …`` (any slash command), ``home`` (open the App Home), ``click N`` (press the
N-th button of the last surface shown; confirm dialogs ask y/n), ``as U…`` (act as another user),
``help``, ``quit``. When the bot opens a modal, the console asks for each input in turn (options
listed for selects; Enter keeps the value shown, ``-`` empties it, ``!cancel`` closes the modal),
submits it as a ``view_submission`` and, if the bot answers ``response_action: errors``, shows them
and asks again for those inputs only — like Slack's form.

:class:`SlackConsole` reads lines from an iterator and writes through a callable, so a test or the
demo scripts it exactly as a person would type; :class:`LocalWorkspace` is its connection to the bot
(the bot's URL and signing secret, and the stand-in's ``/_local/`` endpoints on the same server).
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import re
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

from switchboard_local.slack.bot_server import LOCAL_PREFIX, call_from_json
from switchboard_local.slack.requests import (
    API_APP_ID,
    TEAM_ID,
    block_actions_payload,
    interaction_event,
    signed_event,
    slash_command_event,
    view_submission_payload,
)
from switchboard_local.slack.standin import RESPONSE_URL, RecordedCall, render, render_message
from switchboard_local.stack import LOCAL_USER, OPERATIONS_CHANNEL

Writer = Callable[[str], None]
# Reads one line after showing a prompt (``input`` with readline at a terminal); EOFError at the end.
Reader = Callable[[str], str]
JSON = dict[str, Any]

ACK_DEADLINE = 3.0  # seconds Slack waits for an acknowledgement before showing the user an error
CANCEL = "!cancel"
CLEAR = "-"
# The bot's own reads (``*.list``, ``*.info``, ``*.get``, ``auth.test``): a Slack user never sees them,
# so the console does not print them either; by their verb, so a read a new feature adds stays unseen.
# The upload URL and the bytes are plumbing: the share (files.completeUploadExternal) is what people see.
_READ_VERBS = ("list", "info", "get", "test")
_UNSEEN = {"files.getUploadURLExternal", "upload"}


def _unseen(method: str) -> bool:
    return method in _UNSEEN or method.rpartition(".")[2] in _READ_VERBS


_USER_ID = re.compile(r"^[UW][A-Z0-9]{2,}$")
# Slack shows :emoji: codes as pictures; these are the ones the bot uses.
EMOJI = {
    "alarm_clock": "⏰",
    "arrow_right_hook": "↪️",
    "bar_chart": "📊",
    "clock3": "🕒",
    "grey_question": "❔",
    "hourglass": "⌛",
    "hourglass_flowing_sand": "⏳",
    "information_source": "ℹ️",
    "leftwards_arrow_with_hook": "↩️",
    "mag": "🔍",
    "mailbox_with_mail": "📬",
    "no_entry": "⛔",
    "repeat": "🔁",
    "rotating_light": "🚨",
    "telephone_receiver": "📞",
    "twisted_rightwards_arrows": "🔀",
    "warning": "⚠️",
    "busts_in_silhouette": "👥",
    "white_check_mark": "✅",
    "x": "❌",
}
_EMOJI_CODE = re.compile(r":([a-z0-9_+-]+):")
_SINGLE_CHOICE = {"static_select", "external_select", "radio_buttons"}
_MULTI_CHOICE = {"multi_static_select", "multi_external_select", "checkboxes"}

HELP = f"""Commands (you type what a Slack user would):
  /forward …      a slash command, e.g. /forward help · /forward +12025550100 to +12065550111
  home            open the bot's App Home tab
  click N         press button N of the last message or App Home shown
  as U0SOMEONE    act as another Slack user (now: {{user}})
  group S… add|remove U…   change a user group's members as a workspace admin (Slack tells the bot)
  help · quit
In a modal: Enter keeps the value shown, '{CLEAR}' empties a field, '{CANCEL}' closes the modal."""


class ConsoleError(RuntimeError):
    """The local bot or Slack stand-in cannot be reached (or is not a local one)."""


# --------------------------------------------------------------------------------------------------
# The connection to the local bot


@dataclass(frozen=True)
class Ack:
    """The bot's HTTP answer to one request, and how long it took."""

    status: int
    content_type: str
    body: str
    seconds: float

    def json(self) -> JSON:
        if not self.content_type.startswith("application/json") or not self.body.strip():
            return {}
        try:
            decoded = json.loads(self.body)
        except ValueError:
            return {}
        return decoded if isinstance(decoded, dict) else {}


@dataclass(frozen=True)
class Activity:
    """What the workspace recorded since the last look: Web API calls and response_url posts in
    arrival order, and lazy invocations that failed."""

    calls: list[RecordedCall]
    failed: list[JSON]
    idle: bool


class Workspace(Protocol):
    """What the console needs from Slack's side: the signing secret, a way to deliver requests to the
    bot, and a view of what the workspace received (see :class:`LocalWorkspace`)."""

    secret: str

    def send(self, event: Mapping[str, Any]) -> Ack: ...
    def activity(self, wait: float = 20.0) -> Activity: ...
    def trigger_id(self) -> str: ...
    def response_url(self, name: str) -> str: ...
    def close_view(self, view_id: str) -> None: ...


class LocalWorkspace:
    """The local bot at ``bot_url`` (requests signed with ``secret``) and its Slack stand-in.

    Keeps a cursor, so :meth:`activity` returns only what is new — across consoles in other
    processes too, as in a shared workspace.
    """

    def __init__(self, bot_url: str, secret: str, *, timeout: float = 30.0) -> None:
        parts = urlsplit(bot_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConsoleError(f"not an HTTP URL: {bot_url!r}")
        self.bot_url = bot_url
        self.secret = secret
        self.timeout = timeout
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._cursor = {"calls": 0, "responses": 0, "invocations": 0}
        self._response_url = ""

    def connect(self) -> LocalWorkspace:
        """Check the stand-in is there and skip what happened before this console started."""
        status, body = self._request("GET", LOCAL_PREFIX + "info")
        if status == 404:
            raise ConsoleError(
                "the bot at this address has no local Slack stand-in (it talks to a real Slack "
                "workspace): use Slack itself"
            )
        if status != 200:
            raise ConsoleError(f"the local bot answered HTTP {status} to {LOCAL_PREFIX}info")
        self._response_url = str(json.loads(body)["response_url"])
        self.activity(wait=0)
        return self

    def response_url(self, name: str) -> str:
        """A response_url whose posts the stand-in records under ``name``."""
        return self._response_url + name

    def trigger_id(self) -> str:
        """A trigger id the stand-in accepts once, for 3 s — as Slack's."""
        status, body = self._request("POST", LOCAL_PREFIX + "trigger")
        if status != 200:
            raise ConsoleError(f"the local bot answered HTTP {status} to {LOCAL_PREFIX}trigger")
        return str(json.loads(body)["trigger_id"])

    def close_view(self, view_id: str) -> None:
        """The modal closed (submitted or cancelled): the stand-in forgets it, as Slack does."""
        self._request("POST", f"{LOCAL_PREFIX}views/{view_id}/close")

    def send(self, event: Mapping[str, Any]) -> Ack:
        """POST the HTTP request carried by an API Gateway ``event`` (as built by
        :mod:`~switchboard_local.slack.requests`) to the bot, body and signature untouched."""
        raw = str(event.get("body") or "")
        body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode("utf-8")
        headers = {
            name: str(value)
            for name, value in (event.get("headers") or {}).items()
            if name == "content-type" or name.startswith("x-slack-")
        }
        started = time.monotonic()
        request = urllib.request.Request(self.bot_url, data=body, headers=headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - http(s) checked in __init__
                status, content_type, data = (
                    response.status,
                    response.headers.get("Content-Type", ""),
                    response.read(),
                )
        except urllib.error.HTTPError as error:
            status, content_type, data = error.code, error.headers.get("Content-Type", ""), error.read()
        except OSError as error:
            raise ConsoleError(f"cannot reach the local bot at {self.bot_url}: {error}") from error
        seconds = time.monotonic() - started
        return Ack(status, content_type or "", data.decode("utf-8", "replace"), seconds)

    def change_group(self, group: str, *, add: str = "", remove: str = "") -> list[str]:
        """Edit a user group in the stand-in (which tells the bot); returns its members now."""
        query = urlencode({key: value for key, value in (("add", add), ("remove", remove)) if value})
        status, body = self._request("POST", f"{LOCAL_PREFIX}groups/{quote(group)}?{query}")
        if status != 200:
            raise ConsoleError(str(json.loads(body or b"{}").get("message") or f"HTTP {status}"))
        return [str(member) for member in json.loads(body)["members"]]

    def activity(self, wait: float = 20.0) -> Activity:
        """Everything new, once the bot's lazy listeners are done (at most ``wait`` seconds)."""
        query = urlencode({**self._cursor, "wait": wait})
        status, body = self._request("GET", f"{LOCAL_PREFIX}activity?{query}", timeout=wait + self.timeout)
        if status != 200:
            raise ConsoleError(f"the local bot answered HTTP {status} to {LOCAL_PREFIX}activity")
        data = json.loads(body)
        self._cursor = {key: int(value) for key, value in data["cursor"].items()}
        calls = [call_from_json(c) for c in data["calls"]] + [call_from_json(c) for c in data["responses"]]
        calls.sort(key=lambda call: call.at)
        return Activity(calls, list(data["failed"]), bool(data["idle"]))

    def _request(self, method: str, path: str, timeout: float | None = None) -> tuple[int, bytes]:
        data = b"" if method == "POST" else None
        request = urllib.request.Request(self._origin + path, data=data, method=method)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=timeout or self.timeout) as response:  # noqa: S310
                return int(response.status), bytes(response.read())
        except urllib.error.HTTPError as error:
            return error.code, error.read()
        except OSError as error:
            raise ConsoleError(f"cannot reach the local bot at {self._origin}: {error}") from error


# --------------------------------------------------------------------------------------------------
# The console


@dataclass(frozen=True)
class Button:
    """A button the user may ``click``, with where it is (a view, or a message in a channel)."""

    label: str
    element: JSON
    block_id: str
    view: JSON | None = None
    message: JSON | None = None
    channel: str = ""

    @property
    def description(self) -> str:
        """The label, and the value when it says something a person reads (a number, a call id);
        a button's JSON value is for the bot, not for people."""
        value = str(self.element.get("value") or "")
        if not value or value in self.label or value.lstrip().startswith(("{", "[")):
            return self.label
        return f"{self.label} ({value})"


@dataclass
class _Form:
    """A modal being filled in: the view as Slack returned it and the answers so far."""

    view: JSON
    answers: dict[str, Any] = field(default_factory=dict)


class _CancelledError(Exception):
    """The user closed the modal, or the input ended while a modal was open."""


class SlackConsole:
    """Reads commands from ``lines``, talks to ``workspace``, writes what a Slack user sees to ``write``.

    ``echo`` repeats each line read after its prompt, so a scripted session reads like a typed one.
    """

    def __init__(
        self,
        workspace: Workspace,
        lines: Iterator[str],
        write: Writer,
        *,
        user: str = LOCAL_USER,
        channel: str = OPERATIONS_CHANNEL,
        echo: bool = False,
        reader: Reader | None = None,
    ) -> None:
        self.workspace = workspace
        # At a terminal, the line editor shows the prompt itself: it must know it, or Enter on an
        # empty line does not start a new one and prompts pile up on one line.
        self._reader = reader
        self._prompt = ""
        # Held while a command runs, so the alert watcher never takes the activity meant for it.
        self.busy = threading.Lock()
        self.user = user
        self.channel = channel
        self.echo = echo
        self.buttons: list[Button] = []
        self._lines = lines
        self._write = write
        self._names = itertools.count(1)

    # ---------------------------------------------------------------- the loop

    def run(self, lines: Iterator[str] | None = None) -> int:
        """Until ``quit`` or the end of the input (``lines``, when given, replaces it: a script can
        go on in the same session, with the same user and buttons)."""
        if lines is not None:
            self._lines = lines
        while True:
            line = self._read(f"{self.user}> ")
            if line is None:
                return 0
            with self.busy:
                if not self.execute(line):
                    return 0

    def execute(self, line: str) -> bool:
        """Run one command line; False when the user asked to quit."""
        line = line.strip()
        word, _, rest = line.partition(" ")
        rest = rest.strip()
        if not line or line.startswith("#"):
            return True
        if word.lower() in ("quit", "exit"):
            return False
        try:
            if word.startswith("/"):
                self.slash_command(word, rest)
            elif word.lower() == "home":
                self.open_home()
            elif word.lower() == "click":
                self.click(rest)
            elif word.lower() == "as":
                self.switch_user(rest)
            elif word.lower() == "group":
                self.change_group(rest)
            elif word.lower() in ("help", "?"):
                self._say(HELP.format(user=self.user))
            else:
                self._say(f"unknown command {word!r}: type help")
        except ConsoleError as error:
            self._say(f"✗ {error}")
        return True

    # ---------------------------------------------------------------- commands

    def slash_command(self, command: str, text: str) -> None:
        name = f"{command.lstrip('/')}-{next(self._names)}"
        trigger = self.workspace.trigger_id()
        event = slash_command_event(
            command,
            text,
            self.user,
            secret=self.workspace.secret,
            user_name=self.user.lower(),
            channel_id=self.channel,
            response_url=self.workspace.response_url(name),
            trigger_id=trigger,
        )
        ack = self.workspace.send(event)
        self._show_ack(ack, command)
        self._settle(trigger)

    def open_home(self) -> None:
        body = json.dumps(
            {
                "token": "deprecated-verification-token",
                "team_id": TEAM_ID,
                "api_app_id": API_APP_ID,
                "type": "event_callback",
                "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
                "event_time": int(time.time()),
                "event": {
                    "type": "app_home_opened",
                    "user": self.user,
                    "channel": f"D{self.user[1:]}",
                    "tab": "home",
                    "event_ts": f"{time.time():.6f}",
                },
            }
        )
        ack = self.workspace.send(signed_event(body, self.workspace.secret, content_type="application/json"))
        self._show_ack(ack, "app_home_opened")
        self._settle(None)

    def change_group(self, text: str) -> None:
        parts = text.split()
        if len(parts) != 3 or parts[1].lower() not in ("add", "remove") or not _USER_ID.match(parts[2]):
            self._say("usage: group S0GROUP add|remove U0SOMEONE")
            return
        group, verb, user = parts[0], parts[1].lower(), parts[2]
        changer = getattr(self.workspace, "change_group", None)
        if changer is None:
            self._say("this workspace's user groups are edited in Slack itself")
            return
        members = changer(group, **{verb: user})
        self._say(f"(@{group} now: {', '.join('@' + m for m in members) or 'nobody'})")
        self._settle(None)

    def switch_user(self, user: str) -> None:
        if not _USER_ID.match(user):
            self._say("usage: as U0SOMEONE (a Slack user ID: U or W, then capitals and digits)")
            return
        self.user = user
        self.buttons = []
        self._say(f"(you are now @{user})")

    def click(self, which: str) -> None:
        if not self.buttons:
            self._say("no buttons shown yet: try home")
            return
        if not which.isdigit() or not 1 <= int(which) <= len(self.buttons):
            self._say(f"usage: click N, with N from 1 to {len(self.buttons)}")
            return
        button = self.buttons[int(which) - 1]
        self._say(f"(you press [{button.label}])")
        confirm = button.element.get("confirm")
        if isinstance(confirm, Mapping) and not self._confirmed(confirm):
            return
        trigger = self.workspace.trigger_id()
        element = button.element
        common: JSON = {
            "value": element.get("value"),
            "block_id": button.block_id,
            "text": button.label,
            "user_id": self.user,
            "user_name": self.user.lower(),
            "trigger_id": trigger,
        }
        if button.view is not None:
            payload = block_actions_payload(str(element.get("action_id", "")), view=button.view, **common)
        else:
            name = f"action-{next(self._names)}"
            payload = block_actions_payload(
                str(element.get("action_id", "")),
                message=button.message,
                channel_id=button.channel or self.channel,
                response_url=self.workspace.response_url(name),
                **common,
            )
        ack = self.workspace.send(interaction_event(payload, self.workspace.secret))
        self._show_ack(ack, "block_actions")
        self._settle(trigger)

    def _confirmed(self, confirm: Mapping[str, Any]) -> bool:
        title = _plain(confirm.get("title")) or "Are you sure?"
        yes, no = _plain(confirm.get("confirm")) or "Yes", _plain(confirm.get("deny")) or "Cancel"
        self._say(f"┌─ {title}")
        for line in render_message({"text": _plain(confirm.get("text"))}):
            self._say(f"│ {line}")
        answer = self._read(f"└─ [{no}] [{yes}]  {yes}? [y/N] ")
        if answer is not None and answer.strip().lower() in ("y", "yes", yes.lower()):
            return True
        self._say(f"(you press [{no}])")
        return False

    # ---------------------------------------------------------------- what the user sees

    def _show_ack(self, ack: Ack, what: str) -> None:
        if ack.status != 200:
            reason = {401: "signature refused", 404: "not handled by the bot"}.get(ack.status, ack.body[:200])
            self._say(f"  ✗ the bot answered HTTP {ack.status} to {what} ({reason})")
        else:
            # Slack shows a JSON ack as a message, and a plain-text one as its text (only to the user).
            body = ack.json() or ({"text": ack.body} if ack.body.strip() else {})
            if body.get("text") or body.get("blocks"):
                visibility = (
                    "in channel" if body.get("response_type") == "in_channel" else "only visible to you"
                )
                self._say(f"  [ack] ({visibility}):")
                self._show_lines(render_message(body), indent="    ")
                self._collect_buttons(body, channel=self.channel)
        if ack.seconds > ACK_DEADLINE:
            self._say(f"  ⚠ the acknowledgement took {ack.seconds:.1f} s: Slack shows an error after 3 s")

    def _settle(self, trigger: str | None) -> None:
        """Show what the bot did (after its lazy listeners), then fill in a modal it opened for us."""
        activity = self.workspace.activity()
        modal: JSON | None = None
        for call in activity.calls:
            self._show_call(call)
            opened = call.method in ("views.open", "views.push") and call.ok
            if opened and trigger is not None and call.args.get("trigger_id") == trigger:
                modal = dict(call.response.get("view") or {})
            # A modal opened as a placeholder and filled in later (views.update) is filled in as updated.
            updated = (
                dict(call.response.get("view") or {}) if call.method == "views.update" and call.ok else {}
            )
            if modal and updated.get("id") == modal.get("id"):
                modal = updated
        for error in activity.failed:
            failure = f"{error.get('errorType')}: {error.get('errorMessage')}"
            self._say(f"  ✗ the bot failed after acknowledging: {failure}")
        if not activity.idle:
            self._say("  ⚠ the bot is still working (lazy listeners running after 20 s)")
        if modal:
            self.fill_modal(modal)

    def _show_call(self, call: RecordedCall) -> None:
        if _unseen(call.method) and call.ok:
            return
        self._show_lines(render(call).splitlines(), indent="  ")
        if not call.ok:
            messages = call.response.get("response_metadata", {}).get("messages") or []
            self._show_lines([str(m) for m in messages], indent="    ")
            return
        if call.method == "views.publish":
            self._collect_buttons(call.response.get("view") or {}, view=call.response.get("view") or {})
        elif call.method in ("chat.postMessage", "chat.postEphemeral", RESPONSE_URL):
            channel = str(call.response.get("channel") or call.args.get("channel") or self.channel)
            message = (
                call.response.get("message") if isinstance(call.response.get("message"), Mapping) else None
            )
            self._collect_buttons(call.args, channel=channel, message=message or call.args)

    def _collect_buttons(
        self,
        surface: Mapping[str, Any],
        *,
        view: Mapping[str, Any] | None = None,
        message: Mapping[str, Any] | None = None,
        channel: str = "",
    ) -> None:
        """Number the buttons of a surface just shown; they become what ``click N`` presses."""
        found: list[Button] = []
        rows: list[str] = []
        for index, block in enumerate(surface.get("blocks") or []):
            elements = list(block.get("elements") or []) if block.get("type") == "actions" else []
            if isinstance(block.get("accessory"), Mapping):
                elements.append(block["accessory"])
            row: list[str] = []
            for element in elements:
                if isinstance(element, Mapping) and element.get("type") == "button":
                    button = Button(
                        label=_plain(element.get("text")),
                        element=dict(element),
                        block_id=str(block.get("block_id") or f"block_{index}"),
                        view=dict(view) if view is not None else None,
                        message=dict(message or surface) if view is None else None,
                        channel=channel,
                    )
                    found.append(button)
                    row.append(f"click {len(found)} → [{button.description}]")
            if row:
                rows.append("   ".join(row))
        if found:
            self.buttons = found
            self._show_lines(rows, indent="    ")

    # ---------------------------------------------------------------- modals

    def fill_modal(self, view: JSON) -> None:
        """Ask for each input of ``view``, submit, and ask again for the inputs the bot refused."""
        form = _Form(view)
        blocks = [b for b in view.get("blocks") or [] if b.get("type") == "input"]
        self._say(
            f"  Fill in the form (Enter keeps the value shown, '{CLEAR}' empties it, '{CANCEL}' closes it):"
        )
        to_ask = blocks
        try:
            while True:
                for block in to_ask:
                    self._ask(form, block)
                submit = _plain(form.view.get("submit")) or "Submit"
                self._say(f"  (you press [{submit}])")
                payload = view_submission_payload(
                    form.view, form.answers, user_id=self.user, user_name=self.user.lower()
                )
                ack = self.workspace.send(interaction_event(payload, self.workspace.secret))
                body = ack.json() if ack.status == 200 else {}
                if ack.status != 200:
                    self._show_ack(ack, "view_submission")
                action = body.get("response_action")
                errors = body.get("errors") if action == "errors" else None
                if isinstance(errors, Mapping) and errors:
                    self._say("  The form was sent back:")
                    labels = {str(b.get("block_id")): _plain(b.get("label")) for b in blocks}
                    for block_id, message in errors.items():
                        self._say(f"    ✗ {labels.get(str(block_id), block_id)}: {message}")
                    self._settle(None)
                    to_ask = [b for b in blocks if str(b.get("block_id")) in errors]
                    continue
                if action in ("update", "push") and isinstance(body.get("view"), Mapping):
                    form = _Form({**form.view, **body["view"]})
                    blocks = [b for b in form.view.get("blocks") or [] if b.get("type") == "input"]
                    self._show_lines(render_message({"blocks": form.view.get("blocks")}), indent="  │ ")
                    to_ask = blocks
                    continue
                self.workspace.close_view(str(form.view.get("id", "")))
                self._say("  (the modal closes)")
                self._settle(None)
                return
        except _CancelledError:
            self.workspace.close_view(str(form.view.get("id", "")))
            self._say("  (the modal closes; nothing was submitted)")

    def _ask(self, form: _Form, block: Mapping[str, Any]) -> None:
        element: Mapping[str, Any] = block.get("element") or {}
        action_id = str(element.get("action_id", ""))
        kind = str(element.get("type", ""))
        label = _plain(block.get("label"))
        options = _options(element)
        current = _shown_value(element, form.answers.get(action_id))
        required = not block.get("optional")
        head = f"  · {label}" + ("" if required else " (optional)")
        if current:
            head += f" [{current}]"
        if options and (kind in _SINGLE_CHOICE or kind in _MULTI_CHOICE):
            many = " (several: 1,3)" if kind in _MULTI_CHOICE else ""
            head += f" — choose{many}: " + "  ".join(
                f"{n}) {_plain(o.get('text'))}" for n, o in enumerate(options, 1)
            )
        elif element.get("placeholder"):
            head += f" — e.g. {_plain(element.get('placeholder'))}"
        self._say(head)
        while True:
            line = self._read("    > ")
            if line is None or line.strip() == CANCEL:
                raise _CancelledError
            answer = line.strip()
            if not answer:
                if required and not current:
                    self._say("    Please complete this required field.")
                    continue
                return  # keep what is shown
            if answer == CLEAR:
                if required:
                    self._say("    Please complete this required field.")
                    continue
                if kind in _SINGLE_CHOICE:
                    self._say("    A choice cannot be emptied here: pick one.")
                    continue
                form.answers[action_id] = [] if kind in _MULTI_CHOICE else ""
                return
            value, problem = _interpret(element, answer)
            if problem:
                self._say(f"    {problem}")
                continue
            form.answers[action_id] = value
            return

    # ---------------------------------------------------------------- I/O

    def _read(self, prompt: str) -> str | None:
        """The next line, after ``prompt``. A script (``echo``) is read first and echoed after the
        prompt, so its transcript reads as typed and does not end with a prompt nobody answered."""
        if self._reader is not None:
            self._prompt = prompt
            try:
                return self._reader(prompt)
            except EOFError:
                self._write("\n")  # Ctrl-D leaves the cursor after the prompt
                return None
            finally:
                self._prompt = ""
        if not self.echo:
            self._write(prompt)
        try:
            line = next(self._lines).rstrip("\r\n")
        except StopIteration:
            if not self.echo:
                self._write("\n")  # Ctrl-D leaves the cursor after the prompt
            return None
        if self.echo:
            self._write(f"{prompt}{line}\n")
        return line

    def show_arrivals(self) -> bool:
        """Show what arrived while the user was not running a command (the notifier's alerts).

        Called by the alert watcher; does nothing while a command runs (its own output comes with
        it). The lines go above the prompt, and the prompt and what was typed so far are put back.
        """
        if not self.busy.acquire(blocking=False):
            return False
        try:
            activity = self.workspace.activity(wait=0)
            calls = [call for call in activity.calls if not (_unseen(call.method) and call.ok)]
            if not calls:
                return False
            typed = _line_buffer()
            self._write("\r\x1b[K")  # the prompt line is redrawn below what arrived
            for call in calls:
                self._show_call(call)
            self._write(self._prompt + typed)
            return True
        finally:
            self.busy.release()

    def _say(self, text: str) -> None:
        self._write(_EMOJI_CODE.sub(lambda m: EMOJI.get(m.group(1), m.group(0)), text) + "\n")

    def _show_lines(self, lines: list[str], indent: str) -> None:
        for line in lines:
            self._say(f"{indent}{line}" if line else "")


# --------------------------------------------------------------------------------------------------
# Form helpers


def _plain(obj: Any) -> str:
    if isinstance(obj, str):
        return obj
    return str(obj.get("text", "")) if isinstance(obj, Mapping) else ""


def _options(element: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    options: list[Mapping[str, Any]] = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _shown_value(element: Mapping[str, Any], answer: Any) -> str:
    """What the field shows now: the user's answer, else the element's initial value."""
    options = {str(o.get("value")): _plain(o.get("text")) for o in _options(element)}
    if answer is not None:
        if isinstance(answer, list):
            return ", ".join(options.get(str(a), str(a)) for a in answer)
        return options.get(str(answer), str(answer))
    initial = element.get("initial_option")
    if isinstance(initial, Mapping):
        return _plain(initial.get("text"))
    if element.get("initial_options"):
        return ", ".join(_plain(o.get("text")) for o in element["initial_options"])
    for key in ("initial_value", "initial_user", "initial_conversation", "initial_channel", "initial_date"):
        if element.get(key):
            return str(element[key])
    return ""


def _choose(options: list[Mapping[str, Any]], answer: str) -> str | None:
    """An option's value from its number, value or label (case-insensitive)."""
    if answer.isdigit() and 1 <= int(answer) <= len(options):
        return str(options[int(answer) - 1].get("value"))
    for option in options:
        if answer.lower() in (str(option.get("value")).lower(), _plain(option.get("text")).lower()):
            return str(option.get("value"))
    return None


def _interpret(element: Mapping[str, Any], answer: str) -> tuple[Any, str]:
    """(value for ``view_state``, problem) — checks Slack's client makes before it submits."""
    kind = str(element.get("type", ""))
    options = _options(element)
    if kind in _SINGLE_CHOICE and options:
        chosen = _choose(options, answer)
        return (chosen, "") if chosen else (None, f"choose 1-{len(options)} (or type an option)")
    if kind in _MULTI_CHOICE and options:
        values = [_choose(options, part.strip()) for part in answer.split(",") if part.strip()]
        if any(v is None for v in values):
            return None, f"choose from 1-{len(options)}, separated by commas"
        return values, ""
    if kind == "multi_users_select":
        return [part.strip() for part in answer.split(",") if part.strip()], ""
    if kind == "number_input":
        try:
            number = float(answer)
        except ValueError:
            return None, "Please enter a number."
        if not element.get("is_decimal_allowed") and not answer.lstrip("-").isdigit():
            return None, "Please enter a whole number."
        low, high = element.get("min_value"), element.get("max_value")
        if (low is not None and number < float(low)) or (high is not None and number > float(high)):
            return None, f"Please enter a number between {low} and {high}."
        return answer, ""
    if kind == "plain_text_input":
        low, high = element.get("min_length"), element.get("max_length")
        if low is not None and len(answer) < int(low):
            return None, f"Please enter at least {low} characters."
        if high is not None and len(answer) > int(high):
            return None, f"Please enter at most {high} characters."
    return answer, ""


# --------------------------------------------------------------------------------------------------
# Entry points


def terminal_reader() -> Reader:
    """``input`` with line editing and history (readline, where the platform has it)."""
    with contextlib.suppress(ImportError):  # not on every platform
        import readline  # noqa: F401 - line editing and history for input()
    return input


def _line_buffer() -> str:
    """What the user has typed on the current line so far (empty without readline)."""
    try:
        import readline
    except ImportError:
        return ""
    return readline.get_line_buffer()


def watch_for_arrivals(console: SlackConsole, stop: threading.Event, every: float = 1.0) -> threading.Thread:
    """Show alerts as they arrive, not only after the next command (a daemon thread)."""

    def watch() -> None:
        while not stop.wait(every):
            with contextlib.suppress(ConsoleError):
                console.show_arrivals()

    thread = threading.Thread(target=watch, name="slack-console-arrivals", daemon=True)
    thread.start()
    return thread


def terminal_lines() -> Iterator[str]:
    """Lines typed at the terminal (with line editing), until Ctrl-D."""
    read = terminal_reader()
    while True:
        try:
            yield read("")
        except EOFError:
            return


def stdin_lines() -> Iterator[str]:
    """Lines from standard input: typed at a terminal, or a script piped in."""
    return terminal_lines() if sys.stdin.isatty() else iter(sys.stdin)


def console_banner(workspace: LocalWorkspace, user: str, channel: str = OPERATIONS_CHANNEL) -> str:
    return (
        f"Slack console: you are @{user} in channel {channel} of the local workspace; the bot is at "
        f"{workspace.bot_url}.\nType /forward help, home, click N, as U0SOMEONE, help or quit.\n"
    )


def run_console(workspace: LocalWorkspace, user: str = LOCAL_USER, write: Writer | None = None) -> int:
    """The console on this terminal (or on a script piped to standard input)."""
    out = write or _stdout
    out(console_banner(workspace, user))
    interactive = sys.stdin.isatty()
    console = SlackConsole(
        workspace,
        stdin_lines(),
        out,
        user=user,
        echo=not interactive,
        reader=terminal_reader() if interactive else None,
    )
    stop = threading.Event()
    if interactive:
        watch_for_arrivals(console, stop)
    try:
        return console.run()
    except KeyboardInterrupt:
        out("\n")  # Ctrl-C leaves the cursor after the prompt
        return 0
    finally:
        stop.set()


def _stdout(text: str) -> None:
    # The terminal even from the console's watcher thread when other threads' output is routed to
    # a log file (switchboard_local.console_output).
    stream = getattr(sys.stdout, "terminal", sys.stdout)
    stream.write(text)
    stream.flush()


def main(user: str = LOCAL_USER) -> int:
    """``switchboard slack``: the console on a running ``switchboard dev``, else on a fresh stack."""
    import os

    from switchboard.dev_state import running_stack
    from switchboard_local.stack import LocalStack

    state = running_stack()
    if state is not None:
        secret = str(state["env"].get("SLACK_SIGNING_SECRET", ""))
        if not state.get("bot_url"):
            print("switchboard: the running `switchboard dev` has no Slack bot; restart it", file=sys.stderr)
            return 2
        if not secret:
            print(
                "switchboard: the running `switchboard dev` talks to your Slack workspace (Socket Mode): "
                "use Slack itself",
                file=sys.stderr,
            )
            return 2
        try:
            workspace = LocalWorkspace(str(state["bot_url"]), secret).connect()
        except ConsoleError as error:
            print(f"switchboard: {error}", file=sys.stderr)
            return 2
        return run_console(workspace, user)

    from switchboard_local.slack.bot_server import BotServer

    # The bot's JSON logs are for CloudWatch; the console shows what a Slack user would see.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    print("No `switchboard dev` is running: starting a fresh local stack for this console.\n", flush=True)
    with LocalStack(with_slack=True) as stack, stack.applied(), BotServer.for_stack(stack) as server:
        workspace = LocalWorkspace(server.url, stack.env()["SLACK_SIGNING_SECRET"]).connect()
        return run_console(workspace, user)
