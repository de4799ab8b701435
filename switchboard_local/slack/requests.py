"""Build the requests Slack sends to the bot, exactly as the bot's Lambda receives them.

Slack POSTs slash commands and interactions (button clicks, modal submissions) to the app's request
URL — here an API Gateway HTTP API, which hands ``bot.app.handler`` a payload-format-2.0 event. The
helpers below produce those events, **signed** like Slack signs them, so the unmodified Bolt app
(request verification on) accepts them, and a forged or stale one is refused exactly as in production:

* :func:`sign` — the ``x-slack-signature`` / ``x-slack-request-timestamp`` headers:
  ``v0=`` + hex HMAC-SHA256 of ``v0:{timestamp}:{body}`` keyed with the signing secret (Slack's
  "verifying requests" scheme, what :class:`slack_sdk.signature.SignatureVerifier` checks; Bolt
  rejects a timestamp more than 5 minutes from now).
* :func:`api_gateway_v2_event` — wrap any body and headers in an HTTP API (payload 2.0) event.
  Like API Gateway, a body whose content type is neither ``application/json`` nor ``text/*`` (Slack's
  ``application/x-www-form-urlencoded``) arrives base64-encoded with ``isBase64Encoded: true``.
* :func:`slash_command_event` — ``/forward …`` as Slack posts it (form fields ``command``, ``text``,
  ``user_id``, ``channel_id``, ``response_url``, ``trigger_id`` …).
* :func:`interaction_event` — an interaction: form field ``payload=<JSON>``; build the payload with
  :func:`block_actions_payload` (a button / select in a message, App Home or modal) or
  :func:`view_submission_payload` (a modal's Submit, its ``state.values`` from :func:`view_state`).

Used by the bot's functional tests and by the terminal Slack console; the IDs default to one
fictitious workspace (:data:`TEAM_ID`, :data:`USER_ID`, :data:`CHANNEL_ID`, :data:`API_APP_ID`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

TEAM_ID = "T0SWITCHBD"
TEAM_DOMAIN = "switchboard"
USER_ID = "U0OPERATOR"
USER_NAME = "operator"
CHANNEL_ID = "C0OPERATIONS"
CHANNEL_NAME = "operations"
API_APP_ID = "A0SWITCHBD"
ACCOUNT_ID = "123456789012"
API_ID = "switchbd01"
DEFAULT_PATH = "/slack/events"
FORM = "application/x-www-form-urlencoded"

_sequence = itertools.count(1)


def sign(body: str | bytes, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The two headers Slack adds to every request: timestamp and ``v0=`` HMAC-SHA256 signature.

    ``timestamp`` defaults to now (seconds); pass an old one to exercise Bolt's replay guard.
    """
    stamp = int(time.time()) if timestamp is None else int(timestamp)
    raw = body.encode("utf-8") if isinstance(body, str) else body
    base = b"v0:" + str(stamp).encode("ascii") + b":" + raw
    digest = hmac.new(secret.encode("utf-8"), base, hashlib.sha256).hexdigest()
    return {"x-slack-request-timestamp": str(stamp), "x-slack-signature": f"v0={digest}"}


def _is_text(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media.startswith("text/") or media == "application/json"


def api_gateway_v2_event(
    body: str,
    headers: Mapping[str, str],
    *,
    method: str = "POST",
    path: str = DEFAULT_PATH,
    query: Mapping[str, str] | None = None,
    base64_body: bool | None = None,
    cookies: Sequence[str] = (),
    source_ip: str = "3.4.5.6",
    stage: str = "$default",
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload format 2.0) event for one HTTP request.

    Header names are lower-cased as API Gateway delivers them. ``base64_body=None`` decides like API
    Gateway: bodies that are not ``application/json`` or ``text/*`` are base64-encoded.
    """
    lowered = {name.lower(): value for name, value in headers.items()}
    lowered.setdefault("host", f"{API_ID}.execute-api.us-east-1.amazonaws.com")
    lowered.setdefault("user-agent", "Slackbot 1.0 (+https://api.slack.com/robots)")
    lowered.setdefault("accept", "application/json,*/*")
    lowered.setdefault("accept-encoding", "gzip,deflate")
    lowered.setdefault("x-forwarded-for", source_ip)
    lowered.setdefault("x-forwarded-port", "443")
    lowered.setdefault("x-forwarded-proto", "https")
    lowered.setdefault("content-length", str(len(body.encode("utf-8"))))
    encode = (not _is_text(lowered.get("content-type", ""))) if base64_body is None else base64_body
    now = datetime.now(UTC)
    raw_query = urlencode(dict(query or {}))
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": lowered,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": API_ID,
            "domainName": lowered["host"],
            "domainPrefix": lowered["host"].split(".", 1)[0],
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered["user-agent"],
            },
            "requestId": f"{uuid.uuid4().hex[:15]}=",
            "routeKey": "$default",
            "stage": stage,
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": base64.b64encode(body.encode("utf-8")).decode("ascii") if encode else body,
        "isBase64Encoded": encode,
    }
    if query:
        event["queryStringParameters"] = dict(query)
    if cookies:
        event["cookies"] = list(cookies)
    return event


