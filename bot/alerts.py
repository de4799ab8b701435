"""Block Kit for channel alerts on call events (what ``bot.notifier`` posts to ``ALERT_CHANNEL``).

Call events are table items written by the SMA (``kind = "call_event"``, see
``switchboard.adapters.dynamodb.DynamoCallLog``). This module turns one into an :class:`Alert` (a
validated, JSON-friendly copy) and renders it. Rendering is pure — no Slack call, no clock — so the
unit tests pin every wording and the notifier only decides *where* a message goes.

Choices worth knowing:

* **Caller numbers are masked** (``+1303•••0123``): the alert channel is usually wider than the
  people allowed to see who called. The full number stays in the call record in the table.
  Destinations are *our* people's phones and are shown in full, since acting on the alert needs them.
* **Everything that came from the network is escaped.** A caller ID is whatever the calling
  network put in ``From``; unescaped, ``<!channel>`` as a caller ID would ping the whole channel.
* Event types this version does not know (``transfer_failed`` and ``pool_exhausted`` are written
  by a later feature) still render, generically, from their fields: an alert is never dropped for
  being new.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from switchboard.adapters.voicemail_messages import TranscriptStatus, VoicemailMessage
from switchboard.domain.events import CONNECT_BACKEND
from switchboard.domain.rules import CONNECT_PRODUCT, NumberHome
from switchboard.wording import ANSWERED_AT_UNKNOWN_TIME, home_text

REMOVE_ACTION = "alert_remove_forward"
EDIT_ACTION = "alert_edit_forward"
TRY_ANOTHER_ACTION = "alert_try_another"
ACTIONS_BLOCK = "alert_actions"
THREAD_BLOCK = "alert_thread"

MASK = "•••"
# Fields shown by the specific renderers or meaningless to people; the rest of an unknown event's
# scalar fields are listed as they are.
_INTERNAL_FIELDS = frozenset(
    {"pk", "sk", "kind", "ttl", "gsi1pk", "gsi1sk", "event_id", "event_type", "transaction_id"}
)
_SHOWN_FIELDS = frozenset({"dialed", "caller", "at", "all_failed", "attempts", "transfer_target", "backend"})
_CALLER_FIELD_HINTS = ("caller", "calling", "from_number", "ani")
_RESULTS = {
    "CallNotAnswered": "no answer",
    "answered": "answered",
    "abandoned": "caller hung up while it rang",
    "SystemException": "could not be reached (network error)",
    "InvalidActionParameter": "could not be dialled (invalid parameters)",
    "InvalidAudioSource": "greeting audio missing",
    # Amazon Connect's transfer block tells only these apart (connect_lambda.forwarding).
    "CallFailed": "busy or unreachable",
    "NoMatchingError": "could not be dialled",
}


class MalformedEventError(ValueError):
    """A call event item that cannot be turned into an alert (a poison record)."""


@dataclass(frozen=True, slots=True)
class AlertAttempt:
    destination: str
    result: str
    ring_ms: int

    @property
    def answered(self) -> bool:
        return self.result == "answered"


@dataclass(frozen=True, slots=True)
class Alert:
    """One call event, validated. ``dialed`` is empty for events about no number (pool exhausted)."""

    event_id: str
    event_type: str
    dialed: str = ""
    caller: str = ""
    at: str = ""
    transaction_id: str = ""
    all_failed: bool = False
    attempts: tuple[AlertAttempt, ...] = ()
    details: tuple[tuple[str, str], ...] = field(default=())
    transfer_target: str = ""  # transfer_failed: who the call was being handed to
    backend: str = ""  # "connect" for a call on an Amazon Connect number

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Alert:
        """From a decoded table item; raises :class:`MalformedEventError` with the reason."""
        event_id = item.get("event_id")
        event_type = item.get("event_type")
        if not isinstance(event_id, str) or not event_id:
            raise MalformedEventError("the call event has no event_id")
        if not isinstance(event_type, str) or not event_type:
            raise MalformedEventError(f"call event {event_id} has no event_type")
        for name in ("dialed", "caller", "at", "transaction_id", "transfer_target", "backend"):
            if item.get(name) is not None and not isinstance(item[name], str):
                raise MalformedEventError(f"call event {event_id}: {name} must be a string")
        raw_attempts = item.get("attempts") or []
        if not isinstance(raw_attempts, list):
            raise MalformedEventError(f"call event {event_id}: attempts must be a list")
        attempts: list[AlertAttempt] = []
        for index, raw in enumerate(raw_attempts):
            if not isinstance(raw, Mapping) or not isinstance(raw.get("destination"), str):
                raise MalformedEventError(f"call event {event_id}: attempt {index + 1} has no destination")
            ring_ms = raw.get("ring_ms", 0)
            if isinstance(ring_ms, bool) or not isinstance(ring_ms, int | float):
                raise MalformedEventError(
                    f"call event {event_id}: attempt {index + 1} ring_ms is not a number"
                )
            attempts.append(AlertAttempt(raw["destination"], str(raw.get("result", "")), int(ring_ms)))
        details = tuple(
            (name, _scalar(value))
            for name, value in sorted(item.items())
            if name not in _INTERNAL_FIELDS and name not in _SHOWN_FIELDS and _is_scalar(value)
        )
        return cls(
            event_id=event_id,
            event_type=event_type,
            dialed=str(item.get("dialed") or ""),
            caller=str(item.get("caller") or ""),
            at=str(item.get("at") or ""),
            transaction_id=str(item.get("transaction_id") or ""),
            all_failed=bool(item.get("all_failed", False)),
            attempts=tuple(attempts),
            details=details,
            transfer_target=str(item.get("transfer_target") or ""),
            backend=str(item.get("backend") or ""),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the idempotency layer hashes it; thread anchors store it)."""
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "dialed": self.dialed,
            "caller": self.caller,
            "at": self.at,
            "transaction_id": self.transaction_id,
            "all_failed": self.all_failed,
            "attempts": [
                {"destination": a.destination, "result": a.result, "ring_ms": a.ring_ms}
                for a in self.attempts
            ],
            **({"transfer_target": self.transfer_target} if self.transfer_target else {}),
            **({"backend": self.backend} if self.backend else {}),
            **dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Alert:
        return cls.from_item(data)

    @property
    def failed_destinations(self) -> tuple[str, ...]:
        return tuple(
            dict.fromkeys(a.destination for a in self.attempts if not a.answered and a.result != "abandoned")
        )

    @property
    def answered_by(self) -> str | None:
        return next((a.destination for a in self.attempts if a.answered), None)


