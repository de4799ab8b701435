"""``make demo``: a scripted story on a fresh local stack, every step checked.

It uses exactly what operators, PSTN Audio, Amazon Connect and Slack use:
:class:`~switchboard.service.ForwardingService` (the CLI's and the bot's code path) and the
``switchboard`` CLI itself for forwards and the DNIS pool, the Chime SDK Voice emulator for routing
and call updates, ``sma.app.handler`` driven by the PSTN Audio simulator for calls,
``connect_lambda.app.handler`` invoked with Connect contact-flow events for transfers, the stream
pump feeding ``bot.notifier.handler`` for alerts, and — for the Slack scenes — the terminal Slack
console, which sends signed Slack requests over HTTP to ``bot.app.handler`` (lazy listeners through
the local Lambda endpoint) and shows what the Slack stand-in received. The exit status is non-zero
if any step does not behave as described.
"""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import re
import sys
import textwrap
import threading
import time
from collections.abc import Mapping
from typing import Any

import boto3

from switchboard_local.clock import StoryClock
from switchboard_local.pstn.calls import (
    CallResult,
    TransferScript,
    format_record,
    format_transfer,
    parse_call_time,
    simulate_call,
)
from switchboard_local.pstn.simulator import SimulatedCall
from switchboard_local.slack.bot_server import BotServer
from switchboard_local.slack.console import LocalWorkspace, SlackConsole
from switchboard_local.slack.standin import SlackStandIn, mrkdwn, render, render_blocks, render_message
from switchboard_local.stack import (
    ALERTS_CHANNEL,
    LOCAL_ONCALL_GROUP,
    LOCAL_PEOPLE,
    LOCAL_USER,
    LocalStack,
)

OURS = "+12025550100"
OTHER = "+12025550101"
FIRST = "+12065550111"
SECOND = "+13125550122"
THIRD = "+14155550133"  # where a live call is transferred from Slack
CALLER = "+13035550123"
ENTRY = "+12025550102"  # an Amazon Connect entry number (destination `connect`)
SMA_NUMBER = "+12025550103"  # the SMA side of the demo's DNIS pair: Connect sees it as the caller
CONNECT_NUMBER = "+18005550111"  # the Connect side: the number the SMA dials
AGENT = "agent-7"  # a SIP user behind the voice connector
CONNECT_OURS = "+13125550190"  # claimed in the emulated Amazon Connect instance (LocalStack)
VISITOR = "U0VISITOR"  # a workspace member who is not in FORWARD_ADMINS

GREEN, RED, BOLD, RESET = "\033[32m", "\033[31m", "\033[1m", "\033[0m"
WIDTH = 100  # the narrative fits a terminal of this many columns


def fit(text: str) -> list[str]:
    """``text`` wrapped to :data:`WIDTH`: a long line continues under itself, indented two more."""
    lines: list[str] = []
    for line in text.splitlines() or [""]:
        indent = line[: len(line) - len(line.lstrip())]
        if len(line) <= WIDTH:
            lines.append(line)
            continue
        lines += textwrap.wrap(
            line.strip(),
            WIDTH,
            initial_indent=indent,
            subsequent_indent=indent + "  ",
            break_on_hyphens=False,
        )
    return lines


def say(text: str = "") -> None:
    print("\n".join(fit(text)))


class Story:
    def __init__(self, color: bool, clock: StoryClock | None = None) -> None:
        self.failures: list[str] = []
        self._color = color
        # The one wall clock of the story: calls move it to where their simulated time got to.
        self.clock = clock or StoryClock()

    def _paint(self, code: str, text: str) -> str:
        return f"{code}{text}{RESET}" if self._color else text

    def scene(self, number: int, title: str) -> None:
        print()
        print("\n".join(self._paint(BOLD, line) for line in fit(f"== {number}. {title} ==")))

    def command(self, text: str) -> None:
        say(f"$ {text}")

    def transcript(self, text: str) -> None:
        for line in text.splitlines():
            say(f"    {line}" if line else "")

    def check(self, claim: str, holds: bool, detail: str = "") -> None:
        if holds:
            print("\n".join(self._paint(GREEN, line) for line in fit(f"  ✓ {claim}")))
        else:
            text = f"  ✗ {claim}{f' ({detail})' if detail else ''}"
            print("\n".join(self._paint(RED, line) for line in fit(text)))
            self.failures.append(claim)


def _event_item(transaction_id: str, event_type: str = "bridge_failed") -> dict[str, Any] | None:
    from switchboard.adapters.dynamo_codec import decode_item

    item = (
        boto3.client("dynamodb")
        .get_item(
            TableName=os.environ["TABLE_NAME"],
            Key={"pk": {"S": f"CALL#{transaction_id}"}, "sk": {"S": f"EVENT#{event_type}"}},
        )
        .get("Item")
    )
    return decode_item(item) if item else None


def _is_call_alert(message: Mapping[str, Any]) -> bool:
    """A notifier alert (its context line names the event), as opposed to a routing announcement."""
    return any(
        block.get("type") == "context" and "event `" in json.dumps(block.get("elements", []))
        for block in message.get("blocks") or []
    )


def _alert_for(slack: SlackStandIn, transaction_id: str) -> dict[str, Any] | None:
    """The alert in the alert channel about call ``transaction_id`` (a message or a thread reply)."""
    for message in slack.messages(ALERTS_CHANNEL):
        if _is_call_alert(message) and f"call `{transaction_id}`" in json.dumps(message.get("blocks")):
            return message
    return None


def _show_alert(story: Story, message: Mapping[str, Any] | None) -> None:
    if message is None:
        story.transcript(f"#{ALERTS_CHANNEL}: (no alert)")
        return
    where = (
        "reply in the number's alert thread"
        if message.get("thread_ts", message["ts"]) != message["ts"]
        else "new message"
    )
    story.transcript(f"#{ALERTS_CHANNEL} ({where}):")
    story.transcript("\n".join("  " + line for line in render_blocks(message.get("blocks") or [])))


def _deliver_alerts(stack: LocalStack) -> None:
    """Wait until the stream pump has handed every call event written so far to the notifier."""
    if stack.pump is not None:
        stack.pump.drain()


def _cli(story: Story, *argv: str) -> tuple[int, str]:
    """Run ``switchboard ARGV`` in this process (on this stack) and show what it printed."""
    from switchboard.cli import main

    story.command("switchboard " + " ".join(argv))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    story.transcript((out.getvalue() + err.getvalue()).rstrip())
    return code, out.getvalue()


def _actions(call: CallResult, event_type: str) -> list[dict[str, Any]]:
    """The actions the SMA answered ``event_type`` with (every such invocation, in order)."""
    found: list[dict[str, Any]] = []
    for event, response in zip(call.transcript.events, call.transcript.responses, strict=False):
        if event["InvocationEventType"] == event_type and isinstance(response, dict):
            found.extend(response.get("Actions", []))
    return found


def _bridges(call: CallResult) -> list[dict[str, Any]]:
    return [
        a["Parameters"]
        for r in call.transcript.responses
        if isinstance(r, dict)
        for a in r.get("Actions", [])
        if a["Type"] == "CallAndBridge"
    ]


def _played(call: CallResult, prompt: str) -> bool:
    return any(
        a["Type"] == "PlayAudio" and a["Parameters"]["AudioSource"]["Key"].endswith(prompt)
        for r in call.transcript.responses
        if isinstance(r, dict)
        for a in r.get("Actions", [])
    )


