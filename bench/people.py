"""Re-resolution figures on the local stack (``python -m bench.people``, part of ``make bench``).

**1,000 forwards naming one user group, after a membership change.** ``--rules`` of our numbers
(default 1,000) forward to ``@sre-oncall`` (two members); one member is replaced and the
re-resolution runs as the bot's ``subteam_members_changed`` listener runs it
(:meth:`switchboard.people.PeopleSync.refresh`, through ``ForwardingService.update_sources``: the
change guard, the conditional rule write with its history item, and routing re-asserted). Reported:
Slack Web API calls (from the Slack stand-in's record), table calls by kind (a botocore hook on the
service's own client), Chime SDK Voice calls, and wall time. The channel announcements (one per
changed forward, posted by ``bot.notifier`` from the table's stream) are another Lambda's work: the
stream pump is stopped, so they are not in these figures. Everything is the
``LocalStack(with_slack=True)`` of ``switchboard dev`` (moto, the Chime SDK Voice emulator, the
Slack stand-in) in this process, so the times are the local stack's, not AWS's: the counts are what
carries over.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.common import report
from switchboard_local.console_output import silenced

GROUP = "S0BENCHONCALL"
ROUTED = 5
MEMBERS = {"U0BENCHA": "+12065550144", "U0BENCHB": "+13125550155", "U0BENCHC": "+14155550166"}


def _numbers(count: int) -> tuple[str, ...]:
    return tuple(f"+1202555{1000 + index:04d}" for index in range(count))


def _counting(client: Any, counts: Counter[str], prefix: str) -> Any:
    def count(event_name: str, **_: Any) -> None:
        counts[f"{prefix}{event_name.rsplit('.', 1)[-1]}"] += 1

    client.meta.events.register("before-call.*.*", count)
    return client


def run(rules: int) -> dict[str, Any]:
    import boto3

    from switchboard.adapters.dynamodb import DynamoForwardRepository
    from switchboard.domain.people import DestinationSource, Person, SourceKind
    from switchboard.domain.rules import ForwardRule
    from switchboard.people import PeopleResolver, PeopleSync
    from switchboard.policy import DestinationPolicy
    from switchboard.ports import ConflictError
    from switchboard.service import ForwardRequest
    from switchboard.settings import load
    from switchboard.wiring import forwarding_service
    from switchboard_local.stack import LocalStack

    numbers = _numbers(rules)
    with silenced(), LocalStack(with_slack=True, numbers=numbers) as stack, stack.applied():
        slack = stack.slack
        assert slack is not None
        # The channel announcements of 1,000 changes are bot.notifier's work (another Lambda, fed by
        # the stream): stopped here, so the figures are the re-resolution's own.
        if stack.pump is not None:
            stack.pump.stop()
        slack.usergroups[GROUP] = ["U0BENCHA", "U0BENCHB"]
        slack.group_handles[GROUP] = "sre-oncall"
        slack.phones.update(MEMBERS)
        settings = load()
        counts: Counter[str] = Counter()
        dynamodb = _counting(boto3.client("dynamodb"), counts, "dynamodb:")
        chime = _counting(boto3.client("chime-sdk-voice"), counts, "chime:")
        service = forwarding_service(settings, need_routing=True, dynamodb=dynamodb, chime=chime)
        policy = DestinationPolicy(settings.default_country, settings.allowed_countries)

        from bot.people import SlackPeopleDirectory
        from bot.slack_client import slack_client

        client = slack_client(settings.slack_bot_token, settings.slack_api_url)
        resolver = PeopleResolver(SlackPeopleDirectory(client), policy)
        first = resolver.resolve([DestinationSource(SourceKind.GROUP, GROUP, "sre-oncall")])
        started = time.perf_counter()
        # Set through the service for the first few (routing them), then stored directly: 1,000
        # sets through the service re-list every rule for the loop check, which is the setup's
        # cost, not the re-resolution's.
        repository = DynamoForwardRepository(boto3.client("dynamodb"), stack.table_name)
        for index, number in enumerate(numbers):
            if index < ROUTED:
                service.set_forward(
                    ForwardRequest(number, first.destinations, sources=first.sources), actor="bench"
                )
            else:
                try:
                    repository.save(
                        ForwardRule(number, first.destinations, sources=first.sources), actor="bench"
                    )
                except ConflictError:  # a write botocore retried after a slow answer: it is there
                    assert repository.get(number) is not None
        setup_s = time.perf_counter() - started

        slack.set_group_members(GROUP, ["U0BENCHC", "U0BENCHB"], deliver=False)
        slack.clear()
        counts.clear()
        sync = PeopleSync(service, lambda: PeopleResolver(SlackPeopleDirectory(client), policy))
        started = time.perf_counter()
        report = sync.refresh(groups=[GROUP])
        wall_s = time.perf_counter() - started
        slack_calls = Counter(call.method for call in slack.calls)
        sample = service.get_forward(numbers[-1])
        assert sample is not None
        assert sample.destinations == (MEMBERS["U0BENCHC"], MEMBERS["U0BENCHB"])
        assert isinstance(sample.sources[0].people[0], Person)
    table = {k.removeprefix("dynamodb:"): v for k, v in counts.items() if k.startswith("dynamodb:")}
    writes = sum(v for k, v in table.items() if k in ("TransactWriteItems", "PutItem", "DeleteItem"))
    return {
        "rules": rules,
        "updated": len(report.updated),
        "unchanged": len(report.unchanged),
        "failed": len(report.failed),
        "wall_s": round(wall_s, 2),
        "per_rule_ms": round(wall_s * 1000 / max(rules, 1), 2),
        "slack_calls": dict(slack_calls),
        "table_calls": table,
        "table_writes": writes,
        "chime_calls": {k.removeprefix("chime:"): v for k, v in counts.items() if k.startswith("chime:")},
        "setup_s": round(setup_s, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args(argv)
    figures = run(args.rules)
    rules, wall, per_rule = figures["rules"], figures["wall_s"], figures["per_rule_ms"]
    lines = [
        f"People re-resolution, local stack ({rules} forwards naming one group, one member replaced):",
        f"  wall time {wall} s ({per_rule} ms per forward), {figures['updated']} updated",
        f"  Slack calls: {figures['slack_calls']}",
        f"  table calls: {figures['table_calls']} ({figures['table_writes']} writes)",
        f"  Chime SDK Voice calls: {figures['chime_calls']}",
    ]
    return report("\n".join(lines), figures, args.json)


if __name__ == "__main__":
    raise SystemExit(main())
