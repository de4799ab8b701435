"""The forward form (modal): opening it for a new forward or one number's forward, checking a
submission in the acknowledgement, and applying it in a lazy listener.

No acknowledgement may call Chime SDK Voice (listing our numbers pages through the whole account)
and each reads the table at most once: a new forward's form opens as a placeholder that a lazy
listener replaces once the numbers are listed; an edit form reads one rule.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import failures, views
from bot.deps import BotDeps
from bot.listeners import home_tab
from bot.listeners.common import apply_change, refusal, tell, user_of
from switchboard.domain.people import Skipped
from switchboard.domain.rules import find_loops
from switchboard.policy import DestinationRefusedError
from switchboard.service import ChangeResult, ForwardingService, ForwardRequest, RefusedError, business_hours

log = logging.getLogger("bot")


def _form_id(trigger_id: str) -> str:
    return f"forward-form:{trigger_id}"[:255]


def open_new_form(deps: BotDeps, client: WebClient, trigger_id: str, user: str, channel: str) -> None:
    """(ack) The placeholder, or the refusal."""
    refused = refusal(deps, user)
    if refused:
        tell(client, user, channel, refused)
        return
    client.views_open(trigger_id=trigger_id, view=views.loading_modal(_form_id(trigger_id)))


def fill_new_form(deps: BotDeps, client: WebClient, trigger_id: str, user: str, channel: str) -> None:
    """(lazy) Our numbers into the placeholder the ack opened."""
    if not deps.authorizer.may_change(user):
        return  # refused by the ack
    try:
        numbers = deps.service().inventory_numbers()
        view = (
            views.forward_modal(numbers, None, channel, groups=deps.user_groups())
            if numbers
            else views.message_modal("Forward a number", views.no_numbers_text())
        )
    except Exception as error:
        view = views.message_modal("Forward a number", failures.explain(error, changing=False))
    try:
        client.views_update(external_id=_form_id(trigger_id), view=view)
    except SlackApiError as error:  # closed already, or the placeholder never opened
        log.warning("could not fill the forward form: %s", error.response.get("error"))


def open_number_form(
    deps: BotDeps,
    client: WebClient,
    trigger_id: str,
    user: str,
    number: str,
    *,
    channel: str,
    failed: tuple[str, ...] = (),
) -> None:
    """(ack) The form for one number's forward: one table read, no Chime call."""
    refused = refusal(deps, user)
    if refused:
        tell(client, user, channel, refused)
        return
    try:
        rule = deps.service().stored_forward(number)
    except Exception as error:
        tell(client, user, channel, failures.explain(error, changing=False))
        return
    ours = rule.number if rule else deps.policy.our_number(number)
    # One Slack call for the group picker (usergroups.list) besides the table read.
    view = views.prefill(rule, ours, channel, failed, groups=deps.user_groups())
    client.views_open(trigger_id=trigger_id, view=view)


def form_refusals(deps: BotDeps, form: views.ModalInput) -> dict[str, str]:
    """What is wrong with the form itself (no AWS call): the same answer in the ack and later."""
    errors: dict[str, str] = dict(form.problems)
    if not form.fixed_number and form.number not in form.offered:
        errors["number"] = "Choose one of our numbers."
    fields = [(b, t) for b, t in form.destination_fields if b not in errors]
    if form.people:
        # People resolve to numbers after the ack; the 5-destination limit applies to those.
        for block, text in fields:
            try:
                deps.policy.destination(text)
            except DestinationRefusedError as error:
                errors[block] = str(error)[:150]
    elif len(fields) == len(form.destination_fields):
        try:
            deps.policy.destinations([t for _, t in fields], subject=form.number or "This forward")
        except DestinationRefusedError as error:
            at = error.index if error.index is not None and error.index < len(fields) else 0
            block = fields[at][0] if fields else views.DEST_BLOCKS[0]
            errors[block] = "Pick people or a group, or type a number." if not fields else str(error)[:150]
    errors.update(_hours_refusals(deps, form, errors))
    return errors