def signed_event(
    body: str,
    secret: str,
    *,
    content_type: str = FORM,
    timestamp: int | None = None,
    headers: Mapping[str, str] | None = None,
    path: str = DEFAULT_PATH,
) -> dict[str, Any]:
    """An HTTP API event carrying ``body`` with Slack's content type and signature headers.

    ``headers`` are added last, so a test can override the signature with a forged one.
    """
    all_headers = {"content-type": content_type, **sign(body, secret, timestamp)}
    all_headers.update({name.lower(): value for name, value in (headers or {}).items()})
    return api_gateway_v2_event(body, all_headers, path=path)


def new_trigger_id() -> str:
    """A trigger id shaped like Slack's (``<number>.<number>.<hex>``)."""
    return f"{int(time.time())}{next(_sequence):03d}.{uuid.uuid4().int % 10**9}.{uuid.uuid4().hex}"


def slash_command_body(
    command: str,
    text: str = "",
    user_id: str = USER_ID,
    *,
    user_name: str = USER_NAME,
    channel_id: str = CHANNEL_ID,
    channel_name: str = CHANNEL_NAME,
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = API_APP_ID,
    response_url: str | None = None,
    trigger_id: str | None = None,
) -> str:
    """The form-encoded body Slack posts for a slash command (field order as Slack sends them)."""
    fields = {
        "token": "deprecated-verification-token",
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name,
        "command": command,
        "text": text,
        "api_app_id": api_app_id,
        "is_enterprise_install": "false",
        "response_url": response_url
        or f"https://hooks.slack.com/commands/{team_id}/{next(_sequence)}/{uuid.uuid4().hex[:24]}",
        "trigger_id": trigger_id or new_trigger_id(),
    }
    return urlencode(fields)


def slash_command_event(
    command: str,
    text: str = "",
    user_id: str = USER_ID,
    *,
    secret: str,
    user_name: str = USER_NAME,
    channel_id: str = CHANNEL_ID,
    channel_name: str = CHANNEL_NAME,
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    api_app_id: str = API_APP_ID,
    response_url: str | None = None,
    trigger_id: str | None = None,
    timestamp: int | None = None,
    path: str = DEFAULT_PATH,
) -> dict[str, Any]:
    """A signed HTTP API event for ``command text`` typed by ``user_id`` in ``channel_id``.

    Pass ``response_url=standin.response_url("name")`` to capture what the bot ``respond()``s.
    """
    body = slash_command_body(
        command,
        text,
        user_id,
        user_name=user_name,
        channel_id=channel_id,
        channel_name=channel_name,
        team_id=team_id,
        team_domain=team_domain,
        api_app_id=api_app_id,
        response_url=response_url,
        trigger_id=trigger_id,
    )
    return signed_event(body, secret, timestamp=timestamp, path=path)


def interaction_event(
    payload: Mapping[str, Any],
    secret: str,
    *,
    timestamp: int | None = None,
    path: str = DEFAULT_PATH,
) -> dict[str, Any]:
    """A signed HTTP API event for an interaction: form body ``payload=<JSON>``."""
    body = urlencode({"payload": json.dumps(payload, separators=(",", ":"))})
    return signed_event(body, secret, timestamp=timestamp, path=path)


def _user(user_id: str, user_name: str, team_id: str) -> dict[str, str]:
    return {"id": user_id, "username": user_name, "name": user_name, "team_id": team_id}


