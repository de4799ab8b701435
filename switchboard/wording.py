"""How switchboard speaks about forwards: one wording for the CLI, Slack and the channel.

A person who sets a forward from the CLI and reads about it in Slack must meet the same words for
the same thing, so every phrase about a rule (its destinations, options and expiry), where calls
go once a forward is removed, and every time shown to people is built here and nowhere else.

* Times are ``2026-11-30 20:10 UTC`` (Slack's own date tokens may show a reader's local time, with
  this as their fallback).
* The system behind our numbers (the PBX on the voice connector) is "the phone system".
* A forward to Amazon Connect has no greeting, failure or caller-ID options to show: Connect answers.
* Business hours read ``weekdays 09:00–17:30 America/Chicago, else +14155550133``; when the branch
  next switches is a time as above, with the local wall clock beside it (``17:30 America/Chicago``).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from switchboard.domain.durations import describe_duration
from switchboard.domain.hours import BusinessHours, days_phrase
from switchboard.domain.rules import (
    CONNECT,
    CONNECT_PRODUCT,
    CallerIdMode,
    FailureAction,
    ForwardRule,
    NumberHome,
)

PHONE_SYSTEM = "the phone system"
NO_FORWARDS = "No number is forwarded right now."
AMAZON_CONNECT = "Amazon Connect"
CALLS_GO_HOME = f"calls go to {PHONE_SYSTEM} again"
# Where a number goes and comes back to, by the backend it lives in (never "SIP media application"
# or "voice connector" for a number in Amazon Connect).
SIP_MEDIA_APPLICATION = "the SIP media application"
VOICE_CONNECTOR = "the voice connector"
CONNECT_FORWARDING_FLOW = f"the {AMAZON_CONNECT} forwarding flow"
OWN_CONNECT_FLOW = f"its own {AMAZON_CONNECT} flow"
CALLER_ID = {
    CallerIdMode.DIALED: "caller ID: our number",
    CallerIdMode.CALLER: "caller ID: the caller's number",
}


def utc_time(epoch_seconds: float) -> str:
    """``2026-11-30 20:10 UTC``: the one way a time is written for people."""
    return datetime.fromtimestamp(epoch_seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")


def utc_time_from_iso(iso: str) -> str:
    """An ISO 8601 time from the table (``2026-11-30T19:09:17.681Z``) the way people read times."""
    try:
        return utc_time(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return iso


def expiry_text(expires_at: int | None, now: float | None = None) -> str:
    """``never expires`` · ``expires 2026-11-30 22:10 UTC (in 2h)`` · ``expired 2026-11-30 20:10 UTC``."""
    if expires_at is None:
        return "never expires"
    left = expires_at - int(time.time() if now is None else now)
    when = utc_time(expires_at)
    return f"expired {when}" if left <= 0 else f"expires {when} (in {describe_duration(left)})"


def destinations_text(rule: ForwardRule) -> str:
    return branch_destinations_text(rule.destinations)


def branch_destinations_text(destinations: tuple[str, ...]) -> str:
    """One branch's destinations: ``+12065550111, +13125550122`` or ``Amazon Connect``."""
    return AMAZON_CONNECT if destinations == (CONNECT,) else ", ".join(destinations)


def business_hours_text(hours: BusinessHours) -> str:
    """``weekdays 09:00–17:30 America/Chicago`` (``daily 22:00–06:00 UTC`` runs overnight)."""
    window = hours.window_text.replace("-", "–")
    return f"{days_phrase(hours.days)} {window} {hours.timezone}"


def hours_text(rule: ForwardRule) -> str:
    """``weekdays 09:00–17:30 America/Chicago, else +14155550133``; empty without hours."""
    if rule.hours is None:
        return ""
    return f"{business_hours_text(rule.hours)}, else {branch_destinations_text(rule.else_destinations)}"


def branch_text(rule: ForwardRule, now: float | None = None, *, when: str = "now") -> str:
    """Which branch takes calls now and when that changes; empty for a rule without hours.

    ``in business hours now: calls go to +12065550111 until 2026-12-01 23:30 UTC (17:30
    America/Chicago)`` · ``outside business hours now: calls go to +14155550133 until …``;
    ``when`` names the moment if it is not now (``at 2026-12-02 02:00 UTC``).
    """
    if rule.hours is None:
        return ""
    moment = time.time() if now is None else now
    inside = rule.in_hours(moment)
    where = "in business hours" if inside else "outside business hours"
    text = f"{where} {when}: calls go to {branch_destinations_text(rule.destinations_at(moment))}"
    change = rule.hours.next_change(moment)
    if change is None:
        return text
    local = change.astimezone(rule.hours.zone).strftime("%H:%M")
    return f"{text} until {utc_time(change.timestamp())} ({local} {rule.hours.timezone})"


