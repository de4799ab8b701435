"""The re-resolution of many forwards naming one group costs a constant number of table requests
per changed forward and a constant number of listings per run (docs/performance.md, "People").

Counted, not timed: the service is built by ``switchboard.wiring`` exactly as deployed (the rule
repository, the phone inventory and the own-numbers check with the DNIS pool), on moto and the
Chime SDK Voice emulator, and a botocore hook counts its table requests by kind. The run for 2N
forwards must cost exactly twice the per-forward requests of the run for N, and no more listings.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from switchboard import wiring
from switchboard.adapters.dynamodb import DynamoForwardRepository
from switchboard.adapters.pool import DynamoDnisPool
from switchboard.domain.people import DestinationSource, SourceKind
from switchboard.domain.pool import DnisPair
from switchboard.domain.rules import ForwardRule
from switchboard.people import PeopleResolver, PeopleSync
from switchboard.policy import DestinationPolicy
from switchboard.settings import load
from switchboard_local.aws.chime_voice_emulator import ChimeVoiceEmulator, ChimeVoiceServer
from tests.fakes import MemoryDirectory
from tests.functional.conftest import TABLE

pytestmark = pytest.mark.functional

N = 6
NUMBERS = tuple(f"+1202555{1000 + index:04d}" for index in range(2 * N))
ONCALL = "S0ONCALL"
PHONES = {"U0ALICE": "+12065550111", "U0BOB": "+13125550122", "U0CAROL": "+14155550133"}
LISTINGS = ("Query", "Scan")


@pytest.fixture
def chime() -> Iterator[Any]:
    emulator = ChimeVoiceEmulator(region="us-east-1")
    with ChimeVoiceServer(emulator) as server:
        vc = emulator.create_voice_connector("pbx")
        emulator.seed_phone_numbers(NUMBERS, voice_connector_id=vc)
        emulator.create_sip_media_application(
            "switchboard", "arn:aws:lambda:us-east-1:123456789012:function:sma"
        )
        yield boto3.client("chime-sdk-voice", endpoint_url=server.url, region_name="us-east-1")


def _counting(client: Any, counts: Counter[str]) -> Any:
    def count(event_name: str, **_: Any) -> None:
        counts[event_name.rsplit(".", 1)[-1]] += 1

    client.meta.events.register("before-call.*.*", count)
    return client


def test_a_membership_change_costs_constant_requests_per_forward_and_constant_listings(
    dynamodb: Any, chime: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    DynamoDnisPool(dynamodb, TABLE).add(DnisPair("+12025550180", "+18005550190"))
    sma_id = chime.list_sip_media_applications()["SipMediaApplications"][0]["SipMediaApplicationId"]
    monkeypatch.setenv("SIP_MEDIA_APPLICATION_ID", sma_id)
    monkeypatch.delenv("MANAGED_NUMBERS", raising=False)
    settings = load(required=("TABLE_NAME",))
    counts: Counter[str] = Counter()
    service = wiring.forwarding_service(
        settings, need_routing=True, dynamodb=_counting(boto3.client("dynamodb"), counts), chime=chime
    )
    directory = MemoryDirectory(dict(PHONES), {ONCALL: ["U0ALICE", "U0BOB"]}, handles={ONCALL: "sre-oncall"})
    policy = DestinationPolicy()
    sync = PeopleSync(service, lambda: PeopleResolver(directory, policy))
    repository = DynamoForwardRepository(dynamodb, TABLE)

    def store(numbers: tuple[str, ...]) -> None:
        resolution = PeopleResolver(directory, policy).resolve(
            [DestinationSource(SourceKind.GROUP, ONCALL, "sre-oncall")]
        )
        for number in numbers:
            repository.save(
                ForwardRule(number, resolution.destinations, sources=resolution.sources), actor="test"
            )

    def membership_change(members: list[str]) -> Counter[str]:
        directory.groups[ONCALL] = members
        counts.clear()
        report = sync.refresh(groups=[ONCALL])
        assert not report.failed, report.warnings
        return Counter(counts)

    store(NUMBERS[:N])
    small = membership_change(["U0CAROL", "U0BOB"])
    store(NUMBERS[N:])  # the new ones name the old rotation: every one of the 2N changes
    large = membership_change(["U0ALICE", "U0BOB"])

    assert sum(small[kind] for kind in LISTINGS) == sum(large[kind] for kind in LISTINGS), (small, large)
    assert sum(small[kind] for kind in LISTINGS) <= 2, small
    per_forward = {kind: count for kind, count in small.items() if kind not in LISTINGS}
    assert {kind: count for kind, count in large.items() if kind not in LISTINGS} == {
        kind: 2 * count for kind, count in per_forward.items()
    }, (small, large)
    assert sum(per_forward.values()) <= 4 * N, small  # guard, re-read, the write, release
    assert all(rule.destinations == ("+12065550111", "+13125550122") for rule in service.list_forwards())
