"""Forwards to Slack users and user groups, end to end: signed slash commands and Events API
deliveries into bot.app.handler, Slack's directory from the local stand-in, the table on moto and
routing on the Chime SDK Voice emulator."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from switchboard.adapters.dynamodb import DynamoForwardRepository, RuleChange, rule_change_from_item
from switchboard.domain.people import SourceKind
from switchboard.domain.rules import ForwardRule
from switchboard_local.slack.standin import SlackStandIn
from tests.functional.bot_under_test import ADMIN, ALERTS, OURS, BotUnderTest, bot_under_test
from tests.functional.conftest import TABLE

SECRET = "people-signing-secret"
TOKEN = "xoxb-people"
VISITOR = "U0VISITOR"
ALICE, BOB, CAROL, DAVE, NOPHONE = "U0ALICE", "U0BOB", "U0CAROL", "U0DAVE", "U0NOPHONE"
ONCALL = "S0ONCALL"
PHONES = {ALICE: "(206) 555-0111", BOB: "+1 312 555 0122", CAROL: "+14155550133", DAVE: "646 555 0144"}
NAMES = {ALICE: "alice", BOB: "bob", CAROL: "carol", DAVE: "dave", NOPHONE: "nophone"}
MENTION = f"<!subteam^{ONCALL}|@sre-oncall>"

People = BotUnderTest


@pytest.fixture(scope="module")
def people_module(moto_endpoint: str) -> Iterator[People]:
    slack = SlackStandIn(
        tokens=[TOKEN],
        usergroups={ONCALL: [ALICE, BOB]},
        users={user: {"name": name} for user, name in NAMES.items()} | {ADMIN: {}, VISITOR: {}},
        phones=PHONES,
        group_handles={ONCALL: "sre-oncall"},
    )
    with bot_under_test(slack, secret=SECRET, token=TOKEN, admins=ADMIN, settle_seconds=30) as people:
        yield people


@pytest.fixture
def people(people_module: People, dynamodb: Any) -> Iterator[People]:
    slack = people_module.slack
    slack.clear()
    slack.usergroups[ONCALL] = [ALICE, BOB]
    slack.phones.clear()
    slack.phones.update(PHONES)
    slack.scopes = None
    slack.event_sink = people_module.deliver
    yield people_module
    people_module.lambdas.wait_idle(timeout=30)
    slack.event_sink = None


def stored(dynamodb: Any, number: str = OURS) -> ForwardRule:
    rule = DynamoForwardRepository(dynamodb, TABLE).get(number)
    assert rule is not None
    return rule


def history(dynamodb: Any, number: str = OURS) -> list[RuleChange]:
    return [rule_change_from_item(item) for item in DynamoForwardRepository(dynamodb, TABLE).history(number)]


def forward_to_oncall(people: People, number: str = OURS) -> None:
    people.command(f"{number} to {MENTION}")
    people.settle()


def test_a_forward_to_a_group_rings_its_members_and_says_who(people: People, dynamodb: Any) -> None:
    forward_to_oncall(people)
    rule = stored(dynamodb)
    assert rule.destinations == ("+12065550111", "+13125550122")
    (source,) = rule.sources
    assert (source.kind, source.id, source.label) == (SourceKind.GROUP, ONCALL, "sre-oncall")
    assert [p.user_id for p in source.people] == [ALICE, BOB]
    (reply,) = people.replies()
    assert reply.startswith(":white_check_mark: Now forwarding +12025550100")
    assert f"@sre-oncall: <@{ALICE}> (+1206•••0111), <@{BOB}> (+1312•••0122)" in reply


def test_people_and_numbers_in_one_command_and_someone_without_a_phone(people: People, dynamodb: Any) -> None:
    people.command(f"{OURS} to <@{NOPHONE}|nophone>, <@{CAROL}|carol> +1 917 555 0155 for 2h")
    people.settle()
    rule = stored(dynamodb)
    assert rule.destinations == ("+14155550133", "+19175550155")
    assert rule.expires_at is not None
    (reply,) = people.replies()
    assert f"<@{NOPHONE}> has no phone number in their Slack profile" in reply


def test_someone_not_allowed_is_refused_before_any_profile_is_read(people: People, dynamodb: Any) -> None:
    ack = people.command(f"{OURS} to {MENTION}", user=VISITOR)
    people.settle()
    assert ":no_entry:" in ack["body"]
    assert DynamoForwardRepository(dynamodb, TABLE).get(OURS) is None
    assert people.slack.calls_to("users.profile.get") == []


def test_without_the_scope_naming_a_person_says_so_and_numbers_still_work(
    people: People, dynamodb: Any
) -> None:
    people.slack.scopes = {"commands", "chat:write", "usergroups:read"}
    people.command(f"{OURS} to <@{ALICE}|alice>")
    people.settle()
    (reply,) = people.replies()
    assert "users.profile:read" in reply
    assert "Nothing was changed" in reply
    assert DynamoForwardRepository(dynamodb, TABLE).get(OURS) is None
    people.command(f"{OURS} to +12065550111", name="numbers")
    people.settle()
    assert stored(dynamodb).destinations == ("+12065550111",)


def test_a_membership_change_event_re_resolves_with_history(people: People, dynamodb: Any) -> None:
    forward_to_oncall(people)
    response = people.slack.set_group_members(ONCALL, [CAROL, DAVE])  # delivered, signed, to the bot
    people.settle()
    rule = stored(dynamodb)
    assert rule.destinations == ("+14155550133", "+16465550144")
    latest = history(dynamodb)[0]
    assert latest.actor == "Slack sync"
    assert latest.old is not None
    assert latest.old.destinations == ("+12065550111", "+13125550122")
    from bot.views import history_text

    assert "@sre-oncall changed: now carol, then dave" in history_text(latest)
    assert response  # the event body, for a later (duplicate) delivery


def test_a_renamed_group_event_refreshes_the_handle_in_the_forward(
    people: People, dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    forward_to_oncall(people)
    monkeypatch.setitem(people.slack.group_handles, ONCALL, "sre-oncall")  # put back afterwards
    people.slack.rename_group(ONCALL, "oncall-sre")  # subteam_updated, delivered signed to the bot
    people.settle()
    rule = stored(dynamodb)
    assert [source.handle for source in rule.sources] == ["@oncall-sre"]
    assert rule.destinations == ("+12065550111", "+13125550122")
    from bot.views import history_text

    assert "@sre-oncall is now @oncall-sre" in history_text(history(dynamodb)[0])


def test_a_duplicate_and_an_out_of_order_event_change_nothing_more(people: People, dynamodb: Any) -> None:
    forward_to_oncall(people)
    first = people.slack.set_group_members(ONCALL, [CAROL], deliver=False)
    second = people.slack.set_group_members(ONCALL, [DAVE, CAROL], deliver=False)
    people.deliver(second)
    people.settle()
    version = stored(dynamodb).version
    people.deliver(first)  # late: its payload says "Carol only"; Slack now says Dave then Carol
    people.deliver(second)  # repeated
    people.settle()
    rule = stored(dynamodb)
    assert rule.destinations == ("+16465550144", "+14155550133")
    assert rule.version == version


def test_a_profile_phone_change_re_resolves_and_a_missed_one_is_repaired_by_the_hourly_run(
    people: People, dynamodb: Any
) -> None:
    forward_to_oncall(people)
    people.slack.set_phone(BOB, "+1 917 555 0155")
    people.settle()
    assert stored(dynamodb).destinations == ("+12065550111", "+19175550155")

    people.slack.set_group_members(ONCALL, [DAVE], deliver=False)  # the event never arrives
    assert stored(dynamodb).destinations == ("+12065550111", "+19175550155")
    from bot.expiry import people_sync_run

    report = people_sync_run(people.module.forwarding_service(), people.module.settings, people.module.client)
    assert report.updated == [OURS]
    assert stored(dynamodb).destinations == ("+16465550144",)


def test_a_group_left_without_numbers_keeps_the_last_ones_and_warns(people: People, dynamodb: Any) -> None:
    forward_to_oncall(people)
    version = stored(dynamodb).version
    people.slack.set_group_members(ONCALL, [NOPHONE])
    people.settle()
    rule = stored(dynamodb)
    assert rule.destinations == ("+12065550111", "+13125550122")
    assert rule.version == version
    (warning,) = [m["text"] for m in people.slack.messages(ALERTS)]
    assert "@sre-oncall" in warning
    assert "last numbers" in warning


def test_a_forged_event_is_refused(people: People, dynamodb: Any) -> None:
    forward_to_oncall(people)
    body = people.slack.set_group_members(ONCALL, [CAROL], deliver=False)
    response = people.deliver(body, secret="not-the-secret")
    people.settle()
    assert response["statusCode"] == 401
    assert stored(dynamodb).destinations == ("+12065550111", "+13125550122")


def test_list_shows_the_roster(people: People, dynamodb: Any) -> None:
    forward_to_oncall(people)
    people.command("list", name="list")
    people.settle()
    (listing,) = [call.args for call in people.slack.responses_to("list")]
    text = json.dumps(listing["blocks"], ensure_ascii=False)
    assert f"@sre-oncall: <@{ALICE}> (+1206•••0111), <@{BOB}> (+1312•••0122)" in text
    assert "+12065550111" not in text


def test_the_cli_says_a_numbers_only_edit_replaces_the_people(
    people: People, dynamodb: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from switchboard.cli import main

    forward_to_oncall(people)
    capsys.readouterr()
    assert main(["forward", "list"]) == 0
    assert "from Slack: @sre-oncall (alice, bob)" in capsys.readouterr().out
    assert main(["forward", "set", OURS, "+14155550199"]) == 0
    out = capsys.readouterr().out
    assert "replaces the Slack people the forward named (@sre-oncall (alice, bob))" in out
    rule = stored(dynamodb)
    assert rule.sources == ()
    assert rule.destinations == ("+14155550199",)


def open_form(people: People) -> dict[str, Any]:
    people.command("", name="form")
    (call,) = people.slack.calls_to("views.open")
    people.settle()
    return dict(people.slack.open_views[call.response["view"]["id"]])


def test_the_form_picks_a_group_and_people_and_the_edit_form_shows_them(
    people: People, dynamodb: Any
) -> None:
    from switchboard_local.slack.requests import (
        block_actions_payload,
        interaction_event,
        view_submission_payload,
    )

    view = open_form(people)
    blocks = {block.get("block_id"): block for block in view["blocks"]}
    assert blocks["people"]["element"]["type"] == "multi_users_select"
    groups = blocks["groups"]["element"]
    assert [(o["value"], o["text"]["text"]) for o in groups["options"]] == [(ONCALL, "@sre-oncall")]

    answers = {"number": OURS, "groups": [ONCALL], "people": [CAROL], "dest_1": "+1 917 555 0155"}
    response = people.send(interaction_event(view_submission_payload(view, answers, user_id=ADMIN), SECRET))
    assert not response.get("body"), response.get("body")
    people.settle()
    rule = stored(dynamodb)
    assert rule.destinations == ("+12065550111", "+13125550122", "+14155550133", "+19175550155")
    assert [s.kind for s in rule.sources] == [SourceKind.GROUP, SourceKind.USER, SourceKind.NUMBER]

    press = block_actions_payload("edit_forward", value=OURS, block_id="rule_x", user_id=ADMIN)
    people.send(interaction_event(press, SECRET))
    edit = people.slack.open_views[people.slack.calls_to("views.open")[-1].response["view"]["id"]]
    by_id = {block.get("block_id"): block for block in edit["blocks"]}
    assert [o["value"] for o in by_id["groups"]["element"]["initial_options"]] == [ONCALL]
    assert by_id["people"]["element"]["initial_users"] == [CAROL]
    assert by_id["dest_1"]["element"]["initial_value"] == "+19175550155"


def test_the_form_needs_someone_or_a_number(people: People) -> None:
    from switchboard_local.slack.requests import interaction_event, view_submission_payload

    view = open_form(people)
    response = people.send(
        interaction_event(view_submission_payload(view, {"number": OURS}, user_id=ADMIN), SECRET)
    )
    assert "dest_1" in json.loads(response["body"])["errors"]


def test_else_to_a_group_outside_business_hours_follows_the_group(people: People, dynamodb: Any) -> None:
    people.command(f"{OURS} to +1 917 555 0155 weekdays 09:00-17:30 America/Chicago else to {MENTION}")
    people.settle()
    rule = stored(dynamodb)
    assert rule.destinations == ("+19175550155",)
    assert rule.else_destinations == ("+12065550111", "+13125550122")
    assert [s.label for s in rule.else_sources] == ["sre-oncall"]
    people.slack.set_group_members(ONCALL, [DAVE])
    people.settle()
    rule = stored(dynamodb)
    assert rule.else_destinations == ("+16465550144",)
    assert rule.destinations == ("+19175550155",)
    assert rule.hours is not None
