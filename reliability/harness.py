"""One local stack for the whole run, with every handler bound to it.

``bot.app``, ``bot.notifier``, ``sma.app`` and ``connect_lambda.app`` read their environment once,
at import, so the suite runs in its own process: the stack starts, its environment is applied to
the process for good, and then each handler is imported exactly as Lambda would import it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3

from switchboard.adapters.dynamodb import DynamoCallLog, DynamoForwardRepository
from switchboard.adapters.pool import DynamoDnisPool
from switchboard.domain.pool import DnisPair
from switchboard.domain.rules import ForwardRule
from switchboard_local.stack import ACCOUNT, LOCAL_USER, REGION, LocalStack

ADMIN = LOCAL_USER
VISITOR = "U0VISITOR"
# Numbers of the stack's inventory (LocalStack.DEMO_NUMBERS) and what the suite does with them.
FORWARDED = "+12025550100"  # forwarded to two PSTN destinations
SECOND_FORWARDED = "+12025550101"  # forwarded to one destination, greeting once
CONNECT_ENTRY = "+12025550102"  # hands calls to Amazon Connect through the DNIS pool
UNFORWARDED = "+12025550103"  # no forward: "not in service"
OURS = (FORWARDED, SECOND_FORWARDED, CONNECT_ENTRY, UNFORWARDED)
DESTINATIONS = ("+12065550111", "+13125550122", "+14155550133")
CALLER = "+13035550123"
# DNIS pairs: SMA numbers of the pool (not in the forwarding inventory) x Connect numbers.
POOL_SMA = ("+12025550180", "+12025550181")
POOL_CONNECT = ("+18005550190", "+18005550191")
VOICE_CONNECTOR_ARN = f"arn:aws:chime:{REGION}:{ACCOUNT}:vc/reliabilitypbx"


@dataclass
class Harness:
    stack: LocalStack
    sma: Any  # the sma.app module
    connect: Any  # the connect_lambda.app module
    bot: Any  # the bot.app module
    notifier: Any  # the bot.notifier module
    dynamodb: Any

    @property
    def table(self) -> str:
        return self.stack.table_name

    def rules(self) -> DynamoForwardRepository:
        return DynamoForwardRepository(self.dynamodb, self.table)

    def call_log(self) -> DynamoCallLog:
        return DynamoCallLog(self.dynamodb, self.table)

    def pool(self) -> DynamoDnisPool:
        return DynamoDnisPool(self.dynamodb, self.table)

    def secret(self) -> str:
        return self.stack.env()["SLACK_SIGNING_SECRET"]

    def bot_context(self) -> Any:
        assert self.stack.lambdas is not None
        return self.stack.lambdas.context("switchboard-bot")

    def settle(self, timeout: float = 120) -> list[Any]:
        """Wait for the bot's lazy listeners; returns the invocations that failed."""
        assert self.stack.lambdas is not None
        self.stack.lambdas.wait_idle(timeout=timeout)
        failed = list(self.stack.lambdas.failed)
        self.stack.lambdas.clear()
        return failed

    def routing_snapshot(self) -> dict[str, Any]:
        """Where each number goes: product type, voice connectors, enabled SIP rules."""
        snapshot = self.stack.chime.snapshot()
        rules = {
            rule["TriggerValue"]: not rule.get("Disabled", False) for rule in snapshot["sip_rules"].values()
        }
        return {
            number: (
                phone.get("ProductType"),
                tuple(
                    sorted(
                        json.dumps(a, sort_keys=True, default=str) for a in phone.get("Associations") or []
                    )
                ),
                rules.get(number),
            )
            for number, phone in sorted(snapshot["phone_numbers"].items())
        }

    def table_snapshot(self) -> dict[str, Any]:
        """Every forward rule as stored (the routing half of "0 changes")."""
        return {rule.number: (rule.destinations, rule.version) for rule in self.rules().list_rules()}

    def free_pool(self) -> None:
        """Free every DNIS pair (the operator's repair): fuzzed calls to the Connect entry number
        claim pairs and never end, and their claims would only go stale after the bound."""
        pool = self.pool()
        for entry in pool.list_pairs():
            if entry.claim is not None:
                pool.force_release(entry.pair)

    def seed_forwards(self) -> None:
        """The suite's baseline forwards, applied through the service so routing follows."""
        from switchboard.service import ForwardRequest

        service = self.bot.forwarding_service()
        for number, destinations, greeting in (
            (FORWARDED, DESTINATIONS[:2], None),
            (SECOND_FORWARDED, DESTINATIONS[2:], "once"),
            (CONNECT_ENTRY, ("connect",), None),
        ):
            current = self.rules().get(number)
            if current is None or current.destinations != destinations:
                service.set_forward(
                    ForwardRequest(number, destinations, greeting=greeting), actor="reliability"
                )
        if self.rules().get(UNFORWARDED) is not None:
            service.remove_forward(UNFORWARDED, actor="reliability")


def _serialise_moto() -> None:
    """moto's in-memory backends are not thread-safe (concurrent requests fail with "dictionary
    changed size during iteration"), which DynamoDB is: serve one moto request at a time, so the
    load part measures our handlers, not the emulator. Requests still arrive concurrently."""
    from moto.moto_server import werkzeug_app

    application = werkzeug_app.DomainDispatcherApplication
    if getattr(application, "_reliability_serialised", False):
        return
    original = application.__call__
    lock = threading.Lock()

    def serialised(self: Any, environ: Any, start_response: Any) -> Any:
        with lock:
            return list(original(self, environ, start_response))

    application.__call__ = serialised  # type: ignore[method-assign]
    application._reliability_serialised = True  # type: ignore[attr-defined]


@contextlib.contextmanager
def running() -> Iterator[Harness]:
    """Start the stack, bind every handler to it, seed forwards and the DNIS pool."""
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "ERROR")
    os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "SwitchboardReliability")
    os.environ["VOICE_CONNECTOR_ARN"] = VOICE_CONNECTOR_ARN
    os.environ.pop("FORWARD_ADMINS", None)
    _serialise_moto()
    stack = LocalStack(
        with_slack=True,
        forward_admins=ADMIN,
        numbers=(*OURS, *POOL_SMA),
        table_name="switchboard-reliability",
    )
    stack.start()
    if stack.pump is not None:
        # Alerts are not what the suite measures (the notifier is fuzzed directly), and the
        # pump's background posts would write into the table and the terminal mid-run.
        stack.pump.stop()
        stack.pump = None
    try:
        os.environ.update(stack.env())
        import bot.app
        import bot.notifier
        import connect_lambda.app
        import sma.app

        dynamodb = boto3.client("dynamodb")
        harness = Harness(stack, sma.app, connect_lambda.app, bot.app, bot.notifier, dynamodb)
        pool = harness.pool()
        for sma_number in POOL_SMA:
            for connect_number in POOL_CONNECT:
                pool.add(DnisPair(sma_number, connect_number))
        harness.seed_forwards()
        yield harness
    finally:
        stack.stop()


def rule_for(number: str, destinations: tuple[str, ...]) -> ForwardRule:
    return ForwardRule(number=number, destinations=destinations)
