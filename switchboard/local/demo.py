"""``make demo``: a scripted story on a fresh local stack, every step checked.

It uses exactly what operators, PSTN Audio and Slack use: :class:`~switchboard.service.ForwardingService`
(the CLI's and the bot's code path) for forwards, the Chime SDK Voice emulator for routing,
``sma.app.handler`` driven by the PSTN Audio simulator for calls, and — for the Slack scenes — the
terminal Slack console, which sends signed Slack requests over HTTP to ``bot.app.handler`` (lazy
listeners through the local Lambda endpoint) and shows what the Slack stand-in received. The exit
status is non-zero if any step does not behave as described.
"""

from __future__ import annotations

import os
from typing import Any

import boto3

from switchboard.local.bot_server import BotServer
from switchboard.local.calls import CallResult, format_record, simulate_call
from switchboard.local.slack_console import LocalWorkspace, SlackConsole
from switchboard.local.slack_standin import SlackStandIn
from switchboard.local.stack import ALERTS_CHANNEL, LOCAL_USER, LocalStack

OURS = "+12025550100"
OTHER = "+12025550101"
FIRST = "+12065550111"
SECOND = "+13125550122"
CALLER = "+13035550123"
VISITOR = "U0VISITOR"  # a workspace member who is not in FORWARD_ADMINS

GREEN, RED, BOLD, RESET = "\033[32m", "\033[31m", "\033[1m", "\033[0m"


class Story:
    def __init__(self, color: bool) -> None:
        self.failures: list[str] = []
        self._color = color

    def _paint(self, code: str, text: str) -> str:
        return f"{code}{text}{RESET}" if self._color else text

    def scene(self, number: int, title: str) -> None:
        print("\n" + self._paint(BOLD, f"== {number}. {title} =="))

    def command(self, text: str) -> None:
        print(f"$ {text}")

    def transcript(self, text: str) -> None:
        for line in text.splitlines():
            print(f"    {line}" if line else "")

    def check(self, claim: str, holds: bool, detail: str = "") -> None:
        if holds:
            print(self._paint(GREEN, f"  ✓ {claim}"))
        else:
            print(self._paint(RED, f"  ✗ {claim}{f' ({detail})' if detail else ''}"))
            self.failures.append(claim)


def _event_item(transaction_id: str) -> dict[str, Any] | None:
    from switchboard.adapters.dynamo_codec import decode_item

    item = (
        boto3.client("dynamodb")
        .get_item(
            TableName=os.environ["TABLE_NAME"],
            Key={"pk": {"S": f"CALL#{transaction_id}"}, "sk": {"S": "EVENT#bridge_failed"}},
        )
        .get("Item")
    )
    return decode_item(item) if item else None


def _routing(number: str) -> tuple[str, list[str], list[dict[str, Any]]]:
    chime: Any = boto3.client("chime-sdk-voice")
    phone = chime.get_phone_number(PhoneNumberId=number)["PhoneNumber"]
    connectors = [a["Value"] for a in phone.get("Associations", []) if a["Name"] == "VoiceConnectorId"]
    rules = [r for r in chime.list_sip_rules()["SipRules"] if r.get("TriggerValue") == number]
    return phone["ProductType"], connectors, rules


def _call(story: Story, behaviours: list[str], title: str) -> CallResult:
    flags = " ".join(f"--{b}" for b in behaviours)
    story.command(f"switchboard call {OURS} --from {CALLER} {flags}".rstrip())
    result = simulate_call(OURS, CALLER, behaviours, ring_seconds=4.0, talk_seconds=20.0)
    print("\n".join("    " + line for line in result.transcript.render().splitlines()))
    print(f"    {format_record(result.record)}")
    story.check(
        f"{title}: no dead air, no leg left up, every response valid",
        not result.transcript.flags,
        ", ".join(result.transcript.flags),
    )
    return result