def failure_text(rule: ForwardRule) -> str:
    """``prompt`` · ``hangup`` · ``voicemail (up to 120 s)``: what a caller nobody answers gets."""
    if rule.failure is FailureAction.VOICEMAIL:
        return f"voicemail (up to {rule.voicemail_max_seconds} s)"
    return rule.failure.value


# How a refusal names the option to use instead: the slash command's words, shared by Slack and the
# service; the CLI shows its own options in their place (``for_cli``), so nobody is told to type
# `then prompt` at a shell.
FAILURE_CHOICES = "`then prompt` or `then hangup`"
ELSE_OPTION = "else to <destination>"
HOURS_EXAMPLE = "weekdays 09:00-17:30 America/Chicago"
_CLI_WORDS = {
    FAILURE_CHOICES: "`--failure prompt` or `--failure hangup`",
    ELSE_OPTION: "--else-to DESTINATION",
    HOURS_EXAMPLE: '--hours "mon-fri 09:00-17:30" --timezone America/Chicago',
    "need a time zone, e.g.": "need a time zone (--timezone), e.g.",
}


def for_cli(message: str) -> str:
    """``message`` with the slash command's option words replaced by the CLI's options."""
    for slack, cli in _CLI_WORDS.items():
        message = message.replace(slack, cli)
    return message


def voicemail_refusal(rule: ForwardRule) -> str | None:
    """Why ``rule`` cannot take voicemail, or None. Voicemail is recorded by the SIP media
    application; calls to an Amazon Connect number, or handed to Connect, never reach it."""
    if rule.failure is not FailureAction.VOICEMAIL or not rule.answered_by_connect:
        return None
    where = "forwards to Amazon Connect" if rule.is_connect_entry else "lives in Amazon Connect"
    return (
        f"{rule.number} {where}, and voicemail is recorded only for calls on the SIP media application:"
        f" choose {FAILURE_CHOICES} for it (docs/connect.md says what Connect would need)"
    )


def options_text(rule: ForwardRule) -> str:
    """The options that shape a forwarded call; empty for Amazon Connect, where none applies."""
    if rule.is_connect_entry:
        return ""
    return (
        f"greeting {rule.greeting.value}, then {failure_text(rule)}, {CALLER_ID[rule.caller_id]}, "
        f"{rule.ring_timeout} s per destination"
    )


def rule_details(rule: ForwardRule, now: float | None = None) -> str:
    """Hours, options and expiry: ``greeting loop, then prompt, caller ID: our number, 30 s per
    destination, never expires`` (led by :func:`hours_text` for a rule with business hours)."""
    parts = (hours_text(rule), options_text(rule), expiry_text(rule.expires_at, now))
    return ", ".join(part for part in parts if part)


def rule_summary(rule: ForwardRule, now: float | None = None) -> str:
    """The whole forward in one line: ``+12025550100 → +12065550111 (greeting loop, …, never expires)``."""
    return f"{rule.number} → {destinations_text(rule)} ({rule_details(rule, now)})"


def in_connect(home: NumberHome | None) -> bool:
    """Whether the number whose place before forwarding was ``home`` lives in Amazon Connect."""
    return home is not None and home.product_type == CONNECT_PRODUCT


def forwarding_place(home: NumberHome | None) -> str:
    """What a forwarded number is routed to: the SIP media application or the Connect flow."""
    return CONNECT_FORWARDING_FLOW if in_connect(home) else SIP_MEDIA_APPLICATION


def home_place(home: NumberHome | None) -> str:
    """Where a number goes back to when its forward ends."""
    return OWN_CONNECT_FLOW if in_connect(home) else VOICE_CONNECTOR


def home_text(home: NumberHome | None) -> str:
    """Where calls go once a forward ends, for people: the phone system, or the number's own
    Amazon Connect flow."""
    return OWN_CONNECT_FLOW if in_connect(home) else PHONE_SYSTEM


def calls_go_home(home: NumberHome | None) -> str:
    """``calls go to the phone system again`` (or to the number's own Amazon Connect flow)."""
    return f"calls go to {home_text(home)} again"


def state_text(rule: ForwardRule | None) -> str:
    """What a number does now, for "it is now: …" sentences."""
    return rule_summary(rule) if rule is not None else f"no forward: calls go to {PHONE_SYSTEM}"


# A contact flow resumes only when the destination hangs up, so the moment it answered is not known.
ANSWERED_AT_UNKNOWN_TIME = f"answered ({AMAZON_CONNECT} does not report after how long)"


def deferred_transfer_text(callee: str) -> str:
    """A transfer queued on an Amazon Connect call: what it waits for (Slack's channel, the CLI)."""
    return f"queued until {callee} hangs up ({AMAZON_CONNECT})"
