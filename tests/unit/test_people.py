"""People as destinations: mentions, resolution through the directory port, and re-resolution."""

from __future__ import annotations

import pytest

from switchboard.domain.people import DestinationSource, Person, SourceKind, assemble, parse_mention
from switchboard.people import PeopleRefusedError, PeopleResolver, PeopleSync
from switchboard.policy import DestinationPolicy
from switchboard.service import ForwardingService, ForwardRequest
from tests.fakes import MemoryDirectory, MemoryRules
from tests.unit.conftest import OTHER, OURS

ALICE, BOB, CAROL, DAVE = "U0ALICE", "U0BOB", "U0CAROL", "U0DAVE"
PHONES = {ALICE: "(206) 555-0111", BOB: "+1 312 555 0122", CAROL: "+14155550133", DAVE: "646-555-0144"}
ONCALL = "S0ONCALL"


@pytest.fixture
def directory() -> MemoryDirectory:
    return MemoryDirectory(
        dict(PHONES), {ONCALL: [ALICE, BOB]}, names={ALICE: "Alice", BOB: "Bob", CAROL: "Carol", DAVE: "Dave"}
    )


def resolver(directory: MemoryDirectory) -> PeopleResolver:
    return PeopleResolver(directory, DestinationPolicy())


@pytest.mark.parametrize(
    ("text", "kind", "ident", "label"),
    [
        ("<@U0ALICE>", SourceKind.USER, ALICE, ""),
        ("<@U0ALICE|alice>", SourceKind.USER, ALICE, "alice"),
        ("<!subteam^S0ONCALL>", SourceKind.GROUP, ONCALL, ""),
        ("<!subteam^S0ONCALL|@sre-oncall>", SourceKind.GROUP, ONCALL, "sre-oncall"),
    ],
)
def test_mentions_parse(text: str, kind: SourceKind, ident: str, label: str) -> None:
    source = parse_mention(text)
    assert source == DestinationSource(kind, ident, label)


@pytest.mark.parametrize("text", ["+12065550111", "@alice", "<#C0OPS|ops>", "<@U0ALICE", "<!here>"])
def test_other_text_is_no_mention(text: str) -> None:
    assert parse_mention(text) is None


def test_a_group_resolves_to_its_members_numbers_in_the_groups_order(directory: MemoryDirectory) -> None:
    directory.groups[ONCALL] = [BOB, ALICE]
    resolution = resolver(directory).resolve_entries(["<!subteam^S0ONCALL|@sre-oncall>"])
    assert resolution.destinations == ("+13125550122", "+12065550111")
    (group,) = resolution.sources
    assert (group.kind, group.id, group.label) == (SourceKind.GROUP, ONCALL, "sre-oncall")
    assert [p.name for p in group.people] == ["Bob", "Alice"]
    assert resolution.skipped == ()


def test_people_and_numbers_keep_the_typed_order(directory: MemoryDirectory) -> None:
    resolution = resolver(directory).resolve_entries(["+1 415 555 0199", "<@U0BOB|bob>", "<@U0ALICE>"])
    assert resolution.destinations == ("+14155550199", "+13125550122", "+12065550111")
    assert [s.kind for s in resolution.sources] == [SourceKind.NUMBER, SourceKind.USER, SourceKind.USER]
    assert resolution.sources[2].label == "Alice"  # no label in the mention: the profile's name


def test_numbers_only_are_left_to_the_service(directory: MemoryDirectory) -> None:
    resolution = resolver(directory).resolve_entries(["206 555 0111"])
    assert resolution.destinations == ("206 555 0111",)
    assert resolution.sources == ()
    assert directory.calls == []


def test_someone_without_a_usable_number_is_skipped_with_the_reason(directory: MemoryDirectory) -> None:
    directory.phones[BOB] = ""
    directory.phones[CAROL] = "911"
    directory.groups[ONCALL] = [BOB, CAROL, ALICE]
    resolution = resolver(directory).resolve_entries(["<!subteam^S0ONCALL>"])
    assert resolution.destinations == ("+12065550111",)
    reasons = {skip.who: skip.why for skip in resolution.skipped}
    assert reasons["<@U0BOB>"] == "has no phone number in their Slack profile"
    assert "emergency" in reasons["<@U0CAROL>"]
    # Kept (without a number) so a later profile change of theirs re-resolves the rule.
    assert [p.user_id for p in resolution.sources[0].people] == [BOB, CAROL, ALICE]