def _routing(number: str) -> tuple[str, list[str], list[dict[str, Any]]]:
    chime: Any = boto3.client("chime-sdk-voice")
    phone = chime.get_phone_number(PhoneNumberId=number)["PhoneNumber"]
    connectors = [a["Value"] for a in phone.get("Associations", []) if a["Name"] == "VoiceConnectorId"]
    rules = [r for r in chime.list_sip_rules()["SipRules"] if r.get("TriggerValue") == number]
    return phone["ProductType"], connectors, rules


def _call(
    story: Story,
    stack: LocalStack,
    behaviours: list[str],
    title: str,
    *,
    number: str = OURS,
    transfer: TransferScript | None = None,
    during: list[tuple[float, Any]] | None = None,
    interludes: list[tuple[float, str]] | None = None,
    at: str | None = None,
    voicemail: str | None = None,
) -> CallResult:
    """``interludes``: ``(t, text)`` filled in by ``during`` hooks, e.g. what a Slack user saw at
    ``t``; each is printed inside the timeline, after the hook's own note at ``t``, so the
    narrative stays in time order. ``voicemail``: what the caller says if they get to leave a
    message (ending it with #)."""
    flags = " ".join(f"--{b}" for b in behaviours)
    if at is not None:
        flags = f"--at '{at}' {flags}"
    if voicemail is not None:
        flags += f' --voicemail "{voicemail}"'
    if transfer is not None:
        flags += f" --transfer-at {transfer.at_seconds:g} --transfer-to {transfer.target}"
        if transfer.arn:
            flags += f" --transfer-arn {transfer.arn}"
        if transfer.target_behaviour != "answer":
            flags += f" --target-behaviour {transfer.target_behaviour}"
    story.command(f"switchboard call {number} --from {CALLER} {flags.strip()}".rstrip())
    started = story.clock()

    def at_its_time(hook: Any) -> Any:
        def run(live: SimulatedCall) -> Any:
            story.clock.advance_to(started + live.at_seconds)  # Slack acts at the call's moment
            return hook(live)

        return run

    result = simulate_call(
        number,
        CALLER,
        behaviours,
        ring_seconds=4.0,
        talk_seconds=20.0,
        transfer=transfer,
        during=[(t, at_its_time(hook)) for t, hook in during or []],
        chime=stack.chime,
        at_ms=parse_call_time(at) if at is not None else None,
        voicemail=voicemail,
    )
    story.clock.advance_to(started + result.transcript.outcome.duration_s)
    _deliver_alerts(stack)  # the alert (if any) is in the channel before the next step
    say("\n".join("    " + line for line in _with_interludes(result.transcript.render(), interludes or [])))
    say(f"    {format_record(result.record)}")
    if result.transfer is not None:
        say(f"    {format_transfer(result.transfer)}")
    story.check(
        f"{title}: no dead air, no leg left up, every response valid",
        not result.transcript.flags,
        ", ".join(result.transcript.flags),
    )
    return result


class _Tee(io.StringIO):
    """Writes go to ``out`` and are kept, so the story can check what it printed."""

    def __init__(self, out: Any) -> None:
        super().__init__()
        self._out = out

    def write(self, text: str) -> int:
        self._out.write(text)
        return super().write(text)

    def flush(self) -> None:
        self._out.flush()

    def text(self) -> str:
        return self.getvalue()


_TIMELINE = re.compile(r"^\s+(\d+\.\d+)s\s")
_ARROW = re.compile(r"^\s+→ ")
# Narrative moments with a wall-clock time: announcements end with "(<time> UTC)", alerts say
# "*When* <time> UTC" (earlier calls listed by /forward status are history, not moments).
_MOMENT = re.compile(r"(?:\(|\*When\* )(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) UTC")


def times_out_of_order(text: str) -> list[str]:
    """Where ``text`` (the story as printed) goes back in time: a call timeline's seconds, or the
    wall-clock moments of announcements and alerts across the whole story."""
    problems: list[str] = []
    last: float | None = None
    for number, line in enumerate(text.splitlines(), 1):
        match = _TIMELINE.match(line)
        if match:
            seconds = float(match.group(1))
            if last is not None and seconds < last:
                problems.append(f"line {number}: {seconds:g}s after {last:g}s")
            last = seconds
        elif not _ARROW.match(line) and not line.startswith(" " * 11):
            last = None  # the timeline ended (interludes and actions are indented deeper)
    moments = _MOMENT.findall(" ".join(text.split()))
    for earlier, later in itertools.pairwise(moments):
        if later < earlier:
            problems.append(f"{later} UTC is told after {earlier} UTC")
    return problems


def _with_interludes(rendered: str, interludes: list[tuple[float, str]]) -> list[str]:
    """The timeline's lines with each interlude after the ``(demo) at <t>s`` note it belongs to
    (at the end if there is no such note), indented under it."""
    pending = sorted(interludes, key=lambda pair: pair[0])
    lines: list[str] = []
    for line in rendered.splitlines():
        lines.append(line)
        while pending and f"(demo) at {pending[0][0]:g}s" in line:
            lines.extend("           " + text for text in pending.pop(0)[1].splitlines())
    for _, text in pending:
        lines.extend("           " + part for part in text.splitlines())
    return lines


