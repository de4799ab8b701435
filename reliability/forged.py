"""Forged requests: whatever an outsider or a non-admin member sends, nothing changes.

Two kinds of forgery, both against the running bot (``bot.app.handler``):

* **Not from Slack**: a wrong signing secret, no signature, a malformed one, a stale timestamp, a
  captured request replayed with a fresh timestamp (old signature), a signature moved onto another
  body, a capture replayed six minutes later. Bolt must answer 401 before any listener runs.
* **From Slack, by someone who may not change routing** (a member not in ``FORWARD_ADMINS``):
  correctly signed slash commands, ``block_actions`` (App Home remove/edit/new, alert
  remove/edit/try-another, transfer) and ``view_submission`` (forward form, transfer form) crafted
  with the values an admin would send. The bot must refuse them.

For each request the forward rules in the table, every number's routing in the Chime SDK Voice
emulator and the call updates delivered to Chime SDK Voice are compared before and after (once the
lazy listeners have finished): a request is *refused* when its status is right and nothing changed.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from bot import alerts as bot_alerts
from bot import views as bot_views
from reliability.common import Figure, quiet, short
from reliability.harness import ADMIN, CALLER, DESTINATIONS, FORWARDED, UNFORWARDED, VISITOR, Harness
from switchboard.domain.events import LiveCall
from switchboard_local.slack.requests import (
    block_actions_payload,
    interaction_event,
    sign,
    signed_event,
    slash_command_body,
    slash_command_event,
    view_submission_payload,
)

LIVE_CALL = "tx-reliability-live"


class UpdateRecorder:
    """Stands in for the calls behind the Chime SDK Voice emulator: records every call update
    that reaches it (a delivered transfer request) and answers "no such call"."""

    def __init__(self) -> None:
        self.updates: list[dict[str, Any]] = []

    def __call__(self, application_id: str, transaction_id: str, arguments: dict[str, str]) -> None:
        self.updates.append({"TransactionId": transaction_id, **arguments})
        raise LookupError(f"no call {transaction_id}")


def _state(h: Harness, recorder: UpdateRecorder) -> tuple[Any, ...]:
    return h.table_snapshot(), h.routing_snapshot(), len(recorder.updates)


def _with_headers(event: dict[str, Any], **headers: str) -> dict[str, Any]:
    event = _copy(event)
    event["headers"].update(headers)
    return event


def _slash(text: str, user: str = ADMIN) -> str:
    return slash_command_body("/forward", text, user)


def _interaction(payload: dict[str, Any]) -> str:
    from urllib.parse import urlencode

    return urlencode({"payload": json.dumps(payload, separators=(",", ":"))})


def unsigned_requests(secret: str) -> list[tuple[str, dict[str, Any]]]:
    """Requests that do not come from Slack, each expected to get 401."""
    now = int(time.time())
    change = _slash(f"{UNFORWARDED} to {DESTINATIONS[0]}")
    remove = _slash(f"remove {FORWARDED}")
    button = _interaction(block_actions_payload("remove_forward", value=FORWARDED, user_id=ADMIN))
    captured = signed_event(change, secret, timestamp=now - 30)
    other = signed_event(remove, secret)
    moved = signed_event(change, secret)
    moved["headers"]["x-slack-signature"] = other["headers"]["x-slack-signature"]
    moved["headers"]["x-slack-request-timestamp"] = other["headers"]["x-slack-request-timestamp"]
    return [
        ("wrong signing secret (slash set)", signed_event(change, "not-the-secret")),
        ("wrong signing secret (slash remove)", signed_event(remove, "not-the-secret")),
        ("wrong signing secret (App Home remove button)", signed_event(button, "not-the-secret")),
        ("no signature headers", _without_signature(signed_event(change, secret))),
        (
            "malformed signature",
            _with_headers(signed_event(change, secret), **{"x-slack-signature": "v0=zz"}),
        ),
        (
            "signature of version v1",
            _with_headers(signed_event(change, secret), **{"x-slack-signature": "v1=" + "0" * 64}),
        ),
        ("stale timestamp (6 min)", signed_event(change, secret, timestamp=now - 360)),
        ("stale timestamp (1 day)", signed_event(remove, secret, timestamp=now - 86_400)),
        ("timestamp in the future (10 min)", signed_event(change, secret, timestamp=now + 600)),
        (
            "non-numeric timestamp",
            _with_headers(signed_event(change, secret), **{"x-slack-request-timestamp": "now"}),
        ),
        (
            "replayed body, fresh timestamp, old signature",
            _with_headers(captured, **{"x-slack-request-timestamp": str(now)}),
        ),
        ("signature moved to another body", moved),
        ("capture replayed 6 min later", _replayed_later(change, secret, now)),
        ("body altered after signing", _altered(change, secret)),
    ]


def _copy(event: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(event))
    return copied


def _without_signature(event: dict[str, Any]) -> dict[str, Any]:
    event = _copy(event)
    event["headers"].pop("x-slack-signature", None)
    event["headers"].pop("x-slack-request-timestamp", None)
    return event


def _replayed_later(body: str, secret: str, now: int) -> dict[str, Any]:
    headers = sign(body, secret, now - 361)
    return signed_event(body, "ignored", headers=headers)


def _altered(body: str, secret: str) -> dict[str, Any]:
    event = signed_event(body, secret)
    tampered = body.replace(DESTINATIONS[0].replace("+", "%2B"), DESTINATIONS[1].replace("+", "%2B"))
    event = _copy(event)
    if event.get("isBase64Encoded"):
        import base64

        event["body"] = base64.b64encode(tampered.encode()).decode()
    else:
        event["body"] = tampered
    return event


def non_admin_requests(h: Harness) -> list[tuple[str, dict[str, Any]]]:
    """Correctly signed requests from a member who may not change routing."""
    secret = h.secret()
    assert h.stack.slack is not None
    url = h.stack.slack.response_url("forged")
    alert_message = {"type": "message", "text": "alert", "ts": f"{time.time():.6f}"}
    try_value = json.dumps({"number": FORWARDED, "failed": [DESTINATIONS[0]]}, separators=(",", ":"))

    def slash(text: str) -> dict[str, Any]:
        return slash_command_event("/forward", text, VISITOR, secret=secret, response_url=url)

    def action(action_id: str, value: str, block_id: str = "actions", **extra: Any) -> dict[str, Any]:
        payload = block_actions_payload(
            action_id,
            value=value,
            block_id=block_id,
            user_id=VISITOR,
            trigger_id=h.stack.slack.trigger_id() if h.stack.slack else None,
            **extra,
        )
        return interaction_event(payload, secret)

    forward_form = bot_views.forward_modal(
        list(h.bot.forwarding_service().inventory_numbers()), None, "C0OPS"
    )
    forward_form["id"] = "V0FORGED1"
    edit_form = bot_views.forward_modal(
        list(h.bot.forwarding_service().inventory_numbers()), h.rules().get(FORWARDED), "C0OPS"
    )
    edit_form["id"] = "V0FORGED2"
    transfer_form = {
        "id": "V0FORGED3",
        "type": "modal",
        "callback_id": bot_views.TRANSFER_CALLBACK,
        "private_metadata": json.dumps({"transaction_id": LIVE_CALL, "channel_id": "C0OPS", "home": False}),
        "blocks": [
            {
                "type": "input",
                "block_id": bot_views.TRANSFER_BLOCK,
                "label": {"type": "plain_text", "text": "Transfer to"},
                "element": {"type": "plain_text_input", "action_id": bot_views.TRANSFER_BLOCK},
            }
        ],
    }

    def submit(view: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
        return interaction_event(view_submission_payload(view, answers, user_id=VISITOR), secret)

    return [
        ("slash: set a forward", slash(f"{UNFORWARDED} to {DESTINATIONS[0]}")),
        ("slash: change a forward", slash(f"{FORWARDED} to {DESTINATIONS[2]}")),
        ("slash: remove a forward", slash(f"remove {FORWARDED}")),
        ("slash: transfer a live call", slash(f"transfer {LIVE_CALL} to {DESTINATIONS[2]}")),
        (
            "block_actions: App Home remove",
            action("remove_forward", FORWARDED, f"rule_{FORWARDED.lstrip('+')}"),
        ),
        ("block_actions: App Home edit", action("edit_forward", FORWARDED, f"rule_{FORWARDED.lstrip('+')}")),
        ("block_actions: App Home new forward", action("home_new", "new")),
        (
            "block_actions: alert remove",
            action(
                bot_alerts.REMOVE_ACTION,
                FORWARDED,
                bot_alerts.ACTIONS_BLOCK,
                channel_id="C0ALERTS",
                message=alert_message,
            ),
        ),
        (
            "block_actions: alert edit",
            action(
                bot_alerts.EDIT_ACTION,
                FORWARDED,
                bot_alerts.ACTIONS_BLOCK,
                channel_id="C0ALERTS",
                message=alert_message,
            ),
        ),
        (
            "block_actions: alert try another",
            action(
                bot_alerts.TRY_ANOTHER_ACTION,
                try_value,
                bot_alerts.ACTIONS_BLOCK,
                channel_id="C0ALERTS",
                message=alert_message,
            ),
        ),
        ("block_actions: transfer button", action(bot_views.TRANSFER_ACTION, LIVE_CALL, "live")),
        (
            "view_submission: new forward form",
            submit(forward_form, {"number": UNFORWARDED, "dest_1": DESTINATIONS[0]}),
        ),
        (
            "view_submission: edit form (version it showed)",
            submit(edit_form, _fill(edit_form, {"number": FORWARDED, "dest_1": DESTINATIONS[2]})),
        ),
        (
            "view_submission: form re-pointed at another number",
            submit(
                _repointed(edit_form), _fill(edit_form, {"number": UNFORWARDED, "dest_1": DESTINATIONS[2]})
            ),
        ),
        (
            "view_submission: transfer form",
            submit(transfer_form, {bot_views.TRANSFER_BLOCK: DESTINATIONS[2]}),
        ),
    ]


def _inputs(view: dict[str, Any]) -> set[str]:
    return {
        str(block.get("element", {}).get("action_id"))
        for block in view.get("blocks") or []
        if block.get("type") == "input"
    }


def _fill(view: dict[str, Any], answers: dict[str, Any]) -> dict[str, Any]:
    """The answers the form can take (an edit form may show its number as text, not an input)."""
    return {key: value for key, value in answers.items() if key in _inputs(view)}


def _repointed(view: dict[str, Any]) -> dict[str, Any]:
    """The form with its private metadata edited to name another number (a crafted submission)."""
    crafted = _copy(view)
    try:
        metadata = json.loads(crafted.get("private_metadata") or "{}")
    except ValueError:
        metadata = {}
    metadata = metadata if isinstance(metadata, dict) else {}
    metadata["number"] = UNFORWARDED
    crafted["private_metadata"] = json.dumps(metadata)
    return crafted


def run(h: Harness) -> list[Figure]:
    recorder = UpdateRecorder()
    h.stack.chime.on_call_update = recorder
    h.call_log().call_live(
        LIVE_CALL,
        LiveCall(FORWARDED, CALLER, DESTINATIONS[0], int(time.time() * 1000), int(time.time() * 1000) - 5000),
    )
    outside = Figure("forged", "requests not from Slack → HTTP 401, 0 changes")
    members = Figure("forged", "crafted requests from a non-admin member → refused, 0 changes")
    try:
        with quiet():
            h.settle()
            _judge(h, recorder, outside, unsigned_requests(h.secret()), lambda status: status == 401)
            _judge(h, recorder, members, non_admin_requests(h), lambda status: status in (200, 404))
    finally:
        h.stack.chime.on_call_update = None
    outside.detail = (
        "bad/absent/malformed signatures, stale and future timestamps, replays, moved and altered bodies"
    )
    members.detail = "slash set/change/remove/transfer, 7 buttons, 4 form submissions"
    return [outside, members]


def _judge(
    h: Harness,
    recorder: UpdateRecorder,
    figure: Figure,
    requests: list[tuple[str, dict[str, Any]]],
    status_ok: Callable[[int], bool],
) -> None:
    for name, event in requests:
        figure.cases += 1
        before = _state(h, recorder)
        try:
            response = h.bot.handler(event, h.bot_context())
            status = int(response.get("statusCode", 0))
        except Exception as error:
            figure.fail(f"{name}: raised {error!r}")
            continue
        failed = h.settle()
        after = _state(h, recorder)
        if not status_ok(status):
            figure.fail(f"{name}: HTTP {status}")
        elif before != after:
            figure.fail(f"{name}: changed {short(_diff(before, after))}")
        elif failed:
            figure.fail(f"{name}: a lazy listener raised {short(failed[0].error)}")


def _diff(before: tuple[Any, ...], after: tuple[Any, ...]) -> dict[str, Any]:
    names = ("rules", "routing", "call updates delivered")
    out: dict[str, Any] = {}
    for name, old, new in zip(names, before, after, strict=True):
        if old != new:
            if isinstance(old, dict):
                out[name] = {
                    k: (old.get(k), new.get(k)) for k in set(old) | set(new) if old.get(k) != new.get(k)
                }
            else:
                out[name] = (old, new)
    return out