def test_a_group_fills_at_most_five_destinations(directory: MemoryDirectory) -> None:
    members = [f"U0M{i}" for i in range(7)]
    for i, member in enumerate(members):
        directory.phones[member] = f"+1206555012{i}"
    directory.groups[ONCALL] = members
    resolution = resolver(directory).resolve_entries(["<!subteam^S0ONCALL>"])
    assert len(resolution.destinations) == 5
    assert [skip.who for skip in resolution.skipped] == ["<@U0M5>", "<@U0M6>"]


def test_nobody_with_a_number_is_refused(directory: MemoryDirectory) -> None:
    directory.phones[ALICE] = ""
    with pytest.raises(PeopleRefusedError, match="Nobody named has a number"):
        resolver(directory).resolve_entries(["<@U0ALICE>"])


def test_a_missing_scope_is_said_plainly(directory: MemoryDirectory) -> None:
    directory.missing_scope = "users.profile:read"
    with pytest.raises(PeopleRefusedError, match=r"users\.profile:read"):
        resolver(directory).resolve_entries(["<@U0ALICE>", "+12065550199"])


def test_assemble_rings_someone_in_two_groups_once() -> None:
    one = DestinationSource(SourceKind.GROUP, "S1", "a", (Person(ALICE, "Alice", "+12065550111"),))
    two = DestinationSource(
        SourceKind.GROUP,
        "S2",
        "b",
        (Person(ALICE, "Alice", "+12065550111"), Person(BOB, "Bob", "+13125550122")),
    )
    assert assemble([one, two], 5)[0] == ("+12065550111", "+13125550122")


# -- re-resolution ---------------------------------------------------------------------------------


def forward_to_group(service: ForwardingService, directory: MemoryDirectory, **options: object) -> None:
    resolution = resolver(directory).resolve_entries(["<!subteam^S0ONCALL|@sre-oncall>"])
    service.set_forward(
        ForwardRequest(OURS, resolution.destinations, sources=resolution.sources, **options),  # type: ignore[arg-type]
        actor="U0ADMIN",
    )


def sync(service: ForwardingService, directory: MemoryDirectory, warnings: list[str]) -> PeopleSync:
    return PeopleSync(service, lambda: resolver(directory), warn=warnings.append)


def test_a_membership_change_re_resolves_and_keeps_the_other_settings(
    service: ForwardingService, directory: MemoryDirectory, rules: MemoryRules
) -> None:
    forward_to_group(service, directory, expires_in="2h", greeting="once")
    before = rules.rules[OURS]
    directory.groups[ONCALL] = [CAROL, DAVE]

    report = sync(service, directory, []).refresh(groups=[ONCALL])

    after = rules.rules[OURS]
    assert report.updated == [OURS]
    assert after.destinations == ("+14155550133", "+16465550144")
    assert after.version == before.version + 1
    assert (after.expires_at, after.greeting) == (before.expires_at, before.greeting)
    assert after.updated_by == "Slack sync"
    assert [p.name for p in after.sources[0].people] == ["Carol", "Dave"]


def test_a_duplicate_or_late_event_writes_nothing(
    service: ForwardingService, directory: MemoryDirectory, rules: MemoryRules
) -> None:
    forward_to_group(service, directory)
    directory.groups[ONCALL] = [CAROL]
    people = sync(service, directory, [])
    people.refresh(groups=[ONCALL])
    version = rules.rules[OURS].version
    # The earlier event ("Alice and Bob") arrives after the later one: Slack's state now decides.
    report = people.refresh(groups=[ONCALL])
    assert report.unchanged == [OURS]
    assert rules.rules[OURS].version == version
    assert rules.rules[OURS].destinations == ("+14155550133",)


def test_a_profile_change_re_resolves_rules_naming_that_member(
    service: ForwardingService, directory: MemoryDirectory, rules: MemoryRules
) -> None:
    forward_to_group(service, directory)
    directory.phones[BOB] = "+1 917 555 0155"
    report = sync(service, directory, []).refresh(users=[BOB])
    assert report.updated == [OURS]
    assert rules.rules[OURS].destinations == ("+12065550111", "+19175550155")
    assert sync(service, directory, []).refresh(users=[DAVE]).checked == 0