def _is_scalar(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


# -- text helpers ----------------------------------------------------------------------------------


def escape(text: str) -> str:
    """Slack mrkdwn escaping: only ``&``, ``<`` and ``>`` are control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def mask_number(number: str) -> str:
    """``+13035550123`` → ``+1303•••0123``: enough to recognise a repeat caller, not to call back.

    Withheld or non-numeric caller IDs (``anonymous``) are shown as they are; they identify nobody.
    """
    number = number.strip()
    if not number:
        return "unknown"
    digits = "".join(ch for ch in number if ch.isdigit())
    if len(digits) < 4 or len(digits) < len(number.lstrip("+")) - 4:
        return number[:40]  # not a phone number (SIP user, "anonymous", ...)
    if len(digits) < 8:
        return MASK + digits[-2:]
    prefix = "+" + digits[:4] if number.startswith("+") else digits[:3]
    return f"{prefix}{MASK}{digits[-4:]}"


def _seconds(ms: int) -> str:
    seconds = max(0, round(ms / 1000))
    return f"{seconds} s" if seconds < 120 else f"{seconds // 60} min {seconds % 60} s"


def _epoch(iso: str) -> int | None:
    try:
        return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def when(iso: str) -> str:
    """Slack's date formatting (shown in each reader's time zone), with a UTC fallback."""
    epoch = _epoch(iso)
    if epoch is None:
        return escape(iso) if iso else "unknown time"
    fallback = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"<!date^{epoch}^{{date_short_pretty}} at {{time_secs}}|{fallback}>"


def describe_result(attempt: AlertAttempt, backend: str = "") -> str:
    """One attempt in words. On Amazon Connect an answered attempt's ring time is not known (its
    record counts the call from the dial), so it is not stated as "after 0 s of ringing"."""
    what = _RESULTS.get(attempt.result, escape(attempt.result) or "unknown result")
    if attempt.answered:
        if backend == CONNECT_BACKEND:
            return ANSWERED_AT_UNKNOWN_TIME
        return f"answered after {_seconds(attempt.ring_ms)} of ringing"
    if attempt.result == "CallNotAnswered":
        return f"no answer (rang {_seconds(attempt.ring_ms)})"
    return f"{what} after {_seconds(attempt.ring_ms)}"


def _plain(text: str, limit: int = 150) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:limit], "emoji": True}


def _mrkdwn(text: str, limit: int = 3000) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text[:limit]}


def _humanise(event_type: str) -> str:
    return event_type.replace("_", " ").strip().capitalize() or "Call event"


# -- rendering -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message: ``text`` is the notification / screen-reader fallback, ``blocks`` what people see."""

    text: str
    blocks: list[dict[str, Any]]


def render(alert: Alert) -> Rendered:
    """The alert message for any event type."""
    if alert.event_type == "bridge_failed":
        return _bridge_failed(alert)
    if alert.event_type == "transfer_failed":
        return _transfer_failed(alert)
    if alert.event_type == "pool_exhausted":
        return _generic(
            alert,
            ":no_entry:",
            "The DNIS pool is exhausted: no free number to take a call back",
            buttons=False,
            summary="Calls that should go to Amazon Connect cannot be transferred until a pair is "
            "released or `switchboard pool add` adds one.",
        )
    return _generic(
        alert, ":grey_question:", f"{_humanise(alert.event_type)}{_on(alert)}", buttons=bool(alert.dialed)
    )


def _on(alert: Alert) -> str:
    return f" on {alert.dialed}" if alert.dialed else ""


def _bridge_failed(alert: Alert) -> Rendered:
    number = alert.dialed or "one of our numbers"
    if alert.all_failed:
        icon, title = ":rotating_light:", f"Nobody answered a call to {number}"
        summary = "*Nobody answered — the caller got the failure message.*"
        if alert.attempts and all(a.result == "CallNotAnswered" for a in alert.attempts):
            summary += " Every destination rang out."
    else:
        icon, title = ":warning:", f"A destination failed on {number}"
        reached = alert.answered_by
        if reached:
            summary = f"*First destination failed, follow-me reached {escape(reached)}.*"
        else:
            summary = "*First destination failed; the caller hung up before another answered.*"
    lines = [
        f"{index}. {escape(a.destination)} — {describe_result(a, alert.backend)}"
        for index, a in enumerate(alert.attempts, 1)
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(f"{icon} {title}")},
        {"type": "section", "text": _mrkdwn(summary)},
        {"type": "section", "fields": _fields(alert)},
    ]
    if lines:
        blocks.append({"type": "section", "text": _mrkdwn("*Destinations tried*\n" + "\n".join(lines))})
    blocks.append(_context(alert))
    if alert.dialed:
        blocks.append(_buttons(alert))
    text = f"{icon} {title}: " + (
        "nobody answered, the caller got the failure message"
        if alert.all_failed
        else f"first destination failed, follow-me reached {alert.answered_by or 'nobody'}"
    )
    return Rendered(text=text, blocks=blocks)


def _transfer_failed(alert: Alert) -> Rendered:
    """The caller was taken back (from Amazon Connect or a destination) but the target never
    answered: they heard the failure message and the call ended."""
    target = alert.transfer_target or (alert.attempts[-1].destination if alert.attempts else "")
    last = alert.attempts[-1] if alert.attempts and alert.attempts[-1].destination == target else None
    how = describe_result(last, alert.backend) if last else "was not reached"
    title = f"A transfer failed{_on(alert)}"
    who = escape(target) if target else "The transfer target"
    summary = f"*{who} — {how}.* The caller heard the failure message and the call ended."
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(f":x: {title}")},
        {"type": "section", "text": _mrkdwn(summary)},
        {"type": "section", "fields": _fields(alert)},
    ]
    blocks += _details(alert)
    before = [a for a in alert.attempts if a is not last]
    if before:
        lines = [
            f"{i}. {escape(a.destination)} — {describe_result(a, alert.backend)}"
            for i, a in enumerate(before, 1)
        ]
        blocks.append({"type": "section", "text": _mrkdwn("*Before the transfer*\n" + "\n".join(lines))})
    blocks.append(_context(alert))
    if alert.dialed:
        blocks.append(_buttons(alert))
    text = f":x: {title}: {target or 'the target'} {how}; the caller got the failure message"
    return Rendered(text=text, blocks=blocks)


def _generic(alert: Alert, icon: str, title: str, *, buttons: bool, summary: str = "") -> Rendered:
    blocks: list[dict[str, Any]] = [{"type": "header", "text": _plain(f"{icon} {title}")}]
    if summary:
        blocks.append({"type": "section", "text": _mrkdwn(summary)})
    fields = _fields(alert)
    if fields:
        blocks.append({"type": "section", "fields": fields})
    blocks += _details(alert)
    if alert.attempts:
        lines = [
            f"{i}. {escape(a.destination)} — {describe_result(a, alert.backend)}"
            for i, a in enumerate(alert.attempts, 1)
        ]
        blocks.append({"type": "section", "text": _mrkdwn("*Attempts*\n" + "\n".join(lines))})
    blocks.append(_context(alert))
    if buttons:
        blocks.append(_buttons(alert))
    return Rendered(text=f"{icon} {title}", blocks=blocks)


def _details(alert: Alert) -> list[dict[str, Any]]:
    """Fields of the event this renderer does not know by name, so nothing the SMA wrote is hidden."""
    if not alert.details:
        return []
    lines = [
        f"• *{escape(_humanise(name))}*: {escape(_detail(name, value))}" for name, value in alert.details
    ]
    return [{"type": "section", "text": _mrkdwn("\n".join(lines[:20]))}]


def _detail(name: str, value: str) -> str:
    return mask_number(value) if any(hint in name.lower() for hint in _CALLER_FIELD_HINTS) else value[:300]


def _fields(alert: Alert) -> list[dict[str, Any]]:
    fields: list[dict[str, Any]] = []
    if alert.dialed:
        fields.append(_mrkdwn(f"*Number*\n{escape(alert.dialed)}"))
    if alert.caller or alert.event_type == "bridge_failed":
        fields.append(_mrkdwn(f"*Caller*\n{escape(mask_number(alert.caller))}"))
    fields.append(_mrkdwn(f"*When*\n{when(alert.at)}"))
    # A failed transfer's attempts are the leg it was taken back from and the target, not a
    # forward's destinations; its summary names the target and lists what came before.
    if alert.attempts and alert.event_type != "transfer_failed":
        tried = len(alert.attempts)
        fields.append(_mrkdwn(f"*Tried*\n{tried} destination{'' if tried == 1 else 's'}"))
    return fields


def _context(alert: Alert) -> dict[str, Any]:
    parts = [f"event `{escape(alert.event_type)}`"]
    if alert.transaction_id:
        parts.append(f"call `{escape(alert.transaction_id)}`")
    return {"type": "context", "elements": [_mrkdwn(" · ".join(parts))]}


def _home(alert: Alert) -> str:
    """Where the number's calls go once its forward is removed (the backend it lives in)."""
    return home_text(NumberHome(CONNECT_PRODUCT) if alert.backend == CONNECT_BACKEND else None)


def _buttons(alert: Alert) -> dict[str, Any]:
    number = alert.dialed
    try_value = json.dumps(
        {"number": number, "failed": list(alert.failed_destinations)}, separators=(",", ":")
    )
    return {
        "type": "actions",
        "block_id": ACTIONS_BLOCK,
        "elements": [
            {
                "type": "button",
                "action_id": TRY_ANOTHER_ACTION,
                "text": _plain("Try another destination", 75),
                "style": "primary",
                "value": try_value[:2000],
            },
            {
                "type": "button",
                "action_id": EDIT_ACTION,
                "text": _plain("Edit forward", 75),
                "value": number,
            },
            {
                "type": "button",
                "action_id": REMOVE_ACTION,
                "text": _plain("Remove forward", 75),
                "style": "danger",
                "value": number,
                "confirm": {
                    "title": _plain("Remove this forward?", 100),
                    "text": _plain(f"Calls to {number} will go to {_home(alert)} again.", 300),
                    "confirm": _plain("Remove", 30),
                    "deny": _plain("Keep", 30),
                    "style": "danger",
                },
            },
        ],
    }


def thread_summary(count: int, first_at: str, last_at: str) -> dict[str, Any]:
    """The context block a thread's parent gains once more failures joined it."""
    more = count - 1
    noun = "failure" if more == 1 else "failures"
    return {
        "type": "context",
        "block_id": THREAD_BLOCK,
        "elements": [
            _mrkdwn(
                f":repeat: *{count} failures on this number* since {when(first_at)} "
                f"({more} more {noun} in the thread, latest {when(last_at)})"
            )
        ],
    }


def render_parent(parent: Alert, count: int, last_at: str) -> Rendered:
    """The thread's first alert, updated with how many joined it since."""
    first = render(parent)
    if count <= 1:
        return first
    blocks = [dict(block) for block in first.blocks]
    # The summary goes right under the header so it is seen without scrolling through attempts.
    blocks.insert(1, thread_summary(count, parent.at, last_at))
    return Rendered(text=f"{first.text} ({count} failures on this number)", blocks=blocks)


def try_another_value(value: str) -> tuple[str, tuple[str, ...]]:
    """(number, failed destinations) from a "Try another destination" button's value."""
    try:
        data = json.loads(value)
    except ValueError:
        return value, ()
    if not isinstance(data, dict):
        return value, ()
    failed = data.get("failed") or []
    return str(data.get("number", "")), tuple(str(d) for d in failed if isinstance(d, str))


# -- voicemail (docs/alerts.md, "Voicemail") ----------------------------------------------------------