def block_actions_payload(
    action_id: str,
    *,
    value: str | None = None,
    block_id: str = "actions",
    action_type: str = "button",
    text: str | None = None,
    selected_option: Mapping[str, Any] | None = None,
    user_id: str = USER_ID,
    user_name: str = USER_NAME,
    team_id: str = TEAM_ID,
    channel_id: str = CHANNEL_ID,
    message: Mapping[str, Any] | None = None,
    view: Mapping[str, Any] | None = None,
    response_url: str | None = None,
    trigger_id: str | None = None,
    api_app_id: str = API_APP_ID,
) -> dict[str, Any]:
    """A ``block_actions`` payload: one element (``action_id`` in ``block_id``) was used.

    Give ``view`` (a view as returned by ``views.open`` / ``views.publish``) for an element in a
    modal or App Home — the payload then has a ``view`` container and no channel nor response_url,
    as Slack sends it. Otherwise the element is in ``message`` (posted in ``channel_id``) and the
    payload carries ``response_url``.
    """
    action: dict[str, Any] = {
        "action_id": action_id,
        "block_id": block_id,
        "type": action_type,
        "action_ts": f"{time.time():.6f}",
    }
    if action_type == "button":
        action["text"] = {"type": "plain_text", "text": text or action_id, "emoji": True}
    if value is not None:
        action["value"] = value
    if selected_option is not None:
        action["selected_option"] = dict(selected_option)
    payload: dict[str, Any] = {
        "type": "block_actions",
        "user": _user(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": "deprecated-verification-token",
        "trigger_id": trigger_id or new_trigger_id(),
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "enterprise": None,
        "is_enterprise_install": False,
        "actions": [action],
    }
    if view is not None:
        payload["container"] = {"type": "view", "view_id": view.get("id", "")}
        payload["view"] = {**view, "state": view.get("state") or {"values": {}}}
        payload["state"] = payload["view"]["state"]
    else:
        msg = dict(message or {"type": "message", "text": "", "ts": f"{time.time():.6f}"})
        payload["container"] = {
            "type": "message",
            "message_ts": msg.get("ts", ""),
            "channel_id": channel_id,
            "is_ephemeral": False,
        }
        payload["channel"] = {"id": channel_id, "name": CHANNEL_NAME}
        payload["message"] = msg
        payload["state"] = {"values": {}}
        payload["response_url"] = (
            response_url
            or f"https://hooks.slack.com/actions/{team_id}/{next(_sequence)}/{uuid.uuid4().hex[:24]}"
        )
    return payload


def _options(element: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    options: list[Mapping[str, Any]] = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def _pick(element: Mapping[str, Any], wanted: str) -> dict[str, Any]:
    for option in _options(element):
        text = option.get("text", {}).get("text")
        if wanted in (option.get("value"), text):
            return dict(option)
    known = [option.get("value") for option in _options(element)]
    raise ValueError(f"{wanted!r} is not an option of {element.get('action_id')!r} (options: {known})")


def _state_value(element: Mapping[str, Any], answer: Any) -> dict[str, Any]:
    kind = str(element.get("type", ""))
    state: dict[str, Any] = {"type": kind}
    if kind in ("static_select", "external_select", "radio_buttons"):
        if answer is None and "initial_option" in element:
            state["selected_option"] = element["initial_option"]
        else:
            state["selected_option"] = None if answer is None else _pick(element, str(answer))
    elif kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        if answer is None:
            state["selected_options"] = list(element.get("initial_options") or [])
        else:
            answers = [answer] if isinstance(answer, str) else list(answer)
            state["selected_options"] = [_pick(element, str(item)) for item in answers]
    elif kind == "users_select":
        state["selected_user"] = element.get("initial_user") if answer is None else answer
    elif kind == "multi_users_select":
        state["selected_users"] = list(element.get("initial_users") or []) if answer is None else list(answer)
    elif kind == "conversations_select":
        state["selected_conversation"] = element.get("initial_conversation") if answer is None else answer
    elif kind == "channels_select":
        state["selected_channel"] = element.get("initial_channel") if answer is None else answer
    elif kind == "datepicker":
        state["selected_date"] = element.get("initial_date") if answer is None else answer
    elif kind == "timepicker":
        state["selected_time"] = element.get("initial_time") if answer is None else answer
    else:  # plain_text_input, number_input, email_text_input, url_text_input ...
        state["value"] = element.get("initial_value") if answer is None else str(answer)
    return state


def view_state(view: Mapping[str, Any], answers: Mapping[str, Any]) -> dict[str, Any]:
    """``state`` of a modal filled in by a user: ``{"values": {block_id: {action_id: {...}}}}``.

    ``answers`` maps an element's ``action_id`` to what the user entered: text for inputs, an
    option's value (or its label) for selects and radio buttons, a list for multi-selects and
    checkboxes, a user/channel ID for user/conversation selects. Elements not answered keep their
    initial value (or are empty), as in Slack. Raises ``ValueError`` for an unknown option or answer.
    """
    values: dict[str, dict[str, Any]] = {}
    seen: set[str] = set()
    for index, block in enumerate(view.get("blocks") or []):
        if block.get("type") != "input":
            continue
        element = block.get("element") or {}
        action_id = str(element.get("action_id") or f"input_{index}")
        block_id = str(block.get("block_id") or f"block_{index}")
        values.setdefault(block_id, {})[action_id] = _state_value(element, answers.get(action_id))
        seen.add(action_id)
    unknown = set(answers) - seen
    if unknown:
        raise ValueError(f"no input element with action_id {sorted(unknown)} in the view")
    return {"values": values}


def view_submission_payload(
    view: Mapping[str, Any],
    answers: Mapping[str, Any] | None = None,
    *,
    user_id: str = USER_ID,
    user_name: str = USER_NAME,
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
    api_app_id: str = API_APP_ID,
) -> dict[str, Any]:
    """A ``view_submission`` payload: the user pressed Submit on ``view`` after filling ``answers``.

    ``view`` is the view as Slack returned it (``views.open`` response or ``standin.open_views``);
    its ``state`` is rebuilt from ``answers`` with :func:`view_state`.
    """
    submitted = dict(view)
    submitted["state"] = view_state(view, answers or {})
    submitted.setdefault("id", "V0SUBMITTED")
    submitted.setdefault("callback_id", "")
    submitted.setdefault("private_metadata", "")
    return {
        "type": "view_submission",
        "team": {"id": team_id, "domain": TEAM_DOMAIN},
        "user": _user(user_id, user_name, team_id),
        "api_app_id": api_app_id,
        "token": "deprecated-verification-token",
        "trigger_id": trigger_id or new_trigger_id(),
        "view": submitted,
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }
