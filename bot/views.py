"""Block Kit for the bot: the forward modal, App Home, and the messages people read.

One module builds every Slack surface, so wording and layout stay consistent and the listeners
only decide *what* to show.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from bot.alerts import escape, mask_number, when
from bot.commands import parse_seconds, split_destinations
from switchboard.adapters.dynamodb import RuleChange
from switchboard.domain.durations import describe_duration
from switchboard.domain.events import LiveCallEntry
from switchboard.domain.people import (
    SYNC_ACTOR,
    DestinationSource,
    Person,
    Skipped,
    SourceKind,
    is_mention,
    mention_text,
    parse_mention,
)
from switchboard.domain.rules import (
    CONNECT_PRODUCT,
    DEFAULT_RING_TIMEOUT,
    DEFAULT_VOICEMAIL_SECONDS,
    MAX_DESTINATIONS,
    MAX_RING_TIMEOUT,
    MAX_VOICEMAIL_SECONDS,
    MIN_RING_TIMEOUT,
    MIN_VOICEMAIL_SECONDS,
    CallerIdMode,
    FailureAction,
    ForwardRule,
    GreetingMode,
)
from switchboard.service import ChangeResult
from switchboard.wording import (
    AMAZON_CONNECT,
    NO_FORWARDS,
    branch_text,
    calls_go_home,
    deferred_transfer_text,
    expiry_text,
    home_text,
    rule_details,
    utc_time_from_iso,
)

EXPIRY_ACTOR = "expiry"  # the history actor of the expiry job (bot/expiry.py)
MODAL_CALLBACK = "forward_modal"
TRANSFER_CALLBACK = "transfer_modal"
TRANSFER_ACTION = "transfer_call"
TRANSFER_BLOCK = "target"
MAX_INPUT_LENGTH = 64  # a phone number in any format, with room to spare
DEST_BLOCKS = tuple(f"dest_{i}" for i in range(1, MAX_DESTINATIONS + 1))
# Business hours in the form: the window, its time zone, and where calls go outside it.
HOURS_BLOCK, TIMEZONE_BLOCK, ELSE_BLOCK = "hours", "timezone", "else_to"
MAX_ELSE_LENGTH = MAX_INPUT_LENGTH * MAX_DESTINATIONS
EXPIRY_CHOICES = (
    ("never", "Never"),
    ("30m", "in 30 minutes"),
    ("1h", "in 1 hour"),
    ("2h", "in 2 hours"),
    ("4h", "in 4 hours"),
    ("8h", "in 8 hours"),
    ("1d", "in 1 day"),
    ("3d", "in 3 days"),
    ("7d", "in 7 days"),
)
GREETING_LABELS = {
    GreetingMode.LOOP: "Loop the greeting while it rings",
    GreetingMode.ONCE: "Play the greeting once, then ring",
    GreetingMode.NONE: "No greeting: the caller hears ringing",
}
FAILURE_LABELS = {
    FailureAction.PROMPT: "Play the failure message, then hang up",
    FailureAction.HANGUP: "Hang up",
    FailureAction.VOICEMAIL: "Take a voicemail for the alert thread",
}
CALLER_ID_LABELS = {
    CallerIdMode.DIALED: "Our number (hides both parties)",
    CallerIdMode.CALLER: "The caller's number",
}


def _text(text: str, kind: str = "plain_text") -> dict[str, Any]:
    return {"type": kind, "text": text[:3000]} if kind == "mrkdwn" else {"type": kind, "text": text[:150]}


def _option(value: str, label: str) -> dict[str, Any]:
    return {"text": _text(label), "value": value}


def _select(action: str, choices: list[tuple[str, str]], initial: str | None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "static_select",
        "action_id": action,
        "options": [_option(v, label) for v, label in choices],
    }
    if initial is not None:
        element["initial_option"] = _option(initial, dict(choices)[initial])
    return element


def _input(
    block_id: str, label: str, element: dict[str, Any], optional: bool = False, hint: str = ""
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": _text(label),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = _text(hint)
    return block


PEOPLE_BLOCK, GROUPS_BLOCK = "people", "groups"


def people_inputs(rule: ForwardRule | None, groups: list[tuple[str, str]] | None) -> list[dict[str, Any]]:
    """The form's people pickers: Slack users (``multi_users_select``) and user groups.

    Slack has no user-group select: the groups are a ``multi_static_select`` of ``usergroups.list``
    (``groups``: id, handle; at most 100), read when the form opens. ``None``: the groups could not
    be listed (no ``usergroups:read``), so the form offers people only.
    """
    sources = rule.sources if rule is not None else ()
    users = [source.id for source in sources if source.kind is SourceKind.USER]
    picked = [(source.id, source.label) for source in sources if source.kind is SourceKind.GROUP]
    blocks: list[dict[str, Any]] = []
    if groups is not None:
        offered = list(dict.fromkeys([*picked, *groups]))[:100]
        element: dict[str, Any] = {
            "type": "multi_static_select",
            "action_id": GROUPS_BLOCK,
            "placeholder": _text("On-call groups"),
            "options": [_option(group, f"@{handle or group}"[:75]) for group, handle in offered],
        }
        if picked:
            element["initial_options"] = [
                _option(group, f"@{handle or group}"[:75]) for group, handle in picked
            ]
        if offered:
            blocks.append(
                _input(GROUPS_BLOCK, "Forward to user groups", element, optional=True, hint=GROUP_HINT)
            )
    users_element: dict[str, Any] = {
        "type": "multi_users_select",
        "action_id": PEOPLE_BLOCK,
        "placeholder": _text("People"),
    }
    if users:
        users_element["initial_users"] = users
    blocks.append(
        _input(
            PEOPLE_BLOCK,
            "Forward to people",
            users_element,
            optional=True,
            hint="They ring at the number in their Slack profile, after the groups, in the order picked.",
        )
    )
    return blocks


GROUP_HINT = "Members ring in the group's order; the forward follows the group when it changes in Slack."


def _typed_numbers(rule: ForwardRule | None) -> tuple[str, ...]:
    """The numbers typed in as numbers (a forward to people keeps them among its sources)."""
    if rule is None:
        return ()
    if rule.sources:
        return tuple(source.id for source in rule.sources if source.kind is SourceKind.NUMBER)
    return rule.destinations


def forward_modal(
    numbers: list[str],
    rule: ForwardRule | None,
    channel_id: str = "",
    *,
    number: str | None = None,
    groups: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """The form to forward a number, bound to what it was opened for.

    Without ``number``: a *new* forward on one of ``numbers`` (picked in the form). With it: the
    forward on that number, which the form cannot change, pre-filled from ``rule`` (None: the number
    has no forward, so submitting makes a new one). ``private_metadata`` carries the number and the
    version the person is looking at (0: none), so the submission can only replace that.
    """
    fixed = number or (rule.number if rule else None)
    metadata = {"channel_id": channel_id, "number": fixed, "version": rule.version if rule else 0}
    blocks: list[dict[str, Any]] = []
    if fixed:
        blocks.append(
            {
                "type": "section",
                "block_id": "number_fixed",
                "text": _text(f"*Our number:* {escape(fixed)}", "mrkdwn"),
            }
        )
    else:
        number_element: dict[str, Any] = {
            "type": "static_select",
            "action_id": "number",
            "placeholder": _text("Choose one of our numbers"),
            "options": [_option(n, n) for n in numbers[:100]],
        }
        blocks.append(_input("number", "Our number", number_element))
    blocks += people_inputs(rule, groups)
    typed = _typed_numbers(rule)
    for index, block_id in enumerate(DEST_BLOCKS):
        element: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": block_id,
            "placeholder": _text("+12065550111, (206) 555-0111, or connect"),
            "max_length": MAX_INPUT_LENGTH,
        }
        if index < len(typed):
            element["initial_value"] = typed[index]
        label = "Forward to" if index == 0 else f"If nobody answers, try #{index + 1}"
        hint = (
            "A phone number, or `connect` (alone) for Amazon Connect. People picked above ring first."
            if index == 0
            else ""
        )
        # Optional: a forward may name only people; the submission checks that something is named.
        blocks.append(_input(block_id, label, element, optional=True, hint=hint))
    greeting = rule.greeting if rule else GreetingMode.LOOP
    failure = rule.failure if rule else FailureAction.PROMPT
    caller_id = rule.caller_id if rule else CallerIdMode.DIALED
    blocks.append(
        _input(
            "greeting",
            "Greeting",
            _select("greeting", [(m.value, GREETING_LABELS[m]) for m in GreetingMode], greeting.value),
        )
    )
    blocks.append(
        _input(
            "failure",
            "When nobody answers",
            _select("failure", [(m.value, FAILURE_LABELS[m]) for m in FailureAction], failure.value),
        )
    )
    blocks.append(
        _input(
            "caller_id",
            "Destinations see",
            _select("caller_id", [(m.value, CALLER_ID_LABELS[m]) for m in CallerIdMode], caller_id.value),
        )
    )
    timeout: dict[str, Any] = {
        "type": "number_input",
        "is_decimal_allowed": False,
        "action_id": "timeout",
        "min_value": str(MIN_RING_TIMEOUT),
        "max_value": str(MAX_RING_TIMEOUT),
        "initial_value": str(rule.ring_timeout if rule else DEFAULT_RING_TIMEOUT),
    }
    blocks.append(_input("timeout", "Ring each destination for (seconds)", timeout))
    voicemail_max: dict[str, Any] = {
        "type": "number_input",
        "is_decimal_allowed": False,
        "action_id": "voicemail_max",
        "min_value": str(MIN_VOICEMAIL_SECONDS),
        "max_value": str(MAX_VOICEMAIL_SECONDS),
        "initial_value": str(rule.voicemail_max_seconds if rule else DEFAULT_VOICEMAIL_SECONDS),
    }
    blocks.append(
        _input(
            "voicemail_max",
            "Longest voicemail (seconds)",
            voicemail_max,
            optional=True,
            hint="Used when nobody answers and the forward takes a voicemail.",
        )
    )
    choices = list(EXPIRY_CHOICES)
    initial_expiry = "never"
    if rule and rule.expires_at:
        choices.insert(0, ("keep", f"Keep: {expiry_text(rule.expires_at)}"[:75]))
        initial_expiry = "keep"
    blocks.append(
        _input("expires", "Stop forwarding", _select("expires", choices, initial_expiry), optional=True)
    )
    blocks += _hours_inputs(rule)
    return {
        "type": "modal",
        "callback_id": MODAL_CALLBACK,
        "title": _text("Edit the forward" if rule else "Forward a number"),
        "submit": _text("Forward"),
        "close": _text("Cancel"),
        "private_metadata": json.dumps(metadata),
        "blocks": blocks,
    }


def _hours_inputs(rule: ForwardRule | None) -> list[dict[str, Any]]:
    """Optional business hours: all three filled in, or none (the service says which is missing)."""
    hours = rule.hours if rule is not None else None
    fields = (
        (
            HOURS_BLOCK,
            "Business hours",
            "weekdays 09:00-17:30",
            hours.spec if hours else "",
            MAX_INPUT_LENGTH,
            "Days and a window: mon-fri, sat,sun, daily; 22:00-06:00 runs overnight.",
        ),
        (
            TIMEZONE_BLOCK,
            "Time zone of the business hours",
            "America/Chicago",
            hours.timezone if hours else "",
            MAX_INPUT_LENGTH,
            "",
        ),
        (
            ELSE_BLOCK,
            "Outside business hours, forward to",
            "+14155550133, +13125550122 or connect",
            ", ".join(rule.else_destinations) if rule is not None else "",
            MAX_ELSE_LENGTH,
            "Tried in order, like the destinations above.",
        ),
    )
    blocks = []
    for block_id, label, placeholder, initial, limit, hint in fields:
        element: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": block_id,
            "placeholder": _text(placeholder),
            "max_length": limit,
        }
        if initial:
            element["initial_value"] = initial
        blocks.append(_input(block_id, label, element, optional=True, hint=hint))
    return blocks


def prefill(
    rule: ForwardRule | None,
    number: str,
    channel: str,
    failed: tuple[str, ...] = (),
    *,
    groups: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """The forward form for ``number`` (fixed), from its current rule if any, minus ``failed``
    destinations (an alert's "Try another destination": the first empty line is where the new one
    goes, and a hint says which ones were taken out)."""
    view = forward_modal([], rule, channel, number=number, groups=groups)
    blocks: list[dict[str, Any]] = view["blocks"]
    if not failed:
        return view
    current: tuple[str, ...] = _typed_numbers(rule)
    kept = [d for d in current if d not in failed]
    by_id = {block.get("block_id"): block for block in blocks}
    for index, block_id in enumerate(DEST_BLOCKS):
        element = by_id[block_id]["element"]
        if index < len(kept):
            element["initial_value"] = kept[index]
        else:
            element.pop("initial_value", None)
    first_free = by_id[DEST_BLOCKS[min(len(kept), len(DEST_BLOCKS) - 1)]]
    first_free["hint"] = {
        "type": "plain_text",
        "text": f"Taken out after failing on the alerted call: {', '.join(failed)}"[:2000],
    }
    return view


def loading_modal(external_id: str) -> dict[str, Any]:
    """Opened at once (Slack's trigger is valid for 3 s); the form replaces it when our numbers
    have been listed, which is too slow for an acknowledgement."""
    return message_modal("Forward a number", ":hourglass_flowing_sand: Listing our numbers…", external_id)


def message_modal(title: str, text: str, external_id: str = "") -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "title": _text(title),
        "close": _text("Close"),
        "blocks": [{"type": "section", "text": _text(text, "mrkdwn")}],
    }
    if external_id:
        view["external_id"] = external_id
    return view


def no_numbers_text() -> str:
    return ":information_source: This account has no phone numbers switchboard may forward."


@dataclass(frozen=True, slots=True)
class ModalInput:
    number: str
    destinations: tuple[str, ...]
    greeting: str | None
    failure: str | None
    caller_id: str | None
    ring_timeout: int | None
    expiry: str  # "never" | "keep" | a duration like "2h"
    channel_id: str
    # The version the form was opened on; 0: a new forward (refused if the number has one by then).
    expected_version: int
    # The number is the one the form was opened for, not a choice made in it.
    fixed_number: bool = False
    # The numbers the form offered (a new forward's picker), as Slack sent the view back.
    offered: tuple[str, ...] = ()
    # Fields whose submitted value cannot even be read (block_id → why); Slack's own input limits
    # do not bind a forged submission.
    problems: dict[str, str] = field(default_factory=dict)
    # (block_id, text) of every destination field filled in, in order.
    destination_fields: tuple[tuple[str, str], ...] = ()
    voicemail_max_seconds: int | None = None
    hours: str | None = None
    timezone: str | None = None
    else_destinations: tuple[str, ...] = ()
    # Groups then people picked, as mentions (``<!subteam^S…|@handle>``, ``<@U…>``), in order.
    people: tuple[str, ...] = ()

    @property
    def entries(self) -> tuple[str, ...]:
        """Everything the forward names, in the order it rings: people picked, then numbers."""
        return (*self.people, *self.destinations)

    @property
    def number_block(self) -> str:
        """Where a problem with the number is shown (a fixed number has no input of its own)."""
        return DEST_BLOCKS[0] if self.fixed_number else "number"


def read_modal(view: dict[str, Any]) -> ModalInput:
    """The submitted form's values (still unvalidated strings)."""
    values: dict[str, Any] = view.get("state", {}).get("values", {})

    def value(block: str) -> str | None:
        # Every input's action_id is its block_id (unique names keep the form easy to fill in tests).
        element = values.get(block, {}).get(block, {})
        if element.get("selected_option"):
            return str(element["selected_option"].get("value", ""))
        raw = element.get("value")
        return str(raw).strip() if raw not in (None, "") else None

    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        metadata = {}
    if not isinstance(metadata, dict):
        metadata = {}
    problems: dict[str, str] = {}
    for block in ("number", *DEST_BLOCKS):
        if len(value(block) or "") > MAX_INPUT_LENGTH:
            problems[block] = "That is too long for a phone number."
    for block, limit in (
        (HOURS_BLOCK, MAX_INPUT_LENGTH),
        (TIMEZONE_BLOCK, MAX_INPUT_LENGTH),
        (ELSE_BLOCK, MAX_ELSE_LENGTH),
    ):
        if len(value(block) or "") > limit:
            problems[block] = "That is too long."
    timeout = value("timeout")
    ring_timeout = parse_seconds(timeout) if timeout else None
    if timeout and (ring_timeout is None or not MIN_RING_TIMEOUT <= ring_timeout <= MAX_RING_TIMEOUT):
        problems["timeout"] = f"Ring time must be {MIN_RING_TIMEOUT}-{MAX_RING_TIMEOUT} seconds."
    longest = value("voicemail_max")
    voicemail_max = parse_seconds(longest) if longest else None
    if longest and (
        voicemail_max is None or not MIN_VOICEMAIL_SECONDS <= voicemail_max <= MAX_VOICEMAIL_SECONDS
    ):
        problems["voicemail_max"] = (
            f"A voicemail may last {MIN_VOICEMAIL_SECONDS}-{MAX_VOICEMAIL_SECONDS} seconds."
        )
    fixed = metadata.get("number")
    version = metadata.get("version")
    fields = tuple((b, v) for b, v in ((b, value(b)) for b in DEST_BLOCKS) if v)
    return ModalInput(
        number=fixed if isinstance(fixed, str) and fixed else value("number") or "",
        destinations=tuple(v for _, v in fields),
        greeting=value("greeting"),
        failure=value("failure"),
        caller_id=value("caller_id"),
        ring_timeout=ring_timeout,
        voicemail_max_seconds=voicemail_max,
        expiry=value("expires") or "never",
        channel_id=str(metadata.get("channel_id") or ""),
        expected_version=version if isinstance(version, int) and not isinstance(version, bool) else 0,
        fixed_number=isinstance(fixed, str) and bool(fixed),
        offered=_offered_numbers(view),
        problems=problems,
        destination_fields=fields,
        hours=value(HOURS_BLOCK),
        timezone=value(TIMEZONE_BLOCK),
        else_destinations=split_destinations(value(ELSE_BLOCK) or "") if ELSE_BLOCK not in problems else (),
        people=_picked_people(values),
    )


def _picked_people(values: dict[str, Any]) -> tuple[str, ...]:
    groups = values.get(GROUPS_BLOCK, {}).get(GROUPS_BLOCK, {}).get("selected_options") or []
    users = values.get(PEOPLE_BLOCK, {}).get(PEOPLE_BLOCK, {}).get("selected_users") or []
    entries: list[str] = []
    for option in groups[: MAX_DESTINATIONS * 4]:
        group = str(option.get("value", "")) if isinstance(option, dict) else ""
        label = str(((option.get("text") or {}).get("text")) or "") if isinstance(option, dict) else ""
        source = parse_mention(f"<!subteam^{group}|{label}>") or parse_mention(f"<!subteam^{group}>")
        if source is not None:
            entries.append(mention_text(source))
    for user in users[: MAX_DESTINATIONS * 4]:
        source = parse_mention(f"<@{user}>")
        if source is not None:
            entries.append(mention_text(source))
    return tuple(entries)


def _offered_numbers(view: dict[str, Any]) -> tuple[str, ...]:
    for block in view.get("blocks") or []:
        if isinstance(block, dict) and block.get("block_id") == "number":
            options = (block.get("element") or {}).get("options") or []
            return tuple(str(o.get("value", "")) for o in options if isinstance(o, dict))
    return ()


def already_forwarded_text(rule: ForwardRule) -> str:
    """A new forward asked for a number that has one (a form field error: plain text, short)."""
    return f"{rule.number} is already forwarded ({', '.join(rule.destinations)}). Use Edit on it instead."


def changed_meanwhile_text(number: str, rule: ForwardRule | None) -> str:
    now = f"it now goes to {', '.join(rule.destinations)}" if rule else "it is no longer forwarded"
    return f"Someone else changed the forward on {number} just now: {now}. Close this and open it again."


def _destinations(destinations: tuple[str, ...] | list[str]) -> str:
    return escape(", ".join(destinations))


def change_done_text(result: ChangeResult) -> str:
    """The answer to whoever asked for a change that went through (or was already so)."""
    text = (":white_check_mark: " if result.changed else ":information_source: ") + escape(result.message)
    rule = result.new
    if (
        result.action == "set"
        and rule is not None
        and rule.greeting is GreetingMode.LOOP
        and _on_connect(rule)
    ):
        text += "\n" + connect_loop_note(rule.number)
    return text


def _on_connect(rule: ForwardRule) -> bool:
    return rule.home is not None and rule.home.product_type == CONNECT_PRODUCT


def connect_loop_note(number: str) -> str:
    """Amazon Connect cannot play audio while a destination rings (docs/connect.md)."""
    return (
        f":information_source: {escape(number)} is an Amazon Connect number: there the greeting plays "
        "once, before the first destination rings, not over the ringing."
    )


def rule_text(rule: ForwardRule) -> str:
    text = f"*{escape(rule.number)}* → {_rule_destinations(rule, mention=True)}\n_{rule_details(rule)}_"
    if any(source.is_person for source in rule.else_sources):
        text += f"\noutside business hours → {roster_text(rule.else_sources, mention=True)}"
    return text


def _rule_destinations(rule: ForwardRule, *, mention: bool = False) -> str:
    if rule.is_connect_entry:
        return AMAZON_CONNECT
    if rule.names_people:
        return roster_text(rule.sources, mention=mention)
    return _destinations(rule.destinations)


def _person_text(person: Person, *, mention: bool) -> str:
    who = f"<@{person.user_id}>" if mention else escape(person.name or person.user_id)
    return f"{who} ({escape(mask_number(person.number))})" if person.number else f"{who} (no number)"


def roster_text(sources: tuple[DestinationSource, ...], *, mention: bool = False) -> str:
    """A forward to people as a roster: ``@sre-oncall: <@U1> (+1206•••0111), <@U2> (no number)``.

    People's numbers come from their Slack profiles: masked, like callers'. ``mention`` names them
    with Slack mentions (lists, status, App Home); channel announcements use plain names so a
    change of rotation does not notify everyone in it.
    """
    parts: list[str] = []
    for source in sources:
        if source.kind is SourceKind.NUMBER:
            parts.append(escape(source.id))
        elif source.kind is SourceKind.USER:
            if source.people:
                parts.append(_person_text(source.people[0], mention=mention))
            else:
                parts.append(f"{escape(source.handle)} (not found)")
        else:
            people = ", ".join(_person_text(p, mention=mention) for p in source.people) or "nobody"
            parts.append(f"{escape(source.handle)}: {people}")
    return "; ".join(parts)


def with_roster(text: str, result: ChangeResult | None, skipped: tuple[Skipped, ...]) -> str:
    """The reply to a forward, with the people it reaches (and whom it left out, and why)."""
    lines = [text]
    rule = result.new if result is not None else None
    if rule is not None and rule.names_people:
        lines.append(f":busts_in_silhouette: {roster_text(rule.sources, mention=True)}")
    if skipped:
        lines.append(skipped_text(skipped))
    return "\n".join(lines)


def unescaped_mention_text(typed: str) -> str:
    return (
        f":warning: `{escape(typed[:40])}` reached the bot as plain text, not as a Slack mention. Pick the "
        "person or group from Slack's @ menu; if that does not help, the app's `/forward` command needs "
        '"Escape channels, users, and links" turned on (slack/manifest.yml: `should_escape: true`).'
    )


def skipped_text(skipped: tuple[Skipped, ...]) -> str:
    """Who a forward to people left out, and why (added to the reply)."""
    if not skipped:
        return ""
    lines = [f"• {skip.who} {escape(skip.why)}" for skip in skipped]
    return ":information_source: Left out:\n" + "\n".join(lines)


def sync_text(change: RuleChange) -> str:
    """A re-resolution's announcement: ``@sre-oncall changed: now Carol, then Dave`` per source
    whose people changed (``@sre-oncall is now @oncall-sre`` first if it was renamed), then the
    number's forward."""
    before = {source.id: source for source in (change.old.sources if change.old else ())}
    lines: list[str] = []
    assert change.new is not None
    for source in change.new.sources:
        old = before.get(source.id)
        if old is not None and source.is_person and old.handle != source.handle:
            lines.append(f"{escape(old.handle)} is now {escape(source.handle)}")  # renamed in Slack
        if not source.is_person or (old is not None and old.people == source.people):
            continue
        people = [p for p in source.people if p.number]
        names = [escape(p.name or p.user_id) for p in people]
        if source.kind is SourceKind.USER:
            what = "has a new number" if people else "has no usable number now"
            lines.append(f"{escape(source.handle)} {what}")
        elif names:
            rest = "".join(f", then {name}" for name in names[1:])
            lines.append(f"{escape(source.handle)} changed: now {names[0]}{rest}")
        else:
            lines.append(f"{escape(source.handle)} changed: nobody with a number")
    headline = "; ".join(lines) or "Slack's people changed"
    return (
        f":busts_in_silhouette: {headline}. *{escape(change.number)}* now forwards → "
        f"{_rule_destinations(change.new)}"
    )


def list_blocks(rules: list[ForwardRule]) -> list[dict[str, Any]]:
    if not rules:
        return [{"type": "section", "text": _text(NO_FORWARDS, "mrkdwn")}]
    blocks: list[dict[str, Any]] = [{"type": "header", "text": _text(f"Forwards ({len(rules)})")}]
    blocks += [{"type": "section", "text": _text(rule_text(rule), "mrkdwn")} for rule in rules]
    return blocks


def status_blocks(
    number: str,
    rule: ForwardRule | None,
    calls: list[dict[str, Any]],
    live: list[LiveCallEntry] | None = None,
    now_ms: int | None = None,
) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": _text(rule_text(rule) if rule else f"*{escape(number)}* is not forwarded.", "mrkdwn"),
        }
    ]
    if rule is not None:
        blocks += branch_blocks(rule, now_ms / 1000 if now_ms is not None else None)
    if rule and rule.updated_by:
        blocks.append(
            {
                "type": "context",
                "elements": [_text(last_changed_text(rule), "mrkdwn")],
            }
        )
    if calls:
        lines = [_call_line(c) for c in calls]
        blocks.append({"type": "section", "text": _text("*Last calls*\n" + "\n".join(lines), "mrkdwn")})
    if live:
        blocks += live_blocks(live, now_ms, title="Connected now")
    return blocks


def branch_blocks(rule: ForwardRule, now: float | None = None) -> list[dict[str, Any]]:
    """For a rule with business hours: which branch takes calls now, and until when."""
    text = branch_text(rule, now)
    if not text:
        return []
    return [{"type": "context", "elements": [_text(f":clock3: {escape(text)}", "mrkdwn")]}]


def _call_line(record: dict[str, Any]) -> str:
    """One past call; every field came from a call (the caller's own ID included), so all escaped."""
    started = str(record.get("started_at", ""))[:19].replace("T", " ")
    caller = mask_number(str(record.get("caller") or "?"))
    tried = [str(d) for d in record.get("destinations_tried") or []]
    line = f"• {escape(started)} from {escape(caller)}: *{escape(str(record.get('outcome', '')))}*"
    return line + (f" ({_destinations(tried)})" if tried else "")


def live_call_text(entry: LiveCallEntry, now_ms: int | None = None) -> str:
    """One live call as people read it; the caller masked as in alerts, the call id to act on."""
    call = entry.call
    now = int(time.time() * 1000) if now_ms is None else now_ms
    talking = describe_duration(max(0, (now - call.since_ms) // 1000)) if now > call.since_ms else "just now"
    callee = f"Amazon Connect ({call.callee})" if call.via_connect else call.callee
    how = "transferred to" if call.transferred else "talking to"
    state = f"{how} {escape(callee)} for {talking}"
    if entry.on_connect:
        # A contact flow never sees the answer: ringing until the ring timeout could have ended it,
        # and the talk time counts from the dial.
        if entry.may_be_ringing(now):
            state = f"{'transfer ' if call.transferred else ''}ringing {escape(callee)}"
        else:
            state = f"{how} {escape(callee)} for up to {talking}"
        state += f" ({AMAZON_CONNECT})"
    return (
        f"*{escape(call.dialed)}* · from {escape(mask_number(call.caller))} · {state}"
        f"\ncall id `{escape(entry.transaction_id)}`"
    )


def live_blocks(
    live: list[LiveCallEntry],
    now_ms: int | None = None,
    *,
    title: str = "Connected calls",
    buttons: bool = True,
) -> list[dict[str, Any]]:
    """Live calls, each with a Transfer button (authorisation is checked when it is pressed)."""
    if not live:
        return [{"type": "section", "text": _text("No call is connected right now.", "mrkdwn")}]
    blocks: list[dict[str, Any]] = [{"type": "section", "text": _text(f"*{title} ({len(live)})*", "mrkdwn")}]
    for entry in live[:20]:
        section: dict[str, Any] = {"type": "section", "text": _text(live_call_text(entry, now_ms), "mrkdwn")}
        if buttons:
            section["accessory"] = {
                "type": "button",
                "action_id": TRANSFER_ACTION,
                "text": _text("Transfer…"),
                "value": entry.transaction_id,
            }
        blocks.append(section)
    return blocks


def transfer_modal(entry: LiveCallEntry, channel_id: str = "", *, from_home: bool = False) -> dict[str, Any]:
    """Where to transfer one live call (``from_home``: App Home is refreshed afterwards)."""
    metadata = {"transaction_id": entry.transaction_id, "channel_id": channel_id, "home": from_home}
    return {
        "type": "modal",
        "callback_id": TRANSFER_CALLBACK,
        "title": _text("Transfer a call"),
        "submit": _text("Transfer"),
        "close": _text("Cancel"),
        "private_metadata": json.dumps(metadata),
        "blocks": [
            {"type": "section", "text": _text(live_call_text(entry), "mrkdwn")},
            _input(
                TRANSFER_BLOCK,
                "Transfer to",
                {
                    "type": "plain_text_input",
                    "action_id": TRANSFER_BLOCK,
                    "placeholder": _text("+13125550199, or sip:<user> on our phone system"),
                    "max_length": MAX_INPUT_LENGTH,
                },
            ),
            {
                "type": "context",
                "elements": [
                    _text(
                        (
                            f"{AMAZON_CONNECT} cannot take the call away from its callee: the transfer "
                            'waits until they hang up, then the caller hears "please hold" and is '
                            "connected to the new target (a phone number)."
                        )
                        if entry.on_connect
                        else 'The current callee is hung up, the caller hears "please hold" and is '
                        "connected to the new target.",
                        "mrkdwn",
                    )
                ],
            },
        ],
    }


@dataclass(frozen=True, slots=True)
class TransferInput:
    transaction_id: str
    target: str
    channel_id: str
    from_home: bool = False


def read_transfer_modal(view: dict[str, Any]) -> TransferInput:
    values: dict[str, Any] = view.get("state", {}).get("values", {})
    target = values.get(TRANSFER_BLOCK, {}).get(TRANSFER_BLOCK, {}).get("value") or ""
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        metadata = {}
    if not isinstance(metadata, dict):
        metadata = {}
    return TransferInput(
        transaction_id=str(metadata.get("transaction_id") or ""),
        target=str(target).strip(),
        channel_id=str(metadata.get("channel_id") or ""),
        from_home=metadata.get("home") is True,
    )


def transfer_text(entry: LiveCallEntry, target: str, actor: str, result: str) -> str:
    """The channel announcement of a transfer (the audit trail, like routing changes)."""
    call = entry.call
    return (
        f":twisted_rightwards_arrows: {_who(actor)} transferred the call on *{escape(call.dialed)}* "
        f"(from {escape(mask_number(call.caller))}, with {escape(call.callee)}) to {escape(target)}: "
        f"{escape(result)}"
    )


def queued_result(entry: LiveCallEntry) -> str:
    """The channel's word for a deferred transfer (Amazon Connect): what it waits for."""
    return deferred_transfer_text(entry.call.callee)


def transfer_queued(entry: LiveCallEntry, target: str, alert_channel: str = "") -> str:
    """The reply to a transfer of an Amazon Connect call: queued, and what happens when."""
    call = entry.call
    where = f" in <#{alert_channel}>" if alert_channel else ""
    return (
        f":hourglass: Transfer queued: {AMAZON_CONNECT} cannot take the call on {escape(call.dialed)} "
        f"away from {escape(call.callee)}, so it happens when they hang up. Then the caller hears "
        f'"please hold" and {escape(target)} rings. If {escape(target)} does not answer, the caller '
        f"hears the failure message and the failed transfer is alerted{where}; `/forward status "
        f"{escape(call.dialed)}` shows how it went. (call id `{escape(entry.transaction_id)}`)"
    )


def transfer_started(entry: LiveCallEntry, target: str) -> str:
    call = entry.call
    return (
        f":telephone_receiver: Taking the call on {escape(call.dialed)} back from {escape(call.callee)} "
        f"and transferring it to {escape(target)}… (call id `{escape(entry.transaction_id)}`)"
    )


def transfer_outcome(connected: bool | None, detail: str) -> str:
    """How a transfer went: ``connected`` True / False, or None while it is still ringing."""
    icon = ":hourglass:" if connected is None else ":white_check_mark:" if connected else ":x:"
    return f"{icon} {escape(detail)}"


def working_on_forward(number: str, destinations: tuple[str, ...]) -> str:
    shown = ", ".join(d if is_mention(d) else escape(d) for d in destinations)  # Slack shows mentions
    return f":hourglass_flowing_sand: Forwarding {escape(number)} → {shown}…"


def working_on_remove(number: str) -> str:
    return f":hourglass_flowing_sand: Removing the forward on {escape(number)}…"


def working_on_transfer(call: str, target: str) -> str:
    return f":hourglass_flowing_sand: Transferring the call on {escape(call)} to {escape(target)}…"


def last_changed_text(rule: ForwardRule) -> str:
    """``last changed by @alice at 2026-11-23 09:00 UTC``: one line for the App Home and status."""
    return f"last changed by {_who(rule.updated_by)} at {escape(utc_time_from_iso(rule.updated_at))}"


def _who(actor: str) -> str:
    """A Slack user as a mention; anyone else (``cli:<login>``, ``expiry``) as plain text."""
    return f"<@{actor}>" if actor[:1] in ("U", "W") and actor.isalnum() else escape(actor)


def change_text(result: ChangeResult, actor: str) -> str:
    """The channel announcement of a change: who, which number, old → new."""
    who = _who(actor)
    if result.action == "set" and result.new is not None:
        before = f" (was: {_rule_destinations(result.old)})" if result.old else ""
        return (
            f":arrow_right_hook: {who} forwarded *{escape(result.number)}* → "
            f"{_rule_destinations(result.new)}{before} — {rule_details(result.new)}"
        )
    was = f" (was → {_rule_destinations(result.old)})" if result.old else ""
    return (
        f":leftwards_arrow_with_hook: {who} removed the forward on *{escape(result.number)}*{was}; "
        f"{calls_go_home(result.old.home if result.old else None)}"
    )


def expiry_failures_text(reasons: dict[str, str]) -> str:
    """The expiry job's one message per run about forwards it could not expire.

    ``reasons`` maps each number to a plain sentence, or "" when only the log can say why.
    """
    lines = [
        f"• *{number}*: {escape(reason) if reason else 'an unexpected error (see the log)'}"
        for number, reason in reasons.items()
    ]
    return "\n".join(
        [
            ":warning: The expiry job could not remove these expired forwards. Their callers hear "
            "that the number is not in service until this is fixed; the job tries again on its next "
            "run.",
            *lines,
        ]
    )


def history_text(change: RuleChange) -> str:
    """The channel announcement of a rule-history item (every surface's change, from the stream).

    The wording is :func:`change_text`'s, with the time of the change. An expiry says it expired;
    the rollback of a change whose routing failed says that change did not take effect.
    """
    at = f" ({when(change.at)})" if change.at else ""
    if change.is_undo:
        return _undo_text(change) + at
    if change.actor == SYNC_ACTOR and change.action == "set" and change.new is not None:
        return sync_text(change) + at
    result = ChangeResult(change.action, change.number, change.old, change.new, changed=True)
    text = change_text(result, change.actor) + at
    if change.action == "remove" and change.actor == EXPIRY_ACTOR:
        return f":alarm_clock: The forward on *{escape(change.number)}* expired. " + text
    return text


def _undo_text(change: RuleChange) -> str:
    # The rollback restores the rule from before the failed change: ``new`` is that rule again.
    now = (
        f"it forwards → {_destinations(change.new.destinations)} as before"
        if change.new is not None
        else "it has no forward, as before"
    )
    return (
        f":warning: {_who(change.by)}'s change to *{escape(change.number)}* did not take effect: routing the "
        f"number failed, so the change was undone and {now}"
    )


def home_view(
    rules: list[ForwardRule],
    may_change: bool,
    live: list[LiveCallEntry] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _text("Call forwarding")},
        {
            "type": "section",
            "text": _text(
                "Calls to our numbers can be forwarded to up to 5 destinations, tried in order. "
                "Type `/forward help` anywhere for the commands.",
                "mrkdwn",
            ),
        },
    ]
    if may_change:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "home_new",
                        "text": _text("Forward a number"),
                        "style": "primary",
                    }
                ],
            }
        )
    blocks.append({"type": "divider"})
    if not rules:
        blocks.append({"type": "section", "text": _text(NO_FORWARDS, "mrkdwn")})
    for rule in rules:
        section: dict[str, Any] = {"type": "section", "text": _text(rule_text(rule), "mrkdwn")}
        blocks.append(section)
        blocks += branch_blocks(rule, now)
        if rule.updated_by:
            blocks.append(
                {
                    "type": "context",
                    "elements": [_text(last_changed_text(rule), "mrkdwn")],
                }
            )
        if may_change:
            blocks.append(
                {
                    "type": "actions",
                    "block_id": f"rule_{rule.number.lstrip('+')}",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": "edit_forward",
                            "text": _text("Edit"),
                            "value": rule.number,
                        },
                        {
                            "type": "button",
                            "action_id": "remove_forward",
                            "text": _text("Remove"),
                            "value": rule.number,
                            "style": "danger",
                            "confirm": {
                                "title": _text("Remove this forward?"),
                                "text": _text(
                                    f"Calls to {escape(rule.number)} will go to "
                                    f"{home_text(rule.home)} again.",
                                    "mrkdwn",
                                ),
                                "confirm": _text("Remove"),
                                "deny": _text("Keep"),
                            },
                        },
                    ],
                }
            )
    if live:
        blocks.append({"type": "divider"})
        blocks += live_blocks(live, buttons=may_change)
    return {"type": "home", "blocks": blocks[:100]}


# -- when something goes wrong (see bot.failures: internals go to the log, never here) ------------


def refused_text(reason: str) -> str:
    return f":warning: {escape(reason)}"


def transfers_not_set_up_text(why: str) -> str:
    return f":x: Transfers are not set up here: {escape(why)}"


def concurrent_change_text(message: str) -> str:
    return f":x: {escape(message)}"


def _reference(reference: str) -> str:
    return f"(reference `{reference}`)"


def change_failed_text(message: str, reference: str, *, consistent: bool) -> str:
    warning = "" if consistent else " :rotating_light: Please check the number's routing."
    return f":x: {escape(message)}{warning} {_reference(reference)}"


def _nothing_changed(changing: bool) -> str:
    return " Nothing was changed." if changing else ""


def table_unavailable_text(reference: str, *, changing: bool) -> str:
    return (
        ":x: The forward table could not be reached just now."
        f"{_nothing_changed(changing)} Please try again in a minute. {_reference(reference)}"
    )


def inventory_unavailable_text(reference: str, *, changing: bool) -> str:
    return (
        ":x: Our list of phone numbers could not be read just now."
        f"{_nothing_changed(changing)} Please try again in a minute. {_reference(reference)}"
    )


def not_configured_text(reference: str) -> str:
    return f":x: This part of switchboard is not set up; ask whoever runs it. {_reference(reference)}"


def internal_error_text(reference: str, *, changing: bool) -> str:
    # An unexpected error may have struck half-way: do not promise that nothing changed.
    check = " Look at `/forward list` before trying again." if changing else " Please try again."
    return f":x: Something went wrong on our side.{check} {_reference(reference)}"


def call_ended_text(transaction_id: str) -> str:
    return f":information_source: Call `{escape(transaction_id)}` has already ended."


def home_problem_view(text: str) -> dict[str, Any]:
    """App Home when the forwards cannot be listed: say so instead of showing nothing."""
    return {
        "type": "home",
        "blocks": [
            {"type": "header", "text": _text("Call forwarding")},
            {"type": "section", "text": _text(text, "mrkdwn")},
        ],
    }


# -- who may change routing (bot.auth decides; these say it) ---------------------------------------

HOW_TO_CONFIGURE = (
    "Ask whoever runs switchboard to add your Slack user ID (U…) or one of your user groups (S…) "
    "to `FORWARD_ADMINS`."
)


def malformed_admin_text(entry: str) -> str:
    return (
        f"the entry `{escape(entry[:40])}` is not a Slack user ID (U…/W…) or user-group ID (S…) and is "
        "ignored: write IDs in capitals, comma-separated, without <@…>"
    )


def _malformed_note(malformed: tuple[str, ...]) -> str:
    return "".join(f" (`FORWARD_ADMINS`: {malformed_admin_text(entry)}.)" for entry in malformed[:3])


def no_admins_text(malformed: tuple[str, ...]) -> str:
    state = "has no valid entry" if malformed else "is empty"
    return (
        f"Nobody may change forwards from Slack yet: `FORWARD_ADMINS` {state}."
        f"{_malformed_note(malformed)} {HOW_TO_CONFIGURE}"
    )


def not_an_admin_text(user_id: str, malformed: tuple[str, ...]) -> str:
    return (
        f"Sorry <@{escape(user_id)}>, you may look at forwards but not change them. {HOW_TO_CONFIGURE}"
        f"{_malformed_note(malformed)}"
    )


def membership_unknown_text() -> str:
    return (
        "Slack could not tell me just now whether you are in an admin user group, so nothing was "
        "changed. Please try again in a minute."
    )