def test_a_re_resolution_to_nobody_keeps_the_last_numbers_and_warns(
    service: ForwardingService, directory: MemoryDirectory, rules: MemoryRules
) -> None:
    forward_to_group(service, directory)
    directory.groups[ONCALL] = []
    warnings: list[str] = []
    report = sync(service, directory, warnings).refresh_all()
    assert report.kept == [OURS]
    assert rules.rules[OURS].destinations == ("+12065550111", "+13125550122")
    assert len(warnings) == 1
    assert "@sre-oncall" in warnings[0]
    assert "last numbers" in warnings[0]


def test_a_passing_slack_failure_keeps_the_person(
    service: ForwardingService, directory: MemoryDirectory, rules: MemoryRules
) -> None:
    forward_to_group(service, directory)
    directory.fail.add(BOB)
    report = sync(service, directory, []).refresh_all()
    assert report.unchanged == [OURS]
    assert rules.rules[OURS].destinations == ("+12065550111", "+13125550122")


def test_one_run_reads_a_group_and_its_members_once(
    service: ForwardingService, directory: MemoryDirectory
) -> None:
    forward_to_group(service, directory)
    resolution = resolver(directory).resolve_entries(["<!subteam^S0ONCALL|@sre-oncall>"])
    service.set_forward(
        ForwardRequest(OTHER, resolution.destinations, sources=resolution.sources), actor="U0ADMIN"
    )
    directory.groups[ONCALL] = [DAVE]
    directory.calls.clear()
    report = sync(service, directory, []).refresh(groups=[ONCALL])
    assert sorted(report.updated) == [OURS, OTHER]
    assert directory.calls == [("group", ONCALL), ("profile", DAVE)]


def test_a_numbers_only_edit_replaces_the_sources(
    service: ForwardingService, directory: MemoryDirectory, rules: MemoryRules
) -> None:
    forward_to_group(service, directory)
    service.set_forward(ForwardRequest(OURS, ["+14155550199"]), actor="cli")
    assert rules.rules[OURS].sources == ()
    assert sync(service, directory, []).refresh(groups=[ONCALL]).checked == 0


def test_sources_survive_the_table_codec(
    service: ForwardingService, directory: MemoryDirectory, rules: MemoryRules
) -> None:
    from switchboard.adapters.dynamo_codec import decode_item, encode_item
    from switchboard.adapters.dynamodb import rule_from_item, rule_to_item

    directory.phones[BOB] = ""
    forward_to_group(service, directory)
    rule = rules.rules[OURS]
    assert rule_from_item(decode_item(encode_item(rule_to_item(rule)))).sources == rule.sources
    assert "sources" not in encode_item(rule_to_item(rule.with_changes(sources=())))


# -- the slash command's text --------------------------------------------------------------------


def test_mentions_in_the_slash_command_keep_their_order_and_labels() -> None:
    from bot.commands import SetForward, parse

    parsed = parse(
        "+12025550100 to <!subteam^S0ONCALL|@on-call-for-sales> <@U0ALICE|alice>, "
        "<tel:+12065550111|+1 206 555 0111> for 2h then hangup"
    )
    assert isinstance(parsed, SetForward)
    assert parsed.destinations == (
        "<!subteam^S0ONCALL|@on-call-for-sales>",
        "<@U0ALICE|alice>",
        "+1 206 555 0111",
    )
    # "for" inside the group's label is not the expiry option: that is the typed "for 2h".
    assert (parsed.expires_in, parsed.failure) == ("2h", "hangup")


def test_a_typed_name_that_slack_did_not_escape_is_explained() -> None:
    from bot.commands import SetForward, parse
    from bot.listeners.forward_command import check_set

    parsed = parse("+12025550100 to @alice")
    assert isinstance(parsed, SetForward)
    problem = check_set(parsed, DestinationPolicy())
    assert problem is not None
    assert "should_escape" in problem


