"""ForwardingService: validation, ordering and compensation, idempotency — with in-memory ports."""

from __future__ import annotations

import pytest

from switchboard.domain.rules import FailureAction, GreetingMode, NumberHome
from switchboard.policy import DestinationPolicy
from switchboard.ports import RoutingError, StorageError
from switchboard.service import (
    AlreadyForwardedError,
    ChangeFailedError,
    ConcurrentChangeError,
    ForwardingService,
    ForwardRequest,
    RefusedError,
)
from tests.fakes import MemoryRouting, MemoryRules, StaticInventory
from tests.unit.conftest import DEST, DEST2, NOW, OTHER, OURS


def test_set_saves_then_routes(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    result = service.set_forward(ForwardRequest("(202) 555-0100", ["206-555-0111", DEST2]), actor="U1")

    assert result.changed
    assert result.new is not None
    assert result.new.destinations == (DEST, DEST2)
    assert rules.rules[OURS].version == 1
    assert routing.to_sma == {OURS}
    assert result.routing_steps == [f"routed {OURS} to the SMA"]
    assert result.message.startswith(f"Now forwarding {OURS} → {DEST}, {DEST2}")


def test_repeating_the_same_set_changes_nothing(service: ForwardingService, rules: MemoryRules) -> None:
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    again = service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")

    assert not again.changed
    assert rules.rules[OURS].version == 1
    assert len(rules.history) == 1
    assert "nothing changed" in again.message


def test_options_left_out_keep_the_current_values_but_expiry_resets(service: ForwardingService) -> None:
    service.set_forward(
        ForwardRequest(OURS, [DEST], greeting="none", failure="hangup", ring_timeout=15, expires_in="2h"),
        actor="U1",
    )
    result = service.set_forward(ForwardRequest(OURS, [DEST2]), actor="U1")
    assert result.new is not None
    assert (result.new.greeting, result.new.failure, result.new.ring_timeout) == (
        GreetingMode.NONE,
        FailureAction.HANGUP,
        15,
    )
    assert result.new.expires_at is None


def test_expiry_is_relative_to_now(service: ForwardingService) -> None:
    result = service.set_forward(ForwardRequest(OURS, [DEST], expires_in="90m"), actor="U1")
    assert result.new is not None
    assert result.new.expires_at == int(NOW) + 5400


@pytest.mark.parametrize(
    ("request_", "reason"),
    [
        (ForwardRequest("+12025550199", [DEST]), "not one of our phone numbers"),
        (ForwardRequest(OURS, ["911"]), "emergency"),
        (ForwardRequest(OURS, ["+19005550100"]), "premium-rate"),
        (ForwardRequest(OURS, [OURS]), "cannot forward to itself"),
        (ForwardRequest(OURS, [DEST] * 2), "same destination"),
        (ForwardRequest(OURS, [DEST], greeting="sometimes"), "greeting must be one of loop | once | none"),
        (ForwardRequest(OURS, [DEST], ring_timeout=500), "ring timeout"),
        (ForwardRequest(OURS, [DEST], expires_in="forever"), "not a duration"),
        (ForwardRequest(OURS, [DEST], expires_in="90d"), "out of range"),
    ],
)
def test_refusals_change_nothing(
    service: ForwardingService,
    rules: MemoryRules,
    routing: MemoryRouting,
    request_: ForwardRequest,
    reason: str,
) -> None:
    with pytest.raises(RefusedError, match=reason):
        service.set_forward(request_, actor="U1")
    assert rules.rules == {}
    assert routing.calls == []


def test_forwarding_to_another_forwarded_number_is_a_loop(service: ForwardingService) -> None:
    service.set_forward(ForwardRequest(OTHER, [DEST]), actor="U1")
    with pytest.raises(RefusedError, match="chain or loop"):
        service.set_forward(ForwardRequest(OURS, [OTHER]), actor="U1")


def test_routing_failure_on_a_new_forward_deletes_the_saved_rule(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    routing.fail["sma"] = RoutingError("CreateSipRule failed: ServiceFailureException", undone=True)
    with pytest.raises(ChangeFailedError, match="was not changed") as caught:
        service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    assert caught.value.consistent
    assert OURS not in rules.rules
    assert [h[0] for h in rules.history] == ["set", "remove"]


def test_routing_failure_on_an_update_restores_the_previous_rule(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    routing.fail["sma"] = RoutingError("throttled", undone=True)
    with pytest.raises(ChangeFailedError):
        service.set_forward(ForwardRequest(OURS, [DEST2]), actor="U2")
    assert rules.rules[OURS].destinations == (DEST,)


def test_a_failed_undo_is_reported_as_inconsistent(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    routing.fail["sma"] = RoutingError("boom", undone=True)
    original_delete = rules.delete

    def failing_delete(number: str, *, expected_version: int, actor: str, previous: object = None) -> object:
        raise StorageError("table unavailable")

    rules.delete = failing_delete  # type: ignore[method-assign]
    with pytest.raises(ChangeFailedError, match="Undoing the saved rule failed") as caught:
        service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    assert not caught.value.consistent
    rules.delete = original_delete  # type: ignore[method-assign]


def test_remove_routes_back_first_then_deletes(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    result = service.remove_forward("202.555.0100", actor="U2")

    assert result.changed
    assert routing.calls[-1] == ("vc", OURS)
    assert OURS not in rules.rules
    assert routing.to_sma == set()
    assert "phone system again" in result.message


def test_remove_without_a_forward_is_a_no_op(service: ForwardingService, routing: MemoryRouting) -> None:
    result = service.remove_forward(OURS, actor="U1")
    assert not result.changed
    assert routing.calls == []
    assert "nothing to remove" in result.message


def test_remove_whose_delete_fails_routes_the_number_back_to_forwarding(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    rules.fail_next.append(StorageError("throttled"))
    with pytest.raises(ChangeFailedError, match="still forwarding as before") as caught:
        service.remove_forward(OURS, actor="U1")
    assert caught.value.consistent
    assert OURS in rules.rules
    assert routing.to_sma == {OURS}


def test_remove_whose_routing_fails_leaves_the_forward_in_place(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    routing.fail["vc"] = RoutingError("AssociatePhoneNumbersWithVoiceConnector failed", undone=True)
    with pytest.raises(ChangeFailedError, match="still in place"):
        service.remove_forward(OURS, actor="U1")
    assert OURS in rules.rules


def test_not_our_number_cannot_be_removed(service: ForwardingService) -> None:
    with pytest.raises(RefusedError, match="not one of our phone numbers"):
        service.remove_forward("+12025550177", actor="U1")


def test_an_edit_based_on_a_stale_version_is_refused(service: ForwardingService, rules: MemoryRules) -> None:
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")  # version 1, opened by U2's form
    service.set_forward(ForwardRequest(OURS, [DEST2]), actor="U3")  # version 2
    with pytest.raises(ChangeFailedError, match="changed by someone else"):
        service.set_forward(ForwardRequest(OURS, [DEST], expected_version=1), actor="U2")
    assert rules.rules[OURS].destinations == (DEST2,)
    assert service.set_forward(ForwardRequest(OURS, [DEST], expected_version=2), actor="U2").changed


def test_a_stale_edit_names_the_current_state(service: ForwardingService) -> None:
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    service.set_forward(ForwardRequest(OURS, [DEST2]), actor="U3")
    with pytest.raises(ConcurrentChangeError) as caught:
        service.set_forward(ForwardRequest(OURS, [DEST], expected_version=1), actor="U2")
    assert caught.value.current is not None
    assert caught.value.current.destinations == (DEST2,)
    assert str(caught.value).startswith(f"The forward on {OURS} was changed by someone else just now")
    assert f"it is now: {OURS} → {DEST2}" in str(caught.value)
    assert str(caught.value).endswith("Nothing was changed.")


def test_a_new_forward_onto_a_forwarded_number_asks_to_edit_instead(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    calls = list(routing.calls)
    with pytest.raises(AlreadyForwardedError, match=r"already forwarded.*Use Edit") as caught:
        service.set_forward(ForwardRequest(OURS, [DEST2], expected_version=0), actor="U2")
    assert caught.value.current.destinations == (DEST,)
    assert rules.rules[OURS].destinations == (DEST,)
    assert routing.calls == calls
    # expected_version 0 on a number without a forward is an ordinary new forward
    assert service.set_forward(ForwardRequest(OTHER, [DEST2], expected_version=0), actor="U2").changed


def test_remove_of_a_version_that_changed_is_refused(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    service.set_forward(ForwardRequest(OURS, [DEST2]), actor="U1")
    with pytest.raises(ConcurrentChangeError):
        service.remove_forward(OURS, actor="expiry", expected_version=1)
    assert rules.rules[OURS].destinations == (DEST2,)
    assert routing.to_sma == {OURS}
    assert service.remove_forward(OURS, actor="expiry", expected_version=2).changed


def test_failure_messages_keep_technical_detail_apart(
    service: ForwardingService, routing: MemoryRouting
) -> None:
    secret = "arn:aws:iam::123456789012:role/x is not authorized to perform chime:CreateSipRule"
    routing.fail["sma"] = RoutingError(secret, undone=True)
    with pytest.raises(ChangeFailedError) as caught:
        service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    assert "123456789012" not in str(caught.value)
    assert secret in caught.value.detail


# -- home routing and failed rollbacks (issue 11 items 8, 9) --------------------------------------


def test_the_first_forward_records_the_numbers_home_and_edits_keep_it(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    routing.homes[OURS] = NumberHome("VoiceConnector", ("vc-branch",))
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    assert rules.rules[OURS].home == NumberHome("VoiceConnector", ("vc-branch",))
    service.set_forward(ForwardRequest(OURS, [DEST2]), actor="U1")
    assert rules.rules[OURS].home == NumberHome("VoiceConnector", ("vc-branch",))

    service.remove_forward(OURS, actor="U1")
    assert routing.homes[OURS] == NumberHome("VoiceConnector", ("vc-branch",))


def test_a_removal_that_would_leave_the_number_nowhere_is_refused(
    rules: MemoryRules,
) -> None:
    routing = MemoryRouting(voice_connector_id="")
    service = ForwardingService(rules, routing, StaticInventory(OURS), DestinationPolicy(), clock=lambda: NOW)
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    assert rules.rules[OURS].home == NumberHome("VoiceConnector", ())

    with pytest.raises(RefusedError, match="would leave it routed nowhere") as caught:
        service.remove_forward(OURS, actor="U1")
    assert "VOICE_CONNECTOR_ID" in str(caught.value)
    assert OURS in rules.rules
    assert routing.to_sma == {OURS}


def test_a_home_that_cannot_be_read_changes_nothing(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    routing.fail["home"] = RoutingError("GetPhoneNumber failed: ThrottlingException")
    with pytest.raises(ChangeFailedError, match="Nothing was changed"):
        service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    assert rules.rules == {}
    assert routing.to_sma == set()


def test_a_failed_rollback_is_reported_as_inconsistent_and_counted(
    rules: MemoryRules, routing: MemoryRouting
) -> None:
    reported: list[ChangeFailedError] = []
    service = ForwardingService(
        rules,
        routing,
        StaticInventory(OURS),
        DestinationPolicy(),
        clock=lambda: NOW,
        on_inconsistent=reported.append,
    )
    routing.fail["sma"] = RoutingError("CreateSipRule failed: ServiceFailureException", undone=False)
    with pytest.raises(ChangeFailedError, match="may reach nothing") as caught:
        service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    assert not caught.value.consistent
    assert "CreateSipRule failed" in caught.value.detail
    assert reported == [caught.value]

    routing.fail["sma"] = RoutingError("throttled", undone=True)
    with pytest.raises(ChangeFailedError):
        service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    assert len(reported) == 1  # a clean rollback is not counted


# --- business hours (issue 17 item 3) -----------------------------------------------------------

AFTER_HOURS = "+14155550133"


def hours_request(**fields: object) -> ForwardRequest:
    values: dict[str, object] = {
        "hours": "weekdays 09:00-17:30",
        "timezone": "america/chicago",
        "else_destinations": ["(415) 555-0133"],
    }
    values.update(fields)
    return ForwardRequest(OURS, [DEST], **values)  # type: ignore[arg-type]


def test_a_forward_with_hours_stores_them_and_normalised_else_destinations(
    service: ForwardingService, rules: MemoryRules
) -> None:
    result = service.set_forward(hours_request(), actor="U1")
    stored = rules.rules[OURS]
    assert stored.hours is not None
    assert stored.hours.spec == "mon-fri 09:00-17:30"
    assert stored.hours.timezone == "America/Chicago"
    assert stored.else_destinations == (AFTER_HOURS,)
    assert result.new == stored


def test_changing_only_the_hours_is_a_change(service: ForwardingService, rules: MemoryRules) -> None:
    service.set_forward(hours_request(), actor="U1")
    later = service.set_forward(hours_request(hours="weekdays 08:00-17:30"), actor="U1")
    assert later.changed
    assert rules.rules[OURS].version == 2
    plain = service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    assert plain.changed
    assert rules.rules[OURS].hours is None  # like the expiry: a set without hours has none


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"else_destinations": []}, "else to"),
        ({"hours": None}, "need business hours"),
        ({"timezone": None}, "time zone"),
        ({"timezone": "Mars/Base"}, "not a time zone"),
        ({"hours": "weekdays 9am-5pm"}, "no time window"),
        ({"else_destinations": ["+19005550100"]}, "premium"),  # toll fraud: same policy
        ({"else_destinations": [OTHER]}, "one of our own numbers"),
        ({"else_destinations": [OURS]}, "cannot forward to itself"),
        ({"else_destinations": [DEST2, DEST2]}, "twice"),
    ],
)
def test_refused_hours_change_nothing(
    service: ForwardingService, rules: MemoryRules, fields: dict[str, object], fragment: str
) -> None:
    with pytest.raises(RefusedError, match=fragment):
        service.set_forward(hours_request(**fields), actor="U1")
    assert OURS not in rules.rules


def test_else_destinations_cannot_chain_into_a_forwarded_number(service: ForwardingService) -> None:
    service.set_forward(ForwardRequest(OTHER, [DEST2]), actor="U1")
    with pytest.raises(RefusedError, match="chain or loop"):
        service.set_forward(hours_request(else_destinations=[OTHER]), actor="U1")


def test_forwarding_after_hours_to_a_forwarded_number_is_a_loop(service: ForwardingService) -> None:
    service.set_forward(hours_request(), actor="U1")
    after_hours_to_ours = ForwardRequest(
        OTHER, [DEST2], hours="weekdays 09:00-17:00", timezone="UTC", else_destinations=[OURS]
    )
    with pytest.raises(RefusedError, match="chain or loop"):
        service.set_forward(after_hours_to_ours, actor="U1")


def test_voicemail_and_its_length_are_kept_and_summarised(
    service: ForwardingService, rules: MemoryRules
) -> None:
    result = service.set_forward(
        ForwardRequest(OURS, [DEST], failure="voicemail", voicemail_max_seconds=60), actor="U1"
    )

    assert rules.rules[OURS].failure is FailureAction.VOICEMAIL
    assert rules.rules[OURS].voicemail_max_seconds == 60
    assert "then voicemail (up to 60 s)" in result.message
    longer = service.set_forward(ForwardRequest(OURS, [DEST], voicemail_max_seconds=90), actor="U1")
    assert longer.changed
    assert rules.rules[OURS].voicemail_max_seconds == 90


def test_a_voicemail_length_out_of_bounds_is_refused(service: ForwardingService, rules: MemoryRules) -> None:
    with pytest.raises(RefusedError, match="voicemail length must be 10-300 seconds"):
        service.set_forward(
            ForwardRequest(OURS, [DEST], failure="voicemail", voicemail_max_seconds=5), actor="U1"
        )
    assert OURS not in rules.rules


def test_voicemail_on_an_amazon_connect_number_is_refused_with_the_reason(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    routing.homes[OURS] = NumberHome("AmazonConnect", contact_flow="flow-1")

    with pytest.raises(RefusedError, match=r"lives in Amazon Connect.*SIP media application"):
        service.set_forward(ForwardRequest(OURS, [DEST], failure="voicemail"), actor="U1")
    assert OURS not in rules.rules
    assert OURS not in routing.to_sma


def test_voicemail_on_a_forward_to_amazon_connect_is_refused(service: ForwardingService) -> None:
    with pytest.raises(RefusedError, match="forwards to Amazon Connect"):
        service.set_forward(ForwardRequest(OURS, ["connect"], failure="voicemail"), actor="U1")


# -- wording for numbers in Amazon Connect: never "SIP media application" or "voice connector" ------


def _on_connect(routing: MemoryRouting) -> None:
    from switchboard.domain.rules import CONNECT_PRODUCT

    routing.homes[OURS] = NumberHome(CONNECT_PRODUCT, contact_flow="main-ivr")


def test_a_connect_number_whose_routing_fails_names_amazon_connect(
    service: ForwardingService, routing: MemoryRouting
) -> None:
    _on_connect(routing)
    routing.fail["sma"] = RoutingError(
        "AssociatePhoneNumberContactFlow failed: ThrottlingException", undone=True
    )
    with pytest.raises(ChangeFailedError) as caught:
        service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    assert f"Could not route {OURS} to the Amazon Connect forwarding flow" in str(caught.value)
    assert "SIP media application" not in str(caught.value)


def test_removing_a_connect_forward_names_its_own_flow(
    service: ForwardingService, routing: MemoryRouting
) -> None:
    _on_connect(routing)
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    routing.fail["vc"] = RoutingError("AssociatePhoneNumberContactFlow failed", undone=True)
    with pytest.raises(ChangeFailedError) as caught:
        service.remove_forward(OURS, actor="U1")
    assert f"Could not route {OURS} back to its own Amazon Connect flow" in str(caught.value)
    assert "voice connector" not in str(caught.value)

    removed = service.remove_forward(OURS, actor="U1")
    assert "calls go to its own Amazon Connect flow again" in removed.message
    assert "phone system" not in removed.message


def test_a_connect_remove_whose_delete_and_undo_fail_names_amazon_connect(
    service: ForwardingService, rules: MemoryRules, routing: MemoryRouting
) -> None:
    _on_connect(routing)
    service.set_forward(ForwardRequest(OURS, [DEST]), actor="U1")
    rules.fail_next.append(StorageError("throttled"))
    routing.fail["sma"] = RoutingError("AssociatePhoneNumberContactFlow failed", undone=True)
    with pytest.raises(ChangeFailedError) as caught:
        service.remove_forward(OURS, actor="U1")
    text = str(caught.value)
    assert "routing it back to the Amazon Connect forwarding flow failed too" in text
    assert "Calls now reach its own Amazon Connect flow" in text
    assert "SIP media application" not in text
    assert "voice connector" not in text