def run_demo(color: bool | None = None) -> int:
    # The SMA's logs and metrics are for CloudWatch; the story prints its own timeline.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    story = Story(color if color is not None else os.isatty(1))
    printed = _Tee(sys.stdout)
    with (
        contextlib.redirect_stdout(printed),
        story.clock.installed(),
        LocalStack(with_slack=True, forward_admins=LOCAL_USER) as stack,
        stack.applied(),
        BotServer.for_stack(stack) as bot,
    ):
        from switchboard.service import ForwardRequest, RefusedError
        from switchboard.settings import load
        from switchboard.wiring import forwarding_service

        service = forwarding_service(load(), need_routing=True)
        say(
            f"Local stack: moto at {os.environ['AWS_ENDPOINT_URL']}, Chime SDK Voice emulator at "
            f"{os.environ['AWS_ENDPOINT_URL_CHIME_SDK_VOICE']}; our numbers {', '.join(stack.numbers)}.\n"
            f"Slack: the bot at {bot.url}, a Slack Web API stand-in at {os.environ['SLACK_API_URL']}; "
            f"FORWARD_ADMINS={LOCAL_USER}."
        )

        slack = stack.slack
        assert slack is not None
        story.scene(1, "Set a forward with two destinations (follow-me)")
        product, connectors, rules = _routing(OURS)
        story.check(
            f"{OURS} starts on the voice connector",
            product == "VoiceConnector" and connectors == [stack.voice_connector_id] and not rules,
            f"{product} {connectors} {rules}",
        )
        seen = _seen(slack)
        story.command(f"switchboard forward set {OURS} {FIRST} {SECOND}")
        result = service.set_forward(ForwardRequest(OURS, [FIRST, SECOND]), actor="demo")
        say("    " + result.message)
        for step in result.routing_steps:
            say(f"      routing: {step}")
        _check_announced(story, stack, seen, f"demo forwarded *{OURS}* → {FIRST}, {SECOND}")
        stored = service.get_forward(OURS)
        story.check("the rule is stored", stored is not None and stored.destinations == (FIRST, SECOND))
        product, connectors, rules = _routing(OURS)
        story.check(
            "the number is routed to the SIP media application (product type + enabled SIP rule)",
            product == "SipMediaApplicationDialIn"
            and not connectors
            and len(rules) == 1
            and not rules[0]["Disabled"]
            and rules[0]["TargetApplications"][0]["SipMediaApplicationId"] == stack.sip_media_application_id,
            f"{product} {connectors} {rules}",
        )

        story.scene(2, "A call the first destination answers")
        call = _call(story, stack, ["answer"], "bridged call")
        story.check(f"bridged to {FIRST}", call.transcript.outcome.bridged_to == FIRST)
        story.check(
            "call record: bridged, caller ID hidden behind our number",
            call.record is not None
            and call.record["outcome"] == "bridged"
            and call.transcript.events_of("ACTION_SUCCESSFUL")[0]["ActionData"]["Parameters"][
                "CallerIdNumber"
            ]
            == OURS,
        )
        story.check("no bridge_failed event", _event_item(call.transcript.transaction_id) is None)

        story.scene(3, "The first destination does not answer: follow-me rolls to the second")
        call = _call(story, stack, ["no-answer", "answer"], "follow-me call")
        story.check(
            f"bridged to {SECOND} after {FIRST} rang out",
            call.transcript.outcome.bridged_to == SECOND
            and call.transcript.outcome.destinations_dialed == [FIRST, SECOND],
        )
        event = _event_item(call.transcript.transaction_id)
        story.check(
            "a bridge_failed event names the destination that failed (call still connected)",
            event is not None
            and not event["all_failed"]
            and [a["result"] for a in event["attempts"]] == ["CallNotAnswered", "answered"],
        )

        story.scene(4, "Nobody answers: failure prompt, hang up, bridge_failed alert")
        call = _call(story, stack, ["no-answer", "no-answer"], "failed call")
        played = [
            e
            for e in call.transcript.responses
            for a in (e.get("Actions", []) if isinstance(e, dict) else [])
            if a["Type"] == "PlayAudio" and a["Parameters"]["AudioSource"]["Key"].endswith("failure.wav")
        ]
        story.check(
            "the caller hears the failure prompt, then the call is hung up",
            bool(played) and call.transcript.outcome.bridged_to is None,
        )
        event = _event_item(call.transcript.transaction_id)
        story.check(
            "call record no-answer; bridge_failed event with all_failed",
            call.record is not None
            and call.record["outcome"] == "no-answer"
            and event is not None
            and event["all_failed"],
        )
        alert = _alert_for(stack.slack, call.transcript.transaction_id) if stack.slack else None
        _show_alert(story, alert)
        rendered = "\n".join(render_blocks(alert.get("blocks") or [])) if alert else ""
        story.check(
            f"the bridge_failed alert is in #{ALERTS_CHANNEL} (stream → bot.notifier.handler), "
            "caller masked, both destinations listed",
            alert is not None
            and f"Nobody answered a call to {OURS}" in rendered
            and CALLER not in rendered
            and FIRST in rendered
            and SECOND in rendered,
            rendered or "no alert for this call",
        )

        story.scene(5, "Refused forwards change nothing")
        seen = _seen(slack)
        for bad, reason in (("+1 900 555 0100", "premium-rate"), ("911", "emergency"), (OURS, "itself")):
            story.command(f"switchboard forward set {OURS} '{bad}'")
            try:
                service.set_forward(ForwardRequest(OURS, [bad]), actor="demo")
                refused = ""
            except RefusedError as error:
                refused = str(error)
                say(f"    refused: {refused}")
            story.check(f"refused ({reason})", reason in refused, refused or "it was accepted")
        after = service.get_forward(OURS)
        story.check("the forward is unchanged", after is not None and after.destinations == (FIRST, SECOND))
        _deliver_alerts(stack)
        story.check("nothing is announced", not _announcements(slack, seen), str(_announcements(slack, seen)))

        story.scene(6, "Remove the forward: the number goes back to the voice connector")
        seen = _seen(slack)
        story.command(f"switchboard forward remove {OURS}")
        removed = service.remove_forward(OURS, actor="demo")
        say("    " + removed.message)
        for step in removed.routing_steps:
            say(f"      routing: {step}")
        _check_announced(story, stack, seen, f"demo removed the forward on *{OURS}*")
        product, connectors, rules = _routing(OURS)
        story.check("the rule is gone", service.get_forward(OURS) is None)
        story.check(
            "product type VoiceConnector, associated again, no SIP rule left",
            product == "VoiceConnector" and connectors == [stack.voice_connector_id] and not rules,
            f"{product} {connectors} {rules}",
        )
        history = _history(OURS)
        story.check("the change history records who did what", history == ["remove", "set"], str(history))

        _transfer_scenes(story, stack, service)

        _deliver_alerts(stack)  # the CLI's last change is announced before the Slack scenes look
        workspace = LocalWorkspace(bot.url, stack.env()["SLACK_SIGNING_SECRET"]).connect()
        _slack_scenes(story, stack, slack, workspace, service)
        _people_scene(story, stack, slack, workspace, service)

        _connect_scenes(story, stack, service, workspace)
        _after_hours_scene(story, stack, service)

        _voicemail_scene(story, stack, workspace, service)

        print()
        problems = times_out_of_order(printed.text())
        story.check(
            "the whole story is in time order: timelines, announcements and alerts on one clock",
            not problems,
            "; ".join(problems),
        )

    print()
    if story.failures:
        print(story._paint(RED, f"demo FAILED: {len(story.failures)} check(s) did not hold"))
        return 1
    print(story._paint(GREEN, "demo passed: every step behaved as described"))
    return 0


def _after_hours_scene(story: Story, stack: LocalStack, service: Any) -> None:
    """Business hours: the same number rings the office in hours and the on-call phone after
    them, decided by the SIP media application on the call's (simulated) time."""
    from switchboard.service import ForwardRequest

    story.scene(23, "Business hours: an after-hours call goes to the else destination (simulated time)")
    assert stack.slack is not None
    seen = _seen(stack.slack)
    story.command(
        f"switchboard forward set {OTHER} {FIRST} --hours 'mon-fri 09:00-17:30' "
        f"--timezone America/Chicago --else-to {SECOND}"
    )
    request = ForwardRequest(
        OTHER, [FIRST], hours="mon-fri 09:00-17:30", timezone="America/Chicago", else_destinations=[SECOND]
    )
    result = service.set_forward(request, actor="demo")
    say("    " + result.message)
    _check_announced(
        story, stack, seen, f"demo forwarded *{OTHER}*", "weekdays 09:00–17:30 America/Chicago, else"
    )
    in_hours = _call(
        story, stack, ["answer"], "in-hours call", number=OTHER, at="2026-12-01 10:00 America/Chicago"
    )
    story.check(
        f"Tuesday 10:00 in Chicago: in business hours, {FIRST} rings",
        in_hours.transcript.outcome.bridged_to == FIRST,
    )
    after_hours = _call(
        story, stack, ["answer"], "after-hours call", number=OTHER, at="2026-12-01 20:00 America/Chicago"
    )
    story.check(
        f"Tuesday 20:00 in Chicago: after hours, the else destination {SECOND} rings, and only it",
        after_hours.transcript.outcome.bridged_to == SECOND
        and after_hours.transcript.outcome.destinations_dialed == [SECOND],
    )
    # 2026-11-01, the day Chicago's clocks go back, is a Sunday: after hours all day.
    sunday = _call(
        story, stack, ["answer"], "weekend call", number=OTHER, at="2026-11-01 12:00 America/Chicago"
    )
    story.check("Sunday noon: the weekend is after hours too", sunday.transcript.outcome.bridged_to == SECOND)
    seen = _seen(stack.slack)
    story.command(f"switchboard forward remove {OTHER}")
    say("    " + service.remove_forward(OTHER, actor="demo").message)
    _check_announced(story, stack, seen, f"demo removed the forward on *{OTHER}*")


