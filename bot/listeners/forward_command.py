"""``/forward``: parsed and checked in the acknowledgement (no AWS call), carried out in a lazy
listener only when there is something to read or change."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from bot import failures, views
from bot.commands import (
    USAGE,
    CommandSyntaxError,
    ListForwards,
    ListLiveCalls,
    OpenModal,
    RemoveForward,
    SetForward,
    ShowHelp,
    ShowStatus,
    TransferCall,
    parse,
)
from bot.deps import BotDeps
from bot.listeners.common import apply_change, refusal, user_of
from bot.listeners.forward_form import fill_new_form, open_new_form
from bot.listeners.transfers import transfer
from bot.transfers import TransferRefusedError, parse_target
from switchboard.domain.durations import DurationError, parse_duration
from switchboard.domain.people import Skipped, is_mention
from switchboard.domain.rules import MAX_VOICEMAIL_SECONDS, MIN_VOICEMAIL_SECONDS
from switchboard.policy import DestinationPolicy, DestinationRefusedError
from switchboard.service import ChangeResult, ForwardingService, ForwardRequest, RefusedError, business_hours

Command = dict[str, Any]


def _check_branch(entries: tuple[str, ...], policy: DestinationPolicy, subject: str) -> None:
    numbers = [d for d in entries if not is_mention(d)]
    if len(numbers) == len(entries):
        policy.destinations(entries, subject=subject)  # as the form and the CLI
    else:  # people: the limit applies to the numbers they resolve to (after the ack)
        for number in numbers:
            policy.destination(number)


def check_set(command: SetForward, policy: DestinationPolicy) -> str | None:
    """Checks that need no AWS call, so a typo is answered at once."""
    typed = [d for d in (*command.destinations, *command.else_destinations) if not is_mention(d)]
    typed_name = next((d for d in typed if d.startswith("@")), None)
    if typed_name:
        return views.unescaped_mention_text(typed_name)
    try:
        _check_branch(command.destinations, policy, command.number)
        if command.else_destinations:
            _check_branch(command.else_destinations, policy, f"{command.number} outside business hours")
        if command.expires_in:
            parse_duration(command.expires_in)
        business_hours(command.hours, command.timezone, has_else=bool(command.else_destinations))
    except (DestinationRefusedError, DurationError, RefusedError) as error:
        return str(error)
    if command.greeting and command.greeting.lower() not in ("loop", "once", "none"):
        return f"greeting must be loop, once or none, not `{command.greeting}`"
    if command.failure and command.failure not in ("prompt", "hangup", "voicemail"):
        return f"`then` must be prompt, hangup or voicemail, not `{command.failure}`"
    if command.caller_id and command.caller_id.lower() not in ("dialed", "caller"):
        return f"callerid must be dialed or caller, not `{command.caller_id}`"
    if command.ring_timeout is not None and not 1 <= command.ring_timeout <= 120:
        return f"timeout must be 1-120 seconds, not {command.ring_timeout}"
    longest = command.voicemail_max_seconds
    if longest is not None and not MIN_VOICEMAIL_SECONDS <= longest <= MAX_VOICEMAIL_SECONDS:
        return f"a voicemail may last {MIN_VOICEMAIL_SECONDS}-{MAX_VOICEMAIL_SECONDS} seconds, not {longest}"
    return None


def refused_in_ack(deps: BotDeps, parsed: object, user: str) -> str | None:
    """The refusal for a change by someone who may not make it, known before the ack (so the
    person never sees "Removing the forward…" and then "Sorry")."""
    if isinstance(parsed, SetForward | RemoveForward | TransferCall):
        return refusal(deps, user)
    return None


def _target_refusal(deps: BotDeps, command: TransferCall) -> str | None:
    try:
        parse_target(command.target, deps.policy, deps.settings)
    except TransferRefusedError as error:
        return str(error)
    return None


def acknowledgement(deps: BotDeps, parsed: object, command: Command) -> str:
    """The ack's text for a parsed command other than opening the form."""
    refused = refused_in_ack(deps, parsed, user_of(command))
    if refused:
        return refused
    if isinstance(parsed, ShowHelp):
        return USAGE
    if isinstance(parsed, SetForward):
        problem = check_set(parsed, deps.policy)
        return (
            views.refused_text(problem)
            if problem
            else views.working_on_forward(parsed.number, parsed.destinations)
        )
    if isinstance(parsed, RemoveForward):
        return views.working_on_remove(parsed.number)
    if isinstance(parsed, TransferCall):
        try:
            target = parse_target(parsed.target, deps.policy, deps.settings)
        except TransferRefusedError as error:
            return views.refused_text(str(error))
        return views.working_on_transfer(parsed.call, str(target))
    return ":mag: Looking…"


