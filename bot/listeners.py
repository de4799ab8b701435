"""The bot's listeners, registered on one Bolt ``App``.

Every Slack request is answered within Slack's 3 s: the *ack* functions only parse, validate what
needs no AWS call, and acknowledge (or open a modal, which needs the request's short-lived
trigger_id). Anything that reads the table, changes routing or waits on Slack runs in *lazy*
listeners, which Bolt runs after the acknowledgement (on Lambda, in a second invocation).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, App, BoltResponse, Respond
from slack_bolt.request import BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import failures, views
from bot.alert_actions import prefill
from bot.auth import Authorizer
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
from bot.transfers import Result, TransferRefusedError, Transfers, parse_target
from switchboard.adapters.dynamodb import DynamoCallLog
from switchboard.domain.durations import DurationError, parse_duration
from switchboard.domain.events import LiveCallEntry
from switchboard.domain.rules import find_loops
from switchboard.policy import DestinationPolicy, DestinationRefusedError
from switchboard.ports import StorageError
from switchboard.service import (
    ChangeResult,
    ForwardingService,
    ForwardRequest,
)
from switchboard.settings import ConfigurationError, Settings

log = logging.getLogger("bot")


@dataclass
class BotDeps:
    """What the listeners need. AWS-backed parts are built on first use (see ``bot.app``), so an
    acknowledgement that needs none of them never pays for them."""

    settings: Settings
    policy: DestinationPolicy
    authorizer: Authorizer
    service: Callable[[], ForwardingService]
    call_log: Callable[[], DynamoCallLog]
    transfers: Callable[[], Transfers]


def _user(body: dict[str, Any]) -> str:
    return str(body.get("user_id") or body.get("user", {}).get("id") or "")


def _check_set(command: SetForward, policy: DestinationPolicy) -> str | None:
    """Checks that need no AWS call, so a typo is answered at once."""
    try:
        policy.destinations(command.destinations, subject=command.number)  # as the form and the CLI
        if command.expires_in:
            parse_duration(command.expires_in)
    except (DestinationRefusedError, DurationError) as error:
        return str(error)
    if command.greeting and command.greeting.lower() not in ("loop", "once", "none"):
        return f"greeting must be loop, once or none, not `{command.greeting}`"
    if command.failure and command.failure not in ("prompt", "hangup"):
        return f"`then` must be prompt or hangup, not `{command.failure}`"
    if command.caller_id and command.caller_id.lower() not in ("dialed", "caller"):
        return f"callerid must be dialed or caller, not `{command.caller_id}`"
    if command.ring_timeout is not None and not 1 <= command.ring_timeout <= 120:
        return f"timeout must be 1-120 seconds, not {command.ring_timeout}"
    return None


def _apply(
    deps: BotDeps, user: str, change: Callable[[ForwardingService], ChangeResult]
) -> tuple[ChangeResult | None, str]:
    """Run a change for ``user``: authorisation, then the service. Returns (result, message)."""
    if not deps.authorizer.may_change(user):
        return None, ":no_entry: " + deps.authorizer.refusal(user)
    try:
        result = change(deps.service())
    except Exception as error:  # every failure becomes a sentence (details logged with a reference)
        return None, failures.explain(error)
    return result, views.change_done_text(result)


def register(app: App, deps: BotDeps) -> None:
    @app.middleware
    def drop_slack_retries(
        req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]
    ) -> BoltResponse:
        # Slack retries a request it thinks timed out; the first delivery is still being handled
        # (Lambda keeps running), so a retry must not apply the change a second time.
        if req.headers.get("x-slack-retry-num"):
            return BoltResponse(status=200, body="", headers={"x-slack-no-retry": "1"})
        return next()

    @app.error
    def answer_instead_of_http_500(error: Exception, body: dict[str, Any]) -> BoltResponse:
        """Last resort for an error no listener expected: Slack gets a 200 and the person a sentence
        (with a reference to the log line), never "dispatch_failed" or a closed form."""
        text = failures.explain(error, changing=False)
        if body.get("type") == "view_submission":
            reply: dict[str, Any] = {
                "response_action": "update",
                "view": views.message_modal("Something went wrong", text),
            }
        elif body.get("command"):
            reply = {"text": text}
        else:
            return BoltResponse(status=200, body="")
        return BoltResponse(status=200, body=json.dumps(reply), headers={"content-type": "application/json"})

    # -- /forward ---------------------------------------------------------------------------

    def refused_in_ack(parsed: object, user: str) -> str | None:
        """The refusal for a change by someone who may not make it, known before the ack (so the
        person never sees "Removing the forward…" and then "Sorry")."""
        if isinstance(parsed, SetForward | RemoveForward | TransferCall) and not deps.authorizer.may_change(
            user
        ):
            return ":no_entry: " + deps.authorizer.refusal(user)
        return None

    def ack_forward(ack: Ack, command: dict[str, Any], client: WebClient) -> None:
        try:
            parsed = parse(command.get("text", ""))
        except CommandSyntaxError as error:
            ack(text=f"{views.refused_text(str(error))}\n\n{USAGE}")
            return
        refusal = refused_in_ack(parsed, _user(command))
        if refusal:
            ack(text=refusal)
        elif isinstance(parsed, ShowHelp):
            ack(text=USAGE)
        elif isinstance(parsed, OpenModal):
            ack()
            _open_new_form(client, command["trigger_id"], _user(command), command.get("channel_id", ""))
        elif isinstance(parsed, SetForward):
            problem = _check_set(parsed, deps.policy)
            if problem:
                ack(text=views.refused_text(problem))
            else:
                ack(text=views.working_on_forward(parsed.number, parsed.destinations))
        elif isinstance(parsed, RemoveForward):
            ack(text=views.working_on_remove(parsed.number))
        elif isinstance(parsed, TransferCall):
            try:
                target = parse_target(parsed.target, deps.policy, deps.settings)
            except TransferRefusedError as error:
                ack(text=views.refused_text(str(error)))
            else:
                ack(text=views.working_on_transfer(parsed.call, str(target)))
        else:
            ack(text=":mag: Looking…")

    def run_forward(command: dict[str, Any], respond: Respond, client: WebClient) -> None:
        try:
            parsed = parse(command.get("text", ""))
        except CommandSyntaxError:
            return  # already answered by the ack
        user = _user(command)
        try:
            if isinstance(parsed, OpenModal):
                _fill_new_form(client, command["trigger_id"], user, command.get("channel_id", ""))
            elif isinstance(parsed, SetForward):
                if _check_set(parsed, deps.policy):
                    return
                request = ForwardRequest(
                    number=parsed.number,
                    destinations=parsed.destinations,
                    greeting=parsed.greeting,
                    failure=parsed.failure,
                    caller_id=parsed.caller_id,
                    ring_timeout=parsed.ring_timeout,
                    expires_in=parsed.expires_in,
                )
                _, message = _apply(deps, user, lambda s: s.set_forward(request, actor=user))
                respond(text=message, replace_original=True)
            elif isinstance(parsed, RemoveForward):
                number = parsed.number
                _, message = _apply(deps, user, lambda s: s.remove_forward(number, actor=user))
                respond(text=message, replace_original=True)
            elif isinstance(parsed, ListForwards):
                rules = deps.service().list_forwards()
                respond(
                    blocks=views.list_blocks(rules), text=f"{len(rules)} forward(s)", replace_original=True
                )
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
                respond(
                    blocks=views.live_blocks(live),
                    text=f"{len(live)} connected call(s)",
                    replace_original=True,
                )
            elif isinstance(parsed, TransferCall):
                transfer = parsed

                def say(text: str) -> None:
                    respond(text=text, replace_original=True)

                _transfer(client, user, transfer.call, transfer.target, say)
        except Exception as error:
            respond(text=failures.explain(error, changing=False), replace_original=True)

    def needs_work_after_ack(command: dict[str, Any]) -> bool:
        """Only valid commands that read or change something (or fill the form) pay for a lazy
        (re-)invocation; help and input refused in the ack are answered by the ack alone."""
        try:
            parsed = parse(command.get("text", ""))
        except CommandSyntaxError:
            return False
        if refused_in_ack(parsed, _user(command)):
            return False
        if isinstance(parsed, SetForward):
            return _check_set(parsed, deps.policy) is None
        if isinstance(parsed, TransferCall):
            try:
                parse_target(parsed.target, deps.policy, deps.settings)
            except TransferRefusedError:
                return False
            return True
        return isinstance(parsed, OpenModal | RemoveForward | ListForwards | ShowStatus | ListLiveCalls)

    app.command("/forward", matchers=[needs_work_after_ack])(ack=ack_forward, lazy=[run_forward])
    app.command("/forward")(ack_forward)

    # -- the form -----------------------------------------------------------------------------
    # No acknowledgement may call Chime SDK Voice (listing our numbers pages through the whole
    # account) and each reads the table at most once: a new forward's form opens as a placeholder
    # that a lazy listener replaces once the numbers are listed; an edit form reads one rule.

    def _refuse(client: WebClient, user: str, channel: str, text: str) -> None:
        try:
            client.chat_postEphemeral(channel=channel or user, user=user, text=text)
        except SlackApiError:
            client.chat_postMessage(channel=user, text=text)

    def _form_id(trigger_id: str) -> str:
        return f"forward-form:{trigger_id}"[:255]

    def _open_new_form(client: WebClient, trigger_id: str, user: str, channel: str) -> None:
        """(ack) The placeholder, or the refusal."""
        if not deps.authorizer.may_change(user):
            _refuse(client, user, channel, ":no_entry: " + deps.authorizer.refusal(user))
            return
        client.views_open(trigger_id=trigger_id, view=views.loading_modal(_form_id(trigger_id)))

    def _fill_new_form(client: WebClient, trigger_id: str, user: str, channel: str) -> None:
        """(lazy) Our numbers into the placeholder the ack opened."""
        if not deps.authorizer.may_change(user):
            return  # refused by the ack
        try:
            numbers = deps.service().inventory_numbers()
            view = (
                views.forward_modal(numbers, None, channel)
                if numbers
                else views.message_modal("Forward a number", views.no_numbers_text())
            )
        except Exception as error:
            view = views.message_modal("Forward a number", failures.explain(error, changing=False))
        try:
            client.views_update(external_id=_form_id(trigger_id), view=view)
        except SlackApiError as error:  # closed already, or the placeholder never opened
            log.warning("could not fill the forward form: %s", error.response.get("error"))

    def _open_number_form(
        client: WebClient,
        trigger_id: str,
        user: str,
        number: str,
        channel: str,
        *,
        failed: tuple[str, ...] = (),
    ) -> None:
        """(ack) The form for one number's forward: one table read, no Chime call."""
        if not deps.authorizer.may_change(user):
            _refuse(client, user, channel, ":no_entry: " + deps.authorizer.refusal(user))
            return
        try:
            rule = deps.service().stored_forward(number)
        except Exception as error:
            _refuse(client, user, channel, failures.explain(error, changing=False))
            return
        ours = rule.number if rule else deps.policy.our_number(number)
        client.views_open(trigger_id=trigger_id, view=prefill(rule, ours, channel, failed))

    def _form_refusals(form: views.ModalInput) -> dict[str, str]:
        """What is wrong with the form itself (no AWS call): the same answer in the ack and later."""
        errors: dict[str, str] = dict(form.problems)
        if not form.fixed_number and form.number not in form.offered:
            errors["number"] = "Choose one of our numbers."
        fields = [(b, t) for b, t in form.destination_fields if b not in errors]
        if len(fields) == len(form.destination_fields):
            try:
                deps.policy.destinations([t for _, t in fields], subject=form.number or "This forward")
            except DestinationRefusedError as error:
                at = error.index if error.index is not None and error.index < len(fields) else 0
                block = fields[at][0] if fields else views.DEST_BLOCKS[0]
                errors[block] = str(error)[:150]
        return errors

    def _modal_errors(form: views.ModalInput, user: str) -> dict[str, str]:
        """(ack) Refusals shown on the form's fields; at most one table read."""
        if not deps.authorizer.may_change(user):
            return {form.number_block: deps.authorizer.refusal(user)[:150]}
        errors = _form_refusals(form)
        if errors:
            return errors
        try:
            existing = {r.number: r for r in deps.service().list_forwards()}
        except Exception as error:
            return {form.number_block: failures.explain(error, changing=False)[:150]}
        current = existing.get(form.number)
        if form.expected_version == 0 and current is not None:
            return {form.number_block: views.already_forwarded_text(current)[:150]}
        if form.expected_version != (current.version if current else 0):
            return {form.number_block: views.changed_meanwhile_text(form.number, current)[:150]}
        normalised = deps.policy.destinations(form.destinations, subject=form.number)
        loop = find_loops(form.number, normalised, existing)
        if loop:
            # Point at the destination the problem names; a chain *into* our number is the number's.
            at = next((i for i, d in enumerate(normalised) if loop.startswith(d)), None)
            block = form.destination_fields[at][0] if at is not None else form.number_block
            return {block: loop[:150]}
        return {}

    def ack_modal(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        form = views.read_modal(view)
        errors = _modal_errors(form, _user(body))
        if errors:
            ack(response_action="errors", errors=errors)
        else:
            ack()

    def apply_modal(body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        user = _user(body)
        form = views.read_modal(view)
        if _form_refusals(form):
            return  # the form was sent back with these errors by the ack
        # Whatever the ack saw in the table, the service decides again on the stored truth: a
        # refusal the form already showed may be told twice, but no outcome goes untold.
        try:
            expires_in = _expiry_from_form(form)
        except Exception as error:
            _tell(client, user, form.channel_id, failures.explain(error))
            return
        request = ForwardRequest(
            number=form.number,
            destinations=form.destinations,
            greeting=form.greeting,
            failure=form.failure,
            caller_id=form.caller_id,
            ring_timeout=form.ring_timeout,
            expires_in=expires_in,
            expected_version=form.expected_version,
        )
        result, message = _apply(deps, user, lambda s: s.set_forward(request, actor=user))
        _tell(client, user, form.channel_id, message)
        if result:
            _publish_home(client, user)

    def _expiry_from_form(form: views.ModalInput) -> str | None:
        if form.expiry == "never":
            return None
        if form.expiry == "keep":
            current = deps.service().get_forward(form.number)
            if current and current.expires_at:
                left = current.expires_at - int(deps.service().now())
                return f"{max(left, 60)}s"
            return None
        return form.expiry

    def _tell(client: WebClient, user: str, channel: str, text: str) -> None:
        """Results of modal and button actions: ephemeral where it was asked, else a DM."""
        try:
            if channel:
                client.chat_postEphemeral(channel=channel, user=user, text=text)
            else:
                client.chat_postMessage(channel=user, text=text)
        except SlackApiError:
            client.chat_postMessage(channel=user, text=text)

    app.view(views.MODAL_CALLBACK)(ack=ack_modal, lazy=[apply_modal])

    # -- App Home -----------------------------------------------------------------------------

    def _publish_home(client: WebClient, user: str) -> None:
        try:
            rules = deps.service().list_forwards()
        except Exception as error:
            view = views.home_problem_view(failures.explain(error, changing=False))
        else:
            try:
                live = deps.call_log().live_calls()
            except StorageError as error:
                log.error("App Home without live calls: %s", error)
                live = []
            view = views.home_view(rules, deps.authorizer.may_change(user), live)
        try:
            client.views_publish(user_id=user, view=view)
        except SlackApiError as error:
            log.error("could not publish App Home for %s: %s", user, error.response.get("error"))

    def just_ack(ack: Ack) -> None:
        ack()

    def publish_home(event: dict[str, Any], client: WebClient) -> None:
        if event.get("tab", "home") == "home":
            _publish_home(client, str(event.get("user", "")))

    app.event("app_home_opened")(ack=just_ack, lazy=[publish_home])

    def open_new(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        ack()
        _open_new_form(client, body["trigger_id"], _user(body), "")

    def fill_new(body: dict[str, Any], client: WebClient) -> None:
        _fill_new_form(client, body["trigger_id"], _user(body), "")

    def open_edit(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        _open_number_form(client, body["trigger_id"], _user(body), str(action.get("value", ""))[:64], "")

    def remove_from_button(body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        user = _user(body)
        number = str(action.get("value", ""))
        _, message = _apply(deps, user, lambda s: s.remove_forward(number, actor=user))
        channel = str(body.get("channel", {}).get("id", "")) if body.get("channel") else ""
        _tell(client, user, channel, message)
        if body.get("view", {}).get("type") == "home":
            _publish_home(client, user)

    app.action("home_new")(ack=open_new, lazy=[fill_new])
    app.action("edit_forward")(open_edit)
    app.action("remove_forward")(ack=just_ack, lazy=[remove_from_button])

    # -- transfers ----------------------------------------------------------------------------

    def _transfer(
        client: WebClient, user: str, reference: str, target_text: str, say: Callable[[str], None]
    ) -> None:
        """Authorise, find the call, ask the SMA to transfer it, then report how it went."""
        if not deps.authorizer.may_change(user):
            say(":no_entry: " + deps.authorizer.refusal(user))
            return
        try:
            transfers = deps.transfers()
        except ConfigurationError as error:
            say(views.transfers_not_set_up_text(str(error)))
            return
        try:
            target = parse_target(target_text, deps.policy, deps.settings)
            entry = transfers.find_call(reference)
            transfers.request(entry, target)
        except TransferRefusedError as error:
            say(views.refused_text(str(error)))
            return
        say(views.transfer_started(entry, str(target)))
        outcome = transfers.await_outcome(entry, target)
        connected = {Result.CONNECTED: True, Result.FAILED: False}.get(outcome.result)
        say(views.transfer_outcome(connected, outcome.detail))
        _announce_transfer(client, entry, str(target), user, outcome.detail)

    def _announce_transfer(
        client: WebClient, entry: LiveCallEntry, target: str, user: str, result: str
    ) -> None:
        if not deps.settings.alert_channel:
            return
        try:
            client.chat_postMessage(
                channel=deps.settings.alert_channel, text=views.transfer_text(entry, target, user, result)
            )
        except SlackApiError as error:
            log.error("could not announce the transfer in %s: %s", deps.settings.alert_channel, error)

    def open_transfer(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        user = _user(body)
        channel = str(body.get("channel", {}).get("id", "")) if body.get("channel") else ""
        if not deps.authorizer.may_change(user):
            _tell(client, user, channel, ":no_entry: " + deps.authorizer.refusal(user))
            return
        transaction_id = str(action.get("value", ""))[:64]
        try:
            entry = deps.call_log().live_call(transaction_id)
        except Exception as error:
            _tell(client, user, channel, failures.explain(error, changing=False))
            return
        if entry is None:
            _tell(client, user, channel, views.call_ended_text(transaction_id))
            return
        from_home = body.get("view", {}).get("type") == "home"
        client.views_open(
            trigger_id=body["trigger_id"], view=views.transfer_modal(entry, channel, from_home=from_home)
        )

    def _form_target(form: views.TransferInput) -> None:
        """Raises TransferRefusedError for a target the transfer form must not accept."""
        if len(form.target) > views.MAX_INPUT_LENGTH:  # a forged submission ignores max_length
            raise TransferRefusedError("That is too long for a phone number or a SIP user.")
        parse_target(form.target, deps.policy, deps.settings)

    def ack_transfer_modal(ack: Ack, view: dict[str, Any]) -> None:
        form = views.read_transfer_modal(view)
        try:
            _form_target(form)
        except TransferRefusedError as error:
            ack(response_action="errors", errors={views.TRANSFER_BLOCK: str(error)[:150]})
            return
        ack()

    def apply_transfer_modal(body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        form = views.read_transfer_modal(view)
        user = _user(body)
        try:
            _form_target(form)
        except TransferRefusedError:
            return  # sent back with the error by the ack
        try:
            _transfer(
                client,
                user,
                form.transaction_id,
                form.target,
                lambda text: _tell(client, user, form.channel_id, text),
            )
        except Exception as error:
            _tell(client, user, form.channel_id, failures.explain(error))
        if form.from_home:
            _publish_home(client, user)  # the call now shows its new callee (or is gone)

    app.action(views.TRANSFER_ACTION)(open_transfer)
    app.view(views.TRANSFER_CALLBACK)(ack=ack_transfer_modal, lazy=[apply_transfer_modal])

    # Buttons on channel alerts (Remove / Edit / Try another destination).
    from bot.alert_actions import register_alert_actions

    register_alert_actions(app, deps, _open_number_form)