def _pair_sentence(state: dict[str, Any] | None) -> str:
    if state is None:
        return f"the pair {SMA_NUMBER} → {CONNECT_NUMBER} is not in the pool"
    if state["free"]:
        return f"the pair {SMA_NUMBER} → {CONNECT_NUMBER} is free"
    return (
        f"the pair {SMA_NUMBER} → {CONNECT_NUMBER} is held by call {state['transaction_id']} "
        f"(caller {state.get('caller') or 'unknown'})"
    )


def _pair_state() -> dict[str, Any] | None:
    """The demo's DNIS pair as the pool holds it now (claim or None)."""
    from switchboard.adapters.pool import DynamoDnisPool

    entry = DynamoDnisPool(boto3.client("dynamodb"), os.environ["TABLE_NAME"]).find(
        SMA_NUMBER, CONNECT_NUMBER
    )
    if entry is None:
        return None
    claim = entry.claim
    return {
        "free": entry.free,
        "transaction_id": claim.transaction_id if claim else None,
        "caller": claim.original_calling_number if claim else None,
    }


def _transfer_scenes(story: Story, stack: LocalStack, service: Any) -> None:
    """Take back and transfer: a call in Amazon Connect is taken back and bridged elsewhere."""
    story.scene(7, "Amazon Connect entry number: take the call back from Connect and transfer it")
    code, _ = _cli(story, "pool", "add", SMA_NUMBER, CONNECT_NUMBER)
    pair = _pair_state()
    story.check(
        "the DNIS pair is in the pool, free", code == 0 and pair is not None and pair["free"], str(pair)
    )
    assert stack.slack is not None
    seen = _seen(stack.slack)
    code, _ = _cli(story, "forward", "set", ENTRY, "connect")
    _check_announced(story, stack, seen, ":arrow_right_hook: cli:", f" forwarded *{ENTRY}*")
    rule = service.get_forward(ENTRY)
    product, _, rules = _routing(ENTRY)
    story.check(
        f"{ENTRY} is an Amazon Connect entry number, routed to the SIP media application",
        code == 0
        and rule is not None
        and rule.is_connect_entry
        and product == "SipMediaApplicationDialIn"
        and len(rules) == 1,
        f"{rule} {product} {rules}",
    )

    held: list[dict[str, Any] | None] = []

    def look_at_the_pool(live: SimulatedCall) -> str:
        held.append(_pair_state())
        return f"(demo) at {live.at_seconds:g}s the pool says: {_pair_sentence(held[-1])}"

    updates_before = len(stack.chime.snapshot()["call_updates"])
    call = _call(
        story,
        stack,
        ["answer"],
        "transferred call",
        number=ENTRY,
        transfer=TransferScript(10.0, FIRST),
        during=[(8.0, look_at_the_pool)],
    )
    tx = call.transcript.transaction_id
    bridges = _bridges(call)
    story.check(
        f"the call went to Connect ({CONNECT_NUMBER}) with the pair's SMA number as caller ID, "
        "and the pair was held by this call and its caller meanwhile",
        bool(bridges)
        and bridges[0]["Endpoints"] == [{"BridgeEndpointType": "PSTN", "Uri": CONNECT_NUMBER}]
        and bridges[0]["CallerIdNumber"] == SMA_NUMBER
        and held == [{"free": False, "transaction_id": tx, "caller": CALLER}],
        f"{bridges[:1]} {held}",
    )
    updates = stack.chime.snapshot()["call_updates"][updates_before:]
    story.check(
        "at 10 s the Connect Lambda (TransferCall from the pair's numbers) answered ok and sent a real "
        "UpdateSipMediaApplicationCall to the emulator, which reached the SMA as CALL_UPDATE_REQUESTED",
        call.transfer is not None
        and call.transfer.ok
        and call.transfer.answer.get("transaction_id") == tx
        and [(u["TransactionId"], u["Arguments"]) for u in updates]
        == [(tx, {"Transfer": "true", "TransferTarget": FIRST})]
        and len(call.transcript.events_of("CALL_UPDATE_REQUESTED")) == 1,
        f"{call.transfer} {updates}",
    )
    connect_leg = [
        e
        for e in call.transcript.events_of("CALL_UPDATE_REQUESTED")[0]["CallDetails"]["Participants"]
        if e["ParticipantTag"] == "LEG-B"
    ]
    story.check(
        "the Connect leg is hung up",
        bool(connect_leg)
        and _actions(call, "CALL_UPDATE_REQUESTED")
        == [{"Type": "Hangup", "Parameters": {"CallId": connect_leg[0]["CallId"], "SipResponseCode": "0"}}],
        str(_actions(call, "CALL_UPDATE_REQUESTED")),
    )
    story.check(
        f"'please hold' plays, then the caller is bridged to {FIRST} with the original caller ID",
        _played(call, "please_hold.wav")
        and len(bridges) == 2
        and bridges[1]["Endpoints"] == [{"BridgeEndpointType": "PSTN", "Uri": FIRST}]
        and bridges[1]["CallerIdNumber"] == CALLER
        and call.transcript.outcome.bridged_to == FIRST,
        str(bridges[1:]),
    )
    pair = _pair_state()
    story.check(
        "the DNIS pair is free again; the call record says transferred",
        pair is not None
        and pair["free"]
        and call.record is not None
        and call.record["outcome"] == "transferred"
        and [a["destination"] for a in call.record.get("attempts", [])] == [CONNECT_NUMBER, FIRST],
        f"{pair} {format_record(call.record)}",
    )

    arn = f"arn:aws:chime:us-east-1:123456789012:vc/{stack.voice_connector_id}"
    call = _call(
        story,
        stack,
        ["answer"],
        "call transferred to SIP",
        number=ENTRY,
        transfer=TransferScript(10.0, AGENT, arn=arn),
    )
    bridges = _bridges(call)
    story.check(
        f"to a SIP user behind the voice connector: bridged to {AGENT} with X-Original-Calling-Number",
        len(bridges) == 2
        and bridges[1]["Endpoints"] == [{"BridgeEndpointType": "AWS", "Arn": arn, "Uri": AGENT}]
        and bridges[1].get("SipHeaders") == {"X-Original-Calling-Number": CALLER}
        and call.record is not None
        and call.record["outcome"] == "transferred",
        str(bridges[1:]),
    )
    pair = _pair_state()
    story.check("the pair is free again", pair is not None and pair["free"], str(pair))

    story.scene(8, "The transfer target does not answer: failure prompt, transfer_failed alert")
    call = _call(
        story,
        stack,
        ["answer"],
        "failed transfer",
        number=ENTRY,
        transfer=TransferScript(10.0, SECOND, target_behaviour="no-answer"),
    )
    tx = call.transcript.transaction_id
    bridges = _bridges(call)
    story.check(
        f"{SECOND} rang out after 'please hold'; the caller hears the failure prompt and is hung up",
        len(bridges) == 2
        and bridges[1]["Endpoints"][0]["Uri"] == SECOND
        and _played(call, "please_hold.wav")
        and _played(call, "failure.wav")
        and call.transcript.outcome.ended_by == "app",
        str(call.transcript.outcome),
    )
    event = _event_item(tx, "transfer_failed")
    pair = _pair_state()
    story.check(
        "call record transfer-failed; a transfer_failed event; the pair is free",
        call.record is not None
        and call.record["outcome"] == "transfer-failed"
        and event is not None
        and event.get("kind") == "call_event"
        and pair is not None
        and pair["free"],
        f"{format_record(call.record)} {event} {pair}",
    )
    alert = _alert_for(stack.slack, tx) if stack.slack else None
    _show_alert(story, alert)
    rendered = "\n".join(render_blocks(alert.get("blocks") or [])) if alert else ""
    story.check(
        f"the transfer_failed alert is in #{ALERTS_CHANNEL}",
        alert is not None and "transfer failed" in rendered.lower() and ENTRY in rendered,
        rendered or "no alert for this call",
    )
    seen = _seen(stack.slack)
    code, _ = _cli(story, "forward", "remove", ENTRY)
    _check_announced(
        story, stack, seen, ":leftwards_arrow_with_hook: cli:", f" removed the forward on *{ENTRY}*"
    )
    product, connectors, rules = _routing(ENTRY)
    story.check(
        f"{ENTRY} is back on the voice connector",
        code == 0 and service.get_forward(ENTRY) is None and product == "VoiceConnector" and not rules,
        f"{product} {connectors} {rules}",
    )