def run_demo(color: bool | None = None) -> int:
    # The SMA's logs and metrics are for CloudWatch; the story prints its own timeline.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    story = Story(color if color is not None else os.isatty(1))
    with (
        LocalStack(with_slack=True, forward_admins=LOCAL_USER) as stack,
        stack.applied(),
        BotServer.for_stack(stack) as bot,
    ):
        from switchboard.service import ForwardRequest, RefusedError
        from switchboard.settings import load
        from switchboard.wiring import forwarding_service

        service = forwarding_service(load(), need_routing=True)
        print(
            f"Local stack: moto at {os.environ['AWS_ENDPOINT_URL']}, Chime SDK Voice emulator at "
            f"{os.environ['AWS_ENDPOINT_URL_CHIME_SDK_VOICE']}; our numbers {', '.join(stack.numbers)}.\n"
            f"Slack: the bot at {bot.url}, a Slack Web API stand-in at {os.environ['SLACK_API_URL']}; "
            f"FORWARD_ADMINS={LOCAL_USER}."
        )

        story.scene(1, "Set a forward with two destinations (follow-me)")
        product, connectors, rules = _routing(OURS)
        story.check(
            f"{OURS} starts on the voice connector",
            product == "VoiceConnector" and connectors == [stack.voice_connector_id] and not rules,
            f"{product} {connectors} {rules}",
        )
        story.command(f"switchboard forward set {OURS} {FIRST} {SECOND}")
        result = service.set_forward(ForwardRequest(OURS, [FIRST, SECOND]), actor="demo")
        print("    " + result.message)
        for step in result.routing_steps:
            print(f"      routing: {step}")
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
        call = _call(story, ["answer"], "bridged call")
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
        call = _call(story, ["no-answer", "answer"], "follow-me call")
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
        call = _call(story, ["no-answer", "no-answer"], "failed call")
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

        story.scene(5, "Refused forwards change nothing")
        for bad, reason in (("+1 900 555 0100", "premium-rate"), ("911", "emergency"), (OURS, "itself")):
            story.command(f"switchboard forward set {OURS} '{bad}'")
            try:
                service.set_forward(ForwardRequest(OURS, [bad]), actor="demo")
                refused = ""
            except RefusedError as error:
                refused = str(error)
                print(f"    refused: {refused}")
            story.check(f"refused ({reason})", reason in refused, refused or "it was accepted")
        after = service.get_forward(OURS)
        story.check("the forward is unchanged", after is not None and after.destinations == (FIRST, SECOND))

        story.scene(6, "Remove the forward: the number goes back to the voice connector")
        story.command(f"switchboard forward remove {OURS}")
        removed = service.remove_forward(OURS, actor="demo")
        print("    " + removed.message)
        for step in removed.routing_steps:
            print(f"      routing: {step}")
        product, connectors, rules = _routing(OURS)
        story.check("the rule is gone", service.get_forward(OURS) is None)
        story.check(
            "product type VoiceConnector, associated again, no SIP rule left",
            product == "VoiceConnector" and connectors == [stack.voice_connector_id] and not rules,
            f"{product} {connectors} {rules}",
        )
        history = _history(OURS)
        story.check("the change history records who did what", history == ["remove", "set"], str(history))

        assert stack.slack is not None
        workspace = LocalWorkspace(bot.url, stack.env()["SLACK_SIGNING_SECRET"]).connect()
        _slack_scenes(story, stack, stack.slack, workspace, service)

    print()
    if story.failures:
        print(story._paint(RED, f"demo FAILED: {len(story.failures)} check(s) did not hold"))
        return 1
    print(story._paint(GREEN, "demo passed: every step behaved as described"))
    return 0


class _Console:
    """The demo's Slack console session: one user at a keyboard, scene after scene."""

    def __init__(self, story: Story, workspace: LocalWorkspace) -> None:
        self._story = story
        self._shown: list[str] = []
        self.session = SlackConsole(workspace, iter(()), self._shown.append, user=LOCAL_USER, echo=True)

    def type(self, *lines: str) -> str:
        """Type ``lines``; print and return what the console showed."""
        self._shown.clear()
        self.session.run(iter(lines))
        text = "".join(self._shown)
        self._story.transcript(text)
        return text


def _replies(slack: SlackStandIn) -> list[str]:
    return [str(r.args.get("text", "")) for r in slack.responses]


def _slack_scenes(
    story: Story, stack: LocalStack, slack: SlackStandIn, workspace: LocalWorkspace, service: Any
) -> None:
    """The same system driven from Slack: what a Slack user types, sees, and what it changes."""
    story.scene(7, f"Slack: /forward with two destinations, as @{LOCAL_USER} (in FORWARD_ADMINS)")
    story.command("switchboard slack    # a terminal Slack client: type what a Slack user would")
    console = _Console(story, workspace)
    shown = console.type(f"/forward {OURS} to {FIRST}, {SECOND}")
    story.check(
        "acknowledged within Slack's 3 s, saying what is about to happen",
        f"Forwarding {OURS} → {FIRST}, {SECOND}…" in shown and "acknowledgement took" not in shown,
    )
    story.check(
        "the result replaces the acknowledgement",
        _replies(slack)[-1:]
        == [f":white_check_mark: Now forwarding {OURS} → {FIRST}, {SECOND} (greeting loop, then prompt)."],
        str(_replies(slack)[-1:]),
    )
    alerts = slack.messages(ALERTS_CHANNEL)
    story.check(
        f"the change is announced in #{ALERTS_CHANNEL} (who, what)",
        len(alerts) == 1 and f"<@{LOCAL_USER}> forwarded *{OURS}* → {FIRST}, {SECOND}" in alerts[0]["text"],
        str(alerts),
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

    story.scene(8, f"Slack: @{VISITOR} (not in FORWARD_ADMINS) is refused politely")
    before = service.get_forward(OURS)
    console.type(f"as {VISITOR}", f"/forward {OURS} to {SECOND}")
    refusal = _replies(slack)[-1]
    story.check(
        "a polite refusal that says how to get access",
        refusal.startswith(f":no_entry: Sorry <@{VISITOR}>, you may look at forwards but not change them")
        and "FORWARD_ADMINS" in refusal,
        refusal,
    )
    after = service.get_forward(OURS)
    story.check(
        "nothing changed, nothing announced",
        after is not None
        and before is not None
        and after.version == before.version
        and after.destinations == (FIRST, SECOND)
        and len(slack.messages(ALERTS_CHANNEL)) == 1,
    )

    story.scene(9, "Slack: the form (/forward alone), one mistake, then fixed")
    answers = [OTHER, "911", "", "", "", "", "once", "", "", "20", "2h"]
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
        and f"forwarded *{OTHER}*" in slack.messages(ALERTS_CHANNEL)[-1]["text"]
        and _routing(OTHER)[0] == "SipMediaApplicationDialIn",
    )

    story.scene(10, "Slack: the App Home lists the forwards; Remove asks first")
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

    story.scene(11, "Slack: /forward remove: the number goes back to the voice connector")
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
        and f"removed the forward on *{OURS}*" in slack.messages(ALERTS_CHANNEL)[-1]["text"],
    )


def _history(number: str) -> list[str]:
    from switchboard.adapters.dynamodb import DynamoForwardRepository

    repo = DynamoForwardRepository(boto3.client("dynamodb"), os.environ["TABLE_NAME"])
    return [str(h["action"]) for h in repo.history(number)]