def carry_out(deps: BotDeps, parsed: object, command: Command, respond: Respond, client: WebClient) -> None:
    """(lazy) Read or change what the command asked for, and answer in place of the ack."""
    user = user_of(command)

    def say(text: str) -> None:
        respond(text=text, replace_original=True)

    if isinstance(parsed, OpenModal):
        fill_new_form(deps, client, command["trigger_id"], user, command.get("channel_id", ""))
    elif isinstance(parsed, SetForward):
        if check_set(parsed, deps.policy):
            return
        command_set = parsed
        skipped: list[Skipped] = []

        def set_forward(service: ForwardingService) -> ChangeResult:
            # Inside the change: only someone allowed to forward makes the bot read Slack profiles.
            resolver = deps.people()  # one resolver: a group named in both branches is read once
            resolution = resolver.resolve_entries(command_set.destinations)
            after_hours = resolver.resolve_entries(command_set.else_destinations)
            skipped.extend((*resolution.skipped, *after_hours.skipped))
            request = ForwardRequest(
                number=command_set.number,
                destinations=resolution.destinations,
                sources=resolution.sources,
                greeting=command_set.greeting,
                failure=command_set.failure,
                caller_id=command_set.caller_id,
                ring_timeout=command_set.ring_timeout,
                voicemail_max_seconds=command_set.voicemail_max_seconds,
                expires_in=command_set.expires_in,
                hours=command_set.hours,
                timezone=command_set.timezone,
                else_destinations=after_hours.destinations,
                else_sources=after_hours.sources,
            )
            return service.set_forward(request, actor=user)

        result, text = apply_change(deps, user, set_forward)
        say(views.with_roster(text, result, tuple(skipped)))
    elif isinstance(parsed, RemoveForward):
        number = parsed.number
        say(apply_change(deps, user, lambda s: s.remove_forward(number, actor=user))[1])
    elif isinstance(parsed, ListForwards):
        rules = deps.service().list_forwards()
        respond(blocks=views.list_blocks(rules), text=f"{len(rules)} forward(s)", replace_original=True)
    elif isinstance(parsed, ShowStatus):
        service = deps.service()
        number = service.our_number(parsed.number)
        rule = service.get_forward(number)
        call_log = deps.call_log()
        calls = call_log.recent_calls(number, limit=5)
        live = call_log.live_calls(number)
        respond(
            blocks=views.status_blocks(number, rule, calls, live),
            text=f"Status of {number}",
            replace_original=True,
        )
    elif isinstance(parsed, ListLiveCalls):
        live = deps.call_log().live_calls()
        respond(blocks=views.live_blocks(live), text=f"{len(live)} connected call(s)", replace_original=True)
    elif isinstance(parsed, TransferCall):
        transfer(deps, client, user, parsed.call, parsed.target, say=say)


def needs_work_after_ack(deps: BotDeps, command: Command) -> bool:
    """Only valid commands that read or change something (or fill the form) pay for a lazy
    (re-)invocation; help and input refused in the ack are answered by the ack alone."""
    try:
        parsed = parse(command.get("text", ""))
    except CommandSyntaxError:
        return False
    if refused_in_ack(deps, parsed, user_of(command)):
        return False
    if isinstance(parsed, SetForward):
        return check_set(parsed, deps.policy) is None
    if isinstance(parsed, TransferCall):
        return _target_refusal(deps, parsed) is None
    return isinstance(parsed, OpenModal | RemoveForward | ListForwards | ShowStatus | ListLiveCalls)


def register(app: App, deps: BotDeps) -> None:
    def ack_forward(ack: Ack, command: Command, client: WebClient) -> None:
        try:
            parsed = parse(command.get("text", ""))
        except CommandSyntaxError as error:
            ack(text=f"{views.refused_text(str(error))}\n\n{USAGE}")
            return
        if isinstance(parsed, OpenModal):
            ack()
            open_new_form(
                deps, client, command["trigger_id"], user_of(command), command.get("channel_id", "")
            )
        else:
            ack(text=acknowledgement(deps, parsed, command))

    def run_forward(command: Command, respond: Respond, client: WebClient) -> None:
        try:
            parsed = parse(command.get("text", ""))
        except CommandSyntaxError:
            return  # already answered by the ack
        try:
            carry_out(deps, parsed, command, respond, client)
        except Exception as error:
            respond(text=failures.explain(error, changing=False), replace_original=True)

    def lazy_work(command: Command) -> bool:
        return needs_work_after_ack(deps, command)

    app.command("/forward", matchers=[lazy_work])(ack=ack_forward, lazy=[run_forward])
    app.command("/forward")(ack_forward)