class _Console:
    """The demo's Slack console session: one user at a keyboard, scene after scene."""

    def __init__(self, story: Story, workspace: LocalWorkspace) -> None:
        self._story = story
        self._shown: list[str] = []
        self.session = SlackConsole(workspace, iter(()), self._shown.append, user=LOCAL_USER, echo=True)

    def type(self, *lines: str, show: bool = True) -> str:
        """Type ``lines``; return what the console showed (and print it, unless ``show`` is
        False: the caller prints it where it belongs in time)."""
        self._shown.clear()
        self.session.run(iter(lines))
        text = "".join(self._shown)
        if show:
            self._story.transcript(text)
        return text


def _replies(slack: SlackStandIn) -> list[str]:
    return [str(r.args.get("text", "")) for r in slack.responses]


def _seen(slack: SlackStandIn) -> set[str]:
    """The messages in the alert channel so far (their ts), to tell what a step adds."""
    return {str(m["ts"]) for m in slack.messages(ALERTS_CHANNEL)}


def _check_announced(story: Story, stack: LocalStack, seen: set[str], *expected: str) -> None:
    """The change just made is announced in the alert channel, once, by ``bot.notifier`` from the
    rule-history item on the table's stream (whichever surface made it)."""
    _deliver_alerts(stack)
    assert stack.slack is not None
    announced = _announcements(stack.slack, seen)
    if announced:
        story.transcript(f"#{ALERTS_CHANNEL}: " + " / ".join(mrkdwn(text) for text in announced))
    story.check(
        f"announced once in #{ALERTS_CHANNEL} (history item → stream → bot.notifier): who, what, when",
        len(announced) == 1 and all(part in announced[0] for part in (*expected, "<!date^")),
        str(announced),
    )


def _announcements(slack: SlackStandIn, seen: set[str]) -> list[str]:
    """The routing-change announcements posted in the alert channel since ``seen``: the channel
    also carries call alerts (from the stream), which are not announcements."""
    return [
        str(m.get("text", ""))
        for m in slack.messages(ALERTS_CHANNEL)
        if str(m["ts"]) not in seen and not _is_call_alert(m)
    ]


def _slack_scenes(
    story: Story, stack: LocalStack, slack: SlackStandIn, workspace: LocalWorkspace, service: Any
) -> None:
    """The same system driven from Slack: what a Slack user types, sees, and what it changes."""
    story.scene(9, f"Slack: /forward with two destinations, as @{LOCAL_USER} (in FORWARD_ADMINS)")
    story.command("switchboard slack    # a terminal Slack client: type what a Slack user would")
    console = _Console(story, workspace)
    seen = _seen(slack)
    shown = console.type(f"/forward {OURS} to {FIRST}, {SECOND}")
    story.check(
        "acknowledged within Slack's 3 s, saying what is about to happen",
        f"Forwarding {OURS} → {FIRST}, {SECOND}…" in shown and "acknowledgement took" not in shown,
    )
    story.check(
        "the result replaces the acknowledgement",
        _replies(slack)[-1:]
        == [
            f":white_check_mark: Now forwarding {OURS} → {FIRST}, {SECOND} (greeting loop, then prompt, "
            "caller ID: our number, 30 s per destination, never expires)."
        ],
        str(_replies(slack)[-1:]),
    )
    announced = _announcements(slack, seen)
    story.check(
        f"the change is announced in #{ALERTS_CHANNEL} (who, what)",
        len(announced) == 1 and f"<@{LOCAL_USER}> forwarded *{OURS}* → {FIRST}, {SECOND}" in announced[0],
        str(announced),
    )
    rule = service.get_forward(OURS)
    product, _, rules = _routing(OURS)
    story.check(
        "the rule is stored (by the Slack user) and the number routed to the SIP media application",
        rule is not None
        and rule.destinations == (FIRST, SECOND)
        and rule.updated_by == LOCAL_USER
        and product == "SipMediaApplicationDialIn"
        and len(rules) == 1,
        f"{rule} {product} {rules}",
    )

    story.scene(10, f"Slack: @{VISITOR} (not in FORWARD_ADMINS) is refused politely")
    before = service.get_forward(OURS)
    seen = _seen(slack)
    shown = console.type(f"as {VISITOR}", f"/forward {OURS} to {SECOND}")
    refusal = shown.rsplit("[ack]", 1)[-1]
    story.check(
        "a polite refusal in the acknowledgement itself (no 'Forwarding…' first), saying how to get access",
        f"⛔ Sorry @{VISITOR}, you may look at forwards but not change them" in refusal
        and "FORWARD_ADMINS" in refusal
        and "⏳" not in refusal,
        refusal,
    )
    after = service.get_forward(OURS)
    story.check(
        "nothing changed, nothing announced",
        after is not None
        and before is not None
        and after.version == before.version
        and after.destinations == (FIRST, SECOND)
        and not _announcements(slack, seen),
        str(_announcements(slack, seen)),
    )

    story.scene(11, "Slack: the form (/forward alone), one mistake, then fixed")
    seen = _seen(slack)
    # number, user groups, people, 5 destinations, greeting, failure, caller ID, ring time, longest
    # voicemail, expiry, business hours, time zone, outside hours (one answer per field, in order)
    answers = [OTHER, "", "", "911", "", "", "", "", "once", "", "", "20", "", "2h", "", "", ""]
    shown = console.type(f"as {LOCAL_USER}", "/forward", *answers, "(206) 555-0111")
    story.check("the modal lists our numbers", all(number in shown for number in stack.numbers))
    story.check(
        "the form comes back with the reason next to the field (911)",
        "✗ Forward to: 911 is an emergency number" in shown,
    )
    rule = service.get_forward(OTHER)
    story.check(
        "once fixed, the forward is set as filled in (greeting once, 20 s, expires in 2 h)",
        rule is not None
        and rule.destinations == (FIRST,)
        and rule.greeting.value == "once"
        and rule.ring_timeout == 20
        and rule.expires_at is not None,
        str(rule),
    )
    story.check(
        "the user is told, the channel too, and the number is routed",
        f"Now forwarding {OTHER} → {FIRST}" in shown
        and [f"forwarded *{OTHER}*" in text for text in _announcements(slack, seen)] == [True]
        and _routing(OTHER)[0] == "SipMediaApplicationDialIn",
        str(_announcements(slack, seen)),
    )

    story.scene(12, "Slack: the App Home lists the forwards; Remove asks first")
    seen = _seen(slack)
    console.type("home")
    home = str(slack.home_views.get(LOCAL_USER, {}))
    buttons = console.session.buttons
    removes = [b for b in buttons if b.element.get("action_id") == "remove_forward"]
    story.check(
        "both forwards, each with Edit and Remove",
        OURS in home and OTHER in home and [b.element.get("value") for b in removes] == [OURS, OTHER],
        str([b.description for b in buttons]),
    )
    shown = console.type(f"click {buttons.index(removes[-1]) + 1 if removes else 1}", "y")
    story.check("Slack asks before removing", "Remove this forward?" in shown)
    product, connectors, rules = _routing(OTHER)
    story.check(
        f"after confirming, {OTHER} is back on the voice connector and gone from the App Home",
        service.get_forward(OTHER) is None
        and product == "VoiceConnector"
        and connectors == [stack.voice_connector_id]
        and not rules
        and OTHER not in str(slack.home_views.get(LOCAL_USER, {}).get("blocks", [])[3:]),
        f"{product} {connectors} {rules}",
    )
    story.check(
        "the channel is told, once",
        [f"<@{LOCAL_USER}> removed the forward on *{OTHER}*" in text for text in _announcements(slack, seen)]
        == [True],
        str(_announcements(slack, seen)),
    )

    _slack_transfer_scene(story, stack, slack, workspace, console)

    story.scene(14, "Slack: /forward remove: the number goes back to the voice connector")
    seen = _seen(slack)
    shown = console.type(f"/forward remove {OURS}")
    product, connectors, rules = _routing(OURS)
    story.check(
        "the rule is gone; product type VoiceConnector, associated again, no SIP rule left",
        service.get_forward(OURS) is None
        and product == "VoiceConnector"
        and connectors == [stack.voice_connector_id]
        and not rules,
        f"{product} {connectors} {rules}",
    )
    story.check(
        "the user and the channel are told",
        f"Removed the forward on {OURS}" in shown
        and [f"removed the forward on *{OURS}*" in text for text in _announcements(slack, seen)] == [True],
        str(_announcements(slack, seen)),
    )


def _slack_transfer_scene(
    story: Story, stack: LocalStack, slack: SlackStandIn, workspace: LocalWorkspace, console: _Console
) -> None:
    """A call is connected; someone in Slack looks at it and hands it over to another number.

    At 10 s of the simulated call the Slack user types ``/forward status`` (the live call and its
    Transfer button) and ``/forward transfer``. The transfer's lazy listener waits for the outcome
    while the call goes on, so it is typed from a second console session in a thread: the call
    resumes as soon as the bot's UpdateSipMediaApplicationCall has reached it.
    """
    story.scene(13, "Slack: a connected call is looked at and transferred from Slack")
    seen = _seen(slack)
    status_shown: list[str] = []
    transfer_shown: list[str] = []
    typing: list[threading.Thread] = []
    updates_before = len(stack.chime.snapshot()["call_updates"])

    interludes: list[tuple[float, str]] = []

    def from_slack(live: SimulatedCall) -> str:
        status_shown.append(console.type(f"/forward status {OURS}", show=False))
        second = SlackConsole(workspace, iter(()), transfer_shown.append, user=LOCAL_USER, echo=True)
        thread = threading.Thread(target=second.run, args=(iter([f"/forward transfer {OURS} to {THIRD}"]),))
        thread.start()
        typing.append(thread)
        deadline = time.monotonic() + 15
        while len(stack.chime.snapshot()["call_updates"]) == updates_before and time.monotonic() < deadline:
            time.sleep(0.02)
        # What the Slack user saw up to the moment the call was taken back, in its place in time;
        # the rest (the outcome) comes after the call.
        seen_so_far = len(transfer_shown)
        shown_now.append(seen_so_far)
        interludes.append((live.at_seconds, status_shown[-1] + "".join(transfer_shown[:seen_so_far])))
        return (
            f"(demo) at {live.at_seconds:g}s a Slack user typed /forward status {OURS}, "
            f"then /forward transfer {OURS} to {THIRD}"
        )

    shown_now: list[int] = []
    call = _call(
        story,
        stack,
        ["answer"],
        "call transferred from Slack",
        during=[(10.0, from_slack)],
        interludes=interludes,
    )
    for thread in typing:
        thread.join(timeout=60)
    story.transcript("".join(transfer_shown[sum(shown_now) :]))
    status = "".join(status_shown)
    story.check(
        "/forward status shows the connected call (caller masked) with its call id and a Transfer button",
        "Connected now (1)" in status
        and f"talking to {FIRST}" in status
        and "+1303•••0123" in status
        and call.transcript.transaction_id in status
        and "Transfer…" in status,
        status,
    )
    updates = stack.chime.snapshot()["call_updates"][updates_before:]
    story.check(
        "the bot sent UpdateSipMediaApplicationCall for that call, which reached the SMA",
        [(u["TransactionId"], u["Arguments"]) for u in updates]
        == [(call.transcript.transaction_id, {"Transfer": "true", "TransferTarget": THIRD})]
        and len(call.transcript.events_of("CALL_UPDATE_REQUESTED")) == 1,
        str(updates),
    )
    bridges = _bridges(call)
    story.check(
        f"{FIRST} is hung up, 'please hold', then the caller is bridged to {THIRD}",
        _played(call, "please_hold.wav")
        and [b["Endpoints"][0]["Uri"] for b in bridges] == [FIRST, THIRD]
        and call.transcript.outcome.bridged_to == THIRD
        and call.record is not None
        and call.record["outcome"] == "transferred",
        f"{bridges} {call.record}",
    )
    replies = _replies(slack)
    story.check(
        "the Slack user is told the target answered",
        bool(replies) and replies[-1].startswith(f":white_check_mark: {THIRD} answered"),
        str(replies[-2:]),
    )
    announced = _announcements(slack, seen)
    story.check(
        f"the transfer is announced in #{ALERTS_CHANNEL} (who, which call, to whom)",
        len(announced) == 1 and f"<@{LOCAL_USER}> transferred the call on *{OURS}*" in announced[0],
        str(announced),
    )


def _connect_call(
    story: Story,
    stack: LocalStack,
    behaviours: list[str],
    title: str,
    *,
    caller_hangs_up_after: float | None = None,
    talk_seconds: float = 20.0,
    targets: dict[str, str] | None = None,
    during: list[tuple[float, Any]] | None = None,
    interludes: list[tuple[float, str]] | None = None,
) -> Any:
    """``switchboard call`` on the Connect number: the shipped flow in the Flow-language
    interpreter, through the real ``connect_lambda.app.handler`` (and ``contact_events.handler``
    when the caller hangs up)."""
    from switchboard_local.connect_calls import simulate_connect_call
    from switchboard_local.pstn.calls import format_record

    flags = " ".join(f"--{b}" for b in behaviours)
    if caller_hangs_up_after is not None:
        flags += f" --caller-hangs-up-after {caller_hangs_up_after:g}"
    story.command(f"switchboard call {CONNECT_OURS} --from {CALLER} {flags.strip()}".rstrip())
    started = story.clock()

    def at_its_time(at: float, hook: Any) -> Any:
        def run() -> None:
            story.clock.advance_to(started + at)  # Slack acts at the call's moment
            hook(at)

        return run

    result = simulate_connect_call(
        CONNECT_OURS,
        CALLER,
        behaviours,
        talk_seconds=talk_seconds,
        caller_hangs_up_after=caller_hangs_up_after,
        start_ms=int(started * 1000),
        targets=targets,
        during=[(at, at_its_time(at, hook)) for at, hook in during or []],
    )
    story.clock.advance_to(result.ended_ms / 1000)
    _deliver_alerts(stack)
    say("\n".join("    " + line for line in _connect_lines(result.transcript.lines(), interludes or [])))
    say(f"    {format_record(result.record)}")
    story.check(
        f"{title}: no dead air, the flow ends the call or the caller does, every reply valid",
        not result.transcript.flags,
        ", ".join(result.transcript.flags),
    )
    return result