VOICEMAIL_EVENT = "voicemail"
HANDLED_ACTION = "voicemail_handled"
VOICEMAIL_ACTIONS_BLOCK = "voicemail_actions"
VOICEMAIL_GONE = ":warning: This voicemail is not stored any more (its retention ended)."
TRANSCRIPT_LIMIT = 2800  # a section's text is at most 3000 characters


def render_voicemail(voicemail: VoicemailMessage) -> Rendered:
    """The voicemail message, from everything known about it now (transcript, who handled it)."""
    caller = escape(mask_number(voicemail.caller))
    length = _seconds(voicemail.duration_seconds * 1000)
    title = f":mailbox_with_mail: Voicemail on {voicemail.dialed or 'one of our numbers'}"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(title)},
        {"type": "section", "text": _mrkdwn(f"*{caller} left a {length} message.*")},
        {
            "type": "section",
            "fields": [
                _mrkdwn(f"*Number*\n{escape(voicemail.dialed)}"),
                _mrkdwn(f"*Caller*\n{caller}"),
                _mrkdwn(f"*When*\n{when(voicemail.at)}"),
                _mrkdwn(f"*Length*\n{length}"),
            ],
        },
        {"type": "section", "text": _mrkdwn(_transcript_text(voicemail))},
    ]
    if voicemail.handled_by:
        handled = (
            f":white_check_mark: *Handled by <@{escape(voicemail.handled_by)}>* {when(voicemail.handled_at)}"
        )
        blocks.append({"type": "section", "text": _mrkdwn(handled)})
    context = (
        f"The recording is in this thread · event `voicemail` · call `{escape(voicemail.transaction_id)}`"
    )
    blocks.append({"type": "context", "elements": [_mrkdwn(context)]})
    if not voicemail.handled_by:
        blocks.append(_voicemail_buttons(voicemail))
    text = (
        f":mailbox_with_mail: Voicemail from {mask_number(voicemail.caller)} on {voicemail.dialed} ({length})"
    )
    if voicemail.handled_by:
        text += " — handled"
    return Rendered(text=text, blocks=blocks)


def _transcript_text(voicemail: VoicemailMessage) -> str:
    status = voicemail.transcript_status
    if status == TranscriptStatus.DONE and voicemail.transcript.strip():
        words = escape(voicemail.transcript.strip())
        if len(words) > TRANSCRIPT_LIMIT:
            words = words[:TRANSCRIPT_LIMIT].rsplit(" ", 1)[0] + " …"
        return "*Transcript*\n" + "\n".join(f"> {line}" for line in words.splitlines())
    if status == TranscriptStatus.DONE:
        return "*Transcript:* no words were recognised. Listen to the recording."
    if status == TranscriptStatus.FAILED:
        return ":warning: *Transcript:* transcription failed. Listen to the recording."
    if status == TranscriptStatus.OFF:
        return "*Transcript:* transcription is off. Listen to the recording."
    return "*Transcript:* _transcribing…_ it appears here when it is ready."


def _voicemail_buttons(voicemail: VoicemailMessage) -> dict[str, Any]:
    elements: list[dict[str, Any]] = [
        {
            "type": "button",
            "action_id": HANDLED_ACTION,
            "text": _plain("Mark handled", 75),
            "style": "primary",
            "value": voicemail.transaction_id[:2000],
        }
    ]
    if voicemail.dialed:
        try_value = json.dumps(
            {"number": voicemail.dialed, "failed": list(voicemail.failed_destinations)}, separators=(",", ":")
        )
        elements += [
            {
                "type": "button",
                "action_id": TRY_ANOTHER_ACTION,
                "text": _plain("Try another destination", 75),
                "value": try_value[:2000],
            },
            {
                "type": "button",
                "action_id": EDIT_ACTION,
                "text": _plain("Edit forward", 75),
                "value": voicemail.dialed,
            },
        ]
    return {"type": "actions", "block_id": VOICEMAIL_ACTIONS_BLOCK, "elements": elements}


def voicemail_file_title(voicemail: VoicemailMessage) -> str:
    """The shared recording's title (what Slack shows above the player)."""
    length = _seconds(voicemail.duration_seconds * 1000)
    return f"Voicemail from {mask_number(voicemail.caller)} on {voicemail.dialed} ({length})"


def voicemail_handled_text(voicemail: VoicemailMessage, user: str) -> str:
    """The answer to a "Mark handled" press: done, or who did it first."""
    if voicemail.handled_by == user:
        return f":white_check_mark: You marked this voicemail handled {when(voicemail.handled_at)}."
    return (
        f":information_source: <@{escape(voicemail.handled_by)}> already handled this voicemail "
        f"{when(voicemail.handled_at)}: no need to call back."
    )