def _hours_refusals(deps: BotDeps, form: views.ModalInput, errors: dict[str, str]) -> dict[str, str]:
    """The business-hours fields, checked as the slash command and the CLI check them."""
    if any(block in errors for block in (views.HOURS_BLOCK, views.TIMEZONE_BLOCK, views.ELSE_BLOCK)):
        return {}
    try:
        if form.else_destinations:
            deps.policy.destinations(form.else_destinations, subject=f"{form.number} outside business hours")
    except DestinationRefusedError as error:
        return {views.ELSE_BLOCK: str(error)[:150]}
    try:
        business_hours(form.hours, form.timezone, has_else=bool(form.else_destinations))
    except RefusedError as error:
        text = str(error).removesuffix(" Nothing was changed.")
        if "time zone" in text:
            return {views.TIMEZONE_BLOCK: text[:150]}
        if not form.hours:
            return {views.HOURS_BLOCK: text[:150]}
        if not form.else_destinations:
            return {views.ELSE_BLOCK: text[:150]}
        return {views.HOURS_BLOCK: text[:150]}
    return {}


def modal_errors(deps: BotDeps, form: views.ModalInput, user: str) -> dict[str, str]:
    """(ack) Refusals shown on the form's fields; at most one table read."""
    if not deps.authorizer.may_change(user):
        return {form.number_block: deps.authorizer.refusal(user)[:150]}
    errors = form_refusals(deps, form)
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
    normalised = (
        tuple(deps.policy.destination(text) for text in form.destinations)
        if form.people  # numbers beside people: each checked (form_refusals), the limit applies later
        else deps.policy.destinations(form.destinations, subject=form.number)
    )
    loop = find_loops(form.number, normalised, existing)
    if loop:
        # Point at the destination the problem names; a chain *into* our number is the number's.
        at = next((i for i, d in enumerate(normalised) if loop.startswith(d)), None)
        block = form.destination_fields[at][0] if at is not None else form.number_block
        return {block: loop[:150]}
    if form.else_destinations:
        after_hours = deps.policy.destinations(form.else_destinations, subject=form.number)
        loop = find_loops(form.number, after_hours, existing)
        if loop:
            return {views.ELSE_BLOCK: loop[:150]}
    return {}


def expiry_from_form(deps: BotDeps, form: views.ModalInput) -> str | None:
    if form.expiry == "never":
        return None
    if form.expiry == "keep":
        current = deps.service().get_forward(form.number)
        if current and current.expires_at:
            left = current.expires_at - int(deps.service().now())
            return f"{max(left, 60)}s"
        return None
    return form.expiry


def register(app: App, deps: BotDeps) -> None:
    def ack_modal(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        form = views.read_modal(view)
        errors = modal_errors(deps, form, user_of(body))
        if errors:
            ack(response_action="errors", errors=errors)
        else:
            ack()

    def apply_modal(body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        user = user_of(body)
        form = views.read_modal(view)
        if form_refusals(deps, form):
            return  # the form was sent back with these errors by the ack
        # Whatever the ack saw in the table, the service decides again on the stored truth: a
        # refusal the form already showed may be told twice, but no outcome goes untold.
        try:
            expires_in = expiry_from_form(deps, form)
        except Exception as error:
            tell(client, user, form.channel_id, failures.explain(error))
            return
        skipped: list[Skipped] = []

        def set_forward(service: ForwardingService) -> ChangeResult:
            resolution = deps.people().resolve_entries(form.entries)  # after the authorisation check
            skipped.extend(resolution.skipped)
            request = ForwardRequest(
                number=form.number,
                destinations=resolution.destinations,
                sources=resolution.sources,
                greeting=form.greeting,
                failure=form.failure,
                caller_id=form.caller_id,
                ring_timeout=form.ring_timeout,
                voicemail_max_seconds=form.voicemail_max_seconds,
                expires_in=expires_in,
                expected_version=form.expected_version,
                hours=form.hours,
                timezone=form.timezone,
                else_destinations=form.else_destinations,
            )
            return service.set_forward(request, actor=user)

        result, message = apply_change(deps, user, set_forward)
        tell(client, user, form.channel_id, views.with_roster(message, result, tuple(skipped)))
        if result:
            home_tab.publish(deps, client, user)

    app.view(views.MODAL_CALLBACK)(ack=ack_modal, lazy=[apply_modal])