def _connect_lines(lines: list[str], interludes: list[tuple[float, str]]) -> list[str]:
    """The interpreter's timeline with each interlude after the last line at or before its time."""
    pending = sorted(interludes, key=lambda pair: pair[0])
    out: list[str] = []
    for line in lines:
        at = float(line.split("s", 1)[0])
        while pending and pending[0][0] < at:
            out.extend("           " + text for text in pending.pop(0)[1].splitlines())
        out.append(line)
    for _, text in pending:
        out.extend("           " + part for part in text.splitlines())
    return out


def _connect_scenes(story: Story, stack: LocalStack, service: Any, workspace: LocalWorkspace) -> None:
    """The same forwards on a number that lives in Amazon Connect: the forwarding contact flow."""
    from switchboard.service import ForwardRequest

    assert stack.slack is not None
    forwarding_flow = os.environ["CONNECT_FORWARDING_FLOW_ID"]
    home_flow = stack.connect.flow_of(CONNECT_OURS)
    story.scene(16, f"Amazon Connect: forward {CONNECT_OURS}, a number claimed in the Connect instance")
    story.check(
        f"{CONNECT_OURS} starts on its own contact flow", home_flow not in ("", forwarding_flow), home_flow
    )
    seen = _seen(stack.slack)
    story.command(f"switchboard forward set {CONNECT_OURS} {FIRST} {SECOND} --greeting once")
    result = service.set_forward(ForwardRequest(CONNECT_OURS, [FIRST, SECOND], greeting="once"), actor="demo")
    say("    " + result.message)
    for step in result.routing_steps:
        say(f"      routing: {step}")
    _check_announced(story, stack, seen, f"demo forwarded *{CONNECT_OURS}* → {FIRST}, {SECOND}")
    story.check(
        "the number now runs the forwarding flow (AssociatePhoneNumberContactFlow)",
        stack.connect.flow_of(CONNECT_OURS) == forwarding_flow,
        stack.connect.flow_of(CONNECT_OURS),
    )

    story.scene(17, "Amazon Connect: the first destination answers")
    call = _connect_call(story, stack, ["answer"], "Connect call")
    transcript = call.transcript
    story.check(
        f"greeting once, then {FIRST} dialled with our number as caller ID",
        transcript.prompts == ["greeting.wav"] and transcript.dials == [(FIRST, CONNECT_OURS)],
        f"{transcript.prompts} {transcript.dials}",
    )
    story.check(
        "call record: bridged (answer time approximate: Connect does not show it), no alert",
        call.record is not None
        and call.record["outcome"] == "bridged"
        and _event_item(transcript.contact_id) is None,
        str(call.record),
    )

    story.scene(18, "Amazon Connect: follow-me rolls from a destination that does not answer")
    call = _connect_call(story, stack, ["no-answer", "answer"], "Connect follow-me call")
    event = _event_item(call.transcript.contact_id)
    story.check(
        f"{FIRST} rang out, {SECOND} answered; a bridge_failed event names the one that failed",
        [d for d, _ in call.transcript.dials] == [FIRST, SECOND]
        and call.record is not None
        and call.record["outcome"] == "bridged"
        and event is not None
        and not event["all_failed"],
        f"{call.transcript.dials} {event}",
    )

    story.scene(19, "Amazon Connect: nobody answers: failure prompt, hang up, bridge_failed alert")
    call = _connect_call(story, stack, ["no-answer", "busy"], "Connect failed call")
    contact = call.transcript.contact_id
    event = _event_item(contact)
    story.check(
        "the caller hears the failure prompt, then the flow disconnects",
        call.transcript.prompts[-1:] == ["failure.wav"] and call.transcript.disconnected_by_flow,
        str(call.transcript.prompts),
    )
    story.check(
        "call record all-failed; bridge_failed event with all_failed",
        call.record is not None
        and call.record["outcome"] == "all-failed"
        and event is not None
        and event["all_failed"],
        f"{call.record} {event}",
    )
    alert = _alert_for(stack.slack, contact)
    _show_alert(story, alert)
    rendered = "\n".join(render_blocks(alert.get("blocks") or [])) if alert else ""
    story.check(
        f"the same alert as for the SIP media application is in #{ALERTS_CHANNEL}",
        alert is not None and CONNECT_OURS in rendered and CALLER not in rendered and FIRST in rendered,
        rendered or "no alert for this call",
    )

    story.scene(20, "Amazon Connect: the caller hangs up while the first destination rings")
    call = _connect_call(
        story, stack, ["no-answer"], "Connect call the caller ended", caller_hangs_up_after=8.0
    )
    story.check(
        "the flow stops; the DISCONNECTED contact event records the call as abandoned",
        call.transcript.caller_hung_up
        and call.record is not None
        and call.record["outcome"] == "abandoned"
        and call.record.get("timing") == "approximate",
        str(call.record),
    )

    story.scene(21, "Amazon Connect: a Slack transfer waits until the callee hangs up (deferred)")
    story.command("switchboard slack    # while the call is connected")
    workspace.activity(wait=0)  # what the channel got so far was shown with its scene
    console = _Console(story, workspace)
    interludes: list[tuple[float, str]] = []
    seen = _seen(stack.slack)

    def from_slack(at: float) -> None:
        shown = console.type(f"/forward transfer {CONNECT_OURS} to {THIRD}", show=False)
        interludes.append((at, f"(demo) at {at:g}s a Slack user typed:\n{shown}"))

    call = _connect_call(
        story,
        stack,
        ["answer"],
        "Connect call transferred from Slack",
        talk_seconds=60.0,
        targets={THIRD: "answer"},
        # Well past the first dial's ring time (greeting, then 30 s): until then the bot cannot
        # know the call was answered and refuses the transfer, as it should.
        during=[(45.0, from_slack)],
        interludes=interludes,
    )
    replies = _replies(stack.slack)
    story.check(
        "Slack says the transfer is queued until the callee hangs up (nothing can break into the bridge)",
        bool(replies) and replies[-1].startswith(":hourglass: Transfer queued"),
        str(replies[-1:]),
    )
    story.check(
        f"when {FIRST} hangs up: 'please hold', then {THIRD} with the caller's number; record transferred",
        call.transcript.prompts[-1:] == ["please_hold.wav"]
        and call.transcript.dials == [(FIRST, CONNECT_OURS), (THIRD, CALLER)]
        and call.record is not None
        and call.record["outcome"] == "transferred",
        f"{call.transcript.prompts} {call.transcript.dials} {call.record}",
    )
    announced = _announcements(stack.slack, seen)
    story.check(
        f"the transfer is announced in #{ALERTS_CHANNEL}",
        len(announced) == 1 and f"transferred the call on *{CONNECT_OURS}*" in announced[0],
        str(announced),
    )

    story.scene(22, "Amazon Connect: remove the forward: the number goes back to its own flow")
    seen = _seen(stack.slack)
    story.command(f"switchboard forward remove {CONNECT_OURS}")
    removed = service.remove_forward(CONNECT_OURS, actor="demo")
    say("    " + removed.message)
    for step in removed.routing_steps:
        say(f"      routing: {step}")
    _check_announced(story, stack, seen, f"demo removed the forward on *{CONNECT_OURS}*")
    story.check(
        "the rule is gone and the number runs the flow it had before",
        service.get_forward(CONNECT_OURS) is None and stack.connect.flow_of(CONNECT_OURS) == home_flow,
        stack.connect.flow_of(CONNECT_OURS),
    )


MESSAGE = "Hi, the backup job failed, call me back"