def test_the_sync_announcement_names_the_new_rotation() -> None:
    from bot.views import history_text
    from switchboard.adapters.dynamodb import RuleChange
    from switchboard.domain.rules import ForwardRule

    def rule(*people: Person) -> ForwardRule:
        source = DestinationSource(SourceKind.GROUP, ONCALL, "sre-oncall", people)
        return ForwardRule(OURS, tuple(p.number for p in people), sources=(source,))

    old = rule(Person(ALICE, "Alice", "+12065550111"))
    new = rule(Person(CAROL, "Carol", "+14155550133"), Person(DAVE, "Dave", "+16465550144"))
    text = history_text(RuleChange(OURS, "set", "Slack sync", "", old, new))
    assert "@sre-oncall changed: now Carol, then Dave" in text
    assert "<@" not in text  # names, not mentions: a new rotation does not notify the channel's people


def test_a_renamed_group_is_announced_under_its_new_handle() -> None:
    from bot.views import history_text
    from switchboard.adapters.dynamodb import RuleChange
    from switchboard.domain.rules import ForwardRule

    people = (Person(ALICE, "Alice", "+12065550111"),)

    def rule(handle: str) -> ForwardRule:
        source = DestinationSource(SourceKind.GROUP, ONCALL, handle, people)
        return ForwardRule(OURS, ("+12065550111",), sources=(source,))

    text = history_text(RuleChange(OURS, "set", "Slack sync", "", rule("sre-oncall"), rule("oncall-sre")))
    assert "@sre-oncall is now @oncall-sre" in text


def test_a_renamed_group_refreshes_the_handle_the_forward_keeps(
    service: ForwardingService, directory: MemoryDirectory, rules: MemoryRules
) -> None:
    forward_to_group(service, directory)
    directory.handles[ONCALL] = "oncall-sre"
    report = sync(service, directory, []).refresh(groups=[ONCALL])
    assert report.updated == [OURS]
    assert rules.rules[OURS].sources[0].handle == "@oncall-sre"
    assert rules.rules[OURS].destinations == ("+12065550111", "+13125550122")


def test_an_else_branch_naming_a_group_is_kept_in_sync_and_the_hours_stay(
    service: ForwardingService, directory: MemoryDirectory, rules: MemoryRules
) -> None:
    after = resolver(directory).resolve_entries(["<!subteam^S0ONCALL|@sre-oncall>"])
    service.set_forward(
        ForwardRequest(
            OURS,
            ["+14155550199"],
            hours="mon-fri 09:00-17:30",
            timezone="America/Chicago",
            else_destinations=after.destinations,
            else_sources=after.sources,
        ),
        actor="U0ADMIN",
    )
    assert rules.rules[OURS].else_sources == after.sources
    directory.groups[ONCALL] = [DAVE]

    report = sync(service, directory, []).refresh(groups=[ONCALL])

    rule = rules.rules[OURS]
    assert report.updated == [OURS]
    assert rule.else_destinations == ("+16465550144",)
    assert rule.destinations == ("+14155550199",)
    assert rule.sources == ()
    assert rule.hours is not None
    assert rule.hours.spec == "mon-fri 09:00-17:30"


def test_the_expiry_functions_hourly_people_job_runs_the_people_sync_not_expiry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from types import SimpleNamespace

    import switchboard.wiring
    from bot import expiry
    from switchboard.people import SyncReport
    from switchboard.settings import Settings

    ran: list[str] = []
    monkeypatch.setattr(expiry, "load", lambda required=(): Settings(table_name="t", alert_channel=""))
    monkeypatch.setattr(expiry, "slack_credentials", lambda settings: SimpleNamespace(bot_token="xoxb"))
    monkeypatch.setattr(expiry, "slack_client", lambda token, url: object())
    monkeypatch.setattr(switchboard.wiring, "forwarding_service", lambda settings, need_routing: object())
    monkeypatch.setattr(
        expiry, "people_sync_run", lambda *a: ran.append("people") or SyncReport(updated=["+1"])
    )
    monkeypatch.setattr(expiry, "expire_forwards", lambda *a: ran.append("expiry") or {"removed": []})

    assert expiry.handler({"job": "people_sync"}, None)["updated"] == ["+1"]
    assert expiry.handler({"source": "aws.events"}, None) == {"removed": []}
    assert ran == ["people", "expiry"]