def _voicemail_message(slack: SlackStandIn, transaction_id: str) -> dict[str, Any] | None:
    for message in slack.messages(ALERTS_CHANNEL):
        blocks = json.dumps(message.get("blocks") or [])
        if "Voicemail on" in blocks and f"call `{transaction_id}`" in blocks:
            return message
    return None


def _press(workspace: LocalWorkspace, message: Mapping[str, Any], action_id: str, user: str) -> None:
    from switchboard_local.slack.requests import block_actions_payload, interaction_event

    element = next(
        e
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for e in block.get("elements") or []
        if e.get("action_id") == action_id
    )
    payload = block_actions_payload(
        action_id,
        value=str(element.get("value", "")),
        block_id="voicemail_actions",
        channel_id=ALERTS_CHANNEL,
        message=message,
        user_id=user,
        trigger_id=workspace.trigger_id(),
    )
    workspace.send(interaction_event(payload, workspace.secret))


def _voicemail_scene(story: Story, stack: LocalStack, workspace: LocalWorkspace, service: Any) -> None:
    """Nobody answers; the caller leaves a message; it lands in the alert thread, playable and
    transcribed (issue 16), and "Mark handled" tells everyone someone is calling back."""
    slack = stack.slack
    assert slack is not None
    story.scene(24, "Voicemail: nobody answers, the caller leaves a message; it lands in the alert thread")
    code, _ = _cli(story, "forward", "set", OURS, FIRST, SECOND, "--failure", "voicemail")
    story.check("the forward ends in voicemail", code == 0 and service.get_forward(OURS) is not None)
    call = _call(story, stack, ["no-answer", "no-answer"], "voicemail call", voicemail=MESSAGE)
    transaction_id = call.transcript.transaction_id
    event = _event_item(transaction_id, "voicemail")
    story.check(
        "the SMA wrote the voicemail event with the recording's key and length",
        event is not None and bool(event.get("recording_key")) and int(event.get("duration_seconds", 0)) >= 1,
        str(event),
    )

    def transcribed() -> dict[str, Any] | None:
        message = _voicemail_message(slack, transaction_id)
        return message if message and MESSAGE in json.dumps(message.get("blocks")) else None

    try:  # the transcript arrives through the Transcribe stand-in's job-state event
        message: dict[str, Any] | None = slack.wait_for(transcribed, 15)
    except TimeoutError:
        message = _voicemail_message(slack, transaction_id)
    alert = _alert_for(slack, transaction_id)
    shares = [m for m in slack.messages(ALERTS_CHANNEL) if m.get("files")]
    shared = next((m for m in shares if m["files"][0].get("name") == f"voicemail-{transaction_id}.wav"), None)
    _show_alert(story, message)
    if shared is not None:
        story.transcript("\n".join("  " + line for line in render_message({"files": shared["files"]})))
    rendered = "\n".join(render_blocks(message.get("blocks") or [])) if message else ""
    thread = alert.get("thread_ts", alert["ts"]) if alert else None
    story.check(
        "a reply in the thread of the call's bridge_failed alert, caller masked, with the length",
        message is not None
        and message.get("thread_ts") == thread
        and "+1303•••0123 left a" in rendered
        and CALLER not in rendered,
        rendered or "no voicemail message",
    )
    recording = (
        boto3.client("s3")
        .get_object(Bucket=event["recording_bucket"], Key=event["recording_key"])["Body"]
        .read()
        if event
        else b""
    )
    story.check(
        "the recording is shared in the same thread as an audio file (files.getUploadURLExternal, "
        "upload, files.completeUploadExternal), byte for byte",
        shared is not None
        and shared.get("thread_ts") == thread
        and slack.file(shared["files"][0]["id"]).get("data") == recording,
    )
    story.check(
        "the transcript is edited in (the Transcribe stand-in returns the caller's words: plumbing, "
        "not speech recognition)",
        f"> {MESSAGE}" in rendered,
        rendered,
    )

    if message is not None:
        story.command(f"(in Slack, @{VISITOR} presses [Mark handled], then @{LOCAL_USER} does)")
        workspace.activity(wait=0)
        _press(workspace, message, "voicemail_handled", VISITOR)
        _press(workspace, message, "voicemail_handled", LOCAL_USER)
        for seen in workspace.activity().calls:
            if seen.method in ("chat.postEphemeral", "chat.update"):
                story.transcript(render(seen))
    updated = _voicemail_message(slack, transaction_id)
    handled = json.dumps(updated.get("blocks") if updated else [])
    story.check(
        f"@{VISITOR} is refused; @{LOCAL_USER}'s press marks it handled for everyone (the button is gone)",
        f"Handled by <@{LOCAL_USER}>" in handled and "voicemail_handled" not in handled,
    )
    code, _ = _cli(story, "forward", "remove", OURS)
    story.check("the forward is removed", code == 0 and service.get_forward(OURS) is None)


def _history(number: str) -> list[str]:
    from switchboard.adapters.dynamodb import DynamoForwardRepository

    repo = DynamoForwardRepository(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
    return [str(h["action"]) for h in repo.history(number)]


def _people_scene(
    story: Story, stack: LocalStack, slack: SlackStandIn, workspace: LocalWorkspace, service: Any
) -> None:
    """A forward to a Slack user group follows the group: Slack's event re-resolves it."""
    alice, bob = (f"+1{LOCAL_PEOPLE[user][1][3:].replace(' ', '')}" for user in ("U0ALICE", "U0BOB"))
    story.scene(15, "Slack: forward to the @sre-oncall user group; the group changes, the next call follows")
    console = _Console(story, workspace)
    # Slack sends "@sre-oncall", picked from its @ menu, as a mention: the console types it so.
    shown = console.type(
        f"as {LOCAL_USER}", f"/forward {OURS} to <!subteam^{LOCAL_ONCALL_GROUP}|@sre-oncall>"
    )
    rule = service.get_forward(OURS)
    story.check(
        "the group's members' profile numbers, in the group's order, and the group kept as the source",
        rule is not None
        and rule.destinations == (alice, bob)
        and [source.label for source in rule.sources] == ["sre-oncall"],
        str(rule),
    )
    story.check(
        "the reply is a roster: people by name, numbers masked",
        "@sre-oncall: @U0ALICE (+1206•••0144)" in shown,
    )
    call = _call(story, stack, ["answer"], "call to the on-call group")
    story.check(f"the first member (alice, {alice}) answers", call.transcript.outcome.bridged_to == alice)

    seen = _seen(slack)
    console.type(f"group {LOCAL_ONCALL_GROUP} remove U0ALICE")
    _deliver_alerts(stack)
    rule = service.get_forward(OURS)
    story.check(
        "Slack's subteam_members_changed event re-resolved the forward (with history)",
        rule is not None and rule.destinations == (bob,) and rule.updated_by == "Slack sync",
        str(rule),
    )
    announced = _announcements(slack, seen)
    if announced:
        story.transcript(f"#{ALERTS_CHANNEL}: " + " / ".join(mrkdwn(text) for text in announced))
    story.check(
        f"announced in #{ALERTS_CHANNEL}: who the group is now",
        len(announced) == 1 and "@sre-oncall changed: now bob." in announced[0],
        str(announced),
    )
    call = _call(story, stack, ["answer"], "the next call")
    story.check(
        f"the next call reaches the new first member (bob, {bob})", call.transcript.outcome.bridged_to == bob
    )
    console.type(f"/forward remove {OURS}", show=False)
    console.type(f"group {LOCAL_ONCALL_GROUP} add U0ALICE", show=False)  # the group as it was
